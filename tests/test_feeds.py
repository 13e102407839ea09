"""Fetching feeds (console/service/pipeline/feeds.py): conditional GET, the size cap before parsing,
timeouts and the per-feed deadline, backoff, entry keys, and hostile documents — against a real
loopback HTTP server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from console.service.pipeline import feeds as F
from console.service.models import Feed
from tests.fixtures.feeds.server import FeedServer, Route, rss

OPTS = F.FetchOptions(concurrency=8, timeout=1.0, deadline=1.5, max_body=64 * 1024, interval=600, max_interval=6 * 3600)
ITEMS = [{"title": "Acme launches a pricing page", "guid": "a-1", "link": "https://acme.example/1",
          "pubDate": "Mon, 06 Jan 2025 10:00:00 GMT"},
         {"title": "Acme hires", "guid": "a-2", "description": "<p>We are <b>hiring</b> &amp; growing</p>"}]


def feed(url: str, **kw) -> Feed:
    return Feed(id="r1", url=url, competitor="acme", **kw)


def fetch(fetcher: F.Fetcher, *feeds: Feed) -> list[F.FeedResult]:
    return asyncio.run(fetcher.fetch(list(feeds)))


def quadratic_blowup(n: int) -> bytes:
    return ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "%s">\n]>\n<rss version="2.0"><channel><title>t</title>'
            '<item><title>%s</title><guid>1</guid></item></channel></rss>' % ("x" * n, "&a;" * n)).encode()


# ----------------------------------------------------------------- pure parts
def test_entity_declarations_are_found_in_the_prolog_only() -> None:
    assert F.declares_entities(quadratic_blowup(10))
    lol = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>'
    assert F.declares_entities(lol)
    assert F.declares_entities(lol.decode().encode("utf-16-le"))
    assert F.declares_entities("\ufeff".encode("utf-16-be") + lol.decode().encode("utf-16-be"))
    assert not F.declares_entities(rss("acme", ITEMS))
    # an article *about* XML, with the text in CDATA after the root element: not a declaration
    about = rss("acme", [{"title": "XML tips", "description": "<![CDATA[ write <!ENTITY x \"y\"> ]]>"}])
    assert not F.declares_entities(about)


def test_feedparser_does_expand_internal_entities_so_they_are_refused_before_parsing() -> None:
    # the fact from the reference notes, checked on feedparser 6.0.14 at a harmless size
    parsed = F.feedparser_parse(quadratic_blowup(200), {"content-type": "application/rss+xml"})
    assert len(parsed.entries[0].title) == 200 * 200
    calls = []
    with pytest.raises(F.FeedFailure, match="declares XML entities"):
        F.parse_body(quadratic_blowup(10_000), {}, "u", "acme", lambda b, h: calls.append(b))
    assert calls == []  # the parser never saw it


def test_the_parser_never_reads_a_local_file_named_by_the_body(tmp_path: Path) -> None:
    local = tmp_path / "local-feed.xml"
    local.write_bytes(rss("LOCALSECRET", [{"title": "leak", "guid": "x"}]))
    with pytest.raises(F.FeedFailure, match="not a feed"):
        F.parse_body(str(local).encode(), {"content-type": "application/rss+xml"}, "u", "acme")


def test_entry_keys_guid_then_link_then_hash_and_repeated_guids() -> None:
    body = rss("acme", [
        {"title": "one", "guid": "g"},
        {"title": "one again", "guid": "g", "link": "https://acme.example/again"},
        {"title": "linked", "link": "https://acme.example/l"},
        {"title": "bare", "description": "text"},
        {"title": "bare", "description": "text"},
    ])
    p = F.parse_body(body, {"content-type": "application/rss+xml"}, "https://acme.example/rss", "acme")
    keys = [s.entry_key for s in p.signals]
    assert [k[:2] for k in keys] == ["g:", "g:", "l:", "h:", "h:"]
    assert len(set(keys)) == 5 and p.repeated_guids == 1
    again = F.parse_body(body, {"content-type": "application/rss+xml"}, "https://acme.example/rss", "acme")
    assert [s.entry_key for s in again.signals] == keys  # stable: a refetch upserts the same rows
    assert all(s.competitor == "acme" and s.feed_url == "https://acme.example/rss" for s in p.signals)


def test_signal_fields() -> None:
    p = F.parse_body(rss("acme", ITEMS, ttl=90), {"content-type": "application/rss+xml"}, "u", "acme")
    first, second = p.signals
    assert first.title == "Acme launches a pricing page" and first.link == "https://acme.example/1"
    assert first.published_at == 1736157600000.0
    assert second.summary == "We are hiring & growing" and second.published_at is None
    assert p.ttl_seconds == 90 * 60 and not p.bozo


def test_bozo_with_entries_is_degraded_without_is_failed() -> None:
    broken = rss("acme", ITEMS).replace(b"</channel></rss>", b"<item><title>cut")
    p = F.parse_body(broken, {"content-type": "application/rss+xml"}, "u", "acme")
    assert p.bozo and len(p.signals) >= 2 and p.bozo_reason
    with pytest.raises(F.FeedFailure, match="not a feed"):
        F.parse_body(b"<html><body><p>Hello</body>", {"content-type": "text/html"}, "u", "acme")
    with pytest.raises(F.FeedFailure, match="not a feed"):
        F.parse_body(b"\x00\x01 garbage", {}, "u", "acme")


def test_next_delay() -> None:
    o = F.FetchOptions(interval=600, max_interval=7200)
    assert F.next_delay(o, error_count=0) == 600
    assert F.next_delay(o, error_count=0, ttl=1800) == 1800
    assert F.next_delay(o, error_count=0, max_age=3600, retry_after=60) == 3600
    assert F.next_delay(o, error_count=0, ttl=86400) == 7200  # capped
    assert [F.next_delay(o, error_count=n) for n in (1, 2, 3, 4, 5)] == [600, 1200, 2400, 4800, 7200]
    assert F.next_delay(o, error_count=1, retry_after=3000) == 3000
    assert F.max_age_seconds("public, max-age=900") == 900 and F.max_age_seconds("no-cache") is None
    assert F.retry_after_seconds("120", 0) == 120
    assert F.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 100) == 100
    assert F.retry_after_seconds("soon", 0) is None


# ------------------------------------------------------------ over real HTTP
def test_conditional_get_304_parses_nothing_and_resets_errors() -> None:
    with FeedServer({"/ok.xml": Route(rss("acme", ITEMS), etag='"v1"', last_modified="Mon, 06 Jan 2025 10:00:00 GMT",
                                      headers={"Content-Type": "application/rss+xml", "Cache-Control": "max-age=1200"})}) as srv:
        fetcher = F.Fetcher(OPTS)
        now = time.time()
        [first] = fetch(fetcher, feed(srv.url("/ok.xml")))
        assert (first.outcome, first.status, len(first.signals), fetcher.parse_calls) == ("ok", 200, 2, 1)
        assert first.state.etag == '"v1"' and first.state.last_modified == "Mon, 06 Jan 2025 10:00:00 GMT"
        assert first.state.next_fetch_at / 1000 == pytest.approx(now + 1200, abs=5)  # max-age over the interval
        # the stored validators go back as If-None-Match / If-Modified-Since; a failing streak ends
        stored = feed(srv.url("/ok.xml"), etag='"v1"', last_modified="Mon, 06 Jan 2025 10:00:00 GMT", error_count=3)
        [second] = fetch(fetcher, stored)
        assert (second.outcome, second.status, second.signals, fetcher.parse_calls) == ("not_modified", 304, (), 1)
        assert second.state.error_count == 0 and second.state.etag == '"v1"'
        assert srv.routes["/ok.xml"].conditional_hits == 1


def test_each_hostile_feed_fails_on_its_own() -> None:
    big = rss("big", [{"title": "x" * 1000, "guid": str(i)} for i in range(100)])  # ~100 KB > 64 KiB cap
    routes = {
        "/ok.xml": Route(rss("acme", ITEMS)),
        "/big-length.xml": Route(big),
        "/big-chunked.xml": Route(big, chunked=True),
        "/gzip-bomb.xml": Route(b"<rss>" + b" " * (20 * 1024 * 1024), gzip=True),
        "/slow.xml": Route(rss("slow", ITEMS), drip=0.05),
        "/stalls.xml": Route(rss("stalls", ITEMS), delay=3),
        "/bomb.xml": Route(quadratic_blowup(10_000)),
        "/html": Route(b"<html><body>Not a feed</body></html>", headers={"Content-Type": "text/html"}),
        "/gone.xml": Route(b"gone", status=410),
        "/limited.xml": Route(b"slow down", status=429, headers={"Retry-After": "5000"}),
        "/broken.xml": Route(rss("broken", ITEMS).replace(b"</channel></rss>", b"<item><title>cut")),
    }
    with FeedServer(routes) as srv:
        fetcher = F.Fetcher(OPTS)
        started = time.perf_counter()
        results = {r.url.rsplit("/", 1)[1]: r for r in fetch(fetcher, *(feed(srv.url(p)) for p in routes))}
        elapsed = time.perf_counter() - started
    assert elapsed < OPTS.deadline + 1.0  # the slow ones were cut off at the deadline, concurrently
    assert results["ok.xml"].outcome == "ok"
    assert results["broken.xml"].outcome == "degraded" and results["broken.xml"].signals
    for name, words in [("big-length.xml", "too large"), ("big-chunked.xml", "too large"),
                        ("gzip-bomb.xml", "too large"), ("slow.xml", "timed out"), ("stalls.xml", "timed out"),
                        ("bomb.xml", "declares XML entities"), ("html", "not a feed"), ("gone.xml", "HTTP 410"),
                        ("limited.xml", "HTTP 429")]:
        r = results[name]
        assert r.outcome == "failed" and words in r.reason, (name, r.reason)
        assert r.state.error_count == 1 and r.signals == ()
    assert fetcher.parse_calls == 3  # ok, broken, html: nothing over the cap or declaring entities was parsed
    limited = results["limited.xml"].state
    assert limited.next_fetch_at - limited.last_fetched_at >= 5000 * 1000  # Retry-After honoured


def test_connection_refused_and_backoff_grows() -> None:
    with FeedServer() as srv:
        dead = srv.url("/x")
    f = feed(dead, error_count=2, etag='"keep"')
    [r] = fetch(F.Fetcher(OPTS), f)
    assert r.outcome == "failed" and "cannot fetch" in r.reason and "3 failures in a row" in r.reason
    assert r.state.error_count == 3 and r.state.etag == '"keep"'  # validators survive a failure
    assert r.state.next_fetch_at - r.state.last_fetched_at == OPTS.interval * 4 * 1000


def test_a_fetch_is_concurrent() -> None:
    routes = {f"/f{i}.xml": Route(rss(f"c{i}", ITEMS), delay=0.3) for i in range(8)}
    with FeedServer(routes) as srv:
        started = time.perf_counter()
        results = fetch(F.Fetcher(OPTS), *(feed(srv.url(p)) for p in routes))
        elapsed = time.perf_counter() - started
    assert all(r.outcome == "ok" for r in results) and elapsed < 1.5  # not 8 × 0.3 s


def test_a_feed_cannot_redirect_the_console_into_its_own_network() -> None:
    """A public feed redirecting to a loopback, private or link-local address (cloud metadata, the
    gateway, Convex's admin port), or from https down to http, is not followed; the address is
    never requested. (Public hosts cannot exist offline: an httpx transport answers for them.)"""
    requested: list[str] = []
    body = rss("acme", ITEMS)

    def answer(request):
        import httpx

        requested.append(str(request.url))
        path = request.url.path
        if request.url.host == "feeds.acme.example":
            target = {"/meta": "http://169.254.169.254/latest/meta-data/", "/loop": "http://127.0.0.1:18789/",
                      "/lan": "http://10.0.0.5/rss", "/down": "http://feeds.acme.example/rss",
                      "/moved": "https://new.acme.example/rss", "/local-name": "http://localhost/rss",
                      "/file": "file:///etc/passwd"}.get(path)
            if target:
                return httpx.Response(301, headers={"Location": target})
        return httpx.Response(200, content=body, headers={"Content-Type": "application/rss+xml"})

    import httpx

    fetcher = F.Fetcher(OPTS, transport=httpx.MockTransport(answer))
    bad = [feed(f"https://feeds.acme.example{p}") for p in ("/meta", "/loop", "/lan", "/down", "/local-name", "/file")]
    results = fetch(fetcher, *bad)
    for r in results:
        assert r.outcome == "failed" and "not followed" in r.reason, (r.url, r.reason)
    assert not [u for u in requested if "feeds.acme.example" not in u]
    # followed: public to public, https to https, and anything between local addresses (a feed
    # served on the operator's own network, as the loopback test feeds are)
    assert F.redirect_refusal(httpx.URL("https://feeds.acme.example/moved"), httpx.URL("https://new.acme.example/")) is None
    assert F.redirect_refusal(httpx.URL("http://acme.example/"), httpx.URL("https://acme.example/")) is None
    assert F.redirect_refusal(httpx.URL("http://127.0.0.1:8000/a"), httpx.URL("http://127.0.0.1:8000/b")) is None

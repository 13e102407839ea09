"""Fetching competitors' feeds into signals (DESIGN §8; reference notes §4 for the anchors).

One fetch of a set of feeds:

- httpx.AsyncClient, at most `concurrency` feeds at once;
- a conditional GET (If-None-Match / If-Modified-Since from the stored ETag / Last-Modified): a
  304 is a success that parses nothing and resets the error count;
- connect and read timeouts, plus a deadline on each feed's whole fetch (a server dripping one
  byte at a time cannot hold the fetch up);
- the body read as a stream, decompressed here with a bound (a gzip bomb cannot expand past the
  cap) and cut off at `max_body` before anything parses it: over the cap the feed fails "too
  large", the others are not affected;
- a document whose prolog declares XML entities is refused before parsing: feedparser expands
  internal entities (a 40 KB "quadratic blow-up" document became a 100 MB title in 2 s and
  300 MB), and no real feed needs them;
- feedparser on the bytes, wrapped in a BytesIO, with the response headers. Never on a str (it
  may be taken for a URL or a path) and never on bare bytes either: feedparser 6.0.14 tries
  `open(bytes)` first, so a body such as b"/etc/passwd" would read that local file;
- `bozo` with entries is "degraded" (the entries are kept, the feed is flagged); bozo without
  entries is "failed";
- entries keyed as Miniflux does: the GUID, then the link, then a hash of title and content; a
  GUID repeated within one feed is detected and the repeats keyed by GUID|link (or GUID|index);
- each feed's next fetch: after a success the interval, lengthened to the feed's <ttl>,
  Cache-Control max-age or Retry-After; after failures the interval doubled per failure
  (exponential backoff, at least Retry-After); all capped at `max_interval`.

Each feed's outcome is reported on its own (ok / not_modified / degraded / failed: reason); one
feed's failure never stops another's fetch. Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import html
import io
import ipaddress
import re
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from console.config import PipelineSettings
from console.service.models import Feed, FeedState, SignalIn
from console.service.store.convex import http_failure_reason

MAX_ENTRIES = 500  # per fetch: one store write stays small (a Convex mutation has limits)
MAX_TITLE = 300
MAX_SUMMARY = 1000
ACCEPT = "application/rss+xml, application/atom+xml, application/feed+json;q=0.5, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.3"

Parse = Callable[[bytes, dict[str, str]], Any]


@dataclass(frozen=True)
class FetchOptions:
    concurrency: int = 64
    timeout: float = 10.0
    deadline: float = 30.0
    max_body: int = 5 * 1024 * 1024
    interval: float = 1800.0
    max_interval: float = 86400.0
    user_agent: str = "squad-console feeds"

    @classmethod
    def from_settings(cls, s: PipelineSettings) -> FetchOptions:
        return cls(s.concurrency, s.timeout, s.deadline, s.max_body, s.interval, s.max_interval, s.user_agent)


@dataclass(frozen=True)
class FeedResult:
    """One feed's outcome. `state` is what to store; `signals` its entries (none unless ok/degraded)."""

    url: str
    competitor: str
    outcome: str  # ok | not_modified | degraded | failed
    reason: str  # the outcome in words (also the stored health text)
    state: FeedState
    signals: tuple[SignalIn, ...] = ()
    status: int | None = None
    elapsed_ms: float = 0.0
    parsed: bool = False
    # filled in once the result is recorded in the store
    created: int = 0
    updated: int = 0
    store_error: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    def line(self) -> str:
        words = self.reason
        if self.created or self.updated:
            words += f"; {self.created} new" + (f", {self.updated} updated" if self.updated else "")
        if self.store_error:
            words += f"; NOT STORED: {self.store_error}"
        return f"{self.outcome:<12} {self.url}  {words}"


@dataclass(frozen=True)
class Parsed:
    signals: tuple[SignalIn, ...]
    bozo: bool
    bozo_reason: str | None
    ttl_seconds: float | None
    repeated_guids: int = 0
    total_entries: int = 0
    title: str | None = None


async def _guard_redirect(response: httpx.Response) -> None:
    """Called before httpx follows a redirect: refuse the ones `redirect_refusal` names."""
    location = response.headers.get("location") if response.is_redirect else None
    if location is not None:
        try:
            target = response.request.url.join(location)
        except httpx.InvalidURL:
            raise FeedFailure("redirected to an invalid URL", status=response.status_code) from None
        reason = redirect_refusal(response.request.url, target)  # every hop is checked in turn
        if reason is not None:
            raise FeedFailure(f"not followed: {reason}", status=response.status_code)


class FeedFailure(Exception):
    """A feed's fetch failed for the reason given (already in words)."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


# ----------------------------------------------------------------- pure parts
def _host_class(url: httpx.URL) -> str:
    """"local" for loopback, private, link-local and reserved addresses (and `localhost`), else
    "public". Names are not resolved: a name is public unless it is `localhost`."""
    host = (url.host or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "local"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "public"
    if address.is_loopback or address.is_private or address.is_link_local or address.is_reserved \
            or address.is_multicast or address.is_unspecified:
        return "local"
    return "public"


def redirect_refusal(origin: httpx.URL, target: httpx.URL) -> str | None:
    """Why a feed's redirect from `origin` to `target` is not followed, or None to follow it: only
    to http(s), never from https down to http, and never from a public host into loopback, private
    or link-local addresses (a feed must not make the console fetch from its own network)."""
    if target.scheme not in ("http", "https"):
        return f"redirected to a {target.scheme or 'relative'}: URL"
    if origin.scheme == "https" and target.scheme == "http":
        return "redirected from https down to http"
    if _host_class(origin) == "public" and _host_class(target) == "local":
        return f"redirected into a local address ({target.host})"
    return None


def declares_entities(body: bytes) -> bool:
    """True when the document's prolog (before its first element) declares an XML entity, in
    UTF-8/ASCII, UTF-16 or UTF-32. Checked before parsing: such a document is refused."""
    for enc in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        decl = "<!ENTITY".encode(enc)
        at = body.find(decl)
        if at < 0:
            continue
        first = _first_element(body, enc)
        if first is None or at < first:
            return True
    return False


def _first_element(body: bytes, enc: str) -> int | None:
    width = {"utf-8": 1, "utf-16-le": 2, "utf-16-be": 2, "utf-32-le": 4, "utf-32-be": 4}[enc]
    lt = "<".encode(enc)
    start = 0
    while True:
        at = body.find(lt, start)
        if at < 0 or at + 2 * width > len(body):
            return None
        nxt = body[at + width: at + 2 * width]
        try:
            ch = nxt.decode(enc)
        except UnicodeDecodeError:
            ch = ""
        if ch.isalpha() or ch == "_":
            return at
        start = at + width


def feedparser_parse(body: bytes, headers: dict[str, str]) -> Any:
    """feedparser on a BytesIO of the body (never a str, never bare bytes: see the module notes)."""
    import feedparser

    return feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=True,
                            resolve_relative_uris=True)


_TAGS = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"\s+")


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    text = _SPACE.sub(" ", html.unescape(_TAGS.sub(" ", value))).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _http_link(value: Any) -> str | None:
    if isinstance(value, str) and re.match(r"^https?://", value.strip(), re.I):
        return value.strip()[:2000]
    return None


def _when(entry: Any) -> float | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return calendar.timegm(parsed) * 1000.0
            except (TypeError, ValueError, OverflowError):
                continue
    return None


def entry_signals(entries: Sequence[Any], feed_url: str, competitor: str) -> tuple[list[SignalIn], int]:
    """Signals for the entries, keyed GUID → link → hash(title + content). Returns (signals,
    how many GUIDs were repeats within this feed). The key is `g:`/`l:`/`h:` + a SHA-256."""
    out: list[SignalIn] = []
    seen_guids: set[str] = set()
    seen_keys: set[str] = set()
    repeated = 0
    for index, entry in enumerate(entries):
        guid = entry.get("id") if isinstance(entry.get("id"), str) else None
        guid = guid.strip() if guid else None
        link = entry.get("link") if isinstance(entry.get("link"), str) else None
        title = _text(entry.get("title"), MAX_TITLE)
        content = ""
        if entry.get("content"):
            content = " ".join(c.get("value", "") for c in entry["content"] if isinstance(c, dict))
        summary_raw = entry.get("summary") or content
        if guid:
            if guid in seen_guids:
                repeated += 1
                key = "g:" + _sha(f"{guid}|{link}" if link else f"{guid}|{index}")
            else:
                seen_guids.add(guid)
                key = "g:" + _sha(guid)
        elif link:
            key = "l:" + _sha(link)
        else:
            key = "h:" + _sha(f"{entry.get('title') or ''}\n{content or entry.get('summary') or ''}")
        if key in seen_keys:  # the same link or content twice: keep both, apart
            key = f"{key}|{index}"
        seen_keys.add(key)
        out.append(SignalIn(
            feed_url=feed_url,
            entry_key=key,
            title=title or "(untitled)",
            competitor=competitor,
            link=_http_link(link),
            published_at=_when(entry),
            summary=_text(summary_raw, MAX_SUMMARY) or None,
        ))
    return out, repeated


def parse_body(body: bytes, headers: dict[str, str], feed_url: str, competitor: str,
               parse: Parse = feedparser_parse) -> Parsed:
    if declares_entities(body):
        raise FeedFailure("refused: the document declares XML entities (entity expansion)")
    d = parse(body, headers)
    entries = list(d.get("entries") or [])
    bozo = bool(d.get("bozo"))
    reason = None
    if bozo:
        exc = d.get("bozo_exception")
        reason = _text(str(exc) if exc is not None else "not well-formed", 200) or type(exc).__name__
    if not entries:
        version = d.get("version")
        if bozo:
            raise FeedFailure(f"not a feed: {reason}")
        if not version:
            raise FeedFailure("not a feed (no RSS or Atom found)")
    signals, repeated = entry_signals(entries[:MAX_ENTRIES], feed_url, competitor)
    ttl = None
    raw_ttl = (d.get("feed") or {}).get("ttl")
    try:
        if raw_ttl is not None and int(str(raw_ttl).strip()) > 0:
            ttl = int(str(raw_ttl).strip()) * 60.0
    except ValueError:
        pass
    title = (d.get("feed") or {}).get("title")
    return Parsed(tuple(signals), bozo, reason, ttl, repeated, len(entries), title if isinstance(title, str) else None)


def retry_after_seconds(value: str | None, now_s: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now_s)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def max_age_seconds(cache_control: str | None) -> float | None:
    if not cache_control:
        return None
    m = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", cache_control, re.I)
    return float(m.group(1)) if m else None


def next_delay(
    options: FetchOptions,
    *,
    error_count: int,
    ttl: float | None = None,
    max_age: float | None = None,
    retry_after: float | None = None,
) -> float:
    """Seconds until the feed is due again. Success (error_count 0): the interval, lengthened
    to the feed's TTL, Cache-Control max-age or Retry-After. After n failures: interval × 2^(n-1),
    at least Retry-After. Capped at max_interval either way."""
    if error_count <= 0:
        delay = max(options.interval, ttl or 0.0, max_age or 0.0, retry_after or 0.0)
    else:
        delay = max(options.interval * 2 ** min(error_count - 1, 30), retry_after or 0.0)
    return min(delay, options.max_interval)


def _size(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


# ------------------------------------------------------------------ the fetch
async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    """The body, decoded from gzip/deflate here with a bound, cut off past `cap` bytes."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        decoder = None
    elif encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = zlib.decompressobj(zlib.MAX_WBITS)
    else:
        raise FeedFailure(f"unsupported Content-Encoding {encoding!r}", status=response.status_code)
    length = response.headers.get("content-length")
    if decoder is None and length and length.isdigit() and int(length) > cap:
        raise FeedFailure(f"too large: {int(length):,} bytes, over the {_size(cap)} cap", status=response.status_code)
    buf = bytearray()
    too_large = FeedFailure(f"too large: over the {_size(cap)} cap", status=response.status_code)
    async for chunk in response.aiter_raw():
        if decoder is None:
            buf += chunk
        else:
            data = chunk
            while data:
                try:
                    out = decoder.decompress(data, cap + 1 - len(buf))
                except zlib.error as exc:
                    raise FeedFailure(f"bad {encoding} body: {exc}", status=response.status_code) from None
                buf += out
                if len(buf) > cap:
                    raise too_large
                data = decoder.unconsumed_tail
        if len(buf) > cap:
            raise too_large
    return bytes(buf)


class Fetcher:
    """Fetches feeds concurrently. `parse` and `transport` are for tests and benchmarks;
    `parse_calls` counts how many bodies went to the parser."""

    def __init__(
        self,
        options: FetchOptions = FetchOptions(),
        *,
        parse: Parse = feedparser_parse,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self._parse = parse
        self._transport = transport
        self.clock = clock
        self.parse_calls = 0

    def _counted_parse(self, body: bytes, headers: dict[str, str]) -> Any:
        self.parse_calls += 1
        return self._parse(body, headers)

    async def fetch(self, feeds: Sequence[Feed]) -> list[FeedResult]:
        """Every feed once, at most `concurrency` at a time; results in the order of `feeds`."""
        o = self.options
        limit = asyncio.Semaphore(o.concurrency)
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(o.timeout, connect=min(o.timeout, 10.0)),
            limits=httpx.Limits(max_connections=o.concurrency, max_keepalive_connections=o.concurrency),
            follow_redirects=True,
            max_redirects=5,
            transport=self._transport,
            headers={"User-Agent": o.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
            event_hooks={"response": [_guard_redirect]},
        ) as client:

            async def one(feed: Feed) -> FeedResult:
                async with limit:
                    return await self.fetch_one(client, feed)

            return list(await asyncio.gather(*(one(f) for f in feeds)))

    async def fetch_one(self, client: httpx.AsyncClient, feed: Feed) -> FeedResult:
        o = self.options
        started = time.perf_counter()
        now_s = self.clock()
        status: int | None = None
        try:
            try:
                async with asyncio.timeout(o.deadline):
                    status, headers, body = await self._get(client, feed)
            except TimeoutError:
                raise FeedFailure(f"timed out: no complete answer within {o.deadline:g} s") from None
            if status == 304:
                return self._done(feed, "not_modified", "not modified (304)", status, started, now_s, headers,
                                  error_count=0, validators=headers)
            parsed = await asyncio.to_thread(
                parse_body, body, headers, feed.url, feed.competitor, self._counted_parse)
        except FeedFailure as fail:
            return self._failed(feed, fail, started, now_s)
        except httpx.TimeoutException:
            return self._failed(feed, FeedFailure(f"timed out (no answer within {o.timeout:g} s)", status=status),
                                started, now_s)
        except httpx.TooManyRedirects:
            return self._failed(feed, FeedFailure("too many redirects"), started, now_s)
        except httpx.HTTPError as exc:
            return self._failed(feed, FeedFailure(f"cannot fetch: {http_failure_reason(exc)}"), started, now_s)
        except Exception as exc:  # a parser bug on one hostile feed must not stop the others
            return self._failed(feed, FeedFailure(f"cannot parse: {type(exc).__name__}: {str(exc)[:200]}"),
                                started, now_s)
        words = f"{parsed.total_entries} entr{'y' if parsed.total_entries == 1 else 'ies'}"
        if parsed.total_entries > MAX_ENTRIES:
            words += f" (kept the first {MAX_ENTRIES})"
        if parsed.repeated_guids:
            words += f"; {parsed.repeated_guids} repeated GUID{'s' if parsed.repeated_guids != 1 else ''}"
        if parsed.bozo:
            outcome, reason = "degraded", f"degraded: {words} kept; {parsed.bozo_reason}"
        else:
            outcome, reason = "ok", f"ok: {words}"
        result = self._done(feed, outcome, reason, status, started, now_s, headers, error_count=0,
                            validators=headers, ttl=parsed.ttl_seconds, reset_validators=True)
        return replace(result, signals=parsed.signals, parsed=True)

    async def _get(self, client: httpx.AsyncClient, feed: Feed) -> tuple[int, dict[str, str], bytes]:
        request_headers = {}
        if feed.etag:
            request_headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            request_headers["If-Modified-Since"] = feed.last_modified
        async with client.stream("GET", feed.url, headers=request_headers) as response:
            status = response.status_code
            headers = {k.lower(): v for k, v in response.headers.items()}
            if status == 304:
                return status, headers, b""
            if status == 204 or not 200 <= status < 300:
                phrase = response.reason_phrase or ""
                raise FeedFailure(
                    f"HTTP {status}{' ' + phrase if phrase else ''}" + (" (the feed is gone: remove it?)" if status == 410 else ""),
                    status=status,
                    retry_after=retry_after_seconds(headers.get("retry-after"), self.clock()),
                )
            body = await _read_capped(response, self.options.max_body)
            headers.setdefault("content-location", str(response.url))
            return status, headers, body

    def _done(self, feed: Feed, outcome: str, reason: str, status: int | None, started: float, now_s: float,
              headers: dict[str, str], *, error_count: int, validators: dict[str, str],
              ttl: float | None = None, reset_validators: bool = False) -> FeedResult:
        delay = next_delay(self.options, error_count=error_count, ttl=ttl,
                           max_age=max_age_seconds(headers.get("cache-control")),
                           retry_after=retry_after_seconds(headers.get("retry-after"), now_s))
        etag = validators.get("etag") or (None if reset_validators else feed.etag)
        modified = validators.get("last-modified") or (None if reset_validators else feed.last_modified)
        state = FeedState(etag=etag, last_modified=modified, last_fetched_at=now_s * 1000, last_status=status,
                          error_count=error_count, next_fetch_at=(now_s + delay) * 1000, outcome=outcome,
                          health=reason)
        return FeedResult(feed.url, feed.competitor, outcome, reason, state, status=status,
                          elapsed_ms=(time.perf_counter() - started) * 1000)

    def _failed(self, feed: Feed, fail: FeedFailure, started: float, now_s: float) -> FeedResult:
        errors = feed.error_count + 1
        delay = next_delay(self.options, error_count=errors, retry_after=fail.retry_after)
        reason = f"failed: {fail.reason}"
        if errors > 1:
            reason += f" ({errors} failures in a row)"
        state = FeedState(etag=feed.etag, last_modified=feed.last_modified, last_fetched_at=now_s * 1000,
                          last_status=fail.status, error_count=errors, next_fetch_at=(now_s + delay) * 1000,
                          outcome="failed", health=reason)
        return FeedResult(feed.url, feed.competitor, "failed", reason, state, status=fail.status,
                          elapsed_ms=(time.perf_counter() - started) * 1000)




@dataclass
class FetchReport:
    """A whole fetch: each feed's result, and the totals."""

    results: list[FeedResult] = field(default_factory=list)
    elapsed_ms: float = 0.0
    parse_calls: int = 0
    fetch_ms: float = 0.0  # of elapsed_ms, the fetching and parsing (the rest is the store's writes)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def created(self) -> int:
        return sum(r.created for r in self.results)

    def summary(self) -> str:
        parts = [f"{self.count(o)} {o.replace('_', ' ')}" for o in ("ok", "not_modified", "degraded", "failed")
                 if self.count(o)]
        return (f"{len(self.results)} feed{'s' if len(self.results) != 1 else ''} in {self.elapsed_ms / 1000:.2f} s: "
                + (", ".join(parts) or "nothing to fetch") + f"; {self.created} new signal{'s' if self.created != 1 else ''}")

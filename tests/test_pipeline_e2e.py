"""End to end (issue 6, point 6), on both stores: feeds served by a real loopback HTTP server —
one well-behaved, one answering 304 on the second fetch, one malformed but with entries, one not
a feed at all, one over the size cap, one slow, one with entity expansion — → signals →
opportunity → survey responses → decision, each visible in the store and in the audit log. No
hostile feed crashes or hangs the fetch; each is reported on its own. (The Pipeline screen's part
is tested with the screen.)"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from console.config import PipelineCriteria, PipelineRule, PipelineSettings, load_settings
from console.service.daemon import Daemon
from console.service.store.outbox import Outbox
from console.service.pipeline import Pipeline, verify_decision
from tests.conftest import StoreUnderTest
from tests.fixtures.feeds.server import FeedServer, Route, rss

NOW = time.time()
DATE = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(NOW - 86400))

SETTINGS = PipelineSettings(
    concurrency=8, timeout=0.5, deadline=1.0, max_body=64 * 1024, interval=600, max_interval=3600,
    rules=(PipelineRule("pricing", ("pricing", "price"), competitor="acme", weight=2.0, window=7 * 86400),
           PipelineRule("beta launches", ("launch",), competitor="beta", weight=-1.0, window=7 * 86400)),
    score_scale=5,
    criteria=PipelineCriteria(version="e2e-1", min_market_score=60, min_validation_score=60, min_respondents=3,
                              must_have=(("would_pay", 3.5),)),
)


def routes() -> dict[str, Route]:
    acme = rss("acme", [{"title": "Acme raises its pricing", "guid": "acme-1", "pubDate": DATE},
                        {"title": "Acme price calculator", "guid": "acme-2", "pubDate": DATE},
                        {"title": "Acme team offsite", "guid": "acme-3", "pubDate": DATE}])
    beta = rss("beta", [{"title": "Beta launch week", "guid": "beta-1", "pubDate": DATE}])
    lol = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "%s">\n]>\n<rss version="2.0"><channel><title>t'
           '</title><item><title>%s</title><guid>1</guid></item></channel></rss>' % ("x" * 10_000, "&a;" * 10_000))
    return {
        "/acme.xml": Route(acme),
        "/beta.xml": Route(beta, etag='"beta-v1"'),  # 304 on the second fetch
        "/malformed.xml": Route(rss("gamma", [{"title": "Gamma pricing", "guid": "g-1", "pubDate": DATE}])
                                .replace(b"</channel></rss>", b"<item><title>unclosed")),
        "/garbage.xml": Route(b"<html><body>this is a login page</body></html>", headers={"Content-Type": "text/html"}),
        "/huge.xml": Route(rss("huge", [{"title": "x" * 2000, "guid": str(i)} for i in range(100)]), chunked=True),
        "/slow.xml": Route(rss("slow", [{"title": "slow", "guid": "s"}]), drip=0.05),
        "/lol.xml": Route(lol.encode()),
    }


COMPETITOR = {"acme.xml": "acme", "beta.xml": "beta", "malformed.xml": "gamma", "garbage.xml": "delta",
              "huge.xml": "epsilon", "slow.xml": "zeta", "lol.xml": "eta"}


def test_feeds_to_decision_end_to_end(sut: StoreUnderTest, tmp_path: Path) -> None:
    store = sut.store
    pipe = Pipeline(store, SETTINGS)
    with FeedServer(routes()) as srv:
        for path, competitor in COMPETITOR.items():
            pipe.add_feed(srv.url(f"/{path}"), competitor)

        # ---- the first fetch: each feed on its own, none hangs it
        started = time.perf_counter()
        report = pipe.fetch_sync()
        assert time.perf_counter() - started < SETTINGS.deadline + 2.0
        by = {r.url.rsplit("/", 1)[1]: r for r in report.results}
        assert {k: r.outcome for k, r in by.items()} == {
            "acme.xml": "ok", "beta.xml": "ok", "malformed.xml": "degraded", "garbage.xml": "failed",
            "huge.xml": "failed", "slow.xml": "failed", "lol.xml": "failed"}
        assert "not a feed" in by["garbage.xml"].reason
        assert "too large" in by["huge.xml"].reason
        assert "timed out" in by["slow.xml"].reason
        assert "declares XML entities" in by["lol.xml"].reason
        assert (by["acme.xml"].created, by["beta.xml"].created, by["malformed.xml"].created) == (3, 1, 2)
        assert report.parse_calls == 4  # acme, beta, malformed, garbage: nothing capped or refused was parsed
        assert "2 ok" in report.summary() and "4 failed" in report.summary()

        # ---- the store has each feed's state and the signals
        feeds = {f.url.rsplit("/", 1)[1]: f for f in store.list_feeds()}
        assert feeds["beta.xml"].etag == '"beta-v1"' and feeds["beta.xml"].outcome == "ok"
        assert feeds["huge.xml"].error_count == 1 and feeds["huge.xml"].health.startswith("failed: too large")
        assert feeds["malformed.xml"].outcome == "degraded" and feeds["malformed.xml"].error_count == 0
        assert all(f.next_fetch_at and f.last_fetched_at for f in feeds.values())
        # the malformed feed's entries are kept (its cut-off last item too), the feed flagged degraded
        assert sorted(s.title for s in store.list_signals()) == [
            "(untitled)", "Acme price calculator", "Acme raises its pricing", "Acme team offsite", "Beta launch week",
            "Gamma pricing"]

        # ---- the second fetch: beta answers 304 and is not parsed; the same entries add nothing
        again = pipe.fetch_sync()
        by2 = {r.url.rsplit("/", 1)[1]: r for r in again.results}
        assert by2["beta.xml"].outcome == "not_modified" and by2["beta.xml"].status == 304
        assert srv.routes["/beta.xml"].conditional_hits == 1
        assert again.parse_calls == 3 and again.created == 0
        assert by2["huge.xml"].state.error_count == 2 and "2 failures in a row" in by2["huge.xml"].reason
        assert len(store.list_signals()) == 6
        # nothing is due yet, so the service's fetch of due feeds does nothing
        assert pipe.fetch_sync(due_only=True).results == []

    # ---- signals → opportunity → survey → decision
    opp = pipe.create_opportunity("Usage-based pricing", actor="cestra")
    opp = pipe.analyse(opp.id, actor="veda")
    assert opp.market_score == 60.0  # (2 acme pricing signals × 2 points − 1 for beta's launch) of a scale of 5
    assert sorted((s["title"], s["points"]) for s in opp.analysis["signals"]) == [
        ("Acme price calculator", 2.0), ("Acme raises its pricing", 2.0), ("Beta launch week", -1.0)]
    answers = tmp_path / "orin.csv"
    answers.write_text("respondent,pain,frequency,urgency,would_pay,has_budget,comments\n"
                       "founder-1,5,4,4,4,yes,needs SSO\n"
                       "founder-2,4,4,5,4,yes,\n"
                       "founder-3,4,3,4,5,no,\"price, then features\"\n")
    result = pipe.import_survey(opp.id, answers, actor="orin")
    assert result.respondents == 3 and result.score is not None and result.score >= 60
    decided = pipe.decide(opp.id, actor="cestra")
    assert decided.stage == "go" and decided.decision["verdict"] == "go"
    assert decided.decision["decidedBy"] == "cestra"
    assert all(c["passed"] for c in decided.decision["computed"]["criteria"])
    assert verify_decision(store.get_opportunity(opp.id)) == (True, verify_decision(decided)[1])

    # ---- the audit log tells the story, one signals_ingested per fetch (not per signal)
    log = [a for a in reversed(store.list_activities(200))]
    types = [a.type for a in log]
    assert types.count("feed_added") == 7
    assert types.count("signals_ingested") == 3  # acme, beta, malformed on the first fetch; none on the second
    assert types.count("feed_failed") == 4  # once each, on the transition, not again on the second fetch
    assert types[-5:] == ["opportunity_created", "market_analysed", "survey_recorded", "market_analysed",
                          "decision_made"]
    actors = {a.type: a.actor for a in log}
    assert actors["survey_recorded"] == "orin" and actors["decision_made"] == "cestra"
    assert actors["signals_ingested"] == "service"
    assert {a.target_id for a in log[-5:]} == {opp.id}

    # ---- an override is audited with its reason
    over = pipe.override(opp.id, "no_go", "legal review blocks usage-based billing this quarter")
    assert over.stage == "no_go" and store.list_activities(1)[0].type == "decision_overridden"


def test_the_service_job_fetches_the_due_feeds(tmp_path: Path) -> None:
    from console.service.store.sqlite import LocalStore

    settings = load_settings(env={})
    settings = dataclasses.replace(settings, pipeline=SETTINGS)
    store = LocalStore(tmp_path / "s.db")
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        with FeedServer({"/acme.xml": routes()["/acme.xml"]}) as srv:
            store.add_feed(srv.url("/acme.xml"), "acme")
            daemon = Daemon(settings, store, outbox)
            assert "feeds" in [name for name, _, _ in daemon.jobs()]
            daemon.feeds()
            assert len(store.list_signals()) == 3 and store.list_feeds()[0].outcome == "ok"
            daemon.feeds()  # not due again yet: no request
            assert srv.routes["/acme.xml"].hits == 1
    finally:
        outbox.close()
        store.close()

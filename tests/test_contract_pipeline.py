"""The store contract for the pipeline's tables (feeds, signals, opportunities), run against both
stores (the `sut` fixture): the same results and the same activities, written with the change."""

from __future__ import annotations

import pytest

from console.service.models import FeedState, SignalIn
from console.service.store import NotFoundError, StoreFunctionError
from tests.conftest import StoreUnderTest

URL = "https://acme.example/feed.xml"


def types(store, n: int = 100) -> list[str]:
    return [a.type for a in reversed(store.list_activities(n))]


def sig(key: str, title: str | None = None, url: str = URL, competitor: str = "acme", **kw) -> SignalIn:
    return SignalIn(url, key, title or f"entry {key}", competitor, **kw)


def test_feeds_add_list_remove(sut: StoreUnderTest) -> None:
    s = sut.store
    feed = s.add_feed(URL, "acme", actor="veda")
    assert (feed.url, feed.competitor, feed.error_count, feed.etag, feed.outcome) == (URL, "acme", 0, None, None)
    s.add_feed("https://b.example/rss", "beta")
    with pytest.raises(StoreFunctionError) as err:
        s.add_feed(URL, "other")
    assert err.value.data["code"] == "Conflict"
    with pytest.raises(StoreFunctionError):
        s.add_feed("", "acme")
    assert [f.url for f in s.list_feeds()] == [URL, "https://b.example/rss"]
    removed = s.remove_feed(URL)
    assert removed.id == feed.id and removed.competitor == "acme"
    with pytest.raises(NotFoundError):
        s.remove_feed(URL)
    assert [f.url for f in s.list_feeds()] == ["https://b.example/rss"]
    assert types(s) == ["feed_added", "feed_added", "feed_removed"]
    first = s.list_activities()[-1]
    assert (first.actor, first.target_id, first.detail) == ("veda", feed.id, {"url": URL, "competitor": "acme"})


def test_record_fetch_sets_the_state_and_upserts_signals(sut: StoreUnderTest) -> None:
    s = sut.store
    s.add_feed(URL, "acme")
    state = FeedState(etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT", last_fetched_at=1000.0,
                      last_status=200, error_count=0, next_fetch_at=2000.0, outcome="ok", health="ok: 2 entries")
    out = s.record_fetch(URL, state, [sig("a", link="https://acme.example/a", published_at=500.0),
                                      sig("b", summary="about b")])
    assert (out.created, out.updated, out.unchanged) == (2, 0, 0)
    assert out.feed.state() == state
    # the same entries again: nothing new (idempotent); a changed title is an update, not a new row
    again = s.record_fetch(URL, FeedState(error_count=0, outcome="not_modified", last_status=304),
                           [sig("a", link="https://acme.example/a", published_at=500.0), sig("b", "b retitled",
                                                                                              summary="about b")])
    assert (again.created, again.updated, again.unchanged) == (0, 1, 1)
    assert again.feed.etag is None and again.feed.last_status == 304  # every field as given
    signals = s.list_signals(feed_url=URL)
    assert [(x.entry_key, x.title) for x in signals] == [("a", "entry a"), ("b", "b retitled")]
    assert signals[0].link == "https://acme.example/a" and signals[0].published_at == 500.0
    assert signals[0].when() == 500.0 and signals[1].when() == signals[1].created_at
    # nothing new: no activity at all
    s.record_fetch(URL, FeedState(error_count=0, outcome="not_modified"), [])
    assert types(s) == ["feed_added", "signals_ingested", "signals_ingested"]
    act = s.list_activities()[1]
    assert act.detail == {"url": URL, "competitor": "acme", "created": 2, "updated": 0, "entryKeys": ["a", "b"]}
    assert act.message == f"acme: 2 new signals from {URL}"


def test_record_fetch_checks(sut: StoreUnderTest) -> None:
    s = sut.store
    with pytest.raises(NotFoundError):
        s.record_fetch(URL, FeedState(), [])
    s.add_feed(URL, "acme")
    with pytest.raises(StoreFunctionError):
        s.record_fetch(URL, FeedState(outcome="fine"), [])
    with pytest.raises(StoreFunctionError):
        s.record_fetch(URL, FeedState(outcome="ok"), [sig("x", url="https://elsewhere.example/")])
    assert s.list_signals() == []  # nothing of a refused fetch was written
    assert s.list_feeds()[0].outcome is None


def test_failures_are_audited_on_the_transition(sut: StoreUnderTest) -> None:
    s = sut.store
    s.add_feed(URL, "acme")
    failed = FeedState(error_count=1, outcome="failed", health="failed: too large", last_status=200)
    s.record_fetch(URL, failed, [])
    s.record_fetch(URL, FeedState(error_count=2, outcome="failed", health="failed: too large"), [])
    s.record_fetch(URL, FeedState(error_count=0, outcome="degraded", health="degraded: not well-formed"),
                   [sig("a")])
    assert types(s) == ["feed_added", "feed_failed", "signals_ingested", "feed_recovered"]
    failed_act = s.list_activities()[2]
    assert failed_act.message == f"feed {URL} failed: too large"
    assert failed_act.detail == {"url": URL, "status": 200, "errorCount": 1}


def test_signals_by_competitor_and_limit(sut: StoreUnderTest) -> None:
    s = sut.store
    s.add_feed(URL, "acme")
    s.add_feed("https://b.example/rss", "beta")
    s.record_fetch(URL, FeedState(outcome="ok"), [sig(str(i)) for i in range(5)])
    s.record_fetch("https://b.example/rss", FeedState(outcome="ok"),
                   [sig("z", url="https://b.example/rss", competitor="beta")])
    assert [x.entry_key for x in s.list_signals(competitor="acme", limit=3)] == ["2", "3", "4"]
    assert [x.entry_key for x in s.list_signals(competitor="beta")] == ["z"]
    assert len(s.list_signals()) == 6
    assert [x.entry_key for x in s.list_signals(limit=2)] == ["4", "z"]


def test_opportunity_lifecycle(sut: StoreUnderTest) -> None:
    s = sut.store
    opp = s.create_opportunity("Self-serve tier", "for small teams", actor="cestra")
    assert (opp.stage, opp.description, opp.market_score, opp.analysis, opp.survey, opp.decision) == (
        "analysis", "for small teams", None, None, None, None)
    assert s.get_opportunity(opp.id) == opp
    assert s.move_opportunity(opp.id, "validation").stage == "validation"
    s.move_opportunity(opp.id, "validation")  # the same stage: nothing written
    with pytest.raises(StoreFunctionError):
        s.move_opportunity(opp.id, "shipped")
    analysis = {"score": 72.5, "signals": [{"id": "s1", "entryKey": "a", "points": 2.0}], "rules": []}
    o = s.record_analysis(opp.id, 72.5, analysis)
    assert (o.market_score, o.analysis) == (72.5, analysis)
    survey = {"template": {"id": "t", "version": 1}, "responses": [{"respondent": "r1", "answers": [
        {"question": "pain", "value": 4}]}], "score": 75.0, "respondents": 1}
    o = s.record_survey(opp.id, survey, expected_respondents=0)
    assert o.survey == survey
    with pytest.raises(StoreFunctionError) as err:
        s.record_survey(opp.id, survey, expected_respondents=0)
    assert err.value.data["code"] == "Conflict"
    decision = {"verdict": "more_data", "computed": {"verdict": "more_data", "score": 70.0, "criteria": []},
                "override": None, "inputs": {"criteria": {"version": "v1"}}, "decidedBy": "cestra", "at": 1.0}
    o = s.record_decision(opp.id, decision, actor="cestra")
    assert (o.stage, o.decision) == ("more_data", decision)
    with pytest.raises(StoreFunctionError) as err:
        s.record_decision(opp.id, {**decision, "verdict": "go", "override": {"verdict": "go", "reason": "  "}})
    assert err.value.data["code"] == "BadValue" and "reason" in str(err.value)
    with pytest.raises(StoreFunctionError):
        s.record_decision(opp.id, {**decision, "verdict": "yes"})
    assert s.get_opportunity(opp.id).stage == "more_data"  # the refused ones wrote nothing
    over = {**decision, "verdict": "go", "override": {"verdict": "go", "reason": "a signed letter of intent",
                                                      "by": "operator", "at": 2.0}}
    o = s.record_decision(opp.id, over)
    assert (o.stage, o.decision["override"]["reason"]) == ("go", "a signed letter of intent")
    assert [x.id for x in s.list_opportunities()] == [opp.id]
    assert types(s) == ["opportunity_created", "opportunity_moved", "market_analysed", "survey_recorded",
                        "decision_made", "decision_overridden"]
    acts = s.list_activities()
    assert acts[0].message == "decision overridden to go: Self-serve tier (a signed letter of intent)"
    assert acts[0].detail == {"verdict": "go", "previous": "more_data", "computed": "more_data",
                              "criteriaVersion": "v1", "reason": "a signed letter of intent"}
    assert acts[1].actor == "cestra" and acts[1].message == "decision: more_data: Self-serve tier"
    assert acts[2].message == "survey: 1 respondent, validation 75: Self-serve tier"
    assert acts[2].detail == {"respondents": 1, "added": 1, "score": 75.0}
    assert acts[3].message == "market score 72.5: Self-serve tier"
    assert acts[3].detail == {"from": None, "to": 72.5, "signals": 1}
    assert all(a.target_id == opp.id for a in acts[:5])


def test_unknown_opportunity(sut: StoreUnderTest) -> None:
    for call in (lambda s: s.get_opportunity("o999"), lambda s: s.move_opportunity("nope", "go"),
                 lambda s: s.record_analysis("o999", 1.0, {})):
        with pytest.raises(NotFoundError):
            call(sut.store)
    with pytest.raises(StoreFunctionError):
        sut.store.create_opportunity("  ")


def test_snapshot_returns_feeds_and_opportunities_whole_when_they_changed(sut: StoreUnderTest) -> None:
    """The poll is the screens' only read path: the pipeline's small tables come in the snapshot
    like agents and tasks (whole when changed since the caller's mark, else None)."""
    s = sut.store
    first = s.snapshot(None)
    assert (first.feeds, first.opportunities) == ((), ())
    assert {"feeds", "opportunities"} <= set(first.marks)
    idle = s.snapshot(first.marks)
    assert (idle.feeds, idle.opportunities) == (None, None) and idle.is_empty()

    s.add_feed(URL, "acme")
    after_feed = s.snapshot(first.marks)
    assert [f.url for f in after_feed.feeds] == [URL] and after_feed.opportunities is None

    opp = s.create_opportunity("churn alerts")
    after_opp = s.snapshot(after_feed.marks)
    assert after_opp.feeds is None and [o.title for o in after_opp.opportunities] == ["churn alerts"]

    # each change to a row is seen: a fetch's new state, a stage, a removal
    s.record_fetch(URL, FeedState(etag='"1"', last_status=200, outcome="ok"), [sig("a")])
    s.move_opportunity(opp.id, "validation")
    changed = s.snapshot(after_opp.marks)
    assert [f.etag for f in changed.feeds] == ['"1"'] and [o.stage for o in changed.opportunities] == ["validation"]
    s.remove_feed(URL)
    gone = s.snapshot(changed.marks)
    assert gone.feeds == () and gone.opportunities is None
    assert s.snapshot(gone.marks).is_empty()


def test_a_feed_written_by_another_process_is_seen_by_the_next_local_snapshot(tmp_path) -> None:
    import sqlite3

    from console.service.store.sqlite import LocalStore

    store = LocalStore(tmp_path / "squad.db")
    store.add_feed(URL, "acme")
    marks = store.snapshot(None).marks
    other = sqlite3.connect(tmp_path / "squad.db")
    other.execute("UPDATE feeds SET competitor = 'renamed'")
    other.commit()
    other.close()
    snap = store.snapshot(marks)
    assert [f.competitor for f in snap.feeds] == ["renamed"] and snap.opportunities is None
    store.close()

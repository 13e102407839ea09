"""Both stores provably identical: one scripted session, every mutation of the Store contract with
odd values, run on LocalStore and on ConvexStore (real HTTP against the project's own functions
run by convex-test). Every call's answer, every activity (type, message, detail, actor, agent,
target) and every read method's rows must be the same once ids and store clocks are normalised.

`test_the_script_calls_every_method_of_the_contract` introspects the Protocol: a new method is a
mutation unless listed in READS, and a mutation the script does not call fails the test, so a new
write cannot land without parity coverage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from console.service.models import AgentSpec, FeedState, HeartbeatIn, SignalIn
from console.service.store import Store, StoreError
from console.service.store.convex import ConvexStore
from console.service.store.sqlite import LocalStore
from tests.conftest import ADMIN_KEY, ConvexTestServer

# The Protocol's methods that change nothing; every other method is a mutation.
READS = {
    "describe", "close", "list_agents", "list_tasks", "list_activities", "list_heartbeats", "list_flips",
    "snapshot", "history", "vault_list", "vault_get", "list_feeds", "list_signals", "list_opportunities", "get_opportunity",
}
STORE_CLOCK = {"created_at", "updated_at", "server_time"}  # each store's own clock: not compared
T0 = 1_760_000_000_000.0

ODD = "[bold]x[/] ✓ café — 日本語 😀 \\ \"quoted\""


def protocol_methods() -> set[str]:
    return {n for n in dir(Store) if not n.startswith("_") and callable(getattr(Store, n))}


class Recorder:
    """The store under test, recording which contract methods the script called and each answer
    (or error) normalised: ids replaced by names given in order of first appearance."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.called: set[str] = set()
        self.transcript: list[tuple[str, Any]] = []
        self.ids: dict[str, str] = {}

    def name_id(self, value: str, kind: str) -> None:
        if value not in self.ids:
            self.ids[value] = f"<{kind}{len(self.ids)}>"

    def learn(self, value: Any) -> None:
        """Name every id in an answer (rows with an `id`), in a deterministic order."""
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            if isinstance(getattr(value, "id", None), str):
                self.name_id(value.id, type(value).__name__)
            for f in dataclasses.fields(value):
                self.learn(getattr(value, f.name))
        elif isinstance(value, (list, tuple)):
            for v in value:
                self.learn(v)

    def norm(self, value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out = {f.name: self.norm(getattr(value, f.name)) for f in dataclasses.fields(value)
                   if f.name not in STORE_CLOCK}
            if "marks" in out:  # opaque to the caller: which tables have one is the contract
                out["marks"] = sorted(value.marks)
            return {"_type": type(value).__name__, **out}
        if isinstance(value, dict):
            return {k: self.norm(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.norm(v) for v in value]
        if isinstance(value, str):
            return self.ids.get(value, value)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            return float(value)  # Convex answers 3 for 3.0
        return value

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.store, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.called.add(name)
            try:
                result = method(*args, **kwargs)
            except StoreError as exc:
                code = exc.data.get("code") if isinstance(exc.data, dict) else None
                self.transcript.append((name, {"error": type(exc).__name__, "code": code}))
                return None
            self.learn(result)
            self.transcript.append((name, self.norm(result)))
            return result

        return call


def session(s: Recorder) -> None:
    """The scripted session: every mutation, odd values included, then every read."""
    veda, _, _ = s.upsert_agent(AgentSpec("veda", "VÉDA ✓", "[bold]market[/] analysis", workspace="/ws/veda",
                                          heartbeat="2-59/15 * * * *", tz="UTC", grace_seconds=300))
    orin, _, _ = s.upsert_agent(AgentSpec("orin", ODD, "", level="SPC"))
    s.upsert_agent(AgentSpec("veda", "VÉDA ✓", "analysis + pricing", status="active", grace_seconds=120.5))
    s.upsert_agent(AgentSpec("veda", "VÉDA ✓", "analysis + pricing"))  # nothing changed: no activity
    s.upsert_agent(AgentSpec("veda", "VÉDA ✓", "x", status="sleeping"))  # refused

    task = s.create_task(f"Compare {ODD}", "δ description", assignee_ids=[veda.id])
    s.create_task("   ")  # refused: no title
    s.create_task("held", status="blocked")
    s.update_task(task.id, status="in_progress")
    s.update_task(task.id, assignee_ids=[veda.id, orin.id])
    s.update_task(task.id, description="[red]new[/] description")
    s.update_task(task.id, status="in_progress")  # nothing changed
    s.update_task(task.id, title="Renamed — and done ✓", status="done")  # worded with the new title
    s.update_task(task.id, title="Renamed again", assignee_ids=[])
    s.update_task(task.id, status="review", actor="cestra")

    s.send_message(task.id, orin.id, "[red]hi[/] 😀\nsecond line", actor="orin")
    doomed = s.create_task("Fix [/api/login] 500s", assignee_ids=[orin.id])
    s.remove_task(doomed.id, actor="operator")
    s.remove_task(doomed.id)  # refused: gone already

    s.log_activity("note", f"checked by hand {ODD}", actor="dominic", detail={"k": [1, "ü", None], "n": 0.00001})
    s.log_activity("note", "sent twice", key="outbox-1", agent_id=veda.id, target_id=task.id)
    s.log_activity("note", "sent twice", key="outbox-1", agent_id=veda.id, target_id=task.id)
    s.log_activity("empty_detail", "{}", detail={})

    s.record_heartbeat(HeartbeatIn("veda", T0, run_id="run-ok", duration_ms=812.5, tokens=1500, cost_usd=0.0021,
                                   model="haiku", source="openclaw", delivery="delivered"))
    s.record_heartbeat(HeartbeatIn("veda", T0 + 900_000, outcome="error", error=f"WhatsApp 401 {ODD}",
                                   delivery="not-delivered", source="openclaw", run_id="run-err"))
    s.record_heartbeat(HeartbeatIn("veda", T0 + 900_000, outcome="error", error="again", source="openclaw",
                                   run_id="run-err"))  # the same run: one row, no activity
    s.record_heartbeat(HeartbeatIn("orin", T0 + 1_000, outcome="error", error=""), actor="daemon")
    s.record_heartbeat(HeartbeatIn("ghost", T0 + 2_000, outcome="error"))  # no such agent, no error text
    s.record_heartbeat(HeartbeatIn("veda", T0 + 3_000, outcome="maybe"))  # refused

    s.record_flip("veda", T0 + 1_200_000, "up", "failing", f"run failed: {ODD}", actor="service")
    s.record_flip("veda", T0 + 2_400_000, "failing", "down")
    s.record_flip("ghost", T0, "new", "up", "")

    name = "db/password ü"
    s.vault_put(name, 1, "ciphertext-1", "kid-a")
    s.vault_put(name, 2, "ciphertext-2", "kid-a", expected_version=1)
    s.vault_put(name, 2, "ciphertext-2", "kid-a")  # a retried replication: nothing written
    s.vault_put(name, 2, "other", "kid-a")  # conflict
    s.vault_put("other", 1, "c", "kid-b", expected_version=3)  # conflict
    s.vault_put("b-entry", 1, "c", "kid-b")
    s.vault_remove(name)
    s.vault_remove(name)  # nothing left to mark
    s.vault_remove("never-stored")

    url = "https://example.com/feed?x=1&y=ü"
    s.add_feed(url, "Acme ✓")
    s.add_feed(url, "Acme ✓")  # conflict
    s.add_feed("https://other.example/rss", ODD)
    s.add_feed("", "x")  # refused
    sig = [SignalIn(url, f"k{i}", f"[b]Item {i}[/] ✓", "Acme ✓", link=f"https://example.com/{i}",
                    published_at=T0 - i * 1000, summary="ü" * i or None) for i in range(3)]
    s.record_fetch(url, FeedState(etag='"e1"', last_fetched_at=T0, last_status=200, next_fetch_at=T0 + 60_000,
                                  outcome="ok", health="ok"), sig)
    changed = dataclasses.replace(sig[1], title="changed title")
    s.record_fetch(url, FeedState(etag='"e2"', last_modified="Tue, 01 Jul 2025 00:00:00 GMT", last_fetched_at=T0 + 1,
                                  last_status=200, outcome="ok"), [sig[0], changed, SignalIn(url, "k9", "new", "Acme ✓")])
    s.record_fetch(url, FeedState(last_fetched_at=T0 + 2, last_status=503, error_count=1, outcome="failed",
                                  health="HTTP 503 from the server"))
    s.record_fetch(url, FeedState(last_fetched_at=T0 + 3, error_count=2, outcome="failed", health=""))
    s.record_fetch(url, FeedState(last_fetched_at=T0 + 4, last_status=304, outcome="not_modified"))
    s.record_fetch(url, FeedState(outcome="bogus"))  # refused
    s.record_fetch(url, FeedState(), [SignalIn("https://elsewhere/", "k", "t", "c")])  # refused: another feed
    s.record_fetch("https://missing.example/", FeedState())  # not found
    s.remove_feed("https://other.example/rss")
    s.remove_feed("https://other.example/rss")  # not found

    opp = s.create_opportunity(f"Churn alerts {ODD}", "desc ✓")
    s.create_opportunity(" ")  # refused
    bare = s.create_opportunity("bare")
    s.move_opportunity(opp.id, "validation")
    s.move_opportunity(opp.id, "validation")  # the same stage: nothing written
    s.move_opportunity(opp.id, "nowhere")  # refused
    s.record_analysis(opp.id, 0.00001, {"signals": ["s1", "s2"], "note": ODD})
    s.record_analysis(opp.id, 0.72, {"signals": "not a list"})
    s.record_analysis(opp.id, 3, {})
    s.record_analysis(opp.id, 1234567.5, {"signals": []})
    s.record_survey(opp.id, {"responses": [{"a": 1}, {"a": 2}, {"a": 3}], "score": 2 / 3})
    s.record_survey(opp.id, {"responses": [{"a": 1}], "score": True}, expected_respondents=3)
    s.record_survey(opp.id, {"responses": "none", "score": None}, expected_respondents=3)  # conflict (1 stored)
    s.record_survey(opp.id, {"responses": [], "score": 0}, expected_respondents=1)
    s.record_decision(opp.id, {"verdict": "go", "computed": None, "inputs": None})
    s.record_decision(opp.id, {"verdict": "no_go", "computed": {"verdict": "go", "score": 0.00001},
                               "inputs": {"criteria": {"version": 2}},
                               "override": {"reason": f"founder call {ODD}", "by": "dominic"}}, actor="dominic")
    s.record_decision(opp.id, {"verdict": "more_data", "computed": "go", "override": None})
    s.record_decision(opp.id, {"verdict": "go", "override": {"reason": "  "}})  # refused: no reason
    s.record_decision(opp.id, {"verdict": "maybe"})  # refused
    s.record_decision(bare.id, {"verdict": "no_go", "computed": {"verdict": None}, "inputs": {"criteria": []}})

    # every read, twice where an argument changes the answer
    s.list_agents()
    s.list_tasks()
    s.list_activities(500)
    s.list_activities(3)
    s.list_heartbeats()
    s.list_heartbeats("veda", since=T0, until=T0 + 900_000)
    s.list_flips()
    s.list_flips("veda", since=T0 + 1_300_000)
    s.history(T0 - 1, T0 + 86_400_000)
    s.history(T0 + 1, T0 + 900_001)  # the window's edges
    s.vault_list()
    s.vault_get("b-entry")
    s.vault_get(name, 1)
    s.vault_get(name)  # every version removed: not found
    s.list_feeds()
    s.list_signals()
    s.list_signals(feed_url=url, limit=2)
    s.list_signals(competitor="Acme ✓")
    s.list_opportunities()
    s.get_opportunity(opp.id)
    first = s.snapshot(None)
    s.snapshot(first.marks)  # nothing changed since
    s.describe()
    s.close()


@pytest.fixture(scope="module")
def transcripts(convex_server: ConvexTestServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recorder]:
    convex_server.reset()
    out: dict[str, Recorder] = {}
    for kind, store in (("local", LocalStore(Path(tmp_path_factory.mktemp("parity")) / "squad.db")),
                        ("convex", ConvexStore(convex_server.url, ADMIN_KEY, timeout=10))):
        rec = Recorder(store)
        session(rec)
        out[kind] = rec
    return out


def test_the_script_calls_every_method_of_the_contract(transcripts: dict[str, Recorder]) -> None:
    methods = protocol_methods()
    assert READS <= methods, f"READS names methods the contract no longer has: {sorted(READS - methods)}"
    mutations = methods - READS
    assert {"upsert_agent", "record_decision", "record_flip", "vault_put"} <= mutations
    for rec in transcripts.values():
        assert mutations - rec.called == set(), "mutations without parity coverage (add them to session())"
        assert READS - rec.called == set(), "reads the parity session does not compare"


def test_every_activity_is_worded_the_same(transcripts: dict[str, Recorder]) -> None:
    local, convex = transcripts["local"], transcripts["convex"]
    [acts_local] = [r for n, r in local.transcript if n == "list_activities" and len(r) > 3]
    [acts_convex] = [r for n, r in convex.transcript if n == "list_activities" and len(r) > 3]
    assert len(acts_local) > 40
    keep = ("type", "message", "detail", "actor", "agent_id", "target_id")
    for a, b in zip(reversed(acts_local), reversed(acts_convex), strict=True):
        assert {k: a[k] for k in keep} == {k: b[k] for k in keep}


def test_the_four_drifts_of_issue_11_are_gone(transcripts: dict[str, Recorder]) -> None:
    for rec in transcripts.values():
        [acts] = [r for n, r in rec.transcript if n == "list_activities" and len(r) > 3]
        by_type: dict[str, list[dict[str, Any]]] = {}
        for a in reversed(acts):
            by_type.setdefault(a["type"], []).append(a)
        assert by_type["task_completed"][0]["message"] == "task completed: Renamed — and done ✓"
        assert by_type["heartbeat_failing"][0]["detail"] == {
            "agentId": "veda", "at": T0 + 1_200_000, "from": "up", "to": "failing", "reason": f"run failed: {ODD}"}
        assert by_type["heartbeat_down"][0]["detail"] == {
            "agentId": "veda", "at": T0 + 2_400_000, "from": "failing", "to": "down"}
        made = by_type["decision_made"]
        assert made[0]["detail"] == {"verdict": "go", "previous": None, "computed": None, "criteriaVersion": None}
        assert by_type["market_analysed"][0]["message"].startswith("market score 0.00001: ")
        assert by_type["market_analysed"][3]["message"].startswith("market score 1234570: ")
        assert by_type["survey_recorded"][0]["message"].startswith("survey: 3 respondents, validation 0.666667: ")


def test_every_answer_is_the_same(transcripts: dict[str, Recorder]) -> None:
    local, convex = transcripts["local"], transcripts["convex"]
    assert [n for n, _ in local.transcript] == [n for n, _ in convex.transcript]
    for (name, a), (_, b) in zip(local.transcript, convex.transcript, strict=True):
        if name == "describe":
            continue  # where the data lives differs by design
        assert a == b, name


@pytest.mark.parametrize(("x", "words"), [
    (0.00001, "0.00001"), (1e-7, "0.0000001"), (0.72, "0.72"), (3, "3"), (-0.5, "-0.5"), (0.1 + 0.2, "0.3"),
    (2 / 3, "0.666667"), (1234567, "1234570"), (999999.5, "1000000"), (123456.5, "123457"),
    (1e21, "1000000000000000000000"), (1.23e-18, "0.00000000000000000123"), (0, "0"),
])
def test_numbers_are_worded_as_convex_words_them(x: float, words: str) -> None:
    """The same table as convex/console/activities.test.ts."""
    from console.service.store.activities import number

    assert number(x) == words


@pytest.mark.parametrize(("module", "absent"), [
    ("console.service.store.outbox", ["console.service.store.sqlite.store", "console.service.store.convex"]),
    ("console.service.store.sqlite", ["console.service.store.sqlite.store", "console.service.store.convex"]),
    ("console.service.store.sqlite.store", ["console.service.store.convex", "httpx"]),
    ("console.service.store.convex", ["console.service.store.sqlite", "sqlite3"]),
])
def test_no_store_implementation_imports_another(module: str, absent: list[str]) -> None:
    """Checked in a clean interpreter: the outbox opens its file without loading the LocalStore,
    and neither store loads the other."""
    import subprocess
    import sys

    code = f"import sys, {module}\nprint(','.join(m for m in {absent!r} if m in sys.modules))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "", f"{module} loaded {p.stdout.strip()}"

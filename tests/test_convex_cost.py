"""The cost model (docs/cost.md) and its instrumentation: the test server's meter counts what each
function reads and writes as Convex bills it, and the console's functions read no more documents
than the model says. A function that starts reading more (a whole table, the clock in a query) fails
here before it shows on a bill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.service.models import AgentSpec, HeartbeatIn
from console.service.store.calls import CallCounter
from console.service.store.convex import HOT_MIN, ConvexStore
from tests.conftest import ADMIN_KEY, ROOT, ConvexTestServer

T0 = 1_767_225_600_000.0


@pytest.fixture(scope="module")
def metered() -> Iterator[ConvexTestServer]:
    server = ConvexTestServer(meter=True)
    yield server
    server.http.close()
    server.stop()


class Meter:
    def __init__(self, server: ConvexTestServer) -> None:
        self.server = server
        server.reset()
        self.take()

    def take(self) -> list[dict[str, Any]]:
        """The calls since the last take, oldest first."""
        return self.server.http.post("/_test/meter", json={"reset": True}).raise_for_status().json()["recent"]

    def one(self, path: str) -> dict[str, Any]:
        calls = [c for c in self.take() if c["path"] == path]
        assert len(calls) == 1, calls
        return calls[0]


@pytest.fixture
def meter(metered: ConvexTestServer) -> Meter:
    return Meter(metered)


# ------------------------------------------------------------------ the meter itself
def test_the_meter_counts_documents_rounded_up_to_a_kib(metered: ConvexTestServer, meter: Meter) -> None:
    ids = metered.http.post("/_test/insertMany", json={"table": "tasks", "docs": [
        {"title": f"t{i}", "description": "x" * (1500 if i == 0 else 10), "status": "done", "assigneeIds": []}
        for i in range(5)]}).json()["ids"]
    meter.take()
    store = ConvexStore(metered.url, ADMIN_KEY)
    store.list_tasks()
    first = meter.one("console/tasks:list")
    assert (first["docsRead"], first["kibRead"], first["cached"]) == (5, 6, False)  # 1 doc over 1 KiB: 2 KiB
    store.list_tasks()
    again = meter.one("console/tasks:list")
    assert (again["cached"], again["docsRead"], again["kibRead"]) == (True, 0, 0)  # Convex's cache
    metered.patch(ids[3], {"status": "review"})  # Mission Control's write: no updatedAt
    store.list_tasks()
    assert meter.one("console/tasks:list")["docsRead"] == 5  # the write touched what it read
    store.close()


def test_a_write_outside_what_a_query_read_keeps_it_cached(metered: ConvexTestServer, meter: Meter) -> None:
    store = ConvexStore(metered.url, ADMIN_KEY)
    store.record_heartbeat(HeartbeatIn("veda", T0, run_id="a"))
    store.list_heartbeats("veda", since=T0 - 1, until=T0 + 1)
    store.list_heartbeats("veda", since=T0 - 1, until=T0 + 1)
    assert [c["cached"] for c in meter.take() if c["path"] == "console/heartbeats:list"] == [False, True]
    store.record_heartbeat(HeartbeatIn("orin", T0, run_id="b"))  # another agent: another range
    store.record_heartbeat(HeartbeatIn("veda", T0 + 900_000, run_id="c"))  # later than `until`
    store.list_heartbeats("veda", since=T0 - 1, until=T0 + 1)
    assert meter.one("console/heartbeats:list")["cached"] is True
    store.close()


def test_a_mutation_is_never_cached_and_its_writes_are_counted(metered: ConvexTestServer, meter: Meter) -> None:
    store = ConvexStore(metered.url, ADMIN_KEY)
    store.create_task("one")
    call = meter.one("console/tasks:create")
    assert call["docsWritten"] == 2  # the task and its activity
    assert call["kibWritten"] == 2
    store.close()


# ------------------------------------------------------------------ the console's functions vs the model
def squad(metered: ConvexTestServer, tasks: int) -> ConvexStore:
    store = ConvexStore(metered.url, ADMIN_KEY)
    for agent in ("cestra", "veda", "orin"):
        store.upsert_agent(AgentSpec(agent, agent.upper(), "r", heartbeat="*/15 * * * *"))
    metered.http.post("/_test/insertMany", json={"table": "tasks", "docs": [
        {"title": f"t{i}", "description": "d", "status": "done" if i < tasks - 5 else "inbox", "assigneeIds": []}
        for i in range(tasks)]}).raise_for_status()
    return store


def test_no_query_of_the_poll_reads_the_clock(metered: ConvexTestServer, meter: Meter) -> None:
    store = squad(metered, 40)
    marks = store.snapshot(None).marks
    store.snapshot(marks)
    store.history(T0 - 8 * 86_400_000, T0)
    calls = [c for c in meter.take() if c["kind"] == "query"]
    assert {c["path"] for c in calls} >= {"console/snapshot:start", "console/snapshot:get",
                                          "console/snapshot:tables", "console/history:get"}
    assert [c["path"] for c in calls if c["readTime"]] == []
    store.close()


def test_a_quiet_poll_reads_nothing(metered: ConvexTestServer, meter: Meter) -> None:
    store = squad(metered, 300)
    marks = store.snapshot(None).marks
    marks = store.snapshot(marks).marks  # the groups' first calls with their marks
    meter.take()
    for _ in range(3):
        snap = store.snapshot(marks)
        assert snap.is_empty()
    calls = meter.take()
    assert len(calls) == 6  # two calls a poll: the rows (get) and the hot group (tables)
    assert sum(c["docsRead"] for c in calls) == 0 and all(c["cached"] for c in calls)
    store.close()


def test_a_changed_poll_reads_what_changed_and_the_hot_group_at_most(metered: ConvexTestServer, meter: Meter) -> None:
    store = squad(metered, 300)
    snap = store.snapshot(None)
    snap = store.snapshot(snap.marks)
    hot = [t for t in snap.tasks or store.list_tasks()][-HOT_MIN:]
    meter.take()
    # three beats: the poll reads those three rows, and nothing of the whole tables
    for i, agent in enumerate(("cestra", "veda", "orin")):
        store.record_heartbeat(HeartbeatIn(agent, T0 + i, run_id=f"r{i}"))
    meter.take()
    snap = store.snapshot(snap.marks)
    assert len(snap.heartbeats) == 3 and snap.tasks is None
    calls = meter.take()
    assert sum(c["docsRead"] for c in calls) <= 3, calls
    # Mission Control patches a recent task behind the console's back (no activity): seen at once, for
    # the price of the hot group (the agents and the newest tasks), not of the 300 tasks
    metered.patch(hot[-1].id, {"status": "review"})
    meter.take()
    snap = store.snapshot(snap.marks)
    assert [t.status for t in snap.tasks if t.id == hot[-1].id] == ["review"]
    calls = meter.take()
    hot_reads = sum(c["docsRead"] for c in calls if c["path"] == "console/snapshot:tables")
    assert hot_reads <= 3 + HOT_MIN + 5, calls  # the agents and the hot tasks, never the 300
    store.close()


def test_record_heartbeat_reads_and_writes_a_few_documents(metered: ConvexTestServer, meter: Meter) -> None:
    store = ConvexStore(metered.url, ADMIN_KEY)
    store.record_heartbeat(HeartbeatIn("veda", T0, run_id="x"))
    store.record_heartbeat(HeartbeatIn("veda", T0 + 900_000, run_id="y"))
    calls = [c for c in meter.take() if c["path"] == "console/heartbeats:record"]
    # the run id looked up (none), the beat read back, its day's history document: read and written
    assert [(c["docsRead"], c["docsWritten"]) for c in calls] == [(1, 2), (3, 2)]
    store.close()


def test_start_up_is_two_calls_reading_the_compact_history(metered: ConvexTestServer, meter: Meter) -> None:
    store = squad(metered, 10)
    for i in range(96):  # a day of one agent's beats: one history document, not 96
        store.record_heartbeat(HeartbeatIn("veda", T0 + i * 900_000, run_id=f"b{i}"))
    meter.take()
    store.snapshot(None)
    history = store.history(T0 - 86_400_000, T0 + 86_400_000)
    calls = meter.take()
    assert [c["path"] for c in calls] == ["console/snapshot:start", "console/history:get"]
    assert len(history.runs) == 1 and len(history.runs[0].at) == 96
    # the day document, the newest beat and its day document again (is the history up to date?)
    assert calls[1]["docsRead"] <= 3, calls[1]
    store.close()


# ------------------------------------------------------------------ the calls the console shows
def test_the_call_counter_projects_a_month(tmp_path: Path) -> None:
    now = [1_000_000.0]
    counter = CallCounter(tmp_path / "calls.db", clock=lambda: now[0])
    for _ in range(120):  # 120 calls in the first hour
        counter.add()
        now[0] += 30
    counter.flush()
    s = counter.summary()
    assert s.last_24h == 120
    assert 120 * 24 * 30 * 0.9 <= s.month <= 120 * 24 * 30 * 1.1  # an hour's rate, over 30 days
    now[0] += 2 * 86_400
    assert CallCounter(tmp_path / "calls.db", clock=lambda: now[0]).summary().last_24h == 0


def test_check_json_shows_the_convex_calls(convex_server, tmp_path: Path) -> None:
    convex_server.reset()
    env = {**os.environ, "CONVEX_URL": convex_server.url, "CONVEX_DEPLOY_KEY": ADMIN_KEY,
           "SQUAD_CONSOLE_DB": str(tmp_path / "data" / "squad.db"), "OPENCLAW_STATE_DIR": str(tmp_path / "oc"),
           "PYTHONPATH": str(ROOT)}
    run = lambda: subprocess.run([sys.executable, "-m", "console", "--store", "convex", "check", "--json",  # noqa: E731
                                  "--no-gateway"], env=env, capture_output=True, text=True, timeout=120)
    run()
    p = run()
    doc = json.loads(p.stdout)
    calls = doc["convexCalls"]
    assert calls["last24h"] >= 2 and calls["projectedMonth"] >= calls["last24h"], p.stderr
    assert calls["starterAllowance"] == 1_000_000

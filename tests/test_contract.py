"""The store contract: the same cases on LocalStore (SQLite) and ConvexStore (real HTTP against
the project's own convex/ functions run by convex-test)."""

from __future__ import annotations

import time

import pytest

from console.service.models import AgentSpec, HeartbeatIn
from console.service.store import Store, StoreFunctionError
from tests.conftest import StoreUnderTest

VEDA = AgentSpec("veda", "VEDA", "market analysis", workspace="/root/.openclaw/workspace-veda",
                 heartbeat="2-59/15 * * * *", tz="UTC", grace_seconds=300)


def types(store: Store, n: int = 50) -> list[str]:
    """Activity types, oldest first."""
    return [a.type for a in reversed(store.list_activities(n))]


def test_store_keeps_the_protocol(sut: StoreUnderTest) -> None:
    assert isinstance(sut.store, Store)
    assert sut.kind in sut.store.describe()


def test_mission_control_rows_are_read_back(sut: StoreUnderTest) -> None:
    """Rows written the way Mission Control's own agents write them (`npx convex run ...`)."""
    veda = sut.raw_insert("agents", {"name": "VEDA", "role": "Market analyst", "status": "active",
                                     "sessionKey": "agent:veda:main"})
    orin = sut.raw_insert("agents", {"name": "ORIN", "role": "Customer research", "status": "idle",
                                     "sessionKey": "agent:orin:main", "level": "SPC"})
    task = sut.raw_insert("tasks", {"title": "Survey 20 founders", "description": "validation",
                                    "status": "assigned", "assigneeIds": [orin]})
    sut.raw_insert("messages", {"taskId": task, "fromAgentId": veda, "content": "@orin see the feed digest",
                                "attachments": []})
    sut.raw_insert("activities", {"type": "message_sent", "agentId": veda, "message": "commented on \"Survey\""})

    agents = {a.agent_id: a for a in sut.store.list_agents()}
    assert set(agents) == {"veda", "orin"}  # the OpenClaw id, derived from sessionKey
    assert agents["veda"].id == veda and agents["veda"].status == "active"
    assert agents["orin"].level == "SPC" and agents["orin"].workspace is None

    [t] = sut.store.list_tasks()
    assert (t.id, t.title, t.status, t.assignee_ids) == (task, "Survey 20 founders", "assigned", (orin,))

    snap = sut.store.snapshot(None)
    [m] = snap.messages
    assert (m.task_id, m.from_agent_id, m.content) == (task, veda, "@orin see the feed digest")
    [a] = snap.activities
    assert (a.type, a.agent_id, a.actor, a.detail) == ("message_sent", veda, None, None)


def test_upsert_adopts_a_mission_control_agent(sut: StoreUnderTest) -> None:
    mc_id = sut.raw_insert("agents", {"name": "VEDA", "role": "analyst", "status": "active",
                                      "sessionKey": "agent:veda:main"})
    agent, created, changed = sut.store.upsert_agent(VEDA)
    assert (agent.id, created, changed) == (mc_id, False, True)
    assert agent.status == "active"  # the agents' own status is theirs: not reset
    assert agent.heartbeat == "2-59/15 * * * *" and agent.workspace == "/root/.openclaw/workspace-veda"
    assert len(sut.store.list_agents()) == 1


def test_upsert_is_idempotent_and_audited(sut: StoreUnderTest) -> None:
    agent, created, changed = sut.store.upsert_agent(VEDA)
    assert created and changed
    assert agent.session_key == "agent:veda:main" and agent.status == "idle"
    again, created2, changed2 = sut.store.upsert_agent(VEDA)
    assert (again.id, created2, changed2) == (agent.id, False, False)
    assert types(sut.store) == ["agent_registered"]  # nothing changed, nothing logged
    sut.store.upsert_agent(AgentSpec("veda", "VEDA", "market analysis + pricing"))
    acts = sut.store.list_activities(10)
    assert [a.type for a in acts] == ["agent_updated", "agent_registered"]
    assert acts[0].agent_id == agent.id and acts[0].actor == "operator"


def test_each_mutation_leaves_its_activity(sut: StoreUnderTest) -> None:
    s = sut.store
    veda, _, _ = s.upsert_agent(VEDA)
    task = s.create_task("Compare pricing pages", "three competitors")
    assert task.status == "inbox" and task.assignee_ids == ()
    task = s.update_task(task.id, assignee_ids=[veda.id], status="assigned")
    task = s.update_task(task.id, status="in_progress")
    task = s.update_task(task.id, title="Compare pricing pages (Q4)")
    msg = s.send_message(task.id, veda.id, "first pass done")
    task = s.update_task(task.id, status="done")
    s.record_flip("veda", 1_700_000_000_000, "up", "down", "missed the :02 slot")
    s.log_activity("note", "checked by hand", actor="dominic", detail={"k": 1})
    s.record_heartbeat(HeartbeatIn("veda", 1_700_000_100_000, outcome="error", error="WhatsApp 401", run_id="r-err"))
    assert types(s) == [
        "agent_registered", "task_created", "task_assigned", "task_moved", "task_updated",
        "message_sent", "task_completed", "heartbeat_down", "note", "heartbeat_failed",
    ]
    acts = {a.type: a for a in s.list_activities(20)}
    assert acts["task_created"].target_id == task.id
    assert acts["task_assigned"].detail["changes"]["assigneeIds"] == {"from": [], "to": [veda.id]}
    assert acts["message_sent"].agent_id == veda.id and acts["message_sent"].target_id == msg.task_id
    assert acts["heartbeat_down"].agent_id == veda.id and "missed the :02 slot" in acts["heartbeat_down"].message
    assert acts["note"].actor == "dominic" and acts["note"].detail == {"k": 1}
    assert acts["heartbeat_failed"].actor == "push" and "WhatsApp 401" in acts["heartbeat_failed"].message
    assert task.status == "done" and task.title == "Compare pricing pages (Q4)"


def test_an_ok_heartbeat_is_its_own_record(sut: StoreUnderTest) -> None:
    beat, created = sut.store.record_heartbeat(HeartbeatIn("cestra", 1_700_000_000_000, run_id="run-1",
                                                            duration_ms=812, tokens=1500, cost_usd=0.0021,
                                                            model="haiku", source="openclaw", delivery="delivered"))
    assert created
    assert (beat.agent_id, beat.outcome, beat.run_id, beat.tokens, beat.cost_usd, beat.model) == (
        "cestra", "ok", "run-1", 1500, 0.0021, "haiku")
    assert sut.store.list_activities() == []


def test_a_heartbeat_recorded_twice_with_one_run_id_is_one_row(sut: StoreUnderTest) -> None:
    s = sut.store
    first, created = s.record_heartbeat(HeartbeatIn("veda", 1_700_000_000_000, run_id="cron:veda:42", outcome="error", error="x"))
    second, created2 = s.record_heartbeat(HeartbeatIn("veda", 1_700_000_000_000, run_id="cron:veda:42", outcome="error", error="x"))
    assert created and not created2 and first.id == second.id
    assert len(s.list_heartbeats("veda")) == 1
    assert len(s.snapshot(None).heartbeats) == 1
    assert types(s) == ["heartbeat_failed"]  # not doubled either
    # without a run id, one is derived from source, agent and time: a re-sent push is one row too
    s.record_heartbeat(HeartbeatIn("veda", 1_700_000_900_000))
    _, again = s.record_heartbeat(HeartbeatIn("veda", 1_700_000_900_000))
    assert not again and len(s.list_heartbeats("veda")) == 2


def test_list_heartbeats_by_event_time(sut: StoreUnderTest) -> None:
    s = sut.store
    base = 1_700_000_000_000
    # recorded out of order: events arrive after the fact
    for agent, minute in (("veda", 32), ("veda", 2), ("orin", 4), ("veda", 17)):
        s.record_heartbeat(HeartbeatIn(agent, base + minute * 60_000, run_id=f"{agent}-{minute}"))
    assert [h.run_id for h in s.list_heartbeats("veda")] == ["veda-2", "veda-17", "veda-32"]
    assert [h.run_id for h in s.list_heartbeats(since=base + 3 * 60_000)] == ["orin-4", "veda-17", "veda-32"]
    assert [h.run_id for h in s.list_heartbeats("veda", since=base, until=base + 20 * 60_000, limit=1)] == ["veda-2"]


def test_snapshot_after_a_mark_returns_only_what_is_newer(sut: StoreUnderTest) -> None:
    s = sut.store
    s.upsert_agent(VEDA)
    s.create_task("one")
    first = s.snapshot(None)
    assert first.agents is not None and first.tasks is not None
    assert [a.type for a in first.activities] == ["agent_registered", "task_created"]

    idle = s.snapshot(first.marks)
    assert idle.is_empty() and not idle.has_more and idle.marks == first.marks

    # a heartbeat for an old event time is still new to the poller (insertion order, not `at`)
    s.record_heartbeat(HeartbeatIn("veda", 1_000, run_id="late-arrival"))
    task = s.create_task("two")
    nxt = s.snapshot(first.marks)
    assert [h.run_id for h in nxt.heartbeats] == ["late-arrival"]
    assert [a.type for a in nxt.activities] == ["task_created"]
    assert nxt.agents is None  # unchanged
    assert nxt.tasks is not None and {t.title for t in nxt.tasks} == {"one", "two"}

    s.update_task(task.id, status="review")
    third = s.snapshot(nxt.marks)
    assert [t.status for t in third.tasks if t.id == task.id] == ["review"]
    assert [a.type for a in third.activities] == ["task_moved"]
    assert third.heartbeats == () and third.agents is None


def test_snapshot_sees_changes_made_outside_the_console(sut: StoreUnderTest) -> None:
    """Mission Control's agents write with their own functions (no updatedAt): still seen."""
    s = sut.store
    s.upsert_agent(VEDA)
    marks = s.snapshot(None).marks
    sut.raw_insert("tasks", {"title": "from an agent", "description": "", "status": "inbox", "assigneeIds": []})
    sut.raw_insert("agents", {"name": "ORIN", "role": "research", "status": "idle", "sessionKey": "agent:orin:main"})
    snap = s.snapshot(marks)
    [task] = snap.tasks
    assert task.title == "from an agent"
    assert {a.agent_id for a in snap.agents} == {"veda", "orin"}
    # `npx convex run tasks:update '{"id": ..., "status": "review"}'`: a patch with no updatedAt
    sut.raw_patch("tasks", task.id, {"status": "review"})
    after = s.snapshot(snap.marks)
    assert [t.status for t in after.tasks] == ["review"] and after.agents is None


def test_snapshot_pages_with_has_more(sut: StoreUnderTest) -> None:
    s = sut.store
    for i in range(3):
        s.log_activity("note", f"old {i}")
    marks = s.snapshot(None).marks
    for i in range(7):
        s.log_activity("note", f"new {i}")
    seen: list[str] = []
    polls = 0
    while True:
        snap = s.snapshot(marks, limit=3)
        polls += 1
        assert len(snap.activities) <= 3
        seen += [a.message for a in snap.activities]
        marks = snap.marks
        if not snap.has_more:
            break
    assert seen == [f"new {i}" for i in range(7)]
    assert polls == 3


def test_first_snapshot_is_a_bounded_tail(sut: StoreUnderTest) -> None:
    s = sut.store
    for i in range(6):
        s.record_heartbeat(HeartbeatIn("veda", 1_700_000_000_000 + i, run_id=f"r{i}"))
    snap = s.snapshot(None, limit=4)
    assert [h.run_id for h in snap.heartbeats] == ["r2", "r3", "r4", "r5"]
    assert not snap.has_more  # older rows are history, not news: no need to poll again
    s.record_heartbeat(HeartbeatIn("veda", 1_700_000_000_010, run_id="r6"))
    assert [h.run_id for h in s.snapshot(snap.marks, limit=4).heartbeats] == ["r6"]


def test_activities_newest_first_with_before(sut: StoreUnderTest) -> None:
    s = sut.store
    for i in range(5):
        s.log_activity("note", f"n{i}")
        time.sleep(0.002)  # distinct creation times on both stores
    newest = s.list_activities(2)
    assert [a.message for a in newest] == ["n4", "n3"]
    older = s.list_activities(10, before=newest[-1].created_at)
    assert [a.message for a in older] == ["n2", "n1", "n0"]


def test_bad_references_are_function_errors(sut: StoreUnderTest) -> None:
    s = sut.store
    veda, _, _ = s.upsert_agent(VEDA)
    task = s.create_task("real")
    with pytest.raises(StoreFunctionError):
        s.update_task(veda.id, status="done")  # an agent's id is no task's
    with pytest.raises(StoreFunctionError):
        s.send_message(veda.id, veda.id, "hello")
    with pytest.raises(StoreFunctionError):
        s.update_task(task.id, status="shipped")
    with pytest.raises(StoreFunctionError):
        s.update_task(task.id, assignee_ids=[task.id])
    # nothing was half-written
    assert types(s) == ["agent_registered", "task_created"]
    assert [t.status for t in s.list_tasks()] == ["inbox"]


def test_an_update_that_changes_nothing_writes_nothing(sut: StoreUnderTest) -> None:
    s = sut.store
    task = s.create_task("same", status="review")
    marks = s.snapshot(None).marks
    again = s.update_task(task.id, status="review", title="same")
    assert again == task
    assert s.snapshot(marks).is_empty()


def test_agent_activities_name_the_changed_fields_alike(sut: StoreUnderTest) -> None:
    s = sut.store
    s.upsert_agent(AgentSpec("veda", "VEDA", "analysis"))
    s.upsert_agent(AgentSpec("veda", "VEDA", "analysis", grace_seconds=120, tz="Europe/Paris"))
    update = s.list_activities(1)[0]
    assert update.message == "VEDA updated: graceSeconds, tz"
    assert update.detail == {"agentId": "veda", "changed": ["graceSeconds", "tz"]}


def test_list_flips_by_backdated_time(sut: StoreUnderTest) -> None:
    s = sut.store
    s.record_flip("veda", 3_000, "up", "down", "missed")
    s.record_flip("orin", 1_000, "new", "up")
    s.record_flip("veda", 2_000, "new", "up")  # recorded late, backdated earlier
    assert [(f.agent_id, f.at, f.to_status) for f in s.list_flips()] == [
        ("orin", 1_000, "up"), ("veda", 2_000, "up"), ("veda", 3_000, "down")]
    [f] = s.list_flips("veda", since=2_500)
    assert (f.from_status, f.to_status, f.reason) == ("up", "down", "missed")
    assert [f.at for f in s.list_flips("veda", since=0, until=3_000)] == [2_000]


def test_an_activity_with_a_key_is_logged_once(sut: StoreUnderTest) -> None:
    """An outbox may send an activity again after its reply was lost: the key makes it one."""
    s = sut.store
    first = s.log_activity("gateway_down", "gateway unreachable", actor="service", key="service:k1")
    again = s.log_activity("gateway_down", "gateway unreachable", actor="service", key="service:k1")
    other = s.log_activity("gateway_down", "gateway unreachable", actor="service", key="service:k2")
    assert again.id == first.id and other.id != first.id
    assert [a.type for a in s.list_activities()] == ["gateway_down", "gateway_down"]

"""console.service.tasks: the task rules the Tasks screen and `squad-console tasks` share."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.service import tasks
from console.service.models import AgentSpec
from console.service.store.sqlite import LocalStore


@pytest.fixture
def store(tmp_path: Path):
    s = LocalStore(tmp_path / "squad.db")
    for agent_id in ("veda", "orin"):
        s.upsert_agent(AgentSpec(agent_id, agent_id.upper()))
    yield s
    s.close()


def test_a_task_starts_in_the_inbox_or_assigned(store: LocalStore) -> None:
    assert tasks.create(store, "alone").status == "inbox"
    t = tasks.create(store, "shared", "why", ["veda", "orin"])
    ids = {a.agent_id: a.id for a in store.list_agents()}
    assert t.status == "assigned" and list(t.assignee_ids) == [ids["veda"], ids["orin"]]


def test_assigning_moves_an_inbox_task_only(store: LocalStore) -> None:
    t = tasks.create(store, "t")
    t = tasks.assign(store, t, ["veda"])
    assert t.status == "assigned"
    t = tasks.move(store, t.id, "review")
    assert tasks.assign(store, t, ["orin"]).status == "review"
    assert tasks.assign(store, tasks.create(store, "u"), []).status == "inbox"  # nobody named: stays


def test_unknown_agents_and_ambiguous_tasks_are_refused_in_words(store: LocalStore) -> None:
    with pytest.raises(tasks.TaskError) as info:
        tasks.create(store, "t", agents=["veda", "nova"])
    assert str(info.value) == "unknown agent(s) nova (registered: orin, veda)"
    assert info.value.code == "unknown_agent" and "agents sync" in info.value.hint
    assert store.list_tasks() == []  # nothing written
    tasks.create(store, "Same")
    tasks.create(store, "same")
    with pytest.raises(tasks.TaskError) as info:
        tasks.resolve_task(store, "SAME")
    assert "no single task matches 'SAME' (2 do)" in str(info.value) and info.value.code == "not_found"
    one = tasks.create(store, "Other")
    assert tasks.resolve_task(store, "other").id == one.id == tasks.resolve_task(store, one.id[-4:]).id


def test_the_board_steps_along_the_flow() -> None:
    assert tasks.stepped("inbox", 1) == "assigned"
    assert tasks.stepped("review", 1) == "done" and tasks.stepped("done", 1) == "done"
    assert tasks.stepped("inbox", -1) == "inbox"
    assert tasks.stepped("blocked", 1) == "assigned"  # a blocked task re-enters the flow
    assert tasks.split_names(" veda, ,orin ") == ["veda", "orin"]

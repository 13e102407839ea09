"""Task use cases shared by the Tasks screen and `squad-console tasks`: the rules live here once.

- agents are named by their OpenClaw ids or their names, in any case (`veda, Orin`), and resolved
  to the store's ids (unknown names refused, with the registered ones listed);
- a task is named by its id, the end of its id, or its exact title (case-insensitive);
- a new task with assignees starts `assigned`, else `inbox`; assigning an inbox task moves it to
  `assigned`;
- the board's moves step along the flow (inbox → assigned → in progress → review → done);
  `blocked` is outside the flow, reached by `block`.
Every change goes through the store, which writes its activity to the audit log. No Textual here.
"""

from __future__ import annotations

from collections.abc import Sequence

from console.errors import ConsoleError
from console.service.models import OPERATOR, TASK_STATUSES, Task
from console.service.store import Store

FLOW = tuple(s for s in TASK_STATUSES if s != "blocked")


class TaskError(ConsoleError):
    """A task request refused before it reached the store (an unknown agent, an ambiguous task)."""

    kind = "task"


def split_names(text: str) -> list[str]:
    """"veda, orin" -> ["veda", "orin"] (the screen's comma-separated field)."""
    return [n.strip() for n in text.split(",") if n.strip()]


def agent_doc_ids(store: Store, names: Sequence[str]) -> list[str]:
    """The store's ids of the agents named (OpenClaw id or name, any case), in order; unknown
    names refused."""
    from console.service.agents import resolve

    stored = store.list_agents()
    found, unknown = resolve(stored, names)
    if unknown:
        registered = sorted(a.agent_id for a in stored)
        raise TaskError(f"unknown agent(s) {', '.join(unknown)} (registered: {', '.join(registered) or 'none'})",
                        hint="register them first: s on the Agents screen, or squad-console agents sync "
                             "(agents import for openclaw.json's)",
                        code="unknown_agent", data={"unknown": unknown, "registered": registered, "field": "assign"})
    return [a.id for a in found]


def resolve_task(store: Store, ref: str) -> Task:
    """A task by its id, the end of its id, or its exact title (case-insensitive)."""
    tasks = store.list_tasks()
    exact = [t for t in tasks if t.id == ref]
    if exact:
        return exact[0]
    matches = [t for t in tasks if t.id.endswith(ref) or t.title.lower() == ref.lower()]
    if len(matches) == 1:
        return matches[0]
    raise TaskError(f"no single task matches {ref!r}" + (f" ({len(matches)} do)" if matches else ""),
                    hint="use the id shown by `squad-console tasks list`", code="not_found",
                    data={"ref": ref, "matches": len(matches)})


def create(store: Store, title: str, description: str = "", agents: Sequence[str] = (), *,
           actor: str = OPERATOR) -> Task:
    """A new task: `assigned` to the named agents, or in the `inbox` when nobody is named."""
    ids = agent_doc_ids(store, agents) if agents else []
    return store.create_task(title, description, status="assigned" if ids else "inbox", assignee_ids=ids,
                             actor=actor)


def assign(store: Store, task: Task, agents: Sequence[str], *, actor: str = OPERATOR) -> Task:
    """Set a task's assignees (none clears them); an inbox task given assignees moves to `assigned`."""
    ids = agent_doc_ids(store, agents) if agents else []
    return store.update_task(task.id, assignee_ids=ids, status="assigned" if task.status == "inbox" and ids else None,
                             actor=actor)


def move(store: Store, task_id: str, status: str, *, actor: str = OPERATOR) -> Task:
    return store.update_task(task_id, status=status, actor=actor)


def done(store: Store, task_id: str, *, actor: str = OPERATOR) -> Task:
    return move(store, task_id, "done", actor=actor)


def block(store: Store, task_id: str, *, actor: str = OPERATOR) -> Task:
    return move(store, task_id, "blocked", actor=actor)


def remove(store: Store, task_id: str, *, actor: str = OPERATOR) -> Task:
    """Take a task off the board (audited as `task_removed`; its messages stay)."""
    return store.remove_task(task_id, actor=actor)


def stepped(status: str, step: int) -> str:
    """The status `step` places along the flow from `status` (a blocked task starts from inbox),
    clamped at both ends."""
    i = FLOW.index(status) if status in FLOW else 0
    return FLOW[max(0, min(len(FLOW) - 1, i + step))]

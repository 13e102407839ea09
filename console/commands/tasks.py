"""`squad-console tasks`: Mission Control's task workflow from the shell: add, assign, move, done, rm, list.
The rules (agent names, task references, inbox → assigned) are console.service.tasks', shared with
the Tasks screen. Every change is written to the audit log by the store, in the same transaction."""

from __future__ import annotations

import argparse
import json

from console.commands import EXIT_OK, EXIT_USAGE, CommandError, Context, table, when, with_store
from console.service import tasks as usecases
from console.service.models import TASK_STATUSES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="the task board: add, assign, move, done, rm, list",
                       description="Mission Control's tasks: create, assign to agents, move between statuses "
                       f"({', '.join(TASK_STATUSES)}), complete. Each change is in the audit log.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    ls = actions.add_parser("list", help="the tasks, by status", description="List the tasks, by status.")
    ls.add_argument("--status", choices=TASK_STATUSES, help="only this status")
    ls.add_argument("--json", action="store_true", help="one JSON document")
    add = actions.add_parser("add", help="create a task", description="Create a task (status inbox, or assigned with --assign).")
    add.add_argument("title")
    add.add_argument("--description", default="", help="what it is about")
    add.add_argument("--assign", metavar="AGENT", action="append", default=[], help="an agent's OpenClaw id or name, any case (repeatable, or comma-separated)")
    assign = actions.add_parser("assign", help="assign a task to agents", description="Set a task's assignees (and move an inbox task to assigned).")
    assign.add_argument("task", metavar="TASK", help="the task's id (see `tasks list`)")
    assign.add_argument("agents", metavar="AGENT", nargs="+", help="OpenClaw ids or names, any case: veda orin, or \"veda, Orin\"")
    move = actions.add_parser("move", help="move a task to a status", description="Move a task to another status.")
    move.add_argument("task", metavar="TASK")
    move.add_argument("status", choices=TASK_STATUSES)
    done = actions.add_parser("done", help="complete a task", description="Move a task to done.")
    done.add_argument("task", metavar="TASK")
    rm = actions.add_parser("rm", help="remove a task", description="Take a task off the board (audited as "
                            "task_removed; its messages stay). TASK is its id, the end of its id, or its exact title.")
    rm.add_argument("task", metavar="TASK")
    for a in (add, assign, move, done, rm):
        a.add_argument("--actor", default="operator", help="who did it, for the audit log (default: operator)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.action is None:
        raise CommandError("say what to do: list, add, assign, move, done or rm", hint="squad-console tasks --help",
                           code=EXIT_USAGE)
    try:
        return with_store(ctx, lambda store: ACTIONS[args.action](args, ctx, store))
    except usecases.TaskError as exc:  # a refused request is a usage error (exit 2)
        raise CommandError(exc.message, hint=exc.hint, code=EXIT_USAGE) from None


def _names(values: list[str]) -> list[str]:
    """`veda orin`, `"veda, Orin"` or `--assign veda --assign orin`: the names, in order."""
    return [n for v in values for n in usecases.split_names(v)]


def _list(args, ctx: Context, store) -> int:
    tasks = [t for t in store.list_tasks() if not args.status or t.status == args.status]
    names = {a.id: a.agent_id for a in store.list_agents()}
    if args.json:
        ctx.print(json.dumps([{"id": t.id, "title": t.title, "status": t.status,
                               "assignees": [names.get(i, i) for i in t.assignee_ids],
                               "updatedAt": t.updated_at} for t in tasks], indent=2))
        return EXIT_OK
    order = {s: i for i, s in enumerate(TASK_STATUSES)}
    rows = [["ID", "STATUS", "TITLE", "ASSIGNEES", "UPDATED"]]
    for t in sorted(tasks, key=lambda t: (order.get(t.status, 99), t.created_at)):
        rows.append([t.id, t.status, t.title[:60], ",".join(names.get(i, i) for i in t.assignee_ids) or "-",
                     when(t.updated_at or t.created_at)])
    table(rows, ctx.out)
    if len(rows) == 1:
        ctx.print("  (no tasks yet: squad-console tasks add \"...\")")
    return EXIT_OK


def _add(args, ctx: Context, store) -> int:
    task = usecases.create(store, args.title, args.description, _names(args.assign), actor=args.actor)
    ctx.print(f"{task.id}  {task.status}  {task.title}")
    return EXIT_OK


def _assign(args, ctx: Context, store) -> int:
    names = _names(args.agents)
    task = usecases.assign(store, usecases.resolve_task(store, args.task), names, actor=args.actor)
    ctx.print(f"{task.id}  {task.status}  assigned to {', '.join(names)}")
    return EXIT_OK


def _move(args, ctx: Context, store) -> int:
    task = usecases.move(store, usecases.resolve_task(store, args.task).id, args.status, actor=args.actor)
    ctx.print(f"{task.id}  {task.status}  {task.title}")
    return EXIT_OK


def _done(args, ctx: Context, store) -> int:
    task = usecases.done(store, usecases.resolve_task(store, args.task).id, actor=args.actor)
    ctx.print(f"{task.id}  done  {task.title}")
    return EXIT_OK


def _rm(args, ctx: Context, store) -> int:
    task = usecases.remove(store, usecases.resolve_task(store, args.task).id, actor=args.actor)
    ctx.print(f"{task.id}  removed  {task.title}")
    return EXIT_OK


ACTIONS = {"list": _list, "add": _add, "assign": _assign, "move": _move, "done": _done, "rm": _rm}

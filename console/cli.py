"""`squad-console` (also `python -m console`): the console by default, plus subcommands.

Exit codes: 0 success; 1 a runtime failure (store unreachable, key refused, a failed operation);
2 a usage or configuration error, or a subcommand that is not built yet.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TextIO

from console import __version__
from console.config import ConfigError, Settings, load_settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

# The subcommands that later issues build; each answers "not built yet" until then.
PLANNED: dict[str, tuple[str, str]] = {
    "heartbeat": ("heartbeat schedules, push beats and the cron commands that fix them", "heartbeat reliability"),
    "vault": ("the encrypted credential vault and the migration wizard", "credential security"),
    "pipeline": ("feeds, signals, surveys and go/no-go decisions", "revenue readiness"),
    "tasks": ("the task board: add, assign, move, done, list", "tasks and the audit log"),
    "audit": ("the activity log: list and export", "tasks and the audit log"),
    "service": ("the long-running collector daemon", "heartbeat reliability"),
    "check": ("one line per agent and the gateway, Nagios-style exit codes", "heartbeat reliability"),
}


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\n  try: {self.prog} --help")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="squad-console",
        description="Run a squad of OpenClaw agents from the terminal: registry, heartbeats, "
        "pipeline, tasks, audit log and the credential vault.",
    )
    parser.add_argument("--version", action="version", version=f"squad-console {__version__}")
    parser.add_argument("--config", metavar="PATH", help="squad.toml to read (default: $SQUAD_CONSOLE_CONFIG, ./squad.toml, then the user config folder)")
    parser.add_argument("--store", choices=("local", "convex"), help="which store to use (default: [store] kind, else local)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    agents = sub.add_parser("agents", help="the agent registry", description="The agent registry.")
    agents_sub = agents.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    agents_sub.add_parser("list", help="list the agents in the store and in squad.toml", description="List the agents the store holds, beside the ones squad.toml names.")
    sync = agents_sub.add_parser("sync", help="register the agents of squad.toml in the store (idempotent)", description="Register or update every agent of squad.toml in the store. Running it twice changes nothing the second time.")
    sync.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    imp = agents_sub.add_parser("import", help="import agents from openclaw.json (not built yet)", description="Import agents from OpenClaw's openclaw.json into the store.")
    imp.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    for name, (what, _) in PLANNED.items():
        p = sub.add_parser(name, help=f"{what} (not built yet)", description=f"{what[0].upper()}{what[1:]}. Not built yet.")
        p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(str(exc), file=err)
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)

    if args.command in PLANNED:
        return _not_built(f"squad-console {args.command}", PLANNED[args.command][1], err)
    if args.command == "agents" and args.action == "import":
        return _not_built("squad-console agents import", "heartbeat reliability", err)

    from console.service.store import StoreError

    try:
        settings = load_settings(args.config, store_kind=args.store)
        if args.command == "agents":
            return _agents(args, settings, out)
        return _overview(settings, out)
    except ConfigError as exc:
        print(f"squad-console: config error: {exc}", file=err)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"squad-console: {exc.describe()}", file=err)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130


def _not_built(what: str, issue: str, err: TextIO) -> int:
    print(f"{what}: not built yet (it comes with the {issue} work); see `squad-console --help`", file=err)
    return EXIT_USAGE


def _with_store(settings: Settings, fn: Callable) -> int:
    from console.stores import open_store

    store = open_store(settings.store)
    try:
        return fn(store)
    finally:
        store.close()


def _when(ms: float | None) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _table(rows: list[list[str]], out: TextIO) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip(), file=out)


def _agents(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from console.service.models import AgentSpec

    def run(store) -> int:
        if args.action == "sync":
            known = {a.agent_id: a for a in store.list_agents()}
            for a in settings.agents:
                spec = AgentSpec(a.id, a.name, a.role, workspace=a.workspace, heartbeat=a.heartbeat, tz=a.tz, grace_seconds=a.grace)
                if args.dry_run:
                    print(f"  {a.id}: {'would update' if a.id in known else 'would register'}", file=out)
                    continue
                _, created, changed = store.upsert_agent(spec)
                print(f"  {a.id}: {'registered' if created else 'updated' if changed else 'unchanged'}", file=out)
            return EXIT_OK
        # list (the default action)
        stored = {a.agent_id: a for a in store.list_agents()}
        rows = [["ID", "NAME", "ROLE", "STATUS", "HEARTBEAT", "IN"]]
        for a in settings.agents:
            s = stored.pop(a.id, None)
            rows.append([a.id, a.name, a.role, s.status if s else "-", a.heartbeat, "store+config" if s else "config"])
        for s in stored.values():
            rows.append([s.agent_id, s.name, s.role, s.status, s.heartbeat or "-", "store"])
        _table(rows, out)
        return EXIT_OK

    return _with_store(settings, run)


def _overview(settings: Settings, out: TextIO) -> int:
    """Until the full-screen console exists, `squad-console` prints the squad's snapshot."""

    def run(store) -> int:
        snap = store.snapshot(None, limit=5)
        print(f"squad-console {__version__} · store: {store.describe()} · config: {settings.source or 'built-in seed squad'}", file=out)
        agents = {a.agent_id: a for a in snap.agents or ()}
        print(f"\nAgents ({len([a for a in settings.agents if a.id in agents])}/{len(settings.agents)} registered)", file=out)
        rows = [["ID", "NAME", "ROLE", "STATUS", "HEARTBEAT"]]
        for a in settings.agents:
            s = agents.get(a.id)
            rows.append([a.id, a.name, a.role, s.status if s else "not registered", a.heartbeat])
        _table(rows, out)
        if len(agents) < len(settings.agents):
            print("  register them with: squad-console agents sync", file=out)
        tasks = snap.tasks or ()
        counts: dict[str, int] = {}
        for t in tasks:
            counts[t.status] = counts.get(t.status, 0) + 1
        print(f"\nTasks: {len(tasks)}" + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")" if counts else ""), file=out)
        print("\nLatest activity", file=out)
        if not snap.activities:
            print("  (none yet)", file=out)
        for act in reversed(snap.activities):
            print(f"  {_when(act.created_at)}  {act.type:<18} {act.message}", file=out)
        print("\nThe full-screen console is not built yet; `squad-console --help` lists the commands.", file=out)
        return EXIT_OK

    return _with_store(settings, run)

"""`squad-console` (also `python -m console`): the console by default, plus subcommands.

Exit codes: 0 success; 1 a runtime failure (store unreachable, key refused, a failed operation);
2 a usage or configuration error, or a subcommand that is not built yet.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from console import __version__
from console.config import ConfigError, load_settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

# The subcommands that later issues build; each answers "not built yet" until then.
PLANNED: dict[str, tuple[str, str]] = {
    "vault": ("the encrypted credential vault and the migration wizard", "credential security"),
    "pipeline": ("feeds, signals, surveys and go/no-go decisions", "revenue readiness"),
    "tasks": ("the task board: add, assign, move, done, list", "tasks and the audit log"),
    "audit": ("the activity log: list and export", "tasks and the audit log"),
}
BUILT = ("agents", "heartbeat", "service", "check")


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
    for name in BUILT:
        _command_module(name).register(sub)
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

    from console.commands import CommandError, Context
    from console.service.store import StoreError

    try:
        settings = load_settings(args.config, store_kind=args.store)
        ctx = Context(settings, out, err, dict(os.environ))
        if args.command in BUILT:
            return _command_module(args.command).run(args, ctx)
        return _overview(ctx)
    except ConfigError as exc:
        print(f"squad-console: config error: {exc}", file=err)
        return 3 if args.command == "check" else EXIT_USAGE
    except StoreError as exc:
        print(f"squad-console: {exc.describe()}", file=err)
        return 3 if args.command == "check" else EXIT_FAIL
    except CommandError as exc:
        print(f"squad-console: {exc}" + (f"\n  fix: {exc.hint}" if exc.hint else ""), file=err)
        return exc.code
    except KeyboardInterrupt:
        return 130


def _command_module(name: str):
    return importlib.import_module(f"console.commands.{name}")


def _not_built(what: str, issue: str, err: TextIO) -> int:
    print(f"{what}: not built yet (it comes with the {issue} work); see `squad-console --help`", file=err)
    return EXIT_USAGE


def _overview(ctx) -> int:
    """Until the full-screen console exists, `squad-console` prints the squad's snapshot."""
    from console.commands import table, when, with_store

    settings, out = ctx.settings, ctx.out

    def run(store) -> int:
        snap = store.snapshot(None, limit=5)
        print(f"squad-console {__version__} · store: {store.describe()} · config: {settings.source or 'built-in seed squad'}", file=out)
        agents = {a.agent_id: a for a in snap.agents or ()}
        print(f"\nAgents ({len([a for a in settings.agents if a.id in agents])}/{len(settings.agents)} registered)", file=out)
        rows = [["ID", "NAME", "ROLE", "STATUS", "HEARTBEAT"]]
        for a in settings.agents:
            s = agents.get(a.id)
            rows.append([a.id, a.name, a.role, s.status if s else "not registered", a.heartbeat])
        table(rows, out)
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
            print(f"  {when(act.created_at)}  {act.type:<18} {act.message}", file=out)
        print("\nThe full-screen console is not built yet; `squad-console --help` lists the commands.", file=out)
        return EXIT_OK

    return with_store(ctx, run)

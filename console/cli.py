"""`squad-console` (also `python -m console`): the console by default, plus subcommands.

Exit codes: 0 success; 1 a runtime failure (store unreachable, key refused, a failed operation);
2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from console import __version__
from console.config import ConfigError, load_settings
from console.errors import ConsoleError
from console.text import json_line, visible

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

BUILT = ("agents", "heartbeat", "service", "check", "vault", "tasks", "audit", "serve", "pipeline")


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
    parser.add_argument("--demo", action="store_true", help="open the console on a throwaway store holding a generated week of the seed's squad")
    parser.add_argument("--color", choices=("auto", "truecolor", "256", "16", "none"), default="auto",
                        help="colours: auto keeps truecolor over SSH (which drops COLORTERM); 256, 16 or none to force")
    parser.add_argument("--text", action="store_true", help="print the squad's snapshot as text instead of opening the console")
    parser.add_argument("--tui", action="store_true",
                        help="open the full-screen console even when standard output is not a terminal "
                        "(how `serve` starts it for each browser session)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in BUILT:
        _command_module(name).register(sub)
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

    from console.commands import CommandError, Context

    demo = None
    try:
        if args.demo:
            demo = _start_demo()
        settings = load_settings(args.config, store_kind="local" if args.demo else args.store)
        ctx = Context(settings, out, err, dict(os.environ))
        if args.demo and args.command == "check":
            args.no_gateway = True  # the demo has no gateway to probe, as on its screens: one story
        if args.command in BUILT:
            return _command_module(args.command).run(args, ctx)
        if args.text or not (args.tui or (out.isatty() and sys.stdin.isatty())):
            return _overview(ctx)
        return _tui(ctx, args.color)
    except ConsoleError as exc:  # the one error root: a cause in words and the fix, no traceback
        if args.command == "check" and getattr(args, "json", False):
            # a monitor reading `check --json` gets JSON whatever failed (Nagios UNKNOWN = 3)
            print(json_line({"status": "unknown", "exit": 3, "error": {
                "kind": exc.kind, "code": exc.code, "message": str(exc), "hint": exc.hint}}), file=out)
        if isinstance(exc, ConfigError):
            print(visible(f"squad-console: config error: {exc.describe()}", multiline=True), file=err)
            return 3 if args.command == "check" else EXIT_USAGE
        print(visible(f"squad-console: {exc.describe()}", multiline=True), file=err)
        if isinstance(exc, CommandError):
            return exc.exit_code
        return 3 if args.command == "check" else EXIT_FAIL
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `squad-console audit export | head`: the reader left, nothing to say
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter's final flush quiet
        except OSError:
            pass
        return 141
    finally:
        if demo is not None:
            demo_dir, saved_env = demo
            demo_dir.cleanup()
            os.environ.clear()
            os.environ.update(saved_env)


DEMO_PREFIX = "squad-console-demo-"


def sweep_demo_folders(tmp: Path) -> list[Path]:
    """Removes the folders of earlier demos whose process is gone without cleaning up (a closed
    terminal or a killed tmux sends no chance to): only our own folders, each naming its demo's
    pid, and only when that process no longer exists. Returns what was removed."""
    import shutil

    removed = []
    for folder in tmp.glob(DEMO_PREFIX + "*"):
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            pid = int((folder / "pid").read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            continue  # not ours to judge: no pid written (an older console's, or still being made)
        try:
            os.kill(pid, 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # a live process of someone else
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _start_demo():
    """Build the demo squad in a temporary folder and point this process at it."""
    import tempfile
    import time

    from console.service.demo import build_demo

    saved_env = dict(os.environ)
    sweep_demo_folders(Path(tempfile.gettempdir()))
    tmp = tempfile.TemporaryDirectory(prefix=DEMO_PREFIX)
    (Path(tmp.name) / "pid").write_text(str(os.getpid()), encoding="ascii")  # for the next demo's sweep
    built = build_demo(Path(tmp.name) / "demo", time.time() * 1000)
    # what would point the demo elsewhere (the operator's own Convex or OpenClaw) is set aside
    for var in ("OPENCLAW_CONFIG_PATH", "OPENCLAW_GATEWAY_PORT", "OPENCLAW_GATEWAY_TOKEN", "CONVEX_URL",
                "CONVEX_DEPLOY_KEY"):
        os.environ.pop(var, None)
    os.environ.update(built.env)
    os.environ["SQUAD_CONSOLE_DEMO"] = "1"
    return tmp, saved_env


def color_environment(env: dict[str, str], choice: str) -> dict[str, str]:
    """What to set so Textual picks the right colour system. OpenSSH forwards TERM but not
    COLORTERM, so over SSH a truecolor terminal falls back to 256 colours; `auto` restores
    truecolor when TERM says 256 colours and COLORTERM was dropped. NO_COLOR always wins."""
    if "NO_COLOR" in env or choice == "none":
        return {"NO_COLOR": "1"}
    if choice == "truecolor":
        return {"COLORTERM": "truecolor", "TEXTUAL_COLOR_SYSTEM": "truecolor"}
    if choice == "256":
        return {"TEXTUAL_COLOR_SYSTEM": "256"}
    if choice == "16":
        return {"TEXTUAL_COLOR_SYSTEM": "standard"}
    term = env.get("TERM", "")
    if not env.get("COLORTERM") and (term.endswith("256color") or term.endswith("-direct")):
        return {"COLORTERM": "truecolor"}
    return {}


def _tui(ctx, color: str) -> int:
    # before Textual is imported: it reads the colour system once, at import
    os.environ.update(color_environment(dict(os.environ), color))
    from console.app import SquadApp, binding_ids
    from console.config import check_keys
    from console.service.wiring import open_store

    if ctx.settings.keys:
        check_keys(ctx.settings, binding_ids())
    demo = os.environ.get("SQUAD_CONSOLE_DEMO") == "1"
    # the store opens with the first poll, after the first frame; the demo reads its own OpenClaw
    # files, never a real `openclaw` CLI on PATH, and has no gateway to probe
    story = None
    if demo:  # the demo squad beats on while the console is open (the story stays coherent)
        from console.service.demo import continue_story

        def story(store, now_ms: float) -> None:
            continue_story(store, now_ms, ctx.settings.agents)

    app = SquadApp(ctx.settings, lambda: open_store(ctx.settings.store), env=dict(os.environ),
                   openclaw_runner=None if demo else "auto", probe_gateway=not demo, demo_story=story)
    try:
        app.run()
    finally:
        if app._store is not None:
            app._store.close()
    return EXIT_OK


def _command_module(name: str):
    return importlib.import_module(f"console.commands.{name}")


def _overview(ctx) -> int:
    """The squad's snapshot as text: `--text`, or when standard output is not a terminal."""
    from console.commands import table, when, with_store

    settings, out = ctx.settings, ctx.out  # ctx.print shows outside text as text (console/text.py)

    def run(store) -> int:
        snap = store.snapshot(None, limit=5)
        ctx.print(f"squad-console {__version__} · store: {store.describe()} · config: {settings.source or 'built-in seed squad'}")
        agents = {a.agent_id: a for a in snap.agents or ()}
        others = len([a for a in agents if a not in {c.id for c in settings.agents}])
        ctx.print(f"\nAgents ({len([a for a in settings.agents if a.id in agents])}/{len(settings.agents)} registered)"
                  + (f" and {others} more in the store (imported)" if others else ""))
        rows = [["ID", "NAME", "ROLE", "STATUS", "HEARTBEAT"]]
        for a in settings.agents:
            s = agents.get(a.id)
            rows.append([a.id, a.name, a.role, s.status if s else "not registered", a.heartbeat])
        configured = {a.id for a in settings.agents}
        for s in sorted(agents.values(), key=lambda x: x.agent_id):  # imported or synced from elsewhere
            if s.agent_id not in configured:
                rows.append([s.agent_id, s.name, s.role, s.status, s.heartbeat or "-"])
        table(rows, out)
        if len(agents) < len(settings.agents):
            ctx.print("  register them with: squad-console agents sync")
        tasks = snap.tasks or ()
        counts: dict[str, int] = {}
        for t in tasks:
            counts[t.status] = counts.get(t.status, 0) + 1
        ctx.print(f"\nTasks: {len(tasks)}" + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")" if counts else ""))
        ctx.print("\nLatest activity")
        if not snap.activities:
            ctx.print("  (none yet)")
        for act in reversed(snap.activities):
            ctx.print(f"  {when(act.created_at)}  {visible(act.type):<18} {visible(act.message)}")
        ctx.print("\nRun `squad-console` in a terminal for the full-screen console; `squad-console --help` lists the commands.")
        return EXIT_OK

    return with_store(ctx, run)

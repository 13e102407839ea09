"""`squad-console serve`: the console in a browser through textual-serve, on loopback only.

textual-serve has no authentication of its own: whoever reaches the port drives the console. So it
binds to 127.0.0.1 (or ::1) and nothing else; reach it from a laptop through an SSH tunnel."""

from __future__ import annotations

import argparse
import shlex
import sys

from console.commands import EXIT_OK, EXIT_USAGE, CommandError, Context

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the console in a browser (textual-serve), on 127.0.0.1 only",
                       description="Serve the console to a browser through textual-serve, bound to the loopback "
                       "address only: it has no authentication of its own. From your laptop: "
                       "ssh -L 8000:127.0.0.1:8000 you@server, then open http://127.0.0.1:8000.")
    p.add_argument("--port", type=int, default=8000, help="the loopback port (default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (default) or ::1; nothing else is allowed")


def console_command(argv_config: str | None, store: str | None) -> str:
    """The command textual-serve starts for each browser session: this console, same settings."""
    parts = [sys.executable, "-m", "console"]
    if argv_config:
        parts += ["--config", argv_config]
    if store:
        parts += ["--store", store]
    return shlex.join(parts)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.host not in LOOPBACK:
        raise CommandError(
            f"serve binds to the loopback address only, not {args.host!r}: textual-serve has no authentication",
            hint=f"use the default 127.0.0.1 and an SSH tunnel: ssh -L {args.port}:127.0.0.1:{args.port} you@server",
            code=EXIT_USAGE,
        )
    if not 1 <= args.port <= 65535:
        raise CommandError(f"--port {args.port} is not a port number", code=EXIT_USAGE)
    from textual_serve.server import Server

    config = str(ctx.settings.source) if ctx.settings.source else None
    command = console_command(config, ctx.settings.store.kind)
    ctx.warn("squad-console serve: WARNING: no authentication of its own. Anyone who can reach "
             f"{args.host}:{args.port} drives the console. Reach it through an SSH tunnel:\n"
             f"  ssh -L {args.port}:127.0.0.1:{args.port} you@this-server   then open http://127.0.0.1:{args.port}")
    ctx.err.flush()
    Server(command, host=args.host, port=args.port, title="squad-console").serve()
    return EXIT_OK

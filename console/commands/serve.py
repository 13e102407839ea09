"""`squad-console serve`: the console in a browser through textual-serve, for the operator only.

textual-serve has no authentication of its own: whoever reaches its port, or any web page the
operator's browser opens, could drive the console (with the operator's vault). So this server:
- binds to 127.0.0.1 (or ::1) and nothing else; reach it through an SSH tunnel;
- makes a fresh random token at every start and prints the URL carrying it (as Jupyter does):
  the page needs it (`/?token=…`) and so does the WebSocket that drives the console (`/ws/<token>`);
- accepts a request only for a loopback Host (a DNS-rebound name is refused), and a WebSocket only
  from the page's own origin (`Origin` = `http://<Host>`), so another site's page gets nothing;
- starts one console per browser session with `--tui` (its stdio is a pipe, not a terminal).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import secrets
import shlex
import sys
from typing import Any

from console.commands import EXIT_OK, EXIT_USAGE, CommandError, Context

LOOPBACK = ("127.0.0.1", "::1", "localhost")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the console in a browser (textual-serve), on 127.0.0.1 only, behind a token",
                       description="Serve the console to a browser through textual-serve, bound to the loopback "
                       "address only and guarded by a fresh token printed at start (the page and its WebSocket "
                       "need it; other origins are refused). From your laptop: "
                       "ssh -L 8000:127.0.0.1:8000 you@server, then open the printed http://127.0.0.1:8000/?token=… URL.")
    p.add_argument("--port", type=int, default=8000, help="the loopback port (default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (default) or ::1; nothing else is allowed")


def console_command(argv_config: str | None, store: str | None) -> str:
    """The command textual-serve starts for each browser session: this console, same settings."""
    parts = [sys.executable, "-m", "console"]
    if argv_config:
        parts += ["--config", argv_config]
    if store:
        parts += ["--store", store]
    parts.append("--tui")  # the session's stdio are pipes: without it the console prints the text snapshot
    return shlex.join(parts)


def host_is_loopback(host_header: str | None) -> bool:
    """`127.0.0.1:8000`, `localhost:8000`, `[::1]:8000` (any port: a tunnel may map another one)."""
    if not host_header:
        return False
    name = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    return name.lower() in LOOPBACK_HOSTS


def same_origin(origin: str | None, host_header: str | None) -> bool:
    return bool(origin) and bool(host_header) and origin == f"http://{host_header}"


def token_matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def make_server(command: str, host: str, port: int, token: str):
    """A textual-serve Server that only the holder of `token`, on the page's own origin, can use."""
    import aiohttp_jinja2
    import jinja2
    from aiohttp import web
    from textual_serve.server import Server, to_int

    class OperatorServer(Server):
        async def _make_app(self) -> web.Application:
            app = web.Application(middlewares=[self._guard])
            aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
            app.add_routes([
                web.get("/", self.handle_index, name="index"),
                web.get("/ws/{token}", self.handle_websocket, name="websocket"),
                web.static("/static", self.statics_path, show_index=False, name="static"),
            ])
            app.on_startup.append(self.on_startup)
            app.on_shutdown.append(self.on_shutdown)
            return app

        @web.middleware
        async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
            if not host_is_loopback(request.headers.get("Host")):
                return web.Response(status=403, text="squad-console serve answers loopback addresses only\n")
            if request.path == "/":
                if not token_matches(request.query.get("token"), token):
                    return web.Response(status=403, text="this console needs its token: open the URL that "
                                        "`squad-console serve` printed when it started (…/?token=…)\n")
            elif request.path.startswith("/ws/"):
                if not token_matches(request.match_info.get("token"), token):
                    return web.Response(status=403, text="wrong or missing token\n")
                if not same_origin(request.headers.get("Origin"), request.headers.get("Host")):
                    return web.Response(status=403, text="a console session is opened by its own page only\n")
            elif not request.path.startswith("/static/"):
                return web.Response(status=404, text="not found\n")
            return await handler(request)

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            # URLs from the Host the browser used (an SSH tunnel may map another port), never absolute
            # to the bind address; the WebSocket path carries the token
            return {
                "font_size": to_int(request.query.get("fontsize", "16"), 16),
                "app_websocket_url": f"ws://{request.host}/ws/{token}",
                "config": {"static": {"url": f"http://{request.host}/static/"}},
                "application": {"name": self.title},
            }

        async def on_startup(self, app: web.Application) -> None:  # the caller prints the URL (with the token)
            return None

        def initialize_logging(self) -> None:
            super().initialize_logging()
            # aiohttp's access log would print every request line, the token with it
            logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    return OperatorServer(command, host=host, port=port, title="squad-console")


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.host not in LOOPBACK:
        raise CommandError(
            f"serve binds to the loopback address only, not {args.host!r}: the token is its only guard",
            hint=f"use the default 127.0.0.1 and an SSH tunnel: ssh -L {args.port}:127.0.0.1:{args.port} you@server",
            code=EXIT_USAGE,
        )
    if not 1 <= args.port <= 65535:
        raise CommandError(f"--port {args.port} is not a port number", code=EXIT_USAGE)

    config = str(ctx.settings.source) if ctx.settings.source else None
    command = console_command(config, ctx.settings.store.kind)
    token = secrets.token_urlsafe(32)
    server = make_server(command, args.host, args.port, token)
    shown_host = "[::1]" if args.host == "::1" else "127.0.0.1"
    ctx.warn(f"squad-console serve: the console is at  http://{shown_host}:{args.port}/?token={token}\n"
             "  Keep this URL to yourself: the token is the only guard (a fresh one at every start). The page and its\n"
             "  WebSocket need it, other sites' pages are refused, and only loopback addresses are answered.\n"
             "  From your laptop, through an SSH tunnel:\n"
             f"  ssh -L {args.port}:127.0.0.1:{args.port} you@this-server   then open the URL above")
    ctx.err.flush()
    try:
        server.serve()
    except OSError as exc:  # the port is taken, or the address cannot be bound
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                           hint="another program uses that port: pick another with --port") from None
    return EXIT_OK

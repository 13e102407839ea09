"""`squad-console serve`, for the operator only: loopback, a fresh token in the printed URL for the
page and the WebSocket, the page's own origin only; the console really runs in the browser session
(Debian's chromium, headless, driven over the DevTools protocol)."""

from __future__ import annotations

import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from console.commands.serve import host_is_loopback, same_origin
from tests.cdp import Browser

ANSI = re.compile(r"\x1b(?:\[[0-9;?<=>]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][A-Za-z0-9]|[=>78])")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as the kernel lists them) with a socket listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                found.add(address)
    return found


class Served:
    def __init__(self, proc: subprocess.Popen, port: int, url: str, token: str, err: list[str]) -> None:
        self.proc, self.port, self.url, self.token, self.err = proc, port, url, token, err
        self.base = f"http://127.0.0.1:{port}"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    env = {**os.environ, "SQUAD_CONSOLE_DB": str(tmp_path / "squad.db"), "OPENCLAW_STATE_DIR": str(tmp_path / "oc"),
           "SQUAD_CONSOLE_KEYRING": "off"}
    proc = subprocess.Popen([sys.executable, "-m", "console", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "?token=" in line:
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert found.wait(30), "serve never printed its URL:\n" + "".join(lines)
        url = re.search(r"(http://127\.0\.0\.1:\d+/\?token=([A-Za-z0-9_-]+))", "".join(lines))
        assert url, "".join(lines)
        deadline = time.monotonic() + 30
        while True:  # until the server answers (it prints the URL just before it binds)
            try:
                httpx.get(f"http://127.0.0.1:{port}/static/css/xterm.css", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve never answered"
                time.sleep(0.05)
        yield Served(proc, port, url.group(1), url.group(2), lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serve_on_loopback_with_a_token(served: Served) -> None:
    assert listening_addresses(served.port) == {"0100007F"}  # 127.0.0.1, and no other address
    err = "".join(served.err)
    assert "Keep this URL to yourself" in err and f"ssh -L {served.port}:127.0.0.1:{served.port}" in err
    assert len(served.token) >= 40
    page = httpx.get(served.url, timeout=10)
    assert page.status_code == 200 and "squad-console" in page.text
    assert f'ws://127.0.0.1:{served.port}/ws/{served.token}' in page.text
    for bad in (served.base + "/", served.base + "/?token=", served.base + "/?token=" + served.token[:-1] + "x"):
        refused = httpx.get(bad, timeout=10)
        assert refused.status_code == 403 and "token" in refused.text and served.token not in refused.text
    # a DNS-rebound name pointing at 127.0.0.1 is not this console's host
    rebound = httpx.get(served.url, headers={"Host": f"evil.example:{served.port}"}, timeout=10)
    assert rebound.status_code == 403
    assert httpx.get(served.base + "/download/x", timeout=10).status_code == 404
    # the access log would have printed the token with every request line
    assert served.token not in "".join(served.err).replace(served.url, "")


def test_serve_token_differs_at_every_start(tmp_path: Path, served: Served) -> None:
    other = subprocess.run([sys.executable, "-m", "console", "serve", "--port", str(served.port)],
                           capture_output=True, text=True, timeout=30,
                           env={**os.environ, "SQUAD_CONSOLE_DB": str(tmp_path / "other.db")})
    # the port is taken, so this one fails, but it printed its own, different token first
    tokens = re.findall(r"\?token=([A-Za-z0-9_-]+)", other.stderr)
    assert tokens and tokens[0] != served.token


async def _ws_status(url: str, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


async def test_the_websocket_needs_the_token_and_the_pages_origin(served: Served) -> None:
    ws = f"ws://127.0.0.1:{served.port}/ws/"
    own = {"Origin": served.base}
    assert await _ws_status(ws + "nope", own) == 403
    assert await _ws_status(ws + served.token, {"Origin": "http://evil.example"}) == 403
    assert await _ws_status(ws + served.token, {"Origin": f"http://localhost:{served.port + 1}"}) == 403
    assert await _ws_status(ws + served.token, {}) == 403  # no Origin: not a browser page of ours


def test_origin_and_host_rules() -> None:
    assert host_is_loopback("127.0.0.1:8000") and host_is_loopback("localhost:9000") and host_is_loopback("[::1]:8000")
    assert not host_is_loopback("evil.example:8000") and not host_is_loopback(None) and not host_is_loopback("127.0.0.2:1")
    assert same_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert not same_origin("http://127.0.0.1:8001", "127.0.0.1:8000") and not same_origin(None, "127.0.0.1:8000")


@pytest.fixture
def other_origin(served: Served) -> Iterator[str]:
    """A page on another loopback port that knows the token and tries to open the console."""
    page = f"""<!doctype html><title>waiting</title><script>
      const ws = new WebSocket("ws://127.0.0.1:{served.port}/ws/{served.token}?width=80&height=24");
      ws.onopen = () => {{ document.title = "opened"; }};
      ws.onerror = () => {{ document.title = "refused"; }};
    </script>""".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


async def test_in_a_real_browser_the_console_runs_for_its_page_only(served: Served, other_origin: str) -> None:
    browser = Browser()
    try:
        await browser.start()
        # the operator's page: the console starts in the session and draws the overview
        await browser.navigate(served.url)
        await browser.wait_for(lambda b: all(t in ANSI.sub("", b.websocket_text())
                                             for t in ("Success criteria", "Agents registered", "q Quit")),
                               "the console's overview in the page", deadline=60)
        assert 101 in browser.handshakes()

        # a page from another origin that knows the token: refused before any console starts
        browser.events.clear()
        await browser.navigate(other_origin)
        title = await browser.wait_for(
            lambda b: b.evaluate("document.title === 'waiting' ? '' : document.title"), "the other page's verdict")
        assert title == "refused"
        assert 101 not in browser.handshakes()
        assert "Success criteria" not in ANSI.sub("", browser.websocket_text())

        # the page without the token: no console
        browser.events.clear()
        await browser.navigate(served.base + "/")
        body = await browser.wait_for(lambda b: b.evaluate("document.body ? document.body.innerText : ''"),
                                      "the refusal page")
        assert "needs its token" in body
        assert not [e for e in browser.events if e["method"] == "Network.webSocketCreated"]
    finally:
        await browser.close()


def test_serve_refuses_a_public_address() -> None:
    p = subprocess.run([sys.executable, "-m", "console", "serve", "--host", "0.0.0.0"], capture_output=True, text=True)
    assert p.returncode == 2 and "loopback address only" in p.stderr and "ssh -L" in p.stderr
    assert "Traceback" not in p.stderr

"""A small Chrome DevTools Protocol client for the browser tests: Debian's chromium, headless,
driven over its DevTools WebSocket with aiohttp (already installed: textual-serve uses it)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.waiting import wait_until

# Without the background-networking flags chromium keeps trying hosts this machine cannot reach.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--mute-audio", "--remote-debugging-port=0", "--remote-allow-origins=*"]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("the browser tests need Debian's chromium: run `make test` (it installs it)")


class Browser:
    """One headless chromium, one page; events collected per page session."""

    def __init__(self) -> None:
        self.profile = tempfile.TemporaryDirectory(prefix="squad-console-chromium-")
        self.proc = subprocess.Popen([chromium_path(), *FLAGS, f"--user-data-dir={self.profile.name}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    async def start(self, deadline: float = 30.0) -> None:
        port_file = Path(self.profile.name) / "DevToolsActivePort"
        end = time.monotonic() + deadline
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > end or self.proc.poll() is not None:
                raise AssertionError("chromium did not open its DevTools port")
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        self.session = attached["sessionId"]
        await self.send("Network.enable", session=True)
        await self.send("Page.enable", session=True)
        await self.send("Runtime.enable", session=True)

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._pending:
                self._pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)
                self._changed.set()

    async def send(self, method: str, params: dict | None = None, *, session: bool = False) -> dict[str, Any]:
        msg_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        await self.ws.send_str(json.dumps(msg))
        reply = await asyncio.wait_for(fut, 30)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url}, session=True)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        return result.get("result", {}).get("value")

    async def wait_for(self, predicate, what: str, deadline: float = 30.0) -> Any:
        """Wait until `predicate(self)` (sync or async) returns something truthy, or fail naming `what`."""
        end = time.monotonic() + deadline
        while True:
            value = predicate(self)
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if time.monotonic() > end:
                raise AssertionError(f"the browser never showed {what}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), 0.2)
            except asyncio.TimeoutError:
                pass

    def websocket_text(self) -> str:
        """Everything the page's WebSockets received, decoded (the console's terminal output)."""
        parts = []
        for e in self.events:
            if e["method"] == "Network.webSocketFrameReceived":
                r = e["params"]["response"]
                payload = r.get("payloadData", "")
                parts.append(base64.b64decode(payload).decode("utf-8", "replace") if r.get("opcode") == 2 else payload)
        return "".join(parts)

    def handshakes(self) -> list[int]:
        return [e["params"]["response"]["status"] for e in self.events
                if e["method"] == "Network.webSocketHandshakeResponseReceived"]

    async def close(self) -> None:
        try:
            if hasattr(self, "ws"):
                await self.ws.close()
                self._reader.cancel()
                await self.http.close()
        finally:
            # the whole process group (renderer, zygote, crash handler write to the profile too),
            # gone before its profile is removed: a loaded machine is still writing there otherwise
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=20)
            wait_until(lambda: not _group_alive(self.proc.pid), "chromium's processes to end")
            self.profile.cleanup()


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (a zombie waiting for its reaper does not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False

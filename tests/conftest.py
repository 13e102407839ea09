"""Shared fixtures: the two stores of the contract, and the convex-test server behind real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.service.store.convex import ConvexStore
from console.service.store.sqlite import LocalStore

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "test-deployment|c3F1YWQtY29uc29sZS10ZXN0LWtleQ=="  # only ever valid for the test server


# The suite runs on two xdist workers (`-n 2 --dist loadgroup`, pyproject). A fixture wider than
# a test is built once per worker that needs it, so the tests sharing one stay on one worker:
# every test of the session's real gateway in the group "real_openclaw" (one gateway, whichever
# file the test is in), and every test using a module-scoped fixture in its module's group (the
# fixture built once, its tests in file order). A fixed path outside tmp_path needs its own
# `xdist_group` mark (tests/test_snapshots.py). The convex-test server is cheap: one per worker.
SHARED_SESSION_FIXTURES = ("real_openclaw",)


def xdist_group_of(item: pytest.Item) -> str | None:
    """The group a test joins by the fixtures it uses, or None (any worker)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for name in SHARED_SESSION_FIXTURES:
        if name in info.name2fixturedefs:
            return name
    if any(d.scope in ("module", "class", "package") for defs in info.name2fixturedefs.values() for d in defs):
        return item.nodeid.split("::")[0]
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks into the test ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is None and (group := xdist_group_of(item)):
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real user folders or picks up a stray squad.toml."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    for var in ("SQUAD_CONSOLE_CONFIG", "SQUAD_CONSOLE_DB", "CONVEX_URL", "CONVEX_DEPLOY_KEY",
                "OPENCLAW_STATE_DIR", "OPENCLAW_CONFIG_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


class ConvexTestServer:
    """`convex/testing/server.ts`: the project's own Convex functions run by convex-test,
    behind Convex's HTTP wire format on a free loopback port."""

    def __init__(self, port: int = 0, *, meter: bool = False) -> None:
        node = shutil.which("node")
        if node is None or not (ROOT / "node_modules" / "tsx").is_dir():
            pytest.fail("the Convex suites need Node and node_modules: run `make test` (it runs npm ci)")
        self.proc = subprocess.Popen(
            [node, "--import", "tsx", "convex/testing/server.ts", "--port", str(port), "--key", ADMIN_KEY,
             *(["--meter"] if meter else [])],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().strip()
        if not first.startswith("listening "):
            rest = self.proc.stdout.read() if self.proc.poll() is not None else ""
            self.stop()
            pytest.fail(f"the convex-test server did not start: {first}\n{rest}")
        self.port = int(first.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.output: list[str] = []
        # keep draining stdout: console.log inside functions goes there
        threading.Thread(target=self._drain, daemon=True).start()
        self.http = httpx.Client(base_url=self.url, timeout=10, headers={"Authorization": f"Convex {ADMIN_KEY}"})

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def reset(self) -> None:
        self.http.post("/_test/reset").raise_for_status()

    def insert(self, table: str, doc: dict[str, Any]) -> str:
        r = self.http.post("/_test/insert", json={"table": table, "doc": doc})
        r.raise_for_status()
        return r.json()["id"]

    def patch(self, doc_id: str, fields: dict[str, Any]) -> None:
        self.http.post("/_test/patch", json={"id": doc_id, "fields": fields}).raise_for_status()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def convex_server() -> Iterator[ConvexTestServer]:
    server = ConvexTestServer()
    yield server
    server.http.close()
    server.stop()


# Mission Control's documents, as its own agents write them (camelCase, no console fields).
LOCAL_COLUMNS = {
    "agents": {"name": "name", "role": "role", "status": "status", "sessionKey": "session_key",
               "currentTaskId": "current_task_id", "level": "level", "agentId": "agent_id"},
    "tasks": {"title": "title", "description": "description", "status": "status", "assigneeIds": "assignee_ids"},
    "messages": {"taskId": "task_id", "fromAgentId": "from_agent_id", "content": "content", "attachments": "attachments"},
    "activities": {"type": "type", "agentId": "agent_id", "message": "message", "targetId": "target_id"},
}


def local_raw_insert(store: LocalStore, table: str, doc: dict[str, Any]) -> str:
    """Write a row straight into SQLite, the way another writer would: no activity, no counters
    kept by the console's code (the triggers still run)."""
    from console.service.store.sqlite import PREFIX
    from console.service.store.sqlite.connection import now_ms as _now_ms

    cols = {LOCAL_COLUMNS[table][k]: (json.dumps(v) if isinstance(v, list) else v) for k, v in doc.items()}
    cols["created_at"] = _now_ms()
    with store._write() as db:
        cur = db.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", tuple(cols.values())
        )
        return f"{PREFIX[table]}{cur.lastrowid}"


def local_raw_patch(store: LocalStore, table: str, doc_id: str, fields: dict[str, Any]) -> None:
    from console.service.store.sqlite import seq_of as _seq

    cols = {LOCAL_COLUMNS[table][k]: (json.dumps(v) if isinstance(v, list) else v) for k, v in fields.items()}
    with store._write() as db:
        db.execute(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in cols)} WHERE seq = ?",
                   (*cols.values(), _seq(table, doc_id)))


class StoreUnderTest:
    """A store plus a way to write rows behind its back, as Mission Control's agents do."""

    def __init__(self, kind: str, store: Any, raw_insert: Callable[[str, dict[str, Any]], str],
                 raw_patch: Callable[[str, str, dict[str, Any]], None]):
        self.kind = kind
        self.store = store
        self.raw_insert = raw_insert
        self.raw_patch = raw_patch


@pytest.fixture(params=["local", "convex"])
def sut(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    if request.param == "local":
        store = LocalStore(tmp_path / "store" / "squad.db")
        yield StoreUnderTest("local", store, lambda table, doc: local_raw_insert(store, table, doc),
                             lambda table, doc_id, fields: local_raw_patch(store, table, doc_id, fields))
        store.close()
    else:
        server: ConvexTestServer = request.getfixturevalue("convex_server")
        server.reset()
        store = ConvexStore(server.url, ADMIN_KEY, timeout=10)
        yield StoreUnderTest("convex", store, server.insert, lambda table, doc_id, fields: server.patch(doc_id, fields))
        store.close()


@pytest.fixture(scope="session")
def real_openclaw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """ONE real OpenClaw 2026.9.6 gateway for the session (tests/real_openclaw.py): loopback, a
    free port, token auth, a private state folder, the seed's squad and their forced runs. The
    tests that use it FAIL (never skip) when the tooling is missing."""
    import time

    from tests.real_openclaw import RealGateway, ToolingMissing, tooling

    try:
        tools = tooling()
    except ToolingMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    gateway = RealGateway(tools, tmp_path_factory.mktemp("openclaw"))
    started = time.perf_counter()
    try:
        gateway.start()
    except Exception as exc:
        gateway.stop()
        pytest.fail(f"the real OpenClaw gateway could not be set up: {exc}", pytrace=False)
    gateway.timings["total"] = round(time.perf_counter() - started, 2)
    (tools.root / "last-session.json").write_text(json.dumps(gateway.timings) + "\n", encoding="utf-8")
    yield gateway
    gateway.stop()

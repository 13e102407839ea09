"""Each store fault gives its typed error, with the cause in words and never the key.

The Convex faults come from a real loopback HTTP server that answers the way a failing
deployment (or what stands in front of it) does; the SQLite faults from real files."""

from __future__ import annotations

import http.server
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.service.store import sqlite as local_mod
from console.service.store.sqlite import connection as local_connection
from console.service.store.convex import ConvexStore
from console.service.store.sqlite import LocalStore
from console.service.store import (
    NotFoundError,
    StoreAuthError,
    StoreError,
    StoreFunctionError,
    StoreUnavailable,
)
from tests.conftest import ADMIN_KEY

SECRET = "prod:squad-secret-123|eyJ2IjoiVEhJUy1JUy1BLVNFQ1JFVCJ9"


class FaultServer:
    """Answers each request with the next scripted reply: (status, headers, body) or an action."""

    def __init__(self) -> None:
        self.script: list = []
        self.requests: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                step = outer.script.pop(0) if outer.script else (200, {}, {"status": "success", "value": []})
                if step == "hang":
                    time.sleep(1.5)
                    return
                if step == "cut":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "500")
                    self.end_headers()
                    self.wfile.write(b'{"status":"succ')
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, headers, payload = step
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.close()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def store_at(url: str, sleeps: Sleeps, **kw) -> ConvexStore:
    return ConvexStore(url, SECRET, timeout=kw.pop("timeout", 0.5), sleep=sleeps, **kw)


def no_secret(err: BaseException) -> None:
    text = f"{err} {getattr(err, 'hint', '')} {err!r} {getattr(err, 'data', '')}"
    assert SECRET not in text and "eyJ2" not in text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connection_is_unavailable_after_retries() -> None:
    sleeps = Sleeps()
    store = store_at(f"http://127.0.0.1:{free_port()}", sleeps)
    with pytest.raises(StoreUnavailable) as info:
        store.list_agents()
    assert "connection refused" in str(info.value) and info.value.hint
    assert store.calls == 4 and len(sleeps) == 3  # capped retries with backoff
    assert all(0 <= s <= store.backoff_cap for s in sleeps)
    no_secret(info.value)


def test_timeout_is_unavailable_and_a_mutation_is_not_retried(fault: FaultServer) -> None:
    sleeps = Sleeps()
    store = store_at(fault.url, sleeps, timeout=0.3)
    fault.script = ["hang"]
    with pytest.raises(StoreUnavailable) as info:
        store.create_task("once")
    assert "did not answer within 0.3 s" in str(info.value)
    assert len(fault.requests) == 1  # a mutation whose fate is unknown is never sent twice
    no_secret(info.value)


def test_a_query_is_retried_after_a_timeout(fault: FaultServer) -> None:
    sleeps = Sleeps()
    store = store_at(fault.url, sleeps, timeout=0.3)
    fault.script = ["hang", (200, {}, {"status": "success", "value": []})]
    assert store.list_agents() == []
    assert len(sleeps) == 1


def test_5xx_is_retried_then_unavailable(fault: FaultServer) -> None:
    sleeps = Sleeps()
    store = store_at(fault.url, sleeps)
    fault.script = [(500, {}, {"code": "InternalServerError", "message": "boom"})] * 4
    with pytest.raises(StoreUnavailable) as info:
        store.list_tasks()
    assert "500 InternalServerError" in str(info.value)
    assert len(fault.requests) == 4
    # exponential: each ceiling doubles (full jitter below it)
    assert all(s <= min(store.backoff_cap, store.backoff_base * 2**i) for i, s in enumerate(sleeps))


def test_503_recovers(fault: FaultServer) -> None:
    sleeps = Sleeps()
    store = store_at(fault.url, sleeps)
    fault.script = [(503, {}, {"code": "Overloaded", "message": "try later"}),
                    (200, {}, {"status": "success", "value": {"_id": "t1", "title": "x", "description": "", "status": "inbox", "assigneeIds": [], "_creationTime": 1.0}})]
    task = store.create_task("x")  # 503: the mutation did not run, so it is safe to send again
    assert task.id == "t1" and len(fault.requests) == 2


def test_429_honours_retry_after(fault: FaultServer) -> None:
    sleeps = Sleeps()
    store = store_at(fault.url, sleeps)
    fault.script = [(429, {"Retry-After": "2"}, {"code": "RateLimited", "message": "slow down"}),
                    (200, {}, {"status": "success", "value": []})]
    assert store.list_agents() == []
    assert sleeps == [pytest.approx(2, abs=0.01)] or sleeps[0] >= 2


def test_429_with_a_long_retry_after_is_left_to_the_poller(fault: FaultServer) -> None:
    sleeps = Sleeps()
    store = store_at(fault.url, sleeps)
    fault.script = [(429, {"Retry-After": "60"}, {"code": "RateLimited", "message": "slow down"})]
    with pytest.raises(StoreUnavailable) as info:
        store.list_agents()
    assert info.value.retry_after == 60 and sleeps == []
    assert "rate-limiting" in str(info.value)


@pytest.mark.parametrize("status,code", [(401, "Unauthenticated"), (403, "BadDeployKey")])
def test_rejected_key_is_an_auth_error(fault: FaultServer, status: int, code: str) -> None:
    sleeps = Sleeps()
    store = store_at(fault.url, sleeps)
    fault.script = [(status, {}, {"code": code, "message": "The provided deploy key was invalid"})]
    with pytest.raises(StoreAuthError) as info:
        store.list_agents()
    assert code in str(info.value) and "CONVEX_DEPLOY_KEY" in info.value.hint
    assert sleeps == [] and len(fault.requests) == 1  # no point retrying a refused key
    assert fault.requests[0]["auth"] == f"Convex {SECRET}"
    no_secret(info.value)


def test_garbage_is_unavailable_not_a_crash(fault: FaultServer) -> None:
    sleeps = Sleeps()
    store = store_at(fault.url, sleeps, max_retries=0)
    fault.script = [(200, {}, b"<html>Sign in to continue</html>")]
    with pytest.raises(StoreUnavailable) as info:
        store.list_agents()
    assert "not a Convex reply" in str(info.value)
    fault.script = [(200, {}, {"unexpected": True})]
    with pytest.raises(StoreUnavailable):
        store.list_agents()


def test_connection_cut_mid_body(fault: FaultServer) -> None:
    sleeps = Sleeps()
    store = store_at(fault.url, sleeps, max_retries=0)
    fault.script = ["cut"]
    with pytest.raises(StoreUnavailable) as info:
        store.snapshot()
    assert "broke" in str(info.value)


@pytest.mark.parametrize("status", [200, 560])
def test_function_error_on_200_or_560(fault: FaultServer, status: int) -> None:
    sleeps = Sleeps()
    store = store_at(fault.url, sleeps)
    fault.script = [(status, {}, {"status": "error", "errorMessage": "[Request ID: 1] Server Error\nUncaught Error: bad",
                                  "errorData": {"code": "NotFound", "message": "task t9 not found"}})]
    with pytest.raises(NotFoundError) as info:
        store.update_task("t9", status="done")
    assert "task t9 not found" in str(info.value) and info.value.data["code"] == "NotFound"
    fault.script = [(status, {}, {"status": "error", "errorMessage": "Uncaught Error: validator failed"})]
    with pytest.raises(StoreFunctionError) as info2:
        store.update_task("t9", status="done")
    assert not isinstance(info2.value, NotFoundError) and "validator failed" in str(info2.value)
    assert sleeps == []


def test_missing_key_fails_before_any_request(fault: FaultServer) -> None:
    store = ConvexStore(fault.url, None)
    with pytest.raises(StoreAuthError) as info:
        store.list_agents()
    assert "no Convex deploy key" in str(info.value) and fault.requests == []


def test_bad_url_is_refused_in_words() -> None:
    with pytest.raises(StoreError) as info:
        ConvexStore("happy-otter-123.convex.cloud", SECRET)
    assert "not an http(s) URL" in str(info.value)
    assert SECRET not in repr(ConvexStore("https://x.convex.cloud", SECRET))


# ------------------------------------------------- the real server refuses outsiders
def test_the_deployment_refuses_a_call_without_the_key(convex_server) -> None:
    r = httpx.post(f"{convex_server.url}/api/query", json={"path": "console/agents:list", "args": {}, "format": "json"})
    assert r.status_code == 200 and r.json()["status"] == "error"
    assert "Could not find public function" in r.json()["errorMessage"]
    # and the store turns that into an auth error with the fix
    store = ConvexStore(convex_server.url, "")
    with pytest.raises(StoreAuthError):
        store.list_agents()


def test_the_deployment_refuses_a_wrong_key(convex_server) -> None:
    r = httpx.post(f"{convex_server.url}/api/query", json={"path": "console/agents:list", "args": {}},
                   headers={"Authorization": "Convex not-the-key"})
    assert r.status_code == 403 and r.json()["code"] == "BadDeployKey"
    store = ConvexStore(convex_server.url, SECRET, sleep=Sleeps())
    with pytest.raises(StoreAuthError) as info:
        store.list_agents()
    assert "403 BadDeployKey" in str(info.value)
    no_secret(info.value)
    # the right key works
    assert isinstance(ConvexStore(convex_server.url, ADMIN_KEY).list_agents(), list)


# ------------------------------------------------------------------- SQLite faults
def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "squad.db"
    path.write_bytes(b"definitely not a database" * 100)
    with pytest.raises(StoreUnavailable) as info:
        LocalStore(path)
    assert "not a readable SQLite database" in str(info.value) and "nothing was changed" in info.value.hint
    assert path.read_bytes() == b"definitely not a database" * 100


def test_a_locked_store_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_connection, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "squad.db"
    store = LocalStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable) as info:
            store.create_task("blocked")
        assert "locked" in str(info.value) and info.value.retry_after
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.create_task("after").title == "after"  # recovers by itself
    assert [t.title for t in store.list_tasks()] == ["after"]


def test_a_store_from_a_newer_console_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "squad.db"
    LocalStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError) as info:
        LocalStore(path)
    assert "schema version 99" in str(info.value) and "upgrade" in info.value.hint


def test_an_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreUnavailable) as info:
        LocalStore(blocker / "sub" / "squad.db")
    assert "cannot create the folder" in str(info.value)


def test_migrations_run_once_and_record_the_version(tmp_path: Path) -> None:
    path = tmp_path / "squad.db"
    store = LocalStore(path)
    assert store.schema_version() == local_mod.SCHEMA_VERSION
    store.create_task("kept")
    store.close()
    again = LocalStore(path)
    assert [t.title for t in again.list_tasks()] == ["kept"]
    assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

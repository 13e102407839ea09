"""The daemon run for real: a subprocess against a fixture OpenClaw state folder, for a few
seconds, stopped with SIGTERM; its beats arrive in the store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.service.convex import ConvexStore
from console.service.local import LocalStore
from tests.conftest import ADMIN_KEY, ConvexTestServer

FIXTURES = Path(__file__).parent / "fixtures" / "openclaw"


def state_copy(tmp_path: Path, form: str = "list-form") -> Path:
    dest = tmp_path / "openclaw-state"
    shutil.copytree(FIXTURES / form, dest)
    return dest


def run_daemon(env: dict[str, str], seconds: float, *extra: str, store: str = "local",
               during=None) -> tuple[int, list[dict]]:
    """Run `squad-console service` for `seconds`, calling `during()` half-way, then SIGTERM it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--store", store, "service", "--collect-every", "1",
         "--probe-every", "1", "--evaluate-every", "1", "--flush-every", "0.5", *extra],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    if during is not None:
        time.sleep(seconds / 2)
        during()
        time.sleep(seconds / 2)
    else:
        time.sleep(seconds)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert not [line for line in err.splitlines() if line and not line.startswith("{")], err
    return proc.returncode, events


def test_the_daemon_collects_into_the_local_store(tmp_path: Path) -> None:
    state = state_copy(tmp_path)
    db = tmp_path / "data" / "squad.db"
    env = {"OPENCLAW_STATE_DIR": str(state), "SQUAD_CONSOLE_DB": str(db)}
    sync = subprocess.run([sys.executable, "-m", "console", "agents", "sync"], env={**os.environ, **env},
                          capture_output=True, text=True)
    assert sync.returncode == 0, sync.stderr
    code, events = run_daemon(env, 3.0)
    assert code == 0
    names = [e["event"] for e in events]
    assert names[0] == "started" and names[-1] == "stopped"
    assert all({"ts", "level", "event"} <= set(e) for e in events)
    collected = {e["agent"]: e for e in events if e["event"] == "beats_collected"}
    assert set(collected) == {"cestra", "veda", "orin"}
    assert collected["veda"]["recorded"] == 4
    assert "gateway_down" in names  # nothing listens on the fixture's gateway port

    store = LocalStore(db)
    beats = {a: store.list_heartbeats(a) for a in ("cestra", "veda", "orin")}
    assert [len(b) for b in beats.values()] == [4, 4, 4]  # orin's truncated extra line is skipped
    veda = beats["veda"]
    assert [b.outcome for b in veda] == ["ok", "error", "error", "error"]
    assert "delivery failed" in veda[1].error and "401" in veda[1].error
    assert all(b.tokens and b.cost_usd for b in beats["cestra"])
    # collected once only, however many times the job ran
    assert len([e for e in events if e["event"] == "beats_collected"]) == 3
    # the fixture's runs are days old: each agent flipped to down or failing, backdated
    flips = {f.agent_id: f for f in store.list_flips()}
    assert set(flips) == {"cestra", "veda", "orin"}
    assert flips["veda"].to_status in ("down", "failing") and flips["veda"].at < time.time() * 1000
    assert any(a.type == "heartbeat_failed" for a in store.list_activities(100))


def test_the_daemon_delivers_into_convex(tmp_path: Path, convex_server) -> None:
    convex_server.reset()
    env = {"OPENCLAW_STATE_DIR": str(state_copy(tmp_path, "entries-form")),
           "SQUAD_CONSOLE_DB": str(tmp_path / "data" / "squad.db"),
           "CONVEX_URL": convex_server.url, "CONVEX_DEPLOY_KEY": ADMIN_KEY}
    code, events = run_daemon(env, 2.5, store="convex")
    assert code == 0
    assert ADMIN_KEY not in json.dumps(events)
    beats = ConvexStore(convex_server.url, ADMIN_KEY).list_heartbeats(limit=100)
    assert sorted((b.agent_id, b.outcome) for b in beats).count(("veda", "error")) == 3
    assert len(beats) == 12 and len({b.run_id for b in beats}) == 12


def test_the_daemon_survives_a_store_outage(tmp_path: Path) -> None:
    """Convex is down when the daemon starts: the runs wait in the outbox, and are delivered
    once (no more, no fewer) when it comes back, while the daemon keeps running."""
    first = ConvexTestServer()
    port = first.port
    first.stop()
    env = {"OPENCLAW_STATE_DIR": str(state_copy(tmp_path)), "SQUAD_CONSOLE_DB": str(tmp_path / "data" / "squad.db"),
           "CONVEX_URL": f"http://127.0.0.1:{port}", "CONVEX_DEPLOY_KEY": ADMIN_KEY}
    servers: list[ConvexTestServer] = []
    try:
        code, events = run_daemon(env, 8.0, store="convex", during=lambda: servers.append(ConvexTestServer(port=port)))
        assert code == 0
        names = [e["event"] for e in events]
        queued = sum(e.get("queued", 0) for e in events if e["event"] == "beats_collected")
        assert queued == 12 and "outbox_flushed" in names
        delivered = sum(e.get("delivered", 0) for e in events if e["event"] == "outbox_flushed")
        assert delivered == 12
        beats = ConvexStore(f"http://127.0.0.1:{port}", ADMIN_KEY).list_heartbeats(limit=100)
        assert len(beats) == 12 and len({b.run_id for b in beats}) == 12
    finally:
        for server in servers:
            server.stop()


def test_sigterm_stops_it_promptly(tmp_path: Path) -> None:
    env = {"OPENCLAW_STATE_DIR": str(state_copy(tmp_path)), "SQUAD_CONSOLE_DB": str(tmp_path / "d" / "squad.db")}
    started = time.monotonic()
    code, events = run_daemon(env, 1.0)
    assert code == 0 and time.monotonic() - started < 10
    assert events[-1]["event"] == "stopped"


def test_an_unreadable_state_folder_is_logged_not_fatal(tmp_path: Path) -> None:
    env = {"OPENCLAW_STATE_DIR": str(tmp_path / "nowhere"), "SQUAD_CONSOLE_DB": str(tmp_path / "d" / "squad.db")}
    code, events = run_daemon(env, 1.5)
    assert code == 0
    assert [e["event"] for e in events][0] == "started"

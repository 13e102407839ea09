"""`squad-console check`: exit 0 healthy, 1 degraded, 2 down, 3 unknown — each case for real
(a SQLite store, a loopback gateway, a fixture OpenClaw state folder, a subprocess)."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.service.health.slots import Schedule, slots_between
from console.service.store.sqlite import LocalStore
from console.service.models import AgentSpec, HeartbeatIn
from tests.openclaw_fixture import copy_state

SEED = {"cestra": "*/15 * * * *", "veda": "2-59/15 * * * *", "orin": "4-59/15 * * * *"}
HOUR = 3_600_000


class Gateway:
    """A loopback stand-in for the OpenClaw gateway's health endpoints."""

    def __init__(self, readyz: int = 200) -> None:
        self.readyz = readyz
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                code = 200 if self.path == "/healthz" else outer.readyz if self.path == "/readyz" else 404
                body = json.dumps({"ok": code == 200}).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    g = Gateway()
    yield g
    g.close()


@pytest.fixture
def squad(tmp_path: Path, gateway: Gateway) -> dict:
    """A healthy week: every agent beat at every slot, the gateway up; the fixture's cron runs
    (VEDA's and ORIN's WhatsApp 401s) are in the state folder for diagnosis."""
    state = tmp_path / "state"
    copy_state("list-form", state)
    db = tmp_path / "data" / "squad.db"
    store = LocalStore(db)
    now = time.time() * 1000
    for agent_id, cron in SEED.items():
        store.upsert_agent(AgentSpec(agent_id, agent_id.upper(), heartbeat=cron))
        with store._write() as conn:  # backdate the registration: the agents have run all week
            conn.execute("UPDATE agents SET created_at = ? WHERE agent_id = ?", (now - 8 * 24 * HOUR, agent_id))
        for at in slots_between(Schedule(cron), now - 8 * 24 * HOUR, now + 1):
            store.record_heartbeat(HeartbeatIn(agent_id, at + 20_000, source="openclaw", run_id=f"{agent_id}-{at}",
                                               tokens=1000, cost_usd=0.001, model="haiku"))
    env = {"OPENCLAW_STATE_DIR": str(state), "SQUAD_CONSOLE_DB": str(db), "OPENCLAW_GATEWAY_PORT": str(gateway.port)}
    return {"store": store, "env": env, "now": now, "state": state}


def check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args, "check"] if args and args[0].startswith("--store")
                          else [sys.executable, "-m", "console", "check", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def drop_recent(store: LocalStore, agent_id: str, since: float) -> None:
    with store._write() as conn:
        conn.execute("DELETE FROM heartbeats WHERE agent_id = ? AND at >= ?", (agent_id, since))


def test_healthy_exits_0(squad: dict) -> None:
    p = check(squad["env"])
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    for agent in SEED:
        [line] = [l for l in lines if l.startswith(agent)]
        assert " UP " in line and "uptime 24h 100.0% / 7d 100.0%" in line and "96/96" in line
        assert "96,000 tokens $0.10 in 24h" in line
    assert any(l.startswith("gateway") and "UP" in l for l in lines)
    assert lines[-1] == "OK"


def test_json_has_the_figures(squad: dict) -> None:
    p = check(squad["env"], "--json")
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    assert doc["status"] == "ok" and doc["exit"] == 0 and doc["gateway"]["reachable"]
    veda = next(a for a in doc["agents"] if a["id"] == "veda")
    assert veda["status"] == "up" and veda["schedule"] == {"cron": "2-59/15 * * * *", "tz": "UTC"}
    assert veda["uptime24h"]["okRuns"] == veda["uptime24h"]["expectedRuns"] == 96
    assert veda["costUsd24h"] == pytest.approx(0.096) and veda["tokens24h"] == 96_000
    assert veda["nextSlot"] > doc["at"]


def test_a_gateway_not_ready_is_degraded(squad: dict, gateway: Gateway) -> None:
    gateway.readyz = 503
    p = check(squad["env"])
    assert p.returncode == 1 and "NOT READY" in p.stdout and p.stdout.splitlines()[-1] == "DEGRADED"


def test_a_paused_agent_is_degraded(squad: dict) -> None:
    pause = subprocess.run([sys.executable, "-m", "console", "heartbeat", "pause", "orin", "--reason", "maintenance"],
                           env={**os.environ, **squad["env"]}, capture_output=True, text=True)
    assert pause.returncode == 0, pause.stderr
    p = check(squad["env"])
    assert p.returncode == 1 and "PAUSED" in p.stdout


def test_a_missed_heartbeat_is_down_with_its_cause_and_fix(squad: dict) -> None:
    drop_recent(squad["store"], "veda", squad["now"] - 2 * HOUR)
    p = check(squad["env"])
    assert p.returncode == 2, p.stdout
    out = p.stdout
    [line] = [l for l in out.splitlines() if l.startswith("veda")]
    assert "DOWN" in line
    assert "why: " in out and "missed" in out
    # the fixture's cron runs say why: WhatsApp's 401 on delivery
    assert "cause: WhatsApp logged out" in out
    assert "fix: openclaw channels logout --channel whatsapp" in out
    assert "fix: openclaw channels login --channel whatsapp" in out
    assert out.splitlines()[-1] == "DOWN"


def test_a_failed_run_is_failing(squad: dict) -> None:
    store = squad["store"]
    drop_recent(store, "cestra", squad["now"] - 10 * 60_000)
    store.record_heartbeat(HeartbeatIn("cestra", squad["now"] - 60_000, outcome="error",
                                       error="gateway closed (1008): unauthorized: gateway token mismatch",
                                       source="openclaw", run_id="cestra-failed"))
    p = check(squad["env"], "--json")
    assert p.returncode == 2
    cestra = next(a for a in json.loads(p.stdout)["agents"] if a["id"] == "cestra")
    assert cestra["status"] == "failing" and "token mismatch" in cestra["reason"]


def test_an_unreachable_gateway_is_down(squad: dict) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    p = check({**squad["env"], "OPENCLAW_GATEWAY_PORT": str(closed)})
    assert p.returncode == 2
    assert any(l.startswith("gateway") and "DOWN" in l for l in p.stdout.splitlines())
    assert "cause: " in p.stdout and "openclaw gateway restart" in p.stdout


def test_an_unreadable_store_is_unknown(squad: dict) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    p = check({**squad["env"], "CONVEX_URL": f"http://127.0.0.1:{closed}", "CONVEX_DEPLOY_KEY": "prod:x|abcdefghijklmnopqrstu"},
              "--store", "convex")
    assert p.returncode == 3 and "cannot connect" in p.stderr and "Traceback" not in p.stderr


def test_a_bad_config_is_unknown(squad: dict, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[store]\nkind = 'mysql'\n")
    p = subprocess.run([sys.executable, "-m", "console", "--config", str(bad), "check"],
                       env={**os.environ, **squad["env"]}, capture_output=True, text=True)
    assert p.returncode == 3 and "store.kind" in p.stderr


def test_ticks_skipped_while_the_gateway_was_stopped_are_named(squad: dict) -> None:
    """The collector logged the gateway down then up (its audit log); the slots in between have no
    run: check names them as skipped while the gateway was stopped, with the fix, and is DEGRADED
    although every agent is up again."""
    store, now = squad["store"], squad["now"]
    start, end = now - 3 * HOUR, now - 2 * HOUR
    with store._write() as conn:
        conn.execute("DELETE FROM heartbeats WHERE at >= ? AND at < ?", (start, end))
    store.log_activity("gateway_down", "gateway http://127.0.0.1:18790 is unreachable", actor="service",
                       detail={"lastUpAt": start})
    with store._write() as conn:  # the activities as the collector logged them, at their times
        conn.execute("UPDATE activities SET created_at = ? WHERE type = 'gateway_down'", (start + 60_000,))
    store.log_activity("gateway_up", "gateway http://127.0.0.1:18790 is reachable again", actor="service")
    with store._write() as conn:
        conn.execute("UPDATE activities SET created_at = ? WHERE type = 'gateway_up'", (end,))
    p = check(squad["env"], "--json")
    doc = json.loads(p.stdout)
    assert p.returncode == 1 and doc["status"] == "degraded", p.stdout
    veda = next(a for a in doc["agents"] if a["id"] == "veda")
    assert veda["status"] == "up"
    [cause] = [c for c in veda["causes"] if c["code"] == "skipped_while_gateway_down"]
    expected = len([s for s in slots_between(Schedule(SEED["veda"]), start, end)])
    assert f"{expected} slots of veda" in cause["detail"] and "openclaw#104412" in cause["detail"]
    assert cause["fix"][0] == "openclaw cron run 4d2a9f17-6e83-4b5c-a1f0-7c3e8b2d5a02"
    text = check(squad["env"]).stdout
    assert "cause: Heartbeats skipped while the gateway was stopped" in text
    assert "fix: openclaw cron run 4d2a9f17-6e83-4b5c-a1f0-7c3e8b2d5a02" in text


def test_main_stored_by_an_older_import_is_not_reported(squad: dict) -> None:
    store = squad["store"]
    store.upsert_agent(AgentSpec("main", "main"))  # what `agents import` stored before `main` was left out
    doc = json.loads(check(squad["env"], "--json").stdout)
    assert [a["id"] for a in doc["agents"]] == list(SEED) and doc["exit"] == 0
    store.upsert_agent(AgentSpec("main", "main", "OpenClaw's main agent (chosen at import)"))  # chosen
    assert "main" in [a["id"] for a in json.loads(check(squad["env"], "--json").stdout)["agents"]]


def test_a_lost_heartbeat_job_is_named(squad: dict) -> None:
    """The collector's snapshot (in the store) has VEDA's job; an upgrade blanked its agentId."""
    store, state = squad["store"], squad["state"]
    veda_job = "4d2a9f17-6e83-4b5c-a1f0-7c3e8b2d5a02"
    store.log_activity("heartbeat_jobs", "the squad's heartbeat jobs", actor="service",
                       detail={"jobs": {"veda": {"id": veda_job, "name": "veda-heartbeat", "agentId": "veda"}}})
    jobs_file = state / "cron" / "jobs.json"
    doc = json.loads(jobs_file.read_text())
    for j in doc["jobs"]:
        if j["id"] == veda_job:
            j.pop("agentId", None)
    jobs_file.write_text(json.dumps(doc))
    out = json.loads(check(squad["env"], "--json").stdout)
    veda = next(a for a in out["agents"] if a["id"] == "veda")
    assert veda["causes"][0]["code"] == "heartbeat_job_lost" and out["exit"] >= 1
    assert veda["causes"][0]["fix"][0] == f"openclaw cron edit {veda_job} --agent veda"


def test_the_collectors_fresh_channel_report_saves_the_cli_call(squad: dict, tmp_path: Path) -> None:
    """Beside `squad-console service`, check takes its channel report (at most 2.5 min old) and
    starts no `openclaw channels status` (1-4 s of Node start-up)."""
    from console.config import load_settings
    from console.service.openclaw.channels import CHANNEL_REPORT_KEY, ChannelReport, ChannelStatus, report_to_json
    from console.service.store.outbox import Outbox

    settings = load_settings(None, env={**os.environ, **squad["env"]})
    fake_bin = tmp_path / "bin"  # an `openclaw` that records being called
    fake_bin.mkdir()
    called = tmp_path / "called"
    (fake_bin / "openclaw").write_text(f"#!/bin/sh\necho \"$@\" >> {called}\nexit 1\n")
    (fake_bin / "openclaw").chmod(0o755)
    env = {**squad["env"], "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    report = ChannelReport([ChannelStatus("whatsapp", "default", False, False, "Not linked (no WhatsApp Web session).",
                                          state="not-linked")], "cli")
    box = Outbox(settings.store.outbox_path())
    try:
        box.set(CHANNEL_REPORT_KEY, {"at": time.time() * 1000, "report": report_to_json(report)})
    finally:
        box.close()
    doc = json.loads(check(env, "--json").stdout)
    assert doc["openclaw"]["channels"]["from"] == "collector"
    assert doc["openclaw"]["channels"]["accounts"][0]["state"] == "not-linked"
    assert not called.exists() or "channels" not in called.read_text()
    box = Outbox(settings.store.outbox_path())
    try:  # stale: check asks the CLI itself
        box.set(CHANNEL_REPORT_KEY, {"at": time.time() * 1000 - 10 * 60_000, "report": report_to_json(report)})
    finally:
        box.close()
    doc = json.loads(check(env, "--json").stdout)
    assert doc["openclaw"]["channels"]["from"] == "openclaw channels status" and "channels" in called.read_text()

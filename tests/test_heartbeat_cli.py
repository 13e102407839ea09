"""`heartbeat beat|crons|pause|resume` and `agents import`, run as a user runs them."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.service.store.sqlite import LocalStore
from tests.conftest import ADMIN_KEY
from tests.openclaw_fixture import copy_state



def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    state = tmp_path / "state"
    copy_state("list-form", state)
    return {"OPENCLAW_STATE_DIR": str(state), "SQUAD_CONSOLE_DB": str(tmp_path / "data" / "squad.db"),
            "PATH": "/usr/bin:/bin"}


def test_beat_records_once_per_run_id(env: dict[str, str], tmp_path: Path) -> None:
    p = cli(env, "heartbeat", "beat", "veda", "--run-id", "sched-1", "--duration", "812")
    assert p.returncode == 0 and "beat recorded" in p.stdout
    p = cli(env, "heartbeat", "beat", "veda", "--run-id", "sched-1")
    assert p.returncode == 0 and "already recorded" in p.stdout
    two_days_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2 * 86400))
    p = cli(env, "heartbeat", "beat", "veda", "--error", "WhatsApp 401", "--at", two_days_ago)
    assert p.returncode == 0
    store = LocalStore(tmp_path / "data" / "squad.db")
    beats = store.list_heartbeats("veda")
    assert [(b.run_id, b.outcome, b.source) for b in beats][0][1:] == ("error", "push")
    assert {b.run_id for b in beats} >= {"sched-1"} and len(beats) == 2
    assert [a.type for a in store.list_activities()] == ["heartbeat_failed"]


def test_beat_refuses_an_unknown_agent_and_a_bad_time(env: dict[str, str]) -> None:
    p = cli(env, "heartbeat", "beat", "vedaa")
    assert p.returncode == 2 and "unknown agent 'vedaa'" in p.stderr and "cestra, orin, veda" in p.stderr
    p = cli(env, "heartbeat", "beat", "veda", "--at", "yesterday")
    assert p.returncode == 2 and "not an ISO 8601 time" in p.stderr
    assert "Traceback" not in p.stderr


def test_beat_is_queued_while_the_store_is_away(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    away = {**env, "CONVEX_URL": f"http://127.0.0.1:{closed}", "CONVEX_DEPLOY_KEY": ADMIN_KEY}
    p = cli(away, "--store", "convex", "heartbeat", "beat", "orin", "--run-id", "r-9")
    assert p.returncode == 0 and "beat queued" in p.stdout
    from console.service.store.outbox import Outbox

    box = Outbox(tmp_path / "data" / "outbox.db")
    assert box.pending() == 1


def test_pause_and_resume_are_flips(env: dict[str, str], tmp_path: Path) -> None:
    assert cli(env, "agents", "sync").returncode == 0
    p = cli(env, "heartbeat", "pause", "orin", "--reason", "moving servers")
    assert p.returncode == 0 and "paused" in p.stdout
    assert "already paused" in cli(env, "heartbeat", "pause", "orin").stdout
    p = cli(env, "heartbeat", "resume", "orin")
    assert p.returncode == 0 and "resumed" in p.stdout
    store = LocalStore(tmp_path / "data" / "squad.db")
    flips = store.list_flips("orin")
    assert [(f.from_status, f.to_status) for f in flips][0] == ("new", "paused")
    assert flips[1].from_status == "paused"
    assert "moving servers" in store.list_activities(5)[1].message


def test_crons_match_the_fixture_jobs(env: dict[str, str]) -> None:
    p = cli(env, "heartbeat", "crons")
    assert p.returncode == 0, p.stdout + p.stderr
    for agent in ("cestra", "veda", "orin"):
        assert f"# {agent}: job" in p.stdout and "matches" in p.stdout


def test_crons_print_the_missing_and_differing_commands(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "squad.toml"
    config.write_text(
        '[[agents]]\nid = "cestra"\nheartbeat = "*/15 * * * *"\n'
        '[[agents]]\nid = "veda"\nheartbeat = "2-59/15 * * * *"\ntz = "Europe/Paris"\n'
        '[[agents]]\nid = "nova"\nname = "NOVA"\nheartbeat = "6-59/15 * * * *"\n'
    )
    p = cli(env, "--config", str(config), "heartbeat", "crons")
    assert p.returncode == 1
    assert "# veda: job" in p.stdout and "differs from squad.toml" in p.stdout and "Europe/Paris" in p.stdout
    assert "openclaw cron edit" in p.stdout
    assert "# nova: no heartbeat job yet" in p.stdout
    assert "openclaw cron add --name nova-heartbeat --cron '6-59/15 * * * *' --tz UTC --session isolated --agent nova" in p.stdout
    # --apply without the CLI says so
    p = cli(env, "--config", str(config), "heartbeat", "crons", "--apply")
    assert p.returncode == 1 and "openclaw CLI is not on PATH" in p.stderr


def test_crons_apply_runs_the_openclaw_cli(env: dict[str, str], tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    fake = bin_dir / "openclaw"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n"
                    "case \"$*\" in *'cron list'*) echo '{\"jobs\": []}';; *'cron runs'*) echo '[]';; esac\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    p = cli({**env, "PATH": f"{bin_dir}:/usr/bin:/bin"}, "heartbeat", "crons", "--apply")
    assert p.returncode == 0, p.stdout + p.stderr
    calls = log.read_text().splitlines()
    adds = [c for c in calls if c.startswith("cron add")]
    assert len(adds) == 3
    assert all("--no-deliver" in c for c in adds)  # delivery explicit: announce to `last` fails closed
    assert not any("--exact" in c for c in adds)  # */15 and 2-59/15 are never staggered by OpenClaw
    assert any("--agent veda" in c and "2-59/15 * * * *" in c for c in adds)


def test_agents_import_from_openclaw_json(env: dict[str, str], tmp_path: Path) -> None:
    for form in ("list-form", "entries-form"):
        state = tmp_path / f"state-{form}"
        copy_state(form, state)
        e = {**env, "OPENCLAW_STATE_DIR": str(state), "SQUAD_CONSOLE_DB": str(tmp_path / form / "squad.db")}
        p = cli(e, "agents", "import")
        assert p.returncode == 0, p.stderr
        assert p.stdout.count("registered") == 3
        again = cli(e, "agents", "import")
        assert again.stdout.count("unchanged") == 3
        store = LocalStore(tmp_path / form / "squad.db")
        agents = {a.agent_id: a for a in store.list_agents()}
        assert set(agents) == {"cestra", "veda", "orin"}
        assert agents["veda"].heartbeat == "2-59/15 * * * *" and agents["veda"].workspace == str(state / "workspace-veda")
        assert [a.type for a in store.list_activities()].count("agent_registered") == 3


def test_agents_import_without_openclaw_json(tmp_path: Path, env: dict[str, str]) -> None:
    p = cli({**env, "OPENCLAW_STATE_DIR": str(tmp_path / "nothing")}, "agents", "import")
    assert p.returncode == 1 and "openclaw.json" in p.stderr and "Traceback" not in p.stderr


def test_check_shows_what_waits_in_the_outbox(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    away = {**env, "CONVEX_URL": f"http://127.0.0.1:{closed}", "CONVEX_DEPLOY_KEY": ADMIN_KEY}
    assert cli(away, "--store", "convex", "heartbeat", "beat", "orin", "--run-id", "r-1").returncode == 0
    p = cli(env, "check", "--no-gateway")
    assert "outbox" in p.stdout and "1 waiting for the store" in p.stdout

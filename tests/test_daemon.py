"""The daemon run for real: a subprocess against a fixture OpenClaw state folder, for a few
seconds, stopped with SIGTERM; its beats arrive in the store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


from console.service.store.convex import ConvexStore
from console.service.store.sqlite import LocalStore
from tests.conftest import ADMIN_KEY, ConvexTestServer
from tests.openclaw_fixture import copy_state

Events = list[dict]
DEADLINE = 60.0  # seconds: generous for a loaded CI machine; the tests end at the event they wait for


def state_copy(tmp_path: Path, form: str = "list-form") -> Path:
    """The fixture state folder, its runs dated one day before now (the daemon's clock)."""
    return copy_state(form, tmp_path / "openclaw-state")


def run_daemon(env: dict[str, str], until: Callable[[Events], bool], *extra: str, store: str = "local",
               during: Callable[[], None] | None = None,
               during_when: Callable[[Events], bool] | None = None) -> tuple[int, Events]:
    """Run `squad-console service` until its JSON log satisfies `until` (within DEADLINE), then
    SIGTERM it. `during()` is called once, as soon as `during_when` holds."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--store", store, "service", "--collect-every", "1",
         "--probe-every", "1", "--evaluate-every", "1", "--flush-every", "0.5", *extra],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    changed = threading.Condition()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            with changed:
                lines.append(line.rstrip("\n"))
                changed.notify_all()
        with changed:
            changed.notify_all()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def events() -> Events:
        return [json.loads(line) for line in list(lines) if line.startswith("{")]

    deadline = time.monotonic() + DEADLINE
    pending = during
    with changed:
        while time.monotonic() < deadline and proc.poll() is None:
            seen = events()
            if pending is not None and (during_when is None or during_when(seen)):
                pending()
                pending = None
            elif pending is None and until(seen):
                break
            changed.wait(timeout=0.5)
        else:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                raise AssertionError("the daemon's log never showed what the test waits for:\n" + "\n".join(lines))
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    reader.join(timeout=20)
    all_events = events()
    assert not [line for line in lines if line and not line.startswith("{")], "\n".join(lines)
    return proc.returncode, all_events


def names(events: Events) -> list[str]:
    return [e["event"] for e in events]


def has(event: str, count: int = 1) -> Callable[[Events], bool]:
    return lambda seen: names(seen).count(event) >= count


def test_the_daemon_collects_into_the_local_store(tmp_path: Path) -> None:
    state = state_copy(tmp_path)
    db = tmp_path / "data" / "squad.db"
    env = {"OPENCLAW_STATE_DIR": str(state), "SQUAD_CONSOLE_DB": str(db)}
    sync = subprocess.run([sys.executable, "-m", "console", "agents", "sync"], env={**os.environ, **env},
                          capture_output=True, text=True)
    assert sync.returncode == 0, sync.stderr
    # until each agent's beats are collected, the gateway probed and every agent's flip recorded
    code, events = run_daemon(env, lambda seen: has("beats_collected", 3)(seen) and has("agent_flip", 3)(seen)
                              and "gateway_down" in names(seen))
    assert code == 0
    logged = names(events)
    assert logged[0] == "started" and logged[-1] == "stopped"
    assert all({"ts", "level", "event"} <= set(e) for e in events)
    collected = {e["agent"]: e for e in events if e["event"] == "beats_collected"}
    assert set(collected) == {"cestra", "veda", "orin"}
    assert collected["veda"]["recorded"] == 4
    assert "gateway_down" in logged  # nothing listens on the fixture's gateway port

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
    code, events = run_daemon(env, has("beats_collected", 3), store="convex")
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
        def delivered(seen: Events) -> int:
            return sum(e.get("delivered", 0) for e in seen if e["event"] == "outbox_flushed")

        code, events = run_daemon(env, lambda seen: delivered(seen) >= 12, store="convex",
                                  during=lambda: servers.append(ConvexTestServer(port=port)),
                                  during_when=has("beats_collected", 3))
        assert code == 0
        queued = sum(e.get("queued", 0) for e in events if e["event"] == "beats_collected")
        assert queued == 12 and "outbox_flushed" in names(events)
        assert delivered(events) == 13  # the 12 beats and the snapshot of the squad's jobs (an activity)
        beats = ConvexStore(f"http://127.0.0.1:{port}", ADMIN_KEY).list_heartbeats(limit=100)
        assert len(beats) == 12 and len({b.run_id for b in beats}) == 12
    finally:
        for server in servers:
            server.stop()


def test_sigterm_stops_it_promptly(tmp_path: Path) -> None:
    env = {"OPENCLAW_STATE_DIR": str(state_copy(tmp_path)), "SQUAD_CONSOLE_DB": str(tmp_path / "d" / "squad.db")}
    started = time.monotonic()
    code, events = run_daemon(env, has("started"))
    assert code == 0 and time.monotonic() - started < 10
    assert events[-1]["event"] == "stopped"


def test_an_unreadable_state_folder_is_logged_not_fatal(tmp_path: Path) -> None:
    env = {"OPENCLAW_STATE_DIR": str(tmp_path / "nowhere"), "SQUAD_CONSOLE_DB": str(tmp_path / "d" / "squad.db")}
    code, events = run_daemon(env, lambda seen: len(seen) >= 2)  # started, then a failed collection logged
    assert code == 0
    assert [e["event"] for e in events][0] == "started"

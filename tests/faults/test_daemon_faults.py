"""The daemon (`squad-console service`, a real subprocess) against the fault proxy.

OpenClaw keeps writing runs into the fixture state folder and a scheduler keeps pushing beats with
`squad-console heartbeat beat` while the proxy goes through every fault, including a write that
Convex applied but whose reply was cut or never came; then the proxy is healthy again. The store
must end with exactly the expected heartbeats: the outbox loses nothing and doubles nothing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from console.service.store.convex import ConvexStore
from console.service.models import AgentSpec
from tests.conftest import ADMIN_KEY
from tests.openclaw_fixture import copy_state
from tests.faults.conftest import SECRET, assert_no_secret
from tests.faults.proxy import FaultProxy
from tests.waiting import DEADLINE, LineReader, wait_until

JOBS = {  # the fixture's heartbeat cron jobs, one per agent
    "cestra": "0b7e3c52-9a41-4f0e-8c2d-6a5f1e9d3c01",
    "veda": "4d2a9f17-6e83-4b5c-a1f0-7c3e8b2d5a02",
    "orin": "9c5e1b84-2f7a-4d39-b6e2-1a8d4c7f0e03",
}
# "error" first, from healthy: a function error is not a reason to queue (the outbox would set
# the item aside as refused for good, see test_a_function_error_during_delivery_is_set_aside);
# "403" next, while a refused push is still quick to tell (after 429 a push may still be waiting
# out Retry-After); then every transport fault back to back, each with new runs and a push.
PHASES = ["error", "403", "refuse", "hang", "500", "503", "429", "garbage", "cut", "hang_after"]
REFUSED = {"error": "overloaded", "403": "deploy key"}  # a push the store refused: the caller is told


def fixture_run_ids(state: Path) -> set[str]:
    ids = set()
    for agent, job in JOBS.items():
        for line in (state / "cron" / "runs" / f"{job}.jsonl").read_text().splitlines():
            try:
                run = json.loads(line)
            except ValueError:
                continue  # orin's truncated line: OpenClaw was writing it
            ids.add(f"openclaw:{job}:{int(run['runAtMs'])}")
    return ids


def append_run(state: Path, agent: str, at_ms: int, *, failed: bool) -> str:
    job = JOBS[agent]
    run = {"ts": at_ms + 15_000, "jobId": job, "action": "finished", "status": "ok", "summary": "HEARTBEAT_OK",
           "sessionId": f"{job[:8]}-{at_ms}", "sessionKey": f"agent:{agent}:cron:{job}", "runAtMs": at_ms,
           "durationMs": 15_000, "model": "claude-haiku-4-5", "delivered": not failed,
           "deliveryStatus": "not-delivered" if failed else "delivered"}
    if failed:
        run["deliveryError"] = "Connection Failure"
    path = state / "cron" / "runs" / f"{job}.jsonl"
    text = path.read_text()
    with path.open("a") as f:
        f.write(("" if text.endswith("\n") else "\n") + json.dumps(run) + "\n")
    return f"openclaw:{job}:{at_ms}"


def outbox_state(path: Path) -> tuple[int, int]:
    if not path.exists():
        return 0, 0
    db = sqlite3.connect(path, timeout=5)
    try:
        return db.execute("SELECT count(*) FROM items").fetchone()[0], db.execute("SELECT count(*) FROM dead").fetchone()[0]
    finally:
        db.close()


def events_of(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def count(lines: list[str], event: str) -> int:
    return sum(e["event"] == event for e in events_of(lines))


def test_the_daemon_rides_out_every_fault_and_the_outbox_neither_loses_nor_doubles(
    proxy: FaultProxy, convex_server, tmp_path: Path
) -> None:
    state = tmp_path / "openclaw-state"
    copy_state("list-form", state)
    data = tmp_path / "data"
    config = tmp_path / "squad.toml"
    config.write_text(f'[store]\nkind = "convex"\ntimeout = "0.4s"\n[openclaw]\nstate_dir = "{state}"\n')
    env = {**os.environ, "SQUAD_CONSOLE_CONFIG": str(config), "SQUAD_CONSOLE_DB": str(data / "squad.db"),
           "CONVEX_URL": proxy.url, "CONVEX_DEPLOY_KEY": SECRET}
    real = ConvexStore(convex_server.url, ADMIN_KEY)
    for agent in JOBS:  # registered, so the daemon's evaluation records flips too
        real.upsert_agent(AgentSpec(agent, agent.upper()))

    expected = fixture_run_ids(state)
    assert len(expected) == 12
    # --verbose: every job run is logged (collect_done, flush_done), the events the phases wait for
    daemon = subprocess.Popen(
        [sys.executable, "-m", "console", "service", "--collect-every", "0.25", "--flush-every", "0.25",
         "--evaluate-every", "0.5", "--probe-every", "600", "--verbose"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert daemon.stdout is not None and daemon.stderr is not None
    log, stdout = LineReader(daemon.stderr), LineReader(daemon.stdout)
    pushes: list[tuple[str, str, subprocess.Popen]] = []
    refused_pushes: list[tuple[str, subprocess.CompletedProcess]] = []  # (mode, result)
    try:
        wait_until(lambda: daemon.poll() is not None or {b.run_id for b in real.list_heartbeats(limit=1000)} == expected,
                   "the first collection", every=0.1, detail=lambda: "\n".join(log.snapshot()[-40:]))
        assert daemon.poll() is None, "the daemon ended:\n" + "\n".join(log.snapshot()[-40:])

        base = int(time.time() * 1000) - 600_000
        for i, mode in enumerate(PHASES):
            proxy.set_mode(mode)
            for k, agent in enumerate(JOBS):
                expected.add(append_run(state, agent, base + i * 10_000 + k * 1000, failed=(i + k) % 3 == 0))
            run_id = f"push-{mode}"
            argv = [sys.executable, "-m", "console", "heartbeat", "beat", "veda", "--run-id", run_id,
                    "--duration", "1200"]
            if mode in REFUSED:  # a refusal in words reaches the caller, who knows it was not recorded
                done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
                refused_pushes.append((mode, done))
            else:
                pushes.append((mode, run_id, subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                                               stderr=subprocess.PIPE, text=True)))
            # the phase lasts until the daemon has met this fault: a whole collection that started
            # after the runs were written (two more ends of the collect job), and a call through the
            # proxy in this mode (refuse never reaches it)
            collected = count(log.snapshot(), "collect_done")
            log.wait_for(lambda lines: count(lines, "collect_done") >= collected + 2,
                         f"two collections under {mode}")
            if mode != "refuse":
                wait_until(lambda: proxy.hits[mode] >= 1, f"a call under {mode}")
        proxy.set_mode("healthy")

        for mode, run_id, p in pushes:
            out, err = p.communicate(timeout=30)
            assert p.returncode == 0, f"{mode}: {out}{err}"
            assert ("queued" in out) or ("recorded" in out), out
            assert_no_secret(out + err, f"the push's output in {mode}")
            expected.add(run_id)
        for mode, done in refused_pushes:
            assert done.returncode != 0 and REFUSED[mode] in done.stderr, done.stdout + done.stderr
            assert_no_secret(done.stdout + done.stderr, "a refused push's output")

        def delivered() -> bool:
            stored = {b.run_id for b in real.list_heartbeats(limit=1000)}
            return stored >= expected and outbox_state(data / "outbox.db")[0] == 0

        wait_until(delivered, "every beat delivered after the faults", every=0.2, detail=lambda: (
            f"missing {sorted(expected - {b.run_id for b in real.list_heartbeats(limit=1000)})}, "
            f"{outbox_state(data / 'outbox.db')[0]} pending"))
        # a few more flushes and collections: nothing more may arrive
        lines = log.snapshot()
        collected, flushed = count(lines, "collect_done"), count(lines, "flush_done")
        log.wait_for(lambda lines: count(lines, "collect_done") >= collected + 2
                     and count(lines, "flush_done") >= flushed + 2, "two more collections and flushes")
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        err, out = log.join(), stdout.join()
        for _, _, p in pushes:
            if p.poll() is None:
                p.kill()
                p.communicate()

    assert daemon.returncode == 0, err[-2000:]
    assert_no_secret(out + err, "the daemon's logs")
    assert not [line for line in err.splitlines() if line and not line.startswith("{")], err[-2000:]
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    names = Counter(e["event"] for e in events)
    assert names["outbox_flushed"] >= 1 and names["outbox_waiting"] >= 1
    assert names["collect_store_error"] >= 1  # the function error, logged with its words

    # every fault was met by real calls
    assert all(proxy.hits[m] >= 1 for m in PHASES if m != "refuse"), dict(proxy.hits)
    # Convex applied some beats whose reply was cut or never came: the cases that could double
    assert proxy.applied_unanswered["console/heartbeats:record"] >= 1, dict(proxy.applied_unanswered)
    assert "connection refused" in err  # the refusal is never seen by the proxy: the daemon met it

    beats = real.list_heartbeats(limit=1000)
    counts = Counter(b.run_id for b in beats)
    assert [r for r, n in counts.items() if n > 1] == []  # nothing doubled
    assert set(counts) == expected  # nothing lost, nothing extra
    assert outbox_state(data / "outbox.db") == (0, 0)
    # each failed beat wrote its activity once
    failed = [a for a in real.list_activities(1000) if a.type == "heartbeat_failed"]
    assert len(failed) == sum(b.outcome == "error" for b in beats)
    assert len({a.target_id for a in failed}) == len(failed)
    # flips chain: no transition recorded twice
    for agent in JOBS:
        flips = real.list_flips(agent)
        assert all(a.to_status != b.to_status for a, b in zip(flips, flips[1:])), flips
        assert all(a.to_status == b.from_status for a, b in zip(flips, flips[1:])), flips
    print(f"\ndaemon under faults: {len(beats)} beats ({len(expected) - 12} during the faults), "
          f"{sum(proxy.hits.values())} calls through the proxy {dict(proxy.hits)}, "
          f"{sum(proxy.applied_unanswered.values())} applied but unanswered, {names['outbox_flushed']} outbox deliveries, {len(failed)} failure activities, "
          f"flips {sum(len(real.list_flips(a)) for a in JOBS)}")


def test_a_function_error_during_delivery_is_set_aside(proxy: FaultProxy, convex_server, tmp_path: Path) -> None:
    """What the ordering above avoids: a `status: "error"` answer while a beat waits in the outbox
    moves it to `dead` (the outbox takes a function error as a refusal of that item for good), so
    it is kept with its error but never delivered by itself."""
    from console.service.models import HeartbeatIn
    from console.service.store.outbox import Outbox

    outbox = Outbox(tmp_path / "outbox.db")
    store = ConvexStore(proxy.url, SECRET, timeout=0.4, max_retries=0)
    outbox.put_heartbeat(HeartbeatIn("veda", time.time() * 1000, run_id="waiting"))
    proxy.set_mode("error")
    result = outbox.flush(store)
    assert (result.delivered, result.remaining, result.dead) == (0, 0, 1)
    dead = outbox.dead_items()
    assert dead[0]["payload"]["run_id"] == "waiting" and "overloaded" in dead[0]["error"]
    proxy.set_mode("healthy")
    assert outbox.flush(store).delivered == 0
    assert ConvexStore(convex_server.url, ADMIN_KEY).list_heartbeats() == []
    outbox.close()

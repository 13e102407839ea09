"""SQLite under concurrency: the daemon and two consoles on one LocalStore file, in accelerated time.

Three processes share one store file, as on a real host:

- the daemon records a heartbeat every two squad minutes for each of N agents (one agent misses a
  slot, one fails every second run), evaluates the squad (real `Daemon.evaluate`: flips), audits
  now and then (real `Daemon._audit`: the outbox when the store is unavailable), records through
  the real `record_beat` (the outbox on StoreUnavailable) and flushes the outbox (`Daemon.flush`);
- two consoles poll `snapshot(marks)` through the real `Poller` every 50 ms, following the marks,
  and write as an operator does: tasks created and moved, notes, messages.

The clock runs `--accel` times faster than real time (15×: 20 s of real time are five minutes of
squad time). A write that raised StoreUnavailable ("database is locked") is counted, then retried
until it succeeds. At the end, the file is checked against what every process was told:

- every acknowledged write is in the file, once (heartbeats by run id, notes by text, tasks with
  their last acknowledged status, messages and activities by id);
- each console's stream of appended rows (heartbeats, activities, flips, messages), read through
  its marks, is exactly the file's rows after its first mark: every row once, in order.

    .venv/bin/python benchmarks/concurrency.py [--seconds 20] [--accel 15] [--agents 120] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

APPEND_TABLES = ("heartbeats", "activities", "flips", "messages")
PREFIX = {"heartbeats": "h", "activities": "e", "flips": "f", "messages": "m", "tasks": "t"}
STATUSES = ("inbox", "assigned", "in_progress", "review", "done")
PERIOD = 120.0  # each agent beats every two squad minutes ("*/2 * * * *")


# ---------------------------------------------------------------------------------- shared bits
class Clock:
    """Squad time: real time since `go`, `accel` times faster."""

    def __init__(self, go: float, accel: float) -> None:
        self.go, self.accel = go, accel

    def seconds(self) -> float:
        return self.go + (time.time() - self.go) * self.accel

    def ms(self) -> float:
        return self.seconds() * 1000


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.jobs: list[float] = []  # the daemon's evaluate and flush: reads and several writes
        self.unavailable = 0  # StoreUnavailable raised to this process's code (then retried)
        self.unavailable_texts: list[str] = []
        self.abandoned = 0
        self.unexpected: list[str] = []
        self.writes = 0

    def call(self, fn, *args, job: bool = False, **kwargs):
        """One write (or a job of several, `job=True`): retried on StoreUnavailable (counted) until it
        succeeds."""
        from console.service.store import StoreUnavailable

        started = time.perf_counter()
        for _ in range(200):
            try:
                out = fn(*args, **kwargs)
            except StoreUnavailable as exc:
                self.unavailable += 1
                self.unavailable_texts.append(str(exc)[:200])
                time.sleep(min(exc.retry_after or 0.05, 0.2))
                continue
            if job:
                self.jobs.append(time.perf_counter() - started)
            else:
                self.latencies.append(time.perf_counter() - started)
                self.writes += 1
            return out
        self.abandoned += 1
        return None

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "writes": self.writes,
            "unavailable": self.unavailable,
            "unavailable_texts": self.unavailable_texts[:5],
            "abandoned": self.abandoned,
            "unexpected": self.unexpected[:5],
            "max_write_ms": round(lat[-1] * 1000, 1) if lat else 0.0,
            "p99_write_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 1) if lat else 0.0,
            "median_write_ms": round(statistics.median(lat) * 1000, 2) if lat else 0.0,
            "max_job_ms": round(max(self.jobs) * 1000, 1) if self.jobs else 0.0,
            "jobs": len(self.jobs),
        }


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {path.name}")
        time.sleep(0.01)


def squad_toml(path: Path, agents: int) -> Path:
    lines = ['[openclaw]\nstate_dir = "/nonexistent/openclaw"\n']
    for i in range(agents):
        lines.append(f'[[agents]]\nid = "a{i:03d}"\nname = "Agent {i}"\nheartbeat = "*/2 * * * *"\ngrace = "20s"\n')
    path.write_text("".join(lines))
    return path


# ------------------------------------------------------------------------------------ the daemon
def run_daemon(args: argparse.Namespace) -> None:
    from console.config import load_settings
    from console.service.daemon import Daemon
    from console.service.store.sqlite import LocalStore
    from console.service.models import HeartbeatIn
    from console.service.store.outbox import Outbox, record_beat

    ctl = Path(args.ctl)
    settings = load_settings(Path(args.config), env={})
    (ctl / "ready-daemon").touch()
    wait_for(ctl / "go")
    clock = Clock(float((ctl / "go").read_text()), args.accel)
    store = LocalStore(args.db, clock=clock.ms)
    outbox = Outbox(args.outbox, clock=time.time)
    daemon = Daemon(settings, store, outbox, clock=clock.seconds)
    tally = Tally()
    agents = [a.id for a in settings.agents]
    n = len(agents)
    start = clock.seconds()
    first_slot = (start // PERIOD + 1) * PERIOD
    next_beat = {a: first_slot + 1 + (i * 7) % 15 for i, a in enumerate(agents)}  # 1-15 s after the slot
    beats_by_agent = dict.fromkeys(agents, 0)
    acked: dict[str, str] = {}  # run id -> recorded | duplicate | queued
    notes: list[str] = []
    next_eval = start + 30.0
    next_audit = start + 20.0
    next_flush = time.monotonic() + 0.5
    quiet = agents[0]  # misses its slot at squad minute 2: flipped down, then up again
    while not (ctl / "stop-writing").exists():
        now = clock.seconds()
        for agent in agents:
            if next_beat[agent] > now:
                continue
            ran = next_beat[agent]
            next_beat[agent] += PERIOD
            slot = ran // PERIOD * PERIOD
            minute = (slot - first_slot) / 60
            if agent == quiet and minute == 2:
                continue
            k = beats_by_agent[agent] = beats_by_agent[agent] + 1
            failed = agent == agents[1 % n] and k % 2 == 0
            beat = HeartbeatIn(agent, ran * 1000, outcome="error" if failed else "ok", source="openclaw",
                               run_id=f"sim:{agent}:{int(slot)}", duration_ms=2_000.0,
                               error="delivery failed: 401" if failed else None)
            try:
                acked[beat.run_id] = tally.call(record_beat, store, outbox, beat)
            except Exception as exc:  # a refused value: nothing is expected to refuse
                tally.unexpected.append(f"record_beat: {type(exc).__name__}: {exc}")
        if now >= next_eval:
            next_eval += 30.0
            try:
                tally.call(daemon.evaluate, job=True)
            except Exception as exc:
                tally.unexpected.append(f"evaluate: {type(exc).__name__}: {exc}")
        if now >= next_audit:
            next_audit += 20.0
            note = f"daemon-note-{len(notes)}"
            tally.call(daemon._audit, "probe_note", note)  # the outbox when the store is away
            notes.append(note)
        if time.monotonic() >= next_flush:
            next_flush = time.monotonic() + 0.5
            tally.call(daemon.flush, job=True)
        time.sleep(0.01)
    for _ in range(100):  # deliver whatever waits before saying "done"
        if not outbox.pending():
            break
        daemon.flush()
        time.sleep(0.05)
    result = {"role": "daemon", **tally.summary(), "acked": acked, "notes": notes,
              "queued": sum(v == "queued" for v in acked.values()), "outbox_left": outbox.pending(),
              "dead": len(outbox.dead_items()), "squad_seconds": clock.seconds() - start}
    Path(args.result).write_text(json.dumps(result))
    (ctl / "done-daemon").touch()
    outbox.close()
    store.close()


# ---------------------------------------------------------------------------------- the consoles
def run_console(args: argparse.Namespace) -> None:
    from console.service.store.sqlite import LocalStore
    from console.service.poller import Poller

    ctl = Path(args.ctl)
    name = f"console{args.index}"
    holder: dict[str, Clock] = {}
    store = LocalStore(args.db, clock=lambda: holder["c"].ms() if "c" in holder else time.time() * 1000)
    poller = Poller(store, interval=0.05, idle_interval=0.05,
                    clock=lambda: holder["c"].seconds() if "c" in holder else time.time())
    first = poller.poll_once()
    assert first.ok, first.error
    while first.snapshot is not None and first.snapshot.has_more:
        first = poller.poll_once()
    initial = {t: int(poller.marks.get(t) or 0) for t in APPEND_TABLES}
    streams: dict[str, list[str]] = {t: [] for t in APPEND_TABLES}
    poll_errors: list[str] = []
    poll_ms: list[float] = []
    polls = 0

    def poll() -> bool:
        """One poll; True when there may be more right now (hasMore) or it failed."""
        nonlocal polls
        result = poller.poll_once()
        polls += 1
        poll_ms.append(result.duration * 1000)
        if not result.ok:
            poll_errors.append(str(result.error)[:200])
            return True
        for t in APPEND_TABLES:
            streams[t].extend(r.id for r in getattr(result.snapshot, t))
        return result.snapshot.has_more

    (ctl / f"ready-{name}").touch()
    wait_for(ctl / "go")
    holder["c"] = Clock(float((ctl / "go").read_text()), args.accel)
    tally = Tally()
    agents = [f"a{i:03d}" for i in range(args.agents)]
    tasks: dict[str, str] = {}  # id -> last acknowledged status
    activity_ids: list[str] = []
    message_ids: list[str] = []
    notes: list[str] = []
    i = 0
    next_poll = next_write = time.monotonic()
    writing = True
    while True:
        now = time.monotonic()
        if writing and (ctl / "stop-writing").exists():
            writing = False
            (ctl / f"done-{name}").touch()
        if not writing and (ctl / "drain").exists():
            break
        if now >= next_poll:
            next_poll = now if poll() else now + 0.05
        if writing and now >= next_write:
            next_write = now + args.write_every
            i += 1
            op = i % 4
            mine = [t for t, s in tasks.items() if s != "done"]
            try:
                if op == 1 or not mine:
                    t = tally.call(store.create_task, f"{name}-task-{i}", "from the concurrency run",
                                   assignee_ids=[store_agent_id(store, agents[i % len(agents)])] if i % 2 else [])
                    if t is not None:
                        tasks[t.id] = t.status
                elif op == 2:
                    tid = mine[i % len(mine)]
                    status = STATUSES[min(STATUSES.index(tasks[tid]) + 1, len(STATUSES) - 1)]
                    t = tally.call(store.update_task, tid, status=status)
                    if t is not None:
                        tasks[tid] = t.status
                elif op == 3:
                    note = f"{name}-note-{i}"
                    a = tally.call(store.log_activity, "note", note, target_id=mine[0])
                    if a is not None:
                        activity_ids.append(a.id)
                        notes.append(note)
                else:
                    m = tally.call(store.send_message, mine[-1], store_agent_id(store, agents[i % len(agents)]),
                                   f"{name}-message-{i}")
                    if m is not None:
                        message_ids.append(m.id)
            except Exception as exc:
                tally.unexpected.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.005)
    # every writer has stopped: follow the marks to the end
    for _ in range(1000):
        before = {t: len(v) for t, v in streams.items()}
        more = poll()
        if not more and {t: len(v) for t, v in streams.items()} == before:
            break
    final_tasks = {t.id: t.status for t in poller.state.tasks.values()}
    lat = sorted(poll_ms)
    result = {"role": name, **tally.summary(), "polls": polls, "poll_errors": poll_errors,
              "max_poll_ms": round(lat[-1], 1) if lat else 0.0,
              "median_poll_ms": round(statistics.median(lat), 2) if lat else 0.0,
              "initial_marks": initial, "streams": streams, "tasks": tasks, "final_tasks": final_tasks,
              "activity_ids": activity_ids, "message_ids": message_ids, "notes": notes}
    Path(args.result).write_text(json.dumps(result))
    store.close()


_AGENT_IDS: dict[str, str] = {}


def store_agent_id(store, agent: str) -> str:
    """The store id of an OpenClaw agent (tasks are assigned by store id)."""
    if not _AGENT_IDS:
        _AGENT_IDS.update({a.agent_id: a.id for a in store.list_agents()})
    return _AGENT_IDS[agent]


# ---------------------------------------------------------------------------------- orchestrator
def simulate(seconds: float = 20.0, accel: float = 15.0, agents: int = 120, write_every: float = 0.05,
             workdir: Path | None = None) -> dict[str, Any]:
    from console.service.store.sqlite import LocalStore
    from console.service.models import AgentSpec

    work = Path(workdir or tempfile.mkdtemp(prefix="squad-concurrency-"))
    ctl = work / "ctl"
    ctl.mkdir(parents=True, exist_ok=True)
    db = work / "squad.db"
    config = squad_toml(work / "squad.toml", agents)
    setup = LocalStore(db)
    for i in range(agents):
        setup.upsert_agent(AgentSpec(f"a{i:03d}", f"Agent {i}", heartbeat="*/2 * * * *"), actor="setup")
    setup.close()

    common = ["--db", str(db), "--ctl", str(ctl), "--accel", str(accel), "--agents", str(agents)]
    roles = [("daemon", ["--role", "daemon", "--outbox", str(work / "outbox.db"), "--config", str(config)]),
             ("console1", ["--role", "console", "--index", "1", "--write-every", str(write_every)]),
             ("console2", ["--role", "console", "--index", "2", "--write-every", str(write_every)])]
    procs = {}
    for name, extra in roles:
        procs[name] = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *common, *extra, "--result", str(work / f"{name}.json")],
            stdout=open(work / f"{name}.out", "w"), stderr=subprocess.STDOUT, cwd=str(ROOT),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        for name in procs:
            wait_for(ctl / f"ready-{name}", 60)
        started = time.time()
        (ctl / "go").write_text(repr(started))
        time.sleep(seconds)
        (ctl / "stop-writing").touch()
        for name in procs:
            wait_for(ctl / f"done-{name}", 60)
        (ctl / "drain").touch()
        for name, p in procs.items():
            p.wait(timeout=120)
        elapsed = time.time() - started
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    results = {}
    for name, p in procs.items():
        path = work / f"{name}.json"
        if p.returncode != 0 or not path.exists():
            raise RuntimeError(f"{name} failed ({p.returncode}): {(work / f'{name}.out').read_text()[-3000:]}")
        results[name] = json.loads(path.read_text())
    return verify(db, results, elapsed=elapsed, accel=accel, agents=agents)


def verify(db_path: Path, results: dict[str, dict], *, elapsed: float, accel: float, agents: int) -> dict[str, Any]:
    db = sqlite3.connect(db_path)
    problems: list[str] = []
    rows = {t: db.execute(f"SELECT seq FROM {t} ORDER BY seq").fetchall() for t in APPEND_TABLES}
    ids = {t: [f"{PREFIX[t]}{r[0]}" for r in rows[t]] for t in APPEND_TABLES}

    daemon = results["daemon"]
    run_ids = [r[0] for r in db.execute("SELECT run_id FROM heartbeats")]
    if len(run_ids) != len(set(run_ids)):
        problems.append("a heartbeat run id is stored twice")
    missing = set(daemon["acked"]) - set(run_ids)
    if missing:
        problems.append(f"{len(missing)} acknowledged heartbeats are not in the file, e.g. {sorted(missing)[:3]}")
    extra = set(run_ids) - set(daemon["acked"])
    if extra:
        problems.append(f"{len(extra)} heartbeats nobody acknowledged, e.g. {sorted(extra)[:3]}")
    if daemon["outbox_left"] or daemon["dead"]:
        problems.append(f"outbox not drained: {daemon['outbox_left']} left, {daemon['dead']} dead")
    messages = [r[0] for r in db.execute("SELECT message FROM activities")]
    counts: dict[str, int] = {}
    for m in messages:
        counts[m] = counts.get(m, 0) + 1
    for note in daemon["notes"] + results["console1"]["notes"] + results["console2"]["notes"]:
        if counts.get(note, 0) != 1:
            problems.append(f"note {note!r} is stored {counts.get(note, 0)} times")
    failed_beats = db.execute("SELECT count(*) FROM heartbeats WHERE outcome = 'error'").fetchone()[0]
    failed_acts = db.execute("SELECT count(*) FROM activities WHERE type = 'heartbeat_failed'").fetchone()[0]
    if failed_beats != failed_acts:
        problems.append(f"{failed_beats} failed beats but {failed_acts} heartbeat_failed activities")
    task_status = {f"t{seq}": status for seq, status in db.execute("SELECT seq, status FROM tasks")}
    for name in ("console1", "console2"):
        r = results[name]
        for tid, status in r["tasks"].items():
            if task_status.get(tid) != status:
                problems.append(f"{name}: task {tid} acknowledged as {status}, stored as {task_status.get(tid)}")
        for kind, table in (("activity_ids", "activities"), ("message_ids", "messages")):
            lost = set(r[kind]) - set(ids[table])
            if lost:
                problems.append(f"{name}: {len(lost)} acknowledged {table} are not in the file")
        for t in APPEND_TABLES:
            expected = [f"{PREFIX[t]}{s[0]}" for s in rows[t] if s[0] > r["initial_marks"][t]]
            seen = r["streams"][t]
            if seen != expected:
                dup = len(seen) - len(set(seen))
                problems.append(f"{name}: its {t} stream is not the file's rows once each in order "
                                f"({len(seen)} seen, {len(expected)} expected, {dup} repeated, "
                                f"{len(set(expected) - set(seen))} missed)")
        if r["final_tasks"] != task_status:
            problems.append(f"{name}: its last tasks view differs from the file")
        if r["poll_errors"]:
            problems.append(f"{name}: {len(r['poll_errors'])} polls failed, e.g. {r['poll_errors'][0]}")
    for name, r in results.items():
        if r["abandoned"]:
            problems.append(f"{name}: {r['abandoned']} writes abandoned after retries")
        if r["unexpected"]:
            problems.append(f"{name}: unexpected errors {r['unexpected']}")
    flips = db.execute("SELECT count(*) FROM flips").fetchone()[0]
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        problems.append(f"integrity_check: {integrity}")
    db.close()
    unavailable = {n: r["unavailable"] for n, r in results.items()}
    locked_texts = [t for r in results.values() for t in r["unavailable_texts"]]
    return {
        "real_seconds": round(elapsed, 1),
        "squad_minutes": round(elapsed * accel / 60, 1),
        "agents": agents,
        "writes": {n: r["writes"] for n, r in results.items()},
        "heartbeats": len(run_ids),
        "queued_in_outbox": daemon["queued"],
        "flips": flips,
        "rows": {t: len(ids[t]) for t in APPEND_TABLES} | {"tasks": len(task_status)},
        "polls": {n: results[n]["polls"] for n in ("console1", "console2")},
        "poll_errors": {n: len(results[n]["poll_errors"]) for n in ("console1", "console2")},
        "store_unavailable_raised": unavailable,
        "unavailable_examples": locked_texts[:3],
        "max_write_ms": {n: r["max_write_ms"] for n, r in results.items()},
        "p99_write_ms": {n: r["p99_write_ms"] for n, r in results.items()},
        "median_write_ms": {n: r["median_write_ms"] for n, r in results.items()},
        "max_poll_ms": {n: results[n]["max_poll_ms"] for n in ("console1", "console2")},
        "daemon_jobs": daemon["jobs"],
        "max_daemon_job_ms": daemon["max_job_ms"],
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20.0, help="real seconds of concurrent work (20)")
    p.add_argument("--accel", type=float, default=15.0, help="squad time runs this many times faster (15)")
    p.add_argument("--agents", type=int, default=120)
    p.add_argument("--write-every", type=float, default=0.05, help="a console's operator writes every S real seconds")
    p.add_argument("--json", action="store_true", help="print the rows of the bench table as JSON (last line)")
    # the roles (run by the orchestrator)
    p.add_argument("--role", choices=("daemon", "console"))
    p.add_argument("--db"), p.add_argument("--ctl"), p.add_argument("--outbox"), p.add_argument("--config")
    p.add_argument("--result"), p.add_argument("--index", type=int, default=1)
    args = p.parse_args(argv)
    if args.role == "daemon":
        run_daemon(args)
        return 0
    if args.role == "console":
        run_console(args)
        return 0
    figures = simulate(args.seconds, args.accel, args.agents, args.write_every)
    ok = not figures["problems"] and not any(figures["store_unavailable_raised"].values())
    if args.json:
        total = sum(figures["writes"].values())
        rows = [
            {"what": f"SQLite, daemon + 2 consoles, {figures['squad_minutes']:.0f} squad min: database is locked",
             "measured": sum(figures["store_unavailable_raised"].values()), "target": "0",
             "ok": not any(figures["store_unavailable_raised"].values())},
            {"what": "SQLite, daemon + 2 consoles: rows lost or doubled", "measured": len(figures["problems"]),
             "target": "0", "ok": not figures["problems"]},
            {"what": f"SQLite, {total} writes under contention: max write latency",
             "measured": f"{max(figures['max_write_ms'].values()):.0f} ms", "target": "< 5000 ms",
             "ok": max(figures["max_write_ms"].values()) < 5000},
        ]
        print(json.dumps(rows))
    else:
        print(json.dumps(figures, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

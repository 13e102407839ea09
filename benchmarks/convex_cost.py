"""What the console costs on Convex: a simulated month of the seed's squad against the project's own
functions (convex-test behind the HTTP server, its cost meter on: `convex/testing/server.ts --meter`).

The squad: the seed's three agents beating every 15 minutes (:00, :02, :04), 500 tasks (the newest
25 open, the rest done), 5,000 messages, 20,000 activities and eight days of beats already stored.
Mission Control's agents write the way they do (raw inserts and patches, no `updatedAt`): 3 task
updates an hour (a status step on an open task, with their `status_update` activity), a message an
hour (with its activity), a new task every 4 hours. The console is open all month (the Watch the TUI
runs: its poll at the adaptive interval, the health book), and the collector daemon runs beside it
(each beat recorded about a minute after its run, as `collect` does; `evaluate` and `feeds` every
60 s; the gateway probe and the outbox make no store call on a quiet month).

Simulating a month must not take a month: the clock is driven (every component takes an injected
clock; no sleep anywhere), and the steady state is sampled: the start-up (first poll and history)
is measured once, an hour runs unmeasured (the collector's first flips, new -> up, happen once in
a squad's life), then `--hours` of squad time (default 12) are simulated call by call and scaled to
30 days (the squad's load is the same every hour). Bandwidth counts what the console and the
collector read and write (each document rounded up to 1 KiB), cached query calls read nothing (the
meter's model, docs/cost.md); Mission Control's own writes are the squad's, shown apart.

It also counts the calls the console makes at start-up with 1,000 agents.

    .venv/bin/python benchmarks/convex_cost.py [--hours 12] [--json]
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.config import load_settings  # noqa: E402
from console.service.daemon import Daemon, Intervals  # noqa: E402
from console.service.models import AgentSpec, HeartbeatIn  # noqa: E402
from console.service.store.convex import ConvexStore  # noqa: E402
from console.service.store.outbox import Outbox  # noqa: E402
from console.service.watch import Watch  # noqa: E402

GIB_KIB = 1024 * 1024
MONTH_H = 30 * 24
STARTER = {"calls": 1_000_000, "gib": 1.0}
PROFESSIONAL = {"calls": 25_000_000, "gib": 50.0}
TARGET_GIB = 0.25
TARGET_CALLS = 250_000
TARGET_START_CALLS = 2
WARM_UP_H = 1.0

T0 = 1_767_225_600_000.0  # 2026-01-01T00:00Z, ms: the simulated month starts here
MINUTE = 60_000.0
HOUR = 60 * MINUTE
SEED_AGENTS = (("cestra", "Cestra", 0), ("veda", "VEDA", 2), ("orin", "ORIN", 4))
STATUS_STEPS = ("inbox", "assigned", "in_progress", "review", "done")


class MeteredServer:
    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not (ROOT / "node_modules" / "tsx").is_dir():
            raise SystemExit("needs Node and node_modules (run `make test` once)")
        self.key = "bench|" + os.urandom(8).hex()
        self.proc = subprocess.Popen(
            [node, "--import", "tsx", "convex/testing/server.ts", "--port", "0", "--key", self.key, "--meter"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        line = self.proc.stdout.readline().split()
        self.url = f"http://127.0.0.1:{line[1]}"
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.http = httpx.Client(base_url=self.url, timeout=120, headers={"Authorization": f"Convex {self.key}"})

    def store(self, tag: str, clock: Any = time.time) -> ConvexStore:
        store = ConvexStore(self.url, self.key, timeout=120, clock=clock)
        store._client.headers["x-meter-tag"] = tag
        return store

    def insert(self, table: str, doc: dict[str, Any]) -> str:
        return self.http.post("/_test/insert", json={"table": table, "doc": doc}).raise_for_status().json()["id"]

    def insert_many(self, table: str, docs: list[dict[str, Any]]) -> list[str]:
        ids: list[str] = []
        for i in range(0, len(docs), 2000):
            r = self.http.post("/_test/insertMany", json={"table": table, "docs": docs[i:i + 2000]})
            ids += r.raise_for_status().json()["ids"]
        return ids

    def patch(self, doc_id: str, fields: dict[str, Any]) -> None:
        self.http.post("/_test/patch", json={"id": doc_id, "fields": fields}).raise_for_status()

    def meter(self, reset: bool = True) -> dict[str, Any]:
        return self.http.post("/_test/meter", json={"reset": reset}).raise_for_status().json()

    def reset(self) -> None:
        self.http.post("/_test/reset").raise_for_status()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def totals(report: dict[str, Any], who: str | None = None) -> dict[str, float]:
    """Calls, cached calls and KiB read/written in a meter report, of one caller (tag) or all."""
    out = {"calls": 0, "cached": 0, "kib_read": 0, "kib_written": 0, "docs_read": 0}
    for path, t in report["byPath"].items():
        tag = path.split(" ", 1)[0] if " " in path else "raw"
        if who is not None and tag != who:
            continue
        out["calls"] += t["calls"]
        out["cached"] += t["cached"]
        out["kib_read"] += t["kibRead"]
        out["kib_written"] += t["kibWritten"]
        out["docs_read"] += t["docsRead"]
    return out


def write_config(folder: Path) -> Path:
    lines = ['[store]\npoll_interval = "5s"\npoll_interval_idle = "30s"\n',
             f'[openclaw]\nstate_dir = "{folder / "openclaw"}"\n']
    for agent_id, name, offset in SEED_AGENTS:
        cron = "*/15 * * * *" if offset == 0 else f"{offset}-59/15 * * * *"
        lines.append(f'[[agents]]\nid = "{agent_id}"\nname = "{name}"\nheartbeat = "{cron}"\n')
    path = folder / "squad.toml"
    path.write_text("\n".join(lines))
    return path


def seed_squad(server: MeteredServer, rng: random.Random) -> dict[str, Any]:
    """The month's starting state, written raw (as it would have accumulated)."""
    console = server.store("seed")
    agent_docs = {}
    for agent_id, name, offset in SEED_AGENTS:
        cron = "*/15 * * * *" if offset == 0 else f"{offset}-59/15 * * * *"
        agent, _, _ = console.upsert_agent(AgentSpec(agent_id, name, "seed", heartbeat=cron, tz="UTC",
                                                     grace_seconds=300))
        agent_docs[agent_id] = agent.id
    console.close()
    doc_ids = list(agent_docs.values())
    tasks = []
    for i in range(500):
        status = "done" if i < 475 else STATUS_STEPS[i % 4]
        tasks.append({"title": f"Task {i}: {'pricing page teardown' if i % 3 else 'survey founders'}",
                      "description": "Compare the competitors' pricing pages and note the changes. " * 2,
                      "status": status, "assigneeIds": [doc_ids[i % 3]] if status != "inbox" else []})
    task_ids = server.insert_many("tasks", tasks)
    server.insert_many("messages", [
        {"taskId": task_ids[rng.randrange(500)], "fromAgentId": doc_ids[i % 3],
         "content": f"Update {i}: first pass done, numbers in the doc; @cestra please review.", "attachments": []}
        for i in range(5000)])
    server.insert_many("activities", [
        {"type": "status_update", "agentId": doc_ids[i % 3], "message": f"moved task {i % 500} along"}
        for i in range(20000)])
    beats = []
    for agent_id, _, offset in SEED_AGENTS:
        slot = T0 - 8 * 24 * HOUR + offset * MINUTE
        while slot < T0:
            beats.append({"agentId": agent_id, "at": slot + 30_000, "outcome": "ok", "source": "openclaw",
                          "runId": f"seed:{agent_id}:{int(slot)}", "durationMs": 30_000.0,
                          "tokens": 2000.0, "costUsd": 0.003})
            slot += 15 * MINUTE
    beats.sort(key=lambda b: b["at"])
    server.insert_many("heartbeats", beats)
    upgrade = server.store("seed")
    upgrade.rebuild_history()  # a deployment that had beats before the compact history: once in its life
    upgrade.close()
    open_tasks = [(task_ids[i], STATUS_STEPS.index(tasks[i]["status"])) for i in range(475, 500)]
    return {"agents": agent_docs, "open": dict(open_tasks), "tasks": task_ids}


class Month:
    """The squad, the console and the collector on one driven clock (seconds)."""

    def __init__(self, server: MeteredServer, folder: Path, squad: dict[str, Any], rng: random.Random) -> None:
        self.server = server
        self.squad = squad
        self.rng = rng
        self.now = T0 / 1000
        clock = lambda: self.now  # noqa: E731
        settings = load_settings(write_config(folder), env={})
        self.console = server.store("console", clock)
        self.collector = server.store("collector", clock)
        self.watch = Watch(settings, self.console, clock=clock, probe_openclaw=False)
        self.outbox = Outbox(folder / "outbox.db", clock=clock)
        self.daemon = Daemon(settings, self.collector, self.outbox, intervals=Intervals(), clock=clock)
        self.events: list[tuple[float, int, str]] = []
        self.seq = 0
        self.polls = 0
        self.mc_writes = 0

    def at(self, when: float, what: str) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, what))

    def start(self) -> None:
        """The console's start-up: its first poll (and the history the screens need)."""
        result = self.watch.step()
        self.polls += 1
        self.at(self.now + result.poll.next_delay, "poll")
        for agent_id, _, offset in SEED_AGENTS:
            first = (T0 // (15 * MINUTE)) * 15 * MINUTE + offset * MINUTE
            while first < T0:
                first += 15 * MINUTE
            self.at(first / 1000 + 60, f"beat:{agent_id}:{first}")
        self.at(self.now + 60, "evaluate")
        self.at(self.now + 60, "feeds")
        self.at(self.now + self.rng.expovariate(3 / 3600), "task_update")
        self.at(self.now + self.rng.expovariate(1 / 3600), "message")
        self.at(self.now + 4 * 3600, "new_task")

    def run_until(self, end: float) -> None:
        while self.events and self.events[0][0] < end:
            when, _, what = heapq.heappop(self.events)
            self.now = when
            self.handle(what)

    def handle(self, what: str) -> None:
        if what == "poll":
            result = self.watch.step()
            self.polls += 1
            self.at(self.now + max(0.05, result.poll.next_delay), "poll")
        elif what.startswith("beat:"):
            _, agent_id, slot = what.split(":")
            slot_ms = float(slot)
            beat = HeartbeatIn(agent_id, slot_ms + 30_000, source="openclaw", run_id=f"cron:{agent_id}:{int(slot_ms)}",
                               duration_ms=30_000, tokens=2000, cost_usd=0.003, model="claude-haiku-4-5")
            self.collector.record_heartbeat(beat)
            self.at(self.now + 15 * 60, f"beat:{agent_id}:{slot_ms + 15 * MINUTE}")
        elif what == "evaluate":
            self.daemon.evaluate()
            self.at(self.now + self.daemon.intervals.evaluate, "evaluate")
        elif what == "feeds":
            self.daemon.feeds()
            self.at(self.now + self.daemon.intervals.feeds, "feeds")
        elif what == "task_update":
            self.task_update()
            self.at(self.now + self.rng.expovariate(3 / 3600), "task_update")
        elif what == "message":
            self.message()
            self.at(self.now + self.rng.expovariate(1 / 3600), "message")
        elif what == "new_task":
            task_id = self.server.insert("tasks", {"title": "New lead from the feeds", "description": "triage",
                                                   "status": "inbox", "assigneeIds": []})
            self.squad["open"][task_id] = 0
            self.server.insert("activities", {"type": "task_created", "message": "created a task"})
            self.mc_writes += 2
            self.at(self.now + 4 * 3600, "new_task")

    def task_update(self) -> None:
        """A Mission Control agent moves an open task one step (`npx convex run tasks:update`)."""
        open_tasks = self.squad["open"]
        task_id = self.rng.choice(sorted(open_tasks))
        step = open_tasks[task_id] + 1
        agent = self.rng.choice(sorted(self.squad["agents"].values()))
        fields: dict[str, Any] = {"status": STATUS_STEPS[step]}
        if step == 1:
            fields["assigneeIds"] = [agent]
        self.server.patch(task_id, fields)
        self.server.insert("activities", {"type": "status_update", "agentId": agent,
                                          "message": f"moved a task to {STATUS_STEPS[step]}"})
        self.mc_writes += 2
        if step == len(STATUS_STEPS) - 1:
            del open_tasks[task_id]
        else:
            open_tasks[task_id] = step

    def message(self) -> None:
        agent = self.rng.choice(sorted(self.squad["agents"].values()))
        task_id = self.rng.choice(sorted(self.squad["open"]))
        self.server.insert("messages", {"taskId": task_id, "fromAgentId": agent,
                                        "content": "Progress note: numbers updated.", "attachments": []})
        self.server.insert("activities", {"type": "message_sent", "agentId": agent, "message": "commented"})
        self.mc_writes += 2

    def close(self) -> None:
        self.console.close()
        self.collector.close()
        self.outbox.close()


def simulate_month(hours: float, seed: int = 16) -> dict[str, Any]:
    server = MeteredServer()
    folder = Path(tempfile.mkdtemp(prefix="squad-cost-"))
    try:
        rng = random.Random(seed)
        squad = seed_squad(server, rng)
        server.meter(reset=True)
        month = Month(server, folder, squad, rng)
        wall = time.perf_counter()
        month.start()
        startup = server.meter(reset=True)
        month.run_until(month.now + WARM_UP_H * 3600)  # the collector's first flips (new -> up) are once a life
        server.meter(reset=True)
        month.polls = 0
        month.run_until(month.now + hours * 3600)
        steady = server.meter(reset=True)
        wall = time.perf_counter() - wall
        month.close()
        scale = MONTH_H / hours
        start_console = totals(startup, "console")
        parts = {who: totals(steady, who) for who in ("console", "collector", "raw")}
        calls = start_console["calls"] + scale * (parts["console"]["calls"] + parts["collector"]["calls"])
        kib = (start_console["kib_read"] + start_console["kib_written"]
               + scale * sum(parts[w]["kib_read"] + parts[w]["kib_written"] for w in ("console", "collector")))
        by_path = {}
        for path, t in steady["byPath"].items():
            by_path[path] = {"calls_month": t["calls"] * scale, "cached_share": t["cached"] / max(1, t["calls"]),
                             "gib_month": (t["kibRead"] + t["kibWritten"]) * scale / GIB_KIB}
        return {
            "hours": hours,
            "scale": scale,
            "wall_s": wall,
            "polls_month": month.polls * scale,
            "calls_month": calls,
            "gib_month": kib / GIB_KIB,
            "startup_calls": start_console["calls"],
            "startup_mib": (start_console["kib_read"] + start_console["kib_written"]) / 1024,
            "console": {k: v * scale for k, v in parts["console"].items()},
            "collector": {k: v * scale for k, v in parts["collector"].items()},
            "mission_control": {k: v * scale for k, v in parts["raw"].items()},
            "by_path": by_path,
        }
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def startup_calls(agents: int) -> int:
    """Store calls of the console's first poll (start-up) with `agents` agents registered."""
    server = MeteredServer()
    folder = Path(tempfile.mkdtemp(prefix="squad-cost-start-"))
    try:
        docs = [{"name": f"Agent {i}", "role": "bench", "status": "idle", "sessionKey": f"agent:agent-{i:04d}:main",
                 "agentId": f"agent-{i:04d}", "heartbeat": "*/15 * * * *"} for i in range(agents)]
        server.insert_many("agents", docs)
        # eight days of 15-minute beats for every agent, as the compact history keeps them
        # (heartbeats:record keeps it; writing 768,000 beats one by one would take the benchmark hours)
        day_ms = 24 * HOUR
        first_day = (T0 - 8 * day_ms) // day_ms * day_ms
        days = []
        for i in range(agents):
            for d in range(9):
                day = first_day + d * day_ms
                offsets = [k * 15 * MINUTE + 30_000 for k in range(96) if first_day <= day + k * 15 * MINUTE < T0]
                runs = "".join(_b36(int(o)).rjust(6, "0") + "o" for o in offsets)
                days.append({"agentId": f"agent-{i:04d}", "day": day, "runs": runs,
                             "tokens": ",".join(_b36(2000) for _ in offsets), "cost": ",".join(_b36(3000) for _ in offsets)})
        server.insert_many("heartbeatDays", days)
        settings = load_settings(write_config(folder), env={})
        store = server.store("console", lambda: T0 / 1000)
        watch = Watch(settings, store, clock=lambda: T0 / 1000, probe_openclaw=False)
        before = store.calls
        watch.step()
        calls = store.calls - before
        assert watch.book is not None and watch.book.beat_count() > agents * 700, "the history did not load"
        store.close()
        return calls
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=12.0, help="squad hours simulated call by call (scaled to 30 days)")
    parser.add_argument("--start-agents", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON (for make bench)")
    args = parser.parse_args()

    month = simulate_month(args.hours)
    start = startup_calls(args.start_agents)
    plans = (f"Starter {STARTER['gib']:g} GiB, Professional {PROFESSIONAL['gib']:g} GiB")
    rows = [
        ("Convex DB bandwidth a month, seed squad (console + collector)",
         f"{month['gib_month']:.3f} GiB ({plans})", f"<= {TARGET_GIB} GiB", month["gib_month"] <= TARGET_GIB),
        ("Convex function calls a month, console + collector",
         f"{month['calls_month']:,.0f} (Starter 1M, Professional 25M)", f"<= {TARGET_CALLS:,}",
         month["calls_month"] <= TARGET_CALLS),
        (f"calls at start-up, {args.start_agents:,} agents", f"{start}", f"<= {TARGET_START_CALLS}",
         start <= TARGET_START_CALLS),
    ]
    if args.json:
        print(json.dumps([{"what": w, "measured": m, "target": t, "ok": ok} for w, m, t, ok in rows]))
        return 0 if all(r[3] for r in rows) else 1
    print(f"simulated {month['hours']:g} h of squad time call by call in {month['wall_s']:.0f} s, scaled ×{month['scale']:g} "
          f"to 30 days; console polls a month: {month['polls_month']:,.0f}")
    print(f"start-up (once): {month['startup_calls']} calls, {month['startup_mib']:.2f} MiB")
    for who in ("console", "collector", "mission_control"):
        t = month[who]
        print(f"  {who:<16} {t['calls']:>11,.0f} calls  {t['cached'] / max(1, t['calls']):>5.0%} cached  "
              f"{(t['kib_read'] + t['kib_written']) / GIB_KIB:8.3f} GiB  ({t['docs_read']:,.0f} documents read)")
    print("\nby caller and function, a month:")
    for path, t in sorted(month["by_path"].items(), key=lambda kv: -kv[1]["gib_month"]):
        print(f"  {path:<48} {t['calls_month']:>11,.0f} calls {t['cached_share']:>5.0%} cached {t['gib_month']:9.4f} GiB")
    width = max(len(r[0]) for r in rows)
    print(f"\n{'what'.ljust(width)}  {'measured':<56} {'target':<12} result")
    for what, measured, target, ok in rows:
        print(f"{what.ljust(width)}  {measured:<56} {target:<12} {'PASS' if ok else 'FAIL'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

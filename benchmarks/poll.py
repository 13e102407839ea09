"""One poll at scale: 1,000 agents and 1,000,000 stored heartbeats on the LocalStore.

Prints calls per poll, the payload of a poll when nothing changed, and the client CPU of one poll
(nothing changed, and a 15-minute cycle's delta of one beat per agent), each beside its target
in DESIGN §9. When node_modules is installed it also measures the payload on the wire from the
project's Convex functions (convex-test behind real HTTP) with 1,000 agents.

    .venv/bin/python benchmarks/poll.py [--heartbeats 1000000] [--agents 1000] [--polls 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.service.store.sqlite import LocalStore  # noqa: E402
from console.service.models import AgentSpec, HeartbeatIn  # noqa: E402
from console.service.poller import Poller  # noqa: E402

T0 = 1_760_000_000_000.0  # ms


class Counting:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls = 0
        self.last = None

    def snapshot(self, *args: Any, **kwargs: Any):
        self.calls += 1
        self.last = self.store.snapshot(*args, **kwargs)
        return self.last

    @property
    def last_payload(self) -> int:
        """The last answer as JSON (measured outside the timed poll)."""
        return len(json.dumps(self.last.to_json(), separators=(",", ":")))


def seed(store: LocalStore, agents: int, heartbeats: int) -> None:
    for i in range(agents):
        store.upsert_agent(AgentSpec(f"agent-{i:04d}", f"Agent {i}", "bench", heartbeat="*/15 * * * *"))
    per_agent = heartbeats // agents
    with store._write() as db:  # bulk load: the benchmark measures polling, not loading
        db.executemany(
            "INSERT INTO heartbeats (agent_id, at, outcome, source, run_id, duration_ms, created_at)"
            " VALUES (?, ?, 'ok', 'openclaw', ?, 800, ?)",
            (
                (f"agent-{i % agents:04d}", T0 + (i // agents) * 900_000, f"seed-{i}", T0 + (i // agents) * 900_000)
                for i in range(per_agent * agents)
            ),
        )


def cpu_ms(fn) -> float:
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1000


def local_bench(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="squad-bench-"))
    try:
        store = LocalStore(tmp / "squad.db")
        t = time.perf_counter()
        seed(store, args.agents, args.heartbeats)
        seeded = time.perf_counter() - t
        counting = Counting(store)
        poller = Poller(counting, interval=5, idle_interval=30)
        first_cpu = cpu_ms(poller.poll_once)  # the first poll: whole agents table + tails
        first_payload = counting.last_payload
        idle = []
        for _ in range(args.polls):
            idle.append(cpu_ms(poller.poll_once))
        idle_payload = counting.last_payload
        calls_before = counting.calls
        # a 15-minute cycle: one new beat per agent, then one poll takes the delta
        delta = []
        for cycle in range(5):
            at = T0 + 10_000 * 900_000 + cycle * 900_000
            for i in range(args.agents):
                store.record_heartbeat(HeartbeatIn(f"agent-{i:04d}", at, source="openclaw", run_id=f"new-{cycle}-{i}"))
            start, polls = time.process_time(), 0
            while True:  # the delta comes in pages of `limit` rows
                polls += 1
                if not poller.poll_once().snapshot.has_more:
                    break
            delta.append((time.process_time() - start) * 1000 / polls)
            delta_polls = polls
        delta_payload_calls = counting.calls - calls_before
        rows = store._db.execute("SELECT count(*) FROM heartbeats").fetchone()[0]
        month, idle_s = calls_per_month(store)
        store.close()
        return {
            "heartbeats": rows,
            "seeded_s": seeded,
            "first_cpu": first_cpu,
            "first_payload": first_payload,
            "idle_cpu": statistics.median(idle),
            "idle_cpu_max": max(idle),
            "idle_payload": idle_payload,
            "delta_cpu": statistics.median(delta),
            "calls_per_poll": counting.calls / poller.polls,
            "delta_calls": delta_payload_calls,
            "delta_polls": delta_polls,
            "calls_month": month,
            "idle_interval": idle_s,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def calls_per_month(store) -> tuple[float, float]:
    """The poller's own schedule on a quiet squad, simulated: the delays it asks for, added up
    over one hour of squad time, then scaled to a 30-day month. Returns (calls/month, idle s)."""
    poller = Poller(store, interval=5, idle_interval=30)
    t, calls = 0.0, 0
    while t < 3600:
        r = poller.poll_once()
        calls += 1
        t += r.next_delay
    return calls * 24 * 30, poller.current_interval


def convex_wire_bench(agents: int) -> dict[str, Any] | None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "tsx").is_dir():
        return None
    import httpx

    from console.service.store.convex import ConvexStore

    key = "bench|" + os.urandom(8).hex()
    proc = subprocess.Popen(
        [node, "--import", "tsx", "convex/testing/server.ts", "--port", "0", "--key", key],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        line = proc.stdout.readline().split()
        url = f"http://127.0.0.1:{line[1]}"
        sizes: list[int] = []

        def on_response(response: httpx.Response) -> None:
            response.read()
            sizes.append(len(response.content))

        store = ConvexStore(url, key)
        store._client.event_hooks["response"] = [on_response]
        for i in range(agents):
            store.upsert_agent(AgentSpec(f"agent-{i:04d}", f"Agent {i}", "bench", heartbeat="*/15 * * * *"))
        for i in range(50):
            store.record_heartbeat(HeartbeatIn(f"agent-{i:04d}", T0, source="openclaw", run_id=f"w-{i}"))
        poller = Poller(store, interval=5, idle_interval=30)
        sizes.clear()
        poller.poll_once()
        first = sum(sizes)
        poller.poll_once()  # the groups' first calls with their marks
        calls_before = store.calls
        idle = []
        for _ in range(10):
            sizes.clear()
            idle.append(cpu_ms(poller.poll_once))
        return {
            "first_payload": first,
            "idle_payload": sum(sizes),  # every answer of one poll
            "idle_cpu": statistics.median(idle),
            "calls_per_poll": (store.calls - calls_before) / 10,
        }
    finally:
        proc.terminate()
        proc.wait(5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--heartbeats", type=int, default=1_000_000)
    parser.add_argument("--polls", type=int, default=50)
    parser.add_argument("--no-convex", action="store_true", help="skip the Convex wire measurement")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON (for make bench)")
    args = parser.parse_args()

    local = local_bench(args)
    wire = None if args.no_convex else convex_wire_bench(args.agents)

    rows: list[tuple[str, str, str, bool]] = [
        ("calls per poll (local)", f"{local['calls_per_poll']:.2f}", "1", local["calls_per_poll"] == 1),
        ("poll payload, nothing changed (local)", f"{local['idle_payload']} B", "<= 2048 B", local["idle_payload"] <= 2048),
        ("client CPU per poll, nothing changed", f"{local['idle_cpu']:.2f} ms (max {local['idle_cpu_max']:.2f})", "<= 20 ms", local["idle_cpu"] <= 20),
        (f"client CPU per poll, {args.agents} new beats ({local['delta_polls']} polls)", f"{local['delta_cpu']:.2f} ms", "<= 20 ms", local["delta_cpu"] <= 20),
        ("store calls a month, console open on a quiet squad", f"{local['calls_month']:,.0f} (one per {local['idle_interval']:.0f} s)",
         "<= 150,000", local["calls_month"] <= 150_000),
    ]
    if wire:
        rows += [
            ("calls per poll (Convex, HTTP: rows + hot tables, docs/cost.md)", f"{wire['calls_per_poll']:.2f}", "<= 2",
             wire["calls_per_poll"] <= 2),
            ("poll payload on the wire, nothing changed (Convex)", f"{wire['idle_payload']} B", "<= 2048 B", wire["idle_payload"] <= 2048),
        ]
    if args.json:
        print(json.dumps([{"what": w, "measured": m, "target": t, "ok": ok} for w, m, t, ok in rows]))
        return 0 if all(r[3] for r in rows) else 1
    print(f"store: LocalStore, {args.agents} agents, {local['heartbeats']:,} heartbeats (seeded in {local['seeded_s']:.1f} s)")
    print(f"first poll (whole agents table + tails): {local['first_payload']:,} B, {local['first_cpu']:.1f} ms CPU")
    if wire:
        print(f"Convex (convex-test over HTTP, {args.agents} agents): first poll {wire['first_payload']:,} B on the wire, "
              f"idle poll {wire['idle_cpu']:.2f} ms client CPU")
    else:
        print("Convex wire figures skipped (no node_modules: run `make test` once, or --no-convex)")
    width = max(len(r[0]) for r in rows)
    print(f"\n{'what'.ljust(width)}  {'measured':<28} {'target':<10} result")
    for what, measured, target, ok in rows:
        print(f"{what.ljust(width)}  {measured:<28} {target:<10} {'PASS' if ok else 'FAIL'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

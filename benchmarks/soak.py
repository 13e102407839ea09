"""A console session that runs for a month: the console's poll and health loop (the Watch the TUI runs
off its UI thread) over 30 simulated days with 1,000 agents, on the LocalStore.

The clock is injected and driven: every 15-minute cycle, each agent's beat is written (in one
transaction, as `benchmarks/poll.py` seeds) and the Watch polls; the whole health view (every
agent's status, strip and uptime) is built every `--view-every` cycles and at each measuring point
(building it every cycle changes nothing the soak measures and would make the soak take an hour).
Prints RSS at day 1, 8 and 30, and the poll's CPU at day 30 (one poll: the store call, the merge into
the client's state and the health book, its pruning to eight days), each beside its target.

    .venv/bin/python benchmarks/soak.py [--agents 1000] [--days 30] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.config import load_settings  # noqa: E402
from console.service.models import AgentSpec  # noqa: E402
from console.service.store.sqlite import LocalStore  # noqa: E402
from console.service.watch import Watch  # noqa: E402

T0 = 1_767_225_600_000.0  # ms
CYCLE_MS = 900_000.0
RSS_TARGET_MB = 80.0
FLAT_MB = 8.0  # "flat after day 8": day 30 within this of day 8
POLL_CPU_TARGET_MS = 20.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_config(folder: Path) -> Path:
    path = folder / "squad.toml"
    path.write_text('[store]\npoll_interval = "5s"\npoll_interval_idle = "30s"\n'
                    f'[openclaw]\nstate_dir = "{folder / "openclaw"}"\n')
    return path


def run(agents: int, days: int, view_every: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="squad-soak-"))
    try:
        store = LocalStore(folder / "squad.db", clock=lambda: now[0] * 1000)
        now = [T0 / 1000 - 3600]
        ids = [f"agent-{i:04d}" for i in range(agents)]
        for a in ids:
            store.upsert_agent(AgentSpec(a, a.upper(), "soak", heartbeat="*/15 * * * *"))
        watch = Watch(load_settings(write_config(folder), env={}), store, clock=lambda: now[0], probe_openclaw=False)
        rss: dict[int, float] = {}
        poll_cpu: list[float] = []
        step_cpu: list[float] = []
        cycles = int(days * 86_400_000 / CYCLE_MS)
        wall = time.perf_counter()
        for cycle in range(cycles + 1):
            at = T0 + cycle * CYCLE_MS
            now[0] = (at + 60_000) / 1000
            with store._write() as db:  # the squad's beats of this slot (one transaction: the soak measures the console)
                db.executemany(
                    "INSERT INTO heartbeats (agent_id, at, outcome, source, run_id, duration_ms, tokens, cost_usd,"
                    " created_at) VALUES (?, ?, 'ok', 'openclaw', ?, 30000, 2000, 0.003, ?)",
                    ((a, at + 20_000, f"{a}:{int(at)}", at + 40_000) for a in ids))
            day = cycle * CYCLE_MS / 86_400_000
            measuring = day in (1.0, 8.0, float(days))
            if cycle == 0 or measuring or cycle % view_every == 0:
                started = time.process_time()
                watch.step()  # poll + book + the whole health view
                step_cpu.append((time.process_time() - started) * 1000) if measuring else None
            else:
                started = time.process_time()
                _poll(watch, now[0] * 1000)
                if day >= days - 1:
                    poll_cpu.append((time.process_time() - started) * 1000)
            if measuring:
                gc.collect()
                rss[int(day)] = rss_mb()
        started = time.process_time()
        polls = []
        for _ in range(20):  # quiet polls at day 30: nothing new
            t = time.process_time()
            _poll(watch, now[0] * 1000)
            polls.append((time.process_time() - t) * 1000)
        store.close()
        return {
            "agents": agents,
            "days": days,
            "rss": rss,
            "poll_cpu_ms": statistics.median(poll_cpu),
            "quiet_poll_cpu_ms": statistics.median(polls),
            "view_cpu_ms": max(step_cpu) if step_cpu else 0.0,
            "beats_in_book": watch.book.beat_count() if watch.book else 0,
            "wall_s": time.perf_counter() - wall,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _poll(watch: Watch, now_ms: float) -> None:
    """The poll part of Watch.step (the store call, the merge, the book fed and pruned), paged."""
    while True:
        result = watch.poller.poll_once()
        if result.snapshot is None:
            raise SystemExit(f"poll failed: {result.error}")
        watch.book.add_beats(result.snapshot.heartbeats)
        watch.book.add_flips(result.snapshot.flips)
        if watch._pruned_at is None or now_ms - watch._pruned_at >= 60_000:
            watch.book.prune(now_ms)
            watch._pruned_at = now_ms
        if not result.snapshot.has_more:
            return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--view-every", type=int, default=96, help="build the whole health view every N cycles")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON (for make bench)")
    args = parser.parse_args()
    r = run(args.agents, args.days, args.view_every)
    d1, d8, dn = r["rss"].get(1, 0.0), r["rss"].get(8, 0.0), r["rss"].get(args.days, 0.0)
    flat = dn - d8 <= FLAT_MB
    rows = [
        (f"RSS, {args.agents} agents: day 1 / day 8 / day {args.days} of a session",
         f"{d1:.0f} / {d8:.0f} / {dn:.0f} MB", f"<= {RSS_TARGET_MB:.0f} MB, flat after day 8",
         max(d1, d8, dn) <= RSS_TARGET_MB and flat),
        (f"poll CPU at day {args.days}, {args.agents} agents",
         f"{r['poll_cpu_ms']:.1f} ms ({args.agents} new beats; quiet {r['quiet_poll_cpu_ms']:.1f} ms)",
         f"<= {POLL_CPU_TARGET_MS:.0f} ms", r["poll_cpu_ms"] <= POLL_CPU_TARGET_MS),
    ]
    if args.json:
        print(json.dumps([{"what": w, "measured": m, "target": t, "ok": ok} for w, m, t, ok in rows]))
        return 0 if all(r[3] for r in rows) else 1
    print(f"{args.days} days of {args.agents} agents in {r['wall_s']:.0f} s; the book holds {r['beats_in_book']:,} beats "
          f"(eight days); the whole health view at day {args.days}: {r['view_cpu_ms']:.0f} ms CPU")
    width = max(len(w) for w, *_ in rows)
    print(f"\n{'what'.ljust(width)}  {'measured':<44} {'target':<28} result")
    for what, measured, target, ok in rows:
        print(f"{what.ljust(width)}  {measured:<44} {target:<28} {'PASS' if ok else 'FAIL'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

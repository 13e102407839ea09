"""The benchmark scripts run and print their table (at a small scale: the figures come from
`make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_poll_benchmark_runs_small() -> None:
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "poll.py"), "--agents", "50", "--heartbeats", "5000",
         "--polls", "5", "--no-convex"],
        capture_output=True, text=True, timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "calls per poll (local)" in p.stdout and "FAIL" not in p.stdout
    assert p.stdout.count("PASS") == 5


def test_ui_benchmark_runs_small() -> None:
    """The UI benchmark's four measurements run end to end (the figures come from `make bench`)."""
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ui.py"), "--agents", "40", "--days", "1", "--runs", "1",
         "--idle-seconds", "1"],
        capture_output=True, text=True, timeout=240,
    )
    assert "start to first frame" in p.stdout and "idle CPU" in p.stdout and "RSS" in p.stdout, p.stdout + p.stderr
    assert "one poll's UI update, 40 agents" in p.stdout


def test_feeds_benchmark_runs_small() -> None:
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "feeds.py"), "--feeds", "10", "--latency", "0.1", "--no-compare"],
        capture_output=True, text=True, timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "second fetch: parser calls" in p.stdout and "FAIL" not in p.stdout
    assert p.stdout.count("PASS") == 4


def test_convex_cost_benchmark_runs_small() -> None:
    """The month on Convex, sampled short (the figures come from `make bench`)."""
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "convex_cost.py"), "--hours", "0.5", "--start-agents", "20"],
        capture_output=True, text=True, timeout=600,
    )
    assert "Convex DB bandwidth a month" in p.stdout and "calls at start-up, 20 agents" in p.stdout, p.stdout + p.stderr
    row = next(line for line in p.stdout.splitlines() if line.startswith("calls at start-up, 20 agents"))
    assert row.split()[5] == "2" and row.endswith("PASS"), row


def test_soak_benchmark_runs_small() -> None:
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--agents", "30", "--days", "9"],
        capture_output=True, text=True, timeout=600,
    )
    assert "RSS, 30 agents: day 1 / day 8 / day 9" in p.stdout and "poll CPU at day 9" in p.stdout, p.stdout + p.stderr

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
    assert p.stdout.count("PASS") == 4

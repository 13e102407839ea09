"""Every SVG snapshot belongs to a test. syrupy fails on an unused snapshot only when one process
runs every test; on xdist's workers it cannot tell, so this test asks pytest itself which snapshot
tests exist and compares them with the files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNAPSHOTS = HERE / "__snapshots__" / "test_snapshots"


def test_no_snapshot_file_without_its_test() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider",
         str(HERE / "test_snapshots.py")],
        capture_output=True, text=True, timeout=120, cwd=HERE.parent, check=False)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    tests = {line.split("::", 1)[1] for line in listed.stdout.splitlines() if "::" in line}
    files = {p.stem for p in SNAPSHOTS.glob("*.svg")}
    assert tests, listed.stdout
    assert files - tests == set(), f"snapshots no test takes (delete them): {sorted(files - tests)}"
    assert {t for t in tests if t.startswith("test_")} <= files | {"test_no_snapshot_file_without_its_test"}, (
        f"tests without a snapshot file (run them with --snapshot-update once): {sorted(tests - files)}")

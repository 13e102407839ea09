"""The fixture OpenClaw state folders, copied with their dates moved to the test's clock.

The files under `tests/fixtures/openclaw/` were written at one instant (`FIXTURE_NOW`, the
time their jobs' state says is "now": the next run is due, the last one just finished). A
test that copies them gets every epoch-millisecond field (`ts`, `runAtMs`, `nextRunAtMs`,
`createdAtMs`, …) shifted so that instant becomes the `now` the test injects, minus `age`.
Nothing then depends on the day the suite runs: the fixture's runs are exactly as old,
relative to the test's clock, as they were the day they were written.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "openclaw"

# 2026-11-20 11:00 UTC: the `nextRunAtMs` of the fixture's jobs, i.e. the moment they describe.
FIXTURE_NOW = 1_795_172_400_000
DAY_MS = 86_400_000

# `"ts": 1795168814180` or `"runAtMs":1795168800180`: every epoch-ms field the fixtures hold.
_EPOCH_MS = re.compile(r'("(?:ts|\w+AtMs)"\s*:\s*)(\d{13})\b')


def shift_times(text: str, offset_ms: int) -> str:
    return _EPOCH_MS.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + offset_ms}", text)


def copy_state(form: str, dest: Path, *, now_ms: float | None = None, age_ms: float = DAY_MS) -> Path:
    """Copy the fixture `form` ("list-form" or "entries-form") to `dest`, its dates moved so the
    fixture's moment is `age_ms` before `now_ms` (the test's clock; the wall clock if None)."""
    now = time.time() * 1000 if now_ms is None else now_ms
    offset = int(now - age_ms) - FIXTURE_NOW
    shutil.copytree(FIXTURES / form, dest)
    for path in list(dest.rglob("*.json")) + list(dest.rglob("*.jsonl")):
        text = path.read_text(encoding="utf-8")
        shifted = shift_times(text, offset)
        if shifted != text:
            path.write_text(shifted, encoding="utf-8")
    return dest

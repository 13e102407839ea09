"""`make bench`: every benchmark in this folder, one table: each target of DESIGN §9, the measured
figure, pass or fail. Ratios where a peer runs beside us in the same run (first frame vs a bare
Textual app). Exit 0 only when every row passes.

    .venv/bin/python benchmarks/run_all.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["poll.py", "ui.py", "feeds.py", "concurrency.py", "openclaw_check.py", "convex_cost.py", "soak.py"]


def main() -> int:
    rows: list[dict] = []
    for name in SCRIPTS:
        script = HERE / name
        if not script.exists():
            rows.append({"what": f"{name}: missing", "measured": "-", "target": "-", "ok": False})
            continue
        started = time.monotonic()
        print(f"running {name} …", file=sys.stderr, flush=True)
        p = subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True)
        try:
            got = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            got = [{"what": f"{name}: no figures", "measured": (p.stderr or p.stdout)[-200:].strip(), "target": "-", "ok": False}]
        for row in got:
            row["source"] = name
        rows.extend(got)
        print(f"  {name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    width = max(len(r["what"]) for r in rows)
    mwidth = max(len(str(r["measured"])) for r in rows)
    print(f"{'target (DESIGN §9)'.ljust(width)}  {'measured'.ljust(mwidth)}  {'target':<12} result")
    for r in rows:
        print(f"{r['what'].ljust(width)}  {str(r['measured']).ljust(mwidth)}  {r['target']:<12} {'PASS' if r['ok'] else 'FAIL'}")
    failed = [r for r in rows if not r["ok"]]
    print(f"\n{len(rows) - len(failed)} passed, {len(failed)} failed")
    return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`squad-console check` against a real OpenClaw 2026.9.6 gateway, beside `openclaw cron list --json`.

Starts one real gateway with the seed's squad (tests/real_openclaw.py: the tooling `make test`
installs into .openclaw-test/), then times, each `--runs` times (the median is printed):

- `openclaw cron list --all --json` itself (one Node start-up and one gateway call: the floor of
  anything that asks the CLI);
- `squad-console check --json` (a subprocess, Python start-up included): target <= 2 s, beside
  the collector (`squad-console service`, whose channel report, at most 2.5 min old, saves check
  its one CLI call); and cold, without a collector (one `openclaw channels status`: Node start-up);
- `squad-console agents import --dry-run` and one collection (`Daemon.collect`, paged runs of the
  three heartbeat jobs).

    .venv/bin/python benchmarks/openclaw_check.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.real_openclaw import RealGateway, ToolingMissing, tooling  # noqa: E402

CHECK_TARGET_S = 2.0


def timed(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the rows as one JSON line at the end")
    args = ap.parse_args()
    try:
        tools = tooling()
    except ToolingMissing as exc:
        print(json.dumps([{"what": "check against the real OpenClaw", "measured": str(exc)[:120], "target": "-", "ok": False}]))
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        gw = RealGateway(tools, base / "openclaw")
        started = time.perf_counter()
        gw.start()
        setup = time.perf_counter() - started
        try:
            env = {**gw.env(), "PYTHONPATH": str(ROOT), "SQUAD_CONSOLE_DB": str(base / "squad.db"),
                   "XDG_CONFIG_HOME": str(base / "xdg"), "XDG_DATA_HOME": str(base / "xdg-data")}

            def run(*argv: str) -> None:
                p = subprocess.run(list(argv), capture_output=True, text=True, env=env, cwd=base, stdin=subprocess.DEVNULL)
                if p.returncode not in (0, 1, 2):
                    raise SystemExit(f"{' '.join(argv[:4])} failed ({p.returncode}): {p.stderr[-500:]}")

            cron_list = timed(lambda: run(str(tools.openclaw), "cron", "list", "--all", "--json"), args.runs)
            cold = timed(lambda: run(sys.executable, "-m", "console", "check", "--json"), args.runs)
            imp = timed(lambda: run(sys.executable, "-m", "console", "agents", "import", "--dry-run"), args.runs)

            from console.config import load_settings
            from console.service.daemon import Daemon
            from console.service.store.outbox import Outbox
            from console.service.store.sqlite import LocalStore

            settings = load_settings(None, env={"OPENCLAW_STATE_DIR": str(gw.state_dir)})

            def collect() -> None:
                store, outbox = LocalStore(base / "c.db"), Outbox(base / f"o-{time.monotonic_ns()}.db")
                try:
                    import os

                    old = dict(os.environ)
                    os.environ.update(PATH=env["PATH"], OPENCLAW_STATE_DIR=env["OPENCLAW_STATE_DIR"], HOME=env["HOME"])
                    try:
                        Daemon(settings, store, outbox).collect()
                    finally:
                        os.environ.clear()
                        os.environ.update(old)
                finally:
                    outbox.close()
                    store.close()

            collection = timed(collect, args.runs)

            # beside the collector: one probe of `squad-console service` leaves its channel report in the outbox
            def service_probe() -> None:
                import logging
                import os

                logging.getLogger("squad-console.service").addHandler(logging.NullHandler())

                ours = load_settings(None, env={"OPENCLAW_STATE_DIR": str(gw.state_dir), "SQUAD_CONSOLE_DB": env["SQUAD_CONSOLE_DB"],
                                                "OPENCLAW_GATEWAY_PORT": str(gw.port)})
                store, outbox = LocalStore(ours.store.local_path()), Outbox(ours.store.outbox_path())
                old = dict(os.environ)
                os.environ.update(PATH=env["PATH"], OPENCLAW_STATE_DIR=env["OPENCLAW_STATE_DIR"], HOME=env["HOME"])
                try:
                    Daemon(ours, store, outbox, env=env).probe()
                finally:
                    os.environ.clear()
                    os.environ.update(old)
                    outbox.close()
                    store.close()

            service_probe()
            check = timed(lambda: run(sys.executable, "-m", "console", "check", "--json"), args.runs)
        finally:
            gw.stop()
    rows = [
        {"what": "openclaw cron list --all --json (the CLI's floor)", "measured": f"{cron_list:.2f} s", "target": "-", "ok": True},
        {"what": "squad-console check --json, real squad, beside the collector", "measured": f"{check:.2f} s",
         "target": f"<= {CHECK_TARGET_S:g} s", "ok": check <= CHECK_TARGET_S},
        {"what": "squad-console check --json, cold (no collector: 1 CLI call)", "measured": f"{cold:.2f} s", "target": "-",
         "ok": True},
        {"what": "squad-console agents import --dry-run", "measured": f"{imp:.2f} s", "target": "-", "ok": True},
        {"what": "one collection (paged runs, 3 jobs)", "measured": f"{collection:.2f} s", "target": "-", "ok": True},
        {"what": "real gateway set-up (start, squad, forced runs)", "measured": f"{setup:.1f} s", "target": "-", "ok": True},
    ]
    width = max(len(r["what"]) for r in rows)
    for r in rows:
        print(f"{r['what'].ljust(width)}  {r['measured']:>9}  {r['target']:<8} {'PASS' if r['ok'] else 'FAIL'}")
    if args.json:
        print(json.dumps(rows))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

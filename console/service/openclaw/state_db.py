"""OpenClaw 2026.6+'s state database, read-only: the cron jobs and their runs when the CLI cannot
tell (missing from PATH, failing, hanging, the gateway down).

`$OPENCLAW_STATE_DIR/state/openclaw.sqlite` holds `cron_jobs` (one row a job: `job_json`,
`state_json`, `payload_kind`, `declaration_key`) and `task_runs` (`runtime = 'cron'`,
`source_id` = the job's id, `detail_json` = the run record the CLI prints). The file is opened
`mode=ro` with `query_only` on: the console never writes OpenClaw's state. The schema is checked
first; a database of another shape is an OpenClawError naming what is missing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from console.service.openclaw.cron import CronJob, CronRun, CronState, RunsFor, parse_job, parse_run, resolve_runs_for
from console.service.openclaw.errors import OpenClawError

REQUIRED = {
    "cron_jobs": {"job_id", "job_json", "state_json", "enabled", "payload_kind", "sort_order"},
    "task_runs": {"runtime", "source_id", "detail_json", "started_at", "ended_at", "run_id", "status", "error"},
}


class StateDbMissing(Exception):
    """There is no state database (an older release, or not the gateway's state folder)."""


def state_db_path(state_dir: Path) -> Path:
    return Path(state_dir).expanduser() / "state" / "openclaw.sqlite"


def _open(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StateDbMissing(str(path))
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
        conn.execute("PRAGMA query_only = 1")
        return conn
    except sqlite3.Error as exc:
        raise OpenClawError(f"cannot open OpenClaw's state database read-only ({exc})", path=path) from None


def check_schema(conn: sqlite3.Connection, path: Path) -> None:
    for table, columns in REQUIRED.items():
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if not have:
            raise OpenClawError(f"not OpenClaw's state database as the console knows it (no table {table})", path=path,
                                hint="read it through the openclaw CLI instead (put `openclaw` on PATH)")
        missing = sorted(columns - have)
        if missing:
            raise OpenClawError(f"table {table} lacks {', '.join(missing)}: a schema the console does not know", path=path,
                                hint="read it through the openclaw CLI instead (put `openclaw` on PATH)")


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def read_cron_state(
    path: Path,
    *,
    runs_for: RunsFor = None,
    since: Mapping[str, float] | None = None,
    run_limit: int | None = None,
) -> CronState:
    """The jobs and (for `runs_for`, newer than `since`) their finished runs, from the state
    database at `path`. StateDbMissing when there is none; OpenClawError when it cannot be read."""
    conn = _open(path)
    try:
        check_schema(conn, path)
        jobs: list[CronJob] = []
        for job_json, state_json, enabled in conn.execute(
            "SELECT job_json, state_json, enabled FROM cron_jobs ORDER BY sort_order, job_id"
        ):
            d = _json(job_json)
            state = _json(state_json)
            if state:
                d["state"] = {**(d.get("state") if isinstance(d.get("state"), dict) else {}), **state}
            d.setdefault("enabled", bool(enabled))
            job = parse_job(d)
            if job is not None:
                jobs.append(job)
        runs_for = resolve_runs_for(runs_for, jobs)
        runs: dict[str, list[CronRun]] = {j.id: [] for j in jobs}
        wanted = [j.id for j in jobs if runs_for is None or j.id in runs_for]
        for job_id in wanted:
            after = (since or {}).get(job_id, -1.0)
            rows = conn.execute(
                "SELECT detail_json, started_at, ended_at, run_id, status, error FROM task_runs "
                "WHERE runtime = 'cron' AND source_id = ? AND ended_at IS NOT NULL AND COALESCE(started_at, ended_at) > ? "
                "ORDER BY COALESCE(started_at, ended_at) DESC LIMIT ?",
                (job_id, after, run_limit or 2_000_000),
            ).fetchall()
            parsed = []
            for detail_json, started, ended, run_id, status, error in rows:
                d = _json(detail_json)
                d.setdefault("ts", ended)
                d.setdefault("runAtMs", started)
                d.setdefault("jobId", job_id)
                d.setdefault("action", "finished")
                d.setdefault("error", error)
                if "status" not in d:
                    d["status"] = {"succeeded": "ok", "failed": "error"}.get(status, status)
                if "runId" not in d and isinstance(run_id, str):
                    d["runId"] = run_id
                r = parse_run(d, job_id)
                if r is not None:
                    parsed.append(r)
            parsed.sort(key=lambda r: r.at)
            runs[job_id] = parsed
        return CronState(jobs, runs, "sqlite", runs_read=runs_for is None or bool(runs_for))
    except sqlite3.Error as exc:
        raise OpenClawError(f"cannot read OpenClaw's state database ({exc})", path=path) from None
    finally:
        conn.close()

"""OpenClaw's cron jobs and their runs, and a run as the heartbeat the console records.

`load_cron` reads them from the `openclaw` CLI when there is one (it also reads the SQLite state
of newer releases), else from the legacy files under `<state>/cron/` (jobs.json,
jobs-state.json, runs/<job>.jsonl). `heartbeat_jobs` picks an agent's heartbeat jobs;
`run_to_heartbeat` turns a run into a `HeartbeatIn` (run errors redacted).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.service.models import HeartbeatIn
from console.service.openclaw.errors import OpenClawError
from console.service.openclaw.loose_json import as_int, as_number, as_text, parse_json_output, pick, unwrap_list
from console.service.openclaw.runner import CLI, Runner, RunnerArg, cli_failure, redact, resolve_runner


@dataclass(frozen=True)
class CronSchedule:
    kind: str = "cron"  # "cron" | "every" | "at"
    expr: str | None = None
    tz: str | None = None
    stagger_ms: int | None = None
    every_ms: int | None = None
    at: str | None = None

    @property
    def exact(self) -> bool:
        """OpenClaw auto-staggers top-of-hour expressions unless the job was added `--exact`
        (staggerMs 0). An absent staggerMs is not exact."""
        return self.stagger_ms == 0


@dataclass(frozen=True)
class CronDelivery:
    mode: str | None = None
    channel: str | None = None
    to: str | None = None
    account_id: str | None = None


@dataclass(frozen=True)
class CronJobState:
    next_run_at_ms: float | None = None
    last_run_at_ms: float | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_duration_ms: float | None = None
    consecutive_errors: int = 0
    last_delivery_status: str | None = None


@dataclass(frozen=True)
class CronJob:
    id: str
    agent_id: str | None
    name: str
    enabled: bool = True
    schedule: CronSchedule = field(default_factory=CronSchedule)
    session_target: str | None = None
    wake_mode: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    delivery: CronDelivery | None = None
    state: CronJobState = field(default_factory=CronJobState)

    @property
    def message(self) -> str:
        for key in ("message", "text", "prompt"):
            if isinstance(self.payload.get(key), str):
                return self.payload[key]
        return ""


@dataclass(frozen=True)
class CronRun:
    ts: float
    job_id: str
    action: str | None = "finished"
    status: str | None = None
    error: str | None = None
    summary: str | None = None
    delivered: bool | None = None
    delivery_status: str | None = None
    delivery_error: str | None = None
    session_id: str | None = None
    session_key: str | None = None
    run_at_ms: float | None = None
    duration_ms: float | None = None
    next_run_at_ms: float | None = None
    model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tokens: int | None = None
    cost_usd: float | None = None

    @property
    def at(self) -> float:
        return self.run_at_ms if self.run_at_ms is not None else self.ts

    @property
    def delivery_failed(self) -> bool:
        """Delivery was asked for and not made (a run can be `ok` and still not be delivered)."""
        if self.delivery_status in ("not-requested", "delivered") and self.delivered is not False:
            return False
        if self.delivery_error:
            return self.delivered is False or self.delivery_status in ("not-delivered", None)
        return self.delivered is False and self.delivery_status == "not-delivered"


@dataclass(frozen=True)
class CronState:
    jobs: list[CronJob]
    runs: dict[str, list[CronRun]]
    source: str  # "cli" | "files"
    corrupt_lines: int = 0
    notes: list[str] = field(default_factory=list)
    cli_error: str | None = None  # the CLI failed and the legacy files were read instead

    def job(self, job_id: str) -> CronJob | None:
        return next((j for j in self.jobs if j.id == job_id), None)


def parse_job(d: Mapping[str, Any]) -> CronJob | None:
    """A job object from jobs.json or `cron list --json`; None when it has no id."""
    job_id = pick(d, "id", "jobId")
    if not isinstance(job_id, (str, int)) or job_id == "":
        return None
    sched = d.get("schedule") if isinstance(d.get("schedule"), dict) else {}
    expr = pick(sched, "expr", "cron", "expression")
    if expr is None and isinstance(d.get("schedule"), str):
        expr = d["schedule"]
    schedule = CronSchedule(
        kind=str(pick(sched, "kind", "type") or ("cron" if expr else "every" if pick(sched, "everyMs") else "cron")),
        expr=str(expr) if expr is not None else None,
        tz=pick(sched, "tz", "timezone"),
        stagger_ms=as_int(pick(sched, "staggerMs", "stagger_ms")) if pick(sched, "exact") is not True else 0,
        every_ms=as_int(pick(sched, "everyMs", "every_ms")),
        at=as_text(pick(sched, "at", "atMs")),
    )
    payload = d.get("payload") if isinstance(d.get("payload"), dict) else {}
    deliv = d.get("delivery")
    delivery = (
        CronDelivery(
            mode=pick(deliv, "mode"),
            channel=pick(deliv, "channel"),
            to=as_text(pick(deliv, "to")),
            account_id=pick(deliv, "accountId", "account_id", "account"),
        )
        if isinstance(deliv, dict)
        else None
    )
    st = d.get("state") if isinstance(d.get("state"), dict) else {}
    state = CronJobState(
        next_run_at_ms=as_number(pick(st, "nextRunAtMs")),
        last_run_at_ms=as_number(pick(st, "lastRunAtMs")),
        last_status=pick(st, "lastStatus", "lastRunStatus"),
        last_error=as_text(pick(st, "lastError")),
        last_duration_ms=as_number(pick(st, "lastDurationMs")),
        consecutive_errors=as_int(pick(st, "consecutiveErrors")) or 0,
        last_delivery_status=pick(st, "lastDeliveryStatus"),
    )
    agent_id = pick(d, "agentId", "agent_id", "agent")
    name = pick(d, "name")
    return CronJob(
        id=str(job_id),
        agent_id=str(agent_id) if agent_id is not None else None,
        name=str(name) if name is not None else str(job_id),
        enabled=pick(d, "enabled") is not False,
        schedule=schedule,
        session_target=pick(d, "sessionTarget", "session_target", "session"),
        wake_mode=pick(d, "wakeMode", "wake_mode"),
        payload=dict(payload),
        delivery=delivery,
        state=state,
    )


_COST_KEYS = ("costUsd", "cost_usd", "costUSD", "totalCostUsd", "total_cost_usd", "cost")


def _cost(d: Mapping[str, Any]) -> float | None:
    """usage.cost / costUsd / cost_usd / cost{total|usd}, wherever the telemetry put it."""
    for where in (d, d.get("usage"), d.get("telemetry")):
        if not isinstance(where, dict):
            continue
        for key in _COST_KEYS:
            value = where.get(key)
            if isinstance(value, dict):
                value = pick(value, "total", "usd", "totalUsd", "total_usd", "amount")
            n = as_number(value)
            if n is not None:
                return n
    return None


def parse_run(d: Mapping[str, Any], job_id: str | None = None) -> CronRun | None:
    """A run-log record (reference §5) or a CLI run entry; None without any time."""
    ts = as_number(pick(d, "ts", "finishedAtMs", "endedAtMs"))
    run_at = as_number(pick(d, "runAtMs", "startedAtMs", "run_at_ms"))
    if ts is None and run_at is None:
        return None
    usage = d.get("usage") if isinstance(d.get("usage"), dict) else {}
    inp = as_int(pick(usage, "input_tokens", "inputTokens", "input"))
    out = as_int(pick(usage, "output_tokens", "outputTokens", "output"))
    total = as_int(pick(usage, "total_tokens", "totalTokens", "total"))
    if total is None and (inp is not None or out is not None):
        total = (inp or 0) + (out or 0)
    delivered = d.get("delivered")
    return CronRun(
        ts=ts if ts is not None else run_at,  # type: ignore[arg-type]
        job_id=str(pick(d, "jobId", "job_id") or job_id or ""),
        action=pick(d, "action"),
        status=pick(d, "status"),
        error=as_text(pick(d, "error")),
        summary=as_text(pick(d, "summary")),
        delivered=delivered if isinstance(delivered, bool) else None,
        delivery_status=pick(d, "deliveryStatus", "delivery_status"),
        delivery_error=as_text(pick(d, "deliveryError", "delivery_error")),
        session_id=pick(d, "sessionId"),
        session_key=pick(d, "sessionKey"),
        run_at_ms=run_at,
        duration_ms=as_number(pick(d, "durationMs", "duration_ms")),
        next_run_at_ms=as_number(pick(d, "nextRunAtMs")),
        model=pick(d, "model") if isinstance(pick(d, "model"), str) else None,
        provider=pick(d, "provider") if isinstance(pick(d, "provider"), str) else None,
        input_tokens=inp,
        output_tokens=out,
        tokens=total,
        cost_usd=_cost(d),
    )


def load_cron(state_dir: Path, runner: RunnerArg = "auto", *, run_limit: int | None = None) -> CronState:
    """Cron jobs and their runs: from the `openclaw` CLI when there is one (it also reads the
    SQLite state of newer releases), else from the legacy files under `<state>/cron/`.

    Raises OpenClawError only when there is nothing to read: the CLI failed and there are no
    usable files, or the files were migrated to SQLite and there is no CLI."""
    state_dir = Path(state_dir).expanduser()
    run = resolve_runner(runner)
    cli_error = None
    if run is not None:
        try:
            return _cron_from_cli(run, run_limit)
        except OpenClawError as exc:
            cli_error = exc.message
    cron = state_dir / "cron"
    jobs_file = cron / "jobs.json"
    if not jobs_file.exists():
        if cli_error:
            raise OpenClawError(cli_error)
        migrated = sorted(p.name for p in cron.glob("*.migrated")) if cron.is_dir() else []
        if migrated or (cron / "runs").is_dir() and any((cron / "runs").glob("*.migrated")):
            raise OpenClawError(
                "OpenClaw moved its cron jobs and run history into its SQLite state database (only "
                f"{', '.join(migrated) or 'runs/*.migrated'} is left); the console reads them through the CLI: "
                "install the openclaw CLI on PATH (`openclaw cron runs --id <id> --json`)",
                path=cron,
            )
        return CronState([], {}, "files", notes=[f"no cron jobs yet ({jobs_file} does not exist)"])
    jobs, notes = _jobs_from_file(jobs_file)
    runs: dict[str, list[CronRun]] = {}
    corrupt = 0
    for job in jobs:
        job_runs, bad = _runs_from_file(cron / "runs" / f"{job.id}.jsonl", job.id)
        corrupt += bad
        runs[job.id] = job_runs[-run_limit:] if run_limit else job_runs
    if corrupt:
        notes.append(f"{corrupt} corrupt line{'s' if corrupt != 1 else ''} skipped in {cron / 'runs'}")
    if cli_error:
        notes.insert(0, f"{cli_error}; read the legacy files instead")
    return CronState(jobs, runs, "files", corrupt_lines=corrupt, notes=notes, cli_error=cli_error)


def _jobs_from_file(path: Path) -> tuple[list[CronJob], list[str]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise OpenClawError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OpenClawError(f"cannot read it ({type(exc).__name__})", path=path) from None
    if isinstance(raw, dict) and "jobs" in raw and not isinstance(raw["jobs"], list):
        raise OpenClawError("must be an array", path=path, key="jobs")
    items = unwrap_list(raw, ("jobs",))
    if not isinstance(raw, (dict, list)):
        raise OpenClawError("must be an object {version, jobs: [...]}", path=path)
    jobs, skipped = [], 0
    for item in items:
        job = parse_job(item) if isinstance(item, dict) else None
        if job is None:
            skipped += 1
        else:
            jobs.append(job)
    notes = [f"{skipped} job(s) without an id skipped in {path}"] if skipped else []
    extra = path.with_name("jobs-state.json")
    if extra.is_file():
        jobs = _merge_jobs_state(jobs, extra, notes)
    return jobs, notes


def _merge_jobs_state(jobs: list[CronJob], path: Path, notes: list[str]) -> list[CronJob]:
    """Newer releases keep each job's `state` in jobs-state.json; tolerant of its shape."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        notes.append(f"{path} could not be read; job states may be stale")
        return jobs
    table = raw.get("jobs", raw.get("states", raw)) if isinstance(raw, dict) else raw
    by_id: dict[str, Any] = {}
    if isinstance(table, dict):
        by_id = {k: v for k, v in table.items() if isinstance(v, dict)}
    elif isinstance(table, list):
        by_id = {str(v.get("id") or v.get("jobId")): v for v in table if isinstance(v, dict)}
    out = []
    for job in jobs:
        entry = by_id.get(job.id)
        if entry:
            state = entry.get("state") if isinstance(entry.get("state"), dict) else entry
            merged = parse_job({"id": job.id, "state": state})
            if merged is not None:
                job = dataclasses.replace(job, state=merged.state)
        out.append(job)
    return out


def _runs_from_file(path: Path, job_id: str) -> tuple[list[CronRun], int]:
    if not path.is_file():
        return [], 0
    runs, bad = [], 0
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                r = parse_run(record, job_id) if isinstance(record, dict) else None
                if r is None:
                    bad += 1
                elif r.action in (None, "finished"):
                    runs.append(r)
    except OSError:
        return [], 1
    runs.sort(key=lambda r: r.at)
    return runs, bad


def _cron_from_cli(run: Runner, run_limit: int | None) -> CronState:
    argv = [CLI, "cron", "list", "--all", "--json"]  # --all: `cron list` hides disabled jobs
    code, out, err = run(argv)
    if code != 0 and re.search(r"unknown option|unexpected argument", err or "", re.I):
        argv = [CLI, "cron", "list", "--json"]
        code, out, err = run(argv)
    if code != 0:
        raise OpenClawError(cli_failure(argv, code, out, err))
    try:
        data = parse_json_output(out)
    except ValueError as exc:
        raise OpenClawError(f"`{' '.join(argv)}` printed no JSON ({exc})") from None
    jobs = [j for j in (parse_job(x) for x in unwrap_list(data, ("jobs", "entries", "items")) if isinstance(x, dict)) if j]
    runs: dict[str, list[CronRun]] = {}
    notes: list[str] = []
    for job in jobs:
        argv = [CLI, "cron", "runs", "--id", job.id, "--json"]
        code, out, err = run(argv)
        if code != 0:
            notes.append(cli_failure(argv, code, out, err))
            runs[job.id] = []
            continue
        try:
            data = parse_json_output(out)
        except ValueError:
            notes.append(f"`{' '.join(argv)}` printed no JSON")
            runs[job.id] = []
            continue
        items = unwrap_list(data, ("runs", "entries", "items", "history"))
        parsed = [r for r in (parse_run(x, job.id) for x in items if isinstance(x, dict)) if r and r.action in (None, "finished")]
        parsed.sort(key=lambda r: r.at)
        runs[job.id] = parsed[-run_limit:] if run_limit else parsed
    return CronState(jobs, runs, "cli", notes=notes)


_HEARTBEAT_WORDS = re.compile(r"heartbeat|check", re.I)


def heartbeat_jobs(jobs: Iterable[CronJob], agent_id: str, *, is_default: bool = False) -> list[CronJob]:
    """The jobs that are `agent_id`'s heartbeat: its jobs whose name or message mentions
    "heartbeat" or "check"; if it has exactly one job, that one. With `is_default`, jobs without
    an agentId (they run on the default agent) count as its own."""
    mine = [j for j in jobs if j.agent_id == agent_id or (is_default and not j.agent_id)]
    if len(mine) == 1:
        return mine
    return [j for j in mine if _HEARTBEAT_WORDS.search(j.name) or _HEARTBEAT_WORDS.search(j.message)]


def run_to_heartbeat(job: CronJob, run: CronRun, secrets: Iterable[str | None] = ()) -> HeartbeatIn:
    """A cron run as the heartbeat the console records. An `ok` run whose delivery failed is an
    error ("delivery failed: …"); a skipped run is ok."""
    at = run.at
    error: str | None = None
    if run.status == "error":
        error = run.error or run.summary or "the run failed"
        if run.delivery_failed and run.delivery_error:
            error += f"; delivery failed: {run.delivery_error}"
    elif run.delivery_failed:
        error = f"delivery failed: {run.delivery_error}" if run.delivery_error else "delivery failed"
    return HeartbeatIn(
        agent_id=job.agent_id or "",
        at=at,
        outcome="error" if error else "ok",
        source="openclaw",
        run_id=f"openclaw:{job.id}:{int(at)}",
        duration_ms=run.duration_ms,
        error=redact(error, secrets)[:500] if error else None,
        delivery=run.delivery_status,
        model=run.model,
        tokens=float(run.tokens) if run.tokens is not None else None,
        cost_usd=run.cost_usd,
    )

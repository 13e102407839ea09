"""OpenClaw's cron jobs and their runs, and a run as the heartbeat the console records.

`load_cron` reads them from the `openclaw` CLI when there is one (`cron list --all --json`, then
`cron runs --id … --limit … --offset …` page by page until `hasMore` is false or the runs
already collected are reached, several jobs at once). When the CLI is missing, fails (gateway
down, token refused) or hangs, it reads OpenClaw 2026.6+'s state database read-only
(`state_db`), else the legacy files under `<state>/cron/` of older releases. When nothing can
be read it says so (an OpenClawError): it never concludes "no job".

`heartbeat_jobs` picks an agent's heartbeat job (squad.toml's `job`, else `<agent>-heartbeat`;
OpenClaw's system jobs never); `run_to_heartbeat` turns a run into a `HeartbeatIn` (run errors
redacted).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
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
        """The job was added `--exact` (staggerMs 0)."""
        return self.stagger_ms == 0

    @property
    def staggered(self) -> bool:
        """OpenClaw delays this job's runs by up to its stagger window: a stored staggerMs > 0, or
        (none stored) an expression OpenClaw staggers by default (`openclaw_staggers`)."""
        if self.kind != "cron":
            return False
        if self.stagger_ms is not None:
            return self.stagger_ms > 0
        return openclaw_staggers(self.expr)


def openclaw_staggers(expr: str | None) -> bool:
    """OpenClaw's rule (docs/automation/cron-jobs/schedules.md, seen on 2026.9.6): a recurring
    top-of-hour expression, i.e. the minute field exactly `0` and a wildcard in the hour field,
    is staggered by up to 5 minutes (stored as staggerMs 300000). `*/15` is not: it ran at
    :30:00.018 and :45:00.017."""
    if not expr:
        return False
    fields = expr.split()
    if len(fields) == 6:  # with seconds
        fields = fields[1:]
    if len(fields) < 2:
        return False
    return fields[0] in ("0", "00") and "*" in fields[1]


@dataclass(frozen=True)
class CronDelivery:
    mode: str | None = None
    channel: str | None = None
    to: str | None = None
    account_id: str | None = None
    failure_destination: dict[str, Any] | None = None  # delivery.failureDestination: where failure alerts go


@dataclass(frozen=True)
class CronJobState:
    next_run_at_ms: float | None = None
    last_run_at_ms: float | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_duration_ms: float | None = None
    consecutive_errors: int = 0
    last_delivery_status: str | None = None
    last_error_reason: str | None = None  # "auth", ... (2026.9)
    last_delivery_error: str | None = None
    auto_disabled: str | None = None  # state.autoDisabled.reason: OpenClaw switched the job off
    last_diagnostic: str | None = None  # state.lastDiagnosticSummary


# OpenClaw's own jobs (2026.9): the native heartbeat (`heartbeat-<agent>`), the weekly
# `skill-collection-review-<agent>`, "Memory Dreaming Promotion"... They carry a declarationKey
# (`heartbeat:main`, `skill-collection-review:veda`, `memory-core:…`) or a `[managed-by=…]`
# description. A declarationKey of the console's own (`squad-console:…`) is not a system job.
CONSOLE_DECLARATION_PREFIX = "squad-console:"


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
    display_name: str | None = None
    declaration_key: str | None = None
    description: str | None = None
    failure_alert: dict[str, Any] | bool | None = None  # the job's failureAlert: an object, false, or unset

    @property
    def payload_kind(self) -> str | None:
        kind = self.payload.get("kind")
        return kind if isinstance(kind, str) else None

    @property
    def native_heartbeat(self) -> bool:
        """OpenClaw's own heartbeat job of an agent (`payload.kind: "heartbeat"`,
        `declarationKey: "heartbeat:<agent>"`)."""
        return self.payload_kind == "heartbeat" or (self.declaration_key or "").startswith("heartbeat:")

    @property
    def system(self) -> bool:
        """Owned by OpenClaw (its native heartbeat, skill reviews, memory jobs): never a squad
        heartbeat, never counted, never edited ("system-owned monitor jobs cannot be edited")."""
        if self.native_heartbeat:
            return True
        if (self.description or "").startswith("[managed-by="):
            return True
        return bool(self.declaration_key) and not self.declaration_key.startswith(CONSOLE_DECLARATION_PREFIX)  # type: ignore[union-attr]

    @property
    def label(self) -> str:
        return self.display_name or self.name

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
    completion_status: str | None = None  # "succeeded" | "failed" (2026.9)
    error_reason: str | None = None  # "auth", ... (2026.9)
    run_id: str | None = None  # "manual:…" for a forced `cron run`
    diagnostic: str | None = None  # diagnostics.summary

    @property
    def at(self) -> float:
        return self.run_at_ms if self.run_at_ms is not None else self.ts

    @property
    def manual(self) -> bool:
        """Forced with `openclaw cron run` (runId `manual:…`): not the run of a schedule slot."""
        return (self.run_id or "").startswith("manual:")

    @property
    def delivery_failed(self) -> bool:
        """Delivery was asked for and not made (a run can be `ok` and still not be delivered)."""
        if self.delivery_status == "not-delivered" and self.delivered is not True:
            return True
        if self.delivery_status in ("not-requested", "delivered") and self.delivered is not False:
            return False
        if self.delivery_error:
            return self.delivered is False or self.delivery_status in ("not-delivered", None)
        return self.delivered is False and self.delivery_status == "not-delivered"


@dataclass(frozen=True)
class CronState:
    jobs: list[CronJob]
    runs: dict[str, list[CronRun]]
    source: str  # "cli" | "sqlite" | "files"
    corrupt_lines: int = 0
    notes: list[str] = field(default_factory=list)
    cli_error: str | None = None  # the CLI failed and the state database or legacy files were read instead
    cli_error_kind: str | None = None  # cli_error_kind(): "token_mismatch" | "unreachable" | "timeout" | "other"
    runs_read: bool = True  # False: only the jobs were read (their state holds the last run)

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
            failure_destination=dict(deliv["failureDestination"]) if isinstance(deliv.get("failureDestination"), dict) else None,
        )
        if isinstance(deliv, dict)
        else None
    )
    st = d.get("state") if isinstance(d.get("state"), dict) else {}
    auto = st.get("autoDisabled")
    state = CronJobState(
        next_run_at_ms=as_number(pick(st, "nextRunAtMs")),
        last_run_at_ms=as_number(pick(st, "lastRunAtMs")),
        last_status=pick(st, "lastStatus", "lastRunStatus"),
        last_error=as_text(pick(st, "lastError")),
        last_duration_ms=as_number(pick(st, "lastDurationMs")),
        consecutive_errors=as_int(pick(st, "consecutiveErrors")) or 0,
        last_delivery_status=pick(st, "lastDeliveryStatus"),
        last_error_reason=as_text(pick(st, "lastErrorReason")),
        last_delivery_error=as_text(pick(st, "lastDeliveryError")),
        auto_disabled=(as_text(pick(auto, "reason")) or "auto-disabled") if isinstance(auto, dict) else (
            "auto-disabled" if auto is True else None),
        last_diagnostic=as_text(pick(st, "lastDiagnosticSummary")),
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
        display_name=as_text(pick(d, "displayName")),
        declaration_key=as_text(pick(d, "declarationKey")),
        description=as_text(pick(d, "description")),
        failure_alert=(dict(d["failureAlert"]) if isinstance(d.get("failureAlert"), dict)
                       else d["failureAlert"] if isinstance(d.get("failureAlert"), bool) else None),
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
        completion_status=as_text(pick(d, "completionStatus")),
        error_reason=as_text(pick(d, "errorReason")),
        run_id=as_text(pick(d, "runId")),
        diagnostic=as_text(pick(d["diagnostics"], "summary")) if isinstance(d.get("diagnostics"), dict) else None,
    )


RUNS_PAGE = 200  # `cron runs --limit` accepts at most 200 (2026.9)
RunsFor = Collection[str] | Callable[[list[CronJob]], Collection[str]] | None


def resolve_runs_for(runs_for: RunsFor, jobs: list[CronJob]) -> Collection[str] | None:
    return set(runs_for(jobs)) if callable(runs_for) else runs_for


def cli_error_kind(text: str | None) -> str | None:
    """What a failed CLI call means: "token_mismatch" (the gateway refused the token:
    `unauthorized: gateway token mismatch`, AUTH_TOKEN_MISMATCH, AUTH_SCOPE_MISMATCH, a 1008
    close), "unreachable" (ECONNREFUSED, "not reachable"), "timeout", or "other"."""
    if not text:
        return None
    if re.search(r"token mismatch|AUTH_TOKEN_MISMATCH|AUTH_SCOPE_MISMATCH|\b1008\b", text, re.I):
        return "token_mismatch"
    if re.search(r"not reachable|ECONNREFUSED|connection refused|gateway closed|ECONNRESET|EHOSTUNREACH", text, re.I):
        return "unreachable"
    if re.search(r"gave no answer within|timed? ?out", text, re.I):
        return "timeout"
    return "other"


def load_cron(
    state_dir: Path,
    runner: RunnerArg = "auto",
    *,
    run_limit: int | None = None,
    runs_for: RunsFor = None,
    since: Mapping[str, float] | None = None,
    workers: int = 4,
    prefer_state_db: bool = False,
) -> CronState:
    """Cron jobs and their runs (see the module's docstring for where from).

    `runs_for`: the ids of the jobs whose runs to read, or a function of the jobs giving them
    (None: every job's; an empty set: no runs, only the jobs, whose `state` holds each one's last
    run: one CLI call). `since`: per job id,
    the time (ms) of the newest run already collected: only newer runs are read (the CLI's pages
    stop there). `run_limit`: keep at most the newest N runs a job. `prefer_state_db`: read the
    local state database first when there is one (milliseconds, where each CLI call costs about
    a second of Node start-up), the CLI only without it.

    Raises OpenClawError only when nothing can be read, saying why (never "no job")."""
    from console.service.openclaw.state_db import StateDbMissing, read_cron_state, state_db_path

    state_dir = Path(state_dir).expanduser()
    db = state_db_path(state_dir)
    if prefer_state_db and db.is_file():
        try:
            state = read_cron_state(db, runs_for=runs_for, since=since or {}, run_limit=run_limit)
            state.notes.append(f"read {db} read-only")
            return state
        except (StateDbMissing, OpenClawError):
            pass  # the CLI may still tell
    run = resolve_runner(runner)
    cli_error = None
    if run is not None:
        try:
            return _cron_from_cli(run, run_limit, runs_for, since or {}, workers)
        except OpenClawError as exc:
            cli_error = exc.message
    try:
        state = read_cron_state(db, runs_for=runs_for, since=since or {}, run_limit=run_limit)
    except StateDbMissing:
        pass
    else:
        why = f"{cli_error}; " if cli_error else "the openclaw CLI is not on PATH; "
        state.notes.insert(0, why + f"read {db} read-only instead")
        return dataclasses.replace(state, cli_error=cli_error, cli_error_kind=cli_error_kind(cli_error))
    cron = state_dir / "cron"
    jobs_file = cron / "jobs.json"
    if not jobs_file.exists():
        migrated = sorted(p.name for p in cron.glob("*.migrated")) if cron.is_dir() else []
        if migrated or cron.is_dir() and (cron / "runs").is_dir() and any((cron / "runs").glob("*.migrated")):
            what = (f"OpenClaw moved its cron jobs and run history into its SQLite state database (only "
                    f"{', '.join(migrated) or 'runs/*.migrated'} is left)")
        else:
            what = "OpenClaw's cron jobs could not be read"
        why = f"the CLI failed ({cli_error})" if cli_error else "the openclaw CLI is not on PATH"
        raise OpenClawError(
            f"{what}: {why}, there is no state database at {db} and no legacy {jobs_file}",
            path=state_dir,
            hint="install the openclaw CLI on PATH (or point OPENCLAW_STATE_DIR / [openclaw] state_dir at the "
                 "gateway's state folder); check with `openclaw cron list --all --json`",
        )
    jobs, notes = _jobs_from_file(jobs_file)
    runs_for = resolve_runs_for(runs_for, jobs)
    runs: dict[str, list[CronRun]] = {}
    corrupt = 0
    for job in jobs:
        if runs_for is not None and job.id not in runs_for:
            runs[job.id] = []
            continue
        job_runs, bad = _runs_from_file(cron / "runs" / f"{job.id}.jsonl", job.id)
        corrupt += bad
        after = (since or {}).get(job.id)
        if after is not None:
            job_runs = [r for r in job_runs if r.at > after]
        runs[job.id] = job_runs[-run_limit:] if run_limit else job_runs
    if corrupt:
        notes.append(f"{corrupt} corrupt line{'s' if corrupt != 1 else ''} skipped in {cron / 'runs'}")
    if cli_error:
        notes.insert(0, f"{cli_error}; read the legacy files instead")
    return CronState(jobs, runs, "files", corrupt_lines=corrupt, notes=notes, cli_error=cli_error,
                     cli_error_kind=cli_error_kind(cli_error), runs_read=runs_for is None or bool(runs_for))


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


def _run_json(run: Runner, argv: list[str]) -> Any:
    code, out, err = run(argv)
    if code != 0:
        raise OpenClawError(cli_failure(argv, code, out, err))
    try:
        return parse_json_output(out)
    except ValueError as exc:
        raise OpenClawError(f"`{' '.join(argv)}` printed no JSON ({exc})") from None


def _cron_from_cli(
    run: Runner, run_limit: int | None, runs_for: RunsFor, since: Mapping[str, float], workers: int
) -> CronState:
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
    notes: list[str] = []
    if isinstance(data, dict) and data.get("hasMore") is True:  # `cron list` has no --offset (2026.9)
        notes.append(f"`openclaw cron list` returned {len(jobs)} of {data.get('total')} jobs (it has no paging option)")
    runs_for = resolve_runs_for(runs_for, jobs)
    wanted = [j for j in jobs if runs_for is None or j.id in runs_for]
    runs: dict[str, list[CronRun]] = {j.id: [] for j in jobs}

    def job_runs(job: CronJob) -> tuple[str, list[CronRun], str | None]:
        try:
            return job.id, _runs_from_cli(run, job.id, since.get(job.id), run_limit), None
        except OpenClawError as exc:
            return job.id, [], exc.message

    if wanted:
        with concurrent.futures.ThreadPoolExecutor(max(1, min(workers, len(wanted)))) as pool:
            for job_id, parsed, note in pool.map(job_runs, wanted):
                runs[job_id] = parsed
                if note:
                    notes.append(note)
    return CronState(jobs, runs, "cli", notes=notes, runs_read=bool(wanted) or runs_for is None)


def _runs_from_cli(run: Runner, job_id: str, since: float | None, run_limit: int | None) -> list[CronRun]:
    """`cron runs --id … --limit 200 --offset …`, newest first, page after page until `hasMore`
    is false, the runs already collected (`since`) are reached or `run_limit` runs are read;
    oldest first in the result."""
    out: list[CronRun] = []
    offset = 0
    page = min(RUNS_PAGE, run_limit) if run_limit else RUNS_PAGE
    for _ in range(1000):  # 200,000 runs: far beyond OpenClaw's 2,000 a job
        argv = [CLI, "cron", "runs", "--id", job_id, "--limit", str(page), "--offset", str(offset), "--json"]
        data = _run_json(run, argv)
        items = unwrap_list(data, ("entries", "runs", "items", "history"))
        parsed = [r for r in (parse_run(x, job_id) for x in items if isinstance(x, dict)) if r and r.action in (None, "finished")]
        reached = since is not None and any(r.at <= since for r in parsed)
        out.extend(r for r in parsed if since is None or r.at > since)
        more = isinstance(data, dict) and data.get("hasMore") is True
        if not more or reached or not items or (run_limit and len(out) >= run_limit):
            break
        next_offset = data.get("nextOffset")
        offset = next_offset if isinstance(next_offset, int) and next_offset > offset else offset + len(items)
    out.sort(key=lambda r: r.at)
    return out[-run_limit:] if run_limit else out


_HEARTBEAT_WORDS = re.compile(r"heartbeat|check", re.I)


def heartbeat_job_name(agent_id: str) -> str:
    """The console's own name for an agent's heartbeat job."""
    return f"{agent_id}-heartbeat"


def heartbeat_jobs(
    jobs: Iterable[CronJob], agent_id: str, *, is_default: bool = False, job: str | None = None
) -> list[CronJob]:
    """The squad heartbeat job(s) of `agent_id`: the job squad.toml names (`job`: a name or an
    id), else the one named `<agent>-heartbeat`, else (older set-ups) its only job or its jobs
    whose name or message mentions "heartbeat" or "check". OpenClaw's system jobs (its native
    heartbeat, skill reviews, memory jobs) are never one. With `is_default`, jobs without an
    agentId (they run on the default agent) count as its own."""
    mine = [j for j in jobs if not j.system and (j.agent_id == agent_id or (is_default and not j.agent_id))]
    if job:
        return [j for j in mine if j.name == job or j.id == job]
    named = [j for j in mine if j.name == heartbeat_job_name(agent_id)]
    if named:
        return named
    if len(mine) == 1:
        return mine
    return [j for j in mine if _HEARTBEAT_WORDS.search(j.name) or _HEARTBEAT_WORDS.search(j.message)]


def native_heartbeat_jobs(jobs: Iterable[CronJob], agent_id: str) -> list[CronJob]:
    """OpenClaw's own heartbeat job(s) for `agent_id` (`heartbeat-<agent>`, payload.kind heartbeat)."""
    return [j for j in jobs if j.native_heartbeat and (j.agent_id == agent_id or j.declaration_key == f"heartbeat:{agent_id}")]


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

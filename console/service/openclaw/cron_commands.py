"""The `openclaw cron` commands the console proposes for heartbeat jobs, and how a job differs.

`cron_add_command` builds the argv of an agent's isolated heartbeat job (`--exact` when it fires
at :00, so OpenClaw does not stagger it); `compare_job` says in words how an existing job differs
from the console's schedule. Nothing here runs a command: callers print or run them.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from console.service.openclaw.cron import CronJob
from console.service.openclaw.runner import CLI

HEARTBEAT_OK = "HEARTBEAT_OK"  # what an agent replies when its heartbeat finds nothing to do


def fires_at_top_of_hour(expr: str | None) -> bool:
    """True when a cron expression fires at minute 0 (OpenClaw staggers those unless --exact)."""
    if not expr:
        return False
    fields = expr.split()
    minute = fields[1] if len(fields) == 6 else (fields[0] if fields else "")
    try:
        from croniter import croniter

        expanded = croniter.expand(" ".join(fields[1:] if len(fields) == 6 else fields))[0][0]
        return expanded == ["*"] or 0 in expanded
    except Exception:
        return minute in ("0", "00", "*") or minute.startswith(("0,", "*/")) or ",0," in f",{minute},"


def heartbeat_message(agent_id: str) -> str:
    return (
        f"Heartbeat for {agent_id}: read HEARTBEAT.md in your workspace if it exists and follow it strictly. "
        f"Check your assigned tasks and @mentions. If nothing needs attention, reply {HEARTBEAT_OK}."
    )


def cron_add_command(agent_id: str, name: str | None, cron: str, tz: str, message: str | None = None) -> list[str]:
    """The argv of `openclaw cron add` for an agent's isolated heartbeat job (`--exact` when it
    fires at :00, so OpenClaw does not stagger it)."""
    argv = [
        CLI, "cron", "add",
        "--name", name or f"{agent_id}-heartbeat",
        "--cron", cron,
        "--tz", tz,
        "--session", "isolated",
        "--agent", agent_id,
        "--message", message or heartbeat_message(agent_id),
    ]
    if fires_at_top_of_hour(cron):
        argv.append("--exact")
    return argv


def format_command(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def _same_expr(a: str, b: str) -> bool:
    if " ".join(a.split()) == " ".join(b.split()):
        return True
    try:
        from croniter import croniter

        return croniter.expand(a) == croniter.expand(b)
    except Exception:
        return False


def compare_job(job: CronJob, cron: str | None, tz: str = "UTC") -> list[str]:
    """How `job` differs from the console's schedule, in words (empty when it matches)."""
    out = []
    sched = job.schedule
    if cron:
        if sched.kind != "cron" or not sched.expr:
            what = f"every {sched.every_ms / 1000:g}s" if sched.every_ms else (sched.at or sched.kind)
            out.append(f"expression: the job runs on a {sched.kind} schedule ({what}), the console expects cron {cron!r}")
        elif not _same_expr(sched.expr, cron):
            out.append(f"expression: the job has {sched.expr!r}, the console expects {cron!r}")
    if tz and (sched.tz or None) != tz and not (sched.tz is None and sched.kind != "cron"):
        have = repr(sched.tz) if sched.tz else "no time zone (the gateway host's local time)"
        out.append(f"timezone: the job has {have}, the console expects {tz!r}")
    if not job.enabled:
        out.append("disabled: the job is switched off in OpenClaw")
    if sched.kind == "cron" and fires_at_top_of_hour(sched.expr) and not sched.exact:
        by = f"staggerMs={sched.stagger_ms}" if sched.stagger_ms else "no --exact"
        out.append(f"not exact at :00: OpenClaw staggers it by up to 5 min ({by})")
    return out

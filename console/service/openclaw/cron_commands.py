"""The `openclaw cron` commands the console proposes for heartbeat jobs, and how a job differs.

`cron_add_command` builds the argv of an agent's isolated heartbeat job as OpenClaw 2026.9 runs
it well: delivery explicit (`--no-deliver`, or `--announce --channel C --to T`: OpenClaw's
default `announce` to `last` fails closed for WhatsApp without a target), `--exact` only where
OpenClaw would stagger (minute `0` with a wildcard hour), and a message for the 2026.9 runtime
(which no longer reads HEARTBEAT.md). `compare_job` says in words how an existing job differs
from the console's schedule, by the fields OpenClaw stores. Nothing here runs a command:
callers print or run them. Every flag was checked against `openclaw cron add --help` (2026.9.6).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from console.service.openclaw.cron import CronJob, heartbeat_job_name, openclaw_staggers
from console.service.openclaw.runner import CLI

HEARTBEAT_OK = "HEARTBEAT_OK"  # what an agent replies when its heartbeat finds nothing to do


def fires_at_top_of_hour(expr: str | None) -> bool:
    """True when OpenClaw would stagger this expression unless `--exact` (minute `0` and a
    wildcard hour: cron.openclaw_staggers). `*/15` is not staggered."""
    return openclaw_staggers(expr)


def heartbeat_message(agent_id: str) -> str:
    """The heartbeat turn's message for OpenClaw 2026.9 (its runtime no longer reads HEARTBEAT.md:
    the instructions are in the message)."""
    return (
        f"Heartbeat for {agent_id}: check Mission Control for your assigned tasks and @mentions and "
        f"act on what needs you. If nothing needs attention, reply {HEARTBEAT_OK}."
    )


def cron_add_command(
    agent_id: str, name: str | None, cron: str, tz: str, message: str | None = None, *,
    channel: str | None = None, to: str | None = None, account: str | None = None,
) -> list[str]:
    """The argv of `openclaw cron add` for an agent's isolated heartbeat job: delivery explicit
    (`--no-deliver`, or `--announce --channel … --to …` when a target is given), `--exact` only
    where OpenClaw would stagger."""
    argv = [
        CLI, "cron", "add",
        "--name", name or heartbeat_job_name(agent_id),
        "--cron", cron,
        "--tz", tz,
        "--session", "isolated",
        "--agent", agent_id,
        "--message", message or heartbeat_message(agent_id),
    ]
    if channel and to:
        argv += ["--announce", "--channel", channel, "--to", to]
        if account:
            argv += ["--account", account]
    else:
        argv.append("--no-deliver")
    if openclaw_staggers(cron):
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
    if sched.staggered:
        by = f"staggerMs={sched.stagger_ms}" if sched.stagger_ms else "added without --exact"
        out.append(f"staggered: OpenClaw delays each run by up to {(sched.stagger_ms or 300_000) / 60_000:g} min ({by})")
    if job.state.auto_disabled:
        out.append(f"auto-disabled by OpenClaw: {job.state.auto_disabled}")
    delivery = job.delivery
    if job.payload_kind != "command" and delivery is not None and (delivery.mode or "announce") == "announce" and (
            not delivery.to or (delivery.channel or "last") == "last"):
        out.append("delivery: announce to the last route with no target, which fails closed for WhatsApp "
                   "(use --no-deliver, or --announce --channel whatsapp --to +E164)")
    return out

"""`squad-console heartbeat`: push a beat, pause or resume an agent, and the cron jobs that give
each agent its staggered heartbeat."""

from __future__ import annotations

import argparse
import math
import time
from datetime import datetime, timezone

from console.commands import EXIT_FAIL, EXIT_OK, EXIT_USAGE, CommandError, Context, with_store


def register(sub: argparse._SubParsersAction) -> None:
    hb = sub.add_parser("heartbeat", help="push beats, pause agents, and set up the heartbeat cron jobs",
                        description="Heartbeats: push a beat from any scheduler, pause and resume an agent, and "
                        "print (or run) the `openclaw cron` commands that give each agent its heartbeat job.")
    actions = hb.add_subparsers(dest="action", metavar="ACTION", parser_class=type(hb))

    beat = actions.add_parser("beat", help="record one heartbeat for AGENT (a push any scheduler can call)",
                              description="Record one heartbeat for AGENT. Idempotent by --run-id. When the store "
                              "is unreachable the beat waits in the local outbox and `squad-console service` "
                              "delivers it once the store is back.")
    beat.add_argument("agent", metavar="AGENT", help="the agent's OpenClaw id, e.g. veda")
    beat.add_argument("--error", metavar="TEXT", help="the run failed, with this error (never put a secret here)")
    beat.add_argument("--duration", metavar="MS", type=duration_ms,
                      help="how long the run took, in milliseconds (0 to 86400000)")
    beat.add_argument("--run-id", metavar="ID", help="the run's id: the same id recorded twice is one beat")
    beat.add_argument("--at", metavar="TIME", help="when it ran: ISO 8601 (default: now)")

    crons = actions.add_parser("crons", help="the `openclaw cron` commands for each agent's heartbeat job",
                               description="For each agent of squad.toml: the exact `openclaw cron add` command "
                               "that gives it its heartbeat job (squad.toml's schedule and time zone), or, when it "
                               "has one, whether that job matches and the `openclaw cron enable` / `cron edit` "
                               "commands that bring it in line. With --apply, run the missing `cron add` commands "
                               "(the fixes are only printed). Exit 0 when every agent's job is there and matches, "
                               "1 otherwise.")
    crons.add_argument("--apply", action="store_true",
                       help="run the `cron add` commands for agents that have no heartbeat job")

    for name, what in (("pause", "stop counting AGENT's missed beats (maintenance)"),
                       ("resume", "count AGENT's beats again")):
        p = actions.add_parser(name, help=what, description=f"{what[0].upper()}{what[1:]}. Recorded as a flip and audited.")
        p.add_argument("agent", metavar="AGENT")
        p.add_argument("--reason", metavar="TEXT", default=None, help="why, for the audit log")


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.action == "beat":
        return _beat(args, ctx)
    if args.action == "crons":
        return _crons(args, ctx)
    if args.action in ("pause", "resume"):
        return with_store(ctx, lambda store: _pause(args, ctx, store))
    raise CommandError("say what to do: beat, crons, pause or resume", hint="squad-console heartbeat --help",
                       code=EXIT_USAGE)


def _parse_at(text: str | None) -> float:
    if not text:
        return time.time() * 1000
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"--at {text!r} is not an ISO 8601 time", hint="e.g. --at 2026-11-24T10:02:00Z",
                           code=EXIT_USAGE) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp() * 1000


def duration_ms(text: str) -> float:
    """`--duration`: a finite number of milliseconds, from 0 to a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if not math.isfinite(value) or not 0 <= value <= 86_400_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 86400000 ms (a day)")
    return value


def _known_agent(ctx: Context, store, agent_id: str) -> None:
    known = {a.id for a in ctx.settings.agents}
    if agent_id in known:
        return
    from console.service.store import StoreUnavailable

    try:
        known |= {a.agent_id for a in store.list_agents()}
    except StoreUnavailable:
        pass
    if agent_id not in known:
        raise CommandError(f"unknown agent {agent_id!r} (known: {', '.join(sorted(known)) or 'none'})",
                           hint="add it to squad.toml or run `squad-console agents import`", code=EXIT_USAGE)


def _beat(args: argparse.Namespace, ctx: Context) -> int:
    from console.service.models import HeartbeatIn
    from console.service.store.outbox import Outbox, record_beat
    from console.service.wiring import open_store

    beat = HeartbeatIn(
        agent_id=args.agent,
        at=_parse_at(args.at),
        outcome="error" if args.error else "ok",
        source="push",
        run_id=args.run_id,
        duration_ms=args.duration,
        error=args.error,
    )
    store = open_store(ctx.settings.store)
    outbox = Outbox(ctx.settings.store.outbox_path())
    try:
        _known_agent(ctx, store, args.agent)
        outcome = record_beat(store, outbox, beat)
    finally:
        outbox.close()
        store.close()
    if outcome == "queued":
        ctx.print(f"{args.agent}: store unreachable, beat queued in {ctx.settings.store.outbox_path()}; "
                  "`squad-console service` delivers it when the store is back")
    else:
        ctx.print(f"{args.agent}: beat {'recorded' if outcome == 'recorded' else 'already recorded (same run id)'}")
    return EXIT_OK


def _pause(args: argparse.Namespace, ctx: Context, store) -> int:
    from console.service.health.slots import runs_from_heartbeats, status_at
    from console.service.health.squad import WEEK_MS, last_stored_status, schedule_for

    _known_agent(ctx, store, args.agent)
    now = time.time() * 1000
    flips = store.list_flips(args.agent, limit=100_000)
    last = last_stored_status(flips)
    if args.action == "pause":
        if last == "paused":
            ctx.print(f"{args.agent}: already paused")
            return EXIT_OK
        store.record_flip(args.agent, now, last, "paused", args.reason or "paused by the operator")
        ctx.print(f"{args.agent}: paused; missed beats no longer count until `squad-console heartbeat resume {args.agent}`")
        return EXIT_OK
    if last != "paused":
        ctx.print(f"{args.agent}: not paused")
        return EXIT_OK
    configured = {a.id: a for a in ctx.settings.agents}.get(args.agent)
    stored = {a.agent_id: a for a in store.list_agents()}.get(args.agent)
    schedule = schedule_for(args.agent, configured, stored, [])
    beats = store.list_heartbeats(args.agent, since=now - WEEK_MS, limit=20_000)
    to = status_at(schedule, runs_from_heartbeats(beats), now).status
    to = "up" if to == "late" else to
    store.record_flip(args.agent, now, "paused", to, args.reason or "resumed by the operator")
    ctx.print(f"{args.agent}: resumed ({to})")
    return EXIT_OK


def _crons(args: argparse.Namespace, ctx: Context) -> int:
    from console.service.openclaw.cron import heartbeat_job_name, heartbeat_jobs, load_cron
    from console.service.openclaw.cron_commands import compare_job, cron_add_command, format_command
    from console.service.openclaw.errors import OpenClawError
    from console.service.openclaw.runner import default_runner, redact

    try:
        cron = load_cron(ctx.settings.openclaw.state_dir, runs_for=set())
    except OpenClawError as exc:
        # never "no heartbeat job yet" (and `cron add` duplicates) for jobs that could not be read
        raise CommandError(f"OpenClaw's cron jobs could not be read, so nothing is proposed: {exc}",
                           hint=exc.hint or "check with `openclaw cron list --all --json`") from None
    missing: list[list[str]] = []
    differs = 0
    for agent in ctx.settings.agents:
        existing = heartbeat_jobs(cron.jobs, agent.id, job=agent.job)  # OpenClaw's system jobs never
        if not existing:
            argv = cron_add_command(agent.id, agent.job or heartbeat_job_name(agent.id), agent.heartbeat, agent.tz)
            ctx.print(f"# {agent.id}: no heartbeat job yet ({agent.heartbeat} {agent.tz})")
            ctx.print(format_command(argv))
            missing.append(argv)
            continue
        for job in existing:
            problems = compare_job(job, agent.heartbeat, agent.tz)
            if problems:
                differs += 1
                ctx.print(f"# {agent.id}: job {job.id} ({job.name}) differs from squad.toml: {'; '.join(problems)}")
                for fix in _job_fixes(job, agent.heartbeat, agent.tz):
                    ctx.print(format_command(fix))
            else:
                ctx.print(f"# {agent.id}: job {job.id} ({job.name}) matches ({agent.heartbeat} {agent.tz})")
    where = {"cli": "the openclaw CLI", "sqlite": "OpenClaw's state database (read-only)", "files": "the legacy cron files"}
    ctx.warn(f"(existing jobs read from {where.get(cron.source, cron.source)}"
             + (f"; the CLI failed: {cron.cli_error}" if cron.cli_error else "") + ")")
    if args.apply and missing:
        runner = default_runner()
        if runner is None:
            raise CommandError("the openclaw CLI is not on PATH, so --apply cannot run the commands",
                               hint="run the commands above on the gateway host, or put `openclaw` on PATH")
        for argv in missing:
            code, out, err = runner(argv)
            if code != 0:
                raise CommandError(f"`{format_command(argv[:4])} ...` failed (exit {code}): {redact((err or out).strip())[:300]}")
            ctx.print(f"applied: {format_command(argv[:4])} ...")
        missing = []
    # for scripts: 0 when every agent's job is there and matches, 1 while something still needs doing
    return EXIT_FAIL if (differs or missing) else EXIT_OK


def _job_fixes(job, cron: str, tz: str) -> list[list[str]]:
    """The commands that bring an existing job in line with squad.toml (never for a system job:
    OpenClaw refuses to edit those, and heartbeat_jobs never returns one)."""
    from console.service.openclaw.cron_commands import _same_expr
    from console.service.openclaw.runner import CLI

    fixes: list[list[str]] = []
    if not job.enabled:
        fixes.append([CLI, "cron", "enable", job.id])
    edit = [CLI, "cron", "edit", job.id]
    if not (job.schedule.expr and _same_expr(job.schedule.expr, cron)) or (job.schedule.tz or "") != tz:
        edit += ["--cron", cron, "--tz", tz]
    if job.schedule.staggered:
        edit.append("--exact")
    delivery = job.delivery
    if job.payload_kind != "command" and delivery is not None and (delivery.mode or "announce") == "announce" and (
            not delivery.to or (delivery.channel or "last") == "last"):
        edit.append("--no-deliver")
    if len(edit) > 4:
        fixes.append(edit)
    return fixes

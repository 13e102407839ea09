"""Why an agent's heartbeats fail or may fail, most blocking first, each with the commands that fix it.

`diagnose` reads what the other modules found (config, cron, gateway health, channels) and
returns `Cause`s from OpenClaw's own signals (2026.9): a run's `errorReason` ("auth": no model
credentials, the provider named), `completionStatus`, `deliveryStatus`/`deliveryError` and the
channel it delivers to; a job's `state` (`lastErrorReason`, `consecutiveErrors`, `autoDisabled`);
the channels' `statusIssues`/`stateReason` (WhatsApp never linked vs logged out (401) vs its
plugin missing); the CLI's own error (gateway unreachable, `unauthorized: gateway token
mismatch`). A cause is only claimed from a signal: an OPENCLAW_GATEWAY_TOKEN that differs from
openclaw.json while the CLI works is no mismatch (openclaw.json's token wins in the CLI), and a
channel problem is an agent's cause only when its job delivers to that channel. OpenClaw's
system jobs are never proposed for edits. Every fix command was checked against the real CLI's
`--help` (2026.9.6). Quoted texts are redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from console.service.openclaw.channels import ChannelReport, ChannelStatus
from console.service.openclaw.config import OpenClawConfig
from console.service.openclaw.cron import CronJob, CronRun, CronState, cli_error_kind, heartbeat_jobs, native_heartbeat_jobs
from console.service.openclaw.cron_commands import compare_job, cron_add_command, format_command
from console.service.openclaw.gateway import GatewayHealth
from console.service.openclaw.job_snapshot import JobLoss
from console.service.openclaw.runner import CLI, redact
from console.service.health.outages import AgentHistory, short_ok


@dataclass(frozen=True)
class Cause:
    code: str
    title: str
    detail: str
    fix: list[str] = field(default_factory=list)  # the exact commands, in order
    severity: str = "blocking"  # "blocking" | "degraded" | "warning"


_RANK = {
    "gateway_unreachable": 0,
    "skipped_while_gateway_down": 0.5,
    "gateway_token_mismatch": 1,
    "cron_unreadable": 2,
    "heartbeat_job_lost": 2.5,
    "no_heartbeat_job": 3,
    "job_auto_disabled": 4,
    "job_disabled": 5,
    "model_auth": 6,
    "whatsapp_plugin_missing": 7,
    "whatsapp_logged_out": 8,
    "whatsapp_not_linked": 9,
    "whatsapp_replaced": 10,
    "delivery_failed": 11,
    "run_failed": 12,
    "ok_while_gateway_down": 12.5,
    "failure_alert_to_failing_channel": 12.7,
    "heartbeat_every_zero": 12.8,
    "heartbeat_block_footgun": 13,
    "double_heartbeat": 14,
    "staggered_top_of_hour": 15,
    "schedule_differs": 16,
}

_LOGGED_OUT = re.compile(r"\b401\b|logged\s*out|loggedout", re.I)
_REPLACED = re.compile(r"\b440\b|connection replaced|replaced by another", re.I)
_PROVIDER = re.compile(r"configured for ([A-Za-z0-9_.-]+?)\.?$|provider[:= ]+([A-Za-z0-9_.-]+)", re.I)


def _provider(run: CronRun | None, text: str) -> str | None:
    if run is not None and run.provider:
        return run.provider
    m = _PROVIDER.search(text.strip())
    return (m.group(1) or m.group(2)) if m else None


def _latest(cron: CronState | None, job: CronJob) -> CronRun | None:
    runs = cron.runs.get(job.id, []) if cron else []
    return runs[-1] if runs else None


def diagnose(
    agent_id: str,
    *,
    config: OpenClawConfig | None,
    cron: CronState | None,
    gateway: GatewayHealth | None,
    channels: Sequence[ChannelStatus] | ChannelReport | None,
    schedule_cron: str | None,
    tz: str = "UTC",
    errors: Iterable[str] = (),
    job_name: str | None = None,
    history: AgentHistory | None = None,
    lost: Sequence[JobLoss] = (),
) -> list[Cause]:
    """Why `agent_id`'s heartbeats fail or may fail, most blocking first, each with the commands
    that fix it. Any input may be None when it could not be read; `errors` are other texts that
    say why something could not be read (e.g. an OpenClawError from load_cron): a cron that
    could not be read is said as such, never as "no heartbeat job". `history`: the gateway's
    outages and the slots skipped in them (health.outages); `lost`: the agent's heartbeat jobs
    that vanished or lost their agentId since the last snapshot (job_snapshot)."""
    secrets = [config.token] if config else []
    causes: dict[str, Cause] = {}
    agent = config.agent(agent_id) if config else None
    jobs = heartbeat_jobs(cron.jobs, agent_id, is_default=bool(agent and agent.default), job=job_name) if cron else []
    report = channels if isinstance(channels, ChannelReport) else None
    statuses = list(report.statuses if report else (channels or []))
    errors = [e for e in errors if e]

    def add(cause: Cause) -> None:
        causes.setdefault(cause.code, cause)

    # --- the gateway and the CLI's access to it (the CLI's own errors, and a heartbeat run's)
    run_errors = []
    for job in jobs:
        latest = _latest(cron, job)
        text = latest.error if latest and latest.status == "error" else (job.state.last_error if not latest else None)
        if text:
            run_errors.append(text)
    cli_errors = [t for t in [cron.cli_error if cron else None, report.error if report else None, *errors, *run_errors] if t]
    if gateway is not None and not gateway.reachable:
        add(Cause(
            "gateway_unreachable",
            "Gateway unreachable",
            f"The console cannot reach the OpenClaw gateway ({gateway.error}). With the gateway down no cron "
            "job fires (the ticks it misses are not run later) and no heartbeat is delivered.",
            ["openclaw gateway status", "openclaw gateway restart", "openclaw logs --follow"],
        ))
    elif (unreachable := next((t for t in cli_errors if cli_error_kind(t) == "unreachable"), None)) and (
            gateway is None or not gateway.ok):
        add(Cause(
            "gateway_unreachable",
            "Gateway unreachable",
            f"OpenClaw's CLI cannot reach the gateway: {redact(unreachable, secrets)[:240]!r}.",
            ["openclaw gateway status", "openclaw gateway restart", "openclaw logs --follow"],
        ))
    mismatch = next((t for t in cli_errors if cli_error_kind(t) == "token_mismatch"), None)
    if mismatch is None and gateway is not None and gateway.reachable and gateway.healthz in (401, 403):
        mismatch = gateway.error
    if mismatch:
        add(Cause(
            "gateway_token_mismatch",
            "Gateway token mismatch",
            f"The gateway refused the CLI's token: {redact(mismatch, secrets)[:240]!r}. The CLI, cron and the agent "
            "tools cannot talk to it. Use this gateway's token: openclaw.json's gateway.auth.token wins over "
            "OPENCLAW_GATEWAY_TOKEN in the CLI; a stale OPENCLAW_GATEWAY_TOKEN (often baked into the gateway's "
            "systemd unit) or a gateway restarted with another --token are the usual causes. Compare with the "
            "token the gateway uses, then restart it.",
            ["openclaw gateway auth-token --show", "openclaw config get gateway.auth.token",
             "openclaw gateway restart", "openclaw doctor"],
        ))

    # --- ticks the gateway skipped while it was stopped (openclaw#104412)
    default_cron = schedule_cron or "*/15 * * * *"
    if history is not None and history.skipped:
        n = len(history.skipped)
        first, last = history.skipped[0], history.skipped[-1]
        still = any(e is None for _, e in history.spans) or (gateway is not None and not gateway.reachable)
        ids = [j.id for j in jobs if j.enabled][:1]
        add(Cause(
            "skipped_while_gateway_down",
            "Heartbeats skipped while the gateway was stopped",
            f"{n} slot{'s' if n != 1 else ''} of {agent_id} ({_when(first)}" + (f" to {_when(last)}" if n > 1 else "")
            + ") fell while the OpenClaw gateway was " + ("down (it still is)" if still else "stopped")
            + ": no run and no error. A stopped gateway fires no cron job and does not replay the ticks it "
            "missed (openclaw#104412), so these are skipped, not failed runs. "
            + ("Start the gateway, then run one beat now to catch up:" if still else "Run one beat now to catch up:"),
            (["openclaw gateway start", "openclaw gateway status"] if still else [])
            + [format_command([CLI, "cron", "run", i]) for i in ids]
            + ["openclaw config get cron.skipMissedJobs"],
        ))
    if lost:
        loss = lost[0]
        if loss.kind == "vanished":
            fix = [format_command(cron_add_command(agent_id, job_name, default_cron, tz))]
            how = "Add it again (the same schedule, explicit delivery):"
        else:
            fix = [format_command([CLI, "cron", "edit", loss.job_id, "--agent", agent_id])]
            how = "Give it back its agent:"
        add(Cause(
            "heartbeat_job_lost",
            "Heartbeat job lost" if loss.kind == "vanished" else "Heartbeat job lost its agent",
            "; ".join(x.words() for x in lost) + ". It was there at the last collection (the console keeps a "
            "snapshot of the squad's jobs); upgrades have dropped or blanked jobs (openclaw#90510, #93031). " + how,
            fix + ["openclaw cron list --all --json"],
        ))

    # --- the job
    if cron is None and errors:
        add(Cause(
            "cron_unreadable",
            "Cron jobs not readable",
            f"The console could not read OpenClaw's cron jobs: {redact(errors[0], secrets)[:300]}. Whether "
            f"{agent_id} has a heartbeat job is unknown (nothing is concluded from that).",
            ["openclaw cron list --all --json", "openclaw gateway status"],
            severity="degraded",
        ))
    if cron is not None and not jobs:
        add(Cause(
            "no_heartbeat_job",
            "No heartbeat cron job",
            f"OpenClaw has no heartbeat job for {agent_id} ({job_name or f'{agent_id}-heartbeat'}; OpenClaw's own "
            f"system jobs do not count), so nothing wakes it. Add one ({default_cron} {tz}, isolated session):",
            [format_command(cron_add_command(agent_id, job_name, default_cron, tz))],
        ))
    enabled = [j for j in jobs if j.enabled]
    auto = [j for j in jobs if not j.enabled and j.state.auto_disabled]
    if auto:
        j = auto[0]
        add(Cause(
            "job_auto_disabled",
            "Heartbeat job auto-disabled by OpenClaw",
            f"OpenClaw switched {j.label} ({j.id}) off after {j.state.consecutive_errors or 'repeated'} consecutive "
            f"errors: {redact(j.state.auto_disabled or '', secrets)[:200]}. Fix the cause below, then enable it.",
            [format_command([CLI, "cron", "runs", "--id", j.id, "--limit", "5"]), format_command([CLI, "cron", "enable", j.id])],
        ))
    elif jobs and not enabled:
        add(Cause(
            "job_disabled",
            "Heartbeat job disabled",
            f"{agent_id}'s heartbeat job{'s are' if len(jobs) > 1 else ' is'} disabled in OpenClaw: "
            + ", ".join(f"{j.label} ({j.id})" for j in jobs) + ".",
            [format_command([CLI, "cron", "enable", j.id]) for j in jobs],
        ))

    # --- the last run of each heartbeat job (or, runs not read, the job's state)
    whatsapp_jobs: list[CronJob] = []
    for job in jobs:
        latest = _latest(cron, job)
        status = latest.status if latest else job.state.last_status
        error = (latest.error or latest.diagnostic) if latest else (job.state.last_error or job.state.last_diagnostic)
        reason = latest.error_reason if latest else job.state.last_error_reason
        delivery_status = latest.delivery_status if latest else job.state.last_delivery_status
        delivery_error = latest.delivery_error if latest else job.state.last_delivery_error
        streak = job.state.consecutive_errors
        in_a_row = f" ({streak} consecutive errors)" if streak >= 2 else ""
        channel = (job.delivery.channel or "").lower() if job.delivery and (job.delivery.mode or "announce") != "none" else ""
        if channel == "whatsapp":
            whatsapp_jobs.append(job)
        if status == "error" and error and cli_error_kind(error) == "token_mismatch":
            pass  # said above
        elif status == "error" and (reason == "auth" or re.search(r"authentication source|no api key|api key.*(missing|not set)", error or "", re.I)):
            provider = _provider(latest, error or "") or "the model provider"
            p = provider if provider != "the model provider" else "<provider>"
            add(Cause(
                "model_auth",
                f"Model credentials missing ({provider})",
                f"{job.label} fails before the model answers: {redact(error or '', secrets)[:200]!r} (errorReason "
                f"\"auth\"){in_a_row}. {agent_id} has no credentials for {provider}. Save an API key for it (the "
                "command prompts for the key; in scripts pipe it on stdin), then check:",
                [f"openclaw models auth paste-api-key --provider {p} --agent {agent_id}",
                 f"openclaw models status --agent {agent_id} --check"],
            ))
        elif status == "error" and error and not (delivery_error and error == delivery_error):
            add(Cause(
                "run_failed",
                "Heartbeat runs fail",
                f"{job.label}'s last run failed: {redact(error, secrets)[:240]!r}"
                + (f" (errorReason {reason!r})" if reason else "") + f"{in_a_row}.",
                [format_command([CLI, "cron", "runs", "--id", job.id, "--limit", "5"]), "openclaw logs --follow"],
            ))
        failed_delivery = (latest.delivery_failed if latest else delivery_status == "not-delivered")
        if failed_delivery:
            where = channel or (job.delivery.channel if job.delivery else None) or "its channel"
            text = delivery_error or "not delivered"
            if where == "whatsapp" and _REPLACED.search(text):
                add(Cause(
                    "whatsapp_replaced",
                    "WhatsApp connection replaced (440)",
                    f"OpenClaw reported {redact(text, secrets)[:200]!r}: another gateway is using the same WhatsApp "
                    "credentials and the two keep kicking each other off. Stop the other gateway (on the other machine "
                    "or service), then restart this one.",
                    ["openclaw gateway stop  # on the other machine", "openclaw gateway restart", "openclaw channels status --probe"],
                    severity="degraded",
                ))
            elif where == "whatsapp" and _LOGGED_OUT.search(text) and cli_error_kind(text) != "token_mismatch":
                _whatsapp_logged_out(add, f"The last delivery failed with {redact(text, secrets)[:200]!r}. ",
                                     job.delivery.account_id if job.delivery else None)
            else:
                add(Cause(
                    "delivery_failed",
                    f"Delivery to {where} failed",
                    f"{job.label} ran but its result was not delivered to {where}"
                    + (f" ({job.delivery.to})" if job.delivery and job.delivery.to else "")
                    + f": {redact(text, secrets)[:200]!r}.",
                    [format_command([CLI, "cron", "runs", "--id", job.id, "--limit", "5"]), "openclaw channels status --probe"],
                    severity="degraded",
                ))

    # --- the channels the agent's jobs deliver to (WhatsApp)
    if whatsapp_jobs or cron is None:
        wa = [s for s in statuses if s.channel.lower() == "whatsapp"]
        account = next((j.delivery.account_id for j in whatsapp_jobs if j.delivery and j.delivery.account_id), None)
        mine = [s for s in wa if account is None or s.account == account] or wa
        plugin_missing = report is not None and ("whatsapp" in report.missing_plugins or (
            bool(whatsapp_jobs) and report.source == "cli" and report.error is None and not wa))
        if plugin_missing:
            add(Cause(
                "whatsapp_plugin_missing",
                "WhatsApp plugin missing",
                "A heartbeat job delivers to WhatsApp (or openclaw.json configures it) but the gateway knows no "
                "WhatsApp channel: its plugin is not installed or not enabled.",
                ["openclaw plugins install npm:@openclaw/whatsapp", "openclaw plugins enable whatsapp",
                 "openclaw gateway restart", "openclaw channels status --probe"],
            ))
        for s in mine:
            acc = s.account
            if s.logged_out:
                _whatsapp_logged_out(add, f"The WhatsApp account {acc!r} was logged out ({redact(s.detail, secrets)[:160]}). ", acc)
            elif s.linked is False:
                flag = ["--account", acc] if acc and acc != "default" else []
                add(Cause(
                    "whatsapp_not_linked",
                    "WhatsApp not linked",
                    f"The WhatsApp account {acc!r} has no WhatsApp Web session"
                    + (f" ({redact(s.detail, secrets)[:160]})" if s.detail else "")
                    + ": it was never linked (not a logout), so deliveries to WhatsApp fail. Link it by scanning the "
                    "QR code on the gateway host.",
                    [format_command([CLI, "channels", "login", "--channel", "whatsapp", *flag]), "openclaw channels status --probe"],
                ))

    # --- "ok" runs shorter than 50 ms while the gateway was down (openclaw#63106)
    spans = list(history.spans) if history else []
    for job in jobs:
        latest = _latest(cron, job)
        at = latest.at if latest else job.state.last_run_at_ms
        status = latest.status if latest else job.state.last_status
        took = latest.duration_ms if latest else job.state.last_duration_ms
        if at is not None and short_ok(at, status == "ok", took, spans):
            add(Cause(
                "ok_while_gateway_down",
                "\"ok\" runs while the gateway was down",
                f"{job.label} reported \"ok\" in {took:.0f} ms at {_when(at)}, while the gateway was down: no turn runs "
                "in that time (openclaw#63106). The console does not count such runs as heartbeats. Check the "
                "gateway, then run one beat to see a real result:",
                ["openclaw gateway status", format_command([CLI, "cron", "run", job.id, "--wait"]),
                 format_command([CLI, "cron", "runs", "--id", job.id, "--limit", "5"])],
                severity="degraded",
            ))
            break

    # --- a failure alert routed to the very channel that is failing
    for job in jobs:
        route = failure_route(job, config)
        if route is None:
            continue
        channel, to, account, where = route
        failing = _failing(channel, account, statuses, report, cron, job)
        if failing:
            add(Cause(
                "failure_alert_to_failing_channel",
                f"Failure alerts go to {channel}, which is failing",
                f"{job.label}'s failure alerts ({where}) go to {channel}" + (f" ({to})" if to else "")
                + f", and {channel} is {failing}: when the heartbeat fails, the alert is lost with it (OpenClaw "
                "never retries a failed route for an alert). Route the alerts to a channel that works, or repair "
                f"{channel}:",
                [format_command([CLI, "cron", "edit", job.id, "--failure-alert-channel", "<channel>",
                                 "--failure-alert-to", "<destination>"]),
                 *( [format_command([CLI, "channels", "login", "--channel", channel])] if channel == "whatsapp" else []),
                 "openclaw channels status --probe"],
                severity="degraded",
            ))
            break

    # --- a per-agent `heartbeat.every: "0m"` silences every agent's native heartbeat (openclaw#119005)
    if config is not None:
        zero = [a for a in config.agents if a.heartbeat and _is_zero(a.heartbeat.get("every"))]
        if zero:
            a = zero[0]
            key = a.key or f"agents.entries.{a.id}"
            mine = a.id == agent_id
            add(Cause(
                "heartbeat_every_zero",
                "Native heartbeat silenced by every: \"0m\"",
                f"In {config.path} agent {a.id} has heartbeat.every {a.heartbeat.get('every')!r}"  # type: ignore[union-attr]
                + ("" if mine else f"; with OpenClaw 2026.9 that silences every agent's native heartbeat, {agent_id}'s "
                   "too (openclaw#119005)")
                + ". " + ("The squad's cron job still runs, but OpenClaw's own heartbeat does not. " if enabled else
                          f"{agent_id} has no heartbeat job of the squad either, so nothing wakes it. ")
                + "Remove the setting (the whole block when it holds nothing else: an empty per-agent block "
                "still switches the other agents' heartbeat off, openclaw#46101), then check:",
                [format_command([CLI, "config", "unset", f"{key}.heartbeat" if set(a.heartbeat or {}) <= {"every"}
                                 else f"{key}.heartbeat.every"]), "openclaw cron list --all", "openclaw doctor"],
                severity="degraded" if enabled else "blocking",
            ))

    # --- config
    if config is not None and agent is not None:
        own = [a.id for a in config.agents if a.heartbeat is not None]
        if own and agent.heartbeat is None:
            add(Cause(
                "heartbeat_block_footgun",
                "Agent runs no built-in heartbeat",
                f"In {config.path} {', '.join(own)} {'has' if len(own) == 1 else 'have'} a heartbeat block of "
                f"{'its' if len(own) == 1 else 'their'} own and {agent_id} has none. When any agent has one, only those "
                f"agents run heartbeats (OpenClaw issue #46101), so {agent_id} runs none. Add a heartbeat block to "
                f"{agent_id} (e.g. `heartbeat: {{ every: \"30m\" }}`) or remove the per-agent blocks so "
                "agents.defaults.heartbeat applies to all, then check with doctor.",
                [f"# edit {config.path}: add heartbeat: {{ every: \"30m\" }} to agent {agent_id}", "openclaw doctor"],
                severity="degraded",
            ))
    if cron is not None and enabled:
        native = [j for j in native_heartbeat_jobs(cron.jobs, agent_id) if j.enabled]
        if native:
            add(Cause(
                "double_heartbeat",
                "Two heartbeats for one agent",
                f"OpenClaw's native heartbeat ({native[0].label}) runs beside the squad's {enabled[0].label}: two "
                "turns for one agent, twice the tokens (openclaw#81186). Keep one. Beware that `every: \"0m\"` on one "
                "agent silences every agent's native heartbeat (openclaw#119005).",
                ["openclaw config get agents.defaults.heartbeat", "openclaw cron list --all"],
                severity="warning",
            ))

    # --- schedule
    for job in enabled:
        sched = job.schedule
        if sched.staggered:
            by = f"staggerMs is {sched.stagger_ms}" if sched.stagger_ms else "it was added without --exact"
            add(Cause(
                "staggered_top_of_hour",
                "Top-of-hour job staggered",
                f"{job.label} ({sched.expr}) fires at minute 0 of every hour and {by}, so OpenClaw delays each run by "
                "up to 5 minutes: the :00 slot drifts and may be counted late.",
                [format_command([CLI, "cron", "edit", job.id, "--exact"])],
                severity="warning",
            ))
            break
    if schedule_cron:
        for job in enabled[:1]:
            diffs = [d for d in compare_job(job, schedule_cron, tz) if d.startswith(("expression", "timezone"))]
            if diffs:
                add(Cause(
                    "schedule_differs",
                    "Schedule differs from the console's",
                    f"{job.label}: " + "; ".join(diffs) + ". The console computes expected slots from its own schedule, "
                    "so runs look late or missed. Change the job, or the agent's heartbeat/tz in squad.toml.",
                    [format_command([CLI, "cron", "edit", job.id, "--cron", schedule_cron, "--tz", tz])],
                    severity="warning",
                ))
    return sorted(causes.values(), key=lambda c: _RANK.get(c.code, 99))


def _when(ms: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


_ZERO = re.compile(r"^\s*0+(\.0*)?\s*(ms|s|m|h|d)?\s*$", re.I)


def _is_zero(every: object) -> bool:
    if isinstance(every, bool):
        return False
    if isinstance(every, (int, float)):
        return every == 0
    return isinstance(every, str) and bool(_ZERO.match(every))


def failure_route(job: CronJob, config: OpenClawConfig | None) -> tuple[str, str | None, str | None, str] | None:
    """Where `job`'s failure alerts go when a route was set for them, by OpenClaw's precedence
    (docs/cli/cron.md "Failure delivery"): (channel, to, accountId, which setting says so), or None
    (alerts off, a webhook, the channel `last`, or no alert route: then alerts fall back to the
    job's own delivery target, whose failure the channel causes already say)."""
    fa = job.failure_alert
    if fa is False:
        return None
    glob = config.cron_failure_alert if config else None
    if glob and glob.get("enabled") is False and not isinstance(fa, dict):
        return None
    candidates: list[tuple[dict, str]] = []
    if isinstance(fa, dict):
        candidates.append((fa, "the job's failureAlert"))
    dest = {k: v for k, v in (glob or {}).items() if k in ("mode", "channel", "to", "accountId")}
    fd = job.delivery.failure_destination if job.delivery else None
    if fd or dest:
        candidates.append(({**dest, **(fd or {})}, "delivery.failureDestination" if fd else "cron.failureAlert"))
    for route, where in candidates:
        channel = route.get("channel")
        if route.get("mode") == "webhook":
            return None
        if isinstance(channel, str) and channel:
            if channel.lower() == "last":
                return None
            return channel.lower(), route.get("to") if isinstance(route.get("to"), str) else None, \
                route.get("accountId") if isinstance(route.get("accountId"), str) else None, where
    return None


def _failing(channel: str, account: str | None, statuses: Sequence[ChannelStatus], report: ChannelReport | None,
             cron: CronState | None, job: CronJob) -> str | None:
    """In words, how `channel` is failing now, or None (working, or unknown)."""
    if report is not None and channel in report.missing_plugins:
        return "not installed (its plugin is missing)"
    # no account in the route: OpenClaw delivers through the channel's default account
    mine = [s for s in statuses if s.channel.lower() == channel and s.account == (account or "default")]
    for s in mine:
        if s.logged_out:
            return f"logged out (account {s.account})"
        if s.linked is False:
            return f"not linked (account {s.account})"
    latest = _latest(cron, job)
    if (job.delivery and (job.delivery.channel or "").lower() == channel and latest is not None
            and latest.delivery_failed):
        return "failing its deliveries" + (f" ({latest.delivery_error[:120]})" if latest.delivery_error else "")
    return None


def _whatsapp_logged_out(add, evidence: str, account: str | None) -> None:
    acc = ["--account", account] if account and account != "default" else []
    add(Cause(
        "whatsapp_logged_out",
        "WhatsApp logged out",
        evidence + "Baileys 401 (loggedOut): the linked-device session was invalidated (unlinked on the phone, an "
        "app update, a ban or restriction). The heartbeat turn still runs but its delivery to WhatsApp fails. "
        "Log out and link again by scanning the QR code. Relink once and wait: repeated relinks trigger "
        "WhatsApp's \"can't link new devices\" cooldown.",
        [
            format_command([CLI, "channels", "logout", "--channel", "whatsapp", *acc]),
            format_command([CLI, "channels", "login", "--channel", "whatsapp", *acc]),
            "openclaw channels status --probe",
        ],
    ))

"""Why an agent's heartbeats fail or may fail, most blocking first, each with the commands that fix it.

`diagnose` reads what the other modules found (config, cron, gateway health and CLI status,
channels) and any error texts, and returns `Cause`s: gateway down or token mismatch, no or a
disabled heartbeat job, WhatsApp logged out or replaced, the per-agent heartbeat-block pitfall,
a staggered top-of-hour job, a schedule that differs from the console's. Quoted texts are redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from console.service.openclaw.channels import ChannelStatus
from console.service.openclaw.config import OpenClawConfig
from console.service.openclaw.cron import CronState, heartbeat_jobs
from console.service.openclaw.cron_commands import compare_job, cron_add_command, fires_at_top_of_hour, format_command
from console.service.openclaw.gateway import GatewayCliStatus, GatewayHealth
from console.service.openclaw.runner import CLI, redact


@dataclass(frozen=True)
class Cause:
    code: str
    title: str
    detail: str
    fix: list[str] = field(default_factory=list)  # the exact commands, in order
    severity: str = "blocking"  # "blocking" | "degraded" | "warning"


_RANK = {
    "gateway_unreachable": 0,
    "gateway_token_mismatch": 1,
    "no_heartbeat_job": 2,
    "job_disabled": 3,
    "whatsapp_logged_out": 4,
    "whatsapp_replaced": 5,
    "heartbeat_block_footgun": 6,
    "staggered_top_of_hour": 7,
    "schedule_differs": 8,
}

_TOKEN_MISMATCH = re.compile(r"\b1008\b|unauthori[sz]ed.*token mismatch|token mismatch.*unauthori[sz]ed", re.I | re.S)
_LOGGED_OUT = re.compile(r"\b401\b|logged\s*out|connection failure|unauthori[sz]ed|forbidden", re.I)
_REPLACED = re.compile(r"\b440\b|connection replaced|replaced by another", re.I)


def diagnose(
    agent_id: str,
    *,
    config: OpenClawConfig | None,
    cron: CronState | None,
    gateway: GatewayHealth | None,
    channels: Sequence[ChannelStatus] | None,
    schedule_cron: str | None,
    tz: str = "UTC",
    gateway_cli: GatewayCliStatus | None = None,
    errors: Iterable[str] = (),
) -> list[Cause]:
    """Why `agent_id`'s heartbeats fail or may fail, most blocking first, each with the commands
    that fix it. Any input may be None when it could not be read; `errors` are other texts to
    look through (e.g. an OpenClawError from load_cron)."""
    secrets = [config.token] if config else []
    causes: dict[str, Cause] = {}
    agent = config.agent(agent_id) if config else None
    jobs = heartbeat_jobs(cron.jobs, agent_id, is_default=bool(agent and agent.default)) if cron else []

    # The texts that say what went wrong lately: each heartbeat job's latest run.
    texts: list[str] = [e for e in errors if e]
    whatsapp_texts: list[tuple[str, str | None]] = []  # (text, account) from WhatsApp delivery
    for job in jobs:
        runs = cron.runs.get(job.id, []) if cron else []
        latest = runs[-1] if runs else None
        wa = job.delivery is not None and (job.delivery.channel or "").lower() == "whatsapp"
        account = job.delivery.account_id if job.delivery else None
        if latest is not None:
            if latest.status == "error" and latest.error:
                texts.append(latest.error)
                if wa or "whatsapp" in latest.error.lower():
                    whatsapp_texts.append((latest.error, account))
            if latest.delivery_failed and latest.delivery_error:
                texts.append(latest.delivery_error)
                if wa or "whatsapp" in latest.delivery_error.lower():
                    whatsapp_texts.append((latest.delivery_error, account))
        elif job.state.last_error and job.state.last_status == "error":
            texts.append(job.state.last_error)
    if cron and cron.cli_error:
        texts.append(cron.cli_error)
    if gateway_cli and gateway_cli.error:
        texts.append(gateway_cli.error)
    if gateway and gateway.error:
        texts.append(gateway.error)

    def add(cause: Cause) -> None:
        causes.setdefault(cause.code, cause)

    # gateway
    if gateway is not None and not gateway.reachable:
        add(Cause(
            "gateway_unreachable",
            "Gateway unreachable",
            f"The console cannot reach the OpenClaw gateway ({gateway.error}). With the gateway down no cron "
            "job fires and no heartbeat is delivered.",
            ["openclaw gateway status", "openclaw gateway restart", "openclaw logs --follow"],
        ))
    mismatch = next((t for t in texts if _TOKEN_MISMATCH.search(t)), None)
    if mismatch or (config and config.token_conflict):
        seen = f"OpenClaw reported: {redact(mismatch, secrets)[:200]!r}. " if mismatch else (
            "OPENCLAW_GATEWAY_TOKEN in this environment differs from gateway.auth.token in openclaw.json. "
        )
        add(Cause(
            "gateway_token_mismatch",
            "Gateway token mismatch (1008 unauthorized)",
            seen + "The gateway closes connections with `1008 unauthorized: gateway/device token mismatch`, which breaks "
            "the CLI, cron and agent tools. Usually a stale OPENCLAW_GATEWAY_TOKEN (often baked into the gateway's "
            "systemd unit) differs from gateway.auth.token: make them equal, or unset the variable (also in the "
            "systemd unit: `systemctl --user edit openclaw-gateway`), then restart the gateway.",
            ["unset OPENCLAW_GATEWAY_TOKEN", "openclaw gateway restart", "openclaw doctor"],
        ))

    # the job
    default_cron = schedule_cron or "*/15 * * * *"
    if cron is not None and not jobs:
        add(Cause(
            "no_heartbeat_job",
            "No heartbeat cron job",
            f"OpenClaw has no cron job for {agent_id} whose name or message mentions a heartbeat, so nothing wakes it. "
            f"Add one ({default_cron} {tz}, isolated session):",
            [format_command(cron_add_command(agent_id, f"{agent_id}-heartbeat", default_cron, tz))],
        ))
    enabled = [j for j in jobs if j.enabled]
    if jobs and not enabled:
        add(Cause(
            "job_disabled",
            "Heartbeat job disabled",
            f"{agent_id}'s heartbeat job{'s are' if len(jobs) > 1 else ' is'} disabled in OpenClaw: "
            + ", ".join(f"{j.name} ({j.id})" for j in jobs) + ".",
            [format_command([CLI, "cron", "enable", j.id]) for j in jobs],
        ))

    # WhatsApp
    statuses = [c for c in (channels or []) if c.channel.lower() == "whatsapp"]
    wa_logged_out = [(t, a) for t, a in whatsapp_texts if _LOGGED_OUT.search(t) and not _TOKEN_MISMATCH.search(t)]
    unlinked = [c for c in statuses if c.linked is False or _LOGGED_OUT.search(c.detail or "") and c.linked is not True]
    if wa_logged_out or unlinked:
        account = next((a for _, a in wa_logged_out if a), None) or next((c.account for c in unlinked), None)
        acc = ["--account", account] if account and account != "default" else []
        evidence = (f"The last delivery failed with {redact(wa_logged_out[0][0], secrets)[:200]!r}. " if wa_logged_out
                    else f"The WhatsApp account {unlinked[0].account!r} is not linked. ")
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
    replaced = next((t for t in texts + [c.detail for c in statuses] if t and _REPLACED.search(t)), None)
    if replaced:
        add(Cause(
            "whatsapp_replaced",
            "WhatsApp connection replaced (440)",
            f"OpenClaw reported {redact(replaced, secrets)[:200]!r}: another gateway is using the same WhatsApp "
            "credentials and the two keep kicking each other off. Stop the other gateway (on the other machine or "
            "service), then restart this one.",
            ["openclaw gateway stop  # on the other machine", "openclaw gateway restart", "openclaw channels status --probe"],
            severity="degraded",
        ))

    # config
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

    # schedule
    for job in enabled:
        sched = job.schedule
        if sched.kind == "cron" and fires_at_top_of_hour(sched.expr) and not sched.exact:
            by = f"staggerMs is {sched.stagger_ms}" if sched.stagger_ms else "it was added without --exact"
            add(Cause(
                "staggered_top_of_hour",
                "Top-of-hour job staggered",
                f"{job.name} ({sched.expr}) fires at :00 and {by}, so OpenClaw delays each run by up to 5 minutes: "
                "the :00 slot drifts and may be counted late.",
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
                    f"{job.name}: " + "; ".join(diffs) + ". The console computes expected slots from its own schedule, "
                    "so runs look late or missed. Change the job, or the agent's heartbeat/tz in squad.toml.",
                    [format_command([CLI, "cron", "edit", job.id, "--cron", schedule_cron, "--tz", tz])],
                    severity="warning",
                ))
    return sorted(causes.values(), key=lambda c: _RANK.get(c.code, 99))

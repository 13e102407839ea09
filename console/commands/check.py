"""`squad-console check [--json]`: one line per agent and one for the gateway, for cron jobs,
Nagios-style monitors and scripts.

Exit codes (Nagios): 0 healthy; 1 degraded (an agent late, new or paused, the gateway not ready);
2 down (an agent down or failing, or the gateway unreachable); 3 unknown (the store could not be
read or the configuration is bad).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from console.commands import Context, ago, with_store

OK, DEGRADED, DOWN, UNKNOWN = 0, 1, 2, 3
# faults that do not show in a status (yet): said even beside an agent that is up, and make it DEGRADED
ALWAYS_SHOWN = ("heartbeat_job_lost", "skipped_while_gateway_down", "ok_while_gateway_down",
                "failure_alert_to_failing_channel", "heartbeat_every_zero")
ACTIVITIES = 500  # the audit log read for the gateway's outages and the jobs' snapshot (one store call)
LABEL = {OK: "OK", DEGRADED: "DEGRADED", DOWN: "DOWN", UNKNOWN: "UNKNOWN"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="one line per agent and the gateway; exit 0 healthy, 1 degraded, 2 down, 3 unknown",
                       description="Check the squad once: each agent's heartbeat status, last beat, next slot, "
                       "uptime, the cause of a failure with the command that fixes it, heartbeat tokens and cost "
                       "over 24 h; and the OpenClaw gateway. Exit 0 healthy, 1 degraded, 2 down, 3 unknown.")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    p.add_argument("--no-gateway", action="store_true", help="skip the gateway and WhatsApp probes")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def _slot_time(ms: float, tz: str) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%H:%M ") + ("UTC" if tz == "UTC" else tz)


def agent_level(status: str) -> int:
    if status in ("down", "failing"):
        return DOWN
    if status in ("late", "new", "paused"):
        return DEGRADED
    return OK


def run(args: argparse.Namespace, ctx: Context) -> int:
    from console.service.health.squad import squad_health
    from console.service.openclaw.probe import probe_openclaw

    from concurrent.futures import ThreadPoolExecutor

    from console.service.health.outages import AgentHistory, outage_spans, skipped_slots
    from console.service.openclaw import job_snapshot

    now = time.time() * 1000
    # one look at OpenClaw (/healthz, then the jobs and the channels at the same time) and its
    # refs to the vault (`secrets audit --allow-exec`, ~2 s) while the store is read: the squad's
    # health, and the audit log (the gateway's outages, the jobs' snapshot)
    vault_warnings: list[str] = []  # said below, where they always were: the output does not depend on timing
    with ThreadPoolExecutor(2) as pool:
        probing = pool.submit(probe_openclaw, ctx.settings.openclaw, ctx.env, gateway=not args.no_gateway,
                              channels_report=collector_channels(ctx, now))
        auditing = pool.submit(vault_refs, ctx, warn=vault_warnings.append)
        try:
            healths, activities = with_store(ctx, lambda store: (squad_health(store, ctx.settings.agents, now),
                                                                  store.list_activities(limit=ACTIVITIES)))
        finally:
            probe = probing.result()
            refs = auditing.result()
    oc_error = probe.config_error
    gateway = probe.gateway
    spans = outage_spans(activities, now, down_now=None if gateway is None else not gateway.reachable)
    history = {h.agent_id: AgentHistory(tuple(spans), tuple(skipped_slots(h.schedule, h.runs, spans, now)))
               for h in healths} if spans else {}
    causes_by_agent = probe.causes(ctx.settings.agents, history=history,
                                   snapshot=job_snapshot.from_activities(activities))
    level = OK
    report = []
    for h in healths:
        causes = causes_by_agent.get(h.agent_id, [])
        agent_lvl = agent_level(h.status.status)
        level = max(level, agent_lvl)
        report.append((h, causes, agent_lvl))

    gateway_lvl = OK
    if gateway is not None:
        if not gateway.reachable:
            gateway_lvl = DOWN
        elif gateway.readyz not in (None, 200):
            gateway_lvl = DEGRADED
        level = max(level, gateway_lvl)
    if any(c.code in ("gateway_token_mismatch", "cron_unreadable", *ALWAYS_SHOWN) for _, causes, _ in report for c in causes):
        # the CLI cannot talk to the gateway, the jobs cannot be read, or a fault no status shows yet
        level = max(level, DEGRADED)
    for warning in vault_warnings:
        ctx.warn(warning)
    if refs and any(r.alert for r in refs):
        level = max(level, DEGRADED)  # OpenClaw cannot read a secret it takes from the vault

    if args.json:
        doc = {
            "status": LABEL[level].lower(),
            "exit": level,
            "at": now,
            "agents": [
                {
                    "id": h.agent_id,
                    "name": h.name,
                    "status": h.status.status,
                    "since": h.status.since,
                    "reason": h.status.reason,
                    "lastBeat": h.last_beat.at if h.last_beat else None,
                    "nextSlot": h.status.next_slot,
                    "schedule": {"cron": h.schedule.cron, "tz": h.schedule.tz},
                    "uptime24h": {"time": h.uptime_24h.time_based, "runs": h.uptime_24h.run_based,
                                  "okRuns": h.uptime_24h.ok_runs, "expectedRuns": h.uptime_24h.expected_runs},
                    "uptime7d": {"time": h.uptime_7d.time_based, "runs": h.uptime_7d.run_based,
                                 "okRuns": h.uptime_7d.ok_runs, "expectedRuns": h.uptime_7d.expected_runs},
                    "tokens24h": h.tokens_24h,
                    "costUsd24h": round(h.cost_24h, 6),
                    "registered": h.registered,
                    "causes": [{"code": c.code, "title": c.title, "detail": c.detail, "fix": c.fix} for c in causes],
                }
                for h, causes, _ in report
            ],
            "gateway": None if gateway is None else {
                "reachable": gateway.reachable, "healthz": gateway.healthz, "readyz": gateway.readyz,
                "latencyMs": gateway.latency_ms, "error": gateway.error,
            },
            "openclawConfig": oc_error,
            "openclaw": {
                "cron": None if probe.cron is None else {"source": probe.cron.source, "jobs": len(probe.cron.jobs),
                                                         "notes": probe.cron.notes, "cliError": probe.cron.cli_error},
                "cronError": probe.cron_error,
                "channels": None if probe.channels is None else {
                    "from": probe.channels_source or "openclaw channels status",
                    "error": probe.channels.error,
                    "accounts": [{"channel": c.channel, "account": c.account, "linked": c.linked,
                                  "connected": c.connected, "state": c.state, "detail": c.detail}
                                 for c in probe.channels.statuses],
                },
                "ms": probe.ms,
            },
            "openclawVaultRefs": None if refs is None else [
                {"path": r.path, "id": r.id, "entry": r.entry, "state": r.state, "why": r.why, "fix": list(r.fix)}
                for r in refs],
            "outbox": None if (w := outbox_counts(ctx)) is None else {"waiting": w[0], "setAside": w[1]},
            "convexCalls": convex_calls(ctx),
        }
        ctx.print(json.dumps(doc, indent=2))
        return level

    width = max([len(h.agent_id) for h, _, _ in report] + [7]
                + [len(c.channel) for c in (probe.channels.statuses if probe.channels else [])])
    for h, causes, _ in report:
        s = h.status
        line = (f"{h.agent_id.ljust(width)}  {s.status.upper():<8} last beat {ago(h.last_beat.at if h.last_beat else None, now)}"
                f", next {_slot_time(s.next_slot, h.schedule.tz)}"
                f", uptime 24h {_pct(h.uptime_24h.time_based)} / 7d {_pct(h.uptime_7d.time_based)}"
                f" (runs {h.uptime_24h.ok_runs}/{h.uptime_24h.expected_runs} in 24h)"
                f", {h.tokens_24h:,.0f} tokens ${h.cost_24h:.2f} in 24h")
        ctx.print(line)
        if s.status not in ("up",):
            ctx.print(f"{''.ljust(width)}  why: {s.reason}")
        if s.status != "up":
            shown = causes[:3]
        else:  # a healthy agent shows only advice (a job that will drift, a schedule that differs)
            shown = [c for c in causes if (c.severity == "warning" or c.code in ALWAYS_SHOWN)
                     and not c.code.startswith("gateway_")][:3]
        for c in shown:
            ctx.print(f"{''.ljust(width)}  cause: {c.title}")
            if c.detail:
                ctx.print(f"{''.ljust(width)}    {c.detail}")
            for cmd in c.fix:
                ctx.print(f"{''.ljust(width)}    fix: {cmd}")
    if gateway is not None:
        state = "UP" if gateway_lvl == OK else ("NOT READY" if gateway_lvl == DEGRADED else "DOWN")
        detail = (f"healthz {gateway.healthz} readyz {gateway.readyz} ({gateway.latency_ms:.0f} ms)"
                  if gateway.reachable else gateway.error or "unreachable")
        ctx.print(f"{'gateway'.ljust(width)}  {state:<8} {detail}")
        gateway_causes = {c.code: c for _, causes, _ in report for c in causes
                          if c.code.startswith("gateway_") or c.code == "cron_unreadable"}
        for c in gateway_causes.values():  # said once here, whatever the agents' states
            ctx.print(f"{''.ljust(width)}  cause: {c.title}")
            if c.detail and gateway_lvl == OK:
                ctx.print(f"{''.ljust(width)}    {c.detail}")
            for cmd in c.fix:
                ctx.print(f"{''.ljust(width)}    fix: {cmd}")
    if probe.channels is not None:
        for c in probe.channels.statuses:
            linked = "linked" if c.linked else ("not linked" if c.linked is False else "unknown")
            if c.logged_out:
                linked = "logged out"
            conn = "" if c.connected is None else (", connected" if c.connected else ", not connected")
            ctx.print(f"{c.channel.ljust(width)}  {linked}{conn} (account {c.account})"
                      + (f": {c.detail}" if c.detail and c.detail not in (c.state or "") else ""))
    if refs:
        bad = [r for r in refs if r.alert]
        ctx.print(f"{'vault'.ljust(width)}  {'ALERT' if bad else 'OK':<8} OpenClaw reads {len(refs)} secret(s) from the "
                  f"vault, {len(refs) - len(bad)} resolve" + (f", {len(bad)} NOT RESOLVED (REF_UNRESOLVED)" if bad else ""))
        for r in bad:
            ctx.print(f"{''.ljust(width)}  {r.path} <- {r.id}: {r.why}")
            for cmd in r.fix:
                ctx.print(f"{''.ljust(width)}    fix: {cmd}")
    waiting = outbox_counts(ctx)
    if waiting is not None and (waiting[0] or waiting[1]):
        ctx.print(f"{'outbox'.ljust(width)}  {waiting[0]} waiting for the store, {waiting[1]} set aside "
                  f"(`squad-console service` delivers them)")
    if oc_error:
        ctx.warn(f"openclaw.json not read: {oc_error}")
    ctx.print(f"{LABEL[level]}")
    return level


def vault_refs(ctx: Context, warn: Callable[[str], None] | None = None) -> list | None:
    """openclaw.json's SecretRefs to the vault's exec provider and whether each resolves (OpenClaw's
    own `secrets audit --allow-exec`); None when there is no openclaw CLI or openclaw.json. What
    went wrong goes to `warn` (ctx.warn by default; `run` collects it from its worker thread)."""
    warn = warn or ctx.warn
    from console.service.vault import VaultError
    from console.service.vault.openclaw_secrets import ref_statuses
    from console.service.wiring import open_openclaw_secrets, open_vault

    oc = open_openclaw_secrets(ctx.settings, ctx.env)
    if oc is None:
        return None
    try:
        refs = oc.refs()
        if not refs:
            return []
        entries = [e.name for e in open_vault(ctx.settings, ctx.env, need_key=False).entries() if not e.deleted]
    except VaultError as exc:
        warn(f"OpenClaw's refs to the vault not checked: {exc.message}")
        return None
    others = oc.other_exec_providers()
    if others:  # --allow-exec would run them too: the refs are judged by the vault's entries alone
        warn(f"OpenClaw's refs to the vault judged by the vault's entries: check does not run OpenClaw's other "
             f"exec providers ({', '.join(others)}); `openclaw secrets audit --check --allow-exec` resolves them all")
        return ref_statuses(refs, entries, None)
    try:
        audit = oc.audit(allow_exec=True)
    except VaultError as exc:
        warn(f"`openclaw secrets audit` gave no report: {exc.message}")
        audit = None
    return ref_statuses(refs, entries, audit)


def convex_calls(ctx: Context) -> dict | None:
    """On Convex: this installation's calls over the last 24 h and the month they project to
    (docs/cost.md); None on the local store."""
    if ctx.settings.store.kind != "convex":
        return None
    from console.service.wiring import call_counter

    return call_counter(ctx.settings.store).summary().to_json()


def collector_channels(ctx: Context, now: float):
    """The channels as `squad-console service` last saw them (its outbox), when that is at most
    2.5 minutes old; else None (check then asks `openclaw channels status` itself)."""
    from console.service.openclaw.channels import CHANNEL_REPORT_FRESH_MS, CHANNEL_REPORT_KEY, report_from_json

    path = ctx.settings.store.outbox_path()
    if not path.exists():
        return None
    from console.service.store.outbox import Outbox

    try:
        box = Outbox(path)
    except Exception:  # an outbox another process holds or a broken file: ask the CLI instead
        return None
    try:
        doc = box.get(CHANNEL_REPORT_KEY)
    finally:
        box.close()
    if not isinstance(doc, dict) or not isinstance(doc.get("at"), (int, float)):
        return None
    if not 0 <= now - doc["at"] <= CHANNEL_REPORT_FRESH_MS:
        return None
    return report_from_json(doc.get("report"))


def outbox_counts(ctx: Context) -> tuple[int, int] | None:
    """(items waiting, items set aside) in the outbox, or None when there is none."""
    path = ctx.settings.store.outbox_path()
    if not path.exists():
        return None
    from console.service.store.outbox import Outbox

    box = Outbox(path)
    try:
        return box.pending(), len(box.dead_items())
    finally:
        box.close()

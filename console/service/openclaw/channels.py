"""The messaging channels' accounts (WhatsApp first): linked? connected? in words.

From `openclaw channels status --probe --json` when the CLI exists (2026.9: `channels`,
`channelAccounts` with each account's `stateReason`, `statusIssues` with OpenClaw's own fix),
else, for WhatsApp only, from the credentials folder of the state folder (linked once or not; a
live check needs the CLI). `channel_report` says besides why the live state is unknown: the
gateway down or the token refused (the CLI's `configOnly` answer, which is not a channel), and
which expected channels have no plugin (`channels: {}` although WhatsApp is configured or a job
delivers to it). With the gateway known to be down it does not call the CLI, whose probe then
waits about 60 s.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.service.openclaw.config import OpenClawConfig
from console.service.openclaw.loose_json import as_text, find_error, parse_json_output, pick
from console.service.openclaw.runner import CLI, RunnerArg, cli_failure, redact, resolve_runner


@dataclass(frozen=True)
class ChannelStatus:
    channel: str
    account: str
    linked: bool | None = None
    connected: bool | None = None
    detail: str = ""
    state: str | None = None  # OpenClaw's statusState / stateReason: "not-linked", "logged-out", ...
    logged_out: bool = False  # Baileys 401: the linked session was invalidated (not the same as never linked)
    fix: str | None = None  # OpenClaw's own fix from statusIssues ("Run: openclaw channels login …")


@dataclass(frozen=True)
class ChannelReport:
    statuses: list[ChannelStatus] = field(default_factory=list)
    source: str = "cli"  # "cli" | "files" | "none"
    error: str | None = None  # why the live state is unknown (gateway unreachable, token refused)
    error_kind: str | None = None  # cron.cli_error_kind(error)
    missing_plugins: list[str] = field(default_factory=list)  # expected channels OpenClaw does not know


CHANNEL_REPORT_KEY = "channel_report"  # where the collector keeps its last report (its outbox's key/value table)
CHANNEL_REPORT_FRESH_MS = 150_000  # how old a collector's report `check` still takes (it probes every 60 s)


def report_to_json(report: ChannelReport) -> dict[str, Any]:
    """The report as JSON (the collector keeps its last one for `check`: report_from_json)."""
    return {"statuses": [dict(vars(s)) for s in report.statuses], "source": report.source, "error": report.error,
            "errorKind": report.error_kind, "missingPlugins": list(report.missing_plugins)}


def report_from_json(doc: Any) -> ChannelReport | None:
    """A report from report_to_json, or None when `doc` is not one."""
    if not isinstance(doc, dict) or not isinstance(doc.get("statuses"), list):
        return None
    fields = set(ChannelStatus.__dataclass_fields__)
    try:
        statuses = [ChannelStatus(**{k: v for k, v in s.items() if k in fields}) for s in doc["statuses"] if isinstance(s, dict)]
    except TypeError:
        return None
    return ChannelReport(statuses, str(doc.get("source") or "cli"), doc.get("error"), doc.get("errorKind"),
                         [str(x) for x in doc.get("missingPlugins") or []])


def channel_status(
    state_dir: Path, config: OpenClawConfig | None = None, runner: RunnerArg = "auto"
) -> list[ChannelStatus]:
    """Each configured channel account: from `openclaw channels status --probe --json` when the
    CLI exists, else (WhatsApp only) from `credentials/whatsapp/<account>/creds.json`."""
    return channel_report(state_dir, config, runner).statuses


def channel_report(
    state_dir: Path,
    config: OpenClawConfig | None = None,
    runner: RunnerArg = "auto",
    *,
    expected: Iterable[str] = (),
    gateway_reachable: bool | None = None,
    probe: bool = True,
) -> ChannelReport:
    """The channels' live state and, when it is unknown, why (see the module's docstring).
    `expected`: channels the squad's jobs deliver to; `gateway_reachable` False skips the CLI;
    `probe` False asks without `--probe` (the same linked/statusIssues answer on 2026.9, faster)."""
    from console.service.openclaw.cron import cli_error_kind

    secrets = [config.token] if config else []
    want = {c.lower() for c in expected} | ({c.lower() for c in config.channels} if config else set())
    state = Path(state_dir).expanduser()
    if gateway_reachable is False:
        why = "the gateway is unreachable, so the channels' live state is unknown"
        return ChannelReport(_whatsapp_from_files(state, config, why + "; ", live=False), "files", why, "unreachable")
    run = resolve_runner(runner)
    cli_note = ""
    if run is not None:
        argv = [CLI, "channels", "status", *(["--probe"] if probe else []), "--json"]
        code, out, err = run(argv)
        try:
            data = parse_json_output(out)
        except ValueError:
            data = None
        if isinstance(data, dict) and (data.get("configOnly") is True or data.get("gatewayReachable") is False):
            error = redact(as_text(data.get("error")) or "the gateway did not answer", secrets)[:300]
            configured = [str(c) for c in data.get("configuredChannels") or [] if isinstance(c, str)]
            statuses = [ChannelStatus(c, "default", None, None, f"live state unknown: {error}") for c in configured]
            if not statuses:
                statuses = _whatsapp_from_files(state, config, f"live state unknown ({error}); ", live=False)
            return ChannelReport(statuses, "cli", error, cli_error_kind(error))
        if data is not None:
            found = _channels_from_cli(data, secrets)
            if found or code == 0:
                known = {s.channel.lower() for s in found}
                if isinstance(data, dict) and isinstance(data.get("channels"), dict):
                    known |= {str(k).lower() for k in data["channels"]}
                return ChannelReport(found, "cli", missing_plugins=sorted(want - known))
        cli_note = cli_failure(argv, code, out, err) + "; "
        return ChannelReport(_whatsapp_from_files(state, config, cli_note, live=False), "files",
                             cli_note.rstrip("; "), cli_error_kind(cli_note))
    return ChannelReport(_whatsapp_from_files(state, config, ""), "files")


def _channels_from_cli(data: Any, secrets: list[str | None]) -> list[ChannelStatus]:
    out: list[ChannelStatus] = []
    issues: dict[tuple[str, str], Mapping[str, Any]] = {}
    if isinstance(data, dict) and isinstance(data.get("statusIssues"), list):
        for issue in data["statusIssues"]:
            if isinstance(issue, dict) and issue.get("channel"):
                issues[(str(issue["channel"]), str(issue.get("accountId") or "default"))] = issue

    def one(channel: str, account: str, d: Mapping[str, Any], parent: Mapping[str, Any] | None = None) -> None:
        merged = {**(parent or {}), **d}
        linked = _first_bool(merged, "linked", "authenticated", "loggedIn")
        if linked is None and "statusState" not in merged and "stateReason" not in merged:
            linked = _first_bool(merged, "configured")
        state = as_text(pick(merged, "statusState", "stateReason", "status", "state"))
        error = find_error(merged)
        disconnect = merged.get("lastDisconnect")
        if not error and disconnect:
            error = json.dumps(disconnect) if isinstance(disconnect, dict) else as_text(disconnect)
        logged_out = merged.get("loggedOut") is True or bool(state and "logged" in state.lower() and "out" in state.lower()) or bool(
            error and ("401" in error or "logged out" in error.lower() or "loggedout" in error.lower()))
        if logged_out:
            linked = False
        connected = _first_bool(merged, "connected", "running", "ok")
        probe = merged.get("probe")
        if isinstance(probe, dict):
            connected = _first_bool(probe, "connected", "ok") if connected is None else connected
        issue = issues.get((channel, account))
        detail = error or (as_text(issue.get("message")) if issue else None) or state or ""
        out.append(ChannelStatus(channel, account, linked, connected, redact(detail, secrets)[:300],
                                 state=state, logged_out=logged_out,
                                 fix=redact(as_text(issue.get("fix")) or "", secrets)[:300] or None if issue else None))

    def walk_channel(channel: str, d: Mapping[str, Any], accounts_list: Any = None) -> None:
        accounts = d.get("accounts")
        if isinstance(accounts_list, list) and accounts_list:
            for v in accounts_list:
                if isinstance(v, dict):
                    one(channel, str(pick(v, "accountId", "account", "id") or "default"), v, d)
        elif isinstance(accounts, dict) and accounts:
            for acc, v in accounts.items():
                if isinstance(v, dict):
                    one(channel, str(acc), v)
        elif isinstance(accounts, list) and accounts:
            for v in accounts:
                if isinstance(v, dict):
                    one(channel, str(pick(v, "accountId", "account", "id") or "default"), v)
        else:
            one(channel, str(pick(d, "accountId", "account") or "default"), d)

    per_account = data.get("channelAccounts") if isinstance(data, dict) and isinstance(data.get("channelAccounts"), dict) else {}
    if isinstance(data, dict) and isinstance(data.get("channels"), (dict, list)):
        data = data["channels"]
    if isinstance(data, list):
        for d in data:
            if isinstance(d, dict) and pick(d, "channel", "id", "name"):
                ch = str(pick(d, "channel", "id", "name"))
                if isinstance(d.get("accounts"), (dict, list)):
                    walk_channel(ch, d)
                else:
                    one(ch, str(pick(d, "accountId", "account") or "default"), d)
    elif isinstance(data, dict):
        for ch, d in data.items():
            if isinstance(d, dict) and ch not in ("ok", "ts", "defaults"):
                walk_channel(str(ch), d, per_account.get(ch))
    return out


def _first_bool(d: Mapping[str, Any], *keys: str) -> bool | None:
    for key in keys:
        if isinstance(d.get(key), bool):
            return d[key]
    return None


def _whatsapp_from_files(state: Path, config: OpenClawConfig | None, note: str, *, live: bool = True) -> list[ChannelStatus]:
    """WhatsApp accounts from `credentials/whatsapp/<account>/creds.json`. With `live` False
    (the CLI could not tell), a missing creds file is "unknown", not "not linked": newer
    releases may keep the session elsewhere."""
    base = state / "credentials" / "whatsapp"
    accounts = list(config.channels.get("whatsapp", [])) if config else []
    if base.is_dir():
        accounts += sorted(p.name for p in base.iterdir() if p.is_dir() and p.name not in accounts)
    out = []
    for account in accounts:
        creds = base / account / "creds.json"
        if creds.is_file():
            detail = note + f"{creds} exists (linked once; a live check needs the openclaw CLI and the gateway)"
            out.append(ChannelStatus("whatsapp", account, True, None, detail))
        elif live:
            detail = note + f"no {creds}: not linked (openclaw channels login --channel whatsapp)"
            out.append(ChannelStatus("whatsapp", account, False, None, detail, state="not-linked"))
        else:
            out.append(ChannelStatus("whatsapp", account, None, None, note + "linked or not is unknown"))
    return out

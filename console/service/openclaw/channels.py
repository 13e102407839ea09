"""The messaging channels' accounts (WhatsApp first): linked? connected? in words.

From `openclaw channels status --probe --json` when the CLI exists, else, for WhatsApp only,
from the credentials folder of the state folder (linked once or not; a live check needs the CLI).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


def channel_status(
    state_dir: Path, config: OpenClawConfig | None = None, runner: RunnerArg = "auto"
) -> list[ChannelStatus]:
    """Each configured channel account: from `openclaw channels status --probe --json` when the
    CLI exists, else (WhatsApp only) from `credentials/whatsapp/<account>/creds.json`."""
    secrets = [config.token] if config else []
    run = resolve_runner(runner)
    cli_note = ""
    if run is not None:
        argv = [CLI, "channels", "status", "--probe", "--json"]
        code, out, err = run(argv)
        try:
            data = parse_json_output(out)
        except ValueError:
            data = None
        if data is not None:
            found = _channels_from_cli(data, secrets)
            if found or code == 0:
                return found
        cli_note = cli_failure(argv, code, out, err) + "; "
    return _whatsapp_from_files(Path(state_dir).expanduser(), config, cli_note)


def _channels_from_cli(data: Any, secrets: list[str | None]) -> list[ChannelStatus]:
    out: list[ChannelStatus] = []

    def one(channel: str, account: str, d: Mapping[str, Any]) -> None:
        linked = _first_bool(d, "linked", "authenticated", "loggedIn", "configured")
        if d.get("loggedOut") is True:
            linked = False
        connected = _first_bool(d, "connected", "running", "ok")
        probe = d.get("probe")
        if isinstance(probe, dict):
            connected = _first_bool(probe, "connected", "ok") if connected is None else connected
        detail = find_error(d) or as_text(pick(d, "status", "state")) or ""
        out.append(ChannelStatus(channel, account, linked, connected, redact(detail, secrets)[:300]))

    def walk_channel(channel: str, d: Mapping[str, Any]) -> None:
        accounts = d.get("accounts")
        if isinstance(accounts, dict) and accounts:
            for acc, v in accounts.items():
                if isinstance(v, dict):
                    one(channel, str(acc), v)
        elif isinstance(accounts, list) and accounts:
            for v in accounts:
                if isinstance(v, dict):
                    one(channel, str(pick(v, "accountId", "account", "id") or "default"), v)
        else:
            one(channel, str(pick(d, "accountId", "account") or "default"), d)

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
                walk_channel(str(ch), d)
    return out


def _first_bool(d: Mapping[str, Any], *keys: str) -> bool | None:
    for key in keys:
        if isinstance(d.get(key), bool):
            return d[key]
    return None


def _whatsapp_from_files(state: Path, config: OpenClawConfig | None, note: str) -> list[ChannelStatus]:
    base = state / "credentials" / "whatsapp"
    accounts = list(config.channels.get("whatsapp", [])) if config else []
    if base.is_dir():
        accounts += sorted(p.name for p in base.iterdir() if p.is_dir() and p.name not in accounts)
    out = []
    for account in accounts:
        creds = base / account / "creds.json"
        if creds.is_file():
            detail = note + f"{creds} exists (linked once; a live check needs the openclaw CLI)"
            out.append(ChannelStatus("whatsapp", account, True, None, detail))
        else:
            detail = note + f"no {creds}: not linked (openclaw channels login --channel whatsapp)"
            out.append(ChannelStatus("whatsapp", account, False, None, detail))
    return out

"""openclaw.json (JSON5) read into `OpenClawConfig`: agents, gateway port and token, channels.

Both agent forms are read (`agents.list` and `agents.entries`, entries winning), and the
OPENCLAW_CONFIG_PATH / OPENCLAW_STATE_DIR / OPENCLAW_GATEWAY_PORT / OPENCLAW_GATEWAY_TOKEN
environment variables win over the file. A wrong shape is an OpenClawError naming the key.
The gateway token is kept in a `repr=False` field and never put in a message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import json5

from console.service.openclaw.errors import OpenClawError
from console.service.openclaw.runner import redact

DEFAULT_PORT = 18789  # the gateway's port when neither openclaw.json nor the environment names one


@dataclass(frozen=True)
class OpenClawAgent:
    id: str
    name: str
    workspace: Path
    default: bool = False
    model: str | None = None
    heartbeat: dict[str, Any] | None = None
    key: str = ""  # where it is in openclaw.json, for `openclaw config`: "agents.entries.veda", "agents.list[2]"


@dataclass(frozen=True)
class OpenClawConfig:
    path: Path
    state_dir: Path
    agents: list[OpenClawAgent]
    agents_form: str = "none"  # "list" | "entries" | "both" | "none"
    default_heartbeat: dict[str, Any] | None = None
    gateway_port: int = DEFAULT_PORT
    auth_mode: str | None = None
    token: str | None = field(default=None, repr=False)
    token_source: str | None = None  # "env" | "config" | None
    token_conflict: bool = False  # OPENCLAW_GATEWAY_TOKEN is set and differs from gateway.auth.token
    agent_to_agent: bool = False
    agent_to_agent_allow: list[str] = field(default_factory=list)
    channels: dict[str, list[str]] = field(default_factory=dict)  # channel -> account ids
    cron_failure_alert: dict[str, Any] | None = None  # cron.failureAlert: the global alert policy and route

    def agent(self, agent_id: str) -> OpenClawAgent | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    @property
    def default_agent(self) -> OpenClawAgent | None:
        return next((a for a in self.agents if a.default), None)


def _where_hint() -> str:
    return (
        "point at another with OPENCLAW_CONFIG_PATH or [openclaw] config_path in squad.toml "
        "(or its state folder with OPENCLAW_STATE_DIR / [openclaw] state_dir)"
    )


def load_openclaw_config(
    config_path: Path | None, state_dir: Path, env: Mapping[str, str] | None = None
) -> OpenClawConfig:
    """openclaw.json (JSON5) → `OpenClawConfig`. OPENCLAW_CONFIG_PATH / OPENCLAW_STATE_DIR in `env`
    win over the arguments; a `config_path` of None means `<state>/openclaw.json`."""
    env = os.environ if env is None else env
    arg_state = Path(state_dir).expanduser()
    state = Path(env["OPENCLAW_STATE_DIR"]).expanduser() if env.get("OPENCLAW_STATE_DIR") else arg_state
    if env.get("OPENCLAW_CONFIG_PATH"):
        path = Path(env["OPENCLAW_CONFIG_PATH"]).expanduser()
    elif config_path is None or Path(config_path).expanduser() == arg_state / "openclaw.json":
        path = state / "openclaw.json"  # derived from the state folder, so it follows it
    else:
        path = Path(config_path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OpenClawError(f"no OpenClaw config here; {_where_hint()}", path=path) from None
    except IsADirectoryError:
        raise OpenClawError(f"is a folder, not openclaw.json; {_where_hint()}", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise OpenClawError(f"cannot read it ({reason}); {_where_hint()}", path=path) from None
    try:
        raw = json5.loads(text)
    except Exception as exc:  # json5 raises ValueError subclasses with "<string>:LINE message"
        m = re.match(r"<string>:(\d+)\s*(.*)", str(exc), re.S)
        message = (m.group(2) if m else str(exc)).strip()
        raise OpenClawError(f"not valid JSON5: {redact(message)[:200]}", path=path, line=int(m.group(1)) if m else None) from None
    return _ConfigParser(path, state, env).parse(raw)


class _ConfigParser:
    def __init__(self, path: Path, state: Path, env: Mapping[str, str]) -> None:
        self.path = path
        self.state = state
        self.env = env

    def fail(self, key: str, message: str) -> OpenClawError:
        return OpenClawError(message, path=self.path, key=key)

    def obj(self, value: Any, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be an object, not {_kind(value)}")
        return value

    def opt_str(self, value: Any, key: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_kind(value)}")
        return value

    def parse(self, raw: Any) -> OpenClawConfig:
        if not isinstance(raw, dict):
            raise self.fail("(top level)", f"must be an object, not {_kind(raw)}")
        agents_t = self.obj(raw.get("agents"), "agents")
        defaults = self.obj(agents_t.get("defaults"), "agents.defaults")
        default_hb = defaults.get("heartbeat")
        if default_hb is not None and not isinstance(default_hb, dict):
            raise self.fail("agents.defaults.heartbeat", f"must be an object, not {_kind(default_hb)}")

        items: list[tuple[str, dict[str, Any], str]] = []  # (id, entry, key path)
        forms = []
        if "entries" in agents_t:
            entries = agents_t["entries"]
            if not isinstance(entries, dict):
                raise self.fail("agents.entries", f"must be an object keyed by agent id, not {_kind(entries)}")
            forms.append("entries")
            for agent_id, entry in entries.items():
                key = f"agents.entries.{agent_id}"
                entry = self.obj(entry, key)
                if not agent_id.strip():
                    raise self.fail(key, "an agent id cannot be empty")
                if "id" in entry and entry["id"] != agent_id:
                    raise self.fail(f"{key}.id", f"differs from its key ({agent_id!r})")
                items.append((agent_id, entry, key))
        if "list" in agents_t:
            listed = agents_t["list"]
            if not isinstance(listed, list):
                raise self.fail("agents.list", f"must be an array, not {_kind(listed)}")
            forms.append("list")
            have = {i for i, _, _ in items}
            for n, entry in enumerate(listed):
                key = f"agents.list[{n}]"
                if not isinstance(entry, dict):
                    raise self.fail(key, f"must be an object, not {_kind(entry)}")
                agent_id = entry.get("id")
                if not isinstance(agent_id, str) or not agent_id.strip():
                    raise self.fail(f"{key}.id", "is missing (every agent needs an id)" if agent_id is None else "must be a non-empty string")
                if agent_id in have:
                    if "entries" in forms:
                        continue  # agents.entries wins (doctor --fix migrated it)
                    raise self.fail(f"{key}.id", f"{agent_id!r} is listed twice")
                have.add(agent_id)
                items.append((agent_id, entry, key))

        default_id = next((i for i, e, _ in items if e.get("default") is True), items[0][0] if items else None)
        agents = []
        for agent_id, entry, key in items:
            is_default = agent_id == default_id
            workspace = self.opt_str(entry.get("workspace"), f"{key}.workspace")
            if workspace is None and is_default:
                workspace = self.opt_str(defaults.get("workspace"), "agents.defaults.workspace")
            ws = Path(workspace).expanduser() if workspace else (
                self.state / "workspace" if is_default else self.state / f"workspace-{agent_id}"
            )
            heartbeat = entry.get("heartbeat")
            if heartbeat is not None and not isinstance(heartbeat, dict):
                raise self.fail(f"{key}.heartbeat", f"must be an object, not {_kind(heartbeat)}")
            name = entry.get("name")
            if name is None and isinstance(entry.get("identity"), dict):
                name = entry["identity"].get("name")
            agents.append(
                OpenClawAgent(
                    id=agent_id,
                    name=name if isinstance(name, str) and name else agent_id,
                    workspace=ws,
                    default=is_default,
                    model=_model_name(entry.get("model")),
                    heartbeat=heartbeat,
                    key=key,
                )
            )

        gateway = self.obj(raw.get("gateway"), "gateway")
        port = self.port(gateway)
        auth = self.obj(gateway.get("auth"), "gateway.auth")
        auth_mode = self.opt_str(auth.get("mode"), "gateway.auth.mode")
        config_token = self.secret(auth.get("token"), "gateway.auth.token")
        env_token = self.env.get("OPENCLAW_GATEWAY_TOKEN") or None
        token = env_token or config_token
        if auth_mode is None and token:
            auth_mode = "token"

        tools = self.obj(raw.get("tools"), "tools")
        a2a = self.obj(tools.get("agentToAgent"), "tools.agentToAgent")
        allow = a2a.get("allow", [])
        if not isinstance(allow, list) or not all(isinstance(x, str) for x in allow):
            raise self.fail("tools.agentToAgent.allow", "must be an array of agent ids")

        return OpenClawConfig(
            path=self.path,
            state_dir=self.state,
            agents=agents,
            agents_form="both" if len(forms) == 2 else (forms[0] if forms else "none"),
            default_heartbeat=default_hb,
            gateway_port=port,
            auth_mode=auth_mode,
            token=token,
            token_source="env" if env_token else ("config" if config_token else None),
            token_conflict=bool(env_token and config_token and env_token != config_token),
            agent_to_agent=a2a.get("enabled") is True,
            agent_to_agent_allow=list(allow),
            channels=self.channels(raw.get("channels")),
            cron_failure_alert=fa if isinstance(fa := self.obj(raw.get("cron"), "cron").get("failureAlert"), dict) else None,
        )

    def port(self, gateway: dict[str, Any]) -> int:
        env_port = self.env.get("OPENCLAW_GATEWAY_PORT")
        if env_port:
            if not env_port.strip().isdigit() or not 0 < int(env_port) < 65536:
                raise OpenClawError(f"OPENCLAW_GATEWAY_PORT={env_port!r} is not a port number (1-65535)",
                                    hint="set OPENCLAW_GATEWAY_PORT to the gateway's port (e.g. 18789) or unset it")
            return int(env_port)
        value = gateway.get("port", DEFAULT_PORT)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            raise self.fail("gateway.port", "must be a port number (1-65535)")
        return value

    def secret(self, value: Any, key: str) -> str | None:
        """A plain string, `${VAR}`, or a SecretRef `{source: "env", id}`; else None."""
        if value is None:
            return None
        if isinstance(value, str):
            m = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", value.strip())
            return (self.env.get(m.group(1)) or None) if m else (value or None)
        if isinstance(value, dict):
            if value.get("source") == "env" and isinstance(value.get("id"), str):
                return self.env.get(value["id"]) or None
            return None  # file/exec SecretRefs are resolved by the gateway, not here
        raise self.fail(key, f"must be a string or a SecretRef, not {_kind(value)}")

    def channels(self, value: Any) -> dict[str, list[str]]:
        table = self.obj(value, "channels")
        out: dict[str, list[str]] = {}
        for name, conf in table.items():
            if name == "defaults" or conf is None:
                continue
            if not isinstance(conf, dict):
                raise self.fail(f"channels.{name}", f"must be an object, not {_kind(conf)}")
            if conf.get("enabled") is False:
                continue
            accounts = conf.get("accounts")
            if isinstance(accounts, dict) and accounts:
                out[name] = [k for k, v in accounts.items() if not (isinstance(v, dict) and v.get("enabled") is False)]
            elif isinstance(accounts, list) and accounts:
                out[name] = [a if isinstance(a, str) else str(a.get("id", "default")) for a in accounts if isinstance(a, (str, dict))]
            else:
                out[name] = ["default"]
        return out


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _model_name(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict) and isinstance(value.get("primary"), str):
        return value["primary"]
    return None

"""The OpenClaw adapter: config, cron jobs and runs, gateway health, WhatsApp, diagnosis.

Everything here reads an OpenClaw state folder (`~/.openclaw`, reference §1) and/or calls the
`openclaw` CLI. The CLI is reached through a *runner*: a callable taking an argv list and
returning `(returncode, stdout, stderr)`. Every function that may use the CLI takes
`runner="auto"` (the real CLI when `shutil.which("openclaw")` finds it, else none), `None` (never
the CLI: read the files) or a runner of one's own (tests).

Secrets: the gateway token is kept in a `repr=False` field and never put in a message, an
exception or a log; every text that came from OpenClaw (run errors, CLI output) goes through
`redact()` before it is shown. No Textual here (DESIGN §2).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
import json5

from console.errors import ConsoleError
from console.service.models import HeartbeatIn

DEFAULT_PORT = 18789
CLI = "openclaw"
HEARTBEAT_OK = "HEARTBEAT_OK"

Runner = Callable[[Sequence[str]], tuple[int, str, str]]
RunnerArg = Runner | None | Literal["auto"]


class OpenClawError(ConsoleError):
    """A problem reading OpenClaw's state, in words: which file or key, and what to do.
    Never carries a secret."""

    kind = "openclaw"

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None, key: str | None = None,
                 hint: str | None = None):
        where = str(path) if path else "openclaw"
        if line:
            where += f":{line}"
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}", hint=hint)
        self.message = message
        self.path = path
        self.line = line
        self.key = key


# ---------------------------------------------------------------------------------------------
# Secrets


_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(Bearer|Basic|Convex)\s+[A-Za-z0-9._~+/=:|-]+", re.I), r"\1 [redacted]"),
    # Convex deploy/admin keys: `prod:name|base64`, `dev:...`, `preview:...`, `project:...`
    (re.compile(r"\b(?:prod|dev|preview|project):[A-Za-z0-9_.:-]*\|[A-Za-z0-9+/=_.-]+"), "[redacted key]"),
    # "token": "…" in JSON text
    (
        re.compile(r"(\"(?:[A-Za-z_]*(?:token|secret|password|api[_-]?key|apikey|deploy[_-]?key)[A-Za-z_]*)\"\s*:\s*)\"[^\"]*\"", re.I),
        r'\1"[redacted]"',
    ),
    # token=…, api_key: …, OPENCLAW_GATEWAY_TOKEN=…, ?token=… in URLs
    (
        re.compile(r"\b([A-Za-z_]*(?:token|secret|password|api[_-]?key|apikey|deploy[_-]?key)[A-Za-z_]*)(\s*[=:]\s*)(?!\s)[^\s\"'&,;)]+", re.I),
        r"\1\2[redacted]",
    ),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), "[redacted key]"),
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without anything that looks like a credential (Bearer headers, `token=…`, Convex
    deploy keys, API keys) nor any of the literal `secrets` given."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    for pattern, repl in _REDACTIONS:
        text = pattern.sub(repl, text)
    return text


# ---------------------------------------------------------------------------------------------
# The CLI runner


def subprocess_runner(executable: str, timeout: float = 15.0) -> Runner:
    """A runner calling `executable` (argv[0] is replaced by it) with a timeout."""

    def run(argv: Sequence[str]) -> tuple[int, str, str]:
        try:
            p = subprocess.run(
                [executable, *argv[1:]], capture_output=True, text=True, errors="replace", timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return 124, "", f"{' '.join(argv[:3])} gave no answer within {timeout:g}s"
        except OSError as exc:
            return 127, "", f"could not run {executable}: {exc.strerror or exc}"
        return p.returncode, p.stdout, p.stderr

    return run


def default_runner(timeout: float = 15.0) -> Runner | None:
    """The real `openclaw` CLI when it is on PATH, else None."""
    found = shutil.which(CLI)
    return subprocess_runner(found, timeout) if found else None


def _resolve_runner(runner: RunnerArg) -> Runner | None:
    return default_runner() if runner == "auto" else runner  # type: ignore[return-value]


def _parse_json_output(stdout: str) -> Any:
    """The JSON a CLI printed, tolerating log lines before it."""
    text = stdout.strip()
    if not text:
        raise ValueError("no output")
    try:
        return json.loads(text)
    except ValueError:
        pass
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("{", "[")):
            try:
                return json.loads("\n".join(lines[i:]))
            except ValueError:
                continue
    raise ValueError("the output is not JSON")


def _unwrap_list(data: Any, keys: Sequence[str]) -> list[Any]:
    """A list, or the list an object holds under one of `keys` (or under `data`/`result`)."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in keys:
            value = data.get(key)
            if isinstance(value, list):
                return value
            if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
                return [{"id": k, **v} for k, v in value.items()]
        for key in ("data", "result", "payload"):
            if isinstance(data.get(key), (list, dict)):
                return _unwrap_list(data[key], keys)
    return []


def _cli_failure(argv: Sequence[str], code: int, stdout: str, stderr: str) -> str:
    text = (stderr or stdout).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return redact(f"`{' '.join(argv)}` failed (exit {code})" + (f": {first[:300]}" if first else ""))


# ---------------------------------------------------------------------------------------------
# Config


@dataclass(frozen=True)
class OpenClawAgent:
    id: str
    name: str
    workspace: Path
    default: bool = False
    model: str | None = None
    heartbeat: dict[str, Any] | None = None


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

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

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
        )

    def port(self, gateway: dict[str, Any]) -> int:
        env_port = self.env.get("OPENCLAW_GATEWAY_PORT")
        if env_port:
            if not env_port.strip().isdigit() or not 0 < int(env_port) < 65536:
                raise OpenClawError(f"OPENCLAW_GATEWAY_PORT={env_port!r} is not a port number (1-65535)")
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


# ---------------------------------------------------------------------------------------------
# Cron


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
        """OpenClaw auto-staggers top-of-hour expressions unless the job was added `--exact`
        (staggerMs 0). An absent staggerMs is not exact."""
        return self.stagger_ms == 0


@dataclass(frozen=True)
class CronDelivery:
    mode: str | None = None
    channel: str | None = None
    to: str | None = None
    account_id: str | None = None


@dataclass(frozen=True)
class CronJobState:
    next_run_at_ms: float | None = None
    last_run_at_ms: float | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_duration_ms: float | None = None
    consecutive_errors: int = 0
    last_delivery_status: str | None = None


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

    @property
    def at(self) -> float:
        return self.run_at_ms if self.run_at_ms is not None else self.ts

    @property
    def delivery_failed(self) -> bool:
        """Delivery was asked for and not made (a run can be `ok` and still not be delivered)."""
        if self.delivery_status in ("not-requested", "delivered") and self.delivered is not False:
            return False
        if self.delivery_error:
            return self.delivered is False or self.delivery_status in ("not-delivered", None)
        return self.delivered is False and self.delivery_status == "not-delivered"


@dataclass(frozen=True)
class CronState:
    jobs: list[CronJob]
    runs: dict[str, list[CronRun]]
    source: str  # "cli" | "files"
    corrupt_lines: int = 0
    notes: list[str] = field(default_factory=list)
    cli_error: str | None = None  # the CLI failed and the legacy files were read instead

    def job(self, job_id: str) -> CronJob | None:
        return next((j for j in self.jobs if j.id == job_id), None)


def _g(d: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in d and d[key] is not None:
            return d[key]
    return None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def _int(value: Any) -> int | None:
    f = _num(value)
    return int(f) if f is not None else None


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("message"), str) and len(value) <= 3:
        return value["message"]
    return json.dumps(value, separators=(",", ":"))


def parse_job(d: Mapping[str, Any]) -> CronJob | None:
    """A job object from jobs.json or `cron list --json`; None when it has no id."""
    job_id = _g(d, "id", "jobId")
    if not isinstance(job_id, (str, int)) or job_id == "":
        return None
    sched = d.get("schedule") if isinstance(d.get("schedule"), dict) else {}
    expr = _g(sched, "expr", "cron", "expression")
    if expr is None and isinstance(d.get("schedule"), str):
        expr = d["schedule"]
    schedule = CronSchedule(
        kind=str(_g(sched, "kind", "type") or ("cron" if expr else "every" if _g(sched, "everyMs") else "cron")),
        expr=str(expr) if expr is not None else None,
        tz=_g(sched, "tz", "timezone"),
        stagger_ms=_int(_g(sched, "staggerMs", "stagger_ms")) if _g(sched, "exact") is not True else 0,
        every_ms=_int(_g(sched, "everyMs", "every_ms")),
        at=_text(_g(sched, "at", "atMs")),
    )
    payload = d.get("payload") if isinstance(d.get("payload"), dict) else {}
    deliv = d.get("delivery")
    delivery = (
        CronDelivery(
            mode=_g(deliv, "mode"),
            channel=_g(deliv, "channel"),
            to=_text(_g(deliv, "to")),
            account_id=_g(deliv, "accountId", "account_id", "account"),
        )
        if isinstance(deliv, dict)
        else None
    )
    st = d.get("state") if isinstance(d.get("state"), dict) else {}
    state = CronJobState(
        next_run_at_ms=_num(_g(st, "nextRunAtMs")),
        last_run_at_ms=_num(_g(st, "lastRunAtMs")),
        last_status=_g(st, "lastStatus", "lastRunStatus"),
        last_error=_text(_g(st, "lastError")),
        last_duration_ms=_num(_g(st, "lastDurationMs")),
        consecutive_errors=_int(_g(st, "consecutiveErrors")) or 0,
        last_delivery_status=_g(st, "lastDeliveryStatus"),
    )
    agent_id = _g(d, "agentId", "agent_id", "agent")
    name = _g(d, "name")
    return CronJob(
        id=str(job_id),
        agent_id=str(agent_id) if agent_id is not None else None,
        name=str(name) if name is not None else str(job_id),
        enabled=_g(d, "enabled") is not False,
        schedule=schedule,
        session_target=_g(d, "sessionTarget", "session_target", "session"),
        wake_mode=_g(d, "wakeMode", "wake_mode"),
        payload=dict(payload),
        delivery=delivery,
        state=state,
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
                value = _g(value, "total", "usd", "totalUsd", "total_usd", "amount")
            n = _num(value)
            if n is not None:
                return n
    return None


def parse_run(d: Mapping[str, Any], job_id: str | None = None) -> CronRun | None:
    """A run-log record (reference §5) or a CLI run entry; None without any time."""
    ts = _num(_g(d, "ts", "finishedAtMs", "endedAtMs"))
    run_at = _num(_g(d, "runAtMs", "startedAtMs", "run_at_ms"))
    if ts is None and run_at is None:
        return None
    usage = d.get("usage") if isinstance(d.get("usage"), dict) else {}
    inp = _int(_g(usage, "input_tokens", "inputTokens", "input"))
    out = _int(_g(usage, "output_tokens", "outputTokens", "output"))
    total = _int(_g(usage, "total_tokens", "totalTokens", "total"))
    if total is None and (inp is not None or out is not None):
        total = (inp or 0) + (out or 0)
    delivered = d.get("delivered")
    return CronRun(
        ts=ts if ts is not None else run_at,  # type: ignore[arg-type]
        job_id=str(_g(d, "jobId", "job_id") or job_id or ""),
        action=_g(d, "action"),
        status=_g(d, "status"),
        error=_text(_g(d, "error")),
        summary=_text(_g(d, "summary")),
        delivered=delivered if isinstance(delivered, bool) else None,
        delivery_status=_g(d, "deliveryStatus", "delivery_status"),
        delivery_error=_text(_g(d, "deliveryError", "delivery_error")),
        session_id=_g(d, "sessionId"),
        session_key=_g(d, "sessionKey"),
        run_at_ms=run_at,
        duration_ms=_num(_g(d, "durationMs", "duration_ms")),
        next_run_at_ms=_num(_g(d, "nextRunAtMs")),
        model=_g(d, "model") if isinstance(_g(d, "model"), str) else None,
        provider=_g(d, "provider") if isinstance(_g(d, "provider"), str) else None,
        input_tokens=inp,
        output_tokens=out,
        tokens=total,
        cost_usd=_cost(d),
    )


def load_cron(state_dir: Path, runner: RunnerArg = "auto", *, run_limit: int | None = None) -> CronState:
    """Cron jobs and their runs: from the `openclaw` CLI when there is one (it also reads the
    SQLite state of newer releases), else from the legacy files under `<state>/cron/`.

    Raises OpenClawError only when there is nothing to read: the CLI failed and there are no
    usable files, or the files were migrated to SQLite and there is no CLI."""
    state_dir = Path(state_dir).expanduser()
    run = _resolve_runner(runner)
    cli_error = None
    if run is not None:
        try:
            return _cron_from_cli(run, run_limit)
        except OpenClawError as exc:
            cli_error = exc.message
    cron = state_dir / "cron"
    jobs_file = cron / "jobs.json"
    if not jobs_file.exists():
        if cli_error:
            raise OpenClawError(cli_error)
        migrated = sorted(p.name for p in cron.glob("*.migrated")) if cron.is_dir() else []
        if migrated or (cron / "runs").is_dir() and any((cron / "runs").glob("*.migrated")):
            raise OpenClawError(
                "OpenClaw moved its cron jobs and run history into its SQLite state database (only "
                f"{', '.join(migrated) or 'runs/*.migrated'} is left); the console reads them through the CLI: "
                "install the openclaw CLI on PATH (`openclaw cron runs --id <id> --json`)",
                path=cron,
            )
        return CronState([], {}, "files", notes=[f"no cron jobs yet ({jobs_file} does not exist)"])
    jobs, notes = _jobs_from_file(jobs_file)
    runs: dict[str, list[CronRun]] = {}
    corrupt = 0
    for job in jobs:
        job_runs, bad = _runs_from_file(cron / "runs" / f"{job.id}.jsonl", job.id)
        corrupt += bad
        runs[job.id] = job_runs[-run_limit:] if run_limit else job_runs
    if corrupt:
        notes.append(f"{corrupt} corrupt line{'s' if corrupt != 1 else ''} skipped in {cron / 'runs'}")
    if cli_error:
        notes.insert(0, f"{cli_error}; read the legacy files instead")
    return CronState(jobs, runs, "files", corrupt_lines=corrupt, notes=notes, cli_error=cli_error)


def _jobs_from_file(path: Path) -> tuple[list[CronJob], list[str]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise OpenClawError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OpenClawError(f"cannot read it ({type(exc).__name__})", path=path) from None
    if isinstance(raw, dict) and "jobs" in raw and not isinstance(raw["jobs"], list):
        raise OpenClawError("must be an array", path=path, key="jobs")
    items = _unwrap_list(raw, ("jobs",))
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


def _cron_from_cli(run: Runner, run_limit: int | None) -> CronState:
    argv = [CLI, "cron", "list", "--all", "--json"]  # --all: `cron list` hides disabled jobs
    code, out, err = run(argv)
    if code != 0 and re.search(r"unknown option|unexpected argument", err or "", re.I):
        argv = [CLI, "cron", "list", "--json"]
        code, out, err = run(argv)
    if code != 0:
        raise OpenClawError(_cli_failure(argv, code, out, err))
    try:
        data = _parse_json_output(out)
    except ValueError as exc:
        raise OpenClawError(f"`{' '.join(argv)}` printed no JSON ({exc})") from None
    jobs = [j for j in (parse_job(x) for x in _unwrap_list(data, ("jobs", "entries", "items")) if isinstance(x, dict)) if j]
    runs: dict[str, list[CronRun]] = {}
    notes: list[str] = []
    for job in jobs:
        argv = [CLI, "cron", "runs", "--id", job.id, "--json"]
        code, out, err = run(argv)
        if code != 0:
            notes.append(_cli_failure(argv, code, out, err))
            runs[job.id] = []
            continue
        try:
            data = _parse_json_output(out)
        except ValueError:
            notes.append(f"`{' '.join(argv)}` printed no JSON")
            runs[job.id] = []
            continue
        items = _unwrap_list(data, ("runs", "entries", "items", "history"))
        parsed = [r for r in (parse_run(x, job.id) for x in items if isinstance(x, dict)) if r and r.action in (None, "finished")]
        parsed.sort(key=lambda r: r.at)
        runs[job.id] = parsed[-run_limit:] if run_limit else parsed
    return CronState(jobs, runs, "cli", notes=notes)


_HEARTBEAT_WORDS = re.compile(r"heartbeat|check", re.I)


def heartbeat_jobs(jobs: Iterable[CronJob], agent_id: str, *, is_default: bool = False) -> list[CronJob]:
    """The jobs that are `agent_id`'s heartbeat: its jobs whose name or message mentions
    "heartbeat" or "check"; if it has exactly one job, that one. With `is_default`, jobs without
    an agentId (they run on the default agent) count as its own."""
    mine = [j for j in jobs if j.agent_id == agent_id or (is_default and not j.agent_id)]
    if len(mine) == 1:
        return mine
    return [j for j in mine if _HEARTBEAT_WORDS.search(j.name) or _HEARTBEAT_WORDS.search(j.message)]


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


# ---------------------------------------------------------------------------------------------
# Gateway


@dataclass(frozen=True)
class GatewayHealth:
    reachable: bool
    healthz: int | None = None
    readyz: int | None = None
    latency_ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.reachable and self.healthz == 200 and self.readyz in (200, None)

    def describe(self) -> str:
        if not self.reachable:
            return f"gateway unreachable: {self.error}"
        parts = [f"/healthz {self.healthz}", f"/readyz {self.readyz}"]
        if self.latency_ms is not None:
            parts.append(f"{self.latency_ms:.0f} ms")
        return "gateway " + ("up" if self.ok else "degraded") + " (" + ", ".join(parts) + ")" + (f": {self.error}" if self.error else "")


def _http_base(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme or "http")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def probe_gateway(
    base_url: str, token: str | None, timeout: float = 3.0, transport: httpx.BaseTransport | None = None
) -> GatewayHealth:
    """GET /healthz and /readyz. Sends `Authorization: Bearer` only when a token is set; the
    token never appears in the result."""
    base = _http_base(base_url)
    parts = urlsplit(base)
    host = parts.netloc or base
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return GatewayHealth(False, error=f"{base_url!r} is not a gateway URL like http://127.0.0.1:{DEFAULT_PORT}")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    try:
        with httpx.Client(base_url=base, timeout=timeout, headers=headers, transport=transport,
                          follow_redirects=False, trust_env=not loopback) as client:
            start = time.perf_counter()
            health = client.get("/healthz")
            latency = (time.perf_counter() - start) * 1000
            try:
                ready: int | None = client.get("/readyz").status_code
            except httpx.HTTPError:
                ready = None
    except httpx.TimeoutException:
        return GatewayHealth(False, error=f"no answer from {host} within {timeout:g}s")
    except httpx.ConnectError as exc:
        cause = str(exc).lower()
        if "refused" in cause:
            why = f"connection refused at {host}: the gateway is not running there"
        elif "name" in cause or "resolve" in cause or "nodename" in cause:
            why = f"cannot resolve the host of {host}"
        else:
            why = f"cannot connect to {host}"
        return GatewayHealth(False, error=why)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        return GatewayHealth(False, error=redact(f"{type(exc).__name__} talking to {host}", [token]))
    error = None
    if health.status_code in (401, 403):
        error = f"the gateway refused the console's token (HTTP {health.status_code})"
    elif health.status_code != 200:
        error = f"/healthz answered HTTP {health.status_code}"
    elif ready not in (200, None):
        error = f"/readyz answered HTTP {ready}: the gateway is up but not ready (channels not connected)"
    return GatewayHealth(True, health.status_code, ready, round(latency, 1), error)


@dataclass(frozen=True)
class GatewayCliStatus:
    ok: bool | None
    command: str
    error: str | None = None
    detail: str | None = None


def gateway_status_cli(runner: RunnerArg = "auto", secrets: Iterable[str | None] = ()) -> GatewayCliStatus | None:
    """`openclaw gateway status --json`, else `openclaw health --json`; None without the CLI."""
    run = _resolve_runner(runner)
    if run is None:
        return None
    secrets = list(secrets)
    last: GatewayCliStatus | None = None
    for argv in ([CLI, "gateway", "status", "--json"], [CLI, "health", "--json"]):
        code, out, err = run(argv)
        command = " ".join(argv)
        try:
            data = _parse_json_output(out)
        except ValueError:
            data = None
        if isinstance(data, dict):
            ok = _status_ok(data)
            if ok is None:
                ok = code == 0
            error = _find_error(data)
            if error is None and code != 0:
                error = _cli_failure(argv, code, "", err)
            return GatewayCliStatus(ok, command, redact(error, secrets) if error else None,
                                    redact(_status_detail(data), secrets) or None)
        if code != 0:
            last = GatewayCliStatus(False, command, redact(_cli_failure(argv, code, out, err), secrets))
    return last


def _status_ok(data: Mapping[str, Any]) -> bool | None:
    for key in ("ok", "reachable", "running", "healthy"):
        if isinstance(data.get(key), bool):
            return data[key]
    for nested in ("rpc", "probe", "gateway", "service"):
        sub = data.get(nested)
        if isinstance(sub, dict):
            found = _status_ok(sub)
            if found is not None:
                return found
    return None


def _find_error(data: Any, depth: int = 0) -> str | None:
    """The first error text in a CLI's JSON answer (tolerant of where it sits)."""
    if depth > 4:
        return None
    if isinstance(data, dict):
        for key in ("error", "lastError", "reason"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict):
                inner = _find_error(value, depth + 1) or _text(value)
                if inner:
                    return inner
        if data.get("ok") is False and isinstance(data.get("message"), str):
            return data["message"]
        values = list(data.values())
    elif isinstance(data, list):
        values = data[:20]
    else:
        return None
    for value in values:
        if isinstance(value, (dict, list)):
            inner = _find_error(value, depth + 1)
            if inner:
                return inner
    return None


def _status_detail(data: Mapping[str, Any]) -> str:
    bits = []
    for key in ("status", "state", "url", "port", "version", "pid"):
        if isinstance(data.get(key), (str, int)) and not isinstance(data.get(key), bool):
            bits.append(f"{key} {data[key]}")
    return ", ".join(bits)


# ---------------------------------------------------------------------------------------------
# Channels (WhatsApp)


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
    run = _resolve_runner(runner)
    cli_note = ""
    if run is not None:
        argv = [CLI, "channels", "status", "--probe", "--json"]
        code, out, err = run(argv)
        try:
            data = _parse_json_output(out)
        except ValueError:
            data = None
        if data is not None:
            found = _channels_from_cli(data, secrets)
            if found or code == 0:
                return found
        cli_note = _cli_failure(argv, code, out, err) + "; "
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
        detail = _find_error(d) or _text(_g(d, "status", "state")) or ""
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
                    one(channel, str(_g(v, "accountId", "account", "id") or "default"), v)
        else:
            one(channel, str(_g(d, "accountId", "account") or "default"), d)

    if isinstance(data, dict) and isinstance(data.get("channels"), (dict, list)):
        data = data["channels"]
    if isinstance(data, list):
        for d in data:
            if isinstance(d, dict) and _g(d, "channel", "id", "name"):
                ch = str(_g(d, "channel", "id", "name"))
                if isinstance(d.get("accounts"), (dict, list)):
                    walk_channel(ch, d)
                else:
                    one(ch, str(_g(d, "accountId", "account") or "default"), d)
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


# ---------------------------------------------------------------------------------------------
# Commands


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


# ---------------------------------------------------------------------------------------------
# Diagnosis


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

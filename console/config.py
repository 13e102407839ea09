"""squad.toml → typed settings.

Looked up at `--config`, then `$SQUAD_CONSOLE_CONFIG`, then `./squad.toml`, then the user config
folder (`platformdirs`, e.g. ~/.config/squad-console/squad.toml). With none, the seed's squad
(Cestra `*/15`, VEDA `2-59/15`, ORIN `4-59/15`, UTC). Environment overrides: CONVEX_URL,
CONVEX_DEPLOY_KEY, OPENCLAW_STATE_DIR, OPENCLAW_CONFIG_PATH, SQUAD_CONSOLE_DB.

A bad file is reported as `file:line: key: what is wrong`, never as a traceback. Unknown keys
are errors too (a typo would otherwise be silently ignored). `assets/squad.example.toml`
documents every key; a test keeps it and this parser in step.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

APP = "squad-console"
CONFIG_NAME = "squad.toml"
STORE_KINDS = ("local", "convex")
# Every key each table accepts; assets/squad.example.toml documents exactly these (tested).
STORE_KEYS = frozenset({"kind", "path", "url", "poll_interval", "poll_interval_idle", "timeout"})
OPENCLAW_KEYS = frozenset({"state_dir", "config_path", "gateway"})
AGENT_KEYS = frozenset({"id", "name", "role", "workspace", "heartbeat", "tz", "grace"})


class ConfigError(Exception):
    """A problem in a config file: where it is, which key, and what is wrong."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None, key: str | None = None):
        self.message = message
        self.path = path
        self.line = line
        self.key = key
        where = str(path) if path else "configuration"
        if line:
            where += f":{line}"
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


def parse_duration(value: Any) -> float:
    """`"90s"`, `"5m"`, `"1h"`, `"250ms"`, `"1h30m"` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like \"30s\", \"5m\" or \"1h\"")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected a duration like \"30s\", \"5m\" or \"1h\"")
    text = value.strip().lower()
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", text)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != text.replace(" ", ""):
        raise ValueError(f"{value!r} is not a duration like \"30s\", \"5m\" or \"1h\"")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(float(n) * scale[u] for n, u in parts)


@dataclass(frozen=True)
class AgentSettings:
    id: str
    name: str
    role: str = ""
    workspace: str | None = None
    heartbeat: str = "*/15 * * * *"
    tz: str = "UTC"
    grace: float = 300.0


@dataclass(frozen=True)
class StoreSettings:
    kind: str = "local"
    path: Path | None = None  # the SQLite file; None = the user data folder
    url: str | None = None  # the Convex deployment URL
    deploy_key: str | None = field(default=None, repr=False)  # from the environment only
    poll_interval: float = 5.0
    poll_interval_idle: float = 30.0
    timeout: float = 10.0

    def local_path(self) -> Path:
        return self.path or platformdirs.user_data_path(APP) / "squad.db"

    def outbox_path(self) -> Path:
        """Where beats and activities wait while the store is unreachable: beside the local store."""
        return self.local_path().parent / "outbox.db"


@dataclass(frozen=True)
class OpenClawSettings:
    state_dir: Path = Path("~/.openclaw").expanduser()
    config_path: Path | None = None
    gateway: str = "http://127.0.0.1:18789"

    def openclaw_json(self) -> Path:
        return self.config_path or self.state_dir / "openclaw.json"


@dataclass(frozen=True)
class Settings:
    source: Path | None
    store: StoreSettings
    agents: tuple[AgentSettings, ...]
    openclaw: OpenClawSettings
    keys: dict[str, str]


def seed_agents(state_dir: Path) -> tuple[AgentSettings, ...]:
    """The squad of seed/PHASE2.md, staggered on a 15-minute cycle (:00, :02, :04)."""
    return (
        AgentSettings("cestra", "Cestra", "lead: go/no-go decisions", str(state_dir / "workspace-cestra"), "*/15 * * * *"),
        AgentSettings("veda", "VEDA", "market analysis", str(state_dir / "workspace-veda"), "2-59/15 * * * *"),
        AgentSettings("orin", "ORIN", "customer research", str(state_dir / "workspace-orin"), "4-59/15 * * * *"),
    )


def find_config(explicit: str | os.PathLike[str] | None, env: dict[str, str]) -> Path | None:
    """The config file to read, or None for the built-in seed squad. An explicitly named file
    (flag or environment) must exist."""
    for named, how in ((explicit, "--config"), (env.get("SQUAD_CONSOLE_CONFIG"), "SQUAD_CONSOLE_CONFIG")):
        if named:
            path = Path(named).expanduser()
            if not path.is_file():
                raise ConfigError(f"no such file (named by {how})", path=path)
            return path
    for candidate in (Path.cwd() / CONFIG_NAME, platformdirs.user_config_path(APP) / CONFIG_NAME):
        if candidate.is_file():
            return candidate
    return None


class _Locator:
    """Finds the line of a key in the TOML text, for error messages (tomllib gives none)."""

    header = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, table: str | None, key: str | None, index: int | None = None) -> int | None:
        current: str | None = None
        seen: dict[str, int] = {}
        table_line: int | None = None
        key_re = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=") if key else None
        for number, line in enumerate(self.lines, 1):
            m = self.header.match(line)
            if m:
                current = m.group(2).strip()
                if table is None and key and (current == key or current.startswith(key + ".")):
                    return number  # a whole section at fault
                if m.group(1) == "[[":
                    seen[current] = seen.get(current, -1) + 1
                in_target = current == table and (index is None or seen.get(current) == index)
                if in_target and table_line is None:
                    table_line = number
                continue
            in_target = current == table and (index is None or seen.get(current, 0) == index)
            if key_re and in_target and key_re.match(line):
                return number
        return table_line


def load_settings(
    explicit: str | os.PathLike[str] | None = None,
    *,
    env: dict[str, str] | None = None,
    store_kind: str | None = None,
) -> Settings:
    env = dict(os.environ if env is None else env)
    path = find_config(explicit, env)
    raw: dict[str, Any] = {}
    locator = _Locator("")
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read it: {exc}", path=path) from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
            raise ConfigError(
                f"not valid TOML: {message}" + (f" (column {m.group(2)})" if m else ""),
                path=path,
                line=int(m.group(1)) if m else None,
            ) from None
        locator = _Locator(text)
    return _Parser(path, locator).settings(raw, env, store_kind)


class _Parser:
    def __init__(self, path: Path | None, locator: _Locator) -> None:
        self.path = path
        self.locator = locator

    def fail(self, message: str, table: str | None, key: str | None, index: int | None = None) -> ConfigError:
        line = self.locator.find(table, key, index) if self.path else None
        shown = f"{table}[{index}].{key}" if index is not None else (f"{table}.{key}" if table and key else key or table)
        return ConfigError(message, path=self.path, line=line, key=shown)

    def table(self, raw: dict[str, Any], name: str, allowed: frozenset[str]) -> dict[str, Any]:
        value = raw.get(name, {})
        if not isinstance(value, dict):
            raise self.fail("must be a table", None, name)
        self.no_unknown(value, allowed, name)
        return value

    def no_unknown(self, value: dict[str, Any], allowed: frozenset[str], table: str, index: int | None = None) -> None:
        for key in value:
            if key not in allowed:
                if table == "store" and key in ("deploy_key", "key", "admin_key"):
                    raise self.fail(
                        "a deploy key does not belong in squad.toml (a plain-text file); "
                        "set CONVEX_DEPLOY_KEY or keep it in the vault",
                        table,
                        key,
                    )
                raise self.fail(f"unknown key (known: {', '.join(sorted(allowed))})", table, key, index)

    def string(self, value: Any, table: str, key: str, index: int | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail("must be a non-empty string", table, key, index)
        return value

    def duration(self, value: Any, table: str, key: str, index: int | None = None) -> float:
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self.fail(str(exc), table, key, index) from None

    def settings(self, raw: dict[str, Any], env: dict[str, str], store_kind: str | None) -> Settings:
        top = {"store", "agents", "openclaw", "keys"}
        for key in raw:
            if key not in top:
                raise self.fail(f"unknown section (known: {', '.join(sorted(top))})", None, key)
        openclaw = self.openclaw(raw, env)
        return Settings(
            source=self.path,
            store=self.store(raw, env, store_kind),
            agents=self.agents(raw, openclaw.state_dir),
            openclaw=openclaw,
            keys=self.keys(raw),
        )

    def store(self, raw: dict[str, Any], env: dict[str, str], store_kind: str | None) -> StoreSettings:
        t = self.table(raw, "store", STORE_KEYS)
        kind = t.get("kind", "local")
        if kind not in STORE_KINDS:
            raise self.fail(f"must be one of {', '.join(STORE_KINDS)}, not {kind!r}", "store", "kind")
        kind = store_kind or kind
        path_value = env.get("SQUAD_CONSOLE_DB") or (self.string(t["path"], "store", "path") if "path" in t else None)
        url = env.get("CONVEX_URL") or (self.string(t["url"], "store", "url") if "url" in t else None)
        fast = self.duration(t.get("poll_interval", "5s"), "store", "poll_interval")
        idle = self.duration(t.get("poll_interval_idle", "30s"), "store", "poll_interval_idle")
        timeout = self.duration(t.get("timeout", "10s"), "store", "timeout")
        if fast < 0.5:
            raise self.fail("must be at least 0.5s (every poll is a billed Convex call)", "store", "poll_interval")
        if idle < fast:
            raise self.fail("must not be shorter than poll_interval", "store", "poll_interval_idle")
        if timeout <= 0:
            raise self.fail("must be more than 0s", "store", "timeout")
        return StoreSettings(
            kind=kind,
            path=Path(path_value).expanduser() if path_value else None,
            url=url,
            deploy_key=env.get("CONVEX_DEPLOY_KEY") or None,
            poll_interval=fast,
            poll_interval_idle=idle,
            timeout=timeout,
        )

    def openclaw(self, raw: dict[str, Any], env: dict[str, str]) -> OpenClawSettings:
        t = self.table(raw, "openclaw", OPENCLAW_KEYS)
        state_dir = env.get("OPENCLAW_STATE_DIR") or (
            self.string(t["state_dir"], "openclaw", "state_dir") if "state_dir" in t else "~/.openclaw"
        )
        config_path = env.get("OPENCLAW_CONFIG_PATH") or (
            self.string(t["config_path"], "openclaw", "config_path") if "config_path" in t else None
        )
        gateway = self.string(t.get("gateway", "http://127.0.0.1:18789"), "openclaw", "gateway")
        if not re.match(r"^(https?|wss?)://", gateway):
            raise self.fail("must be a URL like http://127.0.0.1:18789", "openclaw", "gateway")
        return OpenClawSettings(
            state_dir=Path(state_dir).expanduser(),
            config_path=Path(config_path).expanduser() if config_path else None,
            gateway=gateway,
        )

    def agents(self, raw: dict[str, Any], state_dir: Path) -> tuple[AgentSettings, ...]:
        if "agents" not in raw:
            return seed_agents(state_dir)
        items = raw["agents"]
        if not isinstance(items, list):
            raise self.fail("must be an array of tables: write each agent as [[agents]]", None, "agents")
        out: list[AgentSettings] = []
        seen: set[str] = set()
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail("must be a table", "agents", None, i)
            self.no_unknown(item, AGENT_KEYS, "agents", i)
            if "id" not in item:
                raise self.fail("is missing (every agent needs its OpenClaw id, e.g. \"veda\")", "agents", "id", i)
            agent_id = self.string(item["id"], "agents", "id", i)
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", agent_id):
                raise self.fail(f"{agent_id!r} is not an OpenClaw agent id (lowercase letters, digits, - and _)", "agents", "id", i)
            if agent_id in seen:
                raise self.fail(f"{agent_id!r} is listed twice", "agents", "id", i)
            seen.add(agent_id)
            heartbeat = self.string(item.get("heartbeat", "*/15 * * * *"), "agents", "heartbeat", i)
            if not _valid_cron(heartbeat):
                raise self.fail(f"{heartbeat!r} is not a 5-field cron expression", "agents", "heartbeat", i)
            tz = self.string(item.get("tz", "UTC"), "agents", "tz", i)
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise self.fail(f"{tz!r} is not a time zone name (e.g. \"UTC\", \"Europe/Paris\")", "agents", "tz", i) from None
            out.append(
                AgentSettings(
                    id=agent_id,
                    name=self.string(item.get("name", agent_id), "agents", "name", i),
                    role=item.get("role", "") if isinstance(item.get("role", ""), str) else self.string(None, "agents", "role", i),
                    workspace=str(Path(self.string(item["workspace"], "agents", "workspace", i)).expanduser())
                    if "workspace" in item
                    else str(state_dir / f"workspace-{agent_id}"),
                    heartbeat=heartbeat,
                    tz=tz,
                    grace=self.duration(item.get("grace", "5m"), "agents", "grace", i),
                )
            )
        return tuple(out)

    def keys(self, raw: dict[str, Any]) -> dict[str, str]:
        t = raw.get("keys", {})
        if not isinstance(t, dict):
            raise self.fail("must be a table of binding id = \"keys\"", None, "keys")
        out = {}
        for key, value in t.items():
            out[key] = self.string(value, "keys", key)
        return out


def _valid_cron(expr: str) -> bool:
    from croniter import croniter  # imported here: it is only needed when a config names a schedule

    return len(expr.split()) == 5 and croniter.is_valid(expr)


def check_keys(settings: Settings, known: set[str]) -> None:
    """[keys] may only name binding ids the console has (listed by `?` in the console)."""
    for binding_id in settings.keys:
        if binding_id not in known:
            line = None
            if settings.source is not None:
                line = _Locator(settings.source.read_text(encoding="utf-8")).find("keys", binding_id)
            raise ConfigError(
                f"no key binding has this id (known: {', '.join(sorted(known))})",
                path=settings.source, line=line, key=f"keys.{binding_id}",
            )

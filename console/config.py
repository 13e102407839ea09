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

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from console import asset
from console.errors import LocatedError

APP = "squad-console"
CONFIG_NAME = "squad.toml"
STORE_KINDS = ("local", "convex")
# Every key each table accepts; assets/squad.example.toml documents exactly these (tested).
STORE_KEYS = frozenset({"kind", "path", "url", "poll_interval", "poll_interval_idle", "timeout"})
OPENCLAW_KEYS = frozenset({"state_dir", "config_path", "gateway"})
AGENT_KEYS = frozenset({"id", "name", "role", "workspace", "heartbeat", "tz", "grace", "job"})
PIPELINE_KEYS = frozenset({"concurrency", "timeout", "deadline", "max_body", "interval", "max_interval",
                           "user_agent", "survey_template", "score_scale", "rules", "criteria"})
RULE_KEYS = frozenset({"name", "competitor", "keywords", "weight", "window", "opportunity", "cap"})
CRITERIA_KEYS = frozenset({"version", "min_market_score", "min_validation_score", "min_respondents",
                           "more_data_margin", "must_have"})


class ConfigError(LocatedError):
    """A problem in a config file: where it is, which key, and what is wrong. `str(err)` is
    `where: key: what`; `message` the bare what."""

    kind = "config"
    nowhere = "configuration"


MAX_GRACE = 86_400.0  # seconds


def convex_url_problem(url: str) -> str | None:
    """Why `url` cannot be the Convex deployment's URL, or None. The deploy key (and, for
    `vault convex-key set`, the vault key) travel to it: HTTPS only, except on loopback (a local
    backend or the test server); no user name or password inside it."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a URL (e.g. https://happy-otter-123.convex.cloud)"
    if parts.scheme not in ("https", "http") or not host:
        return "is not an http(s) URL (e.g. https://happy-otter-123.convex.cloud)"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password (the deploy key goes in CONVEX_DEPLOY_KEY or the vault)"
    if parts.scheme == "http" and host not in ("127.0.0.1", "localhost", "::1"):
        return "must use https: the deploy key would cross the network in clear (http is for a loopback backend only)"
    return None


def parse_size(value: Any) -> int:
    """`"5MiB"`, `"512KiB"`, `"2MB"`, `"900B"` or a number of bytes → bytes."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("expected a size like \"5MiB\" or \"512KiB\"")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("a size must be more than 0")
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)\s*", value)
    if not m:
        raise ValueError(f"{value!r} is not a size like \"5MiB\" or \"512KiB\"")
    scale = {"B": 1, "KB": 1000, "KiB": 1024, "MB": 1000**2, "MiB": 1024**2, "GB": 1000**3, "GiB": 1024**3}
    number = float(m.group(1)) * scale[m.group(2)]
    if not number < 2**40:  # also catches inf from a number too long for a float
        raise ValueError(f"{value!r} is too large (at most 1 TiB)")
    size = int(number)
    if size <= 0:
        raise ValueError("a size must be more than 0")
    return size


def parse_duration(value: Any) -> float:
    """`"90s"`, `"5m"`, `"1h"`, `"250ms"`, `"1h30m"` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like \"30s\", \"5m\" or \"1h\"")
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:
            raise ValueError(f"{value} seconds is out of range") from None
        if not math.isfinite(seconds):
            raise ValueError("a duration must be a finite number of seconds")
        if seconds < 0:
            raise ValueError("a duration cannot be negative")
        return seconds
    if not isinstance(value, str):
        raise ValueError("expected a duration like \"30s\", \"5m\" or \"1h\"")
    text = value.strip().lower()
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", text)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != text.replace(" ", ""):
        raise ValueError(f"{value!r} is not a duration like \"30s\", \"5m\" or \"1h\"")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    seconds = sum(float(n) * scale[u] for n, u in parts)
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is out of range")
    return seconds


@dataclass(frozen=True)
class AgentSettings:
    id: str
    name: str
    role: str = ""
    workspace: str | None = None
    heartbeat: str = "*/15 * * * *"
    tz: str = "UTC"
    grace: float = 300.0
    job: str | None = None  # the OpenClaw cron job (name or id) that is its heartbeat; None: `<id>-heartbeat`


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
class PipelineRule:
    """A market-analysis rule: each signal within `window` of `competitor` (any when None) whose
    title or summary holds one of `keywords` (any signal when empty: a volume rule) adds `weight`
    points to the opportunities whose title contains `opportunity` (all when None), at most `cap`
    points from this rule."""

    name: str
    keywords: tuple[str, ...] = ()
    competitor: str | None = None
    weight: float = 1.0
    window: float = 30 * 86400.0  # seconds
    opportunity: str | None = None
    cap: float | None = None


@dataclass(frozen=True)
class PipelineCriteria:
    """Cestra's go/no-go criteria. Scores are 0-100; must_have maps a survey question id to the
    lowest mean answer (on the template's scale) that passes."""

    version: str = "1"
    min_market_score: float = 60.0
    min_validation_score: float = 60.0
    min_respondents: int = 5
    more_data_margin: float = 10.0
    must_have: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class PipelineSettings:
    concurrency: int = 64
    timeout: float = 10.0
    deadline: float = 30.0
    max_body: int = 5 * 1024 * 1024
    interval: float = 1800.0
    max_interval: float = 86400.0
    user_agent: str = "squad-console feeds (+https://github.com/openclaw)"
    survey_template: Path = asset("survey.template.json")
    score_scale: float = 10.0
    rules: tuple[PipelineRule, ...] = ()
    criteria: PipelineCriteria = PipelineCriteria()


@dataclass(frozen=True)
class Settings:
    source: Path | None
    store: StoreSettings
    agents: tuple[AgentSettings, ...]
    openclaw: OpenClawSettings
    keys: dict[str, str]
    pipeline: PipelineSettings = PipelineSettings()


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
        except RecursionError:
            raise ConfigError("not valid TOML: nested too deeply", path=path) from None
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

    def grace(self, value: Any, index: int) -> float:
        seconds = self.duration(value, "agents", "grace", index)
        if seconds > MAX_GRACE:
            raise self.fail(f"{value!r} is longer than a day: a beat that late is a missed one (e.g. \"5m\")",
                            "agents", "grace", index)
        return seconds

    def settings(self, raw: dict[str, Any], env: dict[str, str], store_kind: str | None) -> Settings:
        top = {"store", "agents", "openclaw", "keys", "pipeline"}
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
            pipeline=self.pipeline(raw),
        )

    def store(self, raw: dict[str, Any], env: dict[str, str], store_kind: str | None) -> StoreSettings:
        t = self.table(raw, "store", STORE_KEYS)
        kind = t.get("kind", "local")
        if kind not in STORE_KINDS:
            raise self.fail(f"must be one of {', '.join(STORE_KINDS)}, not {kind!r}", "store", "kind")
        kind = store_kind or kind
        path_value = env.get("SQUAD_CONSOLE_DB") or (self.string(t["path"], "store", "path") if "path" in t else None)
        url = env.get("CONVEX_URL") or (self.string(t["url"], "store", "url") if "url" in t else None)
        if url:
            problem = convex_url_problem(url)
            if problem and env.get("CONVEX_URL"):
                raise ConfigError(problem, key="CONVEX_URL (environment)")
            if problem:
                raise self.fail(problem, "store", "url")
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
            # kept as written (OpenClaw gets the operator's own expression); the health maths
            # normalises it before croniter evaluates slots (console/service/health/cron.py)
            if not _plain_cron(heartbeat):  # else croniter judges it (its import is start-up's largest)
                if not _valid_cron(heartbeat):
                    raise self.fail(f"{heartbeat!r} is not a 5-field cron expression", "agents", "heartbeat", i)
                if not _cron_fires(heartbeat):
                    raise self.fail(f"{heartbeat!r} never fires (no such date in the next 4 years)", "agents", "heartbeat", i)
            tz = self.string(item.get("tz", "UTC"), "agents", "tz", i)
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder like "America"
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
                    grace=self.grace(item.get("grace", "5m"), i),
                    job=self.string(item["job"], "agents", "job", i) if "job" in item else None,
                )
            )
        return tuple(out)

    def number(self, value: Any, table: str, key: str, index: int | None = None, *, low: float | None = None,
               high: float | None = None, integer: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            raise self.fail(f"must be {'a whole number' if integer else 'a number'}", table, key, index)
        if (isinstance(value, float) and not math.isfinite(value)) or abs(value) > 1e15:
            raise self.fail("must be a finite number of reasonable size", table, key, index)
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else (
                f"at least {low:g}" if low is not None else f"at most {high:g}")
            raise self.fail(f"must be {bounds}", table, key, index)
        return value

    def pipeline(self, raw: dict[str, Any]) -> PipelineSettings:
        t = self.table(raw, "pipeline", PIPELINE_KEYS)
        d = PipelineSettings()
        concurrency = int(self.number(t.get("concurrency", d.concurrency), "pipeline", "concurrency",
                                      low=1, high=512, integer=True))
        timeout = self.duration(t.get("timeout", "10s"), "pipeline", "timeout")
        deadline = self.duration(t.get("deadline", "30s"), "pipeline", "deadline")
        interval = self.duration(t.get("interval", "30m"), "pipeline", "interval")
        max_interval = self.duration(t.get("max_interval", "24h"), "pipeline", "max_interval")
        if timeout <= 0:
            raise self.fail("must be more than 0s", "pipeline", "timeout")
        if deadline < timeout:
            raise self.fail("must not be shorter than timeout", "pipeline", "deadline")
        if interval < 60:
            raise self.fail("must be at least 1m (be kind to the feeds' servers)", "pipeline", "interval")
        if max_interval < interval:
            raise self.fail("must not be shorter than interval", "pipeline", "max_interval")
        try:
            max_body = parse_size(t.get("max_body", d.max_body))
        except ValueError as exc:
            raise self.fail(str(exc), "pipeline", "max_body") from None
        template = d.survey_template
        if "survey_template" in t:
            template = Path(self.string(t["survey_template"], "pipeline", "survey_template")).expanduser()
            if not template.is_absolute():  # beside this file, else the template of that name shipped with the console
                beside = self.path.parent / template if self.path is not None else None
                shipped = asset(str(template))
                template = beside if beside is not None and (beside.exists() or not shipped.exists()) else shipped
        return PipelineSettings(
            concurrency=concurrency,
            timeout=timeout,
            deadline=deadline,
            max_body=max_body,
            interval=interval,
            max_interval=max_interval,
            user_agent=self.string(t.get("user_agent", d.user_agent), "pipeline", "user_agent"),
            survey_template=template,
            score_scale=float(self.number(t.get("score_scale", d.score_scale), "pipeline", "score_scale", low=0.001)),
            rules=self.rules(t),
            criteria=self.criteria(t),
        )

    def rules(self, t: dict[str, Any]) -> tuple[PipelineRule, ...]:
        items = t.get("rules", [])
        if not isinstance(items, list):
            raise self.fail("must be an array of tables: write each rule as [[pipeline.rules]]", "pipeline", "rules")
        out: list[PipelineRule] = []
        names: set[str] = set()
        where = "pipeline.rules"
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail("must be a table", where, None, i)
            self.no_unknown(item, RULE_KEYS, where, i)
            if "name" not in item:
                raise self.fail("is missing (every rule needs a name, shown beside the signals it scores)", where, "name", i)
            name = self.string(item["name"], where, "name", i)
            if name in names:
                raise self.fail(f"{name!r} is listed twice", where, "name", i)
            names.add(name)
            keywords = item.get("keywords", [])
            if not isinstance(keywords, list) or not all(isinstance(k, str) and k.strip() for k in keywords):
                raise self.fail("must be a list of non-empty strings", where, "keywords", i)
            cap = item.get("cap")
            out.append(PipelineRule(
                name=name,
                keywords=tuple(k.strip() for k in keywords),
                competitor=self.string(item["competitor"], where, "competitor", i) if "competitor" in item else None,
                weight=float(self.number(item.get("weight", 1.0), where, "weight", i, low=-100, high=100)),
                window=self.duration(item.get("window", "30d"), where, "window", i),
                opportunity=self.string(item["opportunity"], where, "opportunity", i) if "opportunity" in item else None,
                cap=float(self.number(cap, where, "cap", i, low=0)) if cap is not None else None,
            ))
            if out[-1].window <= 0:
                raise self.fail("must be more than 0s", where, "window", i)
        return tuple(out)

    def criteria(self, t: dict[str, Any]) -> PipelineCriteria:
        c = t.get("criteria", {})
        where = "pipeline.criteria"
        if not isinstance(c, dict):
            raise self.fail("must be a table: write it as [pipeline.criteria]", "pipeline", "criteria")
        self.no_unknown(c, CRITERIA_KEYS, where)
        d = PipelineCriteria()
        version = c.get("version", d.version)
        if isinstance(version, int) and not isinstance(version, bool):
            version = str(version)
        must = c.get("must_have", {})
        if not isinstance(must, dict):
            raise self.fail("must be a table of question id = lowest mean answer", where, "must_have")
        must_have = []
        for question, low in must.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", question):
                raise self.fail(f"{question!r} is not a survey question id (lowercase letters, digits and _)",
                                f"{where}.must_have", question)
            must_have.append((question, float(self.number(low, f"{where}.must_have", question))))
        return PipelineCriteria(
            version=self.string(version, where, "version"),
            min_market_score=float(self.number(c.get("min_market_score", d.min_market_score), where,
                                               "min_market_score", low=0, high=100)),
            min_validation_score=float(self.number(c.get("min_validation_score", d.min_validation_score), where,
                                                   "min_validation_score", low=0, high=100)),
            min_respondents=int(self.number(c.get("min_respondents", d.min_respondents), where, "min_respondents",
                                            low=0, integer=True)),
            more_data_margin=float(self.number(c.get("more_data_margin", d.more_data_margin), where,
                                               "more_data_margin", low=0, high=100)),
            must_have=tuple(must_have),
        )

    def keys(self, raw: dict[str, Any]) -> dict[str, str]:
        t = raw.get("keys", {})
        if not isinstance(t, dict):
            raise self.fail("must be a table of binding id = \"keys\"", None, "keys")
        out = {}

        def flatten(prefix: str, table: dict[str, Any]) -> None:
            # `screen.heartbeats = "h"` unquoted is a dotted TOML key: a nested table
            for key, value in table.items():
                name = f"{prefix}{key}"
                if isinstance(value, dict):
                    flatten(f"{name}.", value)
                else:
                    out[name] = self.string(value, "keys", name)

        flatten("", t)
        return out


_CRON_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_CRON_ITEM = re.compile(r"(\*|(\d{1,2})(?:-(\d{1,2}))?)(?:/(\d{1,2}))?")


def _plain_cron(expr: str) -> bool:
    """True when `expr` is plainly a valid 5-field expression that fires: numbers, `*`, ranges
    `a-b` (a ≤ b), steps on `*` or a range, lists, every value in its field's bounds, and a day of
    the month every month has (≤ 28) or `*`. False means "not plainly": croniter decides (names,
    `L`, `#`, `?`, 7 for Sunday, … and errors), so this only spares its import for the usual case."""
    fields = expr.split()
    if len(fields) != 5:
        return False
    for n, (field_, (low, high)) in enumerate(zip(fields, _CRON_BOUNDS)):
        first_days = []
        for item in field_.split(","):
            m = _CRON_ITEM.fullmatch(item)
            if m is None:
                return False
            star, a, b, step = m.group(1) == "*", m.group(2), m.group(3), m.group(4)
            if step is not None and (not (1 <= int(step) <= high) or (not star and b is None)):
                return False
            if not star:
                start, end = int(a), int(b) if b is not None else int(a)
                if not (low <= start <= end <= high):
                    return False
            first_days.append(low if star else int(a))
        if n == 2 and min(first_days) > 28:
            return False
    return True


def _cron_fires(expr: str) -> bool:
    """A valid expression that names no real date (`59 23 31 2 *`: February 31st) never fires."""
    from datetime import datetime, timezone

    from croniter import croniter

    try:
        nxt = croniter(expr, datetime(2024, 1, 1, tzinfo=timezone.utc), max_years_between_matches=4).get_next(datetime)
    except (ValueError, KeyError, OverflowError, RecursionError):  # croniter's "no match" is a ValueError
        return False
    return nxt is not None


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

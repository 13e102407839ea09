"""The squad's heartbeat health, computed from the store: what `check`, the daemon and the
screens all show. Pure evaluation lives in heartbeats.py; this module fetches and assembles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from console.config import AgentSettings
from console.service.health.slots import Schedule, Status, Uptime, runs_from_heartbeats, status_at, uptime_24h_7d
from console.service.models import Agent, Flip, Heartbeat
from console.service.store import Store

DAY_MS = 86_400_000.0
WEEK_MS = 7 * DAY_MS
STORED_STATUSES = ("new", "up", "down", "failing", "paused")


@dataclass(frozen=True)
class AgentHealth:
    agent_id: str
    name: str
    registered: bool
    schedule: Schedule
    status: Status
    uptime_24h: Uptime
    uptime_7d: Uptime
    last_beat: Heartbeat | None
    beats_24h: int
    tokens_24h: float
    cost_24h: float
    last_flip: str = "new"  # the last stored status (flips), to compare with `status`
    causes: list = field(default_factory=list)  # openclaw.Cause, filled by callers that probe OpenClaw
    runs: tuple = ()  # the runs it was evaluated from (squad_health only; the book keeps its own)

    @property
    def healthy(self) -> bool:
        return self.status.status == "up"


def paused_intervals(flips: Iterable[Flip]) -> tuple[tuple[float, float | None], ...]:
    """[start, end) intervals during which the agent was paused, from its flips."""
    out: list[tuple[float, float | None]] = []
    start: float | None = None
    for f in sorted(flips, key=lambda f: f.at):
        if f.to_status == "paused" and start is None:
            start = f.at
        elif f.from_status == "paused" and f.to_status != "paused" and start is not None:
            out.append((start, f.at))
            start = None
    if start is not None:
        out.append((start, None))
    return tuple(out)


def schedule_for(
    agent_id: str,
    configured: AgentSettings | None,
    stored: Agent | None,
    flips: Sequence[Flip] = (),
) -> Schedule:
    """The operator's squad.toml wins; an agent only in the store uses what it was registered with."""
    if configured is not None:
        cron, tz, grace = configured.heartbeat, configured.tz, configured.grace
    else:
        cron = (stored.heartbeat if stored else None) or "*/15 * * * *"
        tz = (stored.tz if stored else None) or "UTC"
        grace = stored.grace_seconds if stored and stored.grace_seconds is not None else 300.0
    return Schedule(
        cron=cron,
        tz=tz,
        grace=grace * 1000.0,
        created_at=stored.created_at if stored else None,
        paused=paused_intervals(flips),
    )


def evaluate_agent(
    agent_id: str,
    name: str,
    schedule: Schedule,
    beats: Sequence[Heartbeat],
    now: float,
    *,
    registered: bool = True,
    last_flip: str = "new",
) -> AgentHealth:
    runs = runs_from_heartbeats(beats)
    day, week = uptime_24h_7d(schedule, runs, now)
    last_day = [b for b in beats if b.at > now - DAY_MS and b.at <= now]
    return AgentHealth(
        agent_id=agent_id,
        name=name,
        registered=registered,
        schedule=schedule,
        status=status_at(schedule, runs, now),
        uptime_24h=day,
        uptime_7d=week,
        last_beat=max(beats, key=lambda b: b.at) if beats else None,
        beats_24h=len(last_day),
        tokens_24h=sum(b.tokens or 0 for b in last_day),
        cost_24h=sum(b.cost_usd or 0 for b in last_day),
        last_flip=last_flip,
        runs=tuple(runs),
    )


OPENCLAW_MAIN = "main"  # OpenClaw's own default agent: created by the first `agents add`, not the squad's


def is_reported(agent_id: str, configured_ids: Iterable[str], stored: Agent | None) -> bool:
    """Whether an agent is the squad's: named in squad.toml, or registered in the store, except
    OpenClaw's own `main` agent registered without a role (an older `agents import` took it by
    default): that one only when squad.toml names it or the operator chose it (an import with
    `--agent main` or `--all`, or a sync from squad.toml, gives it a role)."""
    if agent_id in set(configured_ids):
        return True
    if stored is None:
        return False
    return agent_id != OPENCLAW_MAIN or bool((stored.role or "").strip())


def reported_ids(configured_ids: Sequence[str], stored: Iterable[Agent]) -> list[str]:
    """squad.toml's agents, then the store's other agents that are the squad's (`is_reported`), sorted."""
    extra = {a.agent_id: a for a in stored if a.agent_id not in set(configured_ids)}
    return list(configured_ids) + sorted(k for k, a in extra.items() if is_reported(k, configured_ids, a))


def squad_health(store: Store, configured: Sequence[AgentSettings], now: float) -> list[AgentHealth]:
    """Every agent of squad.toml, then every other agent of the squad in the store (`is_reported`):
    its health now."""
    stored = {a.agent_id: a for a in store.list_agents()}
    since = now - WEEK_MS - DAY_MS
    flips_by_agent: dict[str, list[Flip]] = {}
    for f in store.list_flips(since=0.0, limit=100_000):
        flips_by_agent.setdefault(f.agent_id, []).append(f)
    out: list[AgentHealth] = []
    seen: set[str] = set()
    ids = [a.id for a in configured]
    others = [k for k in reported_ids(ids, stored.values()) if k not in set(ids)]
    for agent_id, cfg in [(a.id, a) for a in configured] + [(k, None) for k in others]:
        if agent_id in seen:
            continue
        seen.add(agent_id)
        agent = stored.get(agent_id)
        flips = flips_by_agent.get(agent_id, [])
        beats = store.list_heartbeats(agent_id, since=since, until=now + 1, limit=20_000)
        schedule = schedule_for(agent_id, cfg, agent, flips)
        if beats and schedule.created_at is not None and beats[0].at < schedule.created_at:
            # registered in the console after it had been beating (an import): count from its first run
            schedule = replace(schedule, created_at=beats[0].at)
        name = cfg.name if cfg else (agent.name if agent else agent_id)
        out.append(evaluate_agent(agent_id, name, schedule, beats, now, registered=agent is not None,
                                  last_flip=last_stored_status(flips)))
    return out


def last_stored_status(flips: Sequence[Flip]) -> str:
    return max(flips, key=lambda f: (f.at, f.created_at)).to_status if flips else "new"

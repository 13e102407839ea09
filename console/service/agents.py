"""The agent registry's use cases shared by the Agents screen, the task forms and `squad-console
agents`: squad.toml's agents as specs, a sync that says what changed (or, dry, what would), and
the names an operator types resolved to agents (case-insensitive OpenClaw id or name). No Textual."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from console.config import Settings
from console.service.models import OPERATOR, Agent, AgentSpec
from console.service.store import Store

FIELDS = ("name", "role", "status", "level", "workspace", "heartbeat", "tz", "grace_seconds")


@dataclass(frozen=True)
class SyncLine:
    agent_id: str
    outcome: str  # registered | updated | unchanged | would register | would update | would not change
    changed: tuple[str, ...] = ()  # the fields that change

    def words(self) -> str:
        return f"{self.agent_id}: {self.outcome}" + (f" ({', '.join(self.changed)})" if self.changed else "")


def squad_specs(settings: Settings, only: Iterable[str] | None = None) -> list[AgentSpec]:
    """squad.toml's agents, as `agents sync` registers them (all, or only those ids)."""
    wanted = set(only) if only is not None else None
    return [AgentSpec(a.id, a.name, a.role, workspace=a.workspace, heartbeat=a.heartbeat, tz=a.tz,
                      grace_seconds=a.grace)
            for a in settings.agents if wanted is None or a.id in wanted]


def changes(spec: AgentSpec, stored: Agent | None) -> tuple[str, ...]:
    """The fields an upsert of `spec` would change on `stored` (every given one for a new agent)."""
    return tuple(k for k in FIELDS if getattr(spec, k) is not None
                 and (stored is None or getattr(stored, k) != getattr(spec, k)))


def upsert(store: Store, specs: Sequence[AgentSpec], *, dry_run: bool = False, actor: str = OPERATOR) -> list[SyncLine]:
    """Register or update each agent (idempotent); dry, say what would change and change nothing."""
    known = {a.agent_id: a for a in store.list_agents()}
    out = []
    for spec in specs:
        stored = known.get(spec.agent_id)
        diff = changes(spec, stored)
        if dry_run:
            outcome = "would register" if stored is None else ("would update" if diff else "would not change")
            out.append(SyncLine(spec.agent_id, outcome, diff if stored is not None else ()))
            continue
        _, created, changed = store.upsert_agent(spec, actor=actor)
        outcome = "registered" if created else ("updated" if changed else "unchanged")
        out.append(SyncLine(spec.agent_id, outcome, diff if outcome == "updated" else ()))
    return out


def summary(lines: Sequence[SyncLine], where: str) -> str:
    """One sentence: "3 agents from squad.toml: 1 registered, 2 unchanged"."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.outcome] = counts.get(line.outcome, 0) + 1
    if not lines:
        return f"no agents in {where}"
    return f"{len(lines)} agent{'s' if len(lines) != 1 else ''} from {where}: " + ", ".join(
        f"{n} {outcome}" for outcome, n in counts.items())


def resolve(agents: Iterable[Agent], names: Sequence[str]) -> tuple[list[Agent], list[str]]:
    """The agents the operator named (an OpenClaw id or a name, any case), in order, and the names
    that match none. A name shared by two agents matches by id only."""
    agents = list(agents)
    by_id = {a.agent_id.lower(): a for a in agents}
    by_name: dict[str, list[Agent]] = {}
    for a in agents:
        by_name.setdefault((a.name or "").lower(), []).append(a)
    found, unknown = [], []
    for n in names:
        key = n.strip().lower()
        hit = by_id.get(key) or (by_name[key][0] if len(by_name.get(key, [])) == 1 else None)
        if hit is None:
            unknown.append(n)
        elif hit not in found:
            found.append(hit)
    return found, unknown

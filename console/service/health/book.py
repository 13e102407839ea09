"""HealthBook: the console's compact memory of each agent's recent beats, and its health now.

The screens need each agent's status, slot strip and 24 h / 7 d uptime at every moment, for up to
a thousand agents, without a store call per agent per refresh. The book keeps eight days of beats
per agent in flat arrays (about 25 bytes a beat: 7 days of a 15-minute heartbeat for 1,000 agents
is under 20 MB), is loaded once per agent at start, then fed the poller's deltas; evaluation is
the pure engine of heartbeats.py. No Textual here.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from console.config import AgentSettings
from console.service.health.slots import Run, Schedule, match_slots, prev_slot, status_at, uptime_24h_7d
from console.service.models import Agent, Flip, Heartbeat
from console.service.health.squad import DAY_MS, WEEK_MS, AgentHealth, last_stored_status, schedule_for

KEEP_MS = WEEK_MS + DAY_MS


@dataclass
class _History:
    at: array = field(default_factory=lambda: array("d"))
    ok: bytearray = field(default_factory=bytearray)
    tokens: array = field(default_factory=lambda: array("d"))
    cost: array = field(default_factory=lambda: array("d"))
    errors: dict[float, str] = field(default_factory=dict)  # failed runs only, by time
    last: Heartbeat | None = None

    def add(self, b: Heartbeat) -> bool:
        i = bisect.bisect_left(self.at, b.at)
        ok = 1 if b.outcome == "ok" else 0
        j = i
        while j < len(self.at) and self.at[j] == b.at:  # the same run seen twice (load + poll)
            if self.ok[j] == ok:
                return False
            j += 1
        self.at.insert(i, b.at)
        self.ok.insert(i, ok)
        self.tokens.insert(i, b.tokens or 0.0)
        self.cost.insert(i, b.cost_usd or 0.0)
        if not ok:
            self.errors[b.at] = b.error or "error"
        if self.last is None or b.at >= self.last.at:
            self.last = b
        return True

    def prune(self, before: float) -> None:
        k = bisect.bisect_left(self.at, before)
        if k:
            for t in self.at[:k]:
                self.errors.pop(t, None)
            del self.at[:k], self.ok[:k], self.tokens[:k], self.cost[:k]

    def runs(self) -> list[Run]:
        errors = self.errors
        return [Run(t, bool(o), None if o else errors.get(t)) for t, o in zip(self.at, self.ok)]

    def day_totals(self, now: float) -> tuple[int, float, float]:
        lo = bisect.bisect_right(self.at, now - DAY_MS)
        hi = bisect.bisect_right(self.at, now)
        return hi - lo, sum(self.tokens[lo:hi]), sum(self.cost[lo:hi])


@dataclass(frozen=True)
class SlotMark:
    at: float
    outcome: str  # ok | late | missed | failed | pending | paused


class HealthBook:
    def __init__(self) -> None:
        self._hist: dict[str, _History] = {}
        self._flips: dict[str, list[Flip]] = {}

    def agent_ids(self) -> list[str]:
        return list(self._hist)

    def add_beats(self, beats: Iterable[Heartbeat]) -> set[str]:
        """Add beats (any order, repeats ignored); returns the agents whose history changed."""
        touched: set[str] = set()
        for b in beats:
            if self._hist.setdefault(b.agent_id, _History()).add(b):
                touched.add(b.agent_id)
        return touched

    def add_flips(self, flips: Iterable[Flip]) -> set[str]:
        touched: set[str] = set()
        for f in flips:
            known = self._flips.setdefault(f.agent_id, [])
            if all(k.id != f.id for k in known):
                known.append(f)
                touched.add(f.agent_id)
        return touched

    def prune(self, now: float) -> None:
        for h in self._hist.values():
            h.prune(now - KEEP_MS)

    def beat_count(self) -> int:
        return sum(len(h.at) for h in self._hist.values())

    def schedule(self, agent_id: str, configured: AgentSettings | None, stored: Agent | None) -> Schedule:
        sched = schedule_for(agent_id, configured, stored, self._flips.get(agent_id, ()))
        hist = self._hist.get(agent_id)
        if hist and len(hist.at) and sched.created_at is not None and hist.at[0] < sched.created_at:
            sched = replace(sched, created_at=hist.at[0])
        return sched

    def evaluate(
        self,
        agent_id: str,
        name: str,
        configured: AgentSettings | None,
        stored: Agent | None,
        now: float,
    ) -> AgentHealth:
        hist = self._hist.get(agent_id) or _History()
        schedule = self.schedule(agent_id, configured, stored)
        runs = hist.runs()
        day, week = uptime_24h_7d(schedule, runs, now)
        beats, tokens, cost = hist.day_totals(now)
        return AgentHealth(
            agent_id=agent_id,
            name=name,
            registered=stored is not None,
            schedule=schedule,
            status=status_at(schedule, runs, now),
            uptime_24h=day,
            uptime_7d=week,
            last_beat=hist.last,
            beats_24h=beats,
            tokens_24h=tokens,
            cost_24h=cost,
            last_flip=last_stored_status(self._flips.get(agent_id, [])),
        )

    def strip(self, agent_id: str, schedule: Schedule, now: float, count: int = 12) -> list[SlotMark]:
        """The last `count` slots up to now, oldest first, with their outcomes."""
        hist = self._hist.get(agent_id) or _History()
        if schedule.created_at is None and not len(hist.at):
            return []  # never seen and not registered: no slot was expected of it yet
        last = prev_slot(schedule, now)
        if last is None:
            return []
        start = max(now - DAY_MS, last - count * 4 * 3_600_000)
        slots = match_slots(schedule, hist.runs(), start, now + 1, now)
        return [SlotMark(s.at, s.outcome) for s in slots[-count:]]


def seed_book(store, agent_ids: Sequence[str], now: float) -> HealthBook:
    """Load eight days of beats and all flips: one call per agent plus one (at start only)."""
    book = HealthBook()
    for agent_id in agent_ids:
        book.add_beats(store.list_heartbeats(agent_id, since=now - KEEP_MS, until=now + 60_000, limit=20_000))
    book.add_flips(store.list_flips(since=0.0, limit=100_000))
    return book

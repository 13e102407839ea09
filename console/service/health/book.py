"""HealthBook: the console's compact memory of each agent's recent beats, and its health now.

The screens need each agent's status, slot strip and 24 h / 7 d uptime at every moment, for up to
a thousand agents, without a store call per agent per refresh. The book keeps eight days of beats
per agent in flat arrays (about 25 bytes a beat: 7 days of a 15-minute heartbeat for 1,000 agents
is under 20 MB), is loaded at start in one store call (`Store.history`: every agent's runs,
compact), then fed the poller's deltas and pruned to eight days; evaluation is the pure engine of
heartbeats.py. Times are kept in whole ms (as the compact history keeps them), so a beat seen both
in the history and in a poll is one run. No Textual here.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from console.config import AgentSettings
from console.service.health.slots import Run, Schedule, match_slots, prev_slot, status_at, uptime_24h_7d
from console.service.models import Agent, AgentRuns, Flip, Heartbeat
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
        at = float(round(b.at))
        if at != b.at:
            b = replace(b, at=at)
        if not self._insert(at, b.outcome == "ok", b.tokens, b.cost_usd, b.error):
            return False
        if self.last is None or at >= self.last.at:
            self.last = b
        return True

    def _insert(self, at: float, ok: bool, tokens: float | None, cost: float | None, error: str | None) -> bool:
        i = bisect.bisect_left(self.at, at)
        flag = 1 if ok else 0
        j = i
        while j < len(self.at) and self.at[j] == at:  # the same run seen twice (history + poll)
            if self.ok[j] == flag:
                return False
            j += 1
        self.at.insert(i, at)
        self.ok.insert(i, flag)
        self.tokens.insert(i, tokens or 0.0)
        self.cost.insert(i, cost or 0.0)
        if not ok:
            self.errors[at] = error or "error"
        return True

    def add_runs(self, runs: AgentRuns) -> None:
        """An agent's compact history: the newest failed run carries `last_error`, the newest run
        becomes `last` (a Heartbeat of what the history keeps). Into an empty history the arrays of
        `runs` are taken over (the book changes them from then on)."""
        newest_failed = next((runs.at[i] for i in range(len(runs.ok) - 1, -1, -1) if not runs.ok[i]), None)
        if not len(self.at):  # the usual case at start: the history's arrays are taken over, not copied
            self.at, self.tokens, self.cost = runs.at, runs.tokens, runs.cost
            self.ok = bytearray(runs.ok)
            for t, ok in zip(runs.at, runs.ok):
                if not ok:
                    self.errors[t] = "error"
        else:
            for t, ok, tok, cost in zip(runs.at, runs.ok, runs.tokens, runs.cost):
                self._insert(t, ok, tok, cost, None)
        if newest_failed is not None and runs.last_error:
            self.errors[newest_failed] = runs.last_error
        if runs.at and (self.last is None or runs.at[-1] >= self.last.at):
            i = len(runs.at) - 1
            ok = runs.ok[i]
            self.last = Heartbeat(id="", agent_id=runs.agent_id, at=runs.at[i], outcome="ok" if ok else "error",
                                  source="", run_id="", error=None if ok else self.errors.get(runs.at[i]),
                                  tokens=runs.tokens[i], cost_usd=runs.cost[i])

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
        self._flip_ids: set[str] = set()

    def agent_ids(self) -> list[str]:
        return list(self._hist)

    def add_beats(self, beats: Iterable[Heartbeat]) -> set[str]:
        """Add beats (any order, repeats ignored); returns the agents whose history changed."""
        touched: set[str] = set()
        for b in beats:
            if self._hist.setdefault(b.agent_id, _History()).add(b):
                touched.add(b.agent_id)
        return touched

    def add_history(self, runs: Iterable[AgentRuns]) -> None:
        for r in runs:
            self._hist.setdefault(r.agent_id, _History()).add_runs(r)

    def add_flips(self, flips: Iterable[Flip]) -> set[str]:
        touched: set[str] = set()
        for f in flips:
            if f.id not in self._flip_ids:
                self._flip_ids.add(f.id)
                self._flips.setdefault(f.agent_id, []).append(f)
                touched.add(f.agent_id)
        return touched

    def prune(self, now: float) -> None:
        for h in self._hist.values():
            h.prune(now - KEEP_MS)

    def runs(self, agent_id: str) -> list[Run]:
        """The agent's runs the book holds (eight days), oldest first."""
        hist = self._hist.get(agent_id)
        return hist.runs() if hist else []

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
    """Eight days of every agent's runs and all flips, in one store call whatever the number of
    agents (`Store.history`). `agent_ids` are the agents the screens show (all come anyway)."""
    book = HealthBook()
    history = store.history(now - KEEP_MS, now + 60_000)
    book.add_history(history.runs)
    book.add_flips(history.flips)
    return book

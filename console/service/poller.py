"""The poller: one `snapshot` call per poll, per-table high-water marks, an adaptive interval.

No Textual here. The TUI runs `poll_once()` in a worker (through watch.Watch) and schedules the
next poll with the returned delay only after this one ended, so polls never overlap.

- Fast (`interval`) while changes arrive; after a change-free poll the interval doubles up to
  `idle_interval`; `hasMore` polls again at once. Heartbeats alone are the squad's routine (one
  per agent per slot), not a burst of activity: they do not bring the fast interval back (on
  Convex every poll is a billed call: docs/cost.md).
- While failing: exponential backoff with jitter from `interval` up to `max_backoff`, honouring
  a Retry-After the store reported; the last good data is kept and reported with its age.
- It reports the last success time and the last error (a StoreError with its cause in words).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from console.service.models import Activity, Agent, Feed, Flip, Heartbeat, Marks, Message, Opportunity, Snapshot, Task
from console.service.store import DEFAULT_SNAPSHOT_LIMIT, Store, StoreError, StoreUnavailable


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll brought: new data (or an error) and when to poll next."""

    snapshot: Snapshot | None
    error: StoreError | None
    next_delay: float
    duration: float  # seconds the call took

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SquadState:
    """The client's merged view: whole tables replaced when they come, append tables kept as a
    bounded tail (the screens ask the store for long history, not this)."""

    agents: dict[str, Agent] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    feeds: dict[str, Feed] = field(default_factory=dict)
    opportunities: dict[str, Opportunity] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    heartbeats: list[Heartbeat] = field(default_factory=list)
    flips: list[Flip] = field(default_factory=list)
    keep: int = 2000

    def apply(self, snap: Snapshot) -> None:
        if snap.agents is not None:
            self.agents = {a.id: a for a in snap.agents}
        if snap.tasks is not None:
            self.tasks = {t.id: t for t in snap.tasks}
        if snap.feeds is not None:
            self.feeds = {f.id: f for f in snap.feeds}
        if snap.opportunities is not None:
            self.opportunities = {o.id: o for o in snap.opportunities}
        for name in ("messages", "activities", "heartbeats", "flips"):
            rows = getattr(snap, name)
            if rows:
                current: list = getattr(self, name)
                current.extend(rows)
                if len(current) > self.keep:
                    del current[: len(current) - self.keep]


class Poller:
    def __init__(
        self,
        store: Store,
        *,
        interval: float = 5.0,
        idle_interval: float = 30.0,
        max_backoff: float = 120.0,
        limit: int = DEFAULT_SNAPSHOT_LIMIT,
        clock: Callable[[], float] = time.time,
        rng: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if interval <= 0 or idle_interval < interval:
            raise ValueError("need 0 < interval <= idle_interval")
        self.store = store
        self.interval = interval
        self.idle_interval = idle_interval
        self.max_backoff = max(max_backoff, interval)
        self.limit = limit
        self._clock = clock
        self._rng = rng
        self.marks: Marks = {}
        self.state = SquadState()
        self.current_interval = interval
        self.last_success: float | None = None
        self.last_error: StoreError | None = None
        self.last_error_at: float | None = None
        self.failures = 0
        self.polls = 0

    def age(self) -> float | None:
        """Seconds since the last good poll, or None before the first."""
        return None if self.last_success is None else max(0.0, self._clock() - self.last_success)

    @property
    def stale(self) -> bool:
        return self.last_error is not None

    def poll_once(self) -> PollResult:
        """Exactly one store call. Never raises a StoreError: it is reported in the result."""
        started = time.perf_counter()
        self.polls += 1
        try:
            snap = self.store.snapshot(self.marks, self.limit)
        except StoreError as exc:
            return self.fail(exc, time.perf_counter() - started)
        duration = time.perf_counter() - started
        self.marks = dict(snap.marks)
        self.state.apply(snap)
        self.last_success = self._clock()
        self.last_error = None
        self.failures = 0
        if snap.has_more:
            delay = 0.0
        elif not snap.is_empty() and not _routine(snap):
            self.current_interval = self.interval
            delay = self.interval
        else:
            self.current_interval = min(self.idle_interval, self.current_interval * 2)
            delay = self.current_interval
        return PollResult(snap, None, delay, duration)

    def fail(self, exc: StoreError, duration: float = 0.0) -> PollResult:
        """Record a failed poll (also used when work that follows a snapshot fails)."""
        self.failures += 1
        self.last_error = exc
        self.last_error_at = self._clock()
        return PollResult(None, exc, self._backoff(exc), duration)

    def _backoff(self, exc: StoreError) -> float:
        ceiling = min(self.max_backoff, self.interval * 2 ** min(self.failures, 16))
        delay = self._rng(ceiling / 2, ceiling)
        retry_after = exc.retry_after if isinstance(exc, StoreUnavailable) else None
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff))
        return delay


def _routine(snap: Snapshot) -> bool:
    """Only heartbeats came: the squad beating as scheduled."""
    return (snap.agents is None and snap.tasks is None and snap.feeds is None and snap.opportunities is None
            and not (snap.messages or snap.activities or snap.flips))

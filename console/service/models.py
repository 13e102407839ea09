"""Plain records that cross the store contract. No I/O, no Textual.

Ids are opaque strings chosen by the store (Convex document ids, or the SQLite store's own).
In Mission Control's tables (`agents`, `tasks`, `messages`, `activities`) agent and task
references are such document ids; in the console's tables (`heartbeats`, `flips`) `agent_id` is
the OpenClaw id (`veda`). Times are milliseconds since the epoch (floats, as Convex has them).
"""

from __future__ import annotations

import dataclasses
from array import array
from dataclasses import dataclass, field
from typing import Any

AGENT_STATUSES = ("idle", "active", "blocked")
TASK_STATUSES = ("inbox", "assigned", "in_progress", "review", "done", "blocked")
HEARTBEAT_OUTCOMES = ("ok", "error")
OPERATOR = "operator"


def agent_id_from_session_key(session_key: str | None) -> str | None:
    """`agent:veda:main` -> `veda` (Mission Control's agents carry only the session key)."""
    if not session_key:
        return None
    parts = session_key.split(":")
    if len(parts) >= 2 and parts[0] == "agent" and parts[1]:
        return parts[1]
    return None


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """What the console knows of an agent from squad.toml or openclaw.json: input to upsert."""

    agent_id: str
    name: str
    role: str = ""
    status: str | None = None
    level: str | None = None
    workspace: str | None = None
    heartbeat: str | None = None
    tz: str | None = None
    grace_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    agent_id: str
    name: str
    role: str
    status: str
    session_key: str
    current_task_id: str | None = None
    level: str | None = None
    workspace: str | None = None
    heartbeat: str | None = None
    tz: str | None = None
    grace_seconds: float | None = None
    updated_at: float | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    title: str
    description: str
    status: str
    assignee_ids: tuple[str, ...] = ()
    updated_at: float | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    task_id: str
    from_agent_id: str
    content: str
    attachments: tuple[str, ...] = ()
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Activity:
    id: str
    type: str
    message: str
    agent_id: str | None = None
    actor: str | None = None
    target_id: str | None = None
    detail: dict[str, Any] | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class HeartbeatIn:
    """A heartbeat to record. `run_id` makes it idempotent; the store derives one if absent."""

    agent_id: str
    at: float
    outcome: str = "ok"
    source: str = "push"
    run_id: str | None = None
    duration_ms: float | None = None
    error: str | None = None
    delivery: str | None = None
    model: str | None = None
    tokens: float | None = None
    cost_usd: float | None = None

    def effective_run_id(self) -> str:
        return self.run_id or f"{self.source}:{self.agent_id}:{int(self.at)}"


@dataclass(frozen=True, slots=True)
class Heartbeat:
    id: str
    agent_id: str
    at: float
    outcome: str
    source: str
    run_id: str
    duration_ms: float | None = None
    error: str | None = None
    delivery: str | None = None
    model: str | None = None
    tokens: float | None = None
    cost_usd: float | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Flip:
    id: str
    agent_id: str
    at: float
    from_status: str
    to_status: str
    reason: str | None = None
    created_at: float = 0.0


Marks = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AgentRuns:
    """One agent's runs, compact (what the health book needs of its history): flat arrays by `at`
    ascending, `at` in whole ms, `ok` one byte a run (1 ok, 0 failed), tokens rounded to a whole
    number and cost to a micro-dollar (0 when the run had none). `last_error` is the error of the
    newest failed run. About 25 bytes a run: eight days of 1,000 agents is under 20 MB."""

    agent_id: str
    at: array = field(default_factory=lambda: array("d"))
    ok: bytes = b""
    tokens: array = field(default_factory=lambda: array("d"))
    cost: array = field(default_factory=lambda: array("d"))
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class History:
    """Every agent's runs over a span, and every flip (by `at`): the health book's start."""

    runs: tuple[AgentRuns, ...] = ()
    flips: tuple[Flip, ...] = ()


class RunsBuilder:
    """Builds an AgentRuns run by run, rounding as both stores round (in any order; sorted at the end)."""

    __slots__ = ("agent_id", "at", "ok", "tokens", "cost", "last_error", "_last_failed", "_sorted")

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.at, self.tokens, self.cost = array("d"), array("d"), array("d")
        self.ok = bytearray()
        self.last_error: str | None = None
        self._last_failed = float("-inf")
        self._sorted = True

    def add(self, at: float, ok: bool, tokens: float | None, cost: float | None, error: str | None) -> None:
        at = float(round(at))
        if self.at and at < self.at[-1]:
            self._sorted = False
        self.at.append(at)
        self.ok.append(1 if ok else 0)
        self.tokens.append(float(round(tokens)) if tokens else 0.0)
        self.cost.append(round(cost * 1e6) / 1e6 if cost else 0.0)
        if not ok and at >= self._last_failed:
            self._last_failed = at
            self.last_error = (error or "error")[:500]

    def build(self) -> AgentRuns:
        at, ok, tokens, cost = self.at, bytes(self.ok), self.tokens, self.cost
        if not self._sorted:
            order = sorted(range(len(at)), key=at.__getitem__)
            at = array("d", (at[i] for i in order))
            ok = bytes(ok[i] for i in order)
            tokens = array("d", (tokens[i] for i in order))
            cost = array("d", (cost[i] for i in order))
        return AgentRuns(self.agent_id, at, ok, tokens, cost, self.last_error)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One poll's answer. `agents`/`tasks`/`feeds`/`opportunities` are None when unchanged since
    the caller's marks."""

    agents: tuple[Agent, ...] | None
    tasks: tuple[Task, ...] | None
    messages: tuple[Message, ...] = ()
    activities: tuple[Activity, ...] = ()
    heartbeats: tuple[Heartbeat, ...] = ()
    flips: tuple[Flip, ...] = ()
    marks: Marks = field(default_factory=dict)
    has_more: bool = False
    server_time: float = 0.0
    feeds: tuple[Feed, ...] | None = None
    opportunities: tuple[Opportunity, ...] | None = None

    def is_empty(self) -> bool:
        return (
            self.agents is None
            and self.tasks is None
            and self.feeds is None
            and self.opportunities is None
            and not (self.messages or self.activities or self.heartbeats or self.flips)
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ------------------------------------------------------------------ the pipeline (DESIGN §8)
OPPORTUNITY_STAGES = ("analysis", "validation", "decision", "go", "no_go", "more_data")
VERDICTS = ("go", "no_go", "more_data")
FEED_OUTCOMES = ("ok", "not_modified", "degraded", "failed")


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed's fetch state after one fetch: every field is written as given (None clears it)."""

    etag: str | None = None
    last_modified: str | None = None
    last_fetched_at: float | None = None
    last_status: int | None = None  # the HTTP status, None when no answer came
    error_count: int = 0
    next_fetch_at: float | None = None
    outcome: str | None = None  # one of FEED_OUTCOMES
    health: str | None = None  # the outcome in words, e.g. "failed: too large (over 5 MiB)"


@dataclass(frozen=True, slots=True)
class Feed:
    id: str
    url: str
    competitor: str
    etag: str | None = None
    last_modified: str | None = None
    last_fetched_at: float | None = None
    last_status: int | None = None
    error_count: int = 0
    next_fetch_at: float | None = None
    outcome: str | None = None
    health: str | None = None
    created_at: float = 0.0

    def state(self) -> FeedState:
        return FeedState(self.etag, self.last_modified, self.last_fetched_at, self.last_status,
                         self.error_count, self.next_fetch_at, self.outcome, self.health)


@dataclass(frozen=True, slots=True)
class SignalIn:
    """One feed entry to upsert; (feed_url, entry_key) is its identity."""

    feed_url: str
    entry_key: str
    title: str
    competitor: str
    link: str | None = None
    published_at: float | None = None
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    id: str
    feed_url: str
    entry_key: str
    title: str
    competitor: str
    link: str | None = None
    published_at: float | None = None
    summary: str | None = None
    created_at: float = 0.0

    def when(self) -> float:
        """Its event time: published, else first seen."""
        return self.published_at if self.published_at is not None else self.created_at


@dataclass(frozen=True, slots=True)
class FetchRecorded:
    """What `record_fetch` wrote: the feed's new state and how many signals were new or changed."""

    feed: Feed
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class Opportunity:
    """`analysis`, `survey` and `decision` are JSON objects written by console/service/pipeline/__init__.py
    (their shapes are documented there); the store keeps them as they are."""

    id: str
    title: str
    stage: str
    description: str = ""
    market_score: float | None = None
    analysis: dict[str, Any] | None = None
    survey: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    updated_at: float | None = None
    created_at: float = 0.0

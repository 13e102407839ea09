"""The store contract: one Protocol, kept by LocalStore (SQLite) and ConvexStore (Convex).

See docs/store-contract.md for the tables, the activity each operation writes and the
semantics of `snapshot`. Every error a store raises is a StoreError with a message in words and
a hint saying what to do next; none of them ever carries a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from console.errors import ConsoleError
from console.service.models import (
    OPERATOR,
    Activity,
    Agent,
    AgentSpec,
    Feed,
    FeedState,
    FetchRecorded,
    Flip,
    Heartbeat,
    HeartbeatIn,
    History,
    Marks,
    Message,
    Opportunity,
    Signal,
    SignalIn,
    Snapshot,
    Task,
)

DEFAULT_SNAPSHOT_LIMIT = 500


class StoreError(ConsoleError):
    """Base of every store failure. `str(err)` is the cause in words; `hint` the next step."""

    kind = "store"


class StoreUnavailable(StoreError):
    """The store could not be reached or did not answer usefully (network, timeout, 5xx, 429,
    a locked or unreadable SQLite file). Worth retrying later; `retry_after` is in seconds."""

    kind = "unavailable"

    def __init__(self, message: str, *, hint: str | None = None, retry_after: float | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class StoreAuthError(StoreError):
    """The store refused who we are: no deploy key, a wrong or revoked one, missing rights."""

    kind = "auth"


class StoreFunctionError(StoreError):
    """The call reached the store and the operation itself failed (a Convex function threw, a
    value was refused). `data` is the structured error data when there is any."""

    kind = "function"

    def __init__(self, message: str, *, hint: str | None = None, data: Any = None):
        super().__init__(message, hint=hint, data=data)


class NotFoundError(StoreFunctionError):
    """The record named does not exist."""

    kind = "not_found"


def check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    """A value among `choices`, else the contract's StoreFunctionError (data code `BadValue`). Both
    stores check before writing (ConvexStore before calling, so its error is this one too)."""
    if value not in choices:
        raise StoreFunctionError(
            f"{what} {value!r} is not one of {', '.join(choices)}",
            data={"code": "BadValue", "field": what},
        )


@dataclass(frozen=True, slots=True)
class VaultRow:
    """One version of a vault entry as the store keeps it: ciphertext only (docs/VAULT.md).
    `record` is None in listings (`vault_list` never ships record bodies)."""

    id: str
    name: str
    version: int
    kid: str
    created_at: float
    deleted: bool = False
    record: str | None = None


@runtime_checkable
class Store(Protocol):
    """The contract. Both stores are synchronous; the UI calls them from worker threads."""

    def describe(self) -> str:
        """Where the data lives, for the header: a path or a host, never a secret."""
        ...

    def close(self) -> None: ...

    # agents
    def upsert_agent(self, spec: AgentSpec, *, actor: str = OPERATOR) -> tuple[Agent, bool, bool]:
        """Register or update an agent by its OpenClaw id; returns (agent, created, changed)."""
        ...

    def list_agents(self) -> list[Agent]: ...

    # tasks
    def create_task(
        self,
        title: str,
        description: str = "",
        *,
        status: str = "inbox",
        assignee_ids: tuple[str, ...] | list[str] = (),
        actor: str = OPERATOR,
    ) -> Task: ...

    def update_task(
        self,
        task_id: str,
        *,
        status: str | None = None,
        assignee_ids: tuple[str, ...] | list[str] | None = None,
        title: str | None = None,
        description: str | None = None,
        actor: str = OPERATOR,
    ) -> Task: ...

    def remove_task(self, task_id: str, *, actor: str = OPERATOR) -> Task:
        """Takes the task off the board and returns it as it was; `task_removed` activity. Its
        messages stay. NotFoundError when there is no such task."""
        ...

    def list_tasks(self) -> list[Task]: ...

    # messages and the audit log
    def send_message(
        self, task_id: str, from_agent_id: str, content: str, *, actor: str = OPERATOR
    ) -> Message: ...

    def log_activity(
        self,
        type: str,
        message: str,
        *,
        agent_id: str | None = None,
        actor: str = OPERATOR,
        target_id: str | None = None,
        detail: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> Activity:
        """`key` makes it idempotent: the same key logged twice is one activity."""
        ...

    def list_activities(self, limit: int = 100, before: float | None = None) -> list[Activity]:
        """Newest first; `before` is an exclusive creation time."""
        ...

    # heartbeats
    def record_heartbeat(self, beat: HeartbeatIn, *, actor: str | None = None) -> tuple[Heartbeat, bool]:
        """Idempotent by run id: returns (row, created)."""
        ...

    def list_heartbeats(
        self,
        agent_id: str | None = None,
        *,
        since: float = 0.0,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[Heartbeat]:
        """By event time `at`, ascending."""
        ...

    def record_flip(
        self,
        agent_id: str,
        at: float,
        from_status: str,
        to_status: str,
        reason: str | None = None,
        *,
        actor: str = OPERATOR,
    ) -> Flip: ...

    def list_flips(
        self,
        agent_id: str | None = None,
        *,
        since: float = 0.0,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[Flip]:
        """By their (backdated) time `at`, ascending."""
        ...

    # one poll (one call on SQLite, two on Convex: docs/cost.md)
    def snapshot(self, since: Marks | None = None, limit: int = DEFAULT_SNAPSHOT_LIMIT) -> Snapshot: ...

    def history(self, since: float, until: float) -> History:
        """Every agent's runs with `since <= at < until` (ms), compact, and every flip: what the
        health book starts from, in one call whatever the number of agents (Convex: one bounded page
        of the compact day documents, more pages only past ~8 MB)."""
        ...

    # the vault table: ciphertext records only (docs/VAULT.md); each write is audited without
    # any secret (name, version, kid)
    def vault_put(
        self,
        name: str,
        version: int,
        record: str,
        kid: str,
        *,
        expected_version: int | None = None,
        actor: str = OPERATOR,
    ) -> VaultRow:
        """Store one version. `version` must be above every stored version of `name`; with
        `expected_version` the latest stored version (0: none) must also equal it, else a
        StoreFunctionError with data code `Conflict`. Writing the same (name, version, record)
        again returns the stored row and writes nothing (a retried replication)."""
        ...

    def vault_list(self) -> list[VaultRow]:
        """Every stored version (deleted ones too), without record bodies, by name then version."""
        ...

    def vault_get(self, name: str, version: int | None = None) -> VaultRow:
        """One version with its record: the latest not deleted one when `version` is None."""
        ...

    def vault_remove(self, name: str, *, actor: str = OPERATOR) -> int:
        """Soft-deletes every version of `name`; returns how many were marked. NotFoundError if
        the store has none."""
        ...

    # the pipeline (DESIGN §8): feeds, the signals read from them, opportunities. Each change
    # writes its activity in the same transaction/mutation.
    def add_feed(self, url: str, competitor: str, *, actor: str = OPERATOR) -> Feed:
        """A new feed (activity `feed_added`); a URL already added is a StoreFunctionError with
        data code `Conflict`."""
        ...

    def list_feeds(self) -> list[Feed]:
        """Every feed, in the order they were added."""
        ...

    def remove_feed(self, url: str, *, actor: str = OPERATOR) -> Feed:
        """Removes the feed (activity `feed_removed`) and returns it; its signals stay (decisions
        cite them). NotFoundError if there is no such feed."""
        ...

    def record_fetch(
        self, url: str, state: FeedState, signals: Sequence[SignalIn] = (), *, actor: str = "service"
    ) -> FetchRecorded:
        """One fetch's result in one write: the feed's state (every field as given) and its
        signals, upserted by (feed_url, entry_key): an entry seen before is not added again
        (its title, link, summary and time are refreshed if they changed). One `signals_ingested`
        activity when any signal is new or changed (not one per signal); `feed_failed` when the
        outcome turns to failed, `feed_recovered` when a failed feed answers again."""
        ...

    def list_signals(
        self, *, feed_url: str | None = None, competitor: str | None = None, limit: int = 1000
    ) -> list[Signal]:
        """The latest `limit` signals (of one feed or competitor), oldest first."""
        ...

    def create_opportunity(self, title: str, description: str = "", *, actor: str = OPERATOR) -> Opportunity:
        """Stage `analysis`; activity `opportunity_created`."""
        ...

    def list_opportunities(self) -> list[Opportunity]:
        """Oldest first."""
        ...

    def get_opportunity(self, opportunity_id: str) -> Opportunity: ...

    def move_opportunity(self, opportunity_id: str, stage: str, *, actor: str = OPERATOR) -> Opportunity:
        """Activity `opportunity_moved`; the same stage again writes nothing."""
        ...

    def record_analysis(
        self, opportunity_id: str, market_score: float, analysis: dict[str, Any], *, actor: str = OPERATOR
    ) -> Opportunity:
        """The market score and the analysis behind it (activity `market_analysed`)."""
        ...

    def record_survey(
        self,
        opportunity_id: str,
        survey: dict[str, Any],
        *,
        expected_respondents: int | None = None,
        actor: str = OPERATOR,
    ) -> Opportunity:
        """Replaces the survey (responses and scores; activity `survey_recorded`). With
        `expected_respondents`, the stored survey must hold that many responses (0: none), else a
        StoreFunctionError with data code `Conflict` (another writer added responses meanwhile)."""
        ...

    def record_decision(self, opportunity_id: str, decision: dict[str, Any], *, actor: str = OPERATOR) -> Opportunity:
        """Stores the decision and moves the opportunity to its verdict's stage. Activity
        `decision_made`, or `decision_overridden` when `decision["override"]` is set, which needs a
        non-empty `reason` (else a StoreFunctionError with data code `BadValue`, nothing written)."""
        ...

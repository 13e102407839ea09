"""The poller: one store call per poll, marks, adaptive interval, backoff, last success/error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from console.service.store.sqlite import LocalStore
from console.service.models import AgentSpec, HeartbeatIn
from console.service.poller import Poller
from console.service.store import StoreAuthError, StoreUnavailable


class Counting:
    """Wraps a store and counts every call made through it."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls: list[str] = []
        self.fail_with: Exception | None = None

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if self.fail_with is not None:
                raise self.fail_with
            return attr(*args, **kwargs)

        return call


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "squad.db")


def test_one_call_per_poll_whatever_the_number_of_agents(store: LocalStore) -> None:
    for i in range(1000):
        store.upsert_agent(AgentSpec(f"agent-{i}", f"Agent {i}"))
    counting = Counting(store)
    poller = Poller(counting, interval=1, idle_interval=8)
    first = poller.poll_once()
    assert counting.calls == ["snapshot"]
    assert len(poller.state.agents) == 1000 and not first.snapshot.is_empty()
    for _ in range(5):
        poller.poll_once()
    assert counting.calls == ["snapshot"] * 6


def test_marks_advance_and_state_merges(store: LocalStore) -> None:
    poller = Poller(store, interval=1, idle_interval=8)
    store.upsert_agent(AgentSpec("veda", "VEDA"))
    poller.poll_once()
    store.record_heartbeat(HeartbeatIn("veda", 1.0, run_id="a"))
    store.record_heartbeat(HeartbeatIn("veda", 2.0, run_id="b"))
    r = poller.poll_once()
    assert [h.run_id for h in r.snapshot.heartbeats] == ["a", "b"] and r.snapshot.agents is None
    assert [h.run_id for h in poller.state.heartbeats] == ["a", "b"]
    assert list(poller.state.agents.values())[0].agent_id == "veda"  # kept from the first poll
    assert poller.poll_once().snapshot.is_empty()


def test_interval_adapts(store: LocalStore) -> None:
    poller = Poller(store, interval=2, idle_interval=16)
    store.create_task("t")
    delays = [poller.poll_once().next_delay]  # changes: fast
    delays += [poller.poll_once().next_delay for _ in range(4)]  # quiet: slower, up to idle
    store.create_task("u")
    delays.append(poller.poll_once().next_delay)  # a change: fast again
    assert delays == [2, 4, 8, 16, 16, 2]


def test_has_more_polls_again_at_once(store: LocalStore) -> None:
    poller = Poller(store, interval=2, idle_interval=16, limit=5)
    poller.poll_once()
    for i in range(12):
        store.log_activity("note", str(i))
    delays = []
    while True:
        r = poller.poll_once()
        delays.append(r.next_delay)
        if r.next_delay:
            break
    assert delays == [0, 0, 2]
    assert [a.message for a in poller.state.activities] == [str(i) for i in range(12)]


def test_failures_back_off_keep_data_and_recover(store: LocalStore) -> None:
    clock = Clock()
    counting = Counting(store)
    poller = Poller(counting, interval=2, idle_interval=16, max_backoff=60, clock=clock, rng=lambda lo, hi: hi)
    store.upsert_agent(AgentSpec("veda", "VEDA"))
    poller.poll_once()
    assert poller.last_success == 1_000 and not poller.stale

    counting.fail_with = StoreUnavailable("cannot connect to Convex at https://x: connection refused")
    delays = []
    for _ in range(7):
        clock.now += 10
        r = poller.poll_once()
        assert not r.ok and r.snapshot is None
        delays.append(r.next_delay)
    assert delays == [4, 8, 16, 32, 60, 60, 60]
    assert poller.stale and "connection refused" in str(poller.last_error)
    assert poller.age() == 70 and len(poller.state.agents) == 1  # the last good data is kept

    counting.fail_with = StoreUnavailable("429", retry_after=45)
    assert poller.poll_once().next_delay == 60  # max(backoff, retry-after)
    counting.fail_with = StoreUnavailable("429", retry_after=500)
    assert poller.poll_once().next_delay == 60  # capped

    counting.fail_with = None
    clock.now += 5
    r = poller.poll_once()
    assert r.ok and not poller.stale and poller.failures == 0 and poller.last_success == clock.now


def test_auth_errors_are_reported_not_raised(store: LocalStore) -> None:
    counting = Counting(store)
    counting.fail_with = StoreAuthError("Convex at https://x refused the deploy key (403 BadDeployKey: ...)")
    r = Poller(counting, interval=1, idle_interval=2).poll_once()
    assert isinstance(r.error, StoreAuthError) and r.next_delay > 0


def test_bad_intervals_are_refused(store: LocalStore) -> None:
    with pytest.raises(ValueError):
        Poller(store, interval=10, idle_interval=5)

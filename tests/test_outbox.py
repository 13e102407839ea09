"""The outbox: beats recorded while the store is away are delivered once when it is back."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.service.store.convex import ConvexStore
from console.service.store.sqlite import LocalStore
from console.service.models import HeartbeatIn
from console.service.store.outbox import Outbox, record_beat
from console.service.store import StoreAuthError, StoreUnavailable
from tests.conftest import ADMIN_KEY, ConvexTestServer

T0 = 1_763_600_000_000.0


def beats(n: int, agent: str = "veda") -> list[HeartbeatIn]:
    return [HeartbeatIn(agent, T0 + i * 900_000, source="openclaw", run_id=f"openclaw:job-{agent}:{i}") for i in range(n)]


def test_a_thousand_beats_survive_a_stopped_store(tmp_path: Path) -> None:
    """A real loopback store server (the project's Convex functions under convex-test), stopped
    while 1,000 beats are recorded, then started again: the store holds exactly 1,000."""
    server = ConvexTestServer()
    port = server.port
    server.stop()  # the store goes away
    store = ConvexStore(f"http://127.0.0.1:{port}", ADMIN_KEY, max_retries=0, timeout=2)
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        outcomes = [record_beat(store, outbox, b) for b in beats(1000)]
        assert outcomes == ["queued"] * 1000
        # the same runs reported again while down (a collector re-reading OpenClaw's history)
        assert [record_beat(store, outbox, b) for b in beats(10)] == ["queued"] * 10
        assert outbox.pending() == 1000
        waiting = outbox.flush(store)
        assert waiting.delivered == 0 and isinstance(waiting.error, StoreUnavailable)
        assert outbox.pending() == 1000  # nothing lost by a failed flush

        back = ConvexTestServer(port=port)  # the store is back, on the same address
        try:
            done = outbox.flush(store)
            assert (done.delivered, done.remaining, done.dead, done.error) == (1000, 0, 0, None)
            again = outbox.flush(store)
            assert again.delivered == 0
            stored = store.list_heartbeats("veda", limit=5000)
            assert len(stored) == 1000 and len({h.run_id for h in stored}) == 1000
            # a run reported once more after delivery is not sent again...
            assert all(outbox.was_sent(b.effective_run_id()) for b in beats(1000))
            # ...and if it were, the store would still hold one row for it
            assert record_beat(store, outbox, beats(1)[0]) == "duplicate"
            assert len(store.list_heartbeats("veda", limit=5000)) == 1000
        finally:
            back.stop()
    finally:
        outbox.close()
        store.close()


def test_delivery_resumes_where_it_stopped(tmp_path: Path) -> None:
    """A flush interrupted by the store failing half-way delivers the rest later, doubling none."""
    store = LocalStore(tmp_path / "squad.db")
    outbox = Outbox(tmp_path / "outbox.db")
    for b in beats(10):
        outbox.put_heartbeat(b)

    class FlakyStore:
        def __init__(self, inner, fail_after: int) -> None:
            self.inner, self.left = inner, fail_after

        def record_heartbeat(self, beat, **kw):
            if self.left == 0:
                raise StoreUnavailable("cannot connect to Convex at http://x: connection refused")
            self.left -= 1
            return self.inner.record_heartbeat(beat, **kw)

    first = outbox.flush(FlakyStore(store, 4))
    assert (first.delivered, first.remaining) == (4, 6)
    second = outbox.flush(store)
    assert (second.delivered, second.remaining) == (6, 0)
    assert [h.run_id for h in store.list_heartbeats("veda")] == [b.run_id for b in beats(10)]


def test_a_refused_item_is_set_aside_not_blocking(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "squad.db")
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put_heartbeat(HeartbeatIn("veda", T0, outcome="exploded", run_id="bad"))
    outbox.put_heartbeat(HeartbeatIn("veda", T0 + 1, run_id="good"))
    outbox.put_activity("gateway_down", "gateway http://127.0.0.1:18789 is unreachable", actor="service")
    result = outbox.flush(store)
    assert (result.delivered, result.dead, result.remaining) == (2, 1, 0)
    assert [d["payload"]["run_id"] for d in outbox.dead_items()] == ["bad"]
    assert "exploded" in outbox.dead_items()[0]["error"]
    assert [a.type for a in store.list_activities()] == ["gateway_down"]


def test_an_auth_error_is_raised_not_queued(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")

    class Refusing:
        def record_heartbeat(self, beat, **kw):
            raise StoreAuthError("Convex at https://x refused the deploy key (403 BadDeployKey: ...)")

    with pytest.raises(StoreAuthError):
        record_beat(Refusing(), outbox, beats(1)[0])
    assert outbox.pending() == 0


def test_state_survives_a_restart(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put_heartbeat(beats(1)[0])
    outbox.set("gateway_state", "down")
    outbox.close()
    again = Outbox(tmp_path / "outbox.db")
    assert again.pending() == 1 and again.get("gateway_state") == "down" and again.get("other", 7) == 7

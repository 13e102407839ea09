"""The fault proxy itself, and what each of its faults becomes in ConvexStore (one call each),
then the cases where a write was applied but the client never heard: the outbox doubles nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from console.service.store.convex import ConvexStore
from console.service.models import HeartbeatIn
from console.service.store.outbox import Outbox, record_beat
from console.service.store import StoreAuthError, StoreError, StoreFunctionError, StoreUnavailable
from tests.conftest import ADMIN_KEY
from tests.faults.conftest import SECRET, assert_no_secret
from tests.faults.proxy import FaultProxy

RECORD = "console/heartbeats:record"

# mode -> (error type, words the error says)
EXPECTED = {
    "refuse": (StoreUnavailable, "connection refused"),
    "hang": (StoreUnavailable, "did not answer within"),
    "500": (StoreUnavailable, "failed with 500 InternalServerError"),
    "503": (StoreUnavailable, "failed with 503 ServiceUnavailable"),
    "429": (StoreUnavailable, "rate-limiting"),
    "403": (StoreAuthError, "refused the deploy key (403 BadDeployKey"),
    "garbage": (StoreUnavailable, "not a Convex reply"),
    "error": (StoreFunctionError, "the deployment is overloaded"),
    "cut": (StoreUnavailable, "broke"),
    "hang_after": (StoreUnavailable, "did not answer within"),
}


def client(proxy: FaultProxy, **kw) -> ConvexStore:
    kw.setdefault("timeout", 0.3)
    kw.setdefault("max_retries", 0)
    kw.setdefault("sleep", lambda s: None)
    return ConvexStore(proxy.url, SECRET, **kw)


def direct(convex_server) -> ConvexStore:
    return ConvexStore(convex_server.url, ADMIN_KEY)


def test_healthy_proxies_the_real_functions(proxy: FaultProxy, convex_server) -> None:
    store = client(proxy)
    task = store.create_task("through the proxy")
    assert [t.id for t in direct(convex_server).list_tasks()] == [task.id]
    assert proxy.hits["healthy"] == 1 and proxy.bad_auth == 0
    # a wrong key is refused as the real deployment would
    with pytest.raises(StoreError):
        ConvexStore(proxy.url, "prod:other|key", max_retries=0).list_tasks()
    assert proxy.bad_auth == 1


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_each_fault_is_a_typed_error_in_words(proxy: FaultProxy, mode: str) -> None:
    store = client(proxy)
    proxy.set_mode(mode)
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.snapshot()
    kind, words = EXPECTED[mode]
    assert type(info.value) is kind and words in str(info.value), str(info.value)
    assert time.monotonic() - started < 2.0  # bounded by the client's own timeout
    assert_no_secret(f"{info.value} {info.value.hint} {info.value!r}", f"the {mode} error")
    proxy.set_mode("healthy")
    assert store.snapshot().marks  # and back


def test_a_query_rides_out_short_faults_by_retrying(proxy: FaultProxy) -> None:
    """A query is retried inside one call: 429 waits its Retry-After, then the proxy is healthy."""
    store = client(proxy, max_retries=3, sleep=time.sleep)
    proxy.set_mode("429")
    threading.Timer(0.5, proxy.set_mode, ("healthy",)).start()
    started = time.monotonic()
    assert store.list_tasks() == []
    assert 0.9 < time.monotonic() - started < 3.5  # waited Retry-After: 1 at least once
    assert proxy.hits["429"] >= 1


# ------------------------------------------ applied, but the client never heard (cut, timeout)
@pytest.mark.parametrize("mode", ["cut", "hang_after"])
def test_a_beat_applied_but_unacknowledged_is_queued_then_delivered_once(
    proxy: FaultProxy, convex_server, tmp_path: Path, mode: str
) -> None:
    store = client(proxy, max_retries=3)
    outbox = Outbox(tmp_path / "outbox.db")
    beat = HeartbeatIn("veda", time.time() * 1000, run_id=f"run-{mode}", outcome="error", error="delivery failed: 401")
    proxy.set_mode(mode, only={RECORD})
    assert record_beat(store, outbox, beat) == "queued"  # the client cannot know it was applied
    assert proxy.paths[RECORD] == 1  # and a mutation of unknown fate is never re-sent by the client
    real = direct(convex_server)
    assert [b.run_id for b in real.list_heartbeats()] == [beat.run_id]  # ... but it was
    assert outbox.pending() == 1 and outbox.was_sent(beat.run_id)

    # the outbox delivery is cut too: still one row, still pending
    result = outbox.flush(store)
    assert (result.delivered, result.remaining) == (0, 1) and isinstance(result.error, StoreUnavailable)
    proxy.set_mode("healthy")
    result = outbox.flush(store)
    assert (result.delivered, result.remaining, result.dead) == (1, 0, 0)
    beats = real.list_heartbeats()
    assert [b.run_id for b in beats] == [beat.run_id]  # idempotent by run id: one row, not three
    failed = [a for a in real.list_activities(100) if a.type == "heartbeat_failed"]
    assert len(failed) == 1  # and its activity once
    assert record_beat(store, outbox, beat) == "duplicate"
    outbox.close()


def test_an_audited_activity_applied_but_unacknowledged_is_not_doubled(
    proxy: FaultProxy, convex_server, tmp_path: Path
) -> None:
    from console.config import load_settings
    from console.service.daemon import Daemon

    (tmp_path / "squad.toml").write_text('[openclaw]\nstate_dir = "/nonexistent/openclaw"\n')
    store = client(proxy, max_retries=3)
    outbox = Outbox(tmp_path / "outbox.db")
    daemon = Daemon(load_settings(tmp_path / "squad.toml", env={}), store, outbox)
    proxy.set_mode("cut", only={"console/activities:log"})
    daemon._audit("gateway_down", "gateway http://127.0.0.1:18789 is unreachable")
    proxy.set_mode("healthy")
    daemon.flush()
    logged = [a for a in direct(convex_server).list_activities(100) if a.type == "gateway_down"]
    outbox.close()
    assert len(logged) == 1, f"{len(logged)} gateway_down activities for one event"

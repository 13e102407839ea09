"""The poll as the screens' only read path: the heartbeat book stays at eight days however long the
session, feeds and opportunities come with the snapshot and are kept like agents and tasks, the
vault view is read again only when the vault file changes, and a gateway that never answers never
delays a store poll."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

from console.app import SquadApp
from console.config import load_settings
from console.service.health.book import KEEP_MS
from console.service.health.squad import DAY_MS
from console.service.models import AgentSpec, Feed, HeartbeatIn, Opportunity, Snapshot
from console.service.poller import Poller
from console.service.store.sqlite import LocalStore
from console.service.vault import Vault, generate_key
from console.service.vault_view import VaultView
from console.service.watch import Watch

T0 = 1_764_000_000.0  # seconds
HOUR_MS = 3_600_000.0
BEAT_MS = 15 * 60_000.0

CONFIG = """
[openclaw]
state_dir = "/nonexistent/openclaw"
[[agents]]
id = "veda"
name = "VEDA"
heartbeat = "*/15 * * * *"
"""


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def settings_at(tmp_path: Path, extra: str = ""):
    (tmp_path / "squad.toml").write_text(CONFIG + extra)
    return load_settings(tmp_path / "squad.toml", env={})


def test_the_book_stays_at_eight_days_over_thirty(tmp_path: Path) -> None:
    clock = Clock(T0)
    store = LocalStore(tmp_path / "squad.db", clock=lambda: clock.t * 1000)
    store.upsert_agent(AgentSpec("veda", "VEDA", heartbeat="*/15 * * * *"))
    watch = Watch(settings_at(tmp_path), store, clock=clock, probe_openclaw=False)
    per_day = DAY_MS / BEAT_MS
    sizes: dict[int, int] = {}
    at = T0 * 1000
    for hour in range(1, 30 * 24 + 1):
        clock.t = T0 + hour * 3600
        while at + BEAT_MS <= clock.t * 1000:  # an agent beating every 15 minutes, on time
            at += BEAT_MS
            store.record_heartbeat(HeartbeatIn("veda", at, run_id=f"r{at:.0f}"))
        step = watch.step()
        assert step.poll.ok
        if hour % 24 == 0:
            sizes[hour // 24] = watch.book.beat_count()
    store.close()
    window = KEEP_MS / BEAT_MS  # the beats of eight days
    assert sizes[7] == 7 * per_day  # nothing pruned before the window is full
    after = [sizes[d] for d in range(9, 31)]
    assert max(after) - min(after) <= 60_000 / BEAT_MS + 4  # flat: pruned at most a minute late
    assert max(after) <= window + 4
    # and what the screens show from it is whole: a week of on-time beats is 100 % up
    health = step.view.health["veda"]
    assert health.status.status == "up" and health.uptime_7d.time_based == 1.0


class Scripted:
    """A store whose snapshots are given, counting the other calls."""

    def __init__(self, snaps: list[Snapshot]) -> None:
        self.snaps = snaps
        self.calls: list[str] = []

    def snapshot(self, marks, limit):
        self.calls.append("snapshot")
        return self.snaps.pop(0)


def test_the_poller_keeps_feeds_and_opportunities_like_agents_and_tasks() -> None:
    feed = Feed("f1", "https://acme.example/rss", "Acme")
    opp = Opportunity("o1", "Churn alerts", "", "analysis")
    store = Scripted([Snapshot(None, None, feeds=(feed,), opportunities=(opp,)), Snapshot(None, None),
                      Snapshot(None, None, opportunities=())])
    poller = Poller(store, interval=1, idle_interval=2)
    poller.poll_once()
    assert list(poller.state.feeds) == ["f1"] and list(poller.state.opportunities) == ["o1"]
    poller.poll_once()  # None: unchanged, kept
    assert list(poller.state.feeds) == ["f1"] and list(poller.state.opportunities) == ["o1"]
    poller.poll_once()  # an empty tuple: all gone
    assert list(poller.state.feeds) == ["f1"] and poller.state.opportunities == {}
    assert store.calls == ["snapshot"] * 3


class Counting:
    def __init__(self, store) -> None:
        self.store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            self.calls.append(name)
            return attr(*args, **kwargs)

        return call


def test_the_pipeline_comes_with_the_poll(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "squad.db")
    store.create_opportunity("Churn alerts")
    store.add_feed("https://acme.example/rss", "Acme")
    counting = Counting(store)
    watch = Watch(settings_at(tmp_path), counting, clock=Clock(T0), probe_openclaw=False)
    view = watch.step().view
    board = dict(view.board)
    assert [r.title for r in board["analysis"]] == ["Churn alerts"] and board["go"] == []
    assert [(h.feed.competitor, h.state, h.due) for h in view.feeds] == [("Acme", "new", True)]
    store.create_opportunity("Audit exports")
    view = watch.step().view
    assert [r.title for r in dict(view.board)["analysis"]] == ["Churn alerts", "Audit exports"]
    assert not {"list_opportunities", "list_feeds"} & set(counting.calls)  # only the snapshot reads them
    store.close()


def test_the_vault_view_is_read_again_only_when_the_file_changes(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace-veda"
    workspace.mkdir()
    (workspace / "report.sh").write_text("KEY=$(squad-console vault get deploy-key)\n")
    settings = settings_at(tmp_path, f'workspace = "{workspace}"\n[store]\npath = "{tmp_path / "squad.db"}"\n')
    view = VaultView(settings)
    path = view.path
    assert path.parent == tmp_path
    assert view.refresh().entries == () and view.reads == 1
    assert view.refresh().entries == () and view.reads == 1  # no file, still no file: not read
    Vault(path, key=generate_key()).put("deploy-key", b"s3cret", source="test")
    state = view.refresh()
    assert [e.name for e in state.entries] == ["deploy-key"] and view.reads == 2
    assert state.usage == {"deploy-key": ["workspace-veda/report.sh"]}
    for _ in range(3):
        assert view.refresh() is state  # unchanged: the same view, nothing read
    assert view.reads == 2
    view.invalidate()  # the workspaces changed (the migration wizard)
    assert view.refresh() is not state and view.reads == 3
    path.write_text("not a vault")
    assert "not a complete vault" in (view.refresh().error or "") and view.reads == 4


class SilentGateway:
    """A loopback 'gateway' that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.closed = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.conns.append(conn)
        self.accepted.set()
        try:
            while conn.recv(4096):  # read the request, answer nothing, until the client gives up
                pass
        except OSError:
            pass
        self.closed.set()

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


async def until(pilot, condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def test_a_gateway_that_never_answers_never_delays_a_store_poll(tmp_path: Path) -> None:
    gateway = SilentGateway()
    (tmp_path / "squad.toml").write_text(
        CONFIG.replace("[openclaw]\n", f'[openclaw]\ngateway = "http://127.0.0.1:{gateway.port}"\n'))
    settings = load_settings(tmp_path / "squad.toml", env={})
    # polls as fast as they go (below the 0.5 s a squad.toml may set), so a delayed one shows
    settings = replace(settings, store=replace(settings.store, poll_interval=0.05, poll_interval_idle=0.05))
    store = LocalStore(tmp_path / "squad.db")
    app = SquadApp(settings, store, clock=time.time, env={}, openclaw_runner=None)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, gateway.accepted.is_set, 20, "the probe to reach the gateway")
            polls = app.watch.poller.polls
            await until(pilot, lambda: app.watch.poller.polls >= polls + 3 or gateway.closed.is_set(), 20,
                        "polls while the probe waits")
            assert not gateway.closed.is_set(), "the probe gave up before three polls completed"
            assert app.watch.poller.polls >= polls + 3 and app.view.gateway is None
            await until(pilot, lambda: app.view is not None and app.view.gateway is not None, 20,
                        "the probe's own timeout")
            assert not app.view.gateway.reachable and "no answer" in app.view.gateway.error
            assert any("gateway unreachable" in a.text for a in app.view.alerts)
    finally:
        store.close()
        gateway.close()

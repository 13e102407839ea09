"""Watch: what the console's screens show, computed off the UI thread. No Textual here.

One `step()` is one poll (one store call), the heartbeat book fed with its deltas (and pruned to
the eight days the screens need), every agent's health evaluated, the pipeline's board and feeds,
the vault's entries (re-read only when the vault file changes) and the overview's success criteria
computed. The app runs `step()` in a worker and posts the resulting `View` to the screens: the poll
is the screens' only read path.

OpenClaw is diagnosed by `probe()` (gateway, channel, cron: network, so at most once a minute), which
the app runs in a worker of its own: a slow gateway never delays a store poll. `step()` and the
view rebuilt after a probe are serialised by a lock (the network part of a probe is outside it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from console.config import Settings
from console.text import shown_url
from console.service.health.book import HealthBook, SlotMark, seed_book
from console.service.models import Activity, Agent, Task
from console.service.pipeline import BoardRow, FeedHealth, board_rows, feed_health
from console.service.poller import Poller, PollResult
from console.service.health.squad import DAY_MS, AgentHealth
from console.service.store import Store, StoreError
from console.service.vault_view import VaultState, VaultView

UPTIME_TARGET = 0.99
PRUNE_EVERY_MS = 60_000.0  # the book drops beats older than its window at most once a minute


@dataclass(frozen=True)
class Criterion:
    name: str
    target: str
    value: str
    ok: bool | None  # None: not measurable yet


@dataclass(frozen=True)
class Alert:
    severity: str  # "error" | "warning"
    text: str
    fix: tuple[str, ...] = ()  # commands to run
    hint: str = ""  # what to do, in words (an error's hint), when it is not a command


@dataclass(frozen=True)
class Transition:
    agent_id: str
    before: str
    after: str
    reason: str


@dataclass
class View:
    """Everything the screens draw, as of `at` (ms)."""

    at: float
    store: str
    agents: dict[str, Agent] = field(default_factory=dict)  # by OpenClaw id
    names: dict[str, str] = field(default_factory=dict)
    health: dict[str, AgentHealth] = field(default_factory=dict)
    strips: dict[str, list[SlotMark]] = field(default_factory=dict)
    causes: dict[str, list] = field(default_factory=dict)
    gateway: object | None = None  # openclaw.GatewayHealth
    criteria: list[Criterion] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    board: list[tuple[str, list[BoardRow]]] = field(default_factory=list)  # opportunities by stage
    feeds: list[FeedHealth] = field(default_factory=list)
    vault: VaultState | None = None
    last_success: float | None = None
    last_error: str | None = None
    error_hint: str | None = None


@dataclass
class StepResult:
    poll: PollResult
    view: View
    transitions: list[Transition]


def unavailable_view(settings: Settings, error: Exception, now_ms: float, store_words: str | None = None) -> View:
    """What the screens show when the store cannot even be opened (a corrupt file, no key): the
    squad.toml agents by name, the reason and its fix, as a stale view with no data."""
    message = getattr(error, "message", None) or str(error) or "the store could not be opened"
    hint = getattr(error, "hint", None)
    where = store_words or (f"local {settings.store.local_path()}" if settings.store.kind == "local"
                            else f"convex {shown_url(settings.store.url) if settings.store.url else '(no URL)'}")
    view = View(at=now_ms, store=where, last_error=message, error_hint=hint)
    view.names = {a.id: a.name for a in settings.agents}
    view.alerts = [Alert("error", f"store: {message}", hint=hint or "")]
    return view


class Watch:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        probe_openclaw: bool = True,
        probe_every: float = 60.0,
        env: dict[str, str] | None = None,
        openclaw_runner: object = "auto",
        probe_gateway: bool = True,
    ) -> None:
        self.settings = settings
        self.openclaw_runner = openclaw_runner
        self.probe_gateway = probe_gateway
        self.store = store
        self.clock = clock
        self.poller = Poller(store, interval=settings.store.poll_interval,
                             idle_interval=settings.store.poll_interval_idle, clock=clock)
        self.book: HealthBook | None = None
        self.probe_openclaw = probe_openclaw
        self.probe_every = probe_every
        self.env = dict(env or {})
        self._last_probe: float | None = None
        self._causes: dict[str, list] = {}
        self._gateway = None
        self._agent_to_agent: bool | None = None
        self._statuses: dict[str, str] = {}
        self._view: View | None = None
        self._lock = threading.Lock()
        self._pruned_at: float | None = None
        self._board_of: dict | None = None
        self._board: list[tuple[str, list[BoardRow]]] = []
        self.vault = VaultView(settings)
        self._plaintext_check: Callable[[], list[Path]] | None = None

    def now_ms(self) -> float:
        return self.clock() * 1000

    def agent_ids(self) -> list[str]:
        from console.service.health.squad import reported_ids

        return reported_ids([a.id for a in self.settings.agents], self.poller.state.agents.values())

    def step(self) -> StepResult:
        with self._lock:
            result = self.poller.poll_once()
            now = self.now_ms()
            try:
                if result.ok and self.book is None:
                    self.book = seed_book(self.store, self.agent_ids(), now)
            except StoreError as exc:
                # the first good poll's history load failed: a failed poll like any other (stale,
                # backing off, retried), never a dead poll loop
                result = self.poller.fail(exc, result.duration)
            if result.ok and self.book is not None and result.snapshot is not None:
                self.book.add_beats(result.snapshot.heartbeats)
                self.book.add_flips(result.snapshot.flips)
                if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY_MS:
                    self.book.prune(now)  # keep eight days: the strips' slots and the 7-day uptime
                    self._pruned_at = now
            self.vault.refresh()
            view, transitions = self._build_view(now)
            return StepResult(result, view, transitions)

    # ------------------------------------------------------------------ OpenClaw
    def probe_due(self) -> bool:
        now = self.now_ms()
        return self.probe_openclaw and (self._last_probe is None or now - self._last_probe >= self.probe_every * 1000)

    def probe(self) -> tuple[View, list[Transition]]:
        """Diagnose OpenClaw (network: never on the poll's worker), then the view again with it."""
        self._probe(self.now_ms())
        with self._lock:
            return self._build_view(self.now_ms())

    # ------------------------------------------------------------------ OpenClaw
    def _probe(self, now: float) -> None:
        from console.service.openclaw.probe import probe_openclaw

        self._last_probe = now
        probe = probe_openclaw(self.settings.openclaw, self.env, runner=self.openclaw_runner,  # type: ignore[arg-type]
                               gateway=self.probe_gateway, gateway_timeout=2.0)
        self._agent_to_agent = probe.config.agent_to_agent if probe.config else None
        self._gateway = probe.gateway
        self._causes = probe.causes(self.settings.agents, **self._openclaw_history(probe.gateway, now))

    def _openclaw_history(self, gateway, now: float) -> dict:
        """The gateway's outages and the slots skipped in them (from the audit log the poller
        holds and the book's runs), and the squad's jobs as last collected: no store call."""
        from console.service.health.outages import AgentHistory, outage_spans, skipped_slots
        from console.service.openclaw import job_snapshot

        with self._lock:
            activities = list(self.poller.state.activities)
            spans = outage_spans(activities, now, down_now=None if gateway is None else not gateway.reachable)
            history = {}
            if spans and self.book is not None:
                configured = {a.id: a for a in self.settings.agents}
                stored = {a.agent_id: a for a in self.poller.state.agents.values()}
                for agent_id in configured:
                    schedule = self.book.schedule(agent_id, configured[agent_id], stored.get(agent_id))
                    history[agent_id] = AgentHistory(tuple(spans), tuple(skipped_slots(
                        schedule, self.book.runs(agent_id), spans, now)))
        return {"history": history, "snapshot": job_snapshot.from_activities(activities)}

    # ---------------------------------------------------------------------- view
    def _build_view(self, now: float) -> tuple[View, list[Transition]]:
        state = self.poller.state
        stored = {a.agent_id: a for a in state.agents.values()}
        configured = {a.id: a for a in self.settings.agents}
        last_ok = self.poller.last_success
        view = View(at=now, store=self.store.describe(), agents=stored,
                    last_success=None if last_ok is None else last_ok * 1000,
                    last_error=str(self.poller.last_error) if self.poller.last_error else None,
                    error_hint=getattr(self.poller.last_error, "hint", None))
        transitions: list[Transition] = []
        if self.book is not None:
            for agent_id in self.agent_ids():
                cfg = configured.get(agent_id)
                agent = stored.get(agent_id)
                name = cfg.name if cfg else (agent.name if agent else agent_id)
                view.names[agent_id] = name
                health = self.book.evaluate(agent_id, name, cfg, agent, now)
                view.health[agent_id] = health
                view.strips[agent_id] = self.book.strip(agent_id, health.schedule, now)
                before = self._statuses.get(agent_id)
                after = health.status.status
                if before is not None and before != after:
                    transitions.append(Transition(agent_id, before, after, health.status.reason))
                self._statuses[agent_id] = after
        else:
            for agent_id in self.agent_ids():
                cfg = configured.get(agent_id)
                view.names[agent_id] = cfg.name if cfg else agent_id
        view.causes = self._causes
        view.gateway = self._gateway
        view.tasks = sorted(state.tasks.values(), key=lambda t: t.created_at)
        view.activities = list(reversed(state.activities[-500:]))
        if state.opportunities is not self._board_of:  # replaced whole when they change
            self._board_of = state.opportunities
            self._board = board_rows(state.opportunities.values())
        view.board = self._board
        view.feeds = feed_health(state.feeds.values(), now)
        view.vault = self.vault.state
        view.criteria = self._criteria(view, now)
        view.alerts = self._alerts(view)
        self._view = view
        return view, transitions

    def _criteria(self, view: View, now: float) -> list[Criterion]:
        configured = [a.id for a in self.settings.agents]
        registered = [a for a in configured if a in view.agents]
        out = [Criterion("Agents registered", f"{len(configured)}/{len(configured)}",
                         f"{len(registered)}/{len(configured)}", len(registered) == len(configured))]
        recent = [m for m in self.poller.state.messages if m.created_at >= now - DAY_MS]
        a2a = self._agent_to_agent
        comms = f"{len(recent)} messages in 24 h" + ("" if a2a is None else f" · agent-to-agent {'on' if a2a else 'off'}")
        out.append(Criterion("Inter-agent comms", "working", comms, bool(recent) and a2a is not False))
        plaintext = self.plaintext_files()
        if plaintext:
            out.append(Criterion("Credential encryption", "no plaintext",
                                 f"{len(plaintext)} plaintext credential file(s)", False))
        elif not self.workspaces_found():  # nothing looked at: no tick without data
            out.append(Criterion("Credential encryption", "no plaintext", "no workspace found", None))
        else:
            out.append(Criterion("Credential encryption", "no plaintext", "done", True))
        uptimes = [h.uptime_7d.time_based for h in view.health.values() if h.uptime_7d.time_based is not None]
        worst = min(uptimes) if uptimes else None
        out.append(Criterion("Heartbeat uptime", "> 99% (7 d)",
                             ("no runs yet" if not any(h.last_beat for h in view.health.values()) else
                              "no slot due yet") if worst is None else f"{worst * 100:.1f}% (worst agent, 7 d)",
                             None if worst is None else worst > UPTIME_TARGET))
        counter = getattr(self.store, "counter", None)
        if counter is not None:  # on Convex: what this installation's calls cost (docs/cost.md)
            calls = counter.summary(now / 1000)
            out.append(Criterion("Convex calls", "<= 1,000,000 a month (Starter)",
                                 f"{calls.last_24h:,} in 24 h, {calls.month:,} a month", calls.month <= 1_000_000))
        decided = [r for _stage, rows in view.board for r in rows if r.verdict]
        out.append(Criterion("Revenue workflow", "prototyped",
                             f"{len(decided)} go/no-go decision(s)" if decided else "no decision yet",
                             bool(decided) or None))
        return out

    def workspaces_found(self) -> bool:
        """Whether any workspace the migration scans (squad.toml's, the store's agents') is there."""
        from console.service.wiring import migration_workspaces

        return any(path.is_dir() for _agent, path in
                   migration_workspaces(self.settings, list(self.poller.state.agents.values())))

    def plaintext_files(self) -> list[Path]:
        """The plaintext credentials the migration would move: the vault's one workspace scanner."""
        if self._plaintext_check is None:
            from console.service.wiring import plaintext_credentials_check

            self._plaintext_check = plaintext_credentials_check(
                self.settings, lambda: list(self.poller.state.agents.values()))  # as polled: no store call
        return self._plaintext_check()

    def _alerts(self, view: View) -> list[Alert]:
        alerts: list[Alert] = []
        if view.last_error:
            alerts.append(Alert("error", f"store: {view.last_error}", hint=view.error_hint or ""))
        gw = view.gateway
        if gw is not None and not getattr(gw, "reachable", True):
            alerts.append(Alert("error", f"gateway unreachable: {getattr(gw, 'error', '')}",
                                ("openclaw gateway status", "openclaw gateway restart")))
        # one alert per cause: agents that fail for the same reason, with the same fix, are named
        # together ("VEDA, ORIN failing: WhatsApp logged out"), the fix said once
        groups: dict[tuple, list[str]] = {}
        for agent_id, h in view.health.items():
            if h.status.status in ("down", "failing", "late"):
                causes = view.causes.get(agent_id) or []
                first = causes[0] if causes else None
                key = (h.status.status, first.title if first else h.status.reason, tuple(first.fix) if first else (),
                       first.code if first else None)
                groups.setdefault(key, []).append(view.names.get(agent_id, agent_id))
        for (status, why, fix, code), names in groups.items():
            gateway = next((a for a in alerts if a.text.startswith("gateway unreachable")), None)
            if gateway is not None and code == "gateway_unreachable":  # said once, on the gateway's alert
                alerts[alerts.index(gateway)] = Alert(gateway.severity, f"{gateway.text} ({', '.join(names)} {status})",
                                                      fix or gateway.fix)
                continue
            alerts.append(Alert("error" if status != "late" else "warning", f"{', '.join(names)} {status}: {why}", fix))
        return alerts

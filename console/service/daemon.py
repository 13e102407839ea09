"""`squad-console service`: the long-running collector that records while nobody watches.

The `schedule` library drives its periodic jobs (it is never used to compute heartbeat slots:
it drifts and does not catch up; croniter does that in heartbeats.py):

- collect: OpenClaw's cron run history → heartbeats in the store (each run sent once): the
  squad's heartbeat jobs only (never OpenClaw's system jobs), every page of runs since the last
  one collected (so hours of downtime lose nothing), forced `manual:` runs left out (they are not
  the beat of a schedule slot);
- probe: the gateway's /healthz and /readyz and the channels (WhatsApp: linked, logged out, not
  linked, unknown); a change of either is audited;
- evaluate: each agent's status now; a change is recorded as a flip, backdated to its deadline;
- flush: the outbox, where beats and activities wait while the store is unreachable.

Every store call is billed on Convex (docs/cost.md), so `evaluate` reads the store through one poll
(the console's `snapshot`, cached by Convex while nothing changed) every `Intervals.refresh`
seconds, into a health book seeded once from the compact history; the beats the daemon collects
and the flips it records go into the book as they are written, and a flip to down or failing is
confirmed by a fresh poll first. `feeds` lists the feeds only when one is due (or every
`Intervals.refresh` seconds, to see new ones).

Logs are JSON lines on stderr. SIGTERM or SIGINT stops it cleanly after the job in progress,
with a last flush of the outbox.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import schedule as schedule_lib

from console.config import Settings
from console.service.openclaw.channels import CHANNEL_REPORT_KEY, channel_report, report_to_json
from console.service.openclaw.config import OpenClawConfig, load_openclaw_config
from console.service.openclaw.cron import heartbeat_jobs, load_cron, run_to_heartbeat
from console.service.openclaw.errors import OpenClawError
from console.service.openclaw.gateway import gateway_url, probe_gateway
from console.service.store.outbox import Outbox, record_beat
from console.service.health.book import HealthBook, seed_book
from console.service.health.outages import short_ok
from console.service.health.squad import reported_ids
from console.service.models import Heartbeat, HeartbeatIn
from console.service.poller import Poller
from console.service.store import Store, StoreError, StoreUnavailable

LOG = logging.getLogger("squad-console.service")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, event, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    LOG.handlers[:] = [handler]
    LOG.setLevel(level)
    LOG.propagate = False


def log(level: int, event: str, **fields: Any) -> None:
    LOG.log(level, event, extra={"fields": fields})


@dataclass(frozen=True)
class Intervals:
    collect: float = 60.0
    probe: float = 60.0
    evaluate: float = 60.0
    flush: float = 10.0
    feeds: float = 60.0  # how often to look for due feeds (each feed has its own next fetch time)
    refresh: float = 300.0  # how often evaluate and feeds read the store when nothing is due sooner


class Daemon:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        outbox: Outbox,
        *,
        intervals: Intervals = Intervals(),
        env: dict[str, str] | None = None,
        runner: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.time,
        prefer_state_db: bool = True,
    ) -> None:
        self.settings = settings
        self.prefer_state_db = prefer_state_db
        self.store = store
        self.outbox = outbox
        self.intervals = intervals
        self.env = dict(env or {})
        self.runner = runner
        self.clock = clock
        self.stop_event = threading.Event()
        self.scheduler = schedule_lib.Scheduler()
        if hasattr(store, "skip_groups"):  # Convex: evaluate needs the agents, not the tasks or the pipeline
            store.skip_groups = frozenset({"cold", "pipeline"})
        self.poller = Poller(store, interval=settings.store.poll_interval,
                             idle_interval=settings.store.poll_interval_idle, clock=clock)
        self.book: HealthBook | None = None
        self._refreshed_at: float | None = None
        self._feeds_due_at: float | None = None

    # ------------------------------------------------------------------ jobs
    def _guard(self, name: str, job: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            started = time.perf_counter()
            try:
                job()
            except StoreUnavailable as exc:
                log(logging.WARNING, f"{name}_store_unavailable", error=str(exc), queued=self.outbox.pending())
            except StoreError as exc:
                log(logging.ERROR, f"{name}_store_error", error=str(exc), hint=exc.hint)
            except OpenClawError as exc:
                log(logging.WARNING, f"{name}_openclaw_error", error=str(exc))
            except Exception as exc:  # a job never kills the daemon
                log(logging.ERROR, f"{name}_failed", error=f"{type(exc).__name__}: {exc}")
            finally:
                log(logging.DEBUG, f"{name}_done", ms=round((time.perf_counter() - started) * 1000, 1))

        return run

    def collect(self) -> None:
        state_dir = self.settings.openclaw.state_dir
        agents = list(self.settings.agents)

        def heartbeat_ids(jobs) -> set[str]:
            return {j.id for a in agents for j in heartbeat_jobs(jobs, a.id, job=a.job)}

        cursors: dict[str, float] = dict(self.outbox.get("openclaw_cursors", {}) or {})
        spans = [(float(a), None if b is None else float(b)) for a, b in self.outbox.get("gateway_down_spans", []) or []]
        # the local state database when there is one (one read), else the CLI (one `cron list`, then the
        # heartbeat jobs' runs page by page, at the same time)
        cron = load_cron(state_dir, runs_for=heartbeat_ids, since=cursors, prefer_state_db=self.prefer_state_db,
                         **({"runner": self.runner} if self.runner else {}))
        for note in cron.notes:
            log(logging.INFO, "collect_note", note=note)
        counts: dict[str, dict[str, int]] = {}
        store: Store | None = self.store
        for agent in agents:
            for job in heartbeat_jobs(cron.jobs, agent.id, job=agent.job):
                c = counts.setdefault(agent.id, {"recorded": 0, "queued": 0, "duplicate": 0, "manual": 0})
                for run in cron.runs.get(job.id, []):
                    cursors[job.id] = max(cursors.get(job.id, 0.0), run.at)
                    if run.manual:  # forced with `openclaw cron run`: not a slot's beat
                        c["manual"] += 1
                        continue
                    beat = run_to_heartbeat(job, run)
                    # the run's own status: a skipped run is recorded "ok" but is no short "ok" run
                    if short_ok(run.at, run.status == "ok", run.duration_ms, spans):
                        beat = dataclasses.replace(beat, outcome="error", error=(
                            f"\"ok\" in {run.duration_ms:.0f} ms while the gateway was down: not a heartbeat "
                            "(openclaw#63106)"))
                        c["not_counted"] = c.get("not_counted", 0) + 1
                    run_id = beat.effective_run_id()
                    if self.outbox.was_sent(run_id):
                        continue
                    outcome = record_beat(store, self.outbox, beat)
                    self._remember(beat)
                    if outcome == "queued":
                        store = None  # the store is away: queue the rest without waiting on it each time
                    c[outcome] += 1
        self.outbox.set("openclaw_cursors", cursors)  # the next collection reads only newer runs
        self._check_jobs(cron.jobs, agents)
        for agent_id, c in counts.items():
            if any(c.values()):
                log(logging.INFO, "beats_collected", agent=agent_id, source=cron.source, **c)

    def _check_jobs(self, jobs: list, agents: list) -> None:
        """Compare the squad's heartbeat jobs with the snapshot of the last collection (kept in the
        store's audit log, job_snapshot): a job that vanished or lost its agentId is logged and
        audited once; the snapshot is logged again when it changes, and once a day."""
        from console.service.openclaw import job_snapshot as js

        current = js.take(jobs, [(a.id, a.job) for a in agents])
        before = self.outbox.get("heartbeat_jobs_snapshot")
        if before is None:  # a new collector: the snapshot another one left in the store
            try:
                before = js.from_activities(self.store.list_activities(limit=500)) or {}
            except StoreError:
                before = {}
        losses = js.compare(before, jobs, [a.id for a in agents], current)
        alerted = set(self.outbox.get("heartbeat_jobs_alerted", []) or [])
        keys = []
        for loss in losses:
            k = f"{loss.agent_id}:{loss.job_id}:{loss.kind}"
            keys.append(k)
            if k not in alerted:
                log(logging.WARNING, "heartbeat_job_lost", agent=loss.agent_id, job=loss.job_id, kind=loss.kind)
                self._audit(js.LOST_TYPE, loss.words() + " (`squad-console check` says how to fix it)",
                            agent_id=loss.agent_id, detail={"jobId": loss.job_id, "kind": loss.kind})
        self.outbox.set("heartbeat_jobs_alerted", keys)
        after = js.merge(before, current, losses)
        day = int(self.clock() // 86_400)
        if (after or before) and (after != before or self.outbox.get("heartbeat_jobs_day") != day):
            self._audit(js.SNAPSHOT_TYPE, js.describe(after), detail={"jobs": after},
                        key=f"service:{js.SNAPSHOT_TYPE}:{js.digest(after)}:{day}")
            self.outbox.set("heartbeat_jobs_day", day)
        self.outbox.set("heartbeat_jobs_snapshot", after)

    def probe(self) -> None:
        cfg = self._openclaw_config()
        url = gateway_url(self.settings.openclaw.gateway, cfg)
        health = probe_gateway(url, cfg.token if cfg else None)
        state = "up" if health.reachable and health.healthz == 200 else "down"
        previous = self.outbox.get("gateway_state")
        now = self.clock() * 1000
        last_up = self.outbox.get("gateway_last_up")
        if state != previous:
            self.outbox.set("gateway_state", state)
            self._outage(state, now, last_up)
            if previous is not None:
                message = f"gateway {url} is {'reachable again' if state == 'up' else 'unreachable'}"
                if health.error:
                    message += f": {health.error}"
                # a down says when the gateway last answered: the outage began after it (check and the
                # screens name the slots skipped in it, health.outages)
                self._audit(f"gateway_{state}", message,
                            detail={"lastUpAt": last_up} if state == "down" and last_up is not None else None)
            log(logging.INFO if state == "up" else logging.WARNING, f"gateway_{state}", url=url, error=health.error)
        if state == "up":
            self.outbox.set("gateway_last_up", now)
        # the channels (WhatsApp), as the docstring says: without the CLI's 60-s wait when the gateway is down
        report = channel_report(cfg.state_dir if cfg else self.settings.openclaw.state_dir, cfg,
                                **({"runner": self.runner} if self.runner else {}), probe=False,
                                gateway_reachable=health.reachable)
        # for `check`: the channels as of now, so it need not start the CLI itself (1-4 s of Node)
        self.outbox.set(CHANNEL_REPORT_KEY, {"at": self.clock() * 1000, "report": report_to_json(report)})
        for status in report.statuses:
            now = ("logged out" if status.logged_out else "linked" if status.linked else
                   "not linked" if status.linked is False else "unknown")
            key = f"channel_state:{status.channel}:{status.account}"
            before = self.outbox.get(key)
            if now != before:
                self.outbox.set(key, now)
                if before is not None:
                    self._audit("channel_changed", f"{status.channel} account {status.account}: {before} → {now}"
                                + (f" ({status.detail})" if status.detail else ""))
                log(logging.INFO if now == "linked" else logging.WARNING, "channel_state", channel=status.channel,
                    account=status.account, state=now, detail=status.detail or None)
        if report.error and report.error_kind == "token_mismatch":
            log(logging.WARNING, "gateway_token_mismatch", error=report.error)

    def refresh(self, *, force: bool = False) -> None:
        """Read what changed in the store (one poll, paged while it says there is more) into the
        book, at most every `Intervals.refresh` seconds unless forced; the book is seeded from the
        store's compact history the first time."""
        now = self.clock()
        if not force and self._refreshed_at is not None and now - self._refreshed_at < self.intervals.refresh:
            return
        while True:
            result = self.poller.poll_once()
            if result.error is not None:
                raise result.error
            if self.book is None:
                self.book = seed_book(self.store, [], now * 1000)
            snap = result.snapshot
            self.book.add_beats(snap.heartbeats)
            self.book.add_flips(snap.flips)
            if not snap.has_more:
                break
        self.book.prune(now * 1000)
        self._refreshed_at = now

    def _remember(self, beat: HeartbeatIn) -> None:
        """A beat the daemon collected is in its book at once (whether the store took it or the outbox)."""
        if self.book is not None:
            self.book.add_beats([Heartbeat(id="", agent_id=beat.agent_id, at=beat.at, outcome=beat.outcome,
                                           source=beat.source, run_id=beat.effective_run_id(), error=beat.error,
                                           tokens=beat.tokens, cost_usd=beat.cost_usd)])

    def evaluate(self) -> None:
        self.refresh()
        confirmed = False
        while True:
            now = self.clock() * 1000
            changes = self._changes(now)
            worse = [c for c in changes if c[1] in ("down", "failing")]
            if worse and not confirmed and self._refreshed_at is not None and self.clock() > self._refreshed_at:
                self.refresh(force=True)  # a beat pushed by someone else may have come meanwhile
                confirmed = True
                continue
            break
        for health, stored, at in changes:
            last = health.last_flip
            flip = self.store.record_flip(health.agent_id, at, last, stored, health.status.reason, actor="service")
            assert self.book is not None
            self.book.add_flips([flip])
            log(logging.WARNING if stored in ("down", "failing") else logging.INFO, "agent_flip",
                agent=health.agent_id, **{"from": last, "to": stored}, reason=health.status.reason)

    def _changes(self, now: float) -> list[tuple[Any, str, float]]:
        """(health, status to store, since when) of every registered agent whose status changed."""
        assert self.book is not None
        configured = {a.id: a for a in self.settings.agents}
        stored = {a.agent_id: a for a in self.poller.state.agents.values()}
        out = []
        for agent_id in reported_ids(list(configured), stored.values()):
            cfg, agent = configured.get(agent_id), stored.get(agent_id)
            if agent is None:
                continue
            name = cfg.name if cfg else agent.name
            health = self.book.evaluate(agent_id, name, cfg, agent, now)
            status = health.status.status
            to_store = "up" if status == "late" else status
            if to_store == "new" or to_store == health.last_flip:
                continue
            out.append((health, to_store, health.status.since if health.status.since is not None else now))
        return out

    def feeds(self) -> None:
        """Fetch the feeds that are due (pipeline.py; each feed keeps its own schedule and backoff).
        The feeds are listed only when one is due by the last listing, or every `Intervals.refresh`."""
        from console.service.pipeline import Pipeline

        now = self.clock()
        if self._feeds_due_at is not None and now < self._feeds_due_at:
            return
        pipeline = Pipeline(self.store, self.settings.pipeline, clock=self.clock)
        listed = pipeline.feeds()
        if any(h.due for h in listed):
            report = pipeline.fetch_sync(due_only=True, actor="service")
            for r in report.results:
                if r.failed or r.store_error:
                    log(logging.WARNING, "feed_failed", url=r.url, reason=r.reason, store_error=r.store_error,
                        errors=r.state.error_count)
            log(logging.INFO, "feeds_fetched", feeds=len(report.results), new_signals=report.created,
                failed=report.count("failed"), ms=round(report.elapsed_ms, 1))
            listed = pipeline.feeds()
        due = [h.feed.next_fetch_at / 1000 for h in listed if h.feed.next_fetch_at is not None]
        self._feeds_due_at = min([now + self.intervals.refresh, *[max(now, d) for d in due]])

    def flush(self) -> None:
        if not self.outbox.pending():
            return
        result = self.outbox.flush(self.store)
        fields = {"delivered": result.delivered, "remaining": result.remaining, "dead": result.dead}
        if result.error is not None:
            log(logging.WARNING, "outbox_waiting", error=str(result.error), **fields)
        elif result.delivered or result.dead:
            log(logging.INFO, "outbox_flushed", **fields)

    def _audit(self, type: str, message: str, *, detail: dict | None = None, key: str | None = None,
               agent_id: str | None = None) -> None:
        key = key or f"service:{uuid.uuid4().hex}"  # one key for the attempt and any later delivery
        try:
            self.store.log_activity(type, message, actor="service", key=key, detail=detail, agent_id=agent_id)
        except StoreUnavailable:
            self.outbox.put_activity(type, message, actor="service", key=key, detail=detail)

    def _outage(self, state: str, now: float, last_up: float | None) -> None:
        """The gateway's outages as the collector saw them (kept 8 days in the outbox): a run
        that ended "ok" in under 50 ms inside one is no heartbeat (openclaw#63106)."""
        spans = [s for s in self.outbox.get("gateway_down_spans", []) or [] if s[1] is None or s[1] > now - 8 * 86_400_000]
        if state == "down" and not (spans and spans[-1][1] is None):
            spans.append([last_up if last_up is not None else now, None])
        elif state == "up" and spans and spans[-1][1] is None:
            spans[-1][1] = now
        self.outbox.set("gateway_down_spans", spans[-100:])

    def _openclaw_config(self) -> OpenClawConfig | None:
        try:
            return load_openclaw_config(
                self.settings.openclaw.openclaw_json(), self.settings.openclaw.state_dir, self.env
            )
        except OpenClawError:
            return None

    # ------------------------------------------------------------------- run
    def jobs(self) -> list[tuple[str, float, Callable[[], None]]]:
        i = self.intervals
        return [
            ("flush", i.flush, self.flush),
            ("collect", i.collect, self.collect),
            ("probe", i.probe, self.probe),
            ("evaluate", i.evaluate, self.evaluate),
            ("feeds", i.feeds, self.feeds),
        ]

    def run_once(self) -> None:
        for name, _, job in self.jobs():
            self._guard(name, job)()
        self._guard("flush", self.flush)()

    def run(self, *, install_signals: bool = True) -> int:
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop_event.set())
        log(logging.INFO, "started", store=self.store.describe(), agents=[a.id for a in self.settings.agents],
            state_dir=str(self.settings.openclaw.state_dir), queued=self.outbox.pending())
        for name, every, job in self.jobs():
            self.scheduler.every(every).seconds.do(self._guard(name, job))
        self.run_once()
        while not self.stop_event.is_set():
            self.scheduler.run_pending()
            idle = self.scheduler.idle_seconds
            self.stop_event.wait(max(0.05, min(1.0, idle if idle is not None else 1.0)))
        self._guard("flush", self.flush)()
        log(logging.INFO, "stopped", queued=self.outbox.pending())
        return 0

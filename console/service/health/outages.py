"""Gateway outages and what they did to the heartbeats (the operators' requests openclaw#104412
and #63106): the spans the gateway was down, the slots skipped in them, and runs that ended "ok"
in under 50 ms while it was down.

A span comes from the collector's audit log: `squad-console service` logs a `gateway_down`
activity when the gateway stops answering (its detail holds `lastUpAt`, when it last answered:
the outage began after that) and a `gateway_up` one when it answers again. A gateway unreachable
right now extends the last open span to now. Pure functions: no store, no OpenClaw call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from console.service.health.slots import Run, Schedule, match_slots
from console.service.models import Activity

SHORT_OK_MS = 50.0  # an "ok" run shorter than this while the gateway was down did not run (openclaw#63106)
Span = tuple[float, float | None]  # [start, end) ms; end None = still down


@dataclass(frozen=True)
class AgentHistory:
    """What happened to an agent's heartbeats while the gateway was down, for the diagnosis."""

    spans: tuple[Span, ...] = ()  # the gateway's outages (all agents share them)
    skipped: tuple[float, ...] = ()  # slots (ms) with no run and no error inside an outage


def outage_spans(activities: Iterable[Activity], now: float, *, down_now: bool | None = None) -> list[Span]:
    """The gateway's outages, oldest first, from the `gateway_down` / `gateway_up` activities
    (any order). An outage still open ends at None; with `down_now` False an open one is closed
    at `now` (the collector has not logged the recovery yet)."""
    events = sorted((a for a in activities if a.type in ("gateway_down", "gateway_up")), key=lambda a: a.created_at)
    spans: list[list[float | None]] = []
    for a in events:
        if a.type == "gateway_down":
            if spans and spans[-1][1] is None:
                continue  # already down
            start = a.created_at
            last_up = (a.detail or {}).get("lastUpAt")
            if isinstance(last_up, (int, float)) and not isinstance(last_up, bool) and last_up <= a.created_at:
                start = float(last_up)
            spans.append([start, None])
        elif spans and spans[-1][1] is None:
            spans[-1][1] = a.created_at
    if spans and spans[-1][1] is None and down_now is False:
        spans[-1][1] = now
    return [(float(s), e) for s, e in spans]  # type: ignore[arg-type]


def in_span(at: float, spans: Sequence[Span]) -> bool:
    return any(s <= at and (e is None or at < e) for s, e in spans)


SKIPPED_WINDOW_MS = 86_400_000.0  # skipped slots are said for a day (then the uptime figures keep them)


def skipped_slots(schedule: Schedule, runs: Iterable[Run], spans: Sequence[Span], now: float,
                  window: float = SKIPPED_WINDOW_MS) -> list[float]:
    """The slots of the last `window` ms inside an outage that have neither a run nor an error
    once their deadline passed: the ticks the gateway skipped while it was stopped (it does not
    replay them; openclaw#104412)."""
    runs = list(runs)
    out: list[float] = []
    for start, end in spans:
        start = max(start, now - window)
        stop = min(now, end) if end is not None else now
        if stop <= start:
            continue
        out += [s.at for s in match_slots(schedule, runs, start, stop, now) if s.outcome == "missed"]
    return sorted(set(out))


def short_ok(at: float, ok: bool, duration_ms: float | None, spans: Sequence[Span]) -> bool:
    """An "ok" run shorter than 50 ms while the gateway was down: not a heartbeat (openclaw#63106)."""
    return ok and duration_ms is not None and duration_ms < SHORT_OK_MS and in_span(at, spans)

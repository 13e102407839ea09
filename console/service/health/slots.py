"""Heartbeat accounting: expected slots, per-slot outcomes, status, flips and uptime.

Pure functions of data and a clock. `now` is always passed in (milliseconds since the epoch, as
every time here); nothing in this module reads the system clock, does I/O or imports Textual.

The model (DESIGN.md §5, reference notes §1):

* A `Schedule` is a 5-field cron expression evaluated in an IANA time zone. Expected slots come
  from croniter, converted to UTC instants with zoneinfo. Across DST a slot in a local time that
  does not exist (spring forward) is skipped, and a local time that happens twice (fall back)
  yields one slot, at its first occurrence, as croniter itself does when iterating. Slot lists are
  always strictly increasing UTC instants.
* Slot `s` owns the runs in `[s - early, next_slot(s) - early)`; the early tolerance keeps a beat
  sent a little before its slot (clock skew) from counting for the previous slot.
* The stored status is the result of the latest *event* at or before a time: an ok run (up), a
  failed run (failing) or the deadline of a missed slot (down, backdated to the deadline as
  Healthchecks does). Before any event the agent is "new"; inside a paused interval it is
  "paused", and at the end of a pause it goes back to whatever the events say then. "late" is
  derived on top of "up" (the current slot has no run yet) and is never stored as a flip.
* When `created_at` is None, the first recorded run stands for the creation time: no slot before
  it is expected, and an agent with neither is "new" and has observed nothing.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from console.service.health.cron import normalize_cron

from console.service.models import Heartbeat

__all__ = [
    "FLIP_STATUSES",
    "SLOT_OUTCOMES",
    "STATUSES",
    "FlipEvent",
    "Run",
    "Schedule",
    "Slot",
    "Status",
    "Uptime",
    "flips",
    "match_slots",
    "next_slot",
    "prev_slot",
    "runs_from_heartbeats",
    "slots_between",
    "status_at",
    "uptime",
    "uptime_24h_7d",
]

STATUSES = ("new", "up", "late", "down", "failing", "paused")
FLIP_STATUSES = ("new", "up", "down", "failing", "paused")
SLOT_OUTCOMES = ("ok", "late", "missed", "failed", "pending", "paused")

MINUTE = 60_000.0
HOUR = 3_600_000.0
DAY = 86_400_000.0
WEEK = 7 * DAY

_INF = math.inf
_SPARSE_SPANS_DAYS = (8, 64, 512, 4096)  # fallback search spans for schedules sparser than daily


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class Schedule:
    """When an agent is expected to run. Validated on construction (ValueError in words)."""

    cron: str  # 5-field cron, evaluated in tz
    tz: str = "UTC"  # IANA name
    grace: float = 300_000  # ms after the slot before a slot without a run counts as missed
    early: float = 60_000  # ms before a slot within which a run still belongs to that slot
    late_after: float = 60_000  # ms after the slot with no run before "late"; capped at grace
    created_at: float | None = None  # ms; no slot is expected before it
    paused: tuple[tuple[float, float | None], ...] = ()  # [start, end) ms; end None = open

    def __post_init__(self) -> None:
        _compile(self.cron, self.tz)
        for name in ("grace", "early", "late_after"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative number of milliseconds, not {value!r}")
        for interval in self.paused:
            if len(interval) != 2:
                raise ValueError(f"a paused interval is (start, end), not {interval!r}")
            start, end = interval
            if end is not None and end < start:
                raise ValueError(f"a paused interval ends before it starts: {interval!r}")


@dataclass(frozen=True, slots=True)
class Run:
    """One heartbeat run as recorded."""

    at: float  # ms, when it ran
    ok: bool
    error: str | None = None
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Slot:
    """One expected slot and what became of it."""

    at: float  # expected time (ms)
    deadline: float  # at + grace
    outcome: str  # "ok" | "late" | "missed" | "failed" | "pending" | "paused"
    run: Run | None  # the run matched to it


@dataclass(frozen=True, slots=True)
class Status:
    """An agent's heartbeat status at a moment."""

    status: str  # "new" | "up" | "late" | "down" | "failing" | "paused"
    since: float | None  # when the current stored status began (backdated, see `flips`)
    last_run: Run | None
    next_slot: float  # the next expected slot after now
    reason: str  # in words


@dataclass(frozen=True, slots=True)
class FlipEvent:
    """A change of the stored status (never "late")."""

    at: float
    from_status: str
    to_status: str
    reason: str


@dataclass(frozen=True, slots=True)
class Uptime:
    """Uptime over a window, time-based and run-based."""

    window: float  # ms
    time_based: float | None  # 1 - down/observed, None until the window holds an expected slot
    run_based: float | None  # ok runs / expected runs, None when no slot expected
    down_ms: float
    observed_ms: float
    ok_runs: int
    expected_runs: int


# --------------------------------------------------------------------------------------------
# Slots


@dataclass(frozen=True, slots=True)
class _Compiled:
    cron: str
    tzinfo: ZoneInfo
    # (hours, minutes) when the expression fires every day, else None (croniter path)
    daily: tuple[tuple[int, ...], tuple[int, ...]] | None


@lru_cache(maxsize=256)
def _compile(cron: str, tz: str) -> _Compiled:
    if not isinstance(tz, str) or not tz.strip():
        raise ValueError(f"time zone must be an IANA name such as 'Europe/Riga', not {tz!r}")
    try:
        tzinfo = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {tz!r}: expected an IANA name such as 'Europe/Riga'") from exc
    if not isinstance(cron, str) or not cron.strip():
        raise ValueError("the heartbeat schedule is empty: expected a 5-field cron expression")
    fields = cron.split()
    if fields[0].startswith("@"):
        if len(fields) != 1 or fields[0].lower() == "@reboot":
            raise ValueError(f"cron expression {cron!r} is not a schedule croniter can expand")
    elif len(fields) != 5:
        raise ValueError(
            f"cron expression {cron!r} has {len(fields)} fields: expected 5 "
            "(minute hour day-of-month month day-of-week)"
        )
    start = datetime(2024, 1, 1, tzinfo=tzinfo)
    cron = normalize_cron(cron)
    try:
        itr = croniter(cron, start)
        expanded = itr.expanded
        itr.get_next(float)
    except (ValueError, KeyError, TypeError, IndexError, OverflowError) as exc:
        # croniter's CroniterBadCronError / CroniterBadDateError are ValueErrors
        raise ValueError(f"invalid cron expression {cron!r}: {exc}") from exc
    daily: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    if all(f == ["*"] for f in expanded[2:5]):
        minutes = tuple(range(60)) if expanded[0] == ["*"] else expanded[0]
        hours = tuple(range(24)) if expanded[1] == ["*"] else expanded[1]
        if all(isinstance(v, int) for v in (*minutes, *hours)):
            daily = (tuple(sorted(set(hours))), tuple(sorted(set(minutes))))
    return _Compiled(cron=cron, tzinfo=tzinfo, daily=daily)


def _wall_to_ms(wall: datetime, tzinfo: ZoneInfo) -> float | None:
    """The UTC instant (ms) of a naive local wall time: its first occurrence when the hour
    repeats (fall back), None when it does not exist (spring forward)."""
    ms = wall.replace(tzinfo=tzinfo).timestamp() * 1000  # fold=0: the first occurrence
    if datetime.fromtimestamp(ms / 1000, tzinfo).replace(tzinfo=None) != wall:
        return None
    return ms


def _iter_croniter(comp: _Compiled, start: float, end: float) -> Iterator[float]:
    """Slots in [start, end) from croniter iterated over naive local wall times, each converted
    with zoneinfo.

    croniter 6 is wrong across DST when given an aware start (the day after a change it yields
    a slot an hour off, e.g. `30 1 * * *` in Europe/Riga gives 00:30 EEST on 2024-04-01 and
    02:30 EET on 2024-10-28; taichino/croniter#48, #82, #116). Naive wall-clock iteration has
    no DST to get wrong; the first-occurrence mapping is increasing, so the result is too.
    """
    tzinfo = comp.tzinfo
    # Start a few hours early in wall time: around a fall back, wall times are not in instant order.
    wall0 = datetime.fromtimestamp(start / 1000, tzinfo).replace(tzinfo=None) - timedelta(hours=3)
    itr = croniter(comp.cron, wall0)
    last = -_INF
    while True:
        try:
            wall = itr.get_next(datetime)
        except (ValueError, OverflowError):  # CroniterBadDateError: no further date
            return
        ms = _wall_to_ms(wall, tzinfo)
        if ms is None:
            continue
        if ms >= end:
            return
        if start <= ms and ms > last:
            last = ms
            yield ms


def _daily_slots(comp: _Compiled, start: float, end: float) -> list[float]:
    """Fast path for expressions that fire every day: the same wall-time semantics as
    `_iter_croniter`, without croniter's per-step cost."""
    assert comp.daily is not None
    hours, minutes = comp.daily
    tzinfo = comp.tzinfo
    # A wall time of local date D that exists maps to an instant whose local date is D.
    first = datetime.fromtimestamp(start / 1000, tzinfo).date()
    last = datetime.fromtimestamp(math.nextafter(end, -_INF) / 1000, tzinfo).date()
    offsets = [(h * 60 + m) * MINUTE for h in hours for m in minutes]
    out: list[float] = []
    day: date = first
    while day <= last:
        midnight = datetime(day.year, day.month, day.day)
        base = _wall_to_ms(midnight, tzinfo)
        end_of_day = _wall_to_ms(midnight.replace(hour=23, minute=59), tzinfo)
        if base is not None and end_of_day is not None and end_of_day - base == 1439 * MINUTE:
            # No offset change on this local date: plain arithmetic.
            out.extend(base + off for off in offsets if start <= base + off < end)
        else:
            for h in hours:
                for m in minutes:
                    ms = _wall_to_ms(midnight.replace(hour=h, minute=m), tzinfo)
                    if ms is not None and start <= ms < end:
                        out.append(ms)
        day += timedelta(days=1)
    out.sort()
    return out


@lru_cache(maxsize=16384)
def _day_slots(cron: str, tz: str, day_index: int) -> tuple[float, ...]:
    """The slots of one UTC day, cached: evaluation repeats over the same days all the time."""
    comp = _compile(cron, tz)
    start = day_index * DAY
    end = start + DAY
    if comp.daily is not None:
        return tuple(_daily_slots(comp, start, end))
    return tuple(_iter_croniter(comp, start, end))


def _check_time(value: float, name: str) -> float:
    if not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name} must be a time in milliseconds, not {value!r}")
    return float(value)


def slots_between(schedule: Schedule, start: float, end: float) -> list[float]:
    """Expected slot times in [start, end), as strictly increasing UTC instants (ms).

    Raises ValueError for a bad cron expression or time zone.
    """
    _compile(schedule.cron, schedule.tz)
    start = _check_time(start, "start")
    end = _check_time(end, "end")
    if end <= start:
        return []
    if math.isinf(start) or math.isinf(end):
        raise ValueError("slots_between needs a finite range")
    out: list[float] = []
    first_day = math.floor(start / DAY)
    last_day = math.floor(math.nextafter(end, -_INF) / DAY)
    for k in range(first_day, last_day + 1):
        chunk = _day_slots(schedule.cron, schedule.tz, k)
        if not chunk:
            continue
        lo = bisect_left(chunk, start) if k == first_day else 0
        hi = bisect_left(chunk, end) if k == last_day else len(chunk)
        out.extend(chunk[lo:hi])
    return out


def next_slot(schedule: Schedule, now: float) -> float:
    """The first expected slot strictly after `now`."""
    comp = _compile(schedule.cron, schedule.tz)
    now = _check_time(now, "now")
    k = math.floor(now / DAY)
    for d in range(k, k + 3):
        chunk = _day_slots(schedule.cron, schedule.tz, d)
        i = bisect_right(chunk, now)
        if i < len(chunk):
            return chunk[i]
    # Sparser than daily: ask croniter directly from the end of what was searched.
    for ms in _iter_croniter(comp, (k + 3) * DAY, _INF):
        return ms
    raise ValueError(f"cron expression {schedule.cron!r} never fires after {now!r}")


def prev_slot(schedule: Schedule, now: float) -> float | None:
    """The latest expected slot at or before `now`; None when none within ~11 years."""
    comp = _compile(schedule.cron, schedule.tz)
    now = _check_time(now, "now")
    k = math.floor(now / DAY)
    for d in range(k, k - 3, -1):
        chunk = _day_slots(schedule.cron, schedule.tz, d)
        i = bisect_right(chunk, now)
        if i > 0:
            return chunk[i - 1]
    # croniter's get_prev can stall across a spring-forward gap, so search forward in spans.
    end = (k - 2) * DAY
    for span in _SPARSE_SPANS_DAYS:
        found: float | None = None
        for ms in _iter_croniter(comp, end - span * DAY, end):
            found = ms
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------------------------
# Runs and the evaluation context


def runs_from_heartbeats(heartbeats: Iterable[Heartbeat]) -> list[Run]:
    """Heartbeat rows as runs: outcome "ok" is ok, anything else ("error") is a failed run."""
    return [
        Run(at=float(h.at), ok=h.outcome == "ok", error=h.error, run_id=h.run_id or None)
        for h in heartbeats
    ]


def _prepare_runs(runs: Iterable[Run], now: float) -> list[Run]:
    """Runs at or before now, sorted by time, each run_id (or identical id-less run) once."""
    ordered = sorted(
        (r for r in runs if r.at <= now),
        key=lambda r: (r.at, not r.ok, r.run_id or ""),
    )
    seen: set[object] = set()
    out: list[Run] = []
    for r in ordered:
        key: object = ("id", r.run_id) if r.run_id is not None else ("at", r.at, r.ok, r.error)
        if key in seen:
            continue
        seen.add(key)
        out.append(r)
    return out


def _merge_pauses(paused: Sequence[tuple[float, float | None]]) -> list[tuple[float, float]]:
    intervals = sorted((float(s), _INF if e is None else float(e)) for s, e in paused)
    merged: list[tuple[float, float]] = []
    for s, e in intervals:
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


class _Ctx:
    """Sorted, deduplicated runs and merged pauses for one evaluation at `now`."""

    __slots__ = (
        "schedule", "now", "runs", "times", "ok_prefix", "pauses", "pause_starts", "eff_start",
        "tzinfo",
    )

    def __init__(self, schedule: Schedule, runs: Iterable[Run], now: float) -> None:
        self.schedule = schedule
        self.now = _check_time(now, "now")
        self.tzinfo = _compile(schedule.cron, schedule.tz).tzinfo
        self.runs = _prepare_runs(runs, self.now)
        self.times = [r.at for r in self.runs]
        self.ok_prefix = [0]  # ok_prefix[k] = ok runs among runs[:k]
        for r in self.runs:
            self.ok_prefix.append(self.ok_prefix[-1] + (1 if r.ok else 0))
        self.pauses = _merge_pauses(schedule.paused)
        self.pause_starts = [p[0] for p in self.pauses]
        if schedule.created_at is not None:
            self.eff_start: float | None = float(schedule.created_at)
        elif self.runs:
            self.eff_start = self.runs[0].at
        else:
            self.eff_start = None

    # pauses ---------------------------------------------------------------------------------
    def pause_at(self, t: float) -> tuple[float, float] | None:
        """The paused interval containing t ([start, end)), if any."""
        i = bisect_right(self.pause_starts, t) - 1
        if i >= 0 and t < self.pauses[i][1]:
            return self.pauses[i]
        return None

    def paused_just_before(self, t: float) -> bool:
        i = bisect_left(self.pause_starts, t) - 1
        return i >= 0 and t <= self.pauses[i][1]

    # slots ----------------------------------------------------------------------------------
    def counted(self, s: float) -> bool:
        """A slot is expected when the agent existed and was not paused."""
        if self.eff_start is None or s < self.eff_start:
            return False
        return not self.pauses or self.pause_at(s) is None

    def window(self, s: float, nxt: float) -> tuple[int, int]:
        """Index range of the runs owned by slot s: [s - early, nxt - early)."""
        early = self.schedule.early
        return bisect_left(self.times, s - early), bisect_left(self.times, nxt - early)

    def table(self, lo: float, hi: float) -> tuple[list[float], list[int]]:
        """Slots in [lo, hi] and the run-index bounds of their windows: slot k owns
        runs[bounds[k]:bounds[k + 1]]. One bisect per slot."""
        slots = slots_between(self.schedule, lo, math.nextafter(hi, _INF))
        if not slots:
            return [], []
        early = self.schedule.early
        times = self.times
        bounds = [bisect_left(times, s - early) for s in slots]
        bounds.append(bisect_left(times, next_slot(self.schedule, slots[-1]) - early))
        return slots, bounds

    def fmt(self, ms: float) -> str:
        return datetime.fromtimestamp(ms / 1000, self.tzinfo).strftime("%H:%M %Z")


# --------------------------------------------------------------------------------------------
# Per-slot matching


def _match(ctx: _Ctx, s: float, nxt: float) -> Slot:
    sched = ctx.schedule
    deadline = s + sched.grace
    if ctx.pause_at(s) is not None:
        return Slot(at=s, deadline=deadline, outcome="paused", run=None)
    i, j = ctx.window(s, nxt)
    first_failed: Run | None = None
    for idx in range(i, j):
        r = ctx.runs[idx]
        if r.ok:
            return Slot(at=s, deadline=deadline, outcome="ok" if r.at <= deadline else "late", run=r)
        if first_failed is None:
            first_failed = r
    if first_failed is not None:
        return Slot(at=s, deadline=deadline, outcome="failed", run=first_failed)
    return Slot(at=s, deadline=deadline, outcome="missed" if ctx.now >= deadline else "pending", run=None)


def match_slots(
    schedule: Schedule, runs: Iterable[Run], start: float, end: float, now: float
) -> list[Slot]:
    """Each expected slot in [start, end) (none before created_at) with its outcome.

    A slot owns the runs in [slot - early, next slot - early) that happened by `now`; it takes
    the first ok run ("ok" by the deadline, "late" after it), else the first failed run
    ("failed"), else it is "missed" once its deadline has passed and "pending" before. A slot in
    a paused interval is "paused". Runs may come in any order; a repeated run_id counts once.
    """
    ctx = _Ctx(schedule, runs, now)
    slots = slots_between(schedule, start, end)
    if schedule.created_at is not None:
        slots = slots[bisect_left(slots, schedule.created_at):]
    if not slots:
        return []
    nexts = slots[1:] + [next_slot(schedule, slots[-1])]
    return [_match(ctx, s, n) for s, n in zip(slots, nexts, strict=True)]


# --------------------------------------------------------------------------------------------
# The status timeline


# An event: (time, order, kind, payload). kind: "run" (payload Run), "miss" (payload slot ms),
# "pause" / "resume" (payload None). At the same ms a missed deadline comes first (a run is the
# newer evidence), then runs, then pause boundaries.
_Event = tuple[float, int, str, object]


def _underlying_before(ctx: _Ctx, t: float) -> tuple[str, _Event | None]:
    """The status from the latest run or missed deadline strictly before t (pauses ignored)."""
    sched = ctx.schedule
    j = bisect_left(ctx.times, t) - 1
    last_run = ctx.runs[j] if j >= 0 else None
    floor = last_run.at if last_run is not None else None
    if ctx.eff_start is not None:
        # Look for a missed deadline in (last run, t), newest first, in growing spans.
        lower = ctx.eff_start if floor is None else max(ctx.eff_start, floor - sched.grace)
        hi = math.nextafter(t - sched.grace, -_INF)  # deadline < t
        span = DAY
        while hi >= lower:
            lo = max(lower, hi - span)
            slots, bounds = ctx.table(lo, hi)
            times = ctx.times
            for k in range(len(slots) - 1, -1, -1):
                s = slots[k]
                d = s + sched.grace
                if floor is not None and d <= floor:
                    break
                i = bounds[k]
                if ctx.counted(s) and not (i < bounds[k + 1] and times[i] <= d):
                    return "down", (d, 0, "miss", s)
            if lo <= lower:
                break
            hi = math.nextafter(lo, -_INF)
            span *= 8
    if last_run is not None:
        return ("up" if last_run.ok else "failing"), (last_run.at, 1, "run", last_run)
    return "new", None


def _events(ctx: _Ctx, start: float, end: float) -> list[_Event]:
    """Runs, missed deadlines and pause boundaries in [start, end], in order."""
    sched = ctx.schedule
    events: list[_Event] = []
    i = bisect_left(ctx.times, start)
    j = bisect_right(ctx.times, end)
    events.extend((r.at, 1, "run", r) for r in ctx.runs[i:j])
    if ctx.eff_start is not None:
        lo = max(start - sched.grace, ctx.eff_start)
        slots, bounds = ctx.table(lo, end - sched.grace)
        times = ctx.times
        grace = sched.grace
        for k, s in enumerate(slots):
            i = bounds[k]
            if not (i < bounds[k + 1] and times[i] <= s + grace) and ctx.counted(s):
                events.append((s + grace, 0, "miss", s))
    for ps, pe in ctx.pauses:
        if start <= ps <= end:
            events.append((ps, 2, "pause", None))
        if start <= pe <= end:
            events.append((pe, 2, "resume", None))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def _reason(ctx: _Ctx, ev: _Event, from_status: str, to_status: str) -> str:
    at, _, kind, payload = ev
    if kind == "pause":
        return "paused"
    if kind == "resume":
        return f"pause ended; back to {to_status}"
    if kind == "miss":
        assert isinstance(payload, float)
        return f"missed the {ctx.fmt(payload)} slot"
    assert isinstance(payload, Run)
    if payload.ok:
        if from_status == "new":
            return f"first run ok at {ctx.fmt(at)}"
        if from_status in ("down", "failing"):
            return f"recovered: ran ok at {ctx.fmt(at)}"
        return f"ran ok at {ctx.fmt(at)}"
    return f"run at {ctx.fmt(at)} failed: {payload.error or 'no error given'}"


def _timeline(
    ctx: _Ctx, start: float, end: float, initial: str | None
) -> tuple[str, str, list[FlipEvent], _Event | None]:
    """Stored-status flips in [start, end].

    Returns (stored status just before start, stored status at end, flips, last underlying
    event at or before end). With `initial` None the status before start is derived from the
    runs before it; otherwise `initial` is taken as the stored status before start.
    """
    underlying, last_event = _underlying_before(ctx, start)
    in_pause = ctx.paused_just_before(start)
    if initial is None:
        stored0 = "paused" if in_pause else underlying
    else:
        stored0 = initial
    stored = stored0
    out: list[FlipEvent] = []
    for ev in _events(ctx, start, end):
        kind = ev[2]
        if kind == "run":
            run = ev[3]
            assert isinstance(run, Run)
            underlying = "up" if run.ok else "failing"
            last_event = ev
        elif kind == "miss":
            underlying = "down"
            last_event = ev
        elif kind == "pause":
            in_pause = True
        else:
            in_pause = False
        new = "paused" if in_pause else underlying
        if new != stored:
            out.append(FlipEvent(at=ev[0], from_status=stored, to_status=new,
                                 reason=_reason(ctx, ev, stored, new)))
            stored = new
    return stored0, stored, out, last_event


def flips(
    schedule: Schedule,
    runs: Iterable[Run],
    start: float,
    now: float,
    initial: str | None = "new",
) -> list[FlipEvent]:
    """Stored-status transitions in [start, now], in order (never "late").

    `initial` is the stored status before `start` (the last one recorded); pass None to derive
    it from the runs before `start`. Down flips are backdated to the deadline of the missed
    slot, failing flips happen at the failed run, up flips at the ok run, paused at the pause
    start and back to the status then due at the pause end. No flip without a change.
    """
    if initial is not None and initial not in FLIP_STATUSES:
        raise ValueError(f"initial must be one of {', '.join(FLIP_STATUSES)}, not {initial!r}")
    ctx = _Ctx(schedule, runs, now)
    start = _check_time(start, "start")
    if start > ctx.now:
        return []
    return _timeline(ctx, start, ctx.now, initial)[2]


def _since(ctx: _Ctx, stored_now: str) -> float | None:
    """When the stored status at ctx.now began: the latest flip, searched in growing spans."""
    floors = [t for t in (ctx.eff_start, ctx.times[0] if ctx.times else None,
                          ctx.pause_starts[0] if ctx.pauses else None) if t is not None]
    floor = min(floors) if floors else None
    span = DAY
    while True:
        start = ctx.now - span
        if floor is not None and start <= floor:
            start = floor
        fl = _timeline(ctx, start, ctx.now, None)[2]
        if fl:
            return fl[-1].at
        if floor is None or start <= floor:
            break
        span *= 8
    if stored_now == "new":
        return ctx.schedule.created_at
    return floor


def status_at(schedule: Schedule, runs: Iterable[Run], now: float) -> Status:
    """The agent's status at `now`, when it began, its last run, next slot and a reason."""
    ctx = _Ctx(schedule, runs, now)
    sched = schedule
    nxt = next_slot(sched, ctx.now)
    last_run = ctx.runs[-1] if ctx.runs else None
    pause = ctx.pause_at(ctx.now)
    if pause is not None:
        until = "" if math.isinf(pause[1]) else f" until {ctx.fmt(pause[1])}"
        return Status("paused", _since(ctx, "paused"), last_run, nxt,
                      f"paused since {ctx.fmt(pause[0])}{until}")
    after_now = math.nextafter(ctx.now, _INF)
    stored, event = _underlying_before(ctx, after_now)
    since = _since(ctx, stored)
    if stored == "new":
        reason = f"no run yet; first slot {ctx.fmt(nxt)}"
        return Status("new", since, last_run, nxt, reason)
    if stored == "down":
        assert event is not None and isinstance(event[3], float)
        reason = f"missed the {ctx.fmt(event[3])} slot"
        if last_run is not None:
            reason += f"; last run {ctx.fmt(last_run.at)}"
        return Status("down", since, last_run, nxt, reason)
    if stored == "failing":
        assert last_run is not None
        return Status("failing", since, last_run, nxt,
                      f"last run failed: {last_run.error or 'no error given'}")
    # up: maybe late in the current slot
    s = prev_slot(sched, ctx.now)
    if s is not None and ctx.counted(s) and ctx.now < s + sched.grace:
        i = bisect_left(ctx.times, s - sched.early)
        if i >= len(ctx.times) and ctx.now >= s + min(sched.late_after, sched.grace):
            reason = (f"no run yet for the {ctx.fmt(s)} slot; "
                      f"down at {ctx.fmt(s + sched.grace)} unless it runs")
            return Status("late", since, last_run, nxt, reason)
    assert last_run is not None
    return Status("up", since, last_run, nxt, f"last run ok at {ctx.fmt(last_run.at)}")


# --------------------------------------------------------------------------------------------
# Uptime


_DOWN = frozenset({"down", "failing"})


def _down_within(stored0: str, fl: Sequence[FlipEvent], a: float, b: float) -> float:
    """Time in down/failing within [a, b], for a timeline starting with stored0 before fl."""
    if b <= a:
        return 0.0
    total = 0.0
    status = stored0
    t = a
    for f in fl:
        if f.at <= a:
            status = f.to_status
            continue
        if f.at >= b:
            break
        if status in _DOWN:
            total += f.at - t
        t = f.at
        status = f.to_status
    if status in _DOWN:
        total += b - t
    return total


def _paused_within(ctx: _Ctx, a: float, b: float) -> float:
    total = 0.0
    for ps, pe in ctx.pauses:
        lo, hi = max(ps, a), min(pe, b)
        if hi > lo:
            total += hi - lo
    return total


def _uptimes(ctx: _Ctx, windows: Sequence[float]) -> list[Uptime]:
    """Uptime for several windows ending at ctx.now, sharing one timeline and one matching."""
    sched = ctx.schedule
    now = ctx.now
    widest = max(windows)
    if ctx.eff_start is None:
        return [Uptime(w, None, None, 0.0, 0.0, 0, 0) for w in windows]
    lower = max(now - widest, ctx.eff_start)
    if lower < now:
        stored0, _, fl, _ = _timeline(ctx, lower, now, None)
    else:
        stored0, fl = "new", []
    # Slots whose deadline passed within the widest window.
    slots, bounds = ctx.table(now - widest - sched.grace, now - sched.grace)
    okp = ctx.ok_prefix
    outcomes: list[tuple[float, bool]] = []  # (deadline, ok or late)
    for k, s in enumerate(slots):
        if ctx.counted(s):
            outcomes.append((s + sched.grace, okp[bounds[k + 1]] > okp[bounds[k]]))
    result: list[Uptime] = []
    for w in windows:
        a = max(now - w, ctx.eff_start)
        observed = max(0.0, now - a) - _paused_within(ctx, a, now) if a < now else 0.0
        down = _down_within(stored0, fl, a, now) if a < now else 0.0
        w_start = now - w
        counted = [ok for d, ok in outcomes if d >= w_start]
        expected = len(counted)
        ok_runs = sum(counted)
        result.append(Uptime(
            window=w,
            # no figure before the window holds an expected slot: a minute after registration is
            # not "100 %", and one failed beat in the first minutes is not "88.7 %"
            time_based=(1.0 - down / observed) if observed > 0 and expected else None,
            run_based=(ok_runs / expected) if expected else None,
            down_ms=down,
            observed_ms=observed,
            ok_runs=ok_runs,
            expected_runs=expected,
        ))
    return result


def uptime(schedule: Schedule, runs: Iterable[Run], now: float, window: float) -> Uptime:
    """Uptime over [now - window, now].

    Observed time is that window from creation on (the first run when created_at is None),
    minus paused intervals. `time_based` is 1 - time down-or-failing / observed; `run_based` is
    ok (or late) runs over the expected slots whose deadline passed in the window. Both are None
    until at least one expected slot's deadline passed in the window (no figure without data).
    """
    window = _check_time(window, "window")
    if window <= 0:
        raise ValueError(f"window must be positive, not {window!r}")
    return _uptimes(_Ctx(schedule, runs, now), [window])[0]


def uptime_24h_7d(schedule: Schedule, runs: Iterable[Run], now: float) -> tuple[Uptime, Uptime]:
    """Uptime over the last 24 hours and the last 7 days."""
    day, week = _uptimes(_Ctx(schedule, runs, now), [DAY, WEEK])
    return day, week

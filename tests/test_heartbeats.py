"""Heartbeat accounting with frozen time: `now` is always passed in, as Healthchecks' check-model
tests freeze it. Times are built in a named zone and turned into epoch milliseconds."""

from __future__ import annotations

import random
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from console.service.health import slots as hb
from console.service.health.slots import (
    FlipEvent,
    Run,
    Schedule,
    flips,
    match_slots,
    next_slot,
    prev_slot,
    runs_from_heartbeats,
    slots_between,
    status_at,
    uptime,
    uptime_24h_7d,
)
from console.service.models import Heartbeat

SEC = 1_000.0
MIN = 60_000.0
HOUR = 60 * MIN
DAY = 24 * HOUR

CESTRA = "*/15 * * * *"
VEDA = "2-59/15 * * * *"
ORIN = "4-59/15 * * * *"


def ms(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, tz: str = "UTC", fold: int = 0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(tz), fold=fold).timestamp() * 1000


def local(t: float, tz: str) -> str:
    return datetime.fromtimestamp(t / 1000, ZoneInfo(tz)).strftime("%m-%d %H:%M %Z")


def ok(at: float, rid: str | None = None) -> Run:
    return Run(at=at, ok=True, run_id=rid if rid is not None else f"r{int(at)}")


def bad(at: float, error: str = "gateway unreachable") -> Run:
    return Run(at=at, ok=False, error=error, run_id=f"f{int(at)}")


def beats(schedule: Schedule, start: float, end: float, offset: float = 10 * SEC) -> list[Run]:
    """An ok run `offset` after every slot in [start, end)."""
    return [ok(s + offset) for s in slots_between(schedule, start, end)]


T0 = ms(2024, 5, 7, 10, 0)  # a Tuesday in May, far from any DST change


# --------------------------------------------------------------------------------------------
# Slots


@pytest.mark.parametrize(
    ("cron", "minutes"),
    [(CESTRA, [0, 15, 30, 45]), (VEDA, [2, 17, 32, 47]), (ORIN, [4, 19, 34, 49])],
)
def test_staggered_seed_schedules(cron: str, minutes: list[int]) -> None:
    got = slots_between(Schedule(cron), T0, T0 + HOUR)
    assert got == [T0 + m * MIN for m in minutes]


def test_slots_between_is_half_open() -> None:
    s = Schedule(VEDA)
    assert slots_between(s, T0 + 2 * MIN, T0 + 17 * MIN) == [T0 + 2 * MIN]
    assert slots_between(s, T0 + 2 * MIN + 1, T0 + 17 * MIN + 1) == [T0 + 17 * MIN]
    assert slots_between(s, T0 + HOUR, T0) == []


def test_next_slot_is_strictly_after_and_prev_slot_at_or_before() -> None:
    s = Schedule(VEDA)
    assert next_slot(s, T0 + 2 * MIN) == T0 + 17 * MIN
    assert next_slot(s, T0 + 2 * MIN - 1) == T0 + 2 * MIN
    assert prev_slot(s, T0 + 2 * MIN) == T0 + 2 * MIN
    assert prev_slot(s, T0 + 2 * MIN - 1) == T0 - 13 * MIN
    assert next_slot(s, ms(2024, 5, 7, 23, 50)) == ms(2024, 5, 8, 0, 2)  # across midnight


def test_sparse_schedule_next_and_prev_beyond_a_few_days() -> None:
    yearly = Schedule("0 12 1 1 *", tz="Europe/Riga")
    assert next_slot(yearly, T0) == ms(2025, 1, 1, 12, tz="Europe/Riga")
    assert prev_slot(yearly, T0) == ms(2024, 1, 1, 12, tz="Europe/Riga")


@pytest.mark.parametrize(
    "cron",
    ["", "   ", "* * *", "61 * * * *", "* 24 * * *", "*/0 * * * *", "* * * * * *", "every 15 minutes",
     "0 0 30 2 *"],
)
def test_invalid_cron_raises_value_error(cron: str) -> None:
    with pytest.raises(ValueError, match="cron|schedule"):
        Schedule(cron)


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "../../etc/passwd", "UTC+3"])
def test_invalid_tz_raises_value_error(tz: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        Schedule(CESTRA, tz=tz)


def test_invalid_numbers_and_pauses_raise() -> None:
    with pytest.raises(ValueError, match="grace"):
        Schedule(CESTRA, grace=-1)
    with pytest.raises(ValueError, match="ends before it starts"):
        Schedule(CESTRA, paused=((T0, T0 - 1),))


# --------------------------------------------------------------------------------------------
# DST (croniter is iterated over naive wall times; aware iteration is wrong across DST)


def test_spring_forward_riga_skips_the_missing_hour() -> None:
    tz = "Europe/Riga"  # 2024-03-31 03:00 EET -> 04:00 EEST
    s = Schedule("30 * * * *", tz=tz)
    got = slots_between(s, ms(2024, 3, 31, 0, 0, tz=tz), ms(2024, 3, 31, 6, 0, tz=tz))
    assert [local(t, tz) for t in got] == [
        "03-31 00:30 EET", "03-31 01:30 EET", "03-31 02:30 EET", "03-31 04:30 EEST", "03-31 05:30 EEST",
    ]
    assert all(b - a == HOUR for a, b in zip(got, got[1:]))  # nothing lost in real time


def test_fall_back_riga_repeated_hour_gives_one_slot_in_order() -> None:
    tz = "Europe/Riga"  # 2024-10-27 04:00 EEST -> 03:00 EET: 03:xx happens twice
    s = Schedule("30 * * * *", tz=tz)
    got = slots_between(s, ms(2024, 10, 27, 1, 0, tz=tz), ms(2024, 10, 27, 6, 0, tz=tz))
    assert [local(t, tz) for t in got] == [
        "10-27 01:30 EEST", "10-27 02:30 EEST", "10-27 03:30 EEST", "10-27 04:30 EET", "10-27 05:30 EET",
    ]
    assert all(b > a for a, b in zip(got, got[1:]))
    assert got[3] - got[2] == 2 * HOUR  # the second 03:30 (EET) is not a slot


def test_daily_new_york_across_both_changes() -> None:
    tz = "America/New_York"
    daily = Schedule("30 1 * * *", tz=tz)
    fall = slots_between(daily, ms(2024, 11, 2, tz=tz), ms(2024, 11, 5, tz=tz))
    assert [local(t, tz) for t in fall] == ["11-02 01:30 EDT", "11-03 01:30 EDT", "11-04 01:30 EST"]
    assert fall[2] - fall[1] == 25 * HOUR
    at_230 = Schedule("30 2 * * *", tz=tz)  # 02:30 does not exist on 2024-03-10
    spring = slots_between(at_230, ms(2024, 3, 9, tz=tz), ms(2024, 3, 12, tz=tz))
    assert [local(t, tz) for t in spring] == ["03-09 02:30 EST", "03-11 02:30 EDT"]


@pytest.mark.parametrize("tz", ["Europe/Riga", "America/New_York", "Australia/Lord_Howe"])
def test_croniter_path_agrees_with_daily_fast_path_across_dst(tz: str) -> None:
    # A day-of-week field forces the general croniter path; `* * *` takes the fast path.
    for a, b in [(ms(2024, 3, 8, tz=tz), ms(2024, 4, 10, tz=tz)), (ms(2024, 10, 1, tz=tz), ms(2024, 11, 8, tz=tz))]:
        for fast_cron, slow_cron in [("30 1 * * *", "30 1 * * 0-6"), ("*/15 * * * *", "*/15 * * * 0-6"),
                                     ("0 2 * * *", "0 2 * * 0-6")]:
            fast = slots_between(Schedule(fast_cron, tz=tz), a, b)
            slow = slots_between(Schedule(slow_cron, tz=tz), a, b)
            assert fast == slow
            assert all(y > x for x, y in zip(fast, fast[1:]))


def test_dst_week_slot_counts_new_york() -> None:
    tz = "America/New_York"
    s = Schedule(CESTRA, tz=tz)
    # Spring forward: the missing local hour has no instants, so a UTC week still has 672 slots.
    start = ms(2024, 3, 7, tz=tz)
    assert len(slots_between(s, start, start + 7 * DAY)) == 672
    # Fall back: the repeated local hour yields its slots once, so 4 fewer.
    start = ms(2024, 10, 31, tz=tz)
    assert len(slots_between(s, start, start + 7 * DAY)) == 668


def test_status_and_uptime_across_spring_forward_in_riga() -> None:
    tz = "Europe/Riga"
    s = Schedule("0 9 * * *", tz=tz, created_at=ms(2024, 3, 27, tz=tz))
    days = [(3, 27), (3, 28), (3, 29), (3, 30), (3, 31), (4, 1), (4, 2)]  # the clocks change on 03-31
    runs = [ok(ms(2024, mo, d, 9, 0, 20, tz=tz)) for mo, d in days]
    now = ms(2024, 4, 2, 12, tz=tz)
    st = status_at(s, runs, now)
    assert st.status == "up" and st.reason == "last run ok at 09:00 EEST"
    assert local(st.next_slot, tz) == "04-03 09:00 EEST"
    _, week = uptime_24h_7d(s, runs, now)
    assert (week.expected_runs, week.ok_runs, week.run_based, week.time_based) == (7, 7, 1.0, 1.0)


# --------------------------------------------------------------------------------------------
# Matching runs to slots


def outcomes(slots: list[hb.Slot]) -> list[str]:
    return [x.outcome for x in slots]


def test_run_30s_early_belongs_to_the_upcoming_slot() -> None:
    s = Schedule(VEDA)
    run = ok(T0 + 17 * MIN - 30 * SEC)
    got = match_slots(s, [run], T0, T0 + 30 * MIN, now=T0 + 40 * MIN)
    assert outcomes(got) == ["missed", "ok"]
    assert got[1].run == run and got[0].run is None


def test_run_90s_early_does_not_belong_to_the_upcoming_slot() -> None:
    s = Schedule(VEDA, early=60 * SEC)
    run = ok(T0 + 17 * MIN - 90 * SEC)  # 10:15:30: in the 10:02 slot's window, after its deadline
    got = match_slots(s, [run], T0, T0 + 30 * MIN, now=T0 + 40 * MIN)
    assert outcomes(got) == ["late", "missed"]
    assert got[0].run == run


def test_one_run_is_never_matched_to_two_slots() -> None:
    s = Schedule(VEDA, grace=20 * MIN)  # deadlines overlap the next slot
    run = ok(T0 + 20 * MIN)
    got = match_slots(s, [run], T0, T0 + 30 * MIN, now=T0 + 60 * MIN)
    assert outcomes(got) == ["missed", "ok"]
    assert sum(1 for x in got if x.run is not None) == 1


def test_outcomes_ok_late_failed_missed_pending() -> None:
    s = Schedule(CESTRA, grace=5 * MIN)
    runs = [
        ok(T0 + 10 * SEC),                 # 10:00 ok
        ok(T0 + 15 * MIN + 7 * MIN),       # 10:15 late (after 10:20)
        bad(T0 + 30 * MIN + 20 * SEC),     # 10:30 failed
        # 10:45 missed, 11:00 pending
    ]
    got = match_slots(s, runs, T0, T0 + 61 * MIN, now=T0 + 61 * MIN)
    assert outcomes(got) == ["ok", "late", "failed", "missed", "pending"]
    assert [x.deadline - x.at for x in got] == [5 * MIN] * 5
    assert got[2].run is not None and got[2].run.error == "gateway unreachable"


def test_first_ok_run_wins_over_an_earlier_failure() -> None:
    s = Schedule(CESTRA)
    retry = ok(T0 + 2 * MIN)
    got = match_slots(s, [bad(T0 + 10 * SEC), retry], T0, T0 + 1, now=T0 + 10 * MIN)
    assert got[0].outcome == "ok" and got[0].run == retry


def test_duplicate_runs_count_once() -> None:
    s = Schedule(CESTRA, created_at=T0)
    runs = [ok(T0 + 10 * SEC, "a"), ok(T0 + 10 * SEC, "a"), ok(T0 + 20 * SEC, "a"),
            Run(T0 + 15 * MIN + 5 * SEC, True), Run(T0 + 15 * MIN + 5 * SEC, True)]
    got = match_slots(s, runs, T0, T0 + 30 * MIN, now=T0 + 30 * MIN)
    assert outcomes(got) == ["ok", "ok"]
    assert got[0].run == ok(T0 + 10 * SEC, "a")  # the earliest copy
    day = uptime(s, runs, T0 + 30 * MIN, DAY)
    assert (day.ok_runs, day.expected_runs) == (2, 2)
    # The same run recorded again with another time still is one run, owned by one slot.
    again = [ok(T0 + 10 * SEC, "a"), ok(T0 + 15 * MIN + 10 * SEC, "a")]
    assert outcomes(match_slots(s, again, T0, T0 + 30 * MIN, now=T0 + 30 * MIN)) == ["ok", "missed"]
    assert uptime(s, again, T0 + 30 * MIN, DAY).ok_runs == 1


def test_out_of_order_runs_give_the_same_answers() -> None:
    s = Schedule(VEDA, created_at=T0 - DAY)
    runs = beats(s, T0 - DAY, T0 + 2 * HOUR)
    del runs[50]
    runs.append(bad(T0 + 10 * MIN))
    shuffled = runs[:]
    random.Random(7).shuffle(shuffled)
    now = T0 + 2 * HOUR
    assert match_slots(s, shuffled, T0 - DAY, now, now) == match_slots(s, runs, T0 - DAY, now, now)
    assert status_at(s, shuffled, now) == status_at(s, runs, now)
    assert uptime_24h_7d(s, shuffled, now) == uptime_24h_7d(s, runs, now)
    assert flips(s, shuffled, T0 - DAY, now) == flips(s, runs, T0 - DAY, now)


def test_match_excludes_slots_before_created_at_and_marks_paused() -> None:
    s = Schedule(CESTRA, created_at=T0 + 10 * MIN, paused=((T0 + 29 * MIN, T0 + 31 * MIN),))
    got = match_slots(s, [], T0, T0 + HOUR, now=T0 + 2 * HOUR)
    assert [x.at for x in got] == [T0 + 15 * MIN, T0 + 30 * MIN, T0 + 45 * MIN]
    assert outcomes(got) == ["missed", "paused", "missed"]


def test_runs_in_the_future_are_ignored() -> None:
    s = Schedule(CESTRA)
    got = match_slots(s, [ok(T0 + 3 * MIN)], T0, T0 + 1, now=T0 + 2 * MIN)
    assert outcomes(got) == ["pending"]


# --------------------------------------------------------------------------------------------
# Status


def test_new_without_runs_or_creation() -> None:
    st = status_at(Schedule(VEDA), [], T0)
    assert (st.status, st.since, st.last_run) == ("new", None, None)
    assert st.next_slot == T0 + 2 * MIN
    assert "no run yet" in st.reason


def test_new_after_creation_until_the_first_deadline() -> None:
    s = Schedule(VEDA, created_at=T0)
    st = status_at(s, [], T0 + 6 * MIN)  # 10:02 slot, deadline 10:07
    assert (st.status, st.since) == ("new", T0)
    st = status_at(s, [], T0 + 7 * MIN)
    assert (st.status, st.since) == ("down", T0 + 7 * MIN)
    assert st.reason == "missed the 10:02 UTC slot"


def test_up_since_first_run() -> None:
    s = Schedule(VEDA, created_at=T0)
    runs = beats(s, T0, T0 + HOUR)
    st = status_at(s, runs, T0 + 50 * MIN)
    assert st.status == "up"
    assert st.since == T0 + 2 * MIN + 10 * SEC
    assert st.last_run == runs[-1]
    assert st.reason == "last run ok at 10:47 UTC"
    assert st.next_slot == T0 + 62 * MIN


def test_late_inside_grace_is_derived_not_stored() -> None:
    s = Schedule(VEDA, created_at=T0)
    runs = beats(s, T0, T0 + 15 * MIN)  # only the 10:02 slot ran
    slot = T0 + 17 * MIN
    assert status_at(s, runs, slot + 59 * SEC).status == "up"
    st = status_at(s, runs, slot + 60 * SEC)
    assert st.status == "late"
    assert st.since == T0 + 2 * MIN + 10 * SEC  # still up since the first run
    assert st.reason == "no run yet for the 10:17 UTC slot; down at 10:22 UTC unless it runs"
    assert status_at(s, runs, slot + 5 * MIN).status == "down"
    assert all(f.to_status != "late" for f in flips(s, runs, T0, slot + 4 * MIN))


def test_late_after_is_a_parameter_and_capped_at_grace() -> None:
    runs = [ok(T0 + 10 * SEC)]
    eager = Schedule(CESTRA, created_at=T0, late_after=0)
    assert status_at(eager, runs, T0 + 15 * MIN).status == "late"
    capped = Schedule(CESTRA, created_at=T0, late_after=HOUR, grace=10 * MIN)
    assert status_at(capped, runs, T0 + 15 * MIN + 9 * MIN).status == "up"  # late only from grace…
    assert status_at(capped, runs, T0 + 25 * MIN).status == "down"  # …which is the deadline


def test_a_run_30s_early_keeps_the_status_up() -> None:
    s = Schedule(VEDA, created_at=T0)
    runs = [ok(T0 + 2 * MIN), ok(T0 + 17 * MIN - 30 * SEC)]
    assert status_at(s, runs, T0 + 19 * MIN).status == "up"
    assert status_at(s, runs, T0 + 25 * MIN).status == "up"  # past the 10:17 slot's deadline
    u = uptime(s, runs, T0 + 25 * MIN, HOUR)
    assert (u.down_ms, u.ok_runs, u.expected_runs) == (0.0, 2, 2)
    skewed = [ok(T0 + 2 * MIN), ok(T0 + 17 * MIN - 90 * SEC)]  # too early: counts for 10:02 again
    assert status_at(s, skewed, T0 + 25 * MIN).status == "down"


def test_down_backdated_to_the_deadline() -> None:
    s = Schedule(VEDA, created_at=T0)
    runs = [ok(T0 + 2 * MIN + 10 * SEC)]
    now = T0 + 40 * MIN
    st = status_at(s, runs, now)
    assert st.status == "down"
    assert st.since == T0 + 22 * MIN  # 10:17 + 5 min grace
    assert st.reason == "missed the 10:32 UTC slot; last run 10:02 UTC"
    fl = flips(s, runs, T0, now)
    assert fl[-1] == FlipEvent(T0 + 22 * MIN, "up", "down", "missed the 10:17 UTC slot")
    assert [f.to_status for f in fl] == ["up", "down"]  # missing 10:32 too is no new flip


def test_failing_at_once_inside_the_current_slot() -> None:
    s = Schedule(VEDA, created_at=T0)
    failed = bad(T0 + 17 * MIN + 20 * SEC, "gateway token mismatch (1008 unauthorized)")
    runs = [ok(T0 + 2 * MIN + 10 * SEC), failed]
    st = status_at(s, runs, T0 + 18 * MIN)  # before the 10:22 deadline
    assert st.status == "failing"
    assert st.since == failed.at
    assert st.last_run == failed
    assert st.reason == "last run failed: gateway token mismatch (1008 unauthorized)"


def test_failing_then_missed_goes_down_and_recovers_to_up() -> None:
    s = Schedule(VEDA, created_at=T0)
    r1, f1, r3 = ok(T0 + 2 * MIN + 10 * SEC), bad(T0 + 17 * MIN + 10 * SEC), ok(T0 + 47 * MIN + 10 * SEC)
    runs = [r1, f1, r3]  # 10:32 missed
    assert status_at(s, runs, T0 + 38 * MIN).status == "down"
    st = status_at(s, runs, T0 + 50 * MIN)
    assert (st.status, st.since, st.last_run) == ("up", r3.at, r3)
    assert [(f.from_status, f.to_status, f.at) for f in flips(s, runs, T0, T0 + 50 * MIN)] == [
        ("new", "up", r1.at), ("up", "failing", f1.at), ("failing", "down", T0 + 37 * MIN), ("down", "up", r3.at),
    ]


def test_paused_and_back() -> None:
    pause = (T0 + 20 * MIN, T0 + 80 * MIN)
    s = Schedule(VEDA, created_at=T0, paused=(pause,))
    runs = [ok(T0 + 2 * MIN + 10 * SEC), ok(T0 + 17 * MIN + 10 * SEC)]  # nothing during the pause
    st = status_at(s, runs, T0 + 30 * MIN)
    assert (st.status, st.since) == ("paused", pause[0])
    assert st.reason == "paused since 10:20 UTC until 11:20 UTC"
    st = status_at(s, runs, T0 + 81 * MIN)  # paused slots are not missed
    assert (st.status, st.since) == ("up", pause[1])
    assert status_at(s, runs, T0 + 93 * MIN).status == "late"  # the 11:32 slot is now expected
    assert [(f.from_status, f.to_status, f.at) for f in flips(s, runs, T0, T0 + 2 * HOUR)] == [
        ("new", "up", runs[0].at), ("up", "paused", pause[0]), ("paused", "up", pause[1]),
        ("up", "down", T0 + 97 * MIN),
    ]


def test_open_ended_pause() -> None:
    s = Schedule(VEDA, created_at=T0, paused=((T0 + 20 * MIN, None),))
    st = status_at(s, [ok(T0 + 2 * MIN)], T0 + 5 * DAY)
    assert (st.status, st.since, st.reason) == ("paused", T0 + 20 * MIN, "paused since 10:20 UTC")


def test_status_reason_uses_the_schedule_time_zone() -> None:
    tz = "Europe/Riga"
    s = Schedule(VEDA, tz=tz, created_at=T0)
    st = status_at(s, [], T0 + 8 * MIN)
    assert st.reason == "missed the 13:02 EEST slot"


# --------------------------------------------------------------------------------------------
# Flips


def test_flips_only_on_change_and_never_late() -> None:
    s = Schedule(CESTRA, created_at=T0)
    runs = beats(s, T0, T0 + 3 * HOUR)
    fl = flips(s, runs, T0, T0 + 3 * HOUR)
    assert fl == [FlipEvent(T0 + 10 * SEC, "new", "up", "first run ok at 10:00 UTC")]


def test_flips_from_a_stored_status() -> None:
    s = Schedule(CESTRA, created_at=T0 - DAY)
    runs = beats(s, T0 - DAY, T0 + HOUR)
    assert flips(s, runs, T0, T0 + HOUR, initial="up") == []
    assert flips(s, runs, T0, T0 + HOUR, initial=None) == []  # derived from the runs before
    fl = flips(s, runs, T0, T0 + HOUR, initial="down")
    assert [(f.from_status, f.to_status, f.at, f.reason) for f in fl] == [
        ("down", "up", T0 + 10 * SEC, "recovered: ran ok at 10:00 UTC"),
    ]
    with pytest.raises(ValueError):
        flips(s, runs, T0, T0 + HOUR, initial="late")


def test_flip_reasons_in_words() -> None:
    s = Schedule(CESTRA, created_at=T0, paused=((T0 + HOUR, T0 + 2 * HOUR),))
    runs = [ok(T0 + 10 * SEC), bad(T0 + 15 * MIN + 10 * SEC, "WhatsApp session logged out")]
    reasons = [f.reason for f in flips(s, runs, T0, T0 + 3 * HOUR)]
    assert reasons == [
        "first run ok at 10:00 UTC",
        "run at 10:15 UTC failed: WhatsApp session logged out",
        "missed the 10:30 UTC slot",
        "paused",
        "pause ended; back to down",
    ]


# --------------------------------------------------------------------------------------------
# Uptime


def test_uptime_exact_numbers_for_one_missed_slot() -> None:
    now = ms(2024, 5, 8)
    s = Schedule(VEDA, created_at=now - 7 * DAY)
    runs = [r for r in beats(s, now - 7 * DAY, now) if r.at != ms(2024, 5, 7, 10, 2, 10)]
    day, week = uptime_24h_7d(s, runs, now)
    down = ms(2024, 5, 7, 10, 17, 10) - ms(2024, 5, 7, 10, 7)  # deadline -> next run: 10 min 10 s
    assert down == 610 * SEC
    assert (day.down_ms, day.observed_ms, day.ok_runs, day.expected_runs) == (down, DAY, 95, 96)
    assert day.time_based == pytest.approx(1 - 610 / 86_400)
    assert day.run_based == pytest.approx(95 / 96)
    assert (week.down_ms, week.observed_ms, week.ok_runs, week.expected_runs) == (down, 7 * DAY, 671, 672)
    assert week.time_based == pytest.approx(1 - 610 / 604_800)
    assert week.run_based == pytest.approx(671 / 672)
    assert uptime(s, runs, now, DAY) == day and uptime(s, runs, now, 7 * DAY) == week


def test_a_missed_15_minute_slot_costs_15_minutes_minus_grace() -> None:
    s = Schedule(CESTRA, created_at=T0, grace=5 * MIN)
    runs = [ok(T0), ok(T0 + 30 * MIN), ok(T0 + 45 * MIN)]  # 10:15 missed; runs exactly on the slot
    u = uptime(s, runs, T0 + HOUR, HOUR)
    assert u.down_ms == 10 * MIN
    assert (u.ok_runs, u.expected_runs) == (3, 4)  # the 11:00 slot's deadline has not passed


def test_failing_counts_as_down_and_late_runs_count_as_ok() -> None:
    s = Schedule(CESTRA, created_at=T0, grace=5 * MIN)
    runs = [
        ok(T0 + 10 * SEC),
        bad(T0 + 15 * MIN + 10 * SEC),     # failing from 10:15:10 …
        ok(T0 + 30 * MIN + 8 * MIN),       # … and missed at 10:35, back up (late) at 10:38
        ok(T0 + 45 * MIN + 10 * SEC),
    ]
    u = uptime(s, runs, T0 + HOUR, HOUR)
    assert u.down_ms == 38 * MIN - (15 * MIN + 10 * SEC)
    assert (u.ok_runs, u.expected_runs) == (3, 4)  # ok, failed, late, ok
    assert u.time_based == pytest.approx(1 - (22 * MIN + 50 * SEC) / HOUR)
    assert u.run_based == 0.75


def test_currently_down_counts_until_now_not_beyond() -> None:
    s = Schedule(CESTRA, created_at=T0)
    u = uptime(s, [ok(T0 + 10 * SEC)], T0 + HOUR, DAY)
    assert u.observed_ms == HOUR  # nothing before creation, nothing in the future
    assert u.down_ms == HOUR - 20 * MIN  # down from the 10:15 slot's deadline
    assert (u.ok_runs, u.expected_runs) == (1, 4)  # 10:00-10:45; 11:00's deadline has not passed


def test_agent_created_mid_window() -> None:
    now = ms(2024, 5, 8)
    s = Schedule(ORIN, created_at=now - 6 * HOUR)
    runs = beats(s, now - 6 * HOUR, now)
    day, week = uptime_24h_7d(s, runs, now)
    for u in (day, week):
        assert (u.observed_ms, u.down_ms, u.ok_runs, u.expected_runs) == (6 * HOUR, 0.0, 24, 24)
        assert u.time_based == 1.0 and u.run_based == 1.0


def test_created_at_unknown_counts_from_the_first_run() -> None:
    now = ms(2024, 5, 8)
    s = Schedule(CESTRA)
    runs = [ok(t + 10 * SEC) for t in slots_between(s, now - 2 * HOUR, now)]
    u = uptime(s, runs, now, DAY)
    assert u.observed_ms == 2 * HOUR - 10 * SEC
    assert (u.down_ms, u.ok_runs, u.expected_runs) == (0.0, 7, 7)  # 22:00's slot is before the first run
    assert status_at(s, runs, now).status == "up"


def test_paused_time_is_not_observed_nor_expected() -> None:
    now = ms(2024, 5, 8)
    pause = (now - 10 * HOUR, now - 8 * HOUR)
    s = Schedule(CESTRA, created_at=now - 2 * DAY, paused=(pause,))
    runs = [r for r in beats(s, now - 2 * DAY, now) if not pause[0] <= r.at < pause[1]]
    u = uptime(s, runs, now, DAY)
    assert u.observed_ms == 22 * HOUR
    assert (u.down_ms, u.ok_runs, u.expected_runs) == (0.0, 88, 88)
    assert u.time_based == 1.0


def test_nothing_observed_gives_none() -> None:
    day, week = uptime_24h_7d(Schedule(CESTRA), [], T0)
    for u in (day, week):
        assert (u.time_based, u.run_based, u.observed_ms, u.expected_runs) == (None, None, 0.0, 0)
    # registered two minutes ago, no slot due yet: no figure at all (issue 15: never "100 %"
    # without data), though two minutes were observed
    fresh = uptime(Schedule(CESTRA, created_at=T0), [], T0 + 2 * MIN, DAY)
    assert (fresh.time_based, fresh.run_based, fresh.observed_ms) == (None, None, 2 * MIN)


def test_uptime_appears_with_the_first_expected_slot() -> None:
    s = Schedule(CESTRA, created_at=T0 + MIN)  # */15, grace 5 min; registered between two slots
    first = next_slot(s, T0 + MIN)
    before = uptime(s, [], first + s.grace - 1, DAY)
    assert before.time_based is None and before.expected_runs == 0
    beat = Run(first + 10_000, True)
    after = uptime(s, [beat], first + s.grace + 1, DAY)
    assert after.expected_runs == 1 and after.time_based == 1.0 and after.run_based == 1.0


# --------------------------------------------------------------------------------------------
# Conversion and performance


def test_runs_from_heartbeats() -> None:
    rows = [
        Heartbeat(id="1", agent_id="veda", at=T0, outcome="ok", source="push", run_id="a"),
        Heartbeat(id="2", agent_id="veda", at=T0 + MIN, outcome="error", source="openclaw", run_id="b",
                  error="gateway unreachable"),
    ]
    assert runs_from_heartbeats(rows) == [Run(T0, True, None, "a"), Run(T0 + MIN, False, "gateway unreachable", "b")]


def test_seven_days_of_runs_evaluate_fast() -> None:
    now = ms(2024, 5, 8, 0, 5)
    s = Schedule(VEDA, created_at=now - 7 * DAY)
    runs = beats(s, now - 7 * DAY, now)
    assert len(runs) == 7 * 96
    status_at(s, runs, now)  # warm the slot cache, as a running console would be
    # CPU time of this thread: pure maths, so a machine busy with other work does not count
    t = time.thread_time()
    st = status_at(s, runs, now)
    day, week = uptime_24h_7d(s, runs, now)
    elapsed = time.thread_time() - t
    assert st.status == "up" and week.run_based == 1.0 and day.time_based == 1.0
    assert elapsed < 0.050, f"status + uptimes took {elapsed * 1000:.1f} ms"
    hb._day_slots.cache_clear()  # and cold
    t = time.thread_time()
    status_at(s, runs, now)
    uptime_24h_7d(s, runs, now)
    assert time.thread_time() - t < 0.050

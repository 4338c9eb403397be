import datetime as dt
import pickle
from zoneinfo import ZoneInfo

import pytest

from data.planner import (
    Plan,
    Slot,
    instants,
    make_plan,
    next_instant,
    nudge_times,
    quiet_hours,
    slots,
    upcoming,
    with_clock,
)
from scheduler.triggers import NudgeTrigger

UTC = dt.timezone.utc
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def daily(at, timezone, after, until, routine=None, **kwargs):
    return nudge_times(
        routine=routine or {},
        timezone=timezone,
        schedule={"days": list(EVERY_DAY), "at": at},
        after=after,
        until=until,
        **kwargs,
    )


def local(times, timezone):
    return [t.astimezone(ZoneInfo(timezone)).strftime("%a %d %H:%M %Z") for t in times]


# --- slots --------------------------------------------------------------------------


def test_fixed_days_and_time():
    assert slots({"days": ["mon", "fri"], "at": "08:15"}, {}) == [Slot(("mon", "fri"), "08:15")]


def test_times_per_week_spread_over_the_week_and_the_preferred_times():
    routine = {"preferred_times": ["19:30", "08:15"]}
    # Mon, Wed, Fri, taking the preferred times in turn, earliest first.
    assert slots({"times_per_week": 3}, routine) == [
        Slot(("mon", "fri"), "08:15"),
        Slot(("wed",), "19:30"),
    ]
    assert slots({"times_per_week": 1}, {}) == [Slot(("mon",), "19:00")]
    assert slots({"times_per_week": 7}, routine) == [
        Slot(("mon", "wed", "fri", "sun"), "08:15"),
        Slot(("tue", "thu", "sat"), "19:30"),
    ]
    # More than daily: some days twice, at two different times.
    assert slots({"times_per_week": 10}, routine) == [
        Slot(("mon", "tue", "wed", "fri", "sat"), "08:15"),
        Slot(("mon", "wed", "thu", "fri", "sun"), "19:30"),
    ]
    assert slots({"times_per_week": 14}, routine) == [Slot(EVERY_DAY, "08:15"), Slot(EVERY_DAY, "19:30")]
    assert slots({"times_per_week": 30}, routine) == slots({"times_per_week": 14}, routine)
    assert len({s.at for s in slots({"times_per_week": 9}, {})}) == 2  # never the same minute twice
    assert slots({"times_per_week": 0}, routine) == []


def test_times_per_week_never_bunches_on_one_day():
    for n in range(1, 15):
        found = slots({"times_per_week": n}, {"preferred_times": ["08:00", "13:00", "19:00"]})
        per_day = {d: sum(d in s.days for s in found) for d in EVERY_DAY}
        assert sum(per_day.values()) == n
        assert max(per_day.values()) - min(per_day.values()) <= 1


def test_the_patients_own_time_replaces_the_plans():
    found = slots({"times_per_week": 10}, {"preferred_times": ["08:00", "19:00"]})
    assert with_clock(found, "07:15") == [Slot(EVERY_DAY, "07:15")]
    assert with_clock(found, None) == found


def test_quiet_hours_default_to_the_night():
    assert quiet_hours({"quiet_hours": ["22:00", "07:00"], "sleep": "23:00", "wake": "07:30"}) == (
        "22:00",
        "07:00",
    )
    assert quiet_hours({"sleep": "23:00", "wake": "07:30", "quiet_hours": None}) == ("23:00", "07:30")
    assert quiet_hours({"sleep": "23:00"}) is None
    assert quiet_hours({}) is None


# --- clock changes --------------------------------------------------------------------


def test_london_spring_forward_gap_moves_to_the_first_valid_minute_once():
    # Sunday 29 March 2026: 01:00 GMT becomes 02:00 BST; 01:30 never happens.
    fires = daily("01:30", "Europe/London", utc(2026, 3, 28), utc(2026, 3, 31))
    assert fires == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]
    assert local(fires, "Europe/London") == ["Sat 28 01:30 GMT", "Sun 29 02:00 BST", "Mon 30 01:30 BST"]


def test_london_autumn_repeat_fires_once_at_the_first():
    # Sunday 25 October 2026: 02:00 BST becomes 01:00 GMT; 01:30 happens twice.
    fires = daily("01:30", "Europe/London", utc(2026, 10, 24), utc(2026, 10, 27))
    assert fires == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    assert local(fires, "Europe/London") == ["Sat 24 01:30 BST", "Sun 25 01:30 BST", "Mon 26 01:30 GMT"]


def test_the_trigger_moves_on_at_the_autumn_repeat():
    # CronTrigger 3.11 returned the repeated 01:30 over and over here.
    trig = NudgeTrigger.from_plan(
        make_plan(routine={}, timezone="Europe/London", schedule={"days": ["sun"], "at": "01:30"})
    )
    first = trig.get_next_fire_time(None, utc(2026, 10, 24))
    second = trig.get_next_fire_time(first, first)
    assert first == utc(2026, 10, 25, 0, 30)
    assert second == utc(2026, 11, 1, 1, 30)
    assert trig.get_next_fire_time(first, utc(2026, 10, 25, 1, 30)) == second  # not the second 01:30


def test_new_york_both_changes():
    # 8 March 2026 02:00 EST → 03:00 EDT; 1 November 2026 02:00 EDT → 01:00 EST.
    spring = daily("02:30", "America/New_York", utc(2026, 3, 8), utc(2026, 3, 9))
    assert spring == [utc(2026, 3, 8, 7, 0)]
    assert local(spring, "America/New_York") == ["Sun 08 03:00 EDT"]
    autumn = daily("01:30", "America/New_York", utc(2026, 11, 1), utc(2026, 11, 2))
    assert autumn == [utc(2026, 11, 1, 5, 30)]
    assert local(autumn, "America/New_York") == ["Sun 01 01:30 EDT"]


def test_sydney_southern_hemisphere():
    # Summer time ends 5 April 2026 (03:00 AEDT → 02:00 AEST), starts 4 October 2026 (02:00 → 03:00).
    april = daily("02:30", "Australia/Sydney", utc(2026, 4, 4, 12), utc(2026, 4, 5, 12))
    assert april == [utc(2026, 4, 4, 15, 30)]
    assert local(april, "Australia/Sydney") == ["Sun 05 02:30 AEDT"]
    october = daily("02:30", "Australia/Sydney", utc(2026, 10, 3, 12), utc(2026, 10, 4, 12))
    assert october == [utc(2026, 10, 3, 16, 0)]
    assert local(october, "Australia/Sydney") == ["Sun 04 03:00 AEDT"]


def test_half_and_three_quarter_hour_zones():
    assert daily("08:00", "Asia/Kolkata", utc(2026, 6, 1), utc(2026, 6, 2)) == [utc(2026, 6, 1, 2, 30)]
    assert daily("08:00", "Asia/Kathmandu", utc(2026, 6, 1), utc(2026, 6, 2)) == [utc(2026, 6, 1, 2, 15)]
    # Adelaide: +10:30 in summer, +09:30 in winter; the same change days as Sydney.
    assert daily("08:00", "Australia/Adelaide", utc(2026, 1, 5), utc(2026, 1, 6)) == [utc(2026, 1, 5, 21, 30)]
    assert daily("08:00", "Australia/Adelaide", utc(2026, 6, 5), utc(2026, 6, 6)) == [utc(2026, 6, 5, 22, 30)]
    spring = daily("02:15", "Australia/Adelaide", utc(2026, 10, 3, 12), utc(2026, 10, 4, 12))
    assert local(spring, "Australia/Adelaide") == ["Sun 04 03:00 ACDT"]
    assert spring == [utc(2026, 10, 3, 16, 30)]
    autumn = daily("02:15", "Australia/Adelaide", utc(2026, 4, 4, 12), utc(2026, 4, 5, 12))
    assert autumn == [utc(2026, 4, 4, 15, 45)]  # the first 02:15, at +10:30


def test_chatham_islands():
    # +12:45 in winter, +13:45 in summer; the clock jumps 02:45 → 03:45 on 27 September 2026
    # and falls back 03:45 → 02:45 on 5 April 2026.
    zone = "Pacific/Chatham"
    assert daily("08:00", zone, utc(2026, 6, 1), utc(2026, 6, 2)) == [utc(2026, 6, 1, 19, 15)]
    spring = daily("03:00", zone, utc(2026, 9, 26, 12), utc(2026, 9, 27, 12))
    assert spring == [utc(2026, 9, 26, 14, 0)]
    assert spring[0].astimezone(ZoneInfo(zone)).strftime("%H:%M %z") == "03:45 +1345"
    autumn = daily("03:00", zone, utc(2026, 4, 4, 12), utc(2026, 4, 5, 12))
    assert autumn == [utc(2026, 4, 4, 13, 15)]
    assert autumn[0].astimezone(ZoneInfo(zone)).strftime("%H:%M %z") == "03:00 +1345"


def test_local_wall_clock_holds_across_the_clock_change():
    # Europe/London leaves summer time on Sunday 25 October 2026.
    trig = NudgeTrigger(slots=[Slot(("fri", "mon"), "19:30")], timezone="Europe/London")
    fires = upcoming([trig], utc(2026, 10, 20), 2)
    assert [f.astimezone(ZoneInfo("Europe/London")).strftime("%a %H:%M") for f in fires] == [
        "Fri 19:30",
        "Mon 19:30",
    ]
    assert [f.astimezone(UTC).hour for f in fires] == [18, 19]


# --- quiet hours, pauses, dates -----------------------------------------------------------


def test_quiet_hours_wrapping_midnight():
    routine = {"quiet_hours": ["22:00", "07:00"]}
    window = (utc(2026, 6, 1), utc(2026, 6, 2))  # London, BST
    assert local(daily("23:30", "Europe/London", *window, routine=routine), "Europe/London") == [
        "Mon 01 21:59 BST"  # evening: just before quiet starts
    ]
    assert local(daily("05:00", "Europe/London", *window, routine=routine), "Europe/London") == [
        "Mon 01 07:00 BST"  # early morning: when quiet ends
    ]
    assert local(daily("12:00", "Europe/London", *window, routine=routine), "Europe/London") == [
        "Mon 01 12:00 BST"
    ]


def test_quiet_hours_from_sleep_and_wake():
    routine = {"sleep": "23:00", "wake": "07:30"}
    fires = daily("06:00", "Europe/London", utc(2026, 6, 1), utc(2026, 6, 2), routine=routine)
    assert local(fires, "Europe/London") == ["Mon 01 07:30 BST"]


def test_quiet_hours_in_the_day_go_to_the_nearest_side():
    routine = {"quiet_hours": ["13:00", "15:00"]}
    window = (utc(2026, 1, 5), utc(2026, 1, 6))
    assert local(daily("13:30", "UTC", *window, routine=routine), "UTC") == ["Mon 05 12:59 UTC"]
    assert local(daily("14:30", "UTC", *window, routine=routine), "UTC") == ["Mon 05 15:00 UTC"]
    assert local(daily("14:00", "UTC", *window, routine=routine), "UTC") == ["Mon 05 15:00 UTC"]  # tie


def test_two_slots_moved_onto_one_minute_nudge_once():
    routine = {"quiet_hours": ["22:00", "07:00"]}
    fires = nudge_times(
        routine=routine,
        timezone="UTC",
        schedule={"times_per_week": 14},
        after=utc(2026, 1, 5),
        until=utc(2026, 1, 6),
        clock=None,
    ) + nudge_times(
        routine={**routine, "preferred_times": ["22:30", "23:30"]},
        timezone="UTC",
        schedule={"times_per_week": 14},
        after=utc(2026, 1, 6),
        until=utc(2026, 1, 7),
    )
    assert fires == [utc(2026, 1, 5, 12), utc(2026, 1, 5, 19), utc(2026, 1, 6, 21, 59)]


def test_a_gap_that_lands_in_quiet_hours_goes_to_the_nearest_allowed_minute():
    # London spring day: 01:00-02:00 does not exist; 02:00 is quiet, so 00:59 is nearest.
    fires = daily(
        "01:30",
        "Europe/London",
        utc(2026, 3, 29),
        utc(2026, 3, 30),
        routine={"quiet_hours": ["02:00", "07:00"]},
    )
    assert fires == [utc(2026, 3, 29, 0, 59)]
    fires = daily(
        "01:30",
        "Europe/London",
        utc(2026, 3, 29),
        utc(2026, 3, 30),
        routine={"quiet_hours": ["02:30", "07:00"]},
    )
    assert fires == [utc(2026, 3, 29, 1, 0)]


def test_pause_windows():
    pauses = [(utc(2026, 12, 2), utc(2026, 12, 4, 9))]  # the end is not paused
    fires = daily("09:00", "Europe/London", utc(2026, 12, 1), utc(2026, 12, 6), pauses=pauses)
    assert [f.day for f in fires] == [1, 4, 5]


def test_start_and_end_dates_bound_the_nudges():
    kwargs = {"start": dt.date(2026, 12, 1), "end": dt.date(2026, 12, 3)}
    fires = daily("08:00", "Asia/Kolkata", utc(2026, 11, 1), utc(2027, 1, 1), **kwargs)
    local_times = [f.astimezone(ZoneInfo("Asia/Kolkata")) for f in fires]
    assert [d.day for d in local_times] == [1, 2, 3]
    assert all(d.strftime("%H:%M") == "08:00" for d in local_times)
    assert fires[0].strftime("%H:%M") == "02:30"  # a half-hour offset zone
    # Local dates: 00:30 on 1 December in Auckland is still 30 November in UTC.
    fires = daily("00:30", "Pacific/Auckland", utc(2026, 11, 1), utc(2027, 1, 1), **kwargs)
    assert fires[0] == utc(2026, 11, 30, 11, 30) and len(fires) == 3


# --- frequency -----------------------------------------------------------------------------


def _per_week(schedule, weeks=4, frequency=0.5):
    fires = nudge_times(
        routine={"preferred_times": ["08:00", "19:00"]},
        timezone="Europe/Berlin",
        schedule=schedule,
        after=utc(2026, 1, 4, 23),  # Monday 5 January, local midnight
        until=utc(2026, 1, 4, 23) + dt.timedelta(weeks=weeks),
        frequency=frequency,
    )
    zone = ZoneInfo("Europe/Berlin")
    counts = [0] * weeks
    for f in fires:
        counts[(f.astimezone(zone).date() - dt.date(2026, 1, 5)).days // 7] += 1
    return fires, counts


def test_halving_keeps_every_other_occurrence_and_at_least_one_a_week():
    fires, counts = _per_week({"days": list(EVERY_DAY), "at": "08:00"})
    assert counts == [4, 4, 4, 4]  # Mon, Wed, Fri, Sun
    assert {f.strftime("%a") for f in fires} == {"Mon", "Wed", "Fri", "Sun"}
    assert _per_week({"times_per_week": 3})[1] == [2, 2, 2, 2]
    assert _per_week({"times_per_week": 1})[1] == [1, 1, 1, 1]
    assert _per_week({"times_per_week": 14})[1] == [7, 7, 7, 7]
    assert _per_week({"times_per_week": 3}, frequency=0.01)[1] == [1, 1, 1, 1]
    assert _per_week({"times_per_week": 5}, frequency=1)[1] == [5, 5, 5, 5]


def test_halving_is_stable_whatever_the_window():
    plan = make_plan(
        routine={}, timezone="Asia/Tokyo", schedule={"days": list(EVERY_DAY), "at": "10:00"}, frequency=0.5
    )
    whole = instants(plan, utc(2026, 2, 1), utc(2026, 3, 1))
    pieces = []
    for day in range(1, 29):
        pieces += instants(plan, utc(2026, 2, day), utc(2026, 2, day) + dt.timedelta(days=1))
    assert whole == pieces


def test_frequency_must_be_a_fraction():
    with pytest.raises(ValueError):
        Plan(slots=(), timezone="UTC", frequency=0)
    with pytest.raises(ValueError):
        Plan(slots=(), timezone="UTC", frequency=1.5)


# --- the trigger -----------------------------------------------------------------------------


def _trigger(**changes):
    kwargs = {
        "slots": [Slot(("mon", "wed"), "08:15"), Slot(("fri",), "19:30")],
        "timezone": "Europe/London",
        "quiet": ("22:00", "07:00"),
        "pauses": [(utc(2026, 12, 2), utc(2026, 12, 4))],
        "start": dt.date(2026, 11, 30),
        "end": dt.date(2026, 12, 14),
        "frequency": 1.0,
    }
    return NudgeTrigger(**(kwargs | changes))


def test_the_trigger_enumerates_the_plan_and_stops_after_the_end():
    trig = _trigger()
    fires, previous, now = [], None, utc(2026, 11, 1)
    while (fire := trig.get_next_fire_time(previous, now)) is not None:
        assert previous is None or fire > previous
        fires.append(fire)
        previous, now = fire, fire
    assert fires == instants(trig.plan, utc(2026, 11, 1), utc(2027, 1, 1))
    assert local(fires, "Europe/London") == [
        "Mon 30 08:15 GMT",
        "Fri 04 19:30 GMT",  # Wed 2 December is paused
        "Mon 07 08:15 GMT",
        "Wed 09 08:15 GMT",
        "Fri 11 19:30 GMT",
        "Mon 14 08:15 GMT",
    ]
    assert trig.get_next_fire_time(None, utc(2026, 12, 15)) is None


def test_the_trigger_catches_up_from_now_and_never_repeats():
    trig = _trigger(pauses=[])
    # APScheduler asks with the last fire time and the (later) current time.
    assert trig.get_next_fire_time(utc(2026, 11, 30, 8, 15), utc(2026, 12, 3)) == utc(2026, 12, 4, 19, 30)
    first = trig.get_next_fire_time(None, utc(2026, 11, 30, 8, 15))
    assert first == utc(2026, 11, 30, 8, 15)
    assert trig.get_next_fire_time(first, first) == utc(2026, 12, 2, 8, 15)


def test_the_trigger_pickles_and_its_string_names_every_parameter():
    trig = _trigger()
    again = pickle.loads(pickle.dumps(trig))
    assert str(again) == str(trig) and again == trig and repr(again) == repr(trig)
    assert again.get_next_fire_time(None, utc(2026, 12, 1)) == trig.get_next_fire_time(None, utc(2026, 12, 1))
    assert "day_of_week='mon,wed', hour='8', minute='15'" in str(trig)
    variants = [
        _trigger(slots=[Slot(("mon", "wed"), "08:15")]),
        _trigger(slots=[Slot(("mon", "wed"), "08:16"), Slot(("fri",), "19:30")]),
        _trigger(slots=[Slot(("mon", "thu"), "08:15"), Slot(("fri",), "19:30")]),
        _trigger(timezone="Europe/Dublin"),
        _trigger(quiet=("22:00", "06:00")),
        _trigger(quiet=None),
        _trigger(pauses=[]),
        _trigger(pauses=[(utc(2026, 12, 2), utc(2026, 12, 5))]),
        _trigger(start=None),
        _trigger(start=dt.date(2026, 12, 1)),
        _trigger(end=None),
        _trigger(end=dt.date(2026, 12, 15)),
        _trigger(frequency=0.5),
    ]
    strings = {str(trig)} | {str(v) for v in variants}
    assert len(strings) == len(variants) + 1
    assert len({repr(trig)} | {repr(v) for v in variants}) == len(variants) + 1


def test_the_trigger_refuses_a_newer_state():
    trig = _trigger()
    state = trig.__getstate__() | {"version": 2}
    fresh = NudgeTrigger.__new__(NudgeTrigger)
    with pytest.raises(ValueError, match="version 2"):
        fresh.__setstate__(state)


def test_next_instant_gives_up_when_nothing_is_left():
    plan = make_plan(
        routine={}, timezone="UTC", schedule={"days": ["mon"], "at": "09:00"}, end=dt.date(2026, 1, 5)
    )
    assert next_instant(plan, utc(2026, 1, 5, 9)) == utc(2026, 1, 5, 9)
    assert next_instant(plan, utc(2026, 1, 5, 9, 0, 1)) is None
    assert next_instant(make_plan(routine={}, timezone="UTC", schedule={}), utc(2026, 1, 1)) is None


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        make_plan(
            routine={}, timezone="UTC", schedule={}, pauses=[(dt.datetime(2026, 1, 1), utc(2026, 1, 2))]
        )
    plan = make_plan(routine={}, timezone="UTC", schedule={"days": ["mon"], "at": "09:00"})
    with pytest.raises(ValueError):
        instants(plan, dt.datetime(2026, 1, 1), utc(2026, 1, 9))

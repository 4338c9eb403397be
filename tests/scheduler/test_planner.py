import datetime as dt
from zoneinfo import ZoneInfo

from scheduler.planner import Slot, slots, trigger, upcoming, with_clock

UTC = dt.timezone.utc


def test_fixed_days_and_time():
    assert slots({"days": ["mon", "fri"], "at": "08:15"}, {}) == [Slot(("mon", "fri"), "08:15")]


def test_times_per_week_spread_over_the_week_at_the_earliest_preferred_time():
    routine = {"preferred_times": ["19:30", "08:15"]}
    assert slots({"times_per_week": 3}, routine) == [Slot(("mon", "wed", "fri"), "08:15")]
    assert slots({"times_per_week": 1}, {}) == [Slot(("mon",), "19:00")]
    twice_daily_some_days = slots({"times_per_week": 10}, routine)
    assert twice_daily_some_days[0].days == ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    assert twice_daily_some_days[1] == Slot(("mon", "wed", "fri"), "19:30")
    assert len({s.at for s in slots({"times_per_week": 9}, {})}) == 2  # never the same minute twice


def test_local_wall_clock_holds_across_the_clock_change():
    # Europe/London leaves summer time on Sunday 25 October 2026.
    trig = trigger(Slot(("fri", "mon"), "19:30"), "Europe/London")
    fires = upcoming([trig], dt.datetime(2026, 10, 20, tzinfo=UTC), 2)
    assert [f.astimezone(ZoneInfo("Europe/London")).strftime("%a %H:%M") for f in fires] == [
        "Fri 19:30",
        "Mon 19:30",
    ]
    assert [f.astimezone(UTC).hour for f in fires] == [18, 19]


def test_start_and_end_dates_bound_the_nudges():
    trig = trigger(
        Slot(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "08:00"),
        "Asia/Kolkata",
        start=dt.date(2026, 12, 1),
        end=dt.date(2026, 12, 3),
    )
    fires = upcoming([trig], dt.datetime(2026, 11, 1, tzinfo=UTC), 10)
    local = [f.astimezone(ZoneInfo("Asia/Kolkata")) for f in fires]
    assert [d.day for d in local] == [1, 2, 3] and all(d.strftime("%H:%M") == "08:00" for d in local)
    assert fires[0].astimezone(UTC).strftime("%H:%M") == "02:30"  # a half-hour offset zone


def test_the_patients_own_time_replaces_the_plans():
    found = slots({"times_per_week": 10}, {"preferred_times": ["08:00", "19:00"]})
    assert with_clock(found, "07:15") == [Slot(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "07:15")]
    assert with_clock(found, None) == found

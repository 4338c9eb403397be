"""Property tests for the planner and its trigger, over many zones and clock changes.

Each generated case is checked against an independent, minute-by-minute oracle
built on zoneinfo alone: a wall-clock minute "exists" on a local date when it
survives the round trip local → UTC → local.
"""

import datetime as dt
import pickle
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.planner import WEEKDAYS, clock_minutes, instants, make_plan, next_instant
from scheduler.triggers import NudgeTrigger

UTC = dt.timezone.utc
ALL_ZONES = sorted(available_timezones())
NAMED_ZONES = [
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Adelaide",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Australia/Lord_Howe",  # a half-hour change
    "America/Santiago",  # changes at midnight
    "America/Havana",  # changes at midnight
    "Pacific/Apia",
    "Antarctica/Troll",  # a two-hour change
    "Asia/Tehran",
    "America/St_Johns",
    "Pacific/Kiritimati",  # +14
    "Etc/GMT+12",
]
SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

clocks = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 45, 59])
)
zones = st.one_of(st.sampled_from(NAMED_ZONES), st.sampled_from(ALL_ZONES))


@cache
def transition_days(zone_name: str, year: int) -> tuple[dt.date, ...]:
    """Local dates in `year` on which the zone's UTC offset changes."""
    zone = ZoneInfo(zone_name)
    days = []
    day = dt.date(year, 1, 1)
    while day.year == year:
        a = dt.datetime.combine(day, dt.time(), tzinfo=zone)
        b = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        if a.utcoffset() != b.utcoffset() or (b.astimezone(UTC) - a.astimezone(UTC)) != dt.timedelta(days=1):
            days.append(day)
        day += dt.timedelta(days=1)
    return tuple(days)


@cache
def change_minutes(zone_name: str, day: dt.date) -> tuple[int, ...]:
    """Wall-clock minutes (in the old offset) at which the zone's clock changes on `day`."""
    zone = ZoneInfo(zone_name)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(UTC) - dt.timedelta(hours=3)
    found = []
    previous = start.astimezone(zone).utcoffset()
    for step in range(1, 32 * 60):
        moment = start + dt.timedelta(minutes=step)
        offset = moment.astimezone(zone).utcoffset()
        if offset != previous:
            wall = (moment + previous).replace(tzinfo=None)
            if wall.date() == day:
                found.append(wall.hour * 60 + wall.minute)
            previous = offset
    return tuple(found)


@st.composite
def cases(draw):
    zone = draw(zones)
    year = draw(st.integers(2020, 2035))
    changes = transition_days(zone, year)
    if changes and draw(st.integers(0, 9)) < 7:
        around = draw(st.sampled_from(changes))
    else:
        around = dt.date(year, 1, 1) + dt.timedelta(days=draw(st.integers(0, 364)))
    near = change_minutes(zone, around)
    if near:  # clock times close to the change, so gaps and repeats get hit
        base = draw(st.sampled_from(near))
        hot = st.integers(-90, 90).map(lambda d: "{:02d}:{:02d}".format(*divmod((base + d) % 1440, 60)))
        times = st.one_of(hot, hot, hot, clocks)
    else:
        times = clocks
    first = around - dt.timedelta(days=draw(st.integers(0, 3)))
    after = dt.datetime.combine(first, dt.time(), tzinfo=UTC) + dt.timedelta(
        minutes=draw(st.integers(-1440, 1440))
    )
    until = after + dt.timedelta(days=draw(st.integers(1, 10)), minutes=draw(st.integers(-1440, 1440)))

    routine = {}
    if draw(st.integers(0, 2)) == 0:
        routine["quiet_hours"] = [draw(clocks), draw(clocks)]
    if draw(st.integers(0, 2)) == 0:
        routine["sleep"], routine["wake"] = draw(clocks), draw(clocks)
    routine["preferred_times"] = draw(st.lists(times, max_size=3))
    kind = draw(st.sampled_from(["change day", "days", "per week"]))
    if kind == "change day":  # aim straight at the day of the clock change
        days = {WEEKDAYS[around.weekday()], *draw(st.lists(st.sampled_from(WEEKDAYS), max_size=2))}
        schedule = {"days": sorted(days, key=WEEKDAYS.index), "at": draw(times)}
    elif kind == "days":
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
        schedule = {"days": sorted(days, key=WEEKDAYS.index), "at": draw(times)}
    else:
        schedule = {"times_per_week": draw(st.integers(1, 14))}
    clock = draw(st.none() | st.none() | times)
    frequency = draw(st.sampled_from([1.0, 1.0, 0.5, 1 / 3, 0.25]))

    def moment():
        return after + dt.timedelta(minutes=draw(st.integers(-1440, 11 * 1440)))

    pauses = []
    for _ in range(draw(st.integers(0, 2))):
        a = moment()
        pauses.append((a, a + dt.timedelta(minutes=draw(st.integers(1, 4 * 1440)))))
    start = draw(st.none() | st.just(first + dt.timedelta(days=draw(st.integers(-2, 6)))))
    end = draw(st.none() | st.just(first + dt.timedelta(days=draw(st.integers(-1, 12)))))
    plan = make_plan(
        routine=routine,
        timezone=zone,
        schedule=schedule,
        pauses=pauses,
        start=start,
        end=end,
        clock=clock,
        frequency=frequency,
    )
    return plan, after, until


# --- the oracle -------------------------------------------------------------------------


def _quiet(plan):
    if plan.quiet is None:
        return lambda minute: False
    qs, qe = (clock_minutes(x) for x in plan.quiet)
    if qs == qe:
        return lambda minute: False
    if qs < qe:
        return lambda minute: qs <= minute < qe
    return lambda minute: minute >= qs or minute < qe


def _template(plan):
    """The week's occurrences, in week order, with the frequency rule applied (module doc, rule 2)."""
    occurrences = sorted({(WEEKDAYS.index(d), clock_minutes(s.at)) for s in plan.slots for d in s.days})
    f, eps = plan.frequency, 1e-9
    return [occ for k, occ in enumerate(occurrences) if k == 0 or int(k * f + eps) > int((k - 1) * f + eps)]


def _expected_on(plan, day, minute, quiet):
    zone = ZoneInfo(plan.timezone)
    midnight = dt.datetime.combine(day, dt.time())

    def wall(x):
        return midnight + dt.timedelta(minutes=x)

    def exists(x):
        naive = wall(x)
        return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive

    def instant(x):
        return wall(x).replace(tzinfo=zone, fold=0).astimezone(UTC)

    target = minute if exists(minute) else next((x for x in range(minute + 1, 1440) if exists(x)), None)
    if target is not None and not quiet(target):
        return instant(target), ("exact" if target == minute else "gap")
    for distance in range(1, 1440):
        for x in (minute + distance, minute - distance):
            if 0 <= x < 1440 and exists(x) and not quiet(x):
                return instant(x), "quiet"
    return None, "dropped"


def oracle(plan, after, until):
    zone = ZoneInfo(plan.timezone)
    quiet = _quiet(plan)
    kept = _template(plan)
    found = {}
    day = after.astimezone(zone).date() - dt.timedelta(days=1)
    while day <= until.astimezone(zone).date() + dt.timedelta(days=1):
        if (plan.start is None or day >= plan.start) and (plan.end is None or day <= plan.end):
            for weekday, minute in kept:
                if weekday == day.weekday():
                    when, why = _expected_on(plan, day, minute, quiet)
                    if when is None or not after <= when < until:
                        continue
                    if any(a <= when < b for a, b in plan.pauses):
                        continue
                    found.setdefault(when, (day, minute, why))
        day += dt.timedelta(days=1)
    return dict(sorted(found.items()))


# --- the properties -----------------------------------------------------------------------


@SETTINGS
@given(cases())
def test_the_planner_agrees_with_the_minute_by_minute_oracle(case):
    plan, after, until = case
    got = instants(plan, after, until)
    expected = oracle(plan, after, until)
    assert got == list(expected)

    zone = ZoneInfo(plan.timezone)
    quiet = _quiet(plan)
    per_day_template = {}
    for weekday, _ in _template(plan):
        per_day_template[weekday] = per_day_template.get(weekday, 0) + 1
    per_date = {}
    for previous, current in zip(got, got[1:], strict=False):
        assert previous < current  # strictly increasing, so unique
    for when in got:
        assert when.tzinfo is not None and when.utcoffset() == dt.timedelta(0)
        assert when.second == 0 and when.microsecond == 0
        assert after <= when < until
        assert not any(a <= when < b for a, b in plan.pauses)
        here = when.astimezone(zone)
        minute = here.hour * 60 + here.minute
        assert not quiet(minute)
        assert plan.start is None or here.date() >= plan.start
        assert plan.end is None or here.date() <= plan.end
        per_date[here.date()] = per_date.get(here.date(), 0) + 1
        day, slot_minute, why = expected[when]
        assert here.date() == day
        # The wall time is the slot's, unless the slot was in a gap (then the first valid
        # minute after it) or was moved out of quiet hours.
        if why == "exact":
            assert minute == slot_minute
        elif why == "gap":
            assert minute > slot_minute
            wall = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=slot_minute)
            assert wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall
        else:
            assert why == "quiet" and minute != slot_minute
    for day, count in per_date.items():
        assert count <= per_day_template.get(day.weekday(), 0)


@SETTINGS
@given(cases())
def test_the_trigger_enumerates_exactly_the_plan(case):
    plan, after, until = case
    trig = NudgeTrigger.from_plan(plan)
    fired, previous, now = [], None, after
    while (fire := trig.get_next_fire_time(previous, now)) is not None and fire < until:
        assert previous is None or fire > previous
        fired.append(fire)
        previous, now = fire, fire
        assert len(fired) <= 14 * 12
    assert fired == instants(plan, after, until)
    assert next_instant(plan, after) == (fired[0] if fired else next_instant(plan, until))

    if plan.end is not None:  # it runs out after the end date
        steps, previous, now = 0, None, after
        while (fire := trig.get_next_fire_time(previous, now)) is not None:
            assert fire.astimezone(ZoneInfo(plan.timezone)).date() <= plan.end
            previous, now, steps = fire, fire, steps + 1
            assert steps <= 14 * 20
        end_of_end = dt.datetime.combine(plan.end + dt.timedelta(days=2), dt.time(), tzinfo=UTC)
        assert trig.get_next_fire_time(None, end_of_end) is None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_trigger_survives_pickling(case):
    plan, after, _ = case
    trig = NudgeTrigger.from_plan(plan)
    again = pickle.loads(pickle.dumps(trig))
    assert str(again) == str(trig) and repr(again) == repr(trig) and again == trig
    assert again.get_next_fire_time(None, after) == trig.get_next_fire_time(None, after)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 14), st.sampled_from([1.0, 0.5, 1 / 3, 0.25, 0.1]), st.integers(0, 200))
def test_frequency_keeps_about_its_share_and_at_least_one_a_week(n, frequency, week):
    monday = dt.datetime(2026, 1, 5, tzinfo=UTC) + dt.timedelta(weeks=week)
    window = (monday, monday + dt.timedelta(weeks=1))
    full = instants(make_plan(routine={}, timezone="UTC", schedule={"times_per_week": n}), *window)
    plan = make_plan(routine={}, timezone="UTC", schedule={"times_per_week": n}, frequency=frequency)
    kept = instants(plan, *window)
    assert len(full) == n
    assert 1 <= len(kept) and abs(len(kept) - n * frequency) <= 1
    assert set(kept) <= set(full)
    if frequency <= 0.5:  # never two of the full schedule's in a row
        positions = [full.index(t) for t in kept]
        assert all(b - a >= 2 for a, b in zip(positions, positions[1:], strict=False))

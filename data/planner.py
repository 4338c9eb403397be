"""Pure planning: which weekly slots a task's schedule asks for, and when they fall.

No I/O and no APScheduler here: plain data in, aware UTC datetimes out.
`scheduler/triggers.py` wraps a `Plan` as an APScheduler trigger.

How a nudge time is found, for one task on one local date D of the patient:

1. The week's *template* is the set of (weekday, wall-clock minute) the
   schedule asks for (`slots`, or the patient's own time, `with_clock`).
2. Frequency (`Plan.frequency`, 1 = full, 0.5 = halved after being ignored):
   the template's occurrences are numbered k = 0, 1, ... in week order
   (Monday first, then by time) and occurrence k is kept when k == 0 or
   floor(k * f) > floor((k - 1) * f). So halving keeps k = 0, 2, 4, 6: a daily
   task becomes Mon, Wed, Fri, Sun (4 a week), 3 a week becomes 2, and a task
   with one or more a week always keeps at least one. The rule only looks at
   the calendar (weekday and time), so it is stable: the same occurrences are
   kept however often or from whenever the plan is computed.
3. The wall-clock time m is resolved in the patient's zone on D. It usually
   exists once. In an autumn repeat it is the first of the two (fold=0). In a
   spring-forward gap it is the first valid minute after the gap (London 01:30
   on the spring day is 02:00 BST = 01:00 UTC).
4. Quiet hours (`Plan.quiet`, [start, end) in wall-clock time, may wrap
   midnight): if the resolved minute is quiet, or the gap runs past midnight,
   the nudge moves to the allowed minute of the same local date (one that
   exists there and is not quiet) nearest to m in wall-clock minutes; on a tie
   the later one. With quiet 22:00-07:00 an evening 23:30 becomes 21:59 (just
   before quiet starts) and an early 05:00 becomes 07:00 (when quiet ends).
   If there is no such minute the nudge is dropped.
5. Dropped too: anything inside a pause window [start, end) (UTC instants),
   and local dates before `start` or after `end` (inclusive local dates).
   Two occurrences moved onto the same minute count once.

When the routine gives no quiet hours, the night from `sleep` to `wake` is quiet.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIME = "19:00"
MAX_PER_WEEK = 14  # twice a day

UTC = dt.timezone.utc
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_DAY = 86400
_MINUTES = 1440
# How far ahead `next_instant` looks past the last pause before giving up: any
# non-empty template keeps at least one nudge a week, so three weeks is ample.
_HORIZON_DAYS = 21


@dataclass(frozen=True)
class Slot:
    """A weekly nudge: on these days, at this local time."""

    days: tuple[str, ...]
    at: str


def slots(schedule: dict[str, Any], routine: dict[str, Any]) -> list[Slot]:
    """The weekly slots a task's schedule asks for, earliest time first.

    `{days, at}` is taken as given. `{times_per_week: N}` (up to 14) is spread
    over the week (3 → Mon, Wed, Fri) and over the routine's preferred times,
    taken in turn, earliest first (3 with 08:15 and 19:30 → Mon 08:15,
    Wed 19:30, Fri 08:15). Above 7 some days get a second, different time.
    """
    if schedule.get("days"):
        return [Slot(tuple(schedule["days"]), schedule.get("at") or DEFAULT_TIME)]
    per_week = min(int(schedule.get("times_per_week") or 0), MAX_PER_WEEK)
    if per_week <= 0:
        return []
    # Earliest preferred time first: the research found tasks left to the tired
    # end of the day tend not to happen.
    times = sorted(set(routine.get("preferred_times") or [])) or [DEFAULT_TIME]
    if per_week > 7 and len(times) == 1:  # a second time of day, never the same minute twice
        times.append("12:00" if times[0] == DEFAULT_TIME else DEFAULT_TIME)
        times.sort()
    if per_week <= 7:
        counts = [0] * 7
        for i in range(per_week):
            counts[i * 7 // per_week] = 1
    else:
        extra = per_week - 7
        counts = [1] * 7
        for i in range(extra):
            counts[i * 7 // extra] += 1
    by_time: dict[str, list[str]] = {}
    turn = 0
    for day, count in zip(WEEKDAYS, counts, strict=True):
        for _ in range(count):
            by_time.setdefault(times[turn % len(times)], []).append(day)
            turn += 1
    return [Slot(tuple(by_time[at]), at) for at in sorted(by_time)]


def with_clock(found: list[Slot], clock: str | None) -> list[Slot]:
    """The patient's own time ("remind me at 7pm") in place of the plan's."""
    if clock is None:
        return found
    days = tuple(d for d in WEEKDAYS if any(d in s.days for s in found))
    return [Slot(days, clock)] if days else []


def quiet_hours(routine: dict[str, Any]) -> tuple[str, str] | None:
    """The routine's quiet hours; without them, the night from sleep to wake."""
    quiet = routine.get("quiet_hours")
    if quiet:
        start, end = quiet
        return (start, end)
    if routine.get("sleep") and routine.get("wake"):
        return (routine["sleep"], routine["wake"])
    return None


def awake_at(routine: dict[str, Any], timezone: str, at: dt.datetime, *, night: tuple[str, str]) -> bool:
    """Whether `at` is outside the patient's quiet hours; `night` stands in when the routine has none."""
    start, end = quiet_hours(routine) or night
    if start == end:
        return True  # no quiet window at all
    local = at.astimezone(_zone(timezone))
    return not _is_quiet(local.hour * 60 + local.minute, (clock_minutes(start), clock_minutes(end)))


@lru_cache(maxsize=4096)
def clock_minutes(clock: str) -> int:
    """Minutes after midnight of a "HH:MM" clock time."""
    hours, _, minutes = clock.partition(":")
    h, m = int(hours), int(minutes)
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"not a clock time: {clock!r}")
    return h * 60 + m


Pause = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Plan:
    """Everything that places one task's nudges. Plain, hashable data."""

    slots: tuple[Slot, ...]
    timezone: str
    quiet: tuple[str, str] | None = None
    pauses: tuple[Pause, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None
    frequency: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.frequency <= 1:
            raise ValueError(f"frequency must be in (0, 1], not {self.frequency!r}")
        for start, end in self.pauses:
            if start.tzinfo is None or end.tzinfo is None:
                raise ValueError("pause windows must be aware datetimes")

    @cached_property
    def _compiled(self) -> _Compiled:
        return _compile(self)


def make_plan(
    *,
    routine: dict[str, Any],
    timezone: str,
    schedule: dict[str, Any],
    pauses: Iterable[Pause] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    clock: str | None = None,
    frequency: float = 1.0,
) -> Plan:
    """A task's plan from the rows: routine, zone, pauses, schedule, dates, the patient's own time."""
    routine = routine or {}
    found = with_clock(slots(schedule or {}, routine), clock)
    return Plan(
        slots=tuple(found),
        timezone=timezone,
        quiet=quiet_hours(routine),
        pauses=tuple(sorted((_utc(a), _utc(b)) for a, b in pauses)),
        start=start,
        end=end,
        frequency=float(frequency),
    )


def nudge_times(
    *,
    routine: dict[str, Any],
    timezone: str,
    schedule: dict[str, Any],
    after: dt.datetime,
    until: dt.datetime,
    pauses: Iterable[Pause] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    clock: str | None = None,
    frequency: float = 1.0,
) -> list[dt.datetime]:
    """The nudge instants (aware, UTC) in [after, until), in order."""
    plan = make_plan(
        routine=routine,
        timezone=timezone,
        schedule=schedule,
        pauses=pauses,
        start=start,
        end=end,
        clock=clock,
        frequency=frequency,
    )
    return instants(plan, after, until)


def instants(plan: Plan, after: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The plan's nudge instants in [after, until), strictly increasing, aware UTC."""
    c = plan._compiled
    lo, hi = _seconds(after), _seconds(until)
    if hi <= lo or not c.any:
        return []
    first = _local_ordinal(c, after)
    last = _local_ordinal(c, until)
    if c.start is not None:
        first = max(first, c.start)
    if c.end is not None:
        last = min(last, c.end)
    out: list[dt.datetime] = []
    fromtimestamp = dt.datetime.fromtimestamp
    week, week_plain, paused = c.week, c.week_plain, bool(c.pause_starts)
    for ordinal, weekday, base in _days(c.timezone, first, last):
        if not week[weekday]:
            continue
        if base is not None and not paused:  # the common case, inline
            for m in week_plain[weekday]:
                s = base + m * 60
                if lo <= s < hi:
                    out.append(fromtimestamp(s, UTC))
        else:
            out += [fromtimestamp(s, UTC) for s in _day_instants(c, ordinal) if lo <= s < hi]
    return out


def next_instant(plan: Plan, after: dt.datetime) -> dt.datetime | None:
    """The plan's first nudge instant at or after `after`; None when there is none."""
    c = plan._compiled
    if not c.any:
        return None
    lo = _seconds(after)
    first = _local_ordinal(c, after)
    if c.start is not None:
        first = max(first, c.start)
    if c.end is not None:
        last = c.end
    else:
        resume = max([first, *(_local_ordinal(c, end) for _, end in plan.pauses)])
        last = resume + _HORIZON_DAYS
    for ordinal in range(first, last + 1):
        for s in _day_instants(c, ordinal):
            if s >= lo:
                return dt.datetime.fromtimestamp(s, UTC)
    return None


class _Trigger(Protocol):
    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None: ...


def upcoming(triggers: Sequence[_Trigger], after: dt.datetime, limit: int) -> list[dt.datetime]:
    """The next `limit` fire times across several triggers, in order."""
    times: list[dt.datetime] = []
    for trig in triggers:
        previous, now = None, after
        for _ in range(limit):
            fire = trig.get_next_fire_time(previous, now)
            if fire is None:
                break
            times.append(fire)
            previous, now = fire, fire + dt.timedelta(seconds=1)
    return sorted(times)[:limit]


# --- the machinery ---------------------------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    zone: ZoneInfo
    timezone: str
    any: bool
    # Per weekday (0 = Monday), the kept wall-clock minutes, sorted.
    week: tuple[tuple[int, ...], ...]
    # The same after moving out of quiet hours on an ordinary day (no clock change).
    week_plain: tuple[tuple[int, ...], ...]
    quiet: tuple[int, int] | None
    pause_starts: tuple[int, ...]
    pause_ends: tuple[int, ...]
    start: int | None
    end: int | None


def _compile(plan: Plan) -> _Compiled:
    quiet = None
    if plan.quiet is not None:
        qs, qe = clock_minutes(plan.quiet[0]), clock_minutes(plan.quiet[1])
        quiet = (qs, qe) if qs != qe else None
    any_kept, week, week_plain = _week_tables(plan.slots, plan.frequency, quiet)
    pauses = sorted((_seconds(a), _seconds(b)) for a, b in plan.pauses if b > a)
    return _Compiled(
        zone=_zone(plan.timezone),
        timezone=plan.timezone,
        any=any_kept,
        week=week,
        week_plain=week_plain,
        quiet=quiet,
        pause_starts=tuple(a for a, _ in pauses),
        pause_ends=tuple(b for _, b in pauses),
        start=plan.start.toordinal() if plan.start else None,
        end=plan.end.toordinal() if plan.end else None,
    )


_DAY_INDEX = {day: i for i, day in enumerate(WEEKDAYS)}
_Week = tuple[tuple[int, ...], ...]


@lru_cache(maxsize=8192)
def _week_tables(
    found: tuple[Slot, ...], frequency: float, quiet: tuple[int, int] | None
) -> tuple[bool, _Week, _Week]:
    """The kept minutes per weekday (rules 1-2), and the same moved out of quiet hours."""
    week: list[list[int]] = [[] for _ in range(7)]
    for slot in found:
        minute = clock_minutes(slot.at)
        for day in slot.days:
            week[_DAY_INDEX[day]].append(minute)
    kept: list[tuple[int, ...]] = []
    plain: list[tuple[int, ...]] = []
    k = 0  # the occurrence's number in the week, Monday first
    for minutes in week:
        if len(minutes) > 1:
            minutes = sorted(set(minutes))
        if frequency < 1 and minutes:
            chosen = []
            for minute in minutes:
                if _keep(k, frequency):
                    chosen.append(minute)
                k += 1
            minutes = chosen
        day_minutes = tuple(minutes)
        kept.append(day_minutes)
        if quiet is not None and day_minutes:
            moved = [_out_of_quiet(m, quiet) for m in day_minutes]
            day_minutes = tuple(moved) if len(moved) == 1 else tuple(sorted(set(moved)))
        plain.append(day_minutes)
    return any(kept), tuple(kept), tuple(plain)


def _keep(k: int, frequency: float) -> bool:
    """Occurrence k of the week's template survives the frequency factor (see the module doc)."""
    if k == 0 or frequency >= 1:
        return True
    eps = 1e-9
    return int(k * frequency + eps) > int((k - 1) * frequency + eps)


def _is_quiet(minute: int, quiet: tuple[int, int] | None) -> bool:
    if quiet is None:
        return False
    qs, qe = quiet
    if qs < qe:
        return qs <= minute < qe
    return minute >= qs or minute < qe


def _out_of_quiet(minute: int, quiet: tuple[int, int] | None) -> int:
    """The non-quiet minute nearest to `minute` on an ordinary day; ties go to the later one."""
    if not _is_quiet(minute, quiet):
        return minute
    assert quiet is not None
    qs, qe = quiet
    if qs > qe:  # wraps midnight: the day's allowed stretch is [qe, qs)
        return qs - 1 if minute >= qs else qe
    if qs == 0:  # quiet from midnight: only after it ends
        return qe
    return qe if qe - minute <= minute - (qs - 1) else qs - 1


def _day_instants(c: _Compiled, ordinal: int) -> list[int]:
    """The day's nudge instants, epoch seconds, increasing, pauses removed."""
    if c.start is not None and ordinal < c.start:
        return []
    if c.end is not None and ordinal > c.end:
        return []
    weekday = (ordinal - 1) % 7  # date.fromordinal(1) is a Monday
    minutes = c.week[weekday]
    if not minutes:
        return []
    midnight, offset, segments = _day(c.timezone, ordinal)
    if offset is not None:  # an ordinary day: one UTC offset all day
        base = midnight - offset
        found = [base + m * 60 for m in c.week_plain[weekday]]
    else:
        found = sorted({s for m in minutes if (s := _resolve(midnight, segments, m, c.quiet)) is not None})
    if c.pause_starts:
        found = [s for s in found if not _paused(c, s)]
    return found


def _paused(c: _Compiled, s: int) -> bool:
    i = bisect_right(c.pause_starts, s)
    return any(c.pause_ends[j] > s for j in range(i))


Segment = tuple[int, int, int]  # wall minutes [lo, hi) of the day, and their UTC offset in seconds


def _resolve(
    midnight: int, segments: tuple[Segment, ...], m: int, quiet: tuple[int, int] | None
) -> int | None:
    """Wall-clock minute m of a day with a clock change, as an instant (rules 3 and 4)."""
    target = None
    for lo, hi, offset in segments:  # in UTC order, so the first match is fold=0
        if lo <= m < hi:
            target = (m, offset)
            break
    else:  # in a gap: the first valid minute after it
        for lo, _, offset in segments:
            if lo > m:
                target = (lo, offset)
                break
    if target is not None and not _is_quiet(target[0], quiet):
        return midnight + target[0] * 60 - target[1]
    # Quiet (or nothing after the gap today): the nearest allowed minute, ties later.
    for distance in range(1, _MINUTES):
        for x in (m + distance, m - distance):
            if 0 <= x < _MINUTES and not _is_quiet(x, quiet):
                for lo, hi, offset in segments:
                    if lo <= x < hi:
                        return midnight + x * 60 - offset
    return None


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _offset_at(zone: ZoneInfo, s: int) -> int:
    offset = dt.datetime.fromtimestamp(s, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0  # an aware time always has one


@lru_cache(maxsize=4096)
def _days(timezone: str, first: int, last: int) -> tuple[tuple[int, int, int | None], ...]:
    """(ordinal, weekday, UTC epoch second of local midnight or None on a clock-change day) for each date."""
    out = []
    for ordinal in range(first, last + 1):
        midnight, offset, _ = _day(timezone, ordinal)
        out.append((ordinal, (ordinal - 1) % 7, None if offset is None else midnight - offset))
    return tuple(out)


@lru_cache(maxsize=1 << 16)
def _day(timezone: str, ordinal: int) -> tuple[int, int | None, tuple[Segment, ...]]:
    """One local date in one zone: (its midnight as if UTC, epoch seconds; the UTC
    offset when it is the same all day, else None; the wall-clock segments).

    Each segment is a stretch of the day's wall clock with one UTC offset, in
    UTC order: a spring day has a hole between two segments, an autumn day two
    overlapping ones.
    """
    zone = _zone(timezone)
    midnight = (ordinal - _EPOCH_ORDINAL) * _DAY
    # Every instant whose local date is this one lies in this range (offsets are within ±16 h).
    lo, hi = midnight - 16 * 3600, midnight + _DAY + 16 * 3600
    step = 3 * 3600
    points = list(range(lo, hi, step)) + [hi]
    offsets = [_offset_at(zone, p) for p in points]
    changes: list[tuple[int, int]] = []  # (instant, new offset)
    for a, b, oa, ob in zip(points, points[1:], offsets, offsets[1:], strict=False):
        if oa != ob:
            while b - a > 1:  # the first second with the new offset
                mid = (a + b) // 2
                if _offset_at(zone, mid) == oa:
                    a = mid
                else:
                    b = mid
            changes.append((b, ob))
    bounds = [(lo, offsets[0]), *changes, (hi, None)]
    segments: list[Segment] = []
    for (start, offset), (stop, _) in zip(bounds, bounds[1:], strict=False):
        assert offset is not None
        wall_lo = max(start + offset - midnight, 0)
        wall_hi = min(stop + offset - midnight, _DAY)
        first, end = -(-wall_lo // 60), -(-wall_hi // 60)  # minutes m with lo <= 60m < hi
        if first < end:
            segments.append((first, end, offset))
    if len(segments) == 1 and segments[0][:2] == (0, _MINUTES):
        return midnight, segments[0][2], tuple(segments)
    return midnight, None, tuple(segments)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("pause windows must be aware datetimes")
    return moment.astimezone(UTC)


def _seconds(moment: dt.datetime) -> int:
    """Whole epoch seconds, rounded up: for a whole-second instant s, s >= moment iff s >= this."""
    if moment.tzinfo is None:
        raise ValueError("expected an aware datetime")
    delta = moment - _EPOCH
    return delta.days * _DAY + delta.seconds + (1 if delta.microseconds else 0)


def _local_ordinal(c: _Compiled, moment: dt.datetime) -> int:
    return moment.astimezone(c.zone).toordinal()

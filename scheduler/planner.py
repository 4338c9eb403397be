"""Pure planning: which weekly slots a task's schedule asks for, and when they fall.

No I/O here. APScheduler's CronTrigger does the calendar arithmetic in the
patient's own timezone, so wall-clock times hold across daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIME = "19:00"


@dataclass(frozen=True)
class Slot:
    """A weekly nudge: on these days, at this local time."""

    days: tuple[str, ...]
    at: str


def slots(schedule: dict[str, Any], routine: dict[str, Any]) -> list[Slot]:
    if schedule.get("days"):
        return [Slot(tuple(schedule["days"]), schedule.get("at") or DEFAULT_TIME)]
    per_week = min(int(schedule.get("times_per_week") or 0), 14)
    if per_week <= 0:
        return []
    # Earliest preferred time first: the research found tasks left to the tired
    # end of the day tend not to happen.
    times = sorted(routine.get("preferred_times") or []) or [DEFAULT_TIME]
    if per_week <= 7:
        # Spread over the week rather than bunched: 3 a week → mon, wed, fri.
        days = tuple(WEEKDAYS[i * 7 // per_week] for i in range(per_week))
        return [Slot(days, times[0])]
    extra = per_week - 7  # more than daily: a second time on some days
    second = times[1] if len(times) > 1 else ("12:00" if times[0] == DEFAULT_TIME else DEFAULT_TIME)
    return [
        Slot(WEEKDAYS, times[0]),
        Slot(tuple(WEEKDAYS[i * 7 // extra] for i in range(extra)), second),
    ]


def with_clock(found: list[Slot], clock: str | None) -> list[Slot]:
    """The patient's own time ("remind me at 7pm") in place of the plan's."""
    if clock is None:
        return found
    days = tuple(d for d in WEEKDAYS if any(d in s.days for s in found))
    return [Slot(days, clock)] if days else []


def trigger(
    slot: Slot, timezone: str, start: dt.date | None = None, end: dt.date | None = None
) -> CronTrigger:
    hour, minute = (int(x) for x in slot.at.split(":"))
    tz = ZoneInfo(timezone)
    return CronTrigger(
        day_of_week=",".join(slot.days),
        hour=hour,
        minute=minute,
        timezone=tz,
        start_date=dt.datetime.combine(start, dt.time(), tzinfo=tz) if start else None,
        end_date=dt.datetime.combine(end, dt.time(23, 59), tzinfo=tz) if end else None,
    )


def upcoming(triggers: list[CronTrigger], after: dt.datetime, limit: int) -> list[dt.datetime]:
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

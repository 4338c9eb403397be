"""An APScheduler trigger that fires when the planner says: one task's nudges.

It keeps only plain data (slot days and times, zone name, quiet hours, pause
windows, start and end dates, frequency), so APScheduler's job store can pickle
it, and asks `data.planner` for every fire time. Its string names every
parameter: the service replaces a job exactly when `str(trigger)` changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from apscheduler.triggers.base import BaseTrigger

from data import planner

_STATE_VERSION = 1
_SECOND = dt.timedelta(seconds=1)


class NudgeTrigger(BaseTrigger):
    """Fires at `planner.instants` of one task, never twice at the same instant."""

    __slots__ = ("slots", "timezone", "quiet", "pauses", "start", "end", "frequency", "_plan")

    def __init__(
        self,
        *,
        slots: Iterable[planner.Slot | tuple[Iterable[str], str]],
        timezone: str,
        quiet: tuple[str, str] | None = None,
        pauses: Iterable[tuple[dt.datetime, dt.datetime]] = (),
        start: dt.date | None = None,
        end: dt.date | None = None,
        frequency: float = 1.0,
    ):
        self.slots: tuple[tuple[tuple[str, ...], str], ...] = tuple(
            (tuple(s.days), s.at) if isinstance(s, planner.Slot) else (tuple(s[0]), s[1]) for s in slots
        )
        self.timezone = timezone
        self.quiet: tuple[str, str] | None = (quiet[0], quiet[1]) if quiet else None
        self.pauses = tuple(
            sorted((a.astimezone(dt.timezone.utc), b.astimezone(dt.timezone.utc)) for a, b in pauses)
        )
        self.start = start
        self.end = end
        self.frequency = float(frequency)
        self._plan: planner.Plan | None = None
        self.plan  # noqa: B018 - validate now, not when the job first fires

    @classmethod
    def from_plan(cls, plan: planner.Plan) -> NudgeTrigger:
        return cls(
            slots=plan.slots,
            timezone=plan.timezone,
            quiet=plan.quiet,
            pauses=plan.pauses,
            start=plan.start,
            end=plan.end,
            frequency=plan.frequency,
        )

    @property
    def plan(self) -> planner.Plan:
        if self._plan is None:
            self._plan = planner.Plan(
                slots=tuple(planner.Slot(days, at) for days, at in self.slots),
                timezone=self.timezone,
                quiet=self.quiet,
                pauses=self.pauses,
                start=self.start,
                end=self.end,
                frequency=self.frequency,
            )
        return self._plan

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        after = now if previous_fire_time is None else max(previous_fire_time + _SECOND, now)
        return planner.next_instant(self.plan, after)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "version": _STATE_VERSION,
            "slots": self.slots,
            "timezone": self.timezone,
            "quiet": self.quiet,
            "pauses": self.pauses,
            "start": self.start,
            "end": self.end,
            "frequency": self.frequency,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("version", 1) > _STATE_VERSION:
            raise ValueError(
                f"Got serialized data for version {state['version']} of {self.__class__.__name__}, "
                f"but only version {_STATE_VERSION} can be handled"
            )
        self.slots = tuple((tuple(days), at) for days, at in state["slots"])
        self.timezone = state["timezone"]
        self.quiet = (state["quiet"][0], state["quiet"][1]) if state["quiet"] else None
        self.pauses = tuple(tuple(p) for p in state["pauses"])
        self.start = state["start"]
        self.end = state["end"]
        self.frequency = float(state["frequency"])
        self._plan = None

    def _fields(self) -> str:
        # Slots in cron-like words, so the string reads like APScheduler's own triggers.
        parts = []
        for days, at in self.slots:
            hour, minute = divmod(planner.clock_minutes(at), 60)
            parts.append(f"day_of_week='{','.join(days)}', hour='{hour}', minute='{minute}'")
        parts.append(f"timezone='{self.timezone}'")
        parts.append(f"quiet='{'-'.join(self.quiet)}'" if self.quiet else "quiet=None")
        pauses = ", ".join(f"{a.isoformat()}/{b.isoformat()}" for a, b in self.pauses)
        parts.append(f"pauses=[{pauses}]")
        parts.append(f"start='{self.start.isoformat()}'" if self.start else "start=None")
        parts.append(f"end='{self.end.isoformat()}'" if self.end else "end=None")
        parts.append(f"frequency={self.frequency!r}")
        return "; ".join(parts)

    def __str__(self) -> str:
        return f"nudge[{self._fields()}]"

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} ({self._fields()})>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NudgeTrigger):
            return NotImplemented
        return self.__getstate__() == other.__getstate__()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.__getstate__().items())))

"""What became of each planned occurrence of a task: the report's denominator. Pure.

A task's planned occurrences are the planner's instants at full frequency (as the
therapist set them; halving after ignored nudges does not shrink the homework).
Each gets one status, in this order:

1. the check-in that answers it: a check-in that answered a nudge carries the nudge's
   planned time (`due_at`) and answers that occurrence (or, when the time was moved or
   it was a one-off "later today", the nearest unanswered one within MATCH_WITHIN);
   a spontaneous check-in (no `due_at`) answers the latest unanswered occurrence due in
   the SPONTANEOUS_LOOKBACK before it, else the first unanswered one later the same
   local day (done early: the scheduler sends no nudge for a task done that day);
   anything left over is extra: shown, never counted beyond one per occurrence;
2. `skipped`: it fell in a pause the patient asked for or a crisis quiet period, so no
   nudge went out;
3. `no_response`: the answer window has passed;
4. otherwise it is still open (None) and not counted yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

Window = tuple[dt.datetime, dt.datetime]

# A check-in's due_at this close to a planned occurrence answers it (a moved nudge time).
MATCH_WITHIN = dt.timedelta(hours=12)
# A check-in without due_at answers an occurrence due this long before it at most.
SPONTANEOUS_LOOKBACK = dt.timedelta(hours=24)
SCORES = {"done": 1.0, "partial": 0.5, "not_done": 0.0, "no_response": 0.0, "skipped": 0.0}
COUNTED = ("done", "partial", "not_done", "skipped", "no_response")


@dataclass(frozen=True)
class Reported:
    """A check-in, as plain data."""

    id: int
    status: str
    reported_at: dt.datetime
    due_at: dt.datetime | None = None


@dataclass
class Occurrence:
    due_at: dt.datetime
    status: str | None = None  # None: still open
    checkin_id: int | None = None
    # Why it was skipped: "pause" or "crisis".
    reason: str | None = None


@dataclass(frozen=True)
class Settled:
    occurrences: list[Occurrence]
    extra: list[int]  # ids of check-ins that answered no planned occurrence


def settle(
    due: Sequence[dt.datetime],
    reported: Iterable[Reported],
    *,
    now: dt.datetime,
    answer_window: dt.timedelta,
    timezone: str,
    pauses: Sequence[Window] = (),
    crisis_quiet: Sequence[Window] = (),
) -> Settled:
    """Each planned instant in `due` with its status (see the module doc)."""
    occurrences = [Occurrence(at) for at in sorted(due)]
    extra: list[int] = []
    by_time = sorted(reported, key=lambda r: (r.reported_at, r.id))
    # Check-ins that answered a nudge first: they say which occurrence they answer.
    for r in [r for r in by_time if r.due_at is not None]:
        assert r.due_at is not None
        found = _answered_nudge(occurrences, r.due_at)
        _take(found, r, extra)
    zone = ZoneInfo(timezone)
    for r in [r for r in by_time if r.due_at is None]:
        _take(_spontaneous(occurrences, r.reported_at, zone), r, extra)
    for occurrence in occurrences:
        if occurrence.status is not None:
            continue
        if _inside(occurrence.due_at, pauses):
            occurrence.status, occurrence.reason = "skipped", "pause"
        elif _inside(occurrence.due_at, crisis_quiet):
            occurrence.status, occurrence.reason = "skipped", "crisis"
        elif occurrence.due_at + answer_window <= now:
            occurrence.status = "no_response"
    return Settled(occurrences, extra)


def counts(occurrences: Iterable[Occurrence]) -> dict[str, int]:
    """Planned occurrences by status; `open` ones await an answer and are not counted yet."""
    out = {"planned": 0, **{status: 0 for status in COUNTED}, "open": 0}
    for occurrence in occurrences:
        out["planned"] += 1
        out[occurrence.status or "open"] += 1
    return out


def completion_rate(tally: dict[str, int]) -> float | None:
    """Done counts whole, partly done half, over the planned occurrences settled so far."""
    settled = sum(tally.get(status, 0) for status in COUNTED)
    if not settled:
        return None
    score = sum(SCORES[status] * tally.get(status, 0) for status in COUNTED)
    return round(score / settled, 3)


def _take(found: Occurrence | None, r: Reported, extra: list[int]) -> None:
    if found is None:
        extra.append(r.id)
    else:
        found.status, found.checkin_id = r.status, r.id


def _answered_nudge(occurrences: list[Occurrence], due_at: dt.datetime) -> Occurrence | None:
    open_ = [o for o in occurrences if o.checkin_id is None and abs(o.due_at - due_at) <= MATCH_WITHIN]
    return min(open_, key=lambda o: (abs(o.due_at - due_at), o.due_at), default=None)


def _spontaneous(occurrences: list[Occurrence], at: dt.datetime, zone: ZoneInfo) -> Occurrence | None:
    before = [o for o in occurrences if o.checkin_id is None and at - SPONTANEOUS_LOOKBACK < o.due_at <= at]
    if before:
        return before[-1]
    day = at.astimezone(zone).date()
    later = [
        o
        for o in occurrences
        if o.checkin_id is None and o.due_at > at and o.due_at.astimezone(zone).date() == day
    ]
    return later[0] if later else None


def _inside(at: dt.datetime, windows: Sequence[Window]) -> bool:
    return any(start <= at < end for start, end in windows)

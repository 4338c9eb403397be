"""The therapist's review: one object per patient, in the contract's shape.

Completion is over *planned occurrences* (data/occurrences.py), not over the
check-ins reported: a week with no word from the patient counts, and the
chart's weekly series (`weeks`) shows it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from data import occurrences, planner, task_changes, unreachable
from data.models import Assignment, Barrier, CheckIn, Patient, SafetyEvent, Worksheet, utcnow
from data.nudge_log import ANSWER_WINDOW
from data.safety_events import crisis_quiet_windows
from data.schedule_changes import clock_override, pause_history

WEEK_STATUSES = ("done", "partial", "not_done", "no_response", "skipped")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.timezone.utc)


def counted_period(
    patient: Patient,
    task: Assignment,
    since: dt.datetime | None,
    until: dt.datetime,
    stopped_at: dt.datetime | None = None,
) -> tuple[dt.datetime, dt.datetime] | None:
    """[from, until) in which the task's planned occurrences count, or None.

    From the latest of `since`, the task's start and the patient's consent (no nudge
    reaches a patient before they link and consent); until the earliest of `until`
    (at most now), the end of the task's last day, discharge and erasure, and, for a task
    not running now, when it stopped (`stopped_at`, from its history). One stopped before
    tasks had a history (no `stopped_at`, no end date) counts nothing: when isn't known.
    """
    if patient.consented_at is None or (not task.active and task.end is None and stopped_at is None):
        return None
    zone = ZoneInfo(patient.timezone)
    starts = [patient.consented_at] + [s for s in (since,) if s is not None]
    if task.start is not None:
        starts.append(_local_midnight(task.start, zone))
    ends = [until] + [e for e in (patient.discharged_at, patient.erased_at) if e is not None]
    if task.end is not None:
        ends.append(_local_midnight(task.end + dt.timedelta(days=1), zone))
    if not task.active and stopped_at is not None:
        ends.append(stopped_at)
    start, end = max(starts), min(ends)
    return (start, end) if start < end else None


def _planned_times(
    session: Session, patient: Patient, task: Assignment, period: tuple[dt.datetime, dt.datetime] | None
) -> list[dt.datetime]:
    """The task's planned times in the period, at full frequency and with no pause taken
    out: pauses and crisis quiet make an occurrence skipped, not unplanned."""
    if period is None:
        return []
    plan = planner.make_plan(
        routine=patient.routine or {},
        timezone=patient.timezone,
        schedule=task.schedule or {},
        start=task.start,
        end=task.end,
        clock=clock_override(session=session, assignment_id=task.id, patient_id=patient.id),
    )
    return planner.instants(plan, *period)


def _week_start(at: dt.datetime, zone: ZoneInfo) -> dt.date:
    local = at.astimezone(zone).date()
    return local - dt.timedelta(days=local.weekday())


def _mean(values: list[int]) -> float | None:
    return round(mean(values), 2) if values else None


def weekly_series(
    zone: ZoneInfo,
    settled: dict[int, list[occurrences.Occurrence]],
    expected: dict[int, int | None],
    checkins: list[CheckIn],
    extra: set[int],
) -> list[dict[str, Any]]:
    """One row per ISO week (Monday, in the patient's zone), gaps filled, for the chart.

    Status counts are of planned occurrences by when they were due; helpfulness and
    difficulty are the means of the ratings given that week; expected helpfulness is
    the mean of the tasks' own (asked once per task) over the tasks planned that week.
    """
    weeks: dict[dt.date, dict[str, Any]] = defaultdict(
        lambda: {**{s: 0 for s in WEEK_STATUSES}, "open": 0, "extra": 0, "_tasks": set(), "_h": [], "_d": []}
    )
    for assignment_id, found in settled.items():
        for o in found:
            week = weeks[_week_start(o.due_at, zone)]
            week[o.status or "open"] += 1
            week["_tasks"].add(assignment_id)
    for c in checkins:
        week = weeks[_week_start(c.reported_at, zone)]
        week["extra"] += c.id in extra
        if c.helpfulness is not None:
            week["_h"].append(c.helpfulness)
        if c.difficulty is not None:
            week["_d"].append(c.difficulty)
    if not weeks:
        return []
    first, last = min(weeks), max(weeks)
    out = []
    day = first
    while day <= last:
        week = weeks[day]
        rated = [e for a in week.pop("_tasks") if (e := expected.get(a)) is not None]
        out.append(
            {
                "week_start": day.isoformat(),
                **{k: week[k] for k in (*WEEK_STATUSES, "open", "extra")},
                "expected_helpfulness": _mean(rated),
                "helpfulness": _mean(week.pop("_h")),
                "difficulty": _mean(week.pop("_d")),
            }
        )
        day += dt.timedelta(days=7)
    return out


def patient_report(
    *,
    session: Session,
    patient: Patient,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    now = now or utcnow()
    end = min(until, now) if until is not None else now
    zone = ZoneInfo(patient.timezone)
    tasks = list(
        session.scalars(select(Assignment).where(Assignment.patient_id == patient.id).order_by(Assignment.id))
    )
    task_ids = {t.id: t.task_id for t in tasks}

    # Every check-in of the patient's tasks, for matching: one reported just after `since`
    # may answer an occurrence due before it. Only those in the period are listed.
    all_checkins = list(
        session.scalars(select(CheckIn).where(CheckIn.assignment_id.in_(task_ids)).order_by(CheckIn.id))
    )
    checkins = [
        c
        for c in all_checkins
        if (since is None or c.reported_at >= since) and (until is None or c.reported_at < until)
    ]
    barrier_q = select(Barrier).where(Barrier.patient_id == patient.id).order_by(Barrier.id)
    event_q = select(SafetyEvent).where(SafetyEvent.patient_id == patient.id).order_by(SafetyEvent.id)
    if since is not None:
        barrier_q = barrier_q.where(Barrier.at >= since)
        event_q = event_q.where(SafetyEvent.at >= since)
    if until is not None:
        barrier_q = barrier_q.where(Barrier.at < until)
        event_q = event_q.where(SafetyEvent.at < until)
    worksheets = {
        w.checkin_id: w.answers
        for w in session.scalars(select(Worksheet).where(Worksheet.patient_id == patient.id))
        if w.checkin_id is not None
    }
    events = list(session.scalars(event_q))

    pauses = pause_history(session=session, patient_id=patient.id)
    crisis_quiet = crisis_quiet_windows(session=session, patient_id=patient.id)
    settled: dict[int, list[occurrences.Occurrence]] = {}
    periods: dict[int, tuple[dt.datetime, dt.datetime] | None] = {}
    extra: set[int] = set()
    answers: dict[int, dt.datetime] = {}  # check-in id -> the occurrence it answers
    for t in tasks:
        # Paused by the therapist and resumed: those occurrences were skipped, as in a
        # patient's own pause; still paused: counted until it stopped.
        stops = task_changes.inactive_windows(session=session, assignment_id=t.id)
        stopped_at = stops[-1][0] if stops and stops[-1][1] is None else None
        task_pauses = [(a, b) for a, b in stops if b is not None]
        periods[t.id] = period = counted_period(patient, t, since, end, stopped_at)
        result = occurrences.settle(
            _planned_times(session, patient, t, period),
            [
                occurrences.Reported(c.id, c.status, c.reported_at, c.due_at)
                for c in all_checkins
                if c.assignment_id == t.id
            ],
            now=now,
            answer_window=ANSWER_WINDOW,
            timezone=patient.timezone,
            pauses=[*pauses, *task_pauses],
            crisis_quiet=crisis_quiet,
        )
        settled[t.id] = result.occurrences
        extra.update(result.extra)
        answers.update({o.checkin_id: o.due_at for o in result.occurrences if o.checkin_id is not None})
    tallies = {a: occurrences.counts(found) for a, found in settled.items()}
    overall = {k: sum(tally[k] for tally in tallies.values()) for k in occurrences.counts([])}
    unanswered = sorted(
        (
            (o.due_at, task_ids[a], o)
            for a, found in settled.items()
            for o in found
            if o.checkin_id is None and o.status
        ),
        key=lambda item: (item[0], item[1]),
    )

    return {
        "patient_id": patient.id,
        "therapist_id": patient.therapist_id,
        "erased": patient.erased_at is not None,
        # The patient blocked the bot: no nudges reach them until they write again.
        "unreachable_since": _iso(patient.unreachable_at),
        # Every time they couldn't be reached that overlaps the period: from when Telegram
        # said they blocked the bot until they wrote again (None: not yet).
        "unreachable_periods": [
            {"from": _iso(p.started_at), "until": _iso(p.ended_at)}
            for p in unreachable.periods(session=session, patient_id=patient.id, since=since, until=until)
        ],
        "tasks": [
            {
                "id": t.task_id,
                "title": t.title,
                "schedule": t.schedule,
                "active": t.active,
                # How much the patient expected it to help (1-5), asked once.
                "expected_helpfulness": t.expected_helpfulness,
                # When the patient said they'd do it, when the task was brought to them
                # ("HH:MM", or "keep": the therapist's times).
                "planned_when": t.planned_when,
                "set_by": t.set_by,
                # Set after pushback: nudges for this task ease off.
                "backed_off_at": _iso(t.backed_off_at),
                # Three nudges in a row went unanswered: nudged half as often until they answer.
                "nudges_reduced_at": _iso(t.reduced_at),
                # Planned occurrences (full frequency) in the counted period, by status;
                # "open" ones await an answer, "extra" check-ins answered none.
                "counted_from": _iso(period[0]) if (period := periods[t.id]) else None,
                "counted_until": _iso(period[1]) if period else None,
                **tallies[t.id],
                "extra": sum(1 for c in checkins if c.assignment_id == t.id and c.id in extra),
                "completion_rate": occurrences.completion_rate(tallies[t.id]),
                # The task's own weekly series, as `weeks` below (for the chart's panel per task).
                "weeks": weekly_series(
                    zone,
                    {t.id: settled[t.id]},
                    {t.id: t.expected_helpfulness},
                    [c for c in checkins if c.assignment_id == t.id],
                    extra,
                ),
            }
            for t in tasks
        ],
        "checkins": [
            {
                "task_id": task_ids[c.assignment_id],
                "due_at": _iso(c.due_at),
                "status": c.status,
                "reported_at": _iso(c.reported_at),
                "helpfulness": c.helpfulness,
                "difficulty": c.difficulty,
                # Only what the patient agreed to share reaches the therapist.
                "reflection": c.reflection if c.reflection_shared else None,
                # A worksheet done in the chat is the homework itself, for review in session.
                "worksheet": worksheets.get(c.id),
                # The planned occurrence this check-in answers; None: extra, not counted.
                "answers_due_at": _iso(answers.get(c.id)),
            }
            for c in checkins
        ]
        # Planned occurrences nobody answered: skipped (pause, crisis quiet) or no response.
        + [
            {"task_id": task_id, "due_at": _iso(due_at), "status": o.status}
            | ({"skipped_because": o.reason} if o.status == "skipped" else {})
            for due_at, task_id, o in unanswered
        ],
        "barriers": [
            {
                "category": b.category,
                "words": b.words,
                "plan": b.plan,
                "option": b.option,
                "needs_adjusting": b.flag_for_therapist,
                "at": _iso(b.at),
                "task_id": task_ids.get(b.assignment_id) if b.assignment_id else None,
            }
            for b in session.scalars(barrier_q)
        ],
        "resistance": [{"at": _iso(e.at), "words": e.words} for e in events if e.kind == "resistance"],
        "crisis": [
            {
                "at": _iso(e.at),
                "detected_by": e.detected_by,
                "therapist_notified_at": _iso(e.therapist_notified_at),
            }
            for e in events
            if e.kind == "crisis"
        ],
        # Possible risk: the one question asked, when, which net raised it, and the answer.
        "risk_checks": [
            {
                "at": _iso(e.at),
                "raised_by": e.detected_by,
                "answer": e.answer,
                "answered_at": _iso(e.answered_at),
            }
            for e in events
            if e.kind == "risk_check"
        ],
        # Over the planned occurrences settled so far, every task together.
        "completion_rate": occurrences.completion_rate(overall),
        "occurrences": overall,
        "weeks": weekly_series(zone, settled, {t.id: t.expected_helpfulness for t in tasks}, checkins, extra),
    }


def build_report(
    *,
    session: Session,
    patient_id: str | None = None,
    therapist_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """One report per patient, optionally one patient's or one therapist's; [since, until)."""
    query = select(Patient).order_by(Patient.id)
    if patient_id is not None:
        query = query.where(Patient.id == patient_id)
    if therapist_id is not None:
        query = query.where(Patient.therapist_id == therapist_id)
    return [
        patient_report(session=session, patient=p, since=since, until=until, now=now)
        for p in session.scalars(query)
    ]

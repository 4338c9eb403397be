"""The therapist's review: one object per patient, in the contract's shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import Assignment, Barrier, CheckIn, NudgeLog, Patient, SafetyEvent, Worksheet, utcnow
from data.nudge_log import ANSWER_WINDOW


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def completion_rate(statuses: list[str]) -> float | None:
    """Done counts whole, partly done half; None before any check-in."""
    if not statuses:
        return None
    score = sum(1.0 if s == "done" else 0.5 if s == "partial" else 0.0 for s in statuses)
    return round(score / len(statuses), 3)


def patient_report(*, session: Session, patient: Patient, since: dt.datetime | None = None) -> dict[str, Any]:
    tasks = list(
        session.scalars(select(Assignment).where(Assignment.patient_id == patient.id).order_by(Assignment.id))
    )
    task_ids = {t.id: t.task_id for t in tasks}

    checkin_q = select(CheckIn).where(CheckIn.assignment_id.in_(task_ids)).order_by(CheckIn.id)
    barrier_q = select(Barrier).where(Barrier.patient_id == patient.id).order_by(Barrier.id)
    event_q = select(SafetyEvent).where(SafetyEvent.patient_id == patient.id).order_by(SafetyEvent.id)
    if since is not None:
        checkin_q = checkin_q.where(CheckIn.reported_at >= since)
        barrier_q = barrier_q.where(Barrier.at >= since)
        event_q = event_q.where(SafetyEvent.at >= since)
    checkins = list(session.scalars(checkin_q))
    worksheets = {
        w.checkin_id: w.answers
        for w in session.scalars(select(Worksheet).where(Worksheet.patient_id == patient.id))
        if w.checkin_id is not None
    }
    events = list(session.scalars(event_q))
    # A nudge that went out and was never answered is a check-in with no response.
    unanswered_q = select(NudgeLog).where(
        NudgeLog.assignment_id.in_(task_ids),
        NudgeLog.status == "sent",
        NudgeLog.answered_at.is_(None),
        NudgeLog.sent_at < utcnow() - ANSWER_WINDOW,
    )
    if since is not None:
        unanswered_q = unanswered_q.where(NudgeLog.scheduled_for >= since)
    no_response = [
        {"task_id": task_ids[n.assignment_id], "due_at": _iso(n.scheduled_for), "status": "no_response"}
        for n in session.scalars(unanswered_q.order_by(NudgeLog.scheduled_for))
    ]

    return {
        "patient_id": patient.id,
        "therapist_id": patient.therapist_id,
        "erased": patient.erased_at is not None,
        # The patient blocked the bot: no nudges reach them until they write again.
        "unreachable_since": _iso(patient.unreachable_at),
        "tasks": [
            {
                "id": t.task_id,
                "title": t.title,
                "schedule": t.schedule,
                "active": t.active,
                # How much the patient expected it to help (1-5), asked once.
                "expected_helpfulness": t.expected_helpfulness,
                # Set after pushback: nudges for this task ease off.
                "backed_off_at": _iso(t.backed_off_at),
                # Three nudges in a row went unanswered: nudged half as often until they answer.
                "nudges_reduced_at": _iso(t.reduced_at),
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
            }
            for c in checkins
        ]
        + no_response,
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
        "completion_rate": completion_rate([c.status for c in checkins]),
    }


def build_report(
    *, session: Session, patient_id: str | None = None, since: dt.datetime | None = None
) -> list[dict[str, Any]]:
    query = select(Patient).order_by(Patient.id)
    if patient_id is not None:
        query = query.where(Patient.id == patient_id)
    return [patient_report(session=session, patient=p, since=since) for p in session.scalars(query)]

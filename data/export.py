"""A patient's own data, for /mydata: everything Bridgework holds about them, private notes included."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import (
    Assignment,
    Barrier,
    CheckIn,
    NudgeLog,
    Patient,
    SafetyEvent,
    ScheduleChange,
    Worksheet,
)


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value else None


def patient_export(*, session: Session, patient_id: str) -> dict[str, Any]:
    patient = session.get(Patient, patient_id)
    if patient is None:
        return {}
    tasks = list(
        session.scalars(select(Assignment).where(Assignment.patient_id == patient_id).order_by(Assignment.id))
    )
    names = {t.id: t.task_id for t in tasks}
    ids = list(names)
    return {
        "exported_at": _iso(dt.datetime.now(dt.timezone.utc)),
        "you": {
            "name": patient.display_name,
            "timezone": patient.timezone,
            "routine": patient.routine,
            "discreet_reminders": patient.discreet,
            "silent_reminders": patient.silent_nudges,
            "safety_plan": patient.safety_plan or [],
            "linked_at": _iso(patient.linked_at),
            "agreed_at": _iso(patient.consented_at),
        },
        "tasks": [
            {
                "id": t.task_id,
                "title": t.title,
                "why": t.rationale,
                "schedule": t.schedule,
                "how_much_you_expected_it_to_help": t.expected_helpfulness,
            }
            for t in tasks
        ],
        "checkins": [
            {
                "task": names[c.assignment_id],
                "status": c.status,
                "at": _iso(c.reported_at),
                "helpfulness": c.helpfulness,
                "difficulty": c.difficulty,
                "your_note": c.reflection,
                "note_shared_with_therapist": c.reflection_shared,
            }
            for c in session.scalars(
                select(CheckIn).where(CheckIn.assignment_id.in_(ids)).order_by(CheckIn.id)
            )
        ],
        "obstacles": [
            {
                "task": names.get(b.assignment_id),
                "kind": b.category,
                "your_words": b.words,
                "plan": b.plan,
                "at": _iso(b.at),
            }
            for b in session.scalars(
                select(Barrier).where(Barrier.patient_id == patient_id).order_by(Barrier.id)
            )
        ],
        "worksheets": [
            {"task": names.get(w.assignment_id), "kind": w.template, "answers": w.answers, "status": w.status}
            for w in session.scalars(
                select(Worksheet).where(Worksheet.patient_id == patient_id).order_by(Worksheet.id)
            )
        ],
        "moments_noted": [
            {"kind": e.kind, "at": _iso(e.at), "your_words": e.words, "your_answer": e.answer}
            for e in session.scalars(
                select(SafetyEvent).where(SafetyEvent.patient_id == patient_id).order_by(SafetyEvent.id)
            )
        ],
        "reminder_changes": [
            {"kind": c.kind, "at": _iso(c.at), "time": c.clock, "asked_at": _iso(c.created_at)}
            for c in session.scalars(
                select(ScheduleChange)
                .where(ScheduleChange.patient_id == patient_id)
                .order_by(ScheduleChange.id)
            )
        ],
        "reminders_sent": [
            {
                "task": names[n.assignment_id],
                "planned_for": _iso(n.scheduled_for),
                "status": n.status,
                "sent_at": _iso(n.sent_at),
            }
            for n in session.scalars(
                select(NudgeLog).where(NudgeLog.assignment_id.in_(ids)).order_by(NudgeLog.id)
            )
        ],
    }


def export_json(*, session: Session, patient_id: str) -> bytes:
    return json.dumps(
        patient_export(session=session, patient_id=patient_id), indent=2, ensure_ascii=False
    ).encode()

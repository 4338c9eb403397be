"""A patient's own data, for /mydata: everything Bridgework holds about them, private notes
included, and their conversation as Rasa holds it (data/rasa_tracker.py reads it)."""

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
    UnreachablePeriod,
    Worksheet,
)
from data.wording import content


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value else None


def patient_export(*, session: Session, patient_id: str) -> dict[str, Any]:
    patient = session.get(Patient, patient_id)
    if patient is None:
        return {}
    tasks = list(
        session.scalars(select(Assignment).where(Assignment.patient_id == patient_id).order_by(Assignment.id))
    )
    # Keyed by int | None: an obstacle's assignment_id may be empty and then names no task.
    names: dict[int | None, str] = {t.id: t.task_id for t in tasks}
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
        # When Telegram said they had blocked the bot, until they wrote again (null: still).
        "times_unreachable": [
            {"from": _iso(p.started_at), "until": _iso(p.ended_at)}
            for p in session.scalars(
                select(UnreachablePeriod)
                .where(UnreachablePeriod.patient_id == patient_id)
                .order_by(UnreachablePeriod.id)
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


# Rasa's mark on a message the bot started itself (a scheduled reminder), not the patient's words.
_EXTERNAL = "EXTERNAL: "


def _at(timestamp: float | None) -> str | None:
    return _iso(dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)) if timestamp else None


def _said(event: dict[str, Any]) -> dict[str, Any]:
    """One of the patient's messages, as Rasa holds it, with what the NLU took it to mean."""
    parse = event.get("parse_data") or {}
    intent = (parse.get("intent") or {}).get("name")
    text = event.get("text") or ""
    if text.startswith(_EXTERNAL):
        return {"at": _at(event.get("timestamp")), "who": "reminder", "started": intent}
    # A long message: the NLU read its start, and the whole went along with it.
    whole = (event.get("metadata") or {}).get("bw_full_text") or text
    said = {"at": _at(event.get("timestamp")), "who": "you", "text": whole, "understood_as": intent}
    picked = [{"what": e.get("entity"), "value": e.get("value")} for e in parse.get("entities") or []]
    if picked:
        said["picked_out"] = picked
    return said


def _conversation_entry(event: dict[str, Any]) -> dict[str, Any] | None:
    """An event as the file shows it; None for the steps that hold none of the patient's words."""
    kind, at = event.get("event"), _at(event.get("timestamp"))
    if kind == "user":
        return _said(event)
    if kind == "bot":
        buttons = [b.get("title") for b in (event.get("data") or {}).get("buttons") or []]
        return {
            "at": at,
            "who": "bridgework",
            "text": event.get("text"),
            **({"buttons": buttons} if buttons else {}),
        }
    if kind == "slot" and event.get("value") is not None:
        return {"at": at, "noted": event.get("name"), "value": event.get("value")}
    if kind in ("entities", "reminder") and event.get("entities"):
        return {"at": at, "noted": "entities", "value": event.get("entities")}
    return None


def conversation_export(transcript: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The patient's conversation as Rasa holds it, or a plain word that it is missing."""
    said = content()["mydata_conversation"]
    if transcript is None:
        return {"included": False, "about": said["missing"]}
    entries = [e for e in map(_conversation_entry, transcript) if e is not None]
    return {"included": True, "about": said["about"], "events": entries}


def export_json(*, session: Session, patient_id: str, transcript: list[dict[str, Any]] | None) -> bytes:
    """`transcript`: the events Rasa holds for the patient, or None when its store couldn't be read."""
    data = patient_export(session=session, patient_id=patient_id)
    data["our_conversation"] = conversation_export(transcript)
    return json.dumps(data, indent=2, ensure_ascii=False).encode()

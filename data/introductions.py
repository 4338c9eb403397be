"""New tasks to bring to the patient in the chat: one the therapist set in Telegram, once
the patient can be reached, has given their routine, is awake, and is neither paused nor
in the quiet after a crisis. Claimed before it goes, given back if sending fails."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data import nudge_targets, patients, planner
from data.db import rowcount
from data.models import Assignment, SafetyEvent
from data.safety_events import CRISIS_QUIET
from data.schedule_changes import paused_until


@dataclass(frozen=True)
class Due:
    assignment_id: int
    task_id: str
    sender_id: str
    chat_id: int
    patient_id: str
    silent: bool


def due(*, session: Session, now: dt.datetime) -> list[Due]:
    found = []
    # Looked at every few seconds: only the few tasks still to introduce are read.
    for task, patient in nudge_targets.reachable_tasks(session=session, to_introduce=True):
        routine = patient.routine or {}
        if patient.telegram_chat_id is None or patients.routine_missing(routine) is not None:
            continue
        night = (routine["sleep"], routine["wake"])
        if not planner.awake_at(routine, patient.timezone, now, night=night):
            continue
        if paused_until(session=session, patient_id=patient.id) is not None or _just_after_crisis(
            session, patient.id, now
        ):
            continue
        found.append(
            Due(
                task.id,
                task.task_id,
                patient.sender_id,
                patient.telegram_chat_id,
                patient.id,
                patient.silent_nudges,
            )
        )
    return found


def _just_after_crisis(session: Session, patient_id: str, now: dt.datetime) -> bool:
    return (
        session.scalar(
            select(SafetyEvent.id).where(
                SafetyEvent.patient_id == patient_id,
                SafetyEvent.kind == "crisis",
                SafetyEvent.at > now - CRISIS_QUIET,
            )
        )
        is not None
    )


def claim(*, session: Session, assignment_id: int, now: dt.datetime) -> bool:
    query = update(Assignment).where(Assignment.id == assignment_id, Assignment.introduced_at.is_(None))
    return rowcount(session.execute(query.values(introduced_at=now))) == 1


def unclaim(*, session: Session, assignment_id: int) -> None:
    session.execute(update(Assignment).where(Assignment.id == assignment_id).values(introduced_at=None))


def plan_when(*, session: Session, assignment_id: int, when: str) -> None:
    session.execute(update(Assignment).where(Assignment.id == assignment_id).values(planned_when=when))

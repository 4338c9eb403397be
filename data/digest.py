"""The therapist's daily digest: what to look at, gathered once a day instead of one
message per event. Crisis alerts are not here: they go at once (scheduler/announcements.py)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data.db import rowcount
from data.models import Assignment, Barrier, Patient, SafetyEvent, Therapist

# "The same barrier twice in a week."
REPEAT_WINDOW = dt.timedelta(days=7)


@dataclass
class PatientFlags:
    patient_id: str
    display_name: str
    # (task title, barrier category) the patient said needs adjusting: too hard, unclear, not useful.
    adjust: list[tuple[str, str]] = field(default_factory=list)
    pushback: int = 0
    repeated: list[str] = field(default_factory=list)  # categories met twice or more in a week
    unanswered: list[str] = field(default_factory=list)  # tasks whose reminders went unanswered 3 times
    unreachable: bool = False

    def any(self) -> bool:
        return bool(self.adjust or self.pushback or self.repeated or self.unanswered or self.unreachable)


@dataclass(frozen=True)
class Due:
    therapist_id: str
    chat_id: int
    timezone: str
    day: dt.date  # the clinic's local date the digest is for


def due(*, session: Session, now: dt.datetime) -> list[Due]:
    """Linked therapists whose digest time has come today (clinic time) and who haven't had it."""
    found = []
    for therapist in session.scalars(
        select(Therapist).where(Therapist.telegram_chat_id.is_not(None), Therapist.digest_time.is_not(None))
    ):
        local = now.astimezone(ZoneInfo(therapist.clinic.timezone))
        assert therapist.digest_time is not None and therapist.telegram_chat_id is not None
        if local.strftime("%H:%M") >= therapist.digest_time and therapist.digest_sent_on != local.date():
            found.append(
                Due(therapist.id, therapist.telegram_chat_id, therapist.clinic.timezone, local.date())
            )
    return found


def claim(*, session: Session, therapist_id: str, day: dt.date) -> tuple[bool, dt.date | None]:
    """Mark the day's digest as sent, before sending: (claimed here, the date it last went
    out before), the date to give back if sending fails; not claimed if another process has it."""
    previous = session.scalar(select(Therapist.digest_sent_on).where(Therapist.id == therapist_id))
    query = update(Therapist).where(
        Therapist.id == therapist_id,
        (Therapist.digest_sent_on.is_(None)) | (Therapist.digest_sent_on != day),
    )
    return rowcount(session.execute(query.values(digest_sent_on=day))) == 1, previous


def unclaim(*, session: Session, therapist_id: str, previous: dt.date | None) -> None:
    """Sending failed: the digest is due again at the next look."""
    session.execute(update(Therapist).where(Therapist.id == therapist_id).values(digest_sent_on=previous))


def time_of(*, session: Session, therapist_id: str) -> str | None:
    return session.scalar(select(Therapist.digest_time).where(Therapist.id == therapist_id))


def set_time(*, session: Session, therapist_id: str, clock: str | None) -> None:
    session.execute(update(Therapist).where(Therapist.id == therapist_id).values(digest_time=clock))


def flags(*, session: Session, therapist_id: str, since: dt.datetime, now: dt.datetime) -> list[PatientFlags]:
    """For each of the therapist's patients with something new since `since`, what it is."""
    found = []
    for patient in session.scalars(
        select(Patient)
        .where(
            Patient.therapist_id == therapist_id, Patient.erased_at.is_(None), Patient.discharged_at.is_(None)
        )
        .order_by(Patient.display_name, Patient.id)
    ):
        tasks = {
            a.id: a for a in session.scalars(select(Assignment).where(Assignment.patient_id == patient.id))
        }
        row = PatientFlags(patient.id, patient.display_name)
        week = list(
            session.scalars(
                select(Barrier)
                .where(Barrier.patient_id == patient.id, Barrier.at >= now - REPEAT_WINDOW)
                .order_by(Barrier.at)
            )
        )
        new = [b for b in week if b.at >= since]
        row.adjust = [
            (tasks[b.assignment_id].title if b.assignment_id in tasks else "", b.category)
            for b in new
            if b.flag_for_therapist
        ]
        counts = Counter(b.category for b in week)
        row.repeated = sorted({b.category for b in new if counts[b.category] >= 2})
        row.pushback = len(
            session.scalars(
                select(SafetyEvent.id).where(
                    SafetyEvent.patient_id == patient.id,
                    SafetyEvent.kind == "resistance",
                    SafetyEvent.at >= since,
                )
            ).all()
        )
        row.unanswered = [
            a.title for a in tasks.values() if a.active and a.reduced_at is not None and a.reduced_at >= since
        ]
        row.unreachable = patient.unreachable_at is not None and patient.unreachable_at >= since
        if row.any():
            found.append(row)
    return found

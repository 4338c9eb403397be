"""Crisis and resistance events, kept for the therapist's review."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data import patients
from data.db import insert_once, rowcount
from data.models import Clinic, Patient, SafetyEvent, Therapist, utcnow

# After a crisis response, no nudges for this long: homework can wait. The scheduler
# keeps quiet for it and the report counts what fell inside as skipped.
CRISIS_QUIET = dt.timedelta(hours=24)


def record_event(
    *,
    session: Session,
    patient_id: str,
    kind: str,
    detected_by: str,
    dedupe_key: str,
    words: str | None = None,
) -> SafetyEvent:
    values = {
        "patient_id": patient_id,
        "kind": kind,
        "detected_by": detected_by,
        "dedupe_key": dedupe_key,
        "words": words,
        "at": utcnow(),
    }
    row, _ = insert_once(session, SafetyEvent, values, "dedupe_key")
    return row


RISK_CHECK = "risk_check"
ANSWERS = ("yes", "no", "unsure")


def record_risk_check(*, session: Session, patient_id: str, raised_by: str, message_key: str) -> int:
    """The one question was asked (possible risk): when and which net raised it, never the words.
    Returns the event's id, which the answer buttons carry.

    `message_key` is "<sender id>:<message id>", the same whether the bot or the NLU (through
    the actions) raised it, so one message asked about twice is one event.
    """
    row = record_event(
        session=session,
        patient_id=patient_id,
        kind=RISK_CHECK,
        detected_by=raised_by,
        dedupe_key=f"{RISK_CHECK}:{message_key}",
    )
    session.flush()
    return row.id


def answer_risk_check(*, session: Session, patient_id: str, event_id: int, answer: str) -> bool:
    """Record the patient's answer to their own question, once. False for an id that isn't
    one of this patient's questions, or a question already answered (an old or forged button)."""
    if answer not in ANSWERS:
        return False
    return (
        rowcount(
            session.execute(
                update(SafetyEvent)
                .where(
                    SafetyEvent.id == event_id,
                    SafetyEvent.patient_id == patient_id,
                    SafetyEvent.kind == RISK_CHECK,
                    SafetyEvent.answer.is_(None),
                )
                .values(answer=answer, answered_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        )
        == 1
    )


def crisis_since(*, session: Session, patient_id: str, since: dt.datetime) -> bool:
    """Whether the patient had a crisis response after `since` (nudges stay quiet a while)."""
    return (
        session.scalar(
            select(SafetyEvent.id)
            .where(SafetyEvent.patient_id == patient_id, SafetyEvent.kind == "crisis", SafetyEvent.at > since)
            .limit(1)
        )
        is not None
    )


def crisis_quiet_windows(
    *, session: Session, patient_id: str, quiet: dt.timedelta = CRISIS_QUIET
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every crisis response's quiet period, (from, until), oldest first: when no nudge went out."""
    times = session.scalars(
        select(SafetyEvent.at)
        .where(SafetyEvent.patient_id == patient_id, SafetyEvent.kind == "crisis")
        .order_by(SafetyEvent.at)
    )
    return [(at, at + quiet) for at in times]


def alerts_due(*, session: Session, since: dt.datetime) -> list[tuple[int, int, str, dt.datetime, str, str]]:
    """Crisis responses since `since` whose therapist has linked Telegram and hasn't been told:
    (event id, therapist chat id, patient id, at, detected by, clinic timezone)."""
    rows = session.execute(
        select(
            SafetyEvent.id,
            Therapist.telegram_chat_id,
            SafetyEvent.patient_id,
            SafetyEvent.at,
            SafetyEvent.detected_by,
            Clinic.timezone,
        )
        .join(Patient, SafetyEvent.patient_id == Patient.id)
        .join(Therapist, Patient.therapist_id == Therapist.id)
        .join(Clinic, Therapist.clinic_id == Clinic.id)
        .where(
            SafetyEvent.kind == "crisis",
            SafetyEvent.therapist_notified_at.is_(None),
            SafetyEvent.at > since,
            Therapist.telegram_chat_id.is_not(None),
        )
        .order_by(SafetyEvent.at)
    )
    return [tuple(row) for row in rows]


def claim_alert(*, session: Session, event_id: int) -> bool:
    """Mark the therapist told, once; False if someone else already claimed it."""
    return (
        rowcount(
            session.execute(
                update(SafetyEvent)
                .where(SafetyEvent.id == event_id, SafetyEvent.therapist_notified_at.is_(None))
                .values(therapist_notified_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        )
        == 1
    )


def unclaim_alert(*, session: Session, event_id: int) -> None:
    """The alert didn't reach the therapist: try again later."""
    session.execute(
        update(SafetyEvent)
        .where(SafetyEvent.id == event_id)
        .values(therapist_notified_at=None)
        .execution_options(synchronize_session=False)
    )


def claim_second_check(*, session: Session, patient_id: str, within: dt.timedelta) -> bool:
    """True once per crisis response, if it was within `within`: the "I'm fine" gets a second check."""
    latest = session.scalar(
        select(SafetyEvent)
        .where(
            SafetyEvent.patient_id == patient_id,
            SafetyEvent.kind == "crisis",
            SafetyEvent.at > utcnow() - within,
        )
        .order_by(SafetyEvent.at.desc())
        .limit(1)
    )
    if latest is None or latest.checked_again_at is not None:
        return False
    latest.checked_again_at = utcnow()
    return True


def departures_due(*, session: Session, since: dt.datetime) -> list[tuple[str, int, dt.datetime, str]]:
    """Patients who erased their data since `since`, whose linked therapist hasn't been told:
    (patient id, therapist chat id, erased at, clinic timezone)."""
    rows = session.execute(
        select(Patient.id, Therapist.telegram_chat_id, Patient.erased_at, Clinic.timezone)
        .join(Therapist, Patient.therapist_id == Therapist.id)
        .join(Clinic, Therapist.clinic_id == Clinic.id)
        .where(
            Patient.erased_at > since,
            Patient.left_notified_at.is_(None),
            Therapist.telegram_chat_id.is_not(None),
        )
    )
    return [tuple(row) for row in rows]


def claim_departure(*, session: Session, patient_id: str, claim: bool = True) -> bool:
    """Mark (or, with claim=False, unmark after a failed send) the therapist told of a departure."""
    return patients.claim_stamp(
        session=session, patient_id=patient_id, column="left_notified_at", claim=claim
    )

"""Who the bot is talking to: the sender of an update, and the patient behind it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from data import nudge_log, patients
from data.db import run_in_thread


@dataclass(frozen=True)
class Sender:
    """Who sent an update: a Telegram user, or the local terminal's patient."""

    telegram_user_id: int | None = None
    chat_id: int | None = None
    patient_id: str | None = None


@dataclass(frozen=True)
class PatientView:
    id: str
    sender_id: str  # the pseudonymous id Rasa knows them by
    display_name: str
    consented: bool
    # The clinic closed the plan: only crisis care, /mydata, /forget and /privacy still work.
    discharged: bool = False
    # Joined from a therapist's /invite and not yet told the bot their day: what to ask next
    # (bot/routine_setup.py); None once known, and always for a care-plan file's patients.
    routine_step: str | None = None


def find_patient(session: Session, sender: Sender) -> PatientView | None:
    """The patient behind the sender, if any (erased ones are no one). Reads only."""
    if sender.patient_id is not None:
        row = patients.by_id(session=session, patient_id=sender.patient_id)
        row = None if row is None or row.erased_at else row
    elif sender.telegram_user_id is not None:
        row = patients.by_telegram_user(session=session, telegram_user_id=sender.telegram_user_id)
    else:
        row = None
    if row is None:
        return None
    return PatientView(
        row.id,
        row.sender_id,
        row.display_name,
        row.consented_at is not None,
        discharged=row.discharged_at is not None,
        routine_step=patients.routine_missing(row.routine),
    )


def heard_from(session: Session, patient_id: str) -> None:
    """The patient wrote: any word answers their recent nudges, and shows they can be
    reached again if they had blocked the bot."""
    nudge_log.mark_answered(session=session, patient_id=patient_id)
    patients.mark_reachable(session=session, patient_id=patient_id)


async def hear_from(sessions: sessionmaker[Session], sender: Sender) -> PatientView | None:
    """The patient behind the sender, if any, recorded as heard from: every word from them
    is both a lookup and that record, so the two share one transaction."""

    def work(session: Session) -> PatientView | None:
        patient = find_patient(session, sender)
        if patient is not None:
            heard_from(session, patient.id)
        return patient

    return await run_in_thread(sessions, work)

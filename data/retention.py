"""How long things are kept, and the pruning that keeps the promise (/privacy says the same).

- A patient's message (the inbox row) keeps its words only until it is answered; the
  row itself (an id and times) goes after the de-duplication window.
- Which messages are in a chat (ids, never text) goes after Telegram's 48 hours.
- The nudge log and Rasa's transcript go after the clinic's retention period.
- A discharged patient's data is erased once the retention period has passed since
  the clinic closed the plan; the therapist's tasks stay, as after /forget. Their Rasa
  transcript goes the way /forget's does: written down as a pending erasure in the
  same transaction, and finished by the bot (bot/erasures.py).

Run by the scheduler that holds the lease, every hour (scheduler/service.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from data import erasure
from data.chat_messages import DELETABLE_FOR
from data.db import rowcount
from data.inbox import DEDUPE_WINDOW
from data.models import ChatMessage, InboxUpdate, NudgeLog, Patient, utcnow

DEFAULT_RETENTION_DAYS = 180


@dataclass
class Pruned:
    inbox: int = 0
    chat_messages: int = 0
    nudge_log: int = 0
    discharged_erased: int = 0


def prune(*, session: Session, retention_days: int, now: dt.datetime | None = None) -> Pruned:
    now = now or utcnow()
    kept_until = now - dt.timedelta(days=retention_days)
    pruned = Pruned()
    pruned.inbox = rowcount(
        session.execute(
            delete(InboxUpdate).where(
                InboxUpdate.processed_at.is_not(None), InboxUpdate.received_at < now - DEDUPE_WINDOW
            )
        )
    )
    pruned.chat_messages = rowcount(
        session.execute(delete(ChatMessage).where(ChatMessage.at < now - DELETABLE_FOR))
    )
    pruned.nudge_log = rowcount(session.execute(delete(NudgeLog).where(NudgeLog.scheduled_for < kept_until)))
    discharged = session.scalars(
        select(Patient.id).where(Patient.discharged_at < kept_until, Patient.erased_at.is_(None))
    ).all()
    for patient_id in discharged:
        if erasure.erase_patient(session=session, patient_id=patient_id, therapist_told=True) is not None:
            pruned.discharged_erased += 1
    return pruned

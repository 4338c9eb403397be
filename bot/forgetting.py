"""/forget: asked once more, then everything of the patient erased, and the patient told
truthfully what was (what is left outside our database, bot/erasures.py retries)."""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from bot.commands import Call
from bot.erasures import NOTHING_LEFT, Erasures, Outcome
from bot.people import PatientView
from data import erasure
from data.db import run_in_thread
from data.wording import content, say
from messaging.rendering import Button, Reply

log = logging.getLogger(__name__)

CONFIRM = "bw:forget:yes"
CANCEL = "bw:forget:no"


class Forgetting:
    def __init__(self, *, sessions: sessionmaker[Session], erasures: Erasures):
        self._sessions = sessions
        self._erasures = erasures

    async def ask(self, call: Call) -> list[Reply]:
        buttons = content()["forget_buttons"]
        return [
            Reply(
                say("forget_confirm"),
                (Button(buttons["confirm"], CONFIRM), Button(buttons["cancel"], CANCEL)),
            )
        ]

    async def confirm(self, patient: PatientView, key: str) -> list[Reply]:
        return [Reply(forget_done(await self._forget(patient)))]

    async def cancel(self, patient: PatientView, key: str) -> list[Reply]:
        return [Reply(say("forget_cancelled"))]

    async def _forget(self, patient: PatientView) -> Outcome:
        """Our rows in one transaction, which also writes down what is left to clear outside
        it; that (Rasa's transcript, the chat) is then done at once, and retried until done."""

        def work(session: Session) -> erasure.Erased | None:
            return erasure.erase_patient(session=session, patient_id=patient.id)

        erased = await run_in_thread(self._sessions, work)
        if erased is None:
            return NOTHING_LEFT
        # A Telegram chat with nothing recent enough to delete still gets told so.
        outcome = replace(await self._erasures.finish(erased.pending), in_chat=erased.chat_id is not None)
        log.info(
            "patient erased their data; transcript %s; %d of %d recent chat messages deleted, %d to retry",
            "erased" if outcome.transcript_erased else "to retry",
            outcome.deleted,
            outcome.asked,
            outcome.waiting,
        )
        return outcome


def forget_done(outcome: Outcome) -> str:
    """The answer to /forget, saying what was really erased and deleted."""
    said = content()["forget_done"]
    parts = [said["erased" if outcome.transcript_erased else "erased_transcript_later"]]
    if outcome.in_chat:
        if not outcome.asked:
            parts.append(said["chat_nothing"])
        elif outcome.deleted == outcome.asked:
            parts.append(said["chat_all"])
        else:
            parts.append(said["chat_some" if outcome.deleted else "chat_none"])
            parts.append(said["chat_retrying" if outcome.waiting else "chat_refused"])
        parts.append(said["chat_older"])
    parts.append(said["goodbye"])
    return " ".join(p.strip() for p in parts)

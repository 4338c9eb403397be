"""/start: redeeming an invite, and the consent asked before anything reaches Rasa."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from bot.commands import Call
from bot.dialogue import Dialogue
from bot.people import PatientView, Sender, hear_from
from bot.routine_setup import RoutineSetup
from data import invites, patients
from data.db import run_in_thread
from data.wording import content, say
from messaging.rendering import Button, Reply

log = logging.getLogger(__name__)

AGREE = "bw:consent:yes"
DECLINE = "bw:consent:no"


class Linking:
    def __init__(self, *, sessions: sessionmaker[Session], dialogue: Dialogue, routine: RoutineSetup):
        self._sessions = sessions
        self._dialogue = dialogue
        self._routine = routine

    async def start(self, call: Call) -> list[Reply]:
        """/start [code]: links a stranger; a patient hears where they stand."""
        patient = call.patient
        if patient is None:
            return await self._link(call.sender, call.argument)
        if patient.discharged:
            return [Reply(say("discharged"))]
        if not patient.consented:
            return [self.consent_prompt(patient)]
        return [Reply(say("already_linked"))] + await self._dialogue.turn(patient, "/greet", call.key)

    def consent_prompt(self, patient: PatientView) -> Reply:
        buttons = content()["consent_buttons"]
        return Reply(
            say("consent", name=patient.display_name),
            (Button(buttons["agree"], AGREE), Button(buttons["decline"], DECLINE)),
        )

    async def agree(self, patient: PatientView, key: str) -> list[Reply]:
        if patient.consented:
            return []

        def consent(session: Session) -> None:
            patients.record_consent(session=session, patient_id=patient.id)

        await run_in_thread(self._sessions, consent)
        if patient.routine_step is not None:
            # Joined from a therapist's /invite: their day first, so reminders fit it.
            return [Reply(say("consent_thanks")), self._routine.question(patient.routine_step)]
        return [Reply(say("consent_thanks"))] + await self._dialogue.turn(patient, "/greet", key)

    async def decline(self, patient: PatientView, key: str) -> list[Reply]:
        # Once agreed, "not now" from an old or forged button would be untrue: /forget is the way.
        return [Reply(say("button_expired" if patient.consented else "consent_declined"))]

    async def _link(self, sender: Sender, code: str) -> list[Reply]:
        user_id, chat_id = sender.telegram_user_id, sender.chat_id
        if not code or user_id is None or chat_id is None:
            return [Reply(say("unlinked"))]

        def work(session: Session) -> invites.LinkResult:
            return invites.redeem(
                session=session, code=code, telegram_user_id=user_id, telegram_chat_id=chat_id
            )

        result = await run_in_thread(self._sessions, work)
        log.info("link attempt: %s", result.reason)
        if result.reason == "already_linked":
            return [Reply(say("invite_already_linked"))]
        if not result.ok:
            return [Reply(say("invite_refused"))]
        if result.therapist_id is not None:
            return [Reply(say("therapist_linked"))]
        patient = await hear_from(self._sessions, sender)
        assert patient is not None
        return [self.consent_prompt(patient)]

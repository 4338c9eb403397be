"""What the bot does when the crisis net answers, without waiting on anything it can do without.

- Clear risk: the crisis response (the clinic's resources, then the patient's safety
  plan, with the numbers a tap away), recorded for the therapist's alert and to keep
  nudges quiet. It is built here from the database alone, so it leaves at once even
  when Rasa is busy or down; Rasa is told afterwards, so that its flow is suspended.
- Possible risk: one question ("are you having thoughts of ending your life or of
  harming yourself?") with Yes, No and Not sure, and the numbers a tap away. It is
  recorded with its time and the net that raised it, never the words.
- The answer: Yes or Not sure leads to the crisis response; No gets a warm word, and
  Rasa picks the conversation up where it was (a form asks its question again).

Someone who isn't a linked patient is answered the same way, and nothing is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.crisis import CLEAR, Assessment
from bot.people import PatientView
from data import patients, safety_events
from data.db import run_in_thread
from data.wording import CRISIS_NUMBERS, bullets, risk_question, say
from messaging.rasa_client import RasaClient, RasaUnavailable
from messaging.rendering import Button, Reply, from_rasa

log = logging.getLogger(__name__)

# A question asked of someone not linked: nothing is stored, so its buttons carry no id.
NO_RECORD = 0


class CrisisCare:
    def __init__(self, *, sessions: sessionmaker[Session], rasa: RasaClient):
        self._sessions = sessions
        self._rasa = rasa
        self._later: set[asyncio.Task[None]] = set()

    async def answer(self, patient: PatientView, assessment: Assessment, key: str) -> list[Reply]:
        if assessment.level == CLEAR:
            return await self.respond(patient, assessment.net, key)
        return await self.ask(patient, assessment, key)

    async def respond(self, patient: PatientView, detected_by: str, key: str) -> list[Reply]:
        """The full crisis response, recorded once per message however often it is retried."""
        log.warning("crisis response given (raised by %s)", detected_by)

        def work(session: Session) -> patients.CrisisHelp:
            safety_events.record_event(
                session=session,
                patient_id=patient.id,
                kind="crisis",
                detected_by=detected_by,
                dedupe_key=f"crisis:{patient.sender_id}:{key}",
            )
            return patients.crisis_help(session=session, patient_id=patient.id)

        try:
            help_ = await run_in_thread(self._sessions, work)
        except Exception as exc:  # the database is down: the words of help still go
            log.error("crisis response not recorded (%s); sent all the same", type(exc).__name__)
            help_ = patients.CrisisHelp([], [])
        self._in_background(self._tell_rasa(patient, "/crisis_handled", f"{key}:handled"))
        return self.help_replies(help_)

    def help_replies(self, help_: patients.CrisisHelp) -> list[Reply]:
        """The clinic's crisis resources, then the patient's safety plan, numbers one tap away."""
        resources = bullets(help_.resources) or say("crisis_no_resources")
        replies = [Reply(say("crisis_response", resources=resources))]
        if help_.safety_plan:
            replies.append(Reply(say("crisis_safety_plan", plan=bullets(help_.safety_plan))))
        replies[-1] = Reply(replies[-1].text, (Button(say("crisis_numbers_button"), CRISIS_NUMBERS),))
        return replies

    async def numbers(self, patient: PatientView) -> list[Reply]:
        """The "Crisis numbers" button: the resources and safety plan, nothing recorded."""
        help_ = await run_in_thread(
            self._sessions, lambda s: patients.crisis_help(session=s, patient_id=patient.id)
        )
        return self.help_replies(help_)

    async def ask(self, patient: PatientView, assessment: Assessment, key: str) -> list[Reply]:
        log.warning("crisis question asked (raised by %s)", assessment.net)

        def work(session: Session) -> int:
            return safety_events.record_risk_check(
                session=session,
                patient_id=patient.id,
                raised_by=assessment.net,
                message_key=f"{patient.sender_id}:{key}",
            )

        try:
            event_id = await run_in_thread(self._sessions, work)
        except Exception as exc:  # unrecorded, the question must still be asked
            log.error("crisis question not recorded (%s); asked all the same", type(exc).__name__)
            event_id = NO_RECORD
        return [_question(event_id, assessment.category)]

    async def answered(self, patient: PatientView, answer: str, event_id: int, key: str) -> list[Reply]:
        def work(session: Session) -> bool:
            return safety_events.answer_risk_check(
                session=session, patient_id=patient.id, event_id=event_id, answer=answer
            )

        recorded = event_id != NO_RECORD and await run_in_thread(self._sessions, work)
        if not recorded and event_id != NO_RECORD:
            # Not this patient's question, or answered already: a forged or stale button.
            # "Yes" is still heard: the one answer never to ignore.
            log.info("crisis question answer not recorded (unknown or already answered)")
        if answer != "no":
            return await self.respond(patient, "question", key)
        if not recorded and event_id != NO_RECORD:
            return [Reply(say("button_expired"))]
        log.info("crisis question answered no")
        replies = [Reply(say("risk_no"))]
        try:
            # Rasa picks up where the patient was: a form asks its question again.
            replies += from_rasa(
                await self._rasa.send(patient.sender_id, "/carry_on", {"bw_message_id": key})
            )
        except RasaUnavailable:
            pass  # the next message carries on; the warm word has been said
        return replies

    async def for_stranger(self, assessment: Assessment) -> list[Reply]:
        """Someone not (or no longer) linked is still a person in trouble: help, store nothing."""
        if assessment.level == CLEAR:
            return await self.stranger_help()
        log.warning("crisis question asked of a chat that is not a linked patient's")
        return [_question(NO_RECORD, assessment.category)]

    async def stranger_answered(self, answer: str) -> list[Reply]:
        if answer == "no":
            return [Reply(say("risk_no")), Reply(say("unlinked"))]
        return await self.stranger_help()

    async def stranger_help(self) -> list[Reply]:
        log.warning("crisis response given to a chat that is not a linked patient's")
        lines = await run_in_thread(self._sessions, lambda s: patients.all_crisis_resources(session=s))
        return [Reply(say("crisis_unlinked", resources=bullets(lines) or say("crisis_no_resources")))]

    def without_database(self, assessment: Assessment) -> list[Reply]:
        """The database is down: crisis language is answered all the same, from what the bot
        knows without it (general numbers; the question unrecorded). Nothing can be stored,
        so the therapist is not alerted: logged as an error for the clinic to see."""
        log.error("crisis language answered without the database (%s): not recorded", assessment.level)
        if assessment.level == CLEAR:
            return self.help_replies(patients.CrisisHelp([], []))
        return [_question(NO_RECORD, assessment.category)]

    def answered_without_database(self, answer: str | None) -> list[Reply]:
        """An answer to the question, or the numbers button, while the database is down."""
        if answer == "no":
            return [Reply(say("risk_no"))]
        log.error("crisis response given without the database: not recorded")
        return self.help_replies(patients.CrisisHelp([], []))

    async def _tell_rasa(self, patient: PatientView, intent: str, key: str) -> None:
        try:
            await self._rasa.send(patient.sender_id, intent, {"bw_message_id": key})
        except RasaUnavailable:
            log.info("rasa not told of the crisis response; its flow carries on when it is back")

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def settle(self) -> None:
        """Wait for what was left to do in the background (tests, shutdown)."""
        while self._later:
            await asyncio.gather(*list(self._later), return_exceptions=True)


def _question(event_id: int, category: str | None) -> Reply:
    text, buttons = risk_question(event_id, category)
    return Reply(text, tuple(Button(title, payload) for title, payload in buttons))

"""What happens to each thing a patient sends, whatever the channel.

Linking, consent and the crisis net are the bot's (bot/crisis_care.py answers
what the net finds); everything else is Rasa's dialogue. The channel adapters
(Telegram, terminal) only turn their updates into calls here and send back the
replies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot import crisis
from bot.crisis_care import CrisisCare
from bot.erasures import NOTHING_LEFT, ClearChat, Erasures, Outcome
from bot.flood import FloodGuard
from bot.people import PatientView, Sender, find_patient, heard_from
from bot.reassurance import is_reassurance
from data import erasure, export, invites, patients, rasa_tracker, safety_events, schedule_changes
from data.db import is_transient, run_in_thread
from data.models import Patient, utcnow
from data.retention import DEFAULT_RETENTION_DAYS
from data.wording import CRISIS_NUMBERS, content, parse_risk_answer, say
from messaging.rasa_client import RasaClient, RasaUnavailable
from messaging.rendering import Button, Reply, from_rasa

__all__ = ["NLU_TEXT_LIMIT", "Conversation", "PatientView", "RetryLater", "Sender", "assess", "assess_many"]

log = logging.getLogger(__name__)

# Rasa payloads the bot forwards from buttons: an intent, at most one simple
# entity. Anything else did not come from a button of ours. The actions check
# that an entity such as a task belongs to the sender. An "assignment" on our
# buttons is always a database id: one that isn't a number was taken by the
# actions as no choice at all, and a forged press logged the patient's only task
# (found by tests/e2e/test_fuzz.py).
_RASA_PAYLOAD = re.compile(
    r'^/[a-z_]{1,40}(\{"(assignment":"[0-9]{1,18}|(?!assignment")[a-z_]{1,20}":"[A-Za-z0-9_-]{1,24})"\})?$'
)
# Long messages are kept whole where a flow stores text, but the NLU reads the start.
NLU_TEXT_LIMIT = 4000
# Commands that change nudges; the scheduler picks the rows up when it next reconciles.
_NUDGE_COMMANDS = ("pause", "resume", "silent", "sound")
DEFAULT_PAUSE_DAYS = 7
# An "I'm fine" this soon after a crisis response gets a second, kind check.
SECOND_CHECK_WITHIN = dt.timedelta(hours=2)
MAX_PAUSE_DAYS = 60


class RetryLater(Exception):
    """The message could not be acted on yet; `replies` tell the patient so."""

    def __init__(self, replies: list[Reply]):
        super().__init__("retry later")
        self.replies = replies


# "Not assessed yet": the channel may have run the crisis net already, as soon as
# the message was stored (None is an answer: no risk).
_UNASSESSED: Any = object()


# The crisis net reads on one thread of its own: off the event loop (the learned net
# takes milliseconds), and never two at once, as its matrix library (OpenBLAS) has
# threads of its own that stall when several Python threads call it together.
_NET = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crisis-net")


async def assess(text: str) -> crisis.Assessment | None:
    """The crisis net, off the event loop."""
    return (await assess_many([text]))[0]


async def assess_many(texts: list[str]) -> list[crisis.Assessment | None]:
    """The crisis net on several messages, read in one batch."""
    return await asyncio.get_running_loop().run_in_executor(_NET, crisis.detect_many, texts)


class Conversation:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        rasa: RasaClient,
        invite_ttl_days: int,
        rasa_tracker_url: str,
        flood_limit: int = 20,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ):
        self._sessions = sessions
        self._retention_days = retention_days
        self._flood = FloodGuard(limit=flood_limit)
        self._rasa = rasa
        self._invite_ttl_days = invite_ttl_days
        self._rasa_tracker_url = rasa_tracker_url
        self.care = CrisisCare(sessions=sessions, rasa=rasa)
        # What /forget leaves to clear outside our database; the bot's loop runs its retries.
        self.erasures = Erasures(sessions=sessions, tracker_url=rasa_tracker_url)

    @property
    def clear_chat(self) -> ClearChat | None:
        """Set by a channel that can delete messages in the patient's chat (Telegram)."""
        return self.erasures.clear_chat

    @clear_chat.setter
    def clear_chat(self, clear: ClearChat | None) -> None:
        self.erasures.clear_chat = clear

    # --- entry points -------------------------------------------------------------

    async def on_command(self, sender: Sender, command: str, argument: str, key: str) -> list[Reply]:
        if (flooded := self._flooded(sender, key)) is not None:
            return flooded
        patient = await self._hear_from(sender)
        if command == "start":
            if patient is None:
                return await self._link(sender, argument)
            if patient.discharged:
                return [Reply(say("discharged"))]
            if not patient.consented:
                return [self._consent_prompt(patient)]
            return [Reply(say("already_linked"))] + await self._to_rasa(patient, "/greet", key)
        if patient is None:
            return [Reply(say("unlinked"))]
        if command == "help":
            return [Reply(say("help"))]
        if command == "privacy":
            return [Reply(say("privacy", retention_days=str(self._retention_days)))]
        if command == "forget":
            buttons = content()["forget_buttons"]
            return [
                Reply(
                    say("forget_confirm"),
                    (
                        Button(buttons["confirm"], "bw:forget:yes"),
                        Button(buttons["cancel"], "bw:forget:no"),
                    ),
                )
            ]
        if command == "mydata":
            return [await self._my_data(patient)]
        if patient.discharged:
            return [Reply(say("discharged"))]
        if command in _NUDGE_COMMANDS:
            if not patient.consented:
                return [self._consent_prompt(patient)]
            return [Reply(await self._nudge_setting(patient, command, argument, key))]
        # Unknown commands are read as text: "/stop it" is still a message.
        return await self.on_text(sender, f"/{command} {argument}".strip(), key)

    async def on_text(
        self, sender: Sender, text: str, key: str, *, assessment: Any = _UNASSESSED
    ) -> list[Reply]:
        if assessment is _UNASSESSED:
            assessment = await assess(text)
        # Crisis language is answered however fast someone is writing.
        if assessment is None and (flooded := self._flooded(sender, key)) is not None:
            return flooded
        try:
            patient = await self._hear_from(sender)
        except Exception as exc:
            if assessment is None or not is_transient(exc):
                raise
            return self.care.without_database(assessment)
        if patient is None:
            if assessment is not None:
                return await self.care.for_stranger(assessment)
            return [Reply(await self._not_a_patient(sender))]
        if assessment is not None:
            # Before consent and before Rasa: the answer never waits on either.
            return await self.care.answer(patient, assessment, key)
        if patient.discharged:
            return [Reply(say("discharged"))]
        if not patient.consented:
            return [self._consent_prompt(patient)]
        if is_reassurance(text) and await self._second_check_due(patient):
            return [self._second_check()]
        # The patient's words go to Rasa as typed; "/intent" strings typed by hand
        # are not honoured, so no one can forge a button by typing its payload.
        words = text.lstrip("/")
        extra: dict[str, str] = {}
        if crisis.lexicon.excused(text):
            # Risk words the lexicon read as negated, figurative or a topic: the NLU,
            # which hears the words but not the "not", may not ask about them.
            extra["bw_crisis_excused"] = "1"
        if len(words) <= NLU_TEXT_LIMIT:
            return await self._to_rasa(patient, words or "…", key, **extra)
        # The NLU reads the start; the whole goes along for the flows that keep text.
        return await self._to_rasa(patient, words[:NLU_TEXT_LIMIT], key, bw_full_text=words, **extra)

    async def on_button(self, sender: Sender, data: str, key: str) -> list[Reply]:
        risk_answer = parse_risk_answer(data)
        # An answer to the crisis question is heard however fast someone is pressing.
        if risk_answer is None and (flooded := self._flooded(sender, key)) is not None:
            return flooded
        try:
            patient = await self._hear_from(sender)
        except Exception as exc:
            if (risk_answer is None and data != CRISIS_NUMBERS) or not is_transient(exc):
                raise
            return self.care.answered_without_database(risk_answer[0] if risk_answer else None)
        if patient is None:
            if risk_answer is not None:
                return await self.care.stranger_answered(risk_answer[0])
            if data == CRISIS_NUMBERS:
                return await self.care.stranger_help()
            return [Reply(say("unlinked"))]
        if risk_answer is not None:
            return await self.care.answered(patient, *risk_answer, key)
        if data.startswith("bw:"):
            return await self._bot_button(patient, data, key)
        if patient.discharged:
            return [Reply(say("discharged"))]
        if not patient.consented:
            return [self._consent_prompt(patient)]
        if not _RASA_PAYLOAD.match(data):
            return [Reply(say("button_expired"))]
        return await self._to_rasa(patient, data, key)

    async def on_edit(
        self, sender: Sender, text: str, key: str, *, assessment: Any = _UNASSESSED
    ) -> list[Reply]:
        """An edited message is not read again as a new one; crisis language in it is
        answered all the same (someone may edit in what they couldn't first say)."""
        if assessment is _UNASSESSED:
            assessment = await assess(text)
        if assessment is None:
            return []
        return await self.on_text(sender, text, key, assessment=assessment)

    async def on_other(self, sender: Sender) -> list[Reply]:
        patient = await self._hear_from(sender)
        return [Reply(say("unlinked" if patient is None else "not_text"))]

    # --- steps --------------------------------------------------------------------

    async def _not_a_patient(self, sender: Sender) -> str:
        """A linked therapist hears what the bot does for them; anyone else how to join."""
        if sender.chat_id is None:
            return say("unlinked")
        chat_id = sender.chat_id

        def work(session: Session) -> bool:
            return invites.therapist_by_chat(session=session, chat_id=chat_id) is not None

        return say("therapist_help" if await run_in_thread(self._sessions, work) else "unlinked")

    def _flooded(self, sender: Sender, key: str) -> list[Reply] | None:
        """Over 20 messages a minute: one "slow down", then nothing (and no Rasa) until calm."""
        verdict = self._flood.hit(sender, key)
        if verdict == "ok":
            return None
        return [Reply(say("slow_down"))] if verdict == "warn" else []

    async def _hear_from(self, sender: Sender) -> PatientView | None:
        """The patient behind the sender, if any, recorded as heard from (people.heard_from):
        the lookup and the record in one transaction, as every word from them is both."""

        def work(session: Session) -> PatientView | None:
            patient = find_patient(session, sender)
            if patient is not None:
                heard_from(session, patient.id)
            return patient

        return await run_in_thread(self._sessions, work)

    async def _link(self, sender: Sender, code: str) -> list[Reply]:
        if not code or sender.telegram_user_id is None or sender.chat_id is None:
            return [Reply(say("unlinked"))]

        def work(session: Session) -> invites.LinkResult:
            return invites.redeem(
                session=session,
                code=code,
                telegram_user_id=sender.telegram_user_id,
                telegram_chat_id=sender.chat_id,
            )

        result = await run_in_thread(self._sessions, work)
        log.info("link attempt: %s", result.reason)
        if result.reason == "already_linked":
            return [Reply(say("invite_already_linked"))]
        if not result.ok:
            return [Reply(say("invite_refused"))]
        if result.therapist_id is not None:
            return [Reply(say("therapist_linked"))]
        patient = await self._hear_from(sender)
        assert patient is not None
        return [self._consent_prompt(patient)]

    def _consent_prompt(self, patient: PatientView) -> Reply:
        buttons = content()["consent_buttons"]
        return Reply(
            say("consent", name=patient.display_name),
            (
                Button(buttons["agree"], "bw:consent:yes"),
                Button(buttons["decline"], "bw:consent:no"),
            ),
        )

    async def _bot_button(self, patient: PatientView, data: str, key: str) -> list[Reply]:
        if data == "bw:consent:yes":
            if patient.consented:
                return []

            def consent(session: Session) -> None:
                patients.record_consent(session=session, patient_id=patient.id)

            await run_in_thread(self._sessions, consent)
            return [Reply(say("consent_thanks"))] + await self._to_rasa(patient, "/greet", key)
        if data == "bw:consent:no":
            # Once agreed, "not now" from an old or forged button would be untrue: /forget is the way.
            return [Reply(say("button_expired" if patient.consented else "consent_declined"))]
        if data == "bw:forget:yes":
            return [Reply(_forget_done(await self._forget(patient)))]
        if data == "bw:forget:no":
            return [Reply(say("forget_cancelled"))]
        if data == CRISIS_NUMBERS:
            return await self.care.numbers(patient)
        return [Reply(say("button_expired"))]

    async def _second_check_due(self, patient: PatientView) -> bool:
        def work(session: Session) -> bool:
            return safety_events.claim_second_check(
                session=session, patient_id=patient.id, within=SECOND_CHECK_WITHIN
            )

        return await run_in_thread(self._sessions, work)

    def _second_check(self) -> Reply:
        """One "I'm fine" doesn't close a crisis response: check once more, numbers one tap away."""
        return Reply(say("crisis_check_again"), (Button(say("crisis_numbers_button"), CRISIS_NUMBERS),))

    async def _my_data(self, patient: PatientView) -> Reply:
        transcript = await self._transcript(patient)

        def work(session: Session) -> bytes:
            return export.export_json(session=session, patient_id=patient.id, transcript=transcript)

        data = await run_in_thread(self._sessions, work)
        caption = say("mydata" if transcript is not None else "mydata_without_transcript")
        return Reply(caption, document=("bridgework-my-data.json", data))

    async def _transcript(self, patient: PatientView) -> list[dict[str, Any]] | None:
        """The patient's conversation as Rasa holds it; None if its store can't be read now."""
        try:
            return await asyncio.to_thread(
                rasa_tracker.read_conversation, self._rasa_tracker_url, patient.sender_id
            )
        except Exception as exc:  # the type only: the message may quote the store's address
            log.warning("/mydata without the transcript: tracker store not read (%s)", type(exc).__name__)
            return None

    async def _nudge_setting(self, patient: PatientView, command: str, argument: str, key: str) -> str:
        """/pause [days], /resume, /silent, /sound: rows only; the scheduler reconciles from them."""
        # isdecimal, not isdigit: "²" is a digit that int() refuses (found by tests/e2e/test_fuzz.py).
        days = int(argument) if argument.isdecimal() else DEFAULT_PAUSE_DAYS
        if command == "pause" and not 1 <= days <= MAX_PAUSE_DAYS:
            return say("pause_how_long", most=str(MAX_PAUSE_DAYS))

        def work(session: Session) -> str:
            row = session.get(Patient, patient.id)
            if command == "pause":
                until = utcnow() + dt.timedelta(days=days)
                schedule_changes.request(
                    session=session, patient_id=row.id, kind="pause", at=until, dedupe_key=f"pause:{key}"
                )
                return say("paused", until=until.astimezone(ZoneInfo(row.timezone)).strftime("%A %d %B"))
            if command == "resume":
                schedule_changes.end_pauses(session=session, patient_id=row.id)
                return say("resumed")
            row.silent_nudges = command == "silent"
            return say("silent_on" if row.silent_nudges else "silent_off")

        return await run_in_thread(self._sessions, work)

    async def _forget(self, patient: PatientView) -> Outcome:
        """Our rows in one transaction, which also writes down what is left to clear outside
        it; that (Rasa's transcript, the chat) is then done at once, and retried until done."""

        def work(session: Session) -> erasure.Erased | None:
            return erasure.erase_patient(session=session, patient_id=patient.id)

        erased = await run_in_thread(self._sessions, work)
        if erased is None:
            return NOTHING_LEFT
        # A Telegram chat with nothing recent enough to delete still gets told so.
        outcome = replace(await self.erasures.finish(erased.pending), in_chat=erased.chat_id is not None)
        log.info(
            "patient erased their data; transcript %s; %d of %d recent chat messages deleted, %d to retry",
            "erased" if outcome.transcript_erased else "to retry",
            outcome.deleted,
            outcome.asked,
            outcome.waiting,
        )
        return outcome

    async def _to_rasa(self, patient: PatientView, text: str, key: str, **extra: str) -> list[Reply]:
        metadata = {"bw_message_id": key, **extra}
        try:
            messages = await self._rasa.send(patient.sender_id, text, metadata)
        except RasaUnavailable:
            raise RetryLater([Reply(say("unavailable"))]) from None
        return from_rasa(messages)


def _forget_done(outcome: Outcome) -> str:
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

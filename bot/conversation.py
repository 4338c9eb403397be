"""What happens to each thing a patient sends, whatever the channel.

Linking, consent and the crisis net are the bot's (bot/crisis_care.py answers
what the net finds); everything else is Rasa's dialogue (bot/dialogue.py).
Commands and the bot's own buttons are looked up in tables (bot/commands.py);
their handlers live in modules of their own: bot/linking.py, bot/forgetting.py,
bot/my_data.py, bot/nudge_settings.py. The channel adapters (Telegram, terminal)
only turn their updates into calls here and send back the replies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot import crisis
from bot.commands import Call, Command, Press, Who, saying
from bot.crisis_care import CrisisCare
from bot.dialogue import Dialogue, RetryLater
from bot.erasures import ClearChat, Erasures
from bot.flood import FloodGuard
from bot.forgetting import CANCEL, CONFIRM, Forgetting
from bot.linking import AGREE, DECLINE, Linking
from bot.my_data import MyData
from bot.nudge_settings import COMMANDS as NUDGE_COMMANDS
from bot.nudge_settings import NudgeSettings
from bot.people import PatientView, Sender, hear_from
from bot.reassurance import is_reassurance
from bot.routine_setup import PREFIX as ROUTINE_PREFIX
from bot.routine_setup import RoutineSetup
from bot.therapist_desk import TherapistDesk
from data import safety_events
from data.db import is_transient, run_in_thread
from data.retention import DEFAULT_RETENTION_DAYS
from data.wording import CRISIS_NUMBERS, parse_risk_answer, say
from messaging.rasa_client import RasaClient
from messaging.rendering import Button, Reply

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
# A meaning chosen among those offered when the NLU was unsure (actions/fallback.py).
_PICKED = re.compile(r'\{"picked":"[0-9]"\}$')
# Long messages are kept whole where a flow stores text, but the NLU reads the start.
NLU_TEXT_LIMIT = 4000
# An "I'm fine" this soon after a crisis response gets a second, kind check.
SECOND_CHECK_WITHIN = dt.timedelta(hours=2)


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
        clear_chat: ClearChat | None = None,
        desk: TherapistDesk | None = None,
    ):
        """`clear_chat`: deletes messages in the patient's chat, for /forget (bot/chat_eraser.py,
        the Telegram channel); without it a later run with Telegram does that part.
        `desk`: what linked therapists talk to (bot/therapist_desk.py); a plain one if not given."""
        self._sessions = sessions
        self._flood = FloodGuard(limit=flood_limit)
        self._invite_ttl_days = invite_ttl_days
        self._dialogue = Dialogue(rasa, rasa_tracker_url)
        self.care = CrisisCare(sessions=sessions, rasa=rasa)
        # What /forget leaves to clear outside our database; the bot's loop runs its retries.
        self.erasures = Erasures(sessions=sessions, tracker_url=rasa_tracker_url, clear_chat=clear_chat)
        self._routine = RoutineSetup(sessions=sessions)
        self._linking = Linking(sessions=sessions, dialogue=self._dialogue, routine=self._routine)
        self.desk = desk or TherapistDesk(sessions=sessions, invite_ttl_days=invite_ttl_days)
        forgetting = Forgetting(sessions=sessions, erasures=self.erasures)
        nudges = NudgeSettings(sessions=sessions)
        self._commands: dict[str, Command] = {
            "start": Command(Who.ANYONE, self._linking.start),
            "help": Command(Who.LINKED, saying("help")),
            "privacy": Command(Who.LINKED, saying("privacy", retention_days=str(retention_days))),
            "forget": Command(Who.LINKED, forgetting.ask),
            "mydata": Command(Who.LINKED, MyData(sessions=sessions, tracker_url=rasa_tracker_url).send),
            **{name: Command(Who.IN_CARE, partial(nudges.change, name)) for name in NUDGE_COMMANDS},
        }
        # The bot's own buttons ("bw:..."), answered for any linked patient; the crisis
        # question's answers come before these (they are heard from strangers too).
        self._buttons: dict[str, Press] = {
            AGREE: self._linking.agree,
            DECLINE: self._linking.decline,
            CONFIRM: forgetting.confirm,
            CANCEL: forgetting.cancel,
            CRISIS_NUMBERS: lambda patient, key: self.care.numbers(patient),
        }

    # --- entry points -------------------------------------------------------------

    async def on_command(self, sender: Sender, command: str, argument: str, key: str) -> list[Reply]:
        if (flooded := self._flooded(sender, key)) is not None:
            return flooded
        patient = await hear_from(self._sessions, sender)
        if patient is None and (therapist := await self.desk.therapist(sender.chat_id)) is not None:
            return await self.desk.on_command(therapist, command, argument)
        found = self._commands.get(command)
        call = Call(sender, patient, argument, key)
        if found is not None and found.who is Who.ANYONE:
            return await found.run(call)
        if patient is None:
            return [Reply(say("unlinked"))]
        if found is not None and found.who is Who.LINKED:
            return await found.run(call)
        if patient.discharged:
            return [Reply(say("discharged"))]
        if found is None:
            # Unknown commands are read as text: "/stop it" is still a message.
            return await self.on_text(sender, f"/{command} {argument}".strip(), key)
        if not patient.consented:
            return [self._linking.consent_prompt(patient)]
        return await found.run(call)

    async def on_text(
        self, sender: Sender, text: str, key: str, *, assessment: Any = _UNASSESSED
    ) -> list[Reply]:
        if assessment is _UNASSESSED:
            assessment = await assess(text)
        # Crisis language is answered however fast someone is writing.
        if assessment is None and (flooded := self._flooded(sender, key)) is not None:
            return flooded
        try:
            patient = await hear_from(self._sessions, sender)
        except Exception as exc:
            if assessment is None or not is_transient(exc):
                raise
            return self.care.without_database(assessment)
        if patient is None:
            # A therapist's words are work (a name, a time zone), not a patient's: no crisis reply.
            if (therapist := await self.desk.therapist(sender.chat_id)) is not None:
                return await self.desk.on_text(therapist, text)
            if assessment is not None:
                return await self.care.for_stranger(assessment)
            return [Reply(say("unlinked"))]
        if assessment is not None:
            # Before consent and before Rasa: the answer never waits on either.
            return await self.care.answer(patient, assessment, key)
        if patient.discharged:
            return [Reply(say("discharged"))]
        if not patient.consented:
            return [self._linking.consent_prompt(patient)]
        if patient.routine_step is not None:
            return await self._routine_then_greet(
                patient, await self._routine.answer(patient, patient.routine_step, text), key
            )
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
        if (choice := await self._dialogue.typed_choice(patient, text)) is not None:
            return await self._dialogue.turn(patient, choice, key, bw_typed_choice="1", **extra)
        if len(words) <= NLU_TEXT_LIMIT:
            return await self._dialogue.turn(patient, words or "…", key, **extra)
        # The NLU reads the start; the whole goes along for the flows that keep text.
        return await self._dialogue.turn(patient, words[:NLU_TEXT_LIMIT], key, bw_full_text=words, **extra)

    async def on_button(self, sender: Sender, data: str, key: str) -> list[Reply]:
        risk_answer = parse_risk_answer(data)
        # An answer to the crisis question is heard however fast someone is pressing.
        if risk_answer is None and (flooded := self._flooded(sender, key)) is not None:
            return flooded
        try:
            patient = await hear_from(self._sessions, sender)
        except Exception as exc:
            if (risk_answer is None and data != CRISIS_NUMBERS) or not is_transient(exc):
                raise
            return self.care.answered_without_database(risk_answer[0] if risk_answer else None)
        if patient is None:
            if (therapist := await self.desk.therapist(sender.chat_id)) is not None:
                return await self.desk.on_button(therapist, data)
            if risk_answer is not None:
                return await self.care.stranger_answered(risk_answer[0])
            if data == CRISIS_NUMBERS:
                return await self.care.stranger_help()
            return [Reply(say("unlinked"))]
        if risk_answer is not None:
            return await self.care.answered(patient, *risk_answer, key)
        if data.startswith(ROUTINE_PREFIX) and patient.consented and not patient.discharged:
            return await self._routine_then_greet(patient, await self._routine.press(patient, data), key)
        if data.startswith("bw:"):
            press = self._buttons.get(data)
            return await press(patient, key) if press is not None else [Reply(say("button_expired"))]
        if patient.discharged:
            return [Reply(say("discharged"))]
        if not patient.consented:
            return [self._linking.consent_prompt(patient)]
        if not _RASA_PAYLOAD.match(data):
            return [Reply(say("button_expired"))]
        if _PICKED.search(data):
            # Intent names only: how often each offered meaning is the one meant can be counted.
            log.info("fallback meaning chosen: %s", data[1:].split("{", 1)[0])
        return await self._dialogue.turn(patient, data, key)

    async def on_edit(
        self, sender: Sender, text: str, key: str, *, assessment: Any = _UNASSESSED
    ) -> list[Reply]:
        """An edited message is not read again as a new one; crisis language in it is
        answered all the same (someone may edit in what they couldn't first say)."""
        if assessment is _UNASSESSED:
            assessment = await assess(text)
        if assessment is None or await self.desk.therapist(sender.chat_id) is not None:
            return []
        return await self.on_text(sender, text, key, assessment=assessment)

    async def on_other(self, sender: Sender) -> list[Reply]:
        patient = await hear_from(self._sessions, sender)
        if patient is None and await self.desk.therapist(sender.chat_id) is not None:
            return [Reply(say("desk_not_text"))]
        return [Reply(say("unlinked" if patient is None else "not_text"))]

    # --- steps --------------------------------------------------------------------

    async def _routine_then_greet(
        self, patient: PatientView, asked: list[Reply] | None, key: str
    ) -> list[Reply]:
        """The routine's next question, or, once it is complete, thanks and the dialogue's greeting."""
        if asked is not None:
            return asked
        return [Reply(say("routine_thanks"))] + await self._dialogue.turn(patient, "/greet", key)

    def _flooded(self, sender: Sender, key: str) -> list[Reply] | None:
        """Over 20 messages a minute: one "slow down", then nothing (and no Rasa) until calm."""
        verdict = self._flood.hit(sender, key)
        if verdict == "ok":
            return None
        return [Reply(say("slow_down"))] if verdict == "warn" else []

    async def _second_check_due(self, patient: PatientView) -> bool:
        def work(session: Session) -> bool:
            return safety_events.claim_second_check(
                session=session, patient_id=patient.id, within=SECOND_CHECK_WITHIN
            )

        return await run_in_thread(self._sessions, work)

    def _second_check(self) -> Reply:
        """One "I'm fine" doesn't close a crisis response: check once more, numbers one tap away."""
        return Reply(say("crisis_check_again"), (Button(say("crisis_numbers_button"), CRISIS_NUMBERS),))

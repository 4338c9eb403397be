"""A message over 4,000 characters: the NLU reads the start, the flows keep it whole."""

import asyncio

from rasa_sdk.executor import CollectingDispatcher

from actions.barriers import ValidateBarrierForm
from actions.checkin import ValidateCheckinDetailsForm
from actions.common import patient_words
from bot.conversation import NLU_TEXT_LIMIT, Conversation, Sender
from data.care_plans import apply_plan
from data.db import transaction
from data.models import Patient, utcnow
from data.plan_schema import load_plan
from messaging.rasa_client import RasaClient
from tests.actions.conftest import FIXTURES, tracker
from tests.support.rasa_stub import RasaStub

LONG = ("I noticed the thought again on the bus and wrote it down. " * 90).strip()


def _trimmed_tracker(text: str):
    t = tracker("pz-x", text[:NLU_TEXT_LIMIT], "inform")
    t.latest_message["metadata"]["bw_full_text"] = text
    t.events[-1]["metadata"] = {"bw_full_text": text}
    return t


def test_the_bot_hands_rasa_the_start_for_the_nlu_and_the_whole_alongside(sessions, tmp_path):
    assert len(LONG) > NLU_TEXT_LIMIT
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        alex = session.get(Patient, "p-100")
        alex.telegram_user_id = alex.telegram_chat_id = 5100
        alex.linked_at = alex.consented_at = utcnow()

    async def send(url):
        conversation = Conversation(
            sessions=sessions,
            rasa=RasaClient(url, "stub-token", timeout=5),
            invite_ttl_days=14,
            rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
        )
        sender = Sender(telegram_user_id=5100, chat_id=5100)
        await conversation.on_text(sender, LONG, "k1")
        await conversation.on_text(sender, "a short one", "k2")

    with RasaStub() as rasa:
        asyncio.run(send(rasa.url))
    long_body, short_body = rasa.messages
    assert long_body["message"] == LONG[:NLU_TEXT_LIMIT] and long_body["metadata"]["bw_full_text"] == LONG
    assert short_body["message"] == "a short one" and "bw_full_text" not in short_body["metadata"]


def test_a_long_note_and_a_long_own_idea_are_kept_whole():
    dispatcher = CollectingDispatcher()
    t = _trimmed_tracker(LONG)
    note = asyncio.run(
        ValidateCheckinDetailsForm().validate_reflection(LONG[:NLU_TEXT_LIMIT], dispatcher, t, {})
    )
    assert note == {"reflection": LONG}
    idea = asyncio.run(
        ValidateBarrierForm().validate_barrier_own_idea(LONG[:NLU_TEXT_LIMIT], dispatcher, t, {})
    )
    assert idea == {"barrier_own_idea": LONG}
    assert patient_words(t) == LONG


def test_metadata_that_is_not_this_message_is_ignored():
    dispatcher = CollectingDispatcher()
    t = _trimmed_tracker(LONG)
    t.latest_message["metadata"]["bw_full_text"] = "something else entirely"
    note = asyncio.run(ValidateCheckinDetailsForm().validate_reflection("short note", dispatcher, t, {}))
    assert note == {"reflection": "short note"}

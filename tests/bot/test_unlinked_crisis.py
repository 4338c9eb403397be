"""Crisis language from someone who isn't a linked patient still gets help at once."""

import asyncio
import socket
from pathlib import Path

from sqlalchemy import func, select

from bot.conversation import Conversation, Sender
from data.care_plans import apply_plan
from data.db import transaction
from data.models import InboxUpdate, Patient, SafetyEvent
from data.plan_schema import load_plan
from data.wording import bullets, say
from messaging.rasa_client import RasaClient

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _conversation(sessions, tmp_path) -> Conversation:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    return Conversation(
        sessions=sessions,
        rasa=RasaClient(f"http://127.0.0.1:{closed}", "t", timeout=2),
        invite_ttl_days=14,
        rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
    )


def test_a_stranger_in_crisis_gets_the_crisis_lines_and_nothing_is_stored(sessions, tmp_path):
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        resources = list(session.get(Patient, "p-100").therapist.clinic.crisis_resources)
    stranger = Sender(telegram_user_id=424242, chat_id=424242)
    [reply] = asyncio.run(
        _conversation(sessions, tmp_path).on_text(stranger, "i want to kill myself tonight", "k1")
    )
    # The clinic's crisis numbers, every one of them, whatever the wording around them.
    assert resources and all(r in reply.text for r in resources)
    assert reply.text == say("crisis_unlinked", resources=bullets(resources))
    with sessions() as session:
        assert session.scalar(select(func.count(SafetyEvent.id))) == 0
        assert session.scalar(select(func.count(InboxUpdate.update_id))) == 0
        assert session.scalar(select(func.count(Patient.id)).where(Patient.telegram_user_id == 424242)) == 0


def test_with_no_clinic_configured_a_stranger_is_pointed_to_local_help(sessions, tmp_path):
    stranger = Sender(telegram_user_id=424243, chat_id=424243)
    [reply] = asyncio.run(_conversation(sessions, tmp_path).on_text(stranger, "i want to end my life", "k1"))
    assert reply.text == say("crisis_unlinked", resources=say("crisis_no_resources"))

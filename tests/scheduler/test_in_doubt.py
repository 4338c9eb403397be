"""A nudge a crash left in doubt: found in the chat it counts as sent, proven absent it is
resent, and nothing is ever sent twice.

The scheduler that takes over looks in the patient's chat through the strict loopback Bot
API server (an edit that changes nothing answers "message is not modified"), on SQLite
and PostgreSQL.
"""

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.chat_log import ChatLog
from bot.chat_probe import ChatProbe
from bot.telegram_channel import build_bot
from bot.telegram_sender import TelegramSender
from data import chat_messages
from data.care_plans import apply_plan
from data.db import make_engine, transaction
from data.models import Assignment, NudgeLog, Patient, utcnow
from data.plan_schema import load_plan
from messaging.rasa_client import RasaClient
from scheduler import jobs
from scheduler.service import NudgeScheduler
from tests.support.botapi_server import FakeBotApi
from tests.support.rasa_stub import RasaStub

FIXTURES = Path(__file__).parent.parent / "fixtures"
TOKEN = "123456789:AAtest-token-for-the-loopback-server0"
CHAT = 4200
NUDGE_BUTTONS = {"inline_keyboard": [[{"text": "Done", "callback_data": "/report_done"}]]}


@pytest.fixture
def api():
    with FakeBotApi(TOKEN) as server:
        yield server


@pytest.fixture
def linked(sessions, api):
    """A linked patient whose /start (message 1) is the last message the bot knows of."""
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
    api.send_text(CHAT, "/start SAM-CODE")
    with transaction(sessions) as session:
        patient = session.get(Patient, "p-100")
        patient.telegram_user_id = patient.telegram_chat_id = CHAT
        patient.linked_at = patient.consented_at = utcnow()
        chat_messages.record(session=session, chat_id=CHAT, message_ids=[1], from_bot=False)
        return session.scalar(select(Assignment.id).where(Assignment.task_id == "thought-record"))


def _in_doubt(sessions, assignment_id, *, markup=NUDGE_BUTTONS, after=1) -> int:
    """The dead scheduler's row: handed to Telegram, never marked sent."""
    with transaction(sessions) as session:
        row = NudgeLog(
            assignment_id=assignment_id,
            scheduled_for=utcnow().replace(second=0, microsecond=0) - dt.timedelta(minutes=2),
            status="sending",
            probe_after_message_id=after,
            probe_markup=markup,
        )
        session.add(row)
        session.flush()
        return row.id


def _take_over(db_url, sessions, api) -> None:
    """A new scheduler starts, settles what it finds, and runs one upkeep round (retries)."""

    async def scenario(rasa_url):
        engine = make_engine(db_url)
        bot = build_bot(TOKEN, api.base_url)
        async with bot:
            runtime = jobs.Runtime(
                sessions,
                RasaClient(rasa_url, "stub-token", timeout=5),
                TelegramSender(bot, ChatLog(sessions)).deliver,
                probe=ChatProbe(bot).find_sent,
            )
            service = NudgeScheduler(engine=engine, sessions=sessions, runtime=runtime)
            await service.start()
            await service.reconcile()
            await service.stop()
        engine.dispose()

    with RasaStub() as rasa:
        asyncio.run(scenario(rasa.url))


def _status(sessions, log_id) -> str:
    with sessions() as session:
        return session.get(NudgeLog, log_id).status


def test_a_nudge_that_arrived_before_the_crash_is_not_sent_again(db_url, sessions, api, linked):
    log_id = _in_doubt(sessions, linked)
    # It reached the chat (message 2) but the crash came before its id was noted;
    # the patient has even answered since (message 3, not yet handled either).
    asyncio.run(_send_unrecorded(api, "Hi, got a minute?", NUDGE_BUTTONS))
    api.send_text(CHAT, "yes")

    _take_over(db_url, sessions, api)

    assert _status(sessions, log_id) == "sent"
    assert [m["text"] for m in api.sent(CHAT)] == ["Hi, got a minute?"]
    assert api.sent(CHAT)[0]["edits"] == 0  # looked at, not changed


def test_a_nudge_that_never_arrived_is_sent_once(db_url, sessions, api, linked):
    log_id = _in_doubt(sessions, linked)
    api.send_text(CHAT, "are you there?")  # message 2, the patient's: not the nudge

    _take_over(db_url, sessions, api)

    assert _status(sessions, log_id) == "sent"
    [nudge] = api.sent(CHAT)
    assert nudge["text"] == "Hi, got a minute?"
    with sessions() as session:
        assert session.get(NudgeLog, log_id).attempts >= 1


def test_without_a_way_to_look_the_nudge_stays_unknown_and_unsent(db_url, sessions, api, linked):
    log_id = _in_doubt(sessions, linked, after=None)

    _take_over(db_url, sessions, api)

    assert _status(sessions, log_id) == "unknown"
    assert api.sent(CHAT) == []


async def _send_unrecorded(api, text, markup) -> None:
    """The bot's message reaching Telegram from a process that died before noting it."""
    from telegram import InlineKeyboardMarkup

    bot = build_bot(TOKEN, api.base_url)
    async with bot:
        await bot.send_message(CHAT, text, reply_markup=InlineKeyboardMarkup.de_json(markup, bot))


def test_a_nudge_noted_in_the_chat_but_not_marked_sent_is_not_sent_again(db_url, sessions, api, linked):
    log_id = _in_doubt(sessions, linked)

    async def send_and_note():
        from messaging.rendering import Button, Reply

        bot = build_bot(TOKEN, api.base_url)
        async with bot:
            # The crash came after the id was noted, before the log said "sent".
            await TelegramSender(bot, ChatLog(sessions)).send_checked(
                CHAT, [Reply("Hi, got a minute?", (Button("Done", "/report_done"),))]
            )

    asyncio.run(send_and_note())
    # The patient's reply and another message of the bot's follow, both noted.
    api.send_text(CHAT, "later")
    with transaction(sessions) as session:
        chat_messages.record(session=session, chat_id=CHAT, message_ids=[3], from_bot=False)

    _take_over(db_url, sessions, api)

    assert _status(sessions, log_id) == "sent"
    assert len(api.sent(CHAT)) == 1
    assert not api.calls_of("editMessageReplyMarkup")  # settled from the record alone

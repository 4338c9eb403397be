"""What /forget clears outside our database (Rasa's transcript, the chat) gets done even when
the process dies or the tracker store fails in between: it is written down in the erasure's
own transaction and retried until done."""

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from bot.conversation import Conversation, Sender
from bot.erasures import Deletion, Erasures, Outcome
from data import chat_messages
from data.care_plans import apply_plan
from data.db import transaction
from data.models import Patient, PendingErasure, utcnow
from data.plan_schema import load_plan
from data.wording import content
from messaging.rasa_client import RasaClient
from tests.support import rasa_store
from tests.support.botapi_server import FakeBotApi
from tests.support.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
ALEX = 620001
TOKEN = "123456789:AAtest-token-for-the-loopback-server0"

# A bot process that takes a /forget and is killed (SIGKILL, as a crash or the OOM killer
# would) just as it turns to Rasa's transcript, after the erasure's transaction committed.
FORGET_THEN_DIE = """
import asyncio, os, signal, sys
from bot.conversation import Conversation, Sender
from messaging.rasa_client import RasaClient
from data import rasa_tracker
from data.db import make_engine, make_sessionmaker

def die(*_):
    os.kill(os.getpid(), signal.SIGKILL)

rasa_tracker.erase_conversation = die
database_url, tracker_url, user = sys.argv[1], sys.argv[2], int(sys.argv[3])
conversation = Conversation(
    sessions=make_sessionmaker(make_engine(database_url)),
    rasa=RasaClient("http://127.0.0.1:9", "t", timeout=1),
    invite_ttl_days=14,
    rasa_tracker_url=tracker_url,
)
asyncio.run(conversation.on_button(Sender(telegram_user_id=user, chat_id=user), "bw:forget:yes", "f1"))
print("survived")
"""


def _alex(sessions, message_ids: tuple[int, ...] | list[int] = (7, 8)) -> str:
    """Alex, linked in Telegram, with messages in the chat; returns the Rasa sender id."""
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        alex = session.get(Patient, "p-100")
        alex.telegram_user_id = alex.telegram_chat_id = ALEX
        alex.linked_at = alex.consented_at = utcnow()
        chat_messages.record(session=session, chat_id=ALEX, message_ids=list(message_ids), from_bot=False)
        return alex.sender_id


def _conversation_in_rasa(tracker_url: str, sender_id: str) -> None:
    rasa_store.store(
        tracker_url,
        sender_id,
        rasa_store.action("action_session_start"),
        rasa_store.user("i did my thought record", "report_done"),
        rasa_store.bot("Well done! How helpful was it?", "1", "5"),
    )
    rasa_store.store(tracker_url, "someone-else", rasa_store.user("hello", "greet"))


def _pending(sessions) -> list[PendingErasure]:
    with sessions() as session:
        return list(session.scalars(select(PendingErasure)))


class _Chat:
    """Telegram's side, deleting whatever it is asked to."""

    def __init__(self):
        self.asked: list[tuple[int, list[int]]] = []

    async def __call__(self, chat_id: int, message_ids: list[int]) -> Deletion:
        self.asked.append((chat_id, message_ids))
        return Deletion(deleted=message_ids)


def test_a_process_killed_between_the_erasure_and_the_transcript_is_finished_at_the_next_start(
    db_url, sessions, tmp_path
):
    api = FakeBotApi(TOKEN).start()
    try:
        for _ in range(2):
            api.send_text(ALEX, "hello")  # the chat's messages, on Telegram's side
        message_ids = sorted(api._messages[ALEX])
        sender_id = _alex(sessions, message_ids)
        tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
        _conversation_in_rasa(tracker_url, sender_id)

        died = subprocess.run(
            [sys.executable, "-c", FORGET_THEN_DIE, db_url, tracker_url, str(ALEX)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert died.returncode == -signal.SIGKILL, died.stderr
        assert "survived" not in died.stdout
        # Our rows are gone, the transcript is not: only the pending row still knows its name.
        with sessions() as session:
            assert session.get(Patient, "p-100").erased_at is not None
        [row] = _pending(sessions)
        assert (row.sender_id, row.chat_id) == (sender_id, ALEX)
        assert [m for m, _ in row.messages] == message_ids
        assert sender_id in rasa_store.senders(tracker_url)

        # A fresh start of the bot (`coach run`, as `make run` starts it) finishes the erasure.
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "DATABASE_URL": db_url,
            "RASA_TRACKER_URL": tracker_url,
            "RASA_URL": "http://127.0.0.1:9",
        }
        bot = subprocess.Popen(
            [sys.executable, "-m", "coach.cli", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while _pending(sessions) and bot.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _pending(sessions) == []
        finally:
            bot.send_signal(signal.SIGTERM)
            _, errors = bot.communicate(timeout=60)
        assert bot.returncode == 0, errors
        assert rasa_store.senders(tracker_url) == ["someone-else"]
        with api._cond:
            assert all(api._messages[ALEX][m]["deleted"] for m in message_ids)
    finally:
        api.stop()


def test_a_failing_tracker_store_leaves_the_erasure_pending_until_a_retry_succeeds(sessions, postgres_server):
    sender_id = _alex(sessions)
    # Rasa's store on PostgreSQL (as in docker-compose), reached through a proxy that can fail.
    _conversation_in_rasa(postgres_server, sender_id)
    url = make_url(postgres_server)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        tracker_url = url.set(port=proxy.port).render_as_string(hide_password=False)
        conversation = Conversation(
            sessions=sessions,
            rasa=RasaClient("http://127.0.0.1:9", "t", timeout=1),
            invite_ttl_days=14,
            rasa_tracker_url=tracker_url,
            clear_chat=_Chat(),
        )
        proxy.cut()
        [done] = asyncio.run(
            conversation.on_button(Sender(telegram_user_id=ALEX, chat_id=ALEX), "bw:forget:yes", "f1")
        )
        # Said as it is: our data is gone, the transcript is not yet.
        assert content()["forget_done"]["erased_transcript_later"] in done.text
        assert content()["forget_done"]["chat_all"] in done.text
        [row] = _pending(sessions)
        assert row.sender_id == sender_id and row.chat_id is None and row.messages == []
        assert row.attempts == 1 and row.next_attempt_at > utcnow()
        assert sender_id in rasa_store.senders(postgres_server)

        proxy.restore()
        assert asyncio.run(conversation.erasures.retry()) == 0  # not due yet: it backs off
        with transaction(sessions) as session:
            session.execute(update(PendingErasure).values(next_attempt_at=utcnow()))
        assert asyncio.run(conversation.erasures.retry()) == 1
    assert _pending(sessions) == []
    assert sender_id not in rasa_store.senders(postgres_server)


def test_the_chat_part_is_given_up_once_telegram_no_longer_allows_it(sessions, tmp_path):
    sender_id = _alex(sessions)
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    _conversation_in_rasa(tracker_url, sender_id)

    async def telegram_down(chat_id, message_ids):
        return Deletion(retry=message_ids)

    conversation = Conversation(
        sessions=sessions,
        rasa=RasaClient("http://127.0.0.1:9", "t", timeout=1),
        invite_ttl_days=14,
        rasa_tracker_url=tracker_url,
        clear_chat=telegram_down,
    )
    asyncio.run(conversation.on_button(Sender(telegram_user_id=ALEX, chat_id=ALEX), "bw:forget:yes", "f1"))
    [row] = _pending(sessions)
    assert row.sender_id is None and [m for m, _ in row.messages] == [7, 8]  # transcript done
    # 48 hours on, Telegram would refuse: the ids go, unasked, and the row with them.
    past = int((utcnow() - dt.timedelta(seconds=1)).timestamp())
    with transaction(sessions) as session:
        session.execute(
            update(PendingErasure).values(messages=[[7, past], [8, past]], next_attempt_at=utcnow())
        )
    # A later run, Telegram answering again.
    chat = _Chat()
    assert asyncio.run(Erasures(sessions=sessions, tracker_url=tracker_url, clear_chat=chat).retry()) == 1
    assert chat.asked == [] and _pending(sessions) == []


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        (Outcome(True, True, 4, 4, 0, 0, True), ["erased", "chat_all", "chat_older"]),
        (Outcome(True, True, 4, 2, 2, 0, False), ["erased", "chat_some", "chat_retrying", "chat_older"]),
        (Outcome(True, True, 4, 0, 4, 0, False), ["erased", "chat_none", "chat_retrying", "chat_older"]),
        (Outcome(True, True, 4, 0, 0, 4, True), ["erased", "chat_none", "chat_refused", "chat_older"]),
        (Outcome(True, True, 0, 0, 0, 0, True), ["erased", "chat_nothing", "chat_older"]),
        (Outcome(False, True, 2, 2, 0, 0, False), ["erased_transcript_later", "chat_all", "chat_older"]),
        (Outcome(True, False, 0, 0, 0, 0, True), ["erased"]),  # no Telegram chat (the terminal)
    ],
)
def test_the_forget_answer_says_what_really_happened(outcome, said):
    from bot.forgetting import forget_done as _forget_done

    wording = content()["forget_done"]
    assert _forget_done(outcome) == " ".join(wording[k] for k in [*said, "goodbye"])

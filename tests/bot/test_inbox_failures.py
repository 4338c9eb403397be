"""What the bot does when its dependencies fail for real: the database (PostgreSQL behind
a proxy the test cuts) and Rasa (a closed port, or a server that stops answering).

Nothing a patient sent is lost or answered twice; a failing database stops nothing; a
message that could not be acted on for the whole retry window is answered plainly.
"""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from bot import crisis
from bot.telegram_channel import TelegramChannel
from data import inbox
from data.care_plans import apply_plan
from data.db import transaction
from data.models import InboxUpdate, Patient, utcnow
from data.plan_schema import load_plan
from data.wording import say
from tests.bot.test_telegram_channel import ALEX, FIXTURES, TOKEN, telegram_channel
from tests.support.botapi_server import FakeBotApi

pytestmark = pytest.mark.postgres


class RasaThatCutsTheDatabase:
    """A stand-in Rasa that answers every message, and cuts the database as it does: the
    reply goes out, and then nothing can be written down."""

    def __init__(self, proxy):
        self.received: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.received.append(body["metadata"]["bw_message_id"])
                proxy.cut()
                answer = json.dumps([{"recipient_id": body["sender"], "text": "Noted, thank you."}])
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def api():
    with FakeBotApi(TOKEN) as server:
        yield server


@pytest.fixture
def database(flaky_database):
    sessions, proxy = flaky_database
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        alex = session.get(Patient, "p-100")
        alex.telegram_user_id = alex.telegram_chat_id = ALEX
        alex.linked_at = alex.consented_at = utcnow()
    return sessions, proxy


def _channel(sessions, api, tmp_path, rasa_url=None) -> TelegramChannel:
    return telegram_channel(sessions, api, tmp_path, rasa_url)


async def _running(channel: TelegramChannel, during) -> None:
    """Run the bot while `during()` (a coroutine function) plays out; the bot must still
    be running at its end: nothing here may stop it."""
    await asyncio.to_thread(crisis.warm_up)
    stop = asyncio.Event()
    async with channel.bot:
        task = asyncio.create_task(channel.run(stop))
        await during()
        assert not task.done(), "the bot stopped"
        stop.set()
        await asyncio.wait_for(task, 40)


async def _until(condition, seconds: float = 20) -> None:
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


def _rows(sessions) -> list[InboxUpdate]:
    with sessions() as session:
        return list(session.scalars(select(InboxUpdate).order_by(InboxUpdate.update_id)))


def test_a_database_down_while_polling_stops_nothing_and_loses_nothing(database, api, tmp_path):
    sessions, proxy = database
    channel = _channel(sessions, api, tmp_path)

    async def during():
        await asyncio.sleep(1)  # polling
        proxy.cut()
        api.send_text(ALEX, "/help")
        await asyncio.sleep(3)
        # Not stored, so not confirmed: Telegram still holds it, and it is not answered yet.
        assert api.pending_updates() and api.sent(ALEX) == []
        assert proxy.refused > 0  # the bot did try, and kept trying
        proxy.restore()
        await _until(lambda: len(api.sent(ALEX)) == 1)
        await _until(lambda: not api.pending_updates())

    asyncio.run(_running(channel, during))
    assert api.sent(ALEX)[0]["text"] == say("help")  # the help, once
    [row] = _rows(sessions)
    assert row.processed_at is not None and row.payload is None


def test_a_database_failure_while_handling_holds_the_message_until_it_is_answered(database, api, tmp_path):
    sessions, proxy = database
    channel = _channel(sessions, api, tmp_path)
    real_handle = channel.handle

    async def cut_then_handle(update, **kwargs):
        # The database goes just as the message is picked up (it was stored a moment ago).
        if proxy.refused == 0:
            proxy.cut()
            asyncio.get_running_loop().call_later(2, proxy.restore)
        return await real_handle(update, **kwargs)

    channel.handle = cut_then_handle

    async def during():
        api.send_text(ALEX, "/help")
        await _until(lambda: len(api.sent(ALEX)) == 2)
        await asyncio.sleep(1.5)  # nothing more follows

    asyncio.run(_running(channel, during))
    held, answered = api.sent(ALEX)
    assert held["text"] == say("unavailable")  # told once that it is kept, not "went wrong"
    assert answered["text"] == say("help")
    assert len(api.sent(ALEX)) == 2
    [row] = _rows(sessions)
    assert row.processed_at is not None and row.payload is None


def test_an_answer_whose_record_fails_is_written_later_and_never_sent_twice(database, api, tmp_path):
    sessions, proxy = database
    rasa = RasaThatCutsTheDatabase(proxy)
    channel = _channel(sessions, api, tmp_path, rasa.url)

    async def during():
        api.send_text(ALEX, "i did my thought record")
        await _until(lambda: len(api.sent(ALEX)) == 1)
        await asyncio.sleep(3)  # the database is down: "done" cannot be written yet
        [row] = _rows_through(proxy, sessions)
        assert row.processed_at is None
        proxy.restore()
        await _until(lambda: _rows(sessions)[0].processed_at is not None)
        await asyncio.sleep(2.5)  # a second handling would show here

    try:
        asyncio.run(_running(channel, during))
    finally:
        rasa.close()
    assert [m["text"] for m in api.sent(ALEX)] == ["Noted, thank you."]
    assert len(rasa.received) == 1  # Rasa heard it once


def _rows_through(proxy, sessions):
    """Read the inbox while the proxy is cut: open it for the read alone."""
    proxy.restore()
    try:
        return _rows(sessions)
    finally:
        proxy.cut()


def test_crisis_words_are_answered_while_the_database_fails(database, api, tmp_path):
    sessions, proxy = database
    channel = _channel(sessions, api, tmp_path)
    real_handle = channel.handle

    async def cut_then_handle(update, **kwargs):
        proxy.cut()
        return await real_handle(update, **kwargs)

    channel.handle = cut_then_handle

    async def during():
        api.send_text(ALEX, "i want to kill myself")
        await _until(lambda: len(api.sent(ALEX)) >= 1)
        proxy.restore()
        await _until(lambda: _rows(sessions)[0].processed_at is not None)

    asyncio.run(_running(channel, during))
    [response] = api.sent(ALEX)
    assert say("crisis_no_resources") in response["text"]  # general numbers: the clinic's are in the database
    assert response["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "bw:crisis:resources"


def test_a_message_rasa_never_took_is_answered_plainly_when_the_retries_run_out(database, api, tmp_path):
    sessions, _ = database
    channel = _channel(sessions, api, tmp_path)  # Rasa: a closed port
    api.send_text(ALEX, "i did my thought record")
    [update] = api.pending_updates()
    with transaction(sessions) as session:
        inbox.store(session=session, updates=[update])
        session.get(InboxUpdate, update["update_id"]).attempts = inbox.MAX_ATTEMPTS - 1

    async def during():
        await _until(lambda: len(api.sent(ALEX)) == 1)
        await asyncio.sleep(1)

    asyncio.run(_running(channel, during))
    [told] = api.sent(ALEX)
    assert told["text"] == say("gave_up")
    assert told["reply_to_message_id"] == update["message"]["message_id"]  # which message
    assert told["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "bw:crisis:resources"
    [row] = _rows(sessions)
    assert row.processed_at is not None and row.payload is None


def test_rasa_down_and_back_answers_the_kept_message(database, api, tmp_path):
    """The retry path end to end: kept while Rasa is down, answered once it is back."""
    sessions, proxy = database
    api.send_text(ALEX, "i did my thought record")
    asyncio.run(_running(_channel(sessions, api, tmp_path), lambda: asyncio.sleep(1.5)))
    [row] = _rows(sessions)
    assert row.processed_at is None and row.attempts == 1
    with transaction(sessions) as session:
        session.get(InboxUpdate, row.update_id).next_attempt_at = None  # due now
    rasa = RasaThatCutsTheDatabase(proxy)
    try:

        async def during():
            await _until(lambda: len(api.sent(ALEX)) == 2)
            proxy.restore()
            await _until(lambda: _rows(sessions)[0].processed_at is not None)

        asyncio.run(_running(_channel(sessions, api, tmp_path, rasa.url), during))
    finally:
        rasa.close()
    assert [m["text"] for m in api.sent(ALEX)] == [say("unavailable"), "Noted, thank you."]

"""Tests of the fake Telegram Bot API server, through raw HTTP and through python-telegram-bot.

The fake is only useful if it is as strict as Telegram, so these tests pin Telegram's behaviour:
status codes, descriptions, limits, and the offset rules of getUpdates.  Async code runs under
``asyncio.run`` inside plain test functions (no pytest-asyncio here).
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import threading
import time

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters

try:
    from tests.support.botapi_server import NOT_MODIFIED, POLL_CONFLICT, FakeBotApi
except ImportError:  # pytest put tests/ itself on sys.path, not the project root
    from support.botapi_server import NOT_MODIFIED, POLL_CONFLICT, FakeBotApi

pytestmark = pytest.mark.timeout(60)

TOKEN = "123456789:AAFakeTokenForBridgeworkTests_abc-xyz"
USER = 4242


@pytest.fixture
def api():
    with FakeBotApi(TOKEN) as server:
        yield server


def call(
    api: FakeBotApi, method: str, *, token: str = TOKEN, http_timeout: float = 20, **params
) -> httpx.Response:
    """One raw Bot API call with a JSON body."""
    return httpx.post(f"{api.base_url}/bot{token}/{method}", json=params, timeout=http_timeout)


def make_bot(api: FakeBotApi, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=f"{api.base_url}/bot", base_file_url=f"{api.base_url}/file/bot")


def with_bot(api: FakeBotApi, body, token: str = TOKEN):
    """Run `await body(bot)` with an initialised PTB Bot; return its result."""

    async def main():
        async with make_bot(api, token) as bot:
            return await body(bot)

    return asyncio.run(main())


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d[:10] or "x", callback_data=d) for d in data]])


# ----------------------------------------------------------------------------- basics


def test_get_me_says_it_is_a_bot(api):
    me = call(api, "getMe").json()
    assert me["ok"] is True
    assert me["result"]["is_bot"] is True
    assert me["result"]["username"] == "bridgework_test_bot"
    assert {"can_join_groups", "can_read_all_group_messages", "supports_inline_queries"} <= set(me["result"])

    async def body(bot):
        return bot.username, (await bot.get_me()).is_bot

    assert with_bot(api, body) == ("bridgework_test_bot", True)


def test_wrong_token_is_401_and_ptb_raises_invalid_token(api):
    response = call(api, "getMe", token="123456789:WRONG")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    # A token of the wrong shape is a 404, as on Telegram.
    assert call(api, "getMe", token="not-a-token").status_code == 404

    with pytest.raises(InvalidToken):
        with_bot(api, lambda bot: bot.get_me(), token="123456789:WRONG")
    assert api.calls == []  # unauthorised requests never reach a method


def test_unknown_methods_are_404_and_method_names_are_case_insensitive(api):
    response = call(api, "frobnicate")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert call(api, "GETME").json()["result"]["is_bot"] is True
    # A real method the fake lacks fails loudly instead of pretending to be a bad token.
    assert call(api, "sendPoll", chat_id=1).status_code == 501
    assert api.unimplemented == ["sendPoll"]


# ----------------------------------------------------------------------------- getUpdates


def updates(api: FakeBotApi, **params) -> list[dict]:
    response = call(api, "getUpdates", **params)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_offset_confirms_and_drops_earlier_updates(api):
    ids = [api.send_text(USER, "/start"), api.send_text(USER, "two"), api.send_text(USER, "3")]
    assert ids == sorted(ids) and len(set(ids)) == 3

    first = updates(api)
    assert [u["update_id"] for u in first] == ids
    message = first[0]["message"]
    assert message["text"] == "/start" and message["chat"] == {
        "id": USER,
        "type": "private",
        "first_name": "Tester",
    }
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert message["from"]["is_bot"] is False and isinstance(message["date"], int)

    # Unconfirmed updates come back again; an offset confirms everything below it.
    assert [u["update_id"] for u in updates(api)] == ids
    assert [u["update_id"] for u in updates(api, offset=ids[1])] == ids[1:]
    assert api.confirmed_offset == ids[1]
    assert [u["update_id"] for u in updates(api)] == ids[1:]
    assert updates(api, offset=ids[-1] + 1) == []
    assert api.pending_updates() == [] and api.confirmed_offset == ids[-1] + 1
    assert api.send_text(USER, "later") > ids[-1]  # ids keep increasing


def test_negative_offset_returns_the_last_n_and_forgets_the_rest(api):
    ids = [api.send_text(USER, f"m{i}") for i in range(5)]
    assert [u["update_id"] for u in updates(api, offset=-2)] == ids[-2:]
    assert [u["update_id"] for u in updates(api)] == ids[-2:]  # the first three are gone


def test_limit_is_clamped_to_1_to_100(api):
    ids = [api.send_text(USER, f"m{i}") for i in range(3)]
    assert [u["update_id"] for u in updates(api, limit=1)] == ids[:1]
    assert [u["update_id"] for u in updates(api, limit=0)] == ids[:1]
    assert [u["update_id"] for u in updates(api, limit=1000)] == ids


def test_allowed_updates_filters_updates_created_after_it(api):
    api.send_text(USER, "hi")
    member_update = {"chat_member": {"chat": {"id": -1, "type": "group", "title": "g"}}}
    api.push_update(member_update)  # chat_member is opt-in: never queued by default
    assert [list(u)[1] for u in updates(api)] == ["message"]
    assert updates(api, allowed_updates=["chat_member"]) != []  # the message stays queued
    api.send_text(USER, "filtered out")
    opted_in = api.push_update(member_update)
    assert [u["update_id"] for u in updates(api, offset=opted_in)] == [opted_in]


def test_long_poll_returns_empty_after_its_timeout(api):
    started = time.monotonic()
    assert updates(api, timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 3


def poll_in_thread(api: FakeBotApi, **params) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def poll():
        outcome["response"] = call(api, "getUpdates", **params)
        outcome["at"] = time.monotonic()

    thread = threading.Thread(target=poll)
    thread.start()
    api.wait_for_polling(timeout=5)
    return thread, outcome


def test_long_poll_wakes_as_soon_as_an_update_arrives(api):
    thread, outcome = poll_in_thread(api, timeout=10)
    sent_at = time.monotonic()
    update_id = api.send_text(USER, "hello")
    thread.join(timeout=5)
    assert outcome["at"] - sent_at < 2
    assert [u["update_id"] for u in outcome["response"].json()["result"]] == [update_id]


def test_a_second_poller_terminates_the_first_with_409(api):
    thread, outcome = poll_in_thread(api, timeout=10)
    assert updates(api) == []  # the newer request wins...
    thread.join(timeout=5)
    response = outcome["response"]  # ...and the one that was waiting is told why
    assert response.status_code == 409
    assert response.json() == {"ok": False, "error_code": 409, "description": POLL_CONFLICT}


def test_webhook_blocks_polling_until_deleted(api):
    async def body(bot):
        with pytest.raises(BadRequest, match="(?i)https url"):
            await bot.set_webhook("http://example.com/hook")
        assert await bot.set_webhook("https://example.com/hook")
        assert (await bot.get_webhook_info()).url == "https://example.com/hook"
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook()
        return await bot.get_updates()

    assert with_bot(api, body) == ()


# ----------------------------------------------------------------------------- sendMessage


def test_text_limit_is_4096_utf16_units_after_parsing(api):
    api.send_text(USER, "hi")

    async def body(bot):
        await bot.send_message(USER, "a" * 4096)
        await bot.send_message(USER, "😀" * 2048)  # an emoji is two UTF-16 units
        await bot.send_message(USER, f"<b>{'a' * 4096}</b>", parse_mode="HTML")  # tags are free
        for too_long in ("a" * 4097, "😀" * 2049):
            with pytest.raises(BadRequest, match="(?i)message is too long"):
                await bot.send_message(USER, too_long)

    with_bot(api, body)
    assert len(api.sent(USER)) == 3


def test_send_message_requires_a_known_chat_and_some_text(api):
    api.send_text(USER, "hi")
    response = call(api, "sendMessage", text="x")
    assert response.json()["description"] == "Bad Request: chat_id is empty"
    for text in ("", " \n "):
        response = call(api, "sendMessage", chat_id=USER, text=text)
        assert response.status_code == 400
        assert response.json()["description"] == "Bad Request: message text is empty"
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        with_bot(api, lambda bot: bot.send_message(USER + 1, "who?"))
    message = call(api, "sendMessage", chat_id=USER, text="  ok \n").json()["result"]
    assert message["text"] == "ok" and message["from"]["is_bot"] is True


def test_callback_data_is_limited_to_64_bytes(api):
    api.send_text(USER, "hi")

    async def body(bot):
        await bot.send_message(USER, "ok", reply_markup=keyboard("x" * 64))
        await bot.send_message(USER, "ok", reply_markup=keyboard("я" * 32))  # 64 bytes
        for too_long in ("x" * 65, "я" * 33):
            with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
                await bot.send_message(USER, "no", reply_markup=keyboard(too_long))

    with_bot(api, body)
    assert [m["reply_markup"]["inline_keyboard"][0][0]["callback_data"] for m in api.sent(USER)] == [
        "x" * 64,
        "я" * 32,
    ]


def test_reply_markup_must_parse_and_buttons_need_one_action(api):
    api.send_text(USER, "hi")
    cases = {
        '{"inline_keyboard": [[': "Bad Request: can't parse reply keyboard markup JSON object",
        '{"inline_keyboard": [[{"text": "x"}]]}': "Bad Request: "
        "can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard",
    }
    for markup, description in cases.items():
        response = call(api, "sendMessage", chat_id=USER, text="x", reply_markup=markup)
        assert response.json()["description"] == description
    both = {"inline_keyboard": [[{"text": "x", "callback_data": "a", "url": "https://e.org"}]]}
    assert call(api, "sendMessage", chat_id=USER, text="x", reply_markup=both).status_code == 400


def test_parse_modes_are_parsed_like_telegram(api):
    api.send_text(USER, "hi")

    async def body(bot):
        message = await bot.send_message(USER, "<b>Done</b> &lt;3", parse_mode="HTML")
        assert message.text == "Done <3" and message.entities[0].type == "bold"
        assert message.text_html == "<b>Done</b> &lt;3"
        with pytest.raises(BadRequest, match="(?i)can't parse entities: unsupported start tag"):
            await bot.send_message(USER, "mood 3 < 5", parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)character '.' is reserved"):
            await bot.send_message(USER, "Done.", parse_mode="MarkdownV2")
        await bot.send_message(USER, r"*Done*\.", parse_mode="MarkdownV2")

    with_bot(api, body)
    assert [m["text"] for m in api.sent(USER)] == ["Done <3", "Done."]


# ----------------------------------------------------------------------------- flood control


def test_flooding_one_chat_gets_429_with_retry_after(monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta
    with FakeBotApi(TOKEN, per_chat_rate=1.0, per_chat_burst=3) as api:
        api.send_text(USER, "hi")

        async def body(bot):
            for i in range(3):
                await bot.send_message(USER, f"burst {i}")
            with pytest.raises(RetryAfter) as flood:
                await bot.send_message(USER, "one too many")
            await asyncio.sleep(flood.value.retry_after.total_seconds())
            await bot.send_message(USER, "after waiting")  # honouring retry_after is enough
            for _ in range(10):  # polling and getMe are not flood-limited
                await bot.get_me()
                await bot.get_updates()
            return flood.value.retry_after

        assert with_bot(api, body) == dtm.timedelta(seconds=1)
        assert api.count_429() == 1
        assert [m["text"] for m in api.sent(USER)][-1] == "after waiting"


def test_global_limit_spans_chats_and_answers_in_telegram_format():
    with FakeBotApi(TOKEN, per_chat_burst=100, global_rate=0.5, global_burst=2) as api:
        for user in (1, 2, 3):
            api.send_text(user, "hi")
        assert call(api, "sendMessage", chat_id=1, text="a").status_code == 200
        assert call(api, "sendMessage", chat_id=2, text="b").status_code == 200
        response = call(api, "sendMessage", chat_id=3, text="c")
        assert response.status_code == 429
        assert response.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 2",
            "parameters": {"retry_after": 2},
        }


# ----------------------------------------------------------------------------- users, buttons


def test_blocked_user_gives_403(api):
    api.send_text(USER, "hi")
    api.block(USER)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        with_bot(api, lambda bot: bot.send_message(USER, "still there?"))
    api.send_text(USER, "/start")  # writing again unblocks, like "Restart" in the app
    assert call(api, "sendMessage", chat_id=USER, text="welcome back").status_code == 200

    async def statuses(bot):  # Telegram tells the bot, and PTB must be able to parse it
        return [
            (u.my_chat_member.old_chat_member.status, u.my_chat_member.new_chat_member.status)
            for u in await bot.get_updates()
            if u.my_chat_member
        ]

    assert with_bot(api, statuses) == [("member", "kicked"), ("kicked", "member")]


def test_callback_query_can_be_answered_once(api):
    api.send_text(USER, "hi")

    async def send(bot):
        return await bot.send_message(USER, "Done?", reply_markup=keyboard("yes", "no"))

    message_id = with_bot(api, send).message_id
    update_id = api.press_button(USER, message_id, "yes")
    query_id = api.update(update_id)["callback_query"]["id"]
    with pytest.raises(AssertionError, match="no button"):
        api.press_button(USER, message_id, "maybe")

    async def answer(bot):
        update = (await bot.get_updates(offset=update_id))[0]
        assert isinstance(update, Update) and update.callback_query.data == "yes"
        assert update.callback_query.message.message_id == message_id
        assert await update.callback_query.answer("Noted")
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.answer_callback_query(query_id)
        with pytest.raises(BadRequest, match="(?i)query id is invalid"):
            await bot.answer_callback_query("12345")

    with_bot(api, answer)
    assert api.callback_answer(query_id)["text"] == "Noted"


def test_edits_follow_telegram_rules(api):
    api.send_text(USER, "hi")
    user_message_id = 1  # the user's "hi": both sides share the chat's message ids

    async def body(bot):
        message = await bot.send_message(USER, "Step 1", reply_markup=keyboard("next"))
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await message.edit_text("Step 1", reply_markup=keyboard("next"))
        # Leaving reply_markup out of an edit removes the keyboard, as on Telegram.
        edited = await message.edit_text("Step 2")
        assert edited.text == "Step 2" and edited.reply_markup is None and edited.edit_date
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=USER, message_id=999)
        with pytest.raises(BadRequest, match="(?i)message can't be edited"):
            await bot.edit_message_text("x", chat_id=USER, message_id=user_message_id)
        await bot.edit_message_reply_markup(USER, message.message_id, reply_markup=keyboard("b"))
        return message.message_id

    message_id = with_bot(api, body)
    sent = api.sent(USER)[0]
    assert sent["text"] == "Step 2" and sent["edits"] == 2
    assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "b"
    description = call(
        api,
        "editMessageReplyMarkup",
        chat_id=USER,
        message_id=message_id,
        reply_markup=sent["reply_markup"],
    ).json()["description"]
    assert description == f"Bad Request: {NOT_MODIFIED}"


def test_delete_message_only_within_48_hours(api):
    api.send_text(USER, "hi")
    ids = [
        call(api, "sendMessage", chat_id=USER, text=t).json()["result"]["message_id"] for t in ("a", "b", "c")
    ]

    def delete(message_id):
        return call(api, "deleteMessage", chat_id=USER, message_id=message_id).json()

    assert delete(ids[0]) == {"ok": True, "result": True}
    assert api.sent(USER)[0]["deleted"] is True
    assert delete(ids[0])["description"] == "Bad Request: message to delete not found"
    api.age_message(USER, ids[1], 48 * 3600 + 1)
    assert delete(ids[1])["description"] == "Bad Request: message can't be deleted for everyone"
    api.age_message(USER, ids[2], 47 * 3600)
    assert delete(ids[2])["result"] is True
    assert delete(999)["description"] == "Bad Request: message to delete not found"


# ----------------------------------------------------------------------------- files, bodies


def test_send_document_round_trips_the_bytes(api):
    api.send_text(USER, "hi")
    data = bytes(range(256)) * 40 + b"\r\n--boundary-like\r\n"

    async def body(bot):
        message = await bot.send_document(
            USER,
            data,
            filename="Übung 1.pdf",
            caption="<b>Your</b> sheet",
            parse_mode="HTML",
            protect_content=True,
        )
        assert message.document.file_name == "Übung 1.pdf"
        assert message.document.file_size == len(data)
        assert message.caption == "Your sheet" and message.has_protected_content
        downloaded = await (await bot.get_file(message.document.file_id)).download_as_bytearray()
        return message, bytes(downloaded)

    message, downloaded = with_bot(api, body)
    assert downloaded == data
    sent = api.sent(USER)[0]
    assert sent["document_bytes"] == data and sent["protect_content"] is True
    assert sent["document"]["mime_type"] == "application/pdf"
    upload = api.calls_of("sendDocument")[0]["document"]
    assert upload == {"file_name": "Übung 1.pdf", "mime_type": "application/pdf", "size": len(data)}
    description = call(api, "sendDocument", chat_id=USER).json()["description"]
    assert description == "Bad Request: there is no document in the request"


def test_form_multipart_json_and_query_bodies_are_all_understood(api):
    api.send_text(USER, "hi")
    url = f"{api.base_url}/bot{TOKEN}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}

    form = httpx.post(
        url,
        data={
            "chat_id": str(USER),
            "text": "form",
            "disable_notification": "true",
            "reply_markup": json.dumps(markup),
        },
    )
    multipart = httpx.post(
        url,
        data={"chat_id": str(USER), "text": "multi ✓"},
        files={"thumbnail": ("t.txt", b"unused", "text/plain")},
    )
    as_json = httpx.post(
        url, json={"chat_id": USER, "text": "json", "protect_content": True, "reply_markup": markup}
    )
    query = httpx.get(url, params={"chat_id": USER, "text": "query"})
    for response in (form, multipart, as_json, query):
        assert response.status_code == 200, response.text

    sent = api.sent(USER)
    assert [m["text"] for m in sent] == ["form", "multi ✓", "json", "query"]
    assert sent[0]["disable_notification"] is True and sent[0]["reply_markup"] == markup
    assert sent[2]["protect_content"] is True and sent[2]["reply_markup"] == markup
    # Like Telegram's own server, the fake sees every parameter as a string.
    assert api.calls_of("sendMessage")[2]["chat_id"] == str(USER)
    assert api.calls_of("sendMessage")[2]["protect_content"] == "true"


# ----------------------------------------------------------------------------- a real bot


def test_a_ptb_application_polls_replies_and_confirms_on_shutdown(api):
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text("Welcome")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"echo: {update.message.text}")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{api.base_url}/bot")
        .base_file_url(f"{api.base_url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))

    async def main():
        async with app:
            await app.start()
            await app.updater.start_polling(timeout=1, poll_interval=0)
            await asyncio.to_thread(api.wait_for_polling)
            api.send_text(USER, "/start")
            last = api.send_text(USER, "I did the thought record")
            replies = await asyncio.to_thread(api.wait_for_sent, USER, 2, 10)
            await app.updater.stop()
            await app.stop()
        return last, replies

    last, replies = asyncio.run(main())
    assert [m["text"] for m in replies] == ["Welcome", "echo: I did the thought record"]
    assert api.confirmed_offset == last + 1  # PTB confirms what it handled before exiting
    assert api.pending_updates() == []
    assert api.server_errors == []

"""The Telegram side of the bot against the strict loopback Bot API server.

Rasa is a closed port here (a real connection failure), so these tests cover
what the bot does on its own: the durable inbox, retries, routing.
"""

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import crisis
from bot.chat_eraser import ChatEraser
from bot.conversation import Conversation
from bot.telegram_channel import TelegramChannel, build_bot
from data import inbox
from data.care_plans import apply_plan
from data.db import transaction
from data.models import Assignment, InboxUpdate, Patient, utcnow
from data.plan_schema import load_plan
from data.wording import say
from messaging.rasa_client import RasaClient
from tests.support.botapi_server import FakeBotApi
from tests.support.ports import closed_port
from tests.support.wording import has_response, is_response

FIXTURES = Path(__file__).parent.parent / "fixtures"
TOKEN = "123456789:AAtest-token-for-the-loopback-server0"
ALEX = 620001


@pytest.fixture
def api():
    with FakeBotApi(TOKEN) as server:
        yield server


@pytest.fixture
def make_channel(sessions, tmp_path, api):
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        alex = session.get(Patient, "p-100")
        alex.telegram_user_id = alex.telegram_chat_id = ALEX
        alex.linked_at = alex.consented_at = utcnow()

    def make():
        return telegram_channel(sessions, api, tmp_path)

    return make


def telegram_channel(sessions, api: FakeBotApi, tmp_path, rasa_url: str | None = None) -> TelegramChannel:
    """The channel as coach/wiring.py builds it; Rasa at a closed port unless given."""
    rasa = RasaClient(rasa_url or f"http://127.0.0.1:{closed_port()}", "t", timeout=2)
    bot = build_bot(TOKEN, api.base_url)
    conversation = Conversation(
        sessions=sessions,
        rasa=rasa,
        invite_ttl_days=14,
        rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
        clear_chat=ChatEraser(bot).delete_messages,
    )
    return TelegramChannel(bot, conversation, sessions)


async def _poll_once(
    channel: TelegramChannel, seconds: float = 1.5, *, until: Callable[[], bool] | None = None
) -> None:
    """Runs the channel for `seconds`, or, given `until`, until it holds and a little after.

    A loaded machine (CI runs suites side by side) can take longer than any fixed time, so
    tests that count replies wait for them; the short linger still catches one too many.
    """
    # Trained first, as the bot does before it polls: the seconds are for handling.
    await asyncio.to_thread(crisis.warm_up)
    stop = asyncio.Event()
    async with channel.bot:
        task = asyncio.create_task(channel.run(stop))
        if until is None:
            await asyncio.sleep(seconds)
        else:
            deadline = asyncio.get_running_loop().time() + 60
            while not until() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, 40)


def _replies(api: FakeBotApi, chat_id: int, count: int) -> Callable[[], bool]:
    return lambda: len(api.sent(chat_id)) >= count


def _rows(sessions) -> list[InboxUpdate]:
    with sessions() as session:
        return list(session.scalars(select(InboxUpdate).order_by(InboxUpdate.update_id)))


def test_rasa_down_gives_one_kind_reply_and_keeps_the_message(make_channel, api, sessions):
    api.send_text(ALEX, "i did my thought record")
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 1)))
    [reply] = api.sent(ALEX)
    assert reply["text"] == say("unavailable")
    [row] = _rows(sessions)
    assert row.processed_at is None and row.attempts == 1 and row.payload is not None
    # Confirmed to Telegram only because it is stored here.
    assert api.confirmed_offset == row.update_id + 1

    # The retry, when due, does not repeat the apology.
    with transaction(sessions) as session:
        session.get(InboxUpdate, row.update_id).next_attempt_at = None
    asyncio.run(_poll_once(make_channel()))
    assert len(api.sent(ALEX)) == 1
    [row] = _rows(sessions)
    assert row.attempts == 2 and row.processed_at is None


def test_a_stored_update_is_handled_after_a_restart(make_channel, api, sessions):
    # As if the last run crashed after storing the update but before handling it.
    api.send_text(555, "hello")
    [update] = api.pending_updates()
    with transaction(sessions) as session:
        inbox.store(session=session, updates=[update])
    api.send_text(555, "anyone?")  # confirms nothing yet: offsets come from the inbox
    asyncio.run(_poll_once(make_channel(), until=_replies(api, 555, 2)))
    replies = api.sent(555)
    assert len(replies) == 2 and all(r["text"] == say("unlinked") for r in replies)
    rows = _rows(sessions)
    assert [r.processed_at is not None for r in rows] == [True, True]
    assert all(r.payload is None for r in rows)  # the words are not kept once handled


def test_groups_are_ignored_and_stickers_answered(make_channel, api, sessions):
    api.send_text(ALEX, "hello group", chat_id=-100123, chat_type="supergroup")
    api.send_text(ALEX, "/help")  # answered by the bot itself; Rasa is down here
    api.push_update(
        {
            "message": {
                "message_id": 99,
                "date": 1,
                "chat": {"id": ALEX, "type": "private", "first_name": "Alex"},
                "from": {"id": ALEX, "is_bot": False, "first_name": "Alex"},
                "sticker": {
                    "file_id": "s1",
                    "file_unique_id": "u1",
                    "type": "regular",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                },
            }
        }
    )
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 2)))
    assert api.sent(-100123) == []
    help_text, sticker_reply = api.sent(ALEX)
    assert (help_text["text"], sticker_reply["text"]) == (say("help"), say("not_text"))


def test_mydata_sends_the_patients_own_data_as_a_protected_json_file(make_channel, api, sessions):
    import json

    from data import checkins

    with transaction(sessions) as session:
        task = session.scalar(select(Assignment).where(Assignment.task_id == "thought-record"))
        row, _ = checkins.record_checkin(
            session=session, assignment_id=task.id, status="done", dedupe_key="m1"
        )
        row.reflection, row.reflection_shared = "kept to myself", False  # private: still theirs
    api.send_text(ALEX, "/mydata")
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 1)))
    [sent] = api.sent(ALEX)
    assert sent["document"]["file_name"] == "bridgework-my-data.json"
    assert sent["caption"] == say("mydata")
    data = json.loads(sent["document_bytes"])
    assert data["you"]["name"] == "Alex"
    assert [c["your_note"] for c in data["checkins"]] == ["kept to myself"]
    assert [t["id"] for t in data["tasks"]] == ["thought-record"]  # Jo's task is not in Alex's file
    assert any(
        call == "sendDocument" and params.get("protect_content") in (True, "true")
        for call, params in api.calls
    )


def test_forget_deletes_the_chat_messages_telegram_still_allows(make_channel, api, sessions):
    from data.models import ChatMessage

    api.send_text(ALEX, "/help")
    api.send_text(ALEX, "/privacy")
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 2)))
    help_reply, privacy_reply = api.sent(ALEX)
    # Both commands (ids 1, 2) came before the replies (3, 4). The first exchange is older
    # than Telegram's 48 hours: it can no longer be deleted.
    for message_id in (1, help_reply["message_id"]):
        api.age_message(ALEX, message_id, 49 * 3600)
    with sessions() as session:
        noted = {(m.message_id, m.from_bot) for m in session.scalars(select(ChatMessage))}
    assert noted == {
        (1, False),
        (2, False),
        (help_reply["message_id"], True),
        (privacy_reply["message_id"], True),
    }

    api.send_text(ALEX, "/forget")
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 3)))
    confirm = api.sent(ALEX)[-1]
    [[yes], _no] = confirm["reply_markup"]["inline_keyboard"]
    api.press_button(ALEX, confirm["message_id"], yes["callback_data"])
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 4)))

    with api._cond:  # both sides of the chat, as the patient's phone shows it
        deleted = {k: r["deleted"] for k, r in api._messages[ALEX].items()}
    done = api.sent(ALEX)[-1]
    assert has_response(done["text"], "forget_done.erased") and not done["deleted"]
    assert deleted[1] is False and deleted[help_reply["message_id"]] is False  # past 48 hours
    recent = [k for k in deleted if k not in (1, help_reply["message_id"], done["message_id"])]
    assert recent and all(deleted[k] for k in recent), deleted
    with sessions() as session:
        assert session.scalars(select(ChatMessage)).all() == []


def test_a_strangers_messages_leave_no_ids_behind(make_channel, api, sessions):
    from data.models import ChatMessage

    api.send_text(777001, "hello?")
    asyncio.run(_poll_once(make_channel(), until=_replies(api, 777001, 1)))
    assert len(api.sent(777001)) == 1
    with sessions() as session:
        assert session.scalars(select(ChatMessage)).all() == []


def _from_alex(message_id: int, **content) -> dict:
    return {
        "message_id": message_id,
        "date": 1,
        "chat": {"id": ALEX, "type": "private", "first_name": "Alex"},
        "from": {"id": ALEX, "is_bot": False, "first_name": "Alex"},
        **content,
    }


def test_crisis_words_in_an_edit_or_a_photo_caption_are_answered(make_channel, api, sessions):
    from data.models import SafetyEvent

    api.send_text(ALEX, "/help")  # the chat exists
    api.push_update({"edited_message": _from_alex(97, text="see you tuesday", edit_date=2)})
    api.push_update({"edited_message": _from_alex(98, text="i dont want to be alive anymore", edit_date=2)})
    photo = [{"file_id": "p1", "file_unique_id": "pu1", "width": 1, "height": 1}]
    api.push_update({"message": _from_alex(99, photo=photo, caption="i took all my pills")})
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 5)))
    # The crisis words go ahead of the queue (the /help before them is answered after).
    replies = [
        m
        for m in api.sent(ALEX)
        if is_response(m["text"], "crisis_response") or is_response(m["text"], "crisis_safety_plan")
    ]
    assert "Test crisis line" in api.sent(ALEX)[0]["text"]  # the clinic's numbers come first
    # The ordinary edit is not read again; the two with crisis words get the crisis lines
    # (and Alex's safety plan with each).
    assert len(api.sent(ALEX)) == 5 and len(replies) == 4
    assert sum("Test crisis line" in r["text"] for r in replies) == 2
    with sessions() as session:
        assert len(session.scalars(select(SafetyEvent)).all()) == 2


def test_update_ids_that_start_again_lower_are_answered_and_confirmed(make_channel, api, sessions):
    api.send_text(ALEX, "/help")
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 1)))
    # After a quiet week Telegram may start its ids again, randomly, lower than the offset.
    api.renumber(7_000_001)
    api.send_text(ALEX, "/help")
    api.send_text(ALEX, "/privacy")
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 3)))
    assert len(api.sent(ALEX)) == 3  # both new messages answered...
    assert api.pending_updates() == []  # ...and confirmed: the offset followed the new ids
    with sessions() as session:
        # The next run picks up from the newest update received, not the highest id seen.
        assert inbox.next_offset(session=session) == 7_000_003


def _forget_through_telegram(make_channel, api) -> dict:
    """Alex writes, then asks to be forgotten and confirms; returns the bot's last message."""
    api.send_text(ALEX, "/help")
    api.send_text(ALEX, "/forget")
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 2)))
    confirm = api.sent(ALEX)[-1]
    [[yes], _no] = confirm["reply_markup"]["inline_keyboard"]
    api.press_button(ALEX, confirm["message_id"], yes["callback_data"])
    # The patient waits while deleteMessages is retried (1 s, then 2 s).
    asyncio.run(_poll_once(make_channel(), seconds=6))
    return api.sent(ALEX)[-1]


def _deleted(api) -> dict[int, bool]:
    with api._cond:
        return {k: r["deleted"] for k, r in api._messages[ALEX].items()}


def test_forget_says_when_telegram_failed_to_delete_and_the_retry_deletes_later(
    make_channel, api, sessions, tmp_path
):
    from bot.erasures import Erasures
    from data.models import PendingErasure
    from data.wording import content

    # Telegram fails every try while the patient waits (a 5xx is no refusal: worth retrying).
    api.fail_next("deleteMessages", 500, "Internal Server Error", times=3)
    done = _forget_through_telegram(make_channel, api)
    said = content()["forget_done"]
    assert said["chat_none"] in done["text"] and said["chat_retrying"] in done["text"]
    assert said["chat_all"] not in done["text"]
    assert len(api.calls_of("deleteMessages")) == 3
    assert not any(_deleted(api).values())  # nothing was deleted, and nothing claimed
    with sessions() as session:
        [row] = session.scalars(select(PendingErasure)).all()
        assert row.sender_id is None and row.chat_id == ALEX and len(row.messages) == 4
        row_id = row.id

    # The bot's retry loop, as coach/wiring.py runs it, once the retry is due.
    with transaction(sessions) as session:
        session.get(PendingErasure, row_id).next_attempt_at = utcnow()
    channel = make_channel()
    erasures = Erasures(
        sessions=sessions,
        tracker_url=f"sqlite:///{tmp_path / 't.db'}",
        clear_chat=ChatEraser(channel.bot).delete_messages,
    )

    async def retry():
        async with channel.bot:
            return await erasures.retry()

    assert asyncio.run(retry()) == 1
    deleted = _deleted(api)
    assert [k for k, gone in deleted.items() if not gone] == [done["message_id"]]
    with sessions() as session:
        assert session.scalars(select(PendingErasure)).all() == []


def test_forget_waits_out_a_flood_limit_while_the_patient_waits(make_channel, api, sessions):
    from data.models import PendingErasure
    from data.wording import content

    api.fail_next("deleteMessages", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
    done = _forget_through_telegram(make_channel, api)
    assert content()["forget_done"]["chat_all"] in done["text"]
    assert len(api.calls_of("deleteMessages")) == 2
    assert [k for k, gone in _deleted(api).items() if not gone] == [done["message_id"]]
    with sessions() as session:
        assert session.scalars(select(PendingErasure)).all() == []


def test_mydata_includes_the_patients_own_conversation_as_rasa_holds_it(
    make_channel, api, sessions, tmp_path
):
    import json

    from tests.support import rasa_store

    with sessions() as session:
        alex = session.get(Patient, "p-100").sender_id
        jo = session.get(Patient, "p-200").sender_id
    tracker = f"sqlite:///{tmp_path / 't.db'}"
    rasa_store.store(
        tracker,
        alex,
        rasa_store.action("action_session_start"),
        rasa_store.slot("session_started_metadata", None),
        rasa_store.user("i did my thought record", "report_done"),
        rasa_store.bot("Well done! How helpful was it?", "Not much", "A lot"),
        rasa_store.user("EXTERNAL: nudge", "nudge"),
        rasa_store.user("x" * 4000, "inform", bw_full_text="x" * 4000 + " and the rest"),
        rasa_store.slot("worksheet_answer", "my own words"),
    )
    rasa_store.store(tracker, jo, rasa_store.user("jo's secret", "inform"), rasa_store.bot("noted, Jo"))
    api.send_text(ALEX, "/mydata")
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 1)))
    [sent] = api.sent(ALEX)
    assert sent["caption"] == say("mydata")
    talk = json.loads(sent["document_bytes"])["our_conversation"]
    assert talk["included"] is True and is_response(talk["about"], "mydata_conversation.about")
    assert [(e.get("who"), e.get("text") or e.get("noted")) for e in talk["events"]] == [
        ("you", "i did my thought record"),
        ("bridgework", "Well done! How helpful was it?"),
        ("reminder", None),
        ("you", "x" * 4000 + " and the rest"),
        (None, "worksheet_answer"),
    ]
    assert talk["events"][0]["understood_as"] == "report_done"
    assert talk["events"][1]["buttons"] == ["Not much", "A lot"]
    assert talk["events"][4]["value"] == "my own words"
    assert "jo's secret" not in sent["document_bytes"].decode() and "Jo" not in str(talk)


def test_mydata_says_so_when_the_conversation_could_not_be_read(make_channel, api, sessions, tmp_path):
    import json

    (tmp_path / "t.db").mkdir()  # Rasa's store can't be opened
    api.send_text(ALEX, "/mydata")
    asyncio.run(_poll_once(make_channel(), until=_replies(api, ALEX, 1)))
    [sent] = api.sent(ALEX)
    assert sent["caption"] == say("mydata_without_transcript")
    data = json.loads(sent["document_bytes"])
    assert data["you"]["name"] == "Alex"  # the rest still goes
    assert data["our_conversation"]["included"] is False
    assert is_response(data["our_conversation"]["about"], "mydata_conversation.missing")

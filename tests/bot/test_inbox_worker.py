"""The inbox worker on a real database: chats side by side, each in order, crisis first,
nothing handled twice."""

import asyncio

import bot.crisis as crisis_net
from bot.inbox_worker import UNASSESSED, InboxWorker, Outcome, chat_of, words_of
from data import inbox
from data.db import transaction


def _update(update_id: int, chat: int, text: str) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "T"},
            "text": text,
        },
    }


class Recorder:
    """A handler that takes its time, notes what it handled and when, and answers done."""

    def __init__(self, sessions, seconds: dict[int, float] | None = None):
        self.sessions = sessions
        self.seconds = seconds or {}
        self.events: list[tuple[str, int]] = []
        self.assessments: dict[int, object] = {}

    async def __call__(self, update_id, payload, attempts, assessment):
        self.events.append(("start", update_id))
        self.assessments[update_id] = assessment
        await asyncio.sleep(self.seconds.get(update_id, 0.05))
        self.events.append(("end", update_id))
        return Outcome.DONE


def _store(sessions, updates):
    with transaction(sessions) as session:
        return inbox.store(session=session, updates=updates)


def test_chats_side_by_side_each_in_its_own_order(sessions):
    _store(sessions, [_update(1, 10, "a1"), _update(2, 10, "a2"), _update(3, 20, "b1"), _update(4, 10, "a3")])
    handled = Recorder(sessions)
    asyncio.run(InboxWorker(sessions, handled).drain())
    starts = [u for kind, u in handled.events if kind == "start"]
    assert sorted(starts) == [1, 2, 3, 4]
    # Chat 10's updates one after another, in order...
    chat_a = [(kind, u) for kind, u in handled.events if u in (1, 2, 4)]
    assert chat_a == [("start", 1), ("end", 1), ("start", 2), ("end", 2), ("start", 4), ("end", 4)]
    # ...while chat 20's ran beside the first of them.
    assert handled.events.index(("start", 3)) < handled.events.index(("end", 1))


def test_crisis_words_go_ahead_of_their_chat_and_are_handled_once(sessions):
    crisis_net.warm_up()  # trained first, as the bot does before it polls

    async def scenario():
        handled = Recorder(sessions, seconds={1: 0.5})
        worker = InboxWorker(sessions, handled)
        stop = asyncio.Event()
        _store(sessions, [_update(1, 10, "hello there")])
        working = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.1)  # update 1 is in hand, slowly
        crisis = _update(2, 10, "i want to kill myself")
        ordinary = _update(3, 10, "see you tuesday")
        _store(sessions, [crisis, ordinary])
        await worker.triage([crisis, ordinary])
        worker.wake()
        await asyncio.sleep(0.9)
        stop.set()
        await working
        return handled

    handled = asyncio.run(scenario())
    starts = [u for kind, u in handled.events if kind == "start"]
    assert starts == [1, 2, 3]  # each once; 2 did not wait for 1 to finish
    assert handled.events.index(("start", 2)) < handled.events.index(("end", 1))
    assert handled.events.index(("start", 3)) > handled.events.index(("end", 2))  # 3 kept its turn
    assert handled.assessments[2].level == "clear"
    assert handled.assessments[3] is None  # read once, at triage, not again
    assert handled.assessments[1] is UNASSESSED


def test_what_an_update_carries_for_the_net():
    assert words_of(_update(1, 10, "hello")) == "hello"
    command = _update(2, 10, "/pause 3")
    command["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
    assert words_of(command) is None
    assert words_of({"update_id": 3, "edited_message": {"chat": {"id": 5}, "caption": "x y"}}) == "x y"
    assert words_of({"update_id": 4, "callback_query": {"data": "/greet"}}) is None
    press = {"update_id": 5, "callback_query": {"from": {"id": 7}, "message": {"chat": {"id": 7}}}}
    assert chat_of(press) == 7 and chat_of(_update(6, 11, "x")) == 11


def test_an_update_that_finishes_while_the_queue_is_read_is_not_handled_again(sessions):
    # Many short updates, few at a time: some finish while the next batch is being read.
    _store(sessions, [_update(i, 1000 + i, f"m{i}") for i in range(1, 61)])
    handled = Recorder(sessions, seconds={i: 0.001 * (i % 7) for i in range(1, 61)})
    asyncio.run(InboxWorker(sessions, handled, concurrency=3).drain())
    starts = [u for kind, u in handled.events if kind == "start"]
    assert sorted(starts) == list(range(1, 61))  # each exactly once


def test_an_update_held_back_keeps_its_place_in_its_chat(sessions):
    """A database failure holds an update back; the chat's later ones wait for it."""
    _store(sessions, [_update(1, 10, "first"), _update(2, 10, "second"), _update(3, 20, "other chat")])
    failed_once: set[int] = set()

    class FailsOnce(Recorder):
        async def __call__(self, update_id, payload, attempts, assessment):
            if update_id == 1 and not failed_once:
                failed_once.add(update_id)
                self.events.append(("held", update_id))
                return Outcome.HOLD
            return await super().__call__(update_id, payload, attempts, assessment)

    handled = FailsOnce(sessions)

    async def scenario():
        worker = InboxWorker(sessions, handled)
        stop = asyncio.Event()
        working = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(3.5)  # held for a second, then due at the next look (every 2 s)
        stop.set()
        await working

    asyncio.run(scenario())
    order = [u for kind, u in handled.events if kind == "start"]
    assert order.index(1) < order.index(2)  # the second waited for the first
    assert handled.events[0] == ("held", 1) and order[0] == 3  # the other chat didn't wait
    with sessions() as session:
        assert [u for u, _, _ in inbox.due(session=session)] == []  # all done, once each
    assert sorted(order) == [1, 2, 3]

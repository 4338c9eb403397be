"""Pacing and retrying sends (bot/pacing.py) against the strict loopback Bot API server.

The server enforces Telegram's flood limits itself (token buckets per chat and overall,
answering 429 with retry_after), so "zero 429s" below is the server's verdict, not ours.
Rates are scaled up where the rate is not what a test is about, to keep the tests quick.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

from bot.pacing import Pacer
from bot.telegram_channel import build_bot
from bot.telegram_sender import TelegramSender
from messaging.rendering import Button, Reply
from tests.support.botapi_server import FakeBotApi

TOKEN = "123456789:AAtest-token-for-the-loopback-server0"
NO_LIMIT = {"per_chat_rate": 0, "global_rate": 0}


def _pacer(**limits) -> Pacer:
    """A pacer that is fast in every respect a test doesn't set."""
    settings = {
        "global_rate": 1000.0,
        "global_burst": 50,
        "chat_rate": 1000.0,
        "chat_burst": 50,
        "network_backoff": 0.05,
    }
    return Pacer(**(settings | limits))


@contextlib.contextmanager
def _server(chats, **limits) -> Iterator[FakeBotApi]:
    with FakeBotApi(TOKEN, **limits) as api:
        for chat in chats:
            api.send_text(chat, "hi")  # a bot can only write to someone who wrote first
        yield api


@contextlib.asynccontextmanager
async def _sender(api: FakeBotApi, pacer: Pacer):
    bot = build_bot(TOKEN, api.base_url, pacer=pacer)
    async with bot:
        # Sending needs neither the conversation nor the database.
        yield TelegramSender(bot)


# Requests the bot may have open at once (bot/telegram_channel.py build_bot's pool).
IN_FLIGHT = 16


def _send_order(api: FakeBotApi) -> list[tuple[int, str]]:
    return [(int(p["chat_id"]), p["text"]) for p in api.calls_of("sendMessage")]


def test_one_chat_is_spaced_by_the_per_chat_limit():
    # Slow enough that a machine busy with other tests can't blur a burst into the spacing.
    chat, rate, burst = 5001, 2.5, 3
    # The server allows a burst of 5 at this rate in a chat; the pacer keeps to 3.
    with _server([chat], per_chat_rate=rate, per_chat_burst=5, global_rate=0) as api:

        async def main():
            async with _sender(api, _pacer(chat_rate=rate, chat_burst=burst)) as sender:
                done: list[float] = []

                async def one(i: int) -> str:
                    outcome = await sender.send_checked(chat, [Reply(f"m{i}")])
                    done.append(time.monotonic())
                    return outcome

                start = time.monotonic()
                outcomes = await asyncio.gather(*(one(i) for i in range(20)))
                return outcomes, [t - start for t in done]

        outcomes, done = asyncio.run(main())
        assert outcomes == ["delivered"] * 20
        assert api.count_429() == 0
        assert [m["text"] for m in api.sent(chat)] == [f"m{i}" for i in range(20)]  # in order
        # A three-part reply isn't held back: its three go closer together than one spacing
        # (measured between them, not from the start, which a busy machine can delay)...
        assert done[burst - 1] - done[0] < 1 / rate
        # ...but no stretch of time holds more than the burst plus the rate allows...
        for i in range(20):
            for j in range(i + 1, 20):
                assert j - i + 1 <= burst + rate * (done[j] - done[i]) + 0.5
        # ...so the twenty take (20 - burst) / rate.
        assert done[-1] >= 0.95 * (20 - burst) / rate


def test_many_chats_go_at_the_overall_rate_and_take_turns():
    chats, rate = list(range(7001, 7051)), 100.0
    with _server(chats, per_chat_rate=1, per_chat_burst=5, global_rate=rate, global_burst=10) as api:

        async def main():
            pacer = _pacer(global_rate=rate, global_burst=2, chat_rate=1.0, chat_burst=3)
            async with _sender(api, pacer) as sender:
                start = time.monotonic()
                # Chat by chat, three each: a plain FIFO would send each chat's three together.
                outcomes = await asyncio.gather(
                    *(sender.send_checked(c, [Reply(f"{c}-{k}")]) for c in chats for k in range(3))
                )
                return outcomes, time.monotonic() - start

        outcomes, seconds = asyncio.run(main())
        assert outcomes == ["delivered"] * 150
        assert api.count_429() == 0
        # Never faster than the overall cap (how close it gets is bench_send's figure: on a
        # busy 2-core machine a lower bound here only measures the machine).
        assert 150 / seconds <= 1.05 * rate + 2
        # Taking turns: every chat has had its first message before any chat has its third,
        # and between two messages to one chat, at least half the other chats had one (a plain
        # FIFO would send each chat's three together). The order is the server's: requests in
        # flight together (up to the bot's connection pool) may reach it in either order.
        position = {text: i for i, (_, text) in enumerate(_send_order(api))}
        assert max(position[f"{c}-0"] for c in chats) < min(position[f"{c}-2"] for c in chats) + IN_FLIGHT
        for c in chats:
            assert position[f"{c}-1"] - position[f"{c}-0"] >= len(chats) // 2 - IN_FLIGHT
            assert position[f"{c}-2"] - position[f"{c}-1"] >= len(chats) // 2 - IN_FLIGHT
        assert all(len(api.sent(c)) == 3 for c in chats)


def test_a_429_delays_that_chat_only_and_it_arrives_once():
    slow, others = 8000, list(range(8001, 8005))  # few: the server's listen backlog is 5
    with _server([slow, *others], **NO_LIMIT) as api:
        api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})

        async def main():
            pacer = _pacer()
            async with _sender(api, pacer) as sender:
                slow_send = asyncio.create_task(sender.send_checked(slow, [Reply("for the slow chat")]))
                # Halved for a while, in case it was the overall limit: the 429 has been seen.
                while pacer.overall_rate() == 1000.0:
                    await asyncio.sleep(0.005)
                flooded_at = time.monotonic()
                assert pacer.overall_rate() == 500.0
                others_sent = await asyncio.gather(
                    *(sender.send_checked(c, [Reply("a"), Reply("b"), Reply("c")]) for c in others)
                )
                others_took = time.monotonic() - flooded_at
                assert not slow_send.done()
                outcome = await slow_send
                return outcome, time.monotonic() - flooded_at, others_sent, others_took

        outcome, slow_took, others_sent, others_took = asyncio.run(main())
        assert api.errors == [("sendMessage", 429, "Too Many Requests: retry after 1")]
        assert outcome == "delivered" and slow_took >= 1.0
        assert [m["text"] for m in api.sent(slow)] == ["for the slow chat"]  # once
        assert len([p for p in api.calls_of("sendMessage") if p["chat_id"] == str(slow)]) == 2
        # Not held up by the slow chat's second: done while it still waited (asserted above).
        assert others_sent == ["delivered"] * len(others) and others_took < 0.5
        assert all(len(api.sent(c)) == 3 for c in others)


def test_a_retry_after_beyond_the_cap_fails_at_once():
    chat = 8100
    with _server([chat], **NO_LIMIT) as api:
        api.fail_next("sendMessage", 429, "Too Many Requests: retry after 90", parameters={"retry_after": 90})

        async def main():
            async with _sender(api, _pacer(max_retry_after=30)) as sender:
                return await sender.send_checked(chat, [Reply("x")])

        assert asyncio.run(main()) == "failed"
        assert len(api.calls_of("sendMessage")) == 1 and api.sent(chat) == []


def test_a_blocked_patient_is_unreachable_and_not_retried():
    chat = 9001
    with _server([chat], **NO_LIMIT) as api:
        api.block(chat)

        async def main():
            async with _sender(api, _pacer()) as sender:
                checked = await sender.send_checked(chat, [Reply("one"), Reply("two")])
                return checked, await sender.send(chat, [Reply("three")])

        assert asyncio.run(main()) == ("unreachable", False)
        assert len(api.calls_of("sendMessage")) == 2  # one try per send; "two" never tried
        assert api.errors == [("sendMessage", 403, "Forbidden: bot was blocked by the user")] * 2


def test_a_bad_request_is_not_retried():
    with _server([], **NO_LIMIT) as api:

        async def main():
            async with _sender(api, _pacer()) as sender:
                return await sender.send_checked(424242, [Reply("to nobody")])  # never wrote

        assert asyncio.run(main()) == "failed"
        assert api.errors == [("sendMessage", 400, "Bad Request: chat not found")]


def test_a_network_error_is_retried_and_delivered_once():
    chat = 9101
    with _server([chat], **NO_LIMIT) as api:
        api.fail_next("sendMessage", 502, "Bad Gateway")
        api.fail_next("sendMessage", 500, "Internal Server Error")

        async def main():
            async with _sender(api, _pacer()) as sender:
                return await sender.send_checked(chat, [Reply("after the outage")])

        assert asyncio.run(main()) == "delivered"
        assert len(api.calls_of("sendMessage")) == 3
        assert [m["text"] for m in api.sent(chat)] == ["after the outage"]


def test_network_retries_are_bounded():
    chat = 9102
    with _server([chat], **NO_LIMIT) as api:
        api.fail_next("sendMessage", 502, "Bad Gateway", times=100)

        async def main():
            async with _sender(api, _pacer(network_retries=2)) as sender:
                return await sender.send_checked(chat, [Reply("x")])

        assert asyncio.run(main()) == "failed"
        assert len(api.calls_of("sendMessage")) == 3  # the first try and two retries


def test_a_refused_connection_is_retried_then_failed():
    chat = 9103
    with _server([chat], **NO_LIMIT) as api:

        async def main():
            async with _sender(api, _pacer(network_retries=2, network_backoff=0.2)) as sender:
                api.stop()  # Telegram out of reach: the connection is refused
                start = time.monotonic()
                outcome = await sender.send_checked(chat, [Reply("x")])
                return outcome, time.monotonic() - start

        outcome, seconds = asyncio.run(main())
        assert outcome == "failed"
        assert seconds >= 0.8 * (0.2 + 0.4)  # backed off twice before giving up


def test_silent_and_protected():
    chat = 9201
    with _server([chat], **NO_LIMIT) as api:

        async def main():
            async with _sender(api, _pacer()) as sender:
                quiet = [Reply("quiet", (Button("Done", "/done"),))]
                assert await sender.send_checked(chat, quiet, silent=True) == "delivered"
                assert await sender.send(chat, [Reply("loud")]) is True

        asyncio.run(main())
        quiet, loud = api.sent(chat)
        assert quiet["disable_notification"] is True and loud["disable_notification"] is False
        calls = api.calls_of("sendMessage")
        assert [c["disable_notification"] for c in calls] == ["true", "false"]
        assert all(c["protect_content"] == "true" for c in calls)
        assert quiet["protect_content"] and loud["protect_content"]


def test_a_reply_goes_ahead_of_bulk_nudges():
    bulk_chats, patient, rate = list(range(9301, 9321)), 9300, 20.0
    with _server([patient, *bulk_chats], **NO_LIMIT) as api:

        async def main():
            async with _sender(api, _pacer(global_rate=rate, global_burst=1)) as sender:
                nudges = [
                    asyncio.create_task(sender.send_checked(c, [Reply("nudge")], bulk=True))
                    for c in bulk_chats
                ]
                await asyncio.sleep(0.12)  # a few nudges are out, most are queued
                start = time.monotonic()
                assert await sender.send_checked(patient, [Reply("your reply")]) == "delivered"
                took = time.monotonic() - start
                await asyncio.gather(*nudges)
                return took

        took = asyncio.run(main())
        assert took < 2.5 / rate
        order = [c for c, _ in _send_order(api)]
        assert order.index(patient) <= 5


def test_idle_chats_are_forgotten():
    chats = list(range(9401, 9441))
    with _server(chats, **NO_LIMIT) as api:

        async def main():
            pacer = _pacer(chat_rate=200.0, chat_burst=1)  # full again 5 ms after a send
            async with _sender(api, pacer) as sender:
                for c in chats:
                    await sender.send_checked(c, [Reply("x")])
                return pacer.tracked_chats()

        assert asyncio.run(main()) <= 5


def test_shutting_down_fails_what_is_still_waiting():
    chats = list(range(9601, 9611))
    with _server(chats, **NO_LIMIT) as api:

        async def main():
            bot = build_bot(TOKEN, api.base_url, pacer=_pacer(global_rate=5.0, global_burst=1))
            async with bot:
                sender = TelegramSender(bot)
                sends = [asyncio.create_task(sender.send_checked(c, [Reply("x")])) for c in chats]
                await asyncio.sleep(0.1)  # one is out; the others wait for their turn
            return await asyncio.wait_for(asyncio.gather(*sends), 2)  # none left hanging

        outcomes = asyncio.run(main())
        assert outcomes == ["delivered"] + ["failed"] * 9
        assert sum(len(api.sent(c)) for c in chats) == 1


def test_before_send_runs_once_when_the_send_has_its_turn_not_while_it_waits():
    """The scheduler marks a nudge "sending" in this hook: it must not fire while queued."""

    async def scenario():
        pacer = _pacer(chat_rate=4.0, chat_burst=1)
        pacer.open()
        loop = asyncio.get_running_loop()
        marks: list[tuple[str, float]] = []

        async def send(name):
            async def hook():
                marks.append((f"{name}:hook", loop.time()))

            async def call():
                marks.append((f"{name}:sent", loop.time()))

            await pacer.run(7, call, before_send=hook)

        start = loop.time()
        await asyncio.gather(send("a"), send("b"), send("c"))
        await pacer.aclose()
        return [(name, at - start) for name, at in marks]

    marks = asyncio.run(scenario())
    assert [name for name, _ in marks] == ["a:hook", "a:sent", "b:hook", "b:sent", "c:hook", "c:sent"]
    # c waited about two turns (4/s, burst 1) and its hook ran only when the turn came.
    assert dict(marks)["c:hook"] >= 0.4

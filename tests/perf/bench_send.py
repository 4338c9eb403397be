"""A nudge burst through the real sending path, against Telegram's real flood limits.

    .venv/bin/python -m tests.perf.bench_send [--messages 10000] [--chats 10000]

Starts the loopback Bot API server with Telegram's limits (30 messages/s overall, 1/s per
chat with its small burst), has every chat write to the bot first (a bot may only write to
someone who did), then hands all the messages to TelegramChannel.send_checked at once, as
the scheduler does when many nudges fall due together. Prints the figures and writes them
to tests/perf/results/send_rate.json: achieved rate against the 30/s cap, 429s the server
answered, duplicates (one text twice in a chat) and losses (expected minus received).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections import Counter
from pathlib import Path

from bot.pacing import Pacer
from bot.telegram_channel import build_bot
from bot.telegram_sender import TelegramSender
from messaging.rendering import Reply
from tests.support.botapi_server import FakeBotApi

TOKEN = "123456789:AAbench-token-for-the-loopback-server"
CAP = 30.0  # Telegram: about 30 messages a second overall
RESULTS = Path(__file__).parent / "results" / "send_rate.json"
FIRST_CHAT = 10_000_001


async def _send_all(api: FakeBotApi, messages: int, chats: int) -> tuple[float, Counter[str], int]:
    pacer = Pacer()  # the production defaults
    bot = build_bot(TOKEN, api.base_url, pacer=pacer)
    async with bot:
        sender = TelegramSender(bot)  # sending alone: no chat log
        start = time.monotonic()
        outcomes = await asyncio.gather(
            *(
                sender.send_checked(FIRST_CHAT + i % chats, [Reply(f"nudge #{i}")], bulk=True)
                for i in range(messages)
            )
        )
        seconds = time.monotonic() - start
        return seconds, Counter(outcomes), pacer.tracked_chats()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--chats", type=int, default=10_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    # Telegram's limits, as the server models them: 30/s overall, 1/s per chat, burst 5.
    with FakeBotApi(TOKEN, global_rate=CAP, global_burst=30, per_chat_rate=1.0, per_chat_burst=5) as api:
        for i in range(args.chats):
            api.send_text(FIRST_CHAT + i, "/start")
        seconds, outcomes, tracked = asyncio.run(_send_all(api, args.messages, args.chats))

        expected: Counter[tuple[int, str]] = Counter(
            (FIRST_CHAT + i % args.chats, f"nudge #{i}") for i in range(args.messages)
        )
        received: Counter[tuple[int, str]] = Counter()
        for i in range(args.chats):
            for message in api.sent(FIRST_CHAT + i):
                received[(FIRST_CHAT + i, message["text"])] += 1
        duplicates = sum(n - 1 for n in received.values() if n > 1)
        losses = sum((expected - received).values())
        result = {
            "messages": args.messages,
            "chats": args.chats,
            "seconds": round(seconds, 2),
            "messages_per_second": round(args.messages / seconds, 2),
            "cap_per_second": CAP,
            "of_cap": round(args.messages / seconds / CAP, 3),
            "http_429": api.count_429(),
            "api_errors": len(api.errors),
            "duplicates": duplicates,
            "losses": losses,
            "outcomes": dict(outcomes),
            "chats_tracked_at_end": tracked,
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {RESULTS}")
    return result


if __name__ == "__main__":
    main()

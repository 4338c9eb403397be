"""A scheduler process for the dispatch benchmark: the production NudgeScheduler and sending
path (pacer, Bot API), with no polling. Exits once every due nudge is settled; the benchmark
may kill it first (SIGKILL) to test restarts.

    .venv/bin/python -m tests.perf.dispatch_worker DB_URL BOT_API_URL RASA_URL
"""

from __future__ import annotations

import asyncio
import logging
import sys

from sqlalchemy import func, select

from bot.chat_log import ChatLog
from bot.chat_probe import ChatProbe
from bot.telegram_channel import build_bot
from bot.telegram_sender import TelegramSender
from data.db import make_engine, make_sessionmaker
from data.models import NudgeLog, ScheduleChange
from messaging.rasa_client import RasaClient
from scheduler.jobs import Runtime
from scheduler.service import NudgeScheduler

TOKEN = "123456789:AAbench-token-for-the-loopback-server"
UNSETTLED = ("pending", "sending", "failed")


def _unsettled(sessions) -> int:
    with sessions() as session:
        waiting = session.scalar(
            select(func.count(ScheduleChange.id)).where(
                ScheduleChange.kind == "once", ScheduleChange.applied_at.is_(None)
            )
        )
        open_logs = session.scalar(select(func.count(NudgeLog.id)).where(NudgeLog.status.in_(UNSETTLED)))
        return (waiting or 0) + (open_logs or 0)


LOOP_STALL: list[float] = [0.0]


async def _watch_the_loop() -> None:
    """How long the event loop (where the bot answers patients) is ever kept busy."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(0.01)
        LOOP_STALL[0] = max(LOOP_STALL[0], loop.time() - before - 0.01)


async def run(db_url: str, api_url: str, rasa_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    rasa = RasaClient(rasa_url, "stub-token", timeout=30)
    bot = build_bot(TOKEN, api_url)
    async with bot:
        scheduler = NudgeScheduler(
            engine=engine,
            sessions=sessions,
            runtime=Runtime(
                sessions, rasa, TelegramSender(bot, ChatLog(sessions)).deliver, probe=ChatProbe(bot).find_sent
            ),
            reconcile_seconds=5,
            lease_seconds=6,
        )
        stalls = asyncio.create_task(_watch_the_loop())
        await scheduler.start()
        while scheduler.owns_job_store is False or await asyncio.to_thread(_unsettled, sessions):
            await asyncio.sleep(1)
        await scheduler.stop()
        stalls.cancel()
    await rasa.aclose()
    engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s worker %(levelname)s %(message)s")
    asyncio.run(run(*sys.argv[1:4]))
    print(f"LOOP_STALL_MS {LOOP_STALL[0] * 1000:.0f}", flush=True)

"""Starting the bot process: Telegram polling (or the terminal chat) and the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Callable

from bot import crisis
from bot.chat_eraser import ChatEraser
from bot.chat_log import ChatLog
from bot.chat_probe import ChatProbe
from bot.conversation import Conversation
from bot.erasures import ClearChat
from bot.telegram_channel import TelegramChannel, build_bot
from bot.telegram_sender import TelegramSender
from bot.terminal_chat import chat
from bot.therapist_desk import TherapistDesk
from data.db import make_engine, make_sessionmaker
from data.library import require_valid
from data.settings import Settings
from messaging.delivery import Delivery, Outgoing
from messaging.rasa_client import RasaClient
from messaging.rendering import terminal_text
from scheduler.jobs import Runtime
from scheduler.service import NudgeScheduler

log = logging.getLogger(__name__)


async def run(settings: Settings, *, terminal_patient: str | None = None) -> None:
    require_valid()  # a broken task library stops the bot and scheduler before they start
    # The crisis net's learned half trains on first use (seconds; half a minute more the
    # first time, to embed its training messages): do it now, off the event loop, so the
    # first patient's message is not the one that waits.
    await asyncio.to_thread(crisis.warm_up)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    token = settings.rasa_token.get_secret_value() if settings.rasa_token else None
    rasa = RasaClient(settings.rasa_url, token, timeout=settings.rasa_timeout_seconds)

    def conversation_with(
        clear_chat: ClearChat | None, bot_username: Callable[[], str | None] = lambda: None
    ) -> Conversation:
        """`clear_chat`: how /forget deletes in the patient's chat (Telegram only);
        `bot_username`: the bot's @name, for the invite links therapists share."""
        desk = TherapistDesk(
            sessions=sessions, invite_ttl_days=settings.invite_ttl_days, bot_username=bot_username
        )
        return Conversation(
            sessions=sessions,
            rasa=rasa,
            invite_ttl_days=settings.invite_ttl_days,
            rasa_tracker_url=settings.rasa_tracker_url,
            flood_limit=settings.flood_messages_per_minute,
            retention_days=settings.retention_days,
            clear_chat=clear_chat,
            desk=desk,
        )

    stop = asyncio.Event()
    if settings.telegram_bot_token is not None:
        # Polling stops cleanly between requests; the terminal chat just ends on Ctrl-C.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass

    def scheduler_with(deliver, probe=None) -> NudgeScheduler:
        return NudgeScheduler(
            engine=engine,
            sessions=sessions,
            runtime=Runtime(
                sessions=sessions,
                rasa=rasa,
                deliver=deliver,
                probe=probe,
                crisis_quiet=dt.timedelta(hours=settings.crisis_nudge_pause_hours),
            ),
            reconcile_seconds=settings.nudge_reconcile_seconds,
            misfire_grace_seconds=settings.nudge_grace_minutes * 60,
            retention_days=settings.retention_days,
            rasa_tracker_url=settings.rasa_tracker_url,
        )

    scheduler = None
    erasing = None
    try:
        if settings.telegram_bot_token is None:
            if terminal_patient is None:
                raise SystemExit("No TELEGRAM_BOT_TOKEN: use `coach chat` for the terminal chat.")

            async def to_terminal(outgoing: Outgoing) -> Delivery:
                if outgoing.patient_id != terminal_patient:
                    return "failed"
                if outgoing.before_send is not None:
                    await outgoing.before_send()
                for reply in outgoing.replies:
                    print(f"\ncoach (nudge)> {terminal_text(reply)}", flush=True)
                return "delivered"

            conversation = conversation_with(clear_chat=None)
            scheduler = scheduler_with(to_terminal)
            await scheduler.start()
            erasing = asyncio.create_task(conversation.erasures.run(stop))
            await chat(conversation, terminal_patient, stop)
            return
        bot = build_bot(settings.telegram_bot_token.get_secret_value(), settings.telegram_api_base_url)
        async with bot:
            log.info("bot started as @%s", bot.username)
            # The parts that talk to Telegram first, then what they are given to.
            sender = TelegramSender(bot, ChatLog(sessions))
            conversation = conversation_with(
                clear_chat=ChatEraser(bot).delete_messages, bot_username=lambda: bot.username
            )
            channel = TelegramChannel(bot, conversation, sessions, sender=sender)

            scheduler = scheduler_with(sender.deliver, ChatProbe(bot).find_sent)
            await scheduler.start()
            # What a /forget left to clear (a crash, a tracker store or Telegram failing):
            # now, then every minute. Here, as only this process can delete in the chat.
            erasing = asyncio.create_task(conversation.erasures.run(stop))
            await channel.run(stop)
            stop.set()
            await erasing  # before the bot closes: it may be asking Telegram to delete
    finally:
        stop.set()
        if erasing is not None and not erasing.done():
            erasing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await erasing
        if scheduler is not None:
            await scheduler.stop()
        await rasa.aclose()
        engine.dispose()
        log.info("bot stopped")

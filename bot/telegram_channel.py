"""Telegram: the bot, and one router for every kind of update.

Updates arrive through the durable inbox (bot/telegram_polling.py stores each batch
before confirming it; bot/inbox_worker.py hands them to `handle`, chats side by side,
retrying with back-off when Rasa is down). Replies go out through
bot/telegram_sender.py; deleting in a chat (bot/chat_eraser.py) and looking for a
message after a crash (bot/chat_probe.py) are parts of their own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from telegram import Update
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.chat_log import ChatLog
from bot.conversation import Conversation, RetryLater, Sender
from bot.inbox_worker import UNASSESSED, InboxWorker, Outcome
from bot.pacing import PacedRateLimiter, Pacer
from bot.telegram_polling import POLL_TIMEOUT, TelegramPolling
from bot.telegram_sender import TelegramSender
from data.db import is_transient
from data.wording import CRISIS_NUMBERS, parse_risk_answer, say
from messaging.rendering import Button, Reply

log = logging.getLogger(__name__)


def build_bot(token: str, api_base_url: str, *, pacer: Pacer | None = None) -> ExtBot:
    """The bot, with every call that posts into a chat paced (bot/pacing.py).

    The pacer replaces PTB's AIORateLimiter, whose answer to a 429 is to pause every request
    of the bot: here only the chat that got it waits, and the overall rate eases off.
    """
    return ExtBot(
        token,
        base_url=f"{api_base_url}/bot",
        base_file_url=f"{api_base_url}/file/bot",
        request=HTTPXRequest(connection_pool_size=16),
        # Long polling holds the request open for POLL_TIMEOUT seconds.
        get_updates_request=HTTPXRequest(read_timeout=POLL_TIMEOUT + 15),
        rate_limiter=PacedRateLimiter(pacer),
    )


class TelegramChannel:
    def __init__(
        self,
        bot: ExtBot,
        conversation: Conversation,
        sessions: sessionmaker[Session],
        *,
        sender: TelegramSender | None = None,
    ):
        """`sender`: how replies go out (one with a chat log of `sessions` if not given)."""
        self.bot = bot
        self._conversation = conversation
        self._sessions = sessions
        self._chat_log = ChatLog(sessions)  # the patient's own messages, noted as they come
        self.sender = sender or TelegramSender(bot, self._chat_log)

    # --- polling: bot/telegram_polling.py ----------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop`, the inbox worker handing each stored update to `handle`."""
        worker = InboxWorker(self._sessions, self._process_one, gave_up=self._gave_up)
        await TelegramPolling(self.bot, self._sessions, worker).run(stop)

    async def _process_one(
        self, update_id: int, payload: dict[str, Any], attempts: int, assessment: Any = UNASSESSED
    ) -> Outcome:
        """Handle one stored update and say what became of it (the worker writes it down)."""
        try:
            update = Update.de_json(payload, self.bot)
            await self.handle(update, first_attempt=attempts == 0, assessment=assessment)
        except RetryLater:
            log.warning("update %s deferred: Rasa is not answering", update_id)
            return Outcome.RETRY
        except Exception as exc:
            if is_transient(exc):
                log.warning("update %s held back: the database failed (%s)", update_id, type(exc).__name__)
                return Outcome.HOLD
            # A fault of ours that would fail the same way again: answered with an apology.
            log.exception("update %s failed", update_id)
        return Outcome.DONE

    async def _gave_up(self, payload: dict[str, Any]) -> None:
        """The retries ran out: say so plainly, as a reply to the message itself."""
        update = Update.de_json(payload, self.bot)
        chat, message = update.effective_chat, update.effective_message
        if chat is None or chat.type != ChatType.PRIVATE:
            return
        reply_to = message.message_id if message is not None else None
        text, buttons = say("gave_up"), (Button(say("crisis_numbers_button"), CRISIS_NUMBERS),)
        await self.sender.send(chat.id, [Reply(text, buttons, reply_to=reply_to)])

    # --- routing: every kind of update, in one place ----------------------------------

    async def handle(self, update: Update, first_attempt: bool = True, assessment: Any = UNASSESSED) -> None:
        """`assessment`: what the crisis net found in the update's words, if it read them already."""
        key = f"tg{update.update_id}"
        chat = update.effective_chat
        user = update.effective_user
        # Bridgework is one-to-one: groups and channels never see therapy talk.
        if chat is None or user is None or chat.type != ChatType.PRIVATE or user.is_bot:
            return
        sender = Sender(telegram_user_id=user.id, chat_id=chat.id)
        flagged = assessment is not UNASSESSED and assessment is not None
        assessed = {} if assessment is UNASSESSED else {"assessment": assessment}

        try:
            if update.callback_query is not None:
                data = update.callback_query.data or ""
                # An answer to the crisis question may lead to the crisis response: its lane.
                flagged = parse_risk_answer(data) is not None
                replies = await self._on_callback(update, sender, key)
            elif update.edited_message is not None:
                edited = update.edited_message.text or update.edited_message.caption or ""
                replies = await self._conversation.on_edit(sender, edited, key, **assessed)
            elif update.message is None:
                return  # membership changes are ignored by design
            elif update.message.text is not None:
                replies = await self._on_message_text(update.message.text, update, sender, key, assessed)
            elif update.message.caption:
                # A photo or file with words: the words are read, the file is not kept.
                replies = await self._conversation.on_text(sender, update.message.caption, key, **assessed)
            else:
                replies = await self._conversation.on_other(sender)
            if update.message is not None:
                await self._chat_log.note(chat.id, [update.message.message_id], from_bot=False)
        except RetryLater as deferred:
            if first_attempt:
                await self.sender.send(chat.id, deferred.replies)
            raise
        except Exception as exc:
            if not is_transient(exc):
                await self.sender.send(chat.id, [Reply(say("error"))])
            elif first_attempt:  # kept and tried again: the patient hears so once
                await self.sender.send(chat.id, [Reply(say("unavailable"))])
            raise
        await self.sender.send(chat.id, replies, crisis=flagged)

    async def _on_callback(self, update: Update, sender: Sender, key: str) -> list[Reply]:
        query = update.callback_query
        assert query is not None
        try:
            await query.answer()
            # One press per keyboard: the buttons go once used.
            if query.message is not None:
                await query.edit_message_reply_markup(reply_markup=None)
        except BadRequest as exc:
            log.info("callback housekeeping failed: %s", exc.message)
        return await self._conversation.on_button(sender, query.data or "", key)

    async def _on_message_text(
        self, text: str, update: Update, sender: Sender, key: str, assessed: dict[str, Any]
    ) -> list[Reply]:
        message = update.message
        assert message is not None
        if text.startswith("/") and message.entities and message.entities[0].type == "bot_command":
            command, _, argument = text[1:].partition(" ")
            command = command.split("@", 1)[0].lower()
            return await self._conversation.on_command(sender, command, argument.strip(), key)
        return await self._conversation.on_text(sender, text, key, **assessed)

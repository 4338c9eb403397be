"""Sending to Telegram: replies, nudges and alerts, paced and retried (bot/pacing.py), each
message's id kept in the chat log, and what became of them said plainly."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial

from telegram import InputFile, ReplyParameters
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ExtBot

from bot.chat_log import ChatLog
from bot.pacing import Paced
from data import chat_messages
from messaging.delivery import Delivery, Outgoing
from messaging.rendering import Reply, split_text, telegram_markup

log = logging.getLogger(__name__)


class TelegramSender:
    def __init__(self, bot: ExtBot, chat_log: ChatLog | None = None):
        """Without a `chat_log` no message id is kept (the pacing tests and benchmarks)."""
        self.bot = bot
        self._chat_log = chat_log

    async def send(
        self, chat_id: int, replies: list[Reply], *, silent: bool = False, crisis: bool = False
    ) -> bool:
        """Send the replies in order; True when all were delivered (see send_checked).
        `crisis`: they answer crisis language, and go ahead of every other message."""
        return await self.send_checked(chat_id, replies, silent=silent, crisis=crisis) == "delivered"

    async def deliver(self, outgoing: Outgoing) -> Delivery:
        """A nudge or an alert (the scheduler's Deliver): queued behind replies to patients
        who are talking to the bot right now."""
        return await self.send_checked(
            outgoing.chat_id,
            outgoing.replies,
            silent=outgoing.silent,
            bulk=True,
            before_send=outgoing.before_send,
        )

    async def send_checked(
        self,
        chat_id: int,
        replies: list[Reply],
        *,
        silent: bool = False,
        bulk: bool = False,
        before_send: Callable[..., Awaitable[None]] | None = None,
        crisis: bool = False,
    ) -> Delivery:
        """Send the replies in order, paced and retried (bot/pacing.py), and say what became of them.

        "unreachable": the patient blocked the bot (stop nudging). "failed": retries ran out,
        or Telegram refused every part; parts sent before a failure stay sent. `silent` sends
        without a sound; `bulk` (nudges) queues behind replies to patients who just wrote;
        `before_send` runs once, when the first part has its turn and is about to leave, and
        is given that part's buttons as Telegram will hold them (see bot/chat_probe.py).
        Once a part has arrived the result is "delivered": what may have arrived is never
        worth sending twice.
        """
        sent: list[tuple[int, str]] = []  # (message id, digest of its buttons)
        try:
            return await self._send_all(chat_id, replies, silent, bulk, before_send, sent, crisis)
        finally:
            if self._chat_log is not None:
                ids, digests = [m for m, _ in sent], [d for _, d in sent]
                await self._chat_log.note(chat_id, ids, from_bot=True, digests=digests)

    async def _send_all(
        self,
        chat_id: int,
        replies: list[Reply],
        silent: bool,
        bulk: bool,
        before_send: Callable[..., Awaitable[None]] | None,
        sent: list[tuple[int, str]],
        crisis: bool = False,
    ) -> Delivery:
        delivered = refused = 0
        for reply in replies:
            # A file goes as one message with the text as its caption.
            parts = [reply.text] if reply.document else split_text(reply.text)
            for i, part in enumerate(parts):
                markup = telegram_markup(reply) if i == len(parts) - 1 else None
                shown = markup.to_dict() if markup else None  # as Telegram will hold it
                reply_parameters = (
                    ReplyParameters(reply.reply_to, allow_sending_without_reply=True)
                    if reply.reply_to and i == 0  # only the first part answers; it may be deleted since
                    else None
                )
                paced = Paced(
                    bulk=bulk, crisis=crisis, before_send=before_send and partial(before_send, shown)
                )
                try:
                    if reply.document:
                        name, data = reply.document
                        message = await self.bot.send_document(
                            chat_id,
                            InputFile(data, filename=name),
                            caption=part,
                            reply_markup=markup,
                            reply_parameters=reply_parameters,
                            protect_content=True,
                            disable_notification=silent,
                            rate_limit_args=paced,
                        )
                    else:
                        message = await self.bot.send_message(
                            chat_id,
                            part,
                            reply_markup=markup,
                            reply_parameters=reply_parameters,
                            protect_content=True,
                            disable_notification=silent,
                            rate_limit_args=paced,
                        )
                    sent.append((message.message_id, chat_messages.digest(shown)))
                    before_send = None
                except Forbidden:
                    log.info("patient has blocked the bot; message not delivered")
                    return "unreachable"
                except BadRequest as exc:  # not worth retrying: the same message fails again
                    log.error("telegram refused a message: %s", exc.message)
                    refused += 1
                    continue
                except TelegramError as exc:  # RetryAfter, NetworkError, TimedOut: retried already
                    log.warning("message not delivered: %s: %s", type(exc).__name__, exc.message)
                    return "delivered" if delivered else "failed"
                delivered += 1
        return "failed" if refused and not delivered else "delivered"

"""Telegram: a durable polling loop, one router for every kind of update, sending.

python-telegram-bot's Updater confirms updates to Telegram as soon as it has
fetched them (the offset lives in memory), so a crash between fetching and
handling loses the patient's message. Here each batch is written to the inbox
first, and only then confirmed by asking for the next offset; the crisis net
reads it at once, and the inbox worker (bot/inbox_worker.py) hands updates to
`handle`, chats side by side, retrying with back-off when Rasa is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from telegram import InlineKeyboardMarkup, InputFile, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.conversation import Conversation, RetryLater, Sender
from bot.erasures import Deletion
from bot.inbox_worker import UNASSESSED, InboxWorker, Outcome
from bot.pacing import Paced, PacedRateLimiter, Pacer, retry_after_seconds
from data import chat_messages, inbox
from data.db import is_transient, run_in_thread
from data.wording import CRISIS_NUMBERS, parse_risk_answer, say
from messaging.delivery import Delivery, Outgoing
from messaging.rendering import Button, Reply, split_text, telegram_markup

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25
# Looking for a message cut short by a crash: how far past the last known id to look,
# and how many missing ids in a row mean nothing more was sent.
PROBE_SPAN = 12
PROBE_MISSING_IN_A_ROW = 3
# deleteMessages takes at most 100 ids.
DELETE_BATCH = 100
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "channel_post", "my_chat_member"]


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
        self, bot: ExtBot, conversation: Conversation | None, sessions: sessionmaker[Session] | None
    ):
        """`conversation` and `sessions` may be None for a channel that only sends and
        notes nothing (the pacing tests and benchmarks)."""
        self.bot = bot
        self._conversation = conversation
        self._sessions = sessions
        if conversation is not None:  # a channel may only send (the scheduler's own process)
            # /forget clears what Telegram still lets this channel delete.
            conversation.clear_chat = self.delete_messages

    # --- polling -----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        offset = await self._first_offset(stop)
        worker = InboxWorker(self._sessions, self._process_one, gave_up=self._gave_up)
        await worker.drain()  # what a previous run stored but never finished
        working = asyncio.create_task(worker.run(stop))
        backoff = 1.0
        try:
            while not stop.is_set():
                try:
                    updates = await self._poll(offset, stop)
                except Conflict:
                    log.error("another bot instance is polling with this token; waiting")
                    await _sleep_or_stop(stop, 30)
                    continue
                except (NetworkError, TelegramError) as exc:
                    log.warning("polling failed (%s); retrying in %.0fs", type(exc).__name__, backoff)
                    await _sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, 60)
                    continue
                if updates:
                    payloads = [u.to_dict() for u in updates]
                    started = time.monotonic()
                    try:
                        new = await run_in_thread(self._sessions, partial(_store, payloads=payloads))
                    except Exception as exc:
                        if not is_transient(exc):
                            raise
                        # Not stored, so not confirmed: Telegram sends the batch again.
                        backoff = await _wait_for_database(stop, exc, backoff)
                        continue
                    stored = time.monotonic()
                    # Stored durably: only now may the next request confirm them. One past the
                    # batch's highest id, not its last (an old update sent again may come last),
                    # and from this batch alone: after a week without updates Telegram may start
                    # its ids again lower, and an offset kept higher would refuse them all.
                    offset = max(u.update_id for u in updates) + 1
                    # Crisis language is answered now, not in its turn behind other patients.
                    await worker.triage([p for p in payloads if p["update_id"] in new])
                    worker.wake()
                    log.debug(
                        "%d updates: stored in %.0f ms, read by the crisis net in %.0f ms",
                        len(updates),
                        1000 * (stored - started),
                        1000 * (time.monotonic() - stored),
                    )
                backoff = 1.0
        finally:
            stop.set()
            await working

    async def _first_offset(self, stop: asyncio.Event) -> int | None:
        """Where polling starts: from the inbox, waiting for the database if it is down."""
        backoff = 1.0
        while True:
            try:
                return await run_in_thread(self._sessions, lambda s: inbox.next_offset(session=s))
            except Exception as exc:
                if not is_transient(exc) or stop.is_set():
                    raise
                backoff = await _wait_for_database(stop, exc, backoff)

    async def _poll(self, offset: int | None, stop: asyncio.Event) -> list[Update]:
        """One long poll, abandoned as soon as `stop` is set.

        Abandoning is safe: nothing is confirmed to Telegram until the next
        request carries a higher offset.
        """
        poll = asyncio.ensure_future(
            self.bot.get_updates(offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES)
        )
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({poll, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not poll.done():
            poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poll
            return []
        return poll.result()

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
        await self.send(chat.id, [Reply(text, buttons, reply_to=reply_to)])

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
                await self._note(chat.id, [update.message.message_id], from_bot=False)
        except RetryLater as deferred:
            if first_attempt:
                await self.send(chat.id, deferred.replies)
            raise
        except Exception as exc:
            if not is_transient(exc):
                await self.send(chat.id, [Reply(say("error"))])
            elif first_attempt:  # kept and tried again: the patient hears so once
                await self.send(chat.id, [Reply(say("unavailable"))])
            raise
        await self.send(chat.id, replies, crisis=flagged)

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

    # --- sending ----------------------------------------------------------------------

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
        is given that part's buttons as Telegram will hold them (see find_sent).
        Once a part has arrived the result is "delivered": what may have arrived is never
        worth sending twice.
        """
        sent: list[tuple[int, str]] = []  # (message id, digest of its buttons)
        try:
            return await self._send_all(chat_id, replies, silent, bulk, before_send, sent, crisis)
        finally:
            await self._note(chat_id, [m for m, _ in sent], from_bot=True, digests=[d for _, d in sent])

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
                common = {
                    "reply_markup": markup,
                    # Only the first part answers a message; it may have been deleted since.
                    "reply_parameters": ReplyParameters(reply.reply_to, allow_sending_without_reply=True)
                    if reply.reply_to and i == 0
                    else None,
                    "protect_content": True,
                    "disable_notification": silent,
                    "rate_limit_args": Paced(
                        bulk=bulk,
                        crisis=crisis,
                        before_send=before_send and partial(before_send, shown),
                    ),
                }
                try:
                    if reply.document:
                        name, data = reply.document
                        message = await self.bot.send_document(
                            chat_id, InputFile(data, filename=name), caption=part, **common
                        )
                    else:
                        message = await self.bot.send_message(chat_id, part, **common)
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

    async def _note(
        self, chat_id: int, message_ids: list[int], *, from_bot: bool, digests: list[str] | None = None
    ) -> None:
        """Keep the ids (never the text) of messages in a linked patient's chat, for /forget
        and for settling a nudge cut short by a crash. A failure here loses no message."""
        if not message_ids or self._sessions is None:
            return
        try:
            await run_in_thread(
                self._sessions,
                partial(
                    _record, chat_id=chat_id, message_ids=message_ids, from_bot=from_bot, digests=digests
                ),
            )
        except Exception as exc:  # the message itself went; only its id is not kept
            log.warning("could not note chat message ids: %s", type(exc).__name__)

    async def find_sent(
        self, chat_id: int, after_message_id: int, markup: dict | None, known: dict[int, str | None]
    ) -> str:
        """Did a message whose send was cut short (a crash) reach the chat? "arrived",
        "absent" or "unsure".

        The Bot API cannot read a chat, but it answers an edit that changes nothing with
        "message is not modified": so setting, on each unaccounted-for id after the last
        one known before the send, the buttons the message was sent with finds it, and
        changes nothing if it is there. In a private chat both sides share one sequence
        of ids, so the ids after `after_message_id` to look at are few. `known` ones are
        not asked about: the patient's are skipped, and one of the bot's with the same
        buttons is this message, noted just before the crash. The patient's own messages
        that were not noted yet answer "can't be edited".
        """
        reply_markup = InlineKeyboardMarkup.de_json(markup, self.bot) if markup else None
        fingerprint = chat_messages.digest(markup)
        missing = 0
        for message_id in range(after_message_id + 1, after_message_id + 1 + PROBE_SPAN):
            if message_id in known:
                if known[message_id] == fingerprint:
                    return "arrived"
                missing = 0
                continue
            try:
                await self.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=reply_markup)
            except Forbidden:
                return "absent"  # blocked: a resend will find that out and stop
            except BadRequest as exc:
                reason = exc.message.lower()
                if "not modified" in reason:
                    return "arrived"
                if "not found" in reason:
                    missing += 1
                    # Ids run on without gaps: nothing more was sent after these.
                    if missing >= PROBE_MISSING_IN_A_ROW:
                        return "absent"
                    continue
                missing = 0
                if "can't be edited" in reason:
                    continue  # the patient's own message
                return "unsure"
            except TelegramError:
                return "unsure"
            else:
                # Another message of the bot's, now wearing these buttons: rare (a reply
                # cut short at the same moment), and nothing here can tell more.
                log.warning("probe changed the buttons of an unaccounted-for message")
                return "unsure"
        return "unsure"

    async def delete_messages(self, chat_id: int, message_ids: list[int]) -> Deletion:
        """Ask Telegram once, in batches, to delete these messages, and say what became of each.

        Telegram answers True even when it skips messages it can no longer delete (past 48
        hours), so "deleted" means it took the request; a failed request deleted nothing of
        its batch, and is worth repeating unless Telegram refused it for good.
        """
        deleted: list[int] = []
        retry: list[int] = []
        refused: list[int] = []
        retry_after = None
        for start in range(0, len(message_ids), DELETE_BATCH):
            batch = message_ids[start : start + DELETE_BATCH]
            try:
                await self.bot.delete_messages(chat_id, batch)
                deleted += batch
            except (BadRequest, Forbidden) as exc:
                log.warning("telegram refused to delete chat messages: %s", type(exc).__name__)
                refused += batch
            except RetryAfter as exc:
                retry_after = retry_after_seconds(exc)
                log.warning("deleting chat messages: flood limit, retry after %.0fs", retry_after)
                retry += batch
            except TelegramError as exc:  # network, timeout, 5xx: may pass
                log.warning("could not delete chat messages: %s", type(exc).__name__)
                retry += batch
        return Deletion(deleted, retry, refused, retry_after)


def _record(session: Session, **kwargs: Any) -> int:
    return chat_messages.record(session=session, **kwargs)


def _store(session: Session, *, payloads: list[dict[str, Any]]) -> set[int]:
    return inbox.store(session=session, updates=payloads)


async def _wait_for_database(stop: asyncio.Event, exc: Exception, backoff: float) -> float:
    """Wait before trying the inbox again; returns the next, longer wait."""
    log.warning("inbox not reachable (%s); retrying in %.0fs", type(exc).__name__, backoff)
    await _sleep_or_stop(stop, backoff)
    return min(backoff * 2, 60)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass

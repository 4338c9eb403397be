"""Deleting messages in a patient's chat, for /forget (bot/erasures.py retries what fails)."""

from __future__ import annotations

import logging

from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.erasures import Deletion
from bot.pacing import retry_after_seconds

log = logging.getLogger(__name__)

# deleteMessages takes at most 100 ids.
DELETE_BATCH = 100


class ChatEraser:
    def __init__(self, bot: ExtBot):
        self.bot = bot

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

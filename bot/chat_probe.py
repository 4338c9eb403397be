"""After a crash: did a message whose send was cut short reach the chat? (The scheduler asks,
for a nudge left in doubt.)"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ExtBot

from data import chat_messages

log = logging.getLogger(__name__)

# How far past the last known id to look, and how many missing ids in a row mean nothing
# more was sent.
PROBE_SPAN = 12
PROBE_MISSING_IN_A_ROW = 3


class ChatProbe:
    def __init__(self, bot: ExtBot):
        self.bot = bot

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

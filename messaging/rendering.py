"""Pure rendering: Rasa's replies to messages with buttons, for Telegram or a terminal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

TELEGRAM_TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    # A file to send with the text as its caption: (file name, contents).
    document: tuple[str, bytes] | None = None
    # The id of the patient's message this answers, shown quoted above it.
    reply_to: int | None = None


def from_rasa(messages: Iterable[dict[str, Any]]) -> list[Reply]:
    replies = []
    for message in messages:
        text = (message.get("text") or "").strip()
        buttons = tuple(
            Button(str(b.get("title", "")), str(b.get("payload", "")))
            for b in message.get("buttons") or []
            if b.get("title") and b.get("payload")
        )
        if text or buttons:
            replies.append(Reply(text or "…", buttons))
    return replies


def fits_callback(payload: str) -> bool:
    return 0 < len(payload.encode("utf-8")) <= CALLBACK_DATA_LIMIT


def telegram_length(text: str) -> int:
    """The length Telegram's limit is counted in: UTF-16 code units, so characters outside
    the BMP count twice."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split on paragraph or line breaks so no part exceeds Telegram's limit.

    Telegram counts UTF-16 code units, so characters outside the BMP count twice.
    """
    size = telegram_length

    parts: list[str] = []
    rest = text
    while size(rest) > limit:
        cut = limit
        while size(rest[:cut]) > limit:
            cut -= 1
        window = rest[:cut]
        at = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if at <= 0:
            at = cut
        parts.append(rest[:at].rstrip())
        rest = rest[at:].lstrip()
    parts.append(rest)
    return [p for p in parts if p]


def telegram_markup(reply: Reply) -> InlineKeyboardMarkup | None:
    rows = [
        [InlineKeyboardButton(b.title, callback_data=b.payload)]
        for b in reply.buttons
        if fits_callback(b.payload)
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def terminal_text(reply: Reply) -> str:
    lines = [reply.text]
    if reply.document is not None:
        lines.append(f"  (a file, {reply.document[0]}, {len(reply.document[1])} bytes)")
    lines += [f"  [{i}] {b.title}" for i, b in enumerate(reply.buttons, start=1)]
    return "\n".join(lines)

"""Logging that never carries message text, names, Telegram ids or tokens.

Two guards. The database engines hide the parameters of every statement
(data/db.py, `hide_parameters=True`), so an error that quotes its SQL does not
quote the patient's words. And every line is redacted after it is formatted,
traceback and all: a bot token (bare, as python-telegram-bot's InvalidToken
quotes it, or inside a URL), a `token=` query parameter, a bearer token, and
the secrets this process was given, wherever they appear.
"""

from __future__ import annotations

import logging
import os
import re

# A Telegram bot token, bare or in a URL; a token in a query string; a bearer token.
_PATTERNS = re.compile(r"\d{5,12}:[A-Za-z0-9_-]{30,}|token=[^&\s'\"]+|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
# Settings whose values are secrets, redacted wherever they turn up.
SECRET_SETTINGS = ("TELEGRAM_BOT_TOKEN", "RASA_TOKEN", "ACTION_SERVER_TOKEN", "RASA_CHANNEL_SECRET")
REDACTED = "[redacted]"


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return _PATTERNS.sub(REDACTED, text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line, exception text and traceback included."""

    def __init__(self, fmt: str, secrets: tuple[str, ...] = ()):
        super().__init__(fmt)
        # Longest first, so a secret that contains another is removed whole.
        self._secrets = tuple(sorted((s for s in secrets if len(s) >= 8), key=len, reverse=True))

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


def _secrets_from_environment() -> tuple[str, ...]:
    return tuple(value for name in SECRET_SETTINGS if (value := os.environ.get(name, "").strip()))


def configure(level: str = "INFO", secrets: tuple[str, ...] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", secrets + _secrets_from_environment()
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO (the bot token is in it), and
    # python-telegram-bot logs whole updates at DEBUG: keep both quiet always.
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler.executors", "hpack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The action server's SDK dumps trackers (the patient's words) at DEBUG.
    for chatty in ("rasa_sdk", "sanic"):
        logger = logging.getLogger(chatty)
        logger.setLevel(max(logging.INFO, root.level))

"""Logging that never carries message text, names, Telegram ids or tokens."""

from __future__ import annotations

import logging
import re

# A bot token in a URL or a Rasa token in a query string.
_SECRETS = re.compile(r"(bot\d{5,}:[A-Za-z0-9_-]{20,})|(token=[^&\s]+)")


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRETS.search(message):
            record.msg = _SECRETS.sub("[redacted]", message)
            record.args = None
        return True


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_RedactSecrets())
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

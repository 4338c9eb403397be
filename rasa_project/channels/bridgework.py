"""The bot's way into Rasa: Rasa's REST channel, but only for a caller holding the secret.

Rasa's stock `rest` channel answers anyone who can reach it, and a private network
is not a security boundary. This one refuses (401) every message that does not
carry `Authorization: Bearer <token>` (the token from credentials.yml, filled
from Rasa's environment); the health check at its root stays open.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

log = logging.getLogger(__name__)


class BridgeworkInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "bridgework"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> BridgeworkInput:
        token = str((credentials or {}).get("token") or "").strip()
        if not token or token.startswith("$"):
            raise ValueError("the bridgework channel needs its token (RASA_TOKEN in Rasa's environment)")
        return cls(token)

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)

        @webhook.middleware("request")
        async def require_token(request: Request):
            if not request.path.endswith("/webhook"):
                return None  # the health check
            given = (request.headers.get("authorization") or "").encode()
            if not hmac.compare_digest(given, self._expected):
                log.warning("refused a message without the channel's token")
                return response.json({"error": "unauthorised"}, status=401)
            return None

        return webhook

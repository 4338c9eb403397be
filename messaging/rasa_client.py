"""One small client for the Rasa server: the REST channel and the HTTP API."""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)


# The bot's channel into Rasa (credentials.yml: channels.bridgework.BridgeworkInput).
CHANNEL_PATH = "/webhooks/bridgework/webhook"


class RasaUnavailable(Exception):
    """Rasa (or the action server behind it) did not answer usefully."""


class RasaClient:
    def __init__(self, base_url: str, token: str | None, timeout: float = 20.0):
        self._token = token
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """A patient's message through the bot's own channel (rasa_project/channels/bridgework.py,
        Rasa's REST channel behind the token); returns Rasa's replies."""
        body = {"sender": sender_id, "message": text, "metadata": metadata or {}}
        replies: list[dict[str, Any]] = await self._post(CHANNEL_PATH, body, authed=False, bearer=True)
        return replies

    async def trigger_intent(
        self, sender_id: str, intent: str, entities: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """An external event (a scheduled check-in); returns the bot's messages."""
        body = {"name": intent, "entities": entities or {}}
        result = await self._post(
            f"/conversations/{sender_id}/trigger_intent?output_channel=latest", body, authed=True
        )
        return list(result.get("messages") or []) if isinstance(result, dict) else []

    async def _post(self, path: str, body: dict[str, Any], *, authed: bool, bearer: bool = False) -> Any:
        # The HTTP API takes the token as a query parameter (Rasa's way), the channel as a
        # bearer header; neither reaches a log: errors below are logged by path and status.
        params = {"token": self._token} if authed and self._token else None
        headers = {"Authorization": f"Bearer {self._token}"} if bearer and self._token else None
        try:
            response = await self._http.post(path, json=body, params=params, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("rasa unreachable on %s: %s", path.split("?")[0], type(exc).__name__)
            raise RasaUnavailable from None
        if response.status_code != 200:
            log.warning("rasa answered %s on %s", response.status_code, path.split("?")[0])
            raise RasaUnavailable
        return response.json()

"""Start the action server on loopback only, with no CORS, and with a shared secret.

`python -m rasa_sdk` binds every interface, allows any origin and answers anyone.
Here every call but the health check must carry `Authorization: Bearer <token>`
(ACTION_SERVER_TOKEN, which Rasa sends from its action_endpoint settings): a
private network is not a security boundary, and one made-up POST could otherwise
rewrite a patient's records.
"""

from __future__ import annotations

import hmac
import logging
import os
from urllib.parse import urlparse

from rasa_sdk.endpoint import create_app
from sanic import response

from data.library import require_valid
from data.logging_setup import configure
from data.settings import get_settings

OPEN_PATHS = ("/health",)


def require_token(app, token: str) -> None:
    """Refuse (401) every request but the health check that lacks the bearer token."""
    expected = f"Bearer {token}".encode()

    @app.middleware("request")
    async def _check(request):
        if request.path in OPEN_PATHS:
            return None
        given = (request.headers.get("authorization") or "").encode()
        if not hmac.compare_digest(given, expected):
            logging.getLogger(__name__).warning("refused a call to %s without the token", request.path)
            return response.json({"error": "unauthorised"}, status=401)
        return None


def main() -> None:
    settings = get_settings()
    configure(settings.log_level)
    require_valid()  # a broken task library stops the server here, not mid-conversation
    if settings.action_server_token is None:
        raise SystemExit("ACTION_SERVER_TOKEN is not set: the action server must not run without it.")
    port = urlparse(settings.action_server_url).port or 5055
    # Inside docker-compose the private network needs 0.0.0.0; never publish the port.
    host = os.environ.get("ACTION_SERVER_HOST", "127.0.0.1")
    app = create_app("actions", cors_origins="")
    require_token(app, settings.action_server_token.get_secret_value())
    logging.getLogger(__name__).info("action server on %s:%s", host, port)
    app.run(host=host, port=port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()

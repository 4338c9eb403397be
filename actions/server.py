"""Start the action server on loopback only, with no CORS.

`python -m rasa_sdk` binds every interface and allows any origin; the action
server has no authentication of its own, so it must not be reachable.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlparse

from rasa_sdk.endpoint import create_app

from bot.logging_setup import configure
from data.settings import get_settings


def main() -> None:
    settings = get_settings()
    configure(settings.log_level)
    port = urlparse(settings.action_server_url).port or 5055
    # Inside docker-compose the private network needs 0.0.0.0; never publish the port.
    host = os.environ.get("ACTION_SERVER_HOST", "127.0.0.1")
    app = create_app("actions", cors_origins="")
    logging.getLogger(__name__).info("action server on %s:%s", host, port)
    app.run(host=host, port=port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()

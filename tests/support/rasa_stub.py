"""A loopback stand-in for Rasa's HTTP API `trigger_intent` and its REST channel, for scheduler
tests, benchmarks and what the bot hands Rasa.

The scheduler's own logic (claims, retries, pacing) is what those measure; the
real Rasa is exercised by the end-to-end tests. This answers like Rasa does
(`{"messages": [...]}`), checks the token, records every call, and can be told
to fail, so RasaClient's error handling runs for real. Given a tracker store's URL, it
writes each turn there as Rasa does (the patient's message, then its replies), so what
reads Rasa's record of a conversation reads a real one.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from messaging.rasa_client import CHANNEL_PATH
from tests.support import rasa_store

_PATH = re.compile(r"^/conversations/([^/]+)/trigger_intent$")


class RasaStub:
    def __init__(self, token: str = "stub-token", tracker_url: str | None = None):
        self.token = token
        self.tracker_url = tracker_url
        self.trigger_replies: list[dict] | None = None  # what trigger_intent answers, if not the default
        self.calls: list[tuple[str, str, dict]] = []  # (sender, intent, entities)
        self.messages: list[dict] = []  # REST channel bodies: sender, message, metadata
        self.replies: list[dict] = []  # what the REST channel answers each message with
        self.failing = False
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                url = urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                match = _PATH.match(url.path)
                if url.path == CHANNEL_PATH:  # the bot's channel: a bearer token
                    if self.headers.get("Authorization") != f"Bearer {stub.token}":
                        return self._send(401, {"error": "unauthorised"})
                    with stub._lock:
                        stub.messages.append(body)
                        replies = [{"recipient_id": body.get("sender"), **r} for r in stub.replies]
                        words = str(body.get("message") or "")
                        # A message in words is recorded as the NLU unsure of it.
                        intent = words[1:].split("{", 1)[0] if words.startswith("/") else "nlu_fallback"
                        stub._record(str(body.get("sender")), words, intent, replies)
                    return self._send(200, replies)
                if parse_qs(url.query).get("token") != [stub.token]:
                    return self._send(401, {"status": "failure", "reason": "NotAuthenticated"})
                if match is None:
                    return self._send(404, {"status": "failure"})
                if stub.failing:
                    return self._send(503, {"status": "failure"})
                sender, entities = match.group(1), body.get("entities") or {}
                with stub._lock:
                    stub.calls.append((sender, body.get("name"), entities))
                text = (
                    "Just a gentle follow-up."
                    if entities.get("nudge") == "follow_up"
                    else "Hi, got a minute?"
                )
                buttons = [{"title": "Done", "payload": "/report_done"}]
                messages = stub.trigger_replies or [{"text": text, "buttons": buttons}]
                messages = [{"recipient_id": sender, **m} for m in messages]
                with stub._lock:
                    stub._record(sender, None, str(body.get("name")), messages)
                self._send(200, {"messages": messages})

            def _send(self, code: int, payload: dict | list) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _record(self, sender: str, words: str | None, intent: str, replies: list[dict]) -> None:
        if self.tracker_url is None:
            return
        said = [rasa_store.bot(r.get("text") or "", buttons=r.get("buttons")) for r in replies]
        rasa_store.store(self.tracker_url, sender, rasa_store.user(words, intent), *said)

    def __enter__(self) -> RasaStub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

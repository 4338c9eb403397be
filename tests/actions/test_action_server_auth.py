"""The action server answers only Rasa: every call but the health check needs the token."""

import os
import subprocess
import sys

import httpx
import pytest
from pydantic import SecretStr

from coach.processes import Stack, actions_health_url, start_actions, wait_until_up
from data.settings import Settings
from tests.support.ports import port_for_a_server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# A real call Rasa would make: run "action_carry_on" (it changes nothing) for a sender.
CALL = {
    "next_action": "action_carry_on",
    "sender_id": "nobody",
    "tracker": {"sender_id": "nobody", "slots": {}, "latest_message": {}, "events": [], "paused": False},
    "domain": {},
    "version": "3.6.21",
}


@pytest.fixture(scope="module")
def action_server(tmp_path_factory):
    token = "a-test-action-server-token-0001"
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp_path_factory.mktemp('auth') / 'app.db'}",
        action_server_url=f"http://127.0.0.1:{port_for_a_server()}/webhook",
        action_server_token=SecretStr(token),
    )
    stack = Stack()
    child = start_actions(stack, settings, tmp_path_factory.mktemp("auth-logs"))
    try:
        wait_until_up(actions_health_url(settings), child, timeout=60)
        yield settings.action_server_url, token
    finally:
        stack.stop()


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "a-test-action-server-token-0001"])
def test_a_call_without_the_token_is_refused(action_server, header):
    url, _ = action_server
    headers = {"Authorization": header} if header else {}
    assert httpx.post(url, json=CALL, headers=headers, timeout=10).status_code == 401


def test_rasa_with_the_token_is_answered_and_health_is_open(action_server):
    url, token = action_server
    answered = httpx.post(url, json=CALL, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answered.status_code == 200
    assert httpx.get(url.replace("/webhook", "/health"), timeout=10).status_code == 200


def test_without_a_token_the_action_server_will_not_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ACTION_SERVER_TOKEN"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    ran = subprocess.run(
        [sys.executable, "-m", "actions.server"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode != 0 and "ACTION_SERVER_TOKEN is not set" in ran.stderr

"""Rasa and the action server, started for real, answer only callers holding their secrets,
and no process shows a secret on its command line."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

MESSAGE = {"sender": "nobody-at-all", "message": "hello", "metadata": {}}


def _tokens(stack) -> dict[str, str]:
    return {
        "RASA_TOKEN": stack.settings.rasa_token.get_secret_value(),
        "ACTION_SERVER_TOKEN": stack.settings.action_server_token.get_secret_value(),
    }


def test_the_bots_channel_into_rasa_needs_the_token_and_the_stock_one_is_off(stack):
    url = stack.settings.rasa_url
    token = _tokens(stack)["RASA_TOKEN"]
    channel = f"{url}/webhooks/bridgework/webhook"
    assert httpx.post(channel, json=MESSAGE, timeout=30).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert httpx.post(channel, json=MESSAGE, headers=wrong, timeout=30).status_code == 401
    right = {"Authorization": f"Bearer {token}"}
    assert httpx.post(channel, json=MESSAGE, headers=right, timeout=60).status_code == 200
    assert httpx.post(f"{url}/webhooks/rest/webhook", json=MESSAGE, timeout=30).status_code == 404


def test_the_action_server_needs_the_token(stack):
    url = stack.settings.action_server_url
    assert httpx.post(url, json={"next_action": "action_carry_on"}, timeout=30).status_code == 401


def test_no_process_shows_a_token_on_its_command_line(stack):
    # What `ps` shows every user of the machine: /proc/PID/cmdline of every process.
    tokens = _tokens(stack).values()
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue  # a process that ended meanwhile
    assert any("launch.py run" in line for line in lines)  # Rasa runs, from its launcher
    assert [line for line in lines if any(t in line for t in tokens)] == []

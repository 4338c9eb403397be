"""`make run`: everything Bridgework needs, started and watched from one terminal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
import time

from bot import app
from bot.logging_setup import configure
from coach.model import ensure_model
from coach.paths import DEMO_PLAN
from coach.processes import (
    Stack,
    actions_health_url,
    default_log_dir,
    start_actions,
    start_rasa,
    wait_until_up,
)
from data.settings import get_settings

log = logging.getLogger(__name__)


def up(demo: bool = True) -> int:
    settings = get_settings()
    if settings.rasa_token is None:
        # A fresh token each run: Rasa's API is never open, and nothing to configure.
        settings = settings.model_copy(update={"rasa_token": _secret()})
    model = ensure_model()

    from coach.cli import main as coach

    coach(["db", "upgrade"])
    if demo:
        coach(["plan", "apply", str(DEMO_PLAN)])

    log_dir = default_log_dir()
    stack = Stack()
    started = time.monotonic()
    try:
        actions = start_actions(stack, settings, log_dir)
        rasa = start_rasa(stack, settings, model, log_dir)
        print(f"Starting Rasa and the action server (logs in {log_dir})...", flush=True)
        wait_until_up(actions_health_url(settings), actions, timeout=60)
        wait_until_up(f"{settings.rasa_url}/", rasa, timeout=180)
        print(f"Ready in {time.monotonic() - started:.0f}s.", flush=True)
        terminal = settings.telegram_bot_token is None
        configure("WARNING" if terminal else settings.log_level)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_run_bot(settings, stack, terminal))
    finally:
        stack.stop()
        for child in stack.children:
            print(f"{child.name} stopped (exit {child.exited()}).", file=sys.stderr)
    return 0


async def _run_bot(settings, stack: Stack, terminal: bool) -> None:
    bot = asyncio.create_task(app.run(settings, terminal_patient="p-001" if terminal else None))
    while not bot.done():
        await asyncio.sleep(1)
        for child in stack.dead():
            # A child that dies is reported, not silently ignored.
            print(
                f"\n!! {child.name} stopped unexpectedly (exit {child.exited()}); "
                f"see {child.log_path}. Stopping.",
                file=sys.stderr,
                flush=True,
            )
            bot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bot
            return
    await bot


def _secret():
    from pydantic import SecretStr

    return SecretStr(secrets.token_urlsafe(32))

"""`make run`: everything Bridgework needs, started and watched from one terminal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
import time

from coach import wiring as app
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
from data.library import require_valid
from data.logging_setup import configure
from data.settings import get_settings

log = logging.getLogger(__name__)


def up(demo: bool = True) -> int:
    settings = get_settings()
    require_valid()  # before a model is trained or a child started
    # Fresh tokens each run: Rasa's API and the action server are never open, and there is
    # nothing to configure.
    for name in ("rasa_token", "action_server_token"):
        if getattr(settings, name) is None:
            settings = settings.model_copy(update={name: _secret()})
    model = ensure_model()
    prepare_database(settings, demo=demo)

    log_dir = default_log_dir()
    stack = Stack(log_max_bytes=settings.log_max_bytes, log_backups=settings.log_backups)
    started = time.monotonic()
    try:
        actions = start_actions(stack, settings, log_dir)
        rasa = start_rasa(stack, settings, model, log_dir)
        print(f"Starting Rasa and the action server (logs in {log_dir})...", flush=True)
        wait_until_up(actions_health_url(settings), actions, timeout=60)
        wait_until_up(f"{settings.rasa_url}/", rasa, timeout=180)
        print(f"Ready in {time.monotonic() - started:.0f}s.", flush=True)
        terminal = settings.telegram_bot_token is None
        # The token made for this run is in no environment: named here, so no line can carry it.
        configure("WARNING" if terminal else settings.log_level, secrets=_run_secrets(settings))
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_run_bot(settings, stack, terminal))
    finally:
        stack.stop()
        for child in stack.children:
            print(f"{child.name} stopped (exit {child.exited()}).", file=sys.stderr)
    return 0


def prepare_database(settings, *, demo: bool) -> None:
    """Migrate; then the demo patient, Sam, for the terminal chat only. With a real Telegram
    token the demo's invite code, published in the README, would let a stranger link as Sam:
    the demo plan is not applied, and its codes are revoked if an earlier run applied it."""
    from data import invites
    from data.care_plans import apply_plan
    from data.db import make_engine, make_sessionmaker, transaction
    from data.migrate import upgrade
    from data.plan_schema import Patient, Therapist, load_plan

    upgrade(settings.database_url)
    plan = load_plan(DEMO_PLAN)
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            if settings.telegram_bot_token is None:
                if demo:
                    for change in apply_plan(
                        plan,
                        session=session,
                        invite_ttl_days=settings.invite_ttl_days,
                        default_timezone=settings.default_timezone,
                    ):
                        print(change, flush=True)
                return
            people: list[Patient | Therapist] = [*plan.patients, *plan.therapists]
            codes = [person.invite_code for person in people if person.invite_code]
            revoked = invites.revoke_codes(session=session, codes=codes)
    finally:
        engine.dispose()
    if demo:
        print(
            "A Telegram token is set, so the demo patient is not created (its invite code is "
            "public). Load your clinic's care plan with `coach plan apply FILE`.",
            flush=True,
        )
    if revoked:
        print(f"Revoked {revoked} demo invite code(s) left from an earlier run.", flush=True)


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


def _run_secrets(settings) -> tuple[str, ...]:
    tokens = (settings.rasa_token, settings.action_server_token)
    return tuple(s.get_secret_value() for s in tokens if s is not None)


def _secret():
    from pydantic import SecretStr

    return SecretStr(secrets.token_urlsafe(32))

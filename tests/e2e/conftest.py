"""The whole stack for real: Rasa with the project's model, the action server,
the bot process, and a strict Bot API server standing in for Telegram.

One stack serves every test here, so they run in one process, in order (`make e2e`);
`make test` runs them alongside the rest of the suite, which it spreads over workers."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from coach.model import ensure_model
from coach.processes import (
    Stack,
    actions_health_url,
    start_actions,
    start_rasa,
    wait_until_up,
)
from data.care_plans import apply_plan
from data.db import make_engine, make_sessionmaker, transaction
from data.migrate import upgrade
from data.plan_schema import load_plan
from data.settings import Settings
from tests.support.botapi_server import FakeBotApi
from tests.support.ports import port_for_a_server

FIXTURES = Path(__file__).parent.parent / "fixtures"
ROOT = Path(__file__).parents[2]
# Telegram-shaped, and obviously not real.
BOT_TOKEN = "123456789:AAtest-token-for-the-loopback-server0"


@dataclass
class Running:
    api: FakeBotApi
    settings: Settings
    log_dir: Path
    bot_log: Path

    def coach(self, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "DATABASE_URL": self.settings.database_url}
        return subprocess.run(
            [sys.executable, "-m", "coach.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log_dir.glob("*.log"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp / 'app.db'}",
        rasa_tracker_url=f"sqlite:///{tmp / 'tracker.db'}",
        rasa_url=f"http://127.0.0.1:{port_for_a_server()}",
        # Both begin with "-", as one token in 64 from secrets.token_urlsafe does: Rasa's
        # argument parser once read such a token as a flag and would not start.
        rasa_token=SecretStr("-" + secrets.token_urlsafe(24)),
        action_server_token=SecretStr("-" + secrets.token_urlsafe(24)),
        action_server_url=f"http://127.0.0.1:{port_for_a_server()}/webhook",
        log_level="DEBUG",  # the most a log could ever say; tests check it says nothing private
    )
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with transaction(make_sessionmaker(engine)) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
    engine.dispose()

    model = ensure_model(quiet=True)
    log_dir = tmp / "logs"
    children = Stack()
    api = FakeBotApi(BOT_TOKEN).start()
    try:
        actions = start_actions(children, settings, log_dir)
        rasa = start_rasa(children, settings, model, log_dir)
        wait_until_up(actions_health_url(settings), actions, timeout=90)
        wait_until_up(f"{settings.rasa_url}/", rasa, timeout=300)
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "DATABASE_URL": settings.database_url,
            "RASA_TRACKER_URL": settings.rasa_tracker_url,
            "RASA_URL": settings.rasa_url,
            "RASA_TOKEN": settings.rasa_token.get_secret_value(),
            "ACTION_SERVER_URL": settings.action_server_url,
            "LOG_LEVEL": "DEBUG",
            # Plan changes reach the scheduler within seconds, not a minute.
            "NUDGE_RECONCILE_SECONDS": "2",
            # The tests talk faster than any patient; flood control has its own tests.
            "FLOOD_MESSAGES_PER_MINUTE": "1000",
        }
        bot = children.start("bot", [sys.executable, "-m", "coach.cli", "run"], env, ROOT, log_dir)
        # The bot trains its crisis classifier before it polls: slower while other test
        # workers keep both cores busy.
        api.wait_for_polling(timeout=240)
        yield Running(api, settings, log_dir, bot.log_path)
    finally:
        children.stop()
        api.stop()

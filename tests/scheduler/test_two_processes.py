"""Two scheduler processes on one database: one sends, the other waits; every nudge once.

Real processes (tests/perf/dispatch_worker.py, the production scheduler and
sending path), a real SQLite or PostgreSQL database, the loopback Bot API server
with Telegram's limits, and a loopback stand-in for Rasa's HTTP API.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from data.db import make_engine
from data.models import SchedulerLease, utcnow
from tests.perf.bench_dispatch import TOKEN, _build
from tests.support.botapi_server import FakeBotApi
from tests.support.rasa_stub import RasaStub

ROOT = Path(__file__).resolve().parents[2]
NUDGES = 40
FIRST_CHAT = 61_000_001


def _worker(db_url, api, rasa):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.perf.dispatch_worker", db_url, api.base_url, rasa.url],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )


def _owner_pid(db_url) -> int:
    engine = make_engine(db_url)
    with engine.connect() as connection:
        owner = connection.execute(select(SchedulerLease.owner)).scalar_one()
    engine.dispose()
    return int(owner.split(":")[1])


def test_two_scheduler_processes_send_each_nudge_once_even_when_the_owner_is_killed(db_url):
    with FakeBotApi(TOKEN) as api, RasaStub() as rasa:
        chats = range(FIRST_CHAT, FIRST_CHAT + NUDGES)
        for chat in chats:
            api.send_text(chat, "/start")
        # The migrated test database is empty: the helper adds the patients and their due nudges.
        _build(db_url, FIRST_CHAT, NUDGES, due=utcnow() + dt.timedelta(seconds=8))
        first, second = _worker(db_url, api, rasa), _worker(db_url, api, rasa)
        try:
            deadline = time.monotonic() + 90
            killed = False
            while time.monotonic() < deadline:
                time.sleep(0.3)
                sent = sum(1 for chat in chats if api.sent(chat))
                if not killed and sent >= NUDGES // 4:
                    # Kill whichever is sending; the other must take over and finish.
                    owner = _owner_pid(db_url)
                    [sending] = [w for w in (first, second) if w.pid == owner]
                    sending.send_signal(signal.SIGKILL)
                    sending.wait()
                    killed = True
                if first.poll() is not None and second.poll() is not None:
                    break
        finally:
            for worker in (first, second):
                if worker.poll() is None:
                    worker.kill()
        counts = {chat: len(api.sent(chat)) for chat in chats}
    assert killed, "the owner finished before it could be killed"
    assert max(counts.values()) == 1, "a chat got a nudge twice"
    # A nudge caught mid-send by the kill is never resent, so at most the one or two in
    # flight at that moment may be missing; everything claimed but unsent was resent.
    assert sum(1 for n in counts.values() if n == 0) <= 2

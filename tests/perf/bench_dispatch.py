"""Dispatching a burst of due nudges through the real scheduler and sending path.

    .venv/bin/python -m tests.perf.bench_dispatch [--nudges 10000] [--kill-at 0.3]

Builds N synthetic patients (one task each, linked and consenting) in a fresh
SQLite database, makes one check-in due for each now, and starts the scheduler
as its own process (tests/perf/dispatch_worker.py): it claims each nudge in the
nudge log, asks Rasa for the words (a loopback stand-in for Rasa's HTTP API:
Rasa's speed is not what this measures) and sends through the pacer to the
loopback Bot API server, which enforces Telegram's limits (30/s overall, 1/s a
chat) and answers 429 when they are broken.

Two runs, each on fresh chats: (1) straight through: messages a second against
the 30/s cap; (2) the scheduler is killed (SIGKILL) once a share of the
messages has gone out, and a new one started: it waits out the dead one's lease,
settles what was left and finishes. Both report duplicates (a chat messaged
twice) and losses (a chat never messaged). Writes
tests/perf/results/dispatch.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import insert, select

from data.db import make_engine, make_sessionmaker, transaction
from data.migrate import upgrade
from data.models import (
    Assignment,
    ChatMessage,
    Clinic,
    NudgeLog,
    Patient,
    ScheduleChange,
    Therapist,
    utcnow,
)
from tests.support.botapi_server import FakeBotApi
from tests.support.rasa_stub import RasaStub

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results" / "dispatch.json"
TOKEN = "123456789:AAbench-token-for-the-loopback-server"
CAP = 30.0


def _build(db_url: str, first_chat: int, nudges: int, due: dt.datetime) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    now = utcnow()
    with transaction(sessions) as session:
        session.add(Clinic(id="c-bench", name="Bench Clinic", timezone="Europe/London", crisis_resources=[]))
        session.add(Therapist(id="t-bench", clinic_id="c-bench", name="Bench Therapist"))
        session.flush()
        session.execute(
            insert(Patient),
            [
                {
                    "id": f"p-{i}",
                    "therapist_id": "t-bench",
                    "display_name": "Sam",
                    "timezone": "Europe/London",
                    "routine": {},
                    "sender_id": f"pz-bench-{i}",
                    "telegram_user_id": first_chat + i,
                    "telegram_chat_id": first_chat + i,
                    "linked_at": now,
                    "consented_at": now,
                    "discreet": True,
                    "silent_nudges": False,
                }
                for i in range(nudges)
            ],
        )
        # Each patient's /start (message 1 in their chat), as the bot notes it on linking.
        session.execute(
            insert(ChatMessage),
            [
                {
                    "patient_id": f"p-{i}",
                    "chat_id": first_chat + i,
                    "message_id": 1,
                    "from_bot": False,
                    "at": now,
                }
                for i in range(nudges)
            ],
        )
        session.execute(
            insert(Assignment),
            [
                {
                    "patient_id": f"p-{i}",
                    "task_id": "walk",
                    "template": "walk",
                    "title": "Walk",
                    "rationale": "Moving a little lifts mood.",
                    "schedule": {},  # no weekly slots: only the one-off check-in below
                    "active": True,
                }
                for i in range(nudges)
            ],
        )
        ids = dict(session.execute(select(Assignment.patient_id, Assignment.id)).all())
        session.execute(
            insert(ScheduleChange),
            [
                {
                    "patient_id": f"p-{i}",
                    "assignment_id": ids[f"p-{i}"],
                    "kind": "once",
                    "at": due,
                    "dedupe_key": f"bench-{i}",
                    "created_at": now,
                }
                for i in range(nudges)
            ],
        )
    engine.dispose()


def _worker(db_url: str, api: FakeBotApi, rasa: RasaStub, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.perf.dispatch_worker", db_url, api.base_url, rasa.url],
        cwd=ROOT,
        stdout=log,
        stderr=log,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )


def _delivered(api: FakeBotApi, chats: range) -> Counter[int]:
    return Counter({chat: len(api.sent(chat)) for chat in chats})


def _run(api, rasa, workdir: Path, name: str, nudges: int, first_chat: int, kill_at: float | None) -> dict:
    db_url = f"sqlite:///{workdir / f'{name}.db'}"
    chats = range(first_chat, first_chat + nudges)
    for chat in chats:
        api.send_text(chat, "/start")  # a bot may only write to someone who wrote first
    _build(db_url, first_chat, nudges, due=utcnow() + dt.timedelta(seconds=20))
    log = (workdir / f"{name}.log").open("w")
    started = time.monotonic()
    worker = _worker(db_url, api, rasa, log)
    killed_at = restarted_after = None
    first_message = last_message = None
    while True:
        time.sleep(0.5)
        sent = sum(1 for n in _delivered(api, chats).values() if n)
        if sent and first_message is None:
            first_message = time.monotonic()
        if kill_at is not None and killed_at is None and sent >= kill_at * nudges:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            killed_at = sent
            restart = time.monotonic()
            worker = _worker(db_url, api, rasa, log)
            restarted_after = restart
        if worker.poll() is not None:
            break
        if time.monotonic() - started > 3 * nudges / CAP + 600:
            worker.kill()
            break
    last_message = time.monotonic()
    counts = _delivered(api, chats)
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        statuses = Counter(session.scalars(select(NudgeLog.status)))
        twice = [chat for chat, n in counts.items() if n > 1]
        doubled = Counter(
            f"{status}/attempt {attempts}"
            for status, attempts in session.execute(
                select(NudgeLog.status, NudgeLog.attempts)
                .join(Assignment, NudgeLog.assignment_id == Assignment.id)
                .join(Patient, Assignment.patient_id == Patient.id)
                .where(Patient.telegram_chat_id.in_(twice))
            )
        )
    engine.dispose()
    seconds = (last_message - (first_message or last_message)) or 1.0
    result = {
        "nudges": nudges,
        "messages": sum(counts.values()),
        "seconds_sending": round(seconds, 1),
        "messages_per_second": round(sum(counts.values()) / seconds, 2),
        "cap_per_second": CAP,
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        "losses": sum(1 for n in counts.values() if n == 0),
        "nudge_log": dict(statuses),
        "nudge_log_of_duplicates": dict(doubled),
        "worker_exit": worker.returncode,
    }
    log.close()
    stalls = [
        int(line.split()[1])
        for line in (workdir / f"{name}.log").read_text().splitlines()
        if line.startswith("LOOP_STALL_MS ")
    ]
    # The longest the worker's event loop was kept busy (where, in the bot, patients are answered).
    result["event_loop_stall_ms_max"] = max(stalls) if stalls else None
    if kill_at is not None:
        result["killed_after_messages"] = killed_at
        result["restart_to_finish_seconds"] = round(last_message - (restarted_after or last_message), 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nudges", type=int, default=10_000)
    parser.add_argument("--kill-at", type=float, default=0.3, help="share of messages sent before the kill")
    args = parser.parse_args(argv)
    workdir = ROOT / "var" / "bench-dispatch"
    workdir.mkdir(parents=True, exist_ok=True)
    for old in workdir.glob("*.db"):
        old.unlink()
    results = {}
    with (
        FakeBotApi(TOKEN, global_rate=CAP, global_burst=30, per_chat_rate=1.0, per_chat_burst=5) as api,
        RasaStub() as rasa,
    ):
        results["straight"] = _run(api, rasa, workdir, "straight", args.nudges, 20_000_001, None)
        print("straight through:", json.dumps(results["straight"]), flush=True)
        results["killed_and_restarted"] = _run(
            api, rasa, workdir, "killed", args.nudges, 40_000_001, args.kill_at
        )
        print("killed and restarted:", json.dumps(results["killed_and_restarted"]), flush=True)
        results["server_429s"] = sum(1 for _method, code, _ in api.errors if code == 429)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    bad = any(r["duplicates"] or r["losses"] for k, r in results.items() if isinstance(r, dict))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""/pause [days], /resume, /silent, /sound: rows only; the scheduler reconciles from them
when it next looks."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.commands import Call
from data import patients, schedule_changes
from data.db import run_in_thread
from data.models import utcnow
from data.wording import say
from messaging.rendering import Reply

COMMANDS = ("pause", "resume", "silent", "sound")
DEFAULT_PAUSE_DAYS = 7
MAX_PAUSE_DAYS = 60


class NudgeSettings:
    def __init__(self, *, sessions: sessionmaker[Session]):
        self._sessions = sessions

    async def change(self, command: str, call: Call) -> list[Reply]:
        return [Reply(await self._change(command, call))]

    async def _change(self, command: str, call: Call) -> str:
        patient, key = call.linked, call.key
        # isdecimal, not isdigit: "²" is a digit that int() refuses (found by tests/e2e/test_fuzz.py).
        days = int(call.argument) if call.argument.isdecimal() else DEFAULT_PAUSE_DAYS
        if command == "pause" and not 1 <= days <= MAX_PAUSE_DAYS:
            return say("pause_how_long", most=str(MAX_PAUSE_DAYS))

        def work(session: Session) -> str:
            row = patients.one(session=session, patient_id=patient.id)
            if command == "pause":
                until = utcnow() + dt.timedelta(days=days)
                schedule_changes.request(
                    session=session, patient_id=row.id, kind="pause", at=until, dedupe_key=f"pause:{key}"
                )
                return say("paused", until=until.astimezone(ZoneInfo(row.timezone)).strftime("%A %d %B"))
            if command == "resume":
                schedule_changes.end_pauses(session=session, patient_id=row.id)
                return say("resumed")
            silent = command == "silent"
            patients.set_silent_nudges(session=session, patient_id=row.id, silent=silent)
            return say("silent_on" if silent else "silent_off")

        return await run_in_thread(self._sessions, work)

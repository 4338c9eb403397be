"""What runs when a nudge is due. Module-level, given plain ids, re-reading the rows.

APScheduler persists a job as a reference to this function and its arguments,
so the function must be importable and its arguments simple; everything else
comes from the database when it fires.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.rasa_client import RasaClient, RasaUnavailable
from bot.rendering import Reply, from_rasa
from data.db import insert_once, run_in_thread
from data.models import Assignment, CheckIn, NudgeLog, Patient, ScheduleChange, utcnow
from data.schedule_changes import paused_until

# After pushback on a task, it gets no nudges for this long, unless the patient
# checks in on it again first.
BACK_OFF = dt.timedelta(days=3)

log = logging.getLogger(__name__)

Deliver = Callable[[str, int, list[Reply]], Awaitable[bool]]


@dataclass
class Runtime:
    """What a firing job needs, installed by the scheduler service at start."""

    sessions: sessionmaker[Session]
    rasa: RasaClient
    deliver: Deliver  # (patient_id, chat_id, replies) -> delivered?


_runtime: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


@dataclass(frozen=True)
class _Due:
    log_id: int
    sender_id: str
    chat_id: int
    patient_id: str
    task_id: str


def _claim(session: Session, assignment_id: int, scheduled_for: dt.datetime) -> _Due | None:
    """Write the nudge to the log before sending; None when there's nothing to send."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is None or not assignment.active:
        return None
    patient = session.get(Patient, assignment.patient_id)
    if (
        patient is None
        or patient.erased_at is not None
        or patient.consented_at is None
        or patient.telegram_chat_id is None
    ):
        return None
    if paused_until(session=session, patient_id=patient.id) is not None:
        return None
    if assignment.backed_off_at is not None and scheduled_for - assignment.backed_off_at < BACK_OFF:
        re_engaged = session.scalar(
            select(CheckIn.id).where(
                CheckIn.assignment_id == assignment_id, CheckIn.reported_at > assignment.backed_off_at
            )
        )
        if re_engaged is None:
            return None
    tz = ZoneInfo(patient.timezone)
    local_day = scheduled_for.astimezone(tz).date()
    day_start = dt.datetime.combine(local_day, dt.time(), tzinfo=tz)
    done_today = session.scalar(
        select(CheckIn.id).where(
            CheckIn.assignment_id == assignment_id,
            CheckIn.status == "done",
            CheckIn.reported_at >= day_start,
        )
    )
    if done_today is not None:
        return None  # the patient checked in on their own: nothing to nudge about
    # One row per (task, scheduled time), written before sending: a second
    # firing, a retry or a restarted process finds it taken and sends nothing.
    row, created = insert_once(
        session,
        NudgeLog,
        {
            "assignment_id": assignment_id,
            "scheduled_for": scheduled_for,
            "status": "pending",
            "created_at": utcnow(),
        },
        ("assignment_id", "scheduled_for"),
    )
    if not created:
        return None
    return _Due(row.id, patient.sender_id, patient.telegram_chat_id, patient.id, assignment.task_id)


def _finish(session: Session, log_id: int, status: str) -> None:
    row = session.get(NudgeLog, log_id)
    if row is not None:
        row.status = status
        if status == "sent":
            row.sent_at = utcnow()


async def send_nudge(assignment_id: int, scheduled_for: str | None = None) -> str:
    """Check in on one task: Rasa opens the check-in, the bot delivers it."""
    runtime = _runtime
    if runtime is None:
        log.error("nudge fired before the scheduler runtime was installed")
        return "no_runtime"
    # Cron slots are whole minutes: the minute identifies this firing.
    when = (
        dt.datetime.fromisoformat(scheduled_for)
        if scheduled_for
        else utcnow().replace(second=0, microsecond=0)
    )
    due = await run_in_thread(runtime.sessions, lambda s: _claim(s, assignment_id, when))
    if due is None:
        return "skipped"
    try:
        messages = await runtime.rasa.trigger_intent(
            due.sender_id, "EXTERNAL_checkin", {"task_id": due.task_id}
        )
        delivered = await runtime.deliver(due.patient_id, due.chat_id, from_rasa(messages))
    except RasaUnavailable:
        delivered = False
    status = "sent" if delivered else "failed"
    await run_in_thread(runtime.sessions, lambda s: _finish(s, due.log_id, status))
    log.info("nudge %s for assignment %s", status, assignment_id)
    return status


async def send_once(change_id: int) -> str:
    """A one-off check-in the patient asked for; marked applied once it has run."""
    runtime = _runtime
    if runtime is None:
        log.error("nudge fired before the scheduler runtime was installed")
        return "no_runtime"

    def load(session: Session) -> tuple[int, str] | None:
        change = session.get(ScheduleChange, change_id)
        if change is None or change.applied_at is not None or change.assignment_id is None:
            return None
        return change.assignment_id, change.at.isoformat()

    found = await run_in_thread(runtime.sessions, load)
    if found is None:
        return "skipped"
    status = await send_nudge(found[0], found[1])

    def applied(session: Session) -> None:
        change = session.get(ScheduleChange, change_id)
        if change is not None:
            change.applied_at = utcnow()

    await run_in_thread(runtime.sessions, applied)
    return status

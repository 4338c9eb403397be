"""What runs when a nudge is due: functions given the runtime and plain ids, re-reading the rows.

APScheduler persists a job as a reference to one of these functions and its
arguments, so they must be importable and their arguments simple. Everything
else comes from the runtime, which the scheduler's executor passes to each job
as its first argument (scheduler/offloop.py), and from the database.

Exactly once: a nudge is claimed in the nudge log under (task, scheduled time)
before anything is sent, marked "sending" just before it is handed to Telegram
and "sent" after. A firing that finds the row taken sends nothing; a crash
before "sending" is retried; a crash during it is never resent (see
data/nudge_log.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from data import checkins, nudge_log, nudge_targets, safety_events, schedule_changes
from data.db import insert_once, run_in_thread
from data.models import Assignment, NudgeLog, Patient, utcnow
from data.safety_events import CRISIS_QUIET
from data.schedule_changes import paused_until
from messaging.delivery import Deliver, Delivery, Outgoing
from messaging.rasa_client import RasaClient, RasaUnavailable
from messaging.rendering import from_rasa
from scheduler.nudges import planned_instant
from scheduler.offloop import takes_context

log = logging.getLogger(__name__)

# (chat id, message id to look after, first message's buttons, messages known since) ->
# "arrived" | "absent" | "unsure": did a nudge cut short by a crash reach the chat?
Probe = Callable[[int, int, dict[str, Any] | None, dict[int, str | None]], Awaitable[str]]

MAX_ATTEMPTS = 5


@dataclass
class Runtime:
    """What a firing job needs; the scheduler service hands it to every job it runs."""

    sessions: sessionmaker[Session]
    rasa: RasaClient
    deliver: Deliver
    # Nudge log rows being delivered by this process, so a retry never overlaps a delivery.
    in_flight: set[int] = field(default_factory=set)
    crisis_quiet: dt.timedelta = CRISIS_QUIET
    # Nudges being claimed and delivered at once. Thousands fall due together at
    # popular times; Telegram takes 30 a second, so a few dozen in hand keep the
    # pace without flooding the database, Rasa or the connection pool.
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(32))
    # Looks in the chat for a nudge a crash left in doubt (bot/chat_probe.py).
    probe: Probe | None = None


@dataclass(frozen=True)
class _Due:
    log_id: int
    assignment_id: int
    sender_id: str
    chat_id: int
    patient_id: str
    task_id: str
    silent: bool


def _nothing_to_do(
    session: Session, assignment: Assignment, patient: Patient, when: dt.datetime, quiet: dt.timedelta
) -> bool:
    """Paused, just through a crisis, or the task is already done today: a nudge would only nag."""
    if paused_until(session=session, patient_id=patient.id) is not None:
        return True
    if safety_events.crisis_since(session=session, patient_id=patient.id, since=utcnow() - quiet):
        return True
    zone = ZoneInfo(patient.timezone)
    day_start = dt.datetime.combine(when.astimezone(zone).date(), dt.time(), tzinfo=zone)
    return checkins.done_since(session=session, assignment_id=assignment.id, since=day_start)


def _due(log_row: NudgeLog, assignment: Assignment, patient: Patient) -> _Due:
    if patient.telegram_chat_id is None:  # data/nudge_targets.py claims only linked patients
        raise ValueError("a nudge was claimed for a patient with no chat")
    return _Due(
        log_row.id,
        assignment.id,
        patient.sender_id,
        patient.telegram_chat_id,
        patient.id,
        assignment.task_id,
        patient.silent_nudges,
    )


def _planned(session: Session, assignment_id: int) -> dt.datetime:
    """The planned time a weekly job firing now belongs to (see nudges.planned_instant)."""
    now = utcnow()
    found = nudge_targets.reachable_task(session=session, assignment_id=assignment_id)
    if found is None:
        return now.replace(second=0, microsecond=0)
    return planned_instant(session, found[0], found[1], now)


def _claim(
    session: Session,
    assignment_id: int,
    scheduled_for: dt.datetime | None,
    quiet: dt.timedelta = CRISIS_QUIET,
) -> _Due | None:
    """Write the nudge to the log before sending; None when there's nothing to send.

    `scheduled_for` None: a weekly job firing now; its key is the planned time it
    belongs to, so a catch-up after a restart finds the same row.
    """
    found = nudge_targets.reachable_task(session=session, assignment_id=assignment_id)
    if found is None:
        return None
    assignment, patient = found
    if scheduled_for is None:
        scheduled_for = planned_instant(session, assignment, patient, utcnow())
    if _nothing_to_do(session, assignment, patient, scheduled_for, quiet):
        return None
    # Three nudges in a row unanswered: from now on half as many, and the therapist sees it.
    if (
        assignment.reduced_at is None
        and nudge_log.unanswered_streak(session=session, assignment_id=assignment_id)
        >= nudge_log.UNANSWERED_BEFORE_REDUCING
    ):
        assignment.reduced_at = utcnow()
    # One row per (task, scheduled time), written before sending: a second
    # firing, a retry or a restarted process finds it taken and sends nothing.
    row, created = insert_once(
        session,
        NudgeLog,
        {"assignment_id": assignment_id, "scheduled_for": scheduled_for, "status": "pending", "attempts": 1},
        ("assignment_id", "scheduled_for"),
    )
    if not created:
        return None
    return _due(row, assignment, patient)


def _reclaim(session: Session, log_id: int, quiet: dt.timedelta) -> _Due | None:
    """A failed nudge, claimed again for a retry if it is still worth sending."""
    found = nudge_targets.task_of_nudge(session=session, log_id=log_id)
    if found is None:
        return None
    row, assignment, patient = found
    if row.status != "failed" or row.attempts >= MAX_ATTEMPTS:
        return None
    reachable = nudge_targets.reachable_task(session=session, assignment_id=assignment.id) is not None
    give_up = not reachable or _nothing_to_do(session, assignment, patient, row.scheduled_for, quiet)
    if not nudge_log.retake_failed(session=session, log_id=log_id, give_up=give_up):
        return None
    return _due(row, assignment, patient)


def _claim_follow_up(session: Session, log_id: int, quiet: dt.timedelta) -> _Due | None:
    row = nudge_log.claim_follow_up(session=session, log_id=log_id)
    if row is None:
        return None
    found = nudge_targets.reachable_task(session=session, assignment_id=row.assignment_id)
    if found is None:
        return None
    assignment, patient = found
    if _nothing_to_do(session, assignment, patient, utcnow(), quiet) or nudge_log.checked_in_since(
        session=session, assignment_id=assignment.id, since=row.sent_at or row.scheduled_for
    ):
        return None
    return _due(row, assignment, patient)


async def _deliver(runtime: Runtime, due: _Due, *, follow_up: bool = False) -> str:
    """Rasa opens the check-in; the bot delivers Rasa's words; the log records the outcome."""
    entities = {"task_id": due.task_id}
    if follow_up:
        entities["nudge"] = "follow_up"
    try:
        messages = await runtime.rasa.trigger_intent(due.sender_id, "EXTERNAL_checkin", entities)
    except RasaUnavailable:
        messages = None
    if messages is None:
        outcome: Delivery = "failed"
    else:

        async def sending(first_markup: dict[str, Any] | None = None) -> None:
            # Just before the first message leaves, after any wait for its turn: from
            # here a crash leaves the nudge "unknown" (maybe arrived). A new owner
            # looks for it in the chat before deciding to resend (service.py).
            if not follow_up:
                await run_in_thread(
                    runtime.sessions,
                    lambda s: nudge_log.mark_sending(
                        session=s, log_id=due.log_id, chat_id=due.chat_id, markup=first_markup
                    ),
                )

        outcome = await runtime.deliver(
            Outgoing(due.chat_id, from_rasa(messages), due.patient_id, silent=due.silent, before_send=sending)
        )
    if outcome == "unreachable":

        def unreachable(session: Session) -> None:
            nudge_log.mark_unreachable(session=session, patient_id=due.patient_id)
            if not follow_up:
                nudge_log.set_status(session=session, log_id=due.log_id, status="unreachable")

        await run_in_thread(runtime.sessions, unreachable)
        log.info("patient unreachable (blocked the bot); nudges stop")
        return "unreachable"
    status = "sent" if outcome == "delivered" else "failed"
    if not follow_up:
        await run_in_thread(
            runtime.sessions, lambda s: nudge_log.set_status(session=s, log_id=due.log_id, status=status)
        )
    log.info("%s %s for assignment %s", "follow-up" if follow_up else "nudge", status, due.assignment_id)
    return status


async def _guarded(runtime: Runtime, due: _Due) -> str:
    runtime.in_flight.add(due.log_id)
    try:
        return await _deliver(runtime, due)
    finally:
        runtime.in_flight.discard(due.log_id)


@takes_context
async def send_nudge(runtime: Runtime, assignment_id: int, scheduled_for: str | None = None) -> str:
    """Check in on one task at its scheduled time."""
    when = dt.datetime.fromisoformat(scheduled_for) if scheduled_for else None
    # The planned time is fixed now, before any wait for a slot.
    if when is None:
        when = await run_in_thread(runtime.sessions, lambda s: _planned(s, assignment_id))
    async with runtime.slots:
        due = await run_in_thread(
            runtime.sessions, lambda s: _claim(s, assignment_id, when, runtime.crisis_quiet)
        )
        if due is None:
            return "skipped"
        return await _guarded(runtime, due)


@takes_context
async def retry_nudge(runtime: Runtime, log_id: int) -> str:
    """Send again a nudge that failed (Rasa or Telegram down), while it is still timely."""
    if log_id in runtime.in_flight:
        return "skipped"
    runtime.in_flight.add(log_id)  # before any await: a second retry sees it at once
    try:
        async with runtime.slots:
            due = await run_in_thread(runtime.sessions, lambda s: _reclaim(s, log_id, runtime.crisis_quiet))
            if due is None:
                return "skipped"
            return await _deliver(runtime, due)
    finally:
        runtime.in_flight.discard(log_id)


@takes_context
async def send_follow_up(runtime: Runtime, log_id: int) -> str:
    """The one gentle follow-up to an unanswered nudge."""
    async with runtime.slots:
        due = await run_in_thread(
            runtime.sessions, lambda s: _claim_follow_up(s, log_id, runtime.crisis_quiet)
        )
        if due is None:
            return "skipped"
        return await _deliver(runtime, due, follow_up=True)


@takes_context
async def send_once(runtime: Runtime, change_id: int) -> str:
    """A one-off check-in the patient asked for; marked applied once it has run."""
    found = await run_in_thread(
        runtime.sessions, lambda s: schedule_changes.once_to_run(session=s, change_id=change_id)
    )
    if found is None:
        return "skipped"
    assignment_id, at = found
    status = await send_nudge(runtime, assignment_id, at.isoformat())
    await run_in_thread(
        runtime.sessions, lambda s: schedule_changes.mark_applied(session=s, change_id=change_id)
    )
    return status

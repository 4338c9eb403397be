"""What the scheduler tells people besides nudges: therapists of a crisis response or a
patient leaving (at once) and of what to look at (the daily digest), and a discharged
patient that their plan has closed.

Each is claimed in its row before it is sent and unclaimed if sending fails, so it
goes once and is never lost to a Telegram outage.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from data import digest, introductions, nudge_log, patients, safety_events
from data.db import call_in_thread
from data.models import utcnow
from data.wording import content, say
from messaging.delivery import Deliver, Outgoing
from messaging.rasa_client import RasaClient, RasaUnavailable
from messaging.rendering import Reply, from_rasa

log = logging.getLogger(__name__)

# Older than this, a crisis alert is too late to matter.
ALERT_WINDOW = dt.timedelta(hours=24)
# A digest looks back to the last one, but never further than this (after an outage).
DIGEST_LOOKBACK = dt.timedelta(days=7)


class Announcements:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        deliver: Deliver,
        retention_days: int,
        rasa: RasaClient | None = None,
    ):
        """`rasa`: opens the dialogue that brings a new task to the patient (none: not done)."""
        self._sessions = sessions
        self._deliver = deliver
        self._retention_days = retention_days
        self._rasa = rasa

    async def say_goodbyes(self) -> int:
        """A patient whose plan the clinic closed hears so once, kindly, with what happens next."""
        said = 0
        for patient_id, chat_id, discharged_at, timezone in await call_in_thread(
            self._sessions, patients.goodbyes_due
        ):
            claimed = await call_in_thread(self._sessions, patients.claim_goodbye, patient_id=patient_id)
            if not claimed:
                continue
            erased_on = discharged_at + dt.timedelta(days=self._retention_days)
            local = erased_on.astimezone(ZoneInfo(timezone))
            text = say("discharged_goodbye", erased_on=local.strftime("%d %B %Y"))
            outcome = await self._deliver(Outgoing(chat_id, [Reply(text)], patient_id))
            if outcome == "failed":  # "unreachable" (blocked): nothing to say it through
                await call_in_thread(
                    self._sessions, patients.claim_goodbye, patient_id=patient_id, claim=False
                )
            else:
                said += 1
                log.info("discharged patient told their plan has closed")
        return said

    async def alert_therapists(self) -> int:
        since = utcnow() - ALERT_WINDOW
        due = await call_in_thread(self._sessions, safety_events.alerts_due, since=since)
        sent = 0
        for event_id, chat_id, patient_id, at, detected_by, timezone in due:
            claimed = await call_in_thread(self._sessions, safety_events.claim_alert, event_id=event_id)
            if not claimed:
                continue
            text = say(
                "therapist_crisis_alert",
                patient_id=patient_id,
                at=at.astimezone(ZoneInfo(timezone)).strftime("%H:%M on %a %d %b"),
                detected_by=content()["crisis_raised_by"].get(detected_by, detected_by),
            )
            outcome = await self._deliver(Outgoing(chat_id, [Reply(text)]))
            if outcome == "delivered":
                sent += 1
                log.info("therapist told of a crisis response")
            else:
                await call_in_thread(self._sessions, safety_events.unclaim_alert, event_id=event_id)
        for patient_id, chat_id, erased_at, timezone in await call_in_thread(
            self._sessions, safety_events.departures_due, since=since
        ):
            claimed = await call_in_thread(
                self._sessions, safety_events.claim_departure, patient_id=patient_id
            )
            if not claimed:
                continue
            left_at = erased_at.astimezone(ZoneInfo(timezone)).strftime("%H:%M on %a %d %b")
            text = say("therapist_patient_left", patient_id=patient_id, at=left_at)
            if await self._deliver(Outgoing(chat_id, [Reply(text)])) == "delivered":
                sent += 1
            else:
                await call_in_thread(
                    self._sessions, safety_events.claim_departure, patient_id=patient_id, claim=False
                )
        return sent

    async def introduce_tasks(self) -> int:
        """A task the therapist set in Telegram, brought to the patient once: Rasa opens the
        dialogue (rationale, expectation, when they'll do it, what might get in the way)."""
        if self._rasa is None:
            return 0
        now = utcnow()
        introduced = 0
        for due in await call_in_thread(self._sessions, introductions.due, now=now):
            if not await call_in_thread(
                self._sessions, introductions.claim, assignment_id=due.assignment_id, now=now
            ):
                continue
            try:
                messages = await self._rasa.trigger_intent(
                    due.sender_id, "EXTERNAL_new_task", {"task_id": due.task_id}
                )
            except RasaUnavailable:
                messages = None
            outcome = "failed"
            if messages:
                outcome = await self._deliver(
                    Outgoing(due.chat_id, from_rasa(messages), due.patient_id, silent=due.silent)
                )
            if outcome == "delivered":
                introduced += 1
                log.info("new task introduced to the patient")
                continue
            # Tried again at the next look (after a blocked bot, once they write again).
            await call_in_thread(self._sessions, introductions.unclaim, assignment_id=due.assignment_id)
            if outcome == "unreachable":
                await call_in_thread(self._sessions, nudge_log.mark_unreachable, patient_id=due.patient_id)
        return introduced

    async def send_digests(self) -> int:
        """Each linked therapist, once a day at their time: their patients' flags since the
        last digest. Nothing flagged, nothing sent (the day is still marked done)."""
        now = utcnow()
        sent = 0
        for due in await call_in_thread(self._sessions, digest.due, now=now):
            claimed, previous = await call_in_thread(
                self._sessions, digest.claim, therapist_id=due.therapist_id, day=due.day
            )
            if not claimed:
                continue
            since = now - dt.timedelta(days=1) if previous is None else _start_of(previous, due.timezone)
            since = max(since, now - DIGEST_LOOKBACK)
            found = await call_in_thread(
                self._sessions, digest.flags, therapist_id=due.therapist_id, since=since, now=now
            )
            if not found:
                continue
            outcome = await self._deliver(Outgoing(due.chat_id, [Reply(digest_text(found))]))
            if outcome == "delivered":
                sent += 1
                log.info("therapist digest sent")
            else:
                await call_in_thread(
                    self._sessions, digest.unclaim, therapist_id=due.therapist_id, previous=previous
                )
        return sent


def _start_of(day: dt.date, timezone: str) -> dt.datetime:
    """The day after the last digest, from midnight in the clinic's zone: nothing falls between."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(timezone))


def digest_text(found: list[digest.PatientFlags]) -> str:
    words = content()["digest"]
    names = content()["review"]["barrier_names"]
    lines = [words["head"]]
    for row in found:
        items = [words["adjust"].format(task=task, category=names.get(cat, cat)) for task, cat in row.adjust]
        items += [words["repeated"].format(category=names.get(cat, cat)) for cat in row.repeated]
        if row.pushback:
            items.append(words["pushback"].format(count=row.pushback))
        items += [words["unanswered"].format(task=task) for task in row.unanswered]
        if row.unreachable:
            items.append(words["unreachable"])
        lines.append(words["patient"].format(name=row.display_name, patient_id=row.patient_id))
        lines += [f"  • {item}" for item in items]
    lines.append(words["foot"])
    return "\n".join(lines)

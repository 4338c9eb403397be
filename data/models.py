"""The product's tables. Alembic owns the schema; nothing here creates tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on both backends (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Clinic(Base):
    __tablename__ = "clinic"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    crisis_resources: Mapped[list[str]] = mapped_column(JSON, default=list)


class Therapist(Base):
    __tablename__ = "therapist"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id"))
    name: Mapped[str] = mapped_column(String(200))
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    linked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The daily digest of flags, at this wall-clock time in the clinic's zone (None: off),
    # and the local date it last went out (claimed before sending: once a day).
    digest_time: Mapped[str | None] = mapped_column(String(5), default="17:00")
    digest_sent_on: Mapped[dt.date | None] = mapped_column(Date)

    clinic: Mapped[Clinic] = relationship()


class Patient(Base):
    __tablename__ = "patient"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    therapist_id: Mapped[str] = mapped_column(ForeignKey("therapist.id"))
    display_name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16), default="en")
    discreet: Mapped[bool] = mapped_column(Boolean, default=True)
    routine: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What Rasa knows the patient as: random, rotated on erasure, never a Telegram id.
    sender_id: Mapped[str] = mapped_column(String(64), unique=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    linked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    consented_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set when Telegram says the patient blocked the bot: no more nudges; the therapist sees it.
    # Cleared when they write again; each such time is also kept as an UnreachablePeriod.
    unreachable_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The therapist was told the patient erased their data (/forget).
    left_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Nudges without a sound or vibration, for a patient who asked for them.
    silent_nudges: Mapped[bool] = mapped_column(Boolean, default=False)
    # Steps the patient and therapist agreed for a crisis, shown with the crisis resources.
    safety_plan: Mapped[list[str] | None] = mapped_column(JSON)
    # The clinic closed the plan: no more nudges, a goodbye, and erasure after the retention period.
    discharged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    goodbye_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    therapist: Mapped[Therapist] = relationship()
    assignments: Mapped[list[Assignment]] = relationship(back_populates="patient", order_by="Assignment.id")


class UnreachablePeriod(Base):
    """A time the patient could not be reached (Telegram said they blocked the bot): opened
    when `Patient.unreachable_at` is set, closed when they write again (data/unreachable.py).
    Kept, so the brief can show past periods as well as a current one."""

    __tablename__ = "unreachable_period"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # None while it lasts.
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Invite(Base):
    __tablename__ = "invite"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # For a patient, or for a therapist (who gets crisis alerts in Telegram).
    patient_id: Mapped[str | None] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    therapist_id: Mapped[str | None] = mapped_column(ForeignKey("therapist.id", ondelete="CASCADE"))
    # Only a hash is kept, so a leaked database does not hand out working links.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Assignment(Base):
    """One homework task set for one patient, with the therapist's rationale."""

    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("patient_id", "task_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    rationale: Mapped[str] = mapped_column(Text)
    instructions: Mapped[str] = mapped_column(Text, default="")
    minutes: Mapped[int | None] = mapped_column(Integer)
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    start: Mapped[dt.date | None] = mapped_column(Date)
    end: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # What the patient said and did about this task; plan re-application leaves these alone.
    expected_helpfulness: Mapped[int | None] = mapped_column(Integer)
    rationale_shown_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    backed_off_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Three nudges in a row went unanswered: nudged half as often, and the therapist is told.
    reduced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Where the task was set: "plan" (a care-plan file) or "desk" (the therapist, in Telegram).
    # Applying a plan retires the plan's own tasks it no longer lists, never the desk's.
    set_by: Mapped[str] = mapped_column(String(16), default="plan")
    # A task the therapist set in Telegram is brought to the patient in the chat once (the
    # rationale, an expectation, when they'll do it, what might get in the way): set when that
    # went out. A plan's task is met at its first check-in instead (set when it is created).
    introduced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the patient said they'd do it, as they chose it then ("Morning, 08:30").
    planned_when: Mapped[str | None] = mapped_column(String(80))

    patient: Mapped[Patient] = relationship(back_populates="assignments")


class CheckIn(Base):
    __tablename__ = "checkin"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"))
    # Makes a retried message or action write the check-in once.
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    helpfulness: Mapped[int | None] = mapped_column(Integer)
    difficulty: Mapped[int | None] = mapped_column(Integer)
    reflection: Mapped[str | None] = mapped_column(Text)
    reflection_shared: Mapped[bool] = mapped_column(Boolean, default=False)

    assignment: Mapped[Assignment] = relationship()


class Worksheet(Base):
    """A guided worksheet in the chat; each answer is written as it is given."""

    __tablename__ = "worksheet"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"))
    # The worksheet's kind in data/library/worksheets.yml, the one the task's template names.
    template: Mapped[str] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    step: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="in_progress")  # in_progress|resting|complete
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkin.id", ondelete="SET NULL"))
    # The message that gave the last answer: a retried message doesn't answer twice.
    last_message_key: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Barrier(Base):
    __tablename__ = "barrier"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(32))
    words: Mapped[str] = mapped_column(Text)
    option: Mapped[str | None] = mapped_column(String(64))
    plan: Mapped[str | None] = mapped_column(Text)
    # The task may need adjusting: too hard, unclear or not useful.
    flag_for_therapist: Mapped[bool] = mapped_column(Boolean, default=False)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SafetyEvent(Base):
    """A crisis or resistance moment, for the therapist's review."""

    __tablename__ = "safety_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    # crisis: the crisis response was given; risk_check: the one question was asked
    # (possible risk), `answer` is the patient's; resistance: pushback.
    kind: Mapped[str] = mapped_column(String(16))
    # Which net raised it: lexicon | classifier | nlu | question (a yes or not sure to it).
    detected_by: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    words: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    therapist_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A quick "I'm fine" after a crisis response is met once with a kind second check.
    checked_again_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(String(8))  # yes | no | unsure, for a risk_check
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ScheduleChange(Base):
    """A change to when a patient is nudged, asked for in conversation.

    Written by the action server; the scheduler consumes it when reconciling,
    so nothing but the scheduler touches APScheduler.
    kind: once (check in at `at`), move (nudge this task at `clock` from now on).
    """

    __tablename__ = "schedule_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    clock: Mapped[str | None] = mapped_column(String(5))
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class NudgeLog(Base):
    __tablename__ = "nudge_log"
    __table_args__ = (UniqueConstraint("assignment_id", "scheduled_for"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"))
    scheduled_for: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # pending (claimed) → sending (handed to Telegram) → sent | failed | unreachable;
    # missed when too late to send; unknown when a crash left "sending" unresolved.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The one gentle follow-up, claimed by setting this: it goes out at most once.
    followed_up_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # How to tell, after a crash mid-send, whether the nudge arrived: the last message
    # id known in the chat before it left, and the buttons its first message carried
    # (data/chat_messages.py, bot/chat_probe.py).
    probe_after_message_id: Mapped[int | None] = mapped_column(BigInteger)
    probe_markup: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ChatMessage(Base):
    """Which messages are in a patient's chat, ids only, kept for Telegram's 48 hours.

    /forget deletes the ones Telegram still lets a bot delete, and a scheduler that
    takes over after a crash finds out whether a nudge in flight arrived. No text.
    """

    __tablename__ = "chat_message"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    from_bot: Mapped[bool] = mapped_column(Boolean)
    # The bot's messages: a digest of the buttons they carry, to recognise a nudge by.
    markup_digest: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PendingErasure(Base):
    """What a /forget still has to clear outside our database: Rasa's transcript and the
    messages in the chat. Written in the erasure's own transaction, so a crash or a failing
    tracker store in between leaves this row to finish, never an orphaned transcript
    (bot/erasures.py works it off). Ids only, never text, and nothing that leads back to
    the patient; the row goes once everything is done.
    """

    __tablename__ = "pending_erasure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Rasa's name for the patient before /forget; None once the transcript is erased.
    sender_id: Mapped[str | None] = mapped_column(String(64))
    # The chat, and [message id, Unix second Telegram stops allowing its deletion] for each
    # message still to delete; None and [] once the chat is done.
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    messages: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SchedulerLease(Base):
    """Who owns the job store: APScheduler cannot share one, so one scheduler holds this."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    acquired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class InboxUpdate(Base):
    """Telegram updates, stored before they are confirmed to Telegram and acted on."""

    __tablename__ = "inbox_update"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Cleared once handled: message text is kept no longer than it takes to act on it.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Who read or changed a patient's data, and when: a therapist in Telegram or the clinic's CLI.

    Ids and names of actions only, never what the patient wrote. Kept when a patient is
    erased (no foreign key): the record of who looked is the clinic's, not the patient's data.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))  # therapist:<id> | cli
    action: Mapped[str] = mapped_column(String(40))  # review, export, invite, assign, ...
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # False: refused (not their patient, or a forged button); kept so attempts can be seen.
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[str | None] = mapped_column(String(200))


class SessionMark(Base):
    """A therapy session held: the therapist's brief covers the time since the last one."""

    __tablename__ = "session_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    therapist_id: Mapped[str] = mapped_column(ForeignKey("therapist.id", ondelete="CASCADE"))
    held_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeskStep(Base):
    """Where a therapist is in a multi-step command (/invite, /assign), kept across restarts."""

    __tablename__ = "desk_step"

    therapist_id: Mapped[str] = mapped_column(
        ForeignKey("therapist.id", ondelete="CASCADE"), primary_key=True
    )
    flow: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssignmentChange(Base):
    """One change to a task: who, when, and the fields before and after (the old rationale
    is kept here when a new one replaces it)."""

    __tablename__ = "assignment_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))  # therapist:<id> | plan | cli
    action: Mapped[str] = mapped_column(String(24))  # assigned, edited, paused, resumed, ended
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

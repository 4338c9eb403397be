"""A linked therapist's side of the bot: commands, a menu of buttons, and steps.

A Telegram account is a therapist's or a patient's, never both (data/invites.py), so
whatever a therapist sends comes here instead of to Rasa. Every lookup of a patient goes
through data/desk.py, which knows only the therapist's own patients, and every read or
change of a patient's data, or a refused attempt, is an audit row (data/audit.py).

Buttons carry "bw:d:<verb>:<token>", the token opaque per therapist and patient
(`desk.token`); a forged or stale one finds no patient and is audited as refused.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.desk_assign import AssignFlow
from bot.desk_invite import InviteFlow
from bot.desk_parts import (
    CANCEL,
    MAX_ARGUMENT,
    PREFIX,
    About,
    Flow,
    PatientRef,
    TherapistView,
    button,
    patient_buttons,
    ref,
)
from bot.desk_review import DeskReview
from bot.desk_tasks import TasksDesk
from data import audit, desk, digest, invites, patients
from data.db import run_in_thread
from data.models import utcnow
from data.timeparse import clock_string
from data.wording import content, say
from messaging.rendering import Button, Reply

log = logging.getLogger(__name__)


class TherapistDesk:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        invite_ttl_days: int,
        bot_username: Callable[[], str | None] = lambda: None,
    ):
        """`bot_username`: the bot's @name once Telegram has told us (for invite links)."""
        self._sessions = sessions
        self._invite = InviteFlow(
            sessions=sessions, invite_ttl_days=invite_ttl_days, bot_username=bot_username
        )
        reading = DeskReview(sessions=sessions)
        self._assign = AssignFlow(sessions=sessions)
        self._tasks = TasksDesk(sessions=sessions)
        # The multi-step commands, by the name their step row carries.
        self._flows: dict[str, Flow] = {f.FLOW: f for f in (self._invite, self._assign, self._tasks)}
        self._about: dict[str, About] = {
            "review": reading.review,
            "assign": self._assign.begin,
            "tasks": self._tasks.show,
            "session": self._mark_session,
            "export": reading.export,
        }
        self._plain: dict[str, Callable[[TherapistView], Awaitable[list[Reply]]]] = {
            "menu": self.menu,
            "patients": reading.patients,
            "help": self._help,
            "start": self._help,
            "invite": self._invite.begin,
            "cancel": self._cancel,
        }

    # --- who ----------------------------------------------------------------------

    async def therapist(self, chat_id: int | None) -> TherapistView | None:
        """The linked therapist writing from this chat, if it is one."""
        if chat_id is None:
            return None

        def work(session: Session) -> TherapistView | None:
            row = invites.therapist_by_chat(session=session, chat_id=chat_id)
            if row is None:
                return None
            return TherapistView(row.id, row.name, row.clinic.timezone)

        return await run_in_thread(self._sessions, work)

    # --- entry points -------------------------------------------------------------

    async def on_command(self, therapist: TherapistView, command: str, argument: str) -> list[Reply]:
        if command == "start" and argument:
            # A patient's invite opened on the therapist's own phone: an account is one or the other.
            return [Reply(say("invite_already_linked"))]
        if command == "digest":
            return [Reply(await self._digest(therapist, argument))]
        if (plain := self._plain.get(command)) is not None:
            if command != "cancel":
                await self._forget_step(therapist)  # a new command leaves any step behind
            return await plain(therapist)
        if command in self._about:
            await self._forget_step(therapist)
            return await self._pick(therapist, command, argument)
        return [Reply(say("therapist_help"))]

    async def on_text(self, therapist: TherapistView, text: str) -> list[Reply]:
        """Typed words answer the step under way, if any; otherwise the help."""
        if text.strip().casefold() in ("cancel", "stop"):
            return await self._cancel(therapist)

        def work(session: Session) -> tuple[str, dict[str, Any]] | None:
            row = desk.step(session=session, therapist_id=therapist.id)
            return None if row is None else (row.flow, dict(row.answers))

        under_way = await run_in_thread(self._sessions, work)
        flow = self._flows.get(under_way[0]) if under_way is not None else None
        if flow is None or under_way is None:
            return [Reply(say("therapist_help"))]
        return await flow.answer(therapist, under_way[1], text)

    async def on_button(self, therapist: TherapistView, data: str) -> list[Reply]:
        verb, _, argument = data.removeprefix(PREFIX).partition(":")
        if data == CANCEL:
            return await self._cancel(therapist)
        if verb == "go" and argument in self._plain:
            return await self._plain[argument](therapist)
        if verb == "go" and argument in self._about:
            return await self.on_command(therapist, argument, "")
        if (flow := next((f for f in self._flows.values() if verb in f.BUTTONS), None)) is not None:
            return await flow.press(therapist, verb, argument)
        if verb in self._about:
            patient = await self._by_token(therapist, verb, argument)
            if patient is None:
                return [Reply(say("desk_expired"))]
            return await self._about[verb](therapist, patient, "")
        return [Reply(say("desk_expired"))]

    # --- commands -----------------------------------------------------------------

    async def menu(self, therapist: TherapistView) -> list[Reply]:
        labels = content()["desk_buttons"]
        order = ["patients", "invite", "assign", "tasks", "review", "session", "export"]
        offered = [v for v in order if v in self._about or v in self._plain]
        return [Reply(say("desk_menu"), tuple(Button(labels[v], button("go", v)) for v in offered))]

    async def _help(self, therapist: TherapistView) -> list[Reply]:
        return [Reply(say("therapist_help"))]

    async def _cancel(self, therapist: TherapistView) -> list[Reply]:
        def work(session: Session) -> bool:
            had = desk.step(session=session, therapist_id=therapist.id) is not None
            desk.clear_step(session=session, therapist_id=therapist.id)
            return had

        had = await run_in_thread(self._sessions, work)
        return [Reply(say("desk_cancelled" if had else "desk_nothing_to_cancel"))]

    async def _forget_step(self, therapist: TherapistView) -> None:
        await run_in_thread(self._sessions, lambda s: desk.clear_step(session=s, therapist_id=therapist.id))

    async def _digest(self, therapist: TherapistView, argument: str) -> str:
        """/digest [HH:MM | off]: when the daily digest comes, in the clinic's time."""
        wanted = argument.strip().casefold()
        clock = clock_string(wanted) if wanted and wanted != "off" else None
        if wanted and wanted != "off" and clock is None:
            wanted = ""  # not a time: say how, as for a bare /digest

        def work(session: Session) -> str:
            if wanted:
                digest.set_time(session=session, therapist_id=therapist.id, clock=clock)
                return (
                    say("digest_set", clock=clock, zone=therapist.clinic_timezone)
                    if clock
                    else say("digest_off")
                )
            current = digest.time_of(session=session, therapist_id=therapist.id)
            if current is None:
                return say("digest_is_off")
            return say("digest_how", clock=current, zone=therapist.clinic_timezone)

        return await run_in_thread(self._sessions, work)

    async def _mark_session(self, therapist: TherapistView, patient: PatientRef, rest: str) -> list[Reply]:
        """/session NAME [YYYY-MM-DD]: a session held that day (today when no date is given)."""
        if rest:
            try:
                day = dt.date.fromisoformat(rest.strip())
            except ValueError:
                return [Reply(say("desk_session_which_day"))]
            # The end of that day: whatever the patient did on the day was before the session.
            held_at = dt.datetime.combine(day, dt.time(23, 59), tzinfo=dt.timezone.utc)
        else:
            held_at = utcnow()

        def work(session: Session) -> None:
            desk.mark_session(
                session=session, therapist_id=therapist.id, patient_id=patient.id, held_at=held_at
            )
            audit.record(session=session, actor=therapist.actor, action="session", patient_id=patient.id)

        await run_in_thread(self._sessions, work)
        return [Reply(say("desk_session_marked", name=patient.display_name, date=held_at.date().isoformat()))]

    # --- picking a patient ------------------------------------------------------------

    async def _pick(self, therapist: TherapistView, verb: str, argument: str) -> list[Reply]:
        """`/verb NAME [rest]`: the named patient of theirs, or buttons to choose one."""
        words, rest = argument[: MAX_ARGUMENT * 2], ""
        parts = words.split()
        if len(parts) > 1 and _looks_like_date(parts[-1]):
            words, rest = " ".join(parts[:-1]), parts[-1]

        def work(session: Session) -> tuple[list[PatientRef], list[PatientRef]]:
            found = desk.matching(session=session, therapist_id=therapist.id, words=words) if words else []
            if words and not found:
                # Someone else's patient, or no one: refused, and the attempt is kept.
                other = patients.by_id(session=session, patient_id=words.strip())
                audit.record(
                    session=session,
                    actor=therapist.actor,
                    action=verb,
                    patient_id=other.id if other is not None else None,
                    allowed=False,
                    detail="not among their patients",
                )
            own = desk.own_patients(session=session, therapist_id=therapist.id)
            return [ref(p) for p in found], [ref(p) for p in own]

        found, own = await run_in_thread(self._sessions, work)
        if len(found) == 1:
            return await self._about[verb](therapist, found[0], rest)
        if not own:
            return [Reply(say("desk_no_patients"))]
        choices = found if found else own
        if found:
            text = say("desk_several_patients")
        elif words:
            text = say("desk_no_such_patient", words=words[:MAX_ARGUMENT])
        else:
            text = say("desk_pick_patient")
        return [Reply(text, patient_buttons(therapist, verb, choices))]

    async def _by_token(self, therapist: TherapistView, verb: str, token: str) -> PatientRef | None:
        def work(session: Session) -> PatientRef | None:
            found = desk.by_token(session=session, therapist_id=therapist.id, value=token)
            if found is None:
                audit.record(
                    session=session,
                    actor=therapist.actor,
                    action=verb,
                    allowed=False,
                    detail="unknown button",
                )
                return None
            return ref(found)

        return await run_in_thread(self._sessions, work)


def _looks_like_date(word: str) -> bool:
    return len(word) == 10 and word[4] == "-" and word[7] == "-"

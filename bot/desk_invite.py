"""/invite: a new patient in three steps (name, time zone, confirm), then their link.

The answers so far are a row (data/desk.py), so a restart mid-way loses nothing; the
patient and the invite are written with the step's end in one transaction, so a
repeated "create" press finds no step and creates nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sqlalchemy.orm import Session, sessionmaker

from bot.desk_parts import StepStore, TherapistView, button, cancel_button
from data import desk, enrolment
from data.db import run_in_thread
from data.wording import content, say
from data.zones import zone_from_words
from messaging.rendering import Button, Reply

_NAME_LIMIT = 40


class InviteFlow:
    FLOW: ClassVar[str] = "invite"
    # The flow's own buttons: the clinic's zone, and the final yes.
    BUTTONS: ClassVar[tuple[str, ...]] = ("invzone", "invyes")

    def __init__(
        self, *, sessions: sessionmaker[Session], invite_ttl_days: int, bot_username: Callable[[], str | None]
    ):
        self._sessions = sessions
        self._steps = StepStore(sessions, self.FLOW)
        self._ttl_days = invite_ttl_days
        self._bot_username = bot_username

    async def begin(self, therapist: TherapistView) -> list[Reply]:
        await self._steps.save(therapist, {"step": "name"})
        return [Reply(say("desk_invite_name"), (cancel_button(),))]

    async def answer(self, therapist: TherapistView, answers: dict[str, Any], text: str) -> list[Reply]:
        """Typed words: the name, or the time zone; at the confirm step, a reminder to press."""
        step = answers.get("step")
        if step == "name":
            name = " ".join(text.split())
            if not 1 <= len(name) <= _NAME_LIMIT or "\n" in text.strip():
                return [Reply(say("desk_invite_name_bad"), (cancel_button(),))]
            await self._steps.save(therapist, {"step": "zone", "name": name})
            return [self._zone_question(therapist, name)]
        if step == "zone":
            zone = zone_from_words(text)
            if zone is None:
                return [Reply(say("desk_invite_zone_bad"), (cancel_button(),))]
            return await self._confirm(therapist, answers, zone)
        return [self._confirm_question(answers["name"], answers["zone"])]

    async def press(self, therapist: TherapistView, verb: str, argument: str) -> list[Reply]:
        answers = await self._steps.answers(therapist)
        if verb == "invzone" and answers is not None and answers.get("step") == "zone":
            return await self._confirm(therapist, answers, therapist.clinic_timezone)
        if verb == "invyes" and answers is not None and answers.get("step") == "confirm":
            return await self._create(therapist)
        return [Reply(say("desk_expired"))]

    # --- steps --------------------------------------------------------------------

    async def _confirm(self, therapist: TherapistView, answers: dict[str, Any], zone: str) -> list[Reply]:
        await self._steps.save(therapist, {"step": "confirm", "name": answers["name"], "zone": zone})
        return [self._confirm_question(answers["name"], zone)]

    async def _create(self, therapist: TherapistView) -> list[Reply]:
        def work(session: Session) -> tuple[str, str, str] | None:
            row = desk.step(session=session, therapist_id=therapist.id)
            if row is None or row.flow != self.FLOW or row.answers.get("step") != "confirm":
                return None  # pressed twice, or after a cancel: nothing more is created
            patient, code = enrolment.enrol(
                session=session,
                therapist_id=therapist.id,
                display_name=row.answers["name"],
                timezone=row.answers["zone"],
                invite_ttl_days=self._ttl_days,
            )
            desk.clear_step(session=session, therapist_id=therapist.id)
            return patient.id, patient.display_name, code

        made = await run_in_thread(self._sessions, work)
        if made is None:
            return [Reply(say("desk_expired"))]
        patient_id, name, code = made
        username = self._bot_username()
        days = str(self._ttl_days)
        if username:
            link = f"https://t.me/{username}?start={code}"
            text = say(
                "desk_invite_done",
                name=name,
                patient_id=patient_id,
                days=days,
                link=link,
                code=code,
                bot=username,
            )
        else:
            text = say("desk_invite_done_no_link", name=name, patient_id=patient_id, days=days, code=code)
        return [Reply(text)]

    # --- parts --------------------------------------------------------------------

    def _zone_question(self, therapist: TherapistView, name: str) -> Reply:
        clinic = content()["desk_buttons"]["clinic_zone"].format(zone=therapist.clinic_timezone)
        return Reply(say("desk_invite_zone", name=name), (Button(clinic, button("invzone")), cancel_button()))

    def _confirm_question(self, name: str, zone: str) -> Reply:
        yes = content()["desk_buttons"]["confirm"]
        return Reply(
            say("desk_invite_confirm", name=name, zone=zone), (Button(yes, button("invyes")), cancel_button())
        )

"""/mydata: everything we hold about the patient, and their conversation as Rasa holds it,
as one JSON file."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.commands import Call
from bot.people import PatientView
from data import export, rasa_tracker
from data.db import run_in_thread
from data.wording import say
from messaging.rendering import Reply

log = logging.getLogger(__name__)


class MyData:
    def __init__(self, *, sessions: sessionmaker[Session], tracker_url: str):
        self._sessions = sessions
        self._tracker_url = tracker_url

    async def send(self, call: Call) -> list[Reply]:
        patient = call.linked
        transcript = await self._transcript(patient)

        def work(session: Session) -> bytes:
            return export.export_json(session=session, patient_id=patient.id, transcript=transcript)

        data = await run_in_thread(self._sessions, work)
        caption = say("mydata" if transcript is not None else "mydata_without_transcript")
        return [Reply(caption, document=("bridgework-my-data.json", data))]

    async def _transcript(self, patient: PatientView) -> list[dict[str, Any]] | None:
        """The patient's conversation as Rasa holds it; None if its store can't be read now."""
        try:
            return await asyncio.to_thread(
                rasa_tracker.read_conversation, self._tracker_url, patient.sender_id
            )
        except Exception as exc:  # the type only: the message may quote the store's address
            log.warning("/mydata without the transcript: tracker store not read (%s)", type(exc).__name__)
            return None

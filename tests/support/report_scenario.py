"""Three weeks of one invented patient's homework with a known outcome, for the report tests.

Alex (p-100, London, no quiet hours) has a thought record planned Mon, Wed and Fri at
19:00 and linked on Monday 2 November 2026 (London is on UTC then, so local = UTC).
Seen from NOW (Monday 23 November, 20:00), the planned occurrences are:

    Nov  2  done (answered the nudge)         Nov 13  skipped (crisis quiet period)
    Nov  4  partial (answered the nudge)      Nov 16  done (spontaneous, next morning)
    Nov  6  not done (answered the nudge)     Nov 18  done (a nudge moved to 20:30)
    Nov  9  skipped (paused Nov 8-10)         Nov 20  no response
    Nov 11  no response                       Nov 23  still open (due an hour ago)

Nov 25 is in the future: not planned yet. A second spontaneous "done" on Nov 17 answers
nothing (extra). Jo (p-200) is moved to another therapist, t-other.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from data.care_plans import apply_plan
from data.db import transaction
from data.models import Assignment, CheckIn, Patient, SafetyEvent, ScheduleChange, Therapist
from data.plan_schema import load_plan

FIXTURES = Path(__file__).parent.parent / "fixtures"
UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 23, 20, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


EXPECTED = {
    "planned": 10,
    "done": 3,
    "partial": 1,
    "not_done": 1,
    "skipped": 2,
    "no_response": 2,
    "open": 1,
}
EXPECTED_RATE = round((3 + 0.5) / 9, 3)  # done 3, partial 1, over the 9 settled occurrences


def seed(sessions: sessionmaker[Session]) -> int:
    """The scenario in the database; returns Alex's task's row id."""
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
    with transaction(sessions) as session:
        alex = session.get(Patient, "p-100")
        assert alex is not None
        alex.routine = {}
        alex.linked_at = alex.consented_at = at(2, 0)
        task = session.scalar(select(Assignment).where(Assignment.task_id == "thought-record"))
        assert task is not None
        task.schedule = {"days": ["mon", "wed", "fri"], "at": "19:00"}
        task.expected_helpfulness = 4
        checkins = [
            # (key, status, reported, due_at, helpfulness, difficulty)
            ("a", "done", at(2, 19, 30), at(2, 19), 3, 4),
            ("b", "partial", at(4, 20), at(4, 19), 2, 3),
            ("c", "not_done", at(6, 21), at(6, 19), None, None),
            ("d", "done", at(17, 8), None, 4, 2),
            ("e", "done", at(17, 9), None, None, None),  # extra: nothing left to answer
            ("f", "done", at(18, 21), at(18, 20, 30), 5, 2),
        ]
        for key, status, reported, due, helpful, difficult in checkins:
            session.add(
                CheckIn(
                    assignment_id=task.id,
                    dedupe_key=f"scenario:{key}",
                    status=status,
                    reported_at=reported,
                    due_at=due,
                    helpfulness=helpful,
                    difficulty=difficult,
                    reflection_shared=False,
                )
            )
        session.add(
            ScheduleChange(
                patient_id="p-100",
                kind="pause",
                at=at(10, 12),
                created_at=at(8, 12),
                dedupe_key="scenario:pause",
            )
        )
        session.add(
            SafetyEvent(patient_id="p-100", kind="crisis", detected_by="nlu", dedupe_key="s:c", at=at(13, 10))
        )
        therapist = session.get(Therapist, "t-test")
        assert therapist is not None
        session.add(Therapist(id="t-other", clinic_id=therapist.clinic_id, name="Dr Other Test"))
        session.flush()
        jo = session.get(Patient, "p-200")
        assert jo is not None
        jo.therapist_id = "t-other"
        return task.id

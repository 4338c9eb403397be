"""A task the therapist set in Telegram is brought to the patient once, when they can hear
it: linked, routine given, awake, not paused; a failed send is tried again. A plan's task is
met at linking, unless it is added or changed once the patient is in the chat."""

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import select

from data import assigning, introductions
from data.care_plans import apply_plan
from data.db import transaction
from data.models import Assignment, Patient, utcnow
from data.plan_schema import load_plan
from messaging.rasa_client import RasaClient
from scheduler.announcements import Announcements
from tests.support.rasa_stub import RasaStub

FIXTURES = Path(__file__).parent.parent / "fixtures"
ALL_DAY = {"wake": "00:00", "sleep": "00:00", "preferred_times": []}  # never asleep: any hour works


def _setup(sessions, routine=ALL_DAY) -> int:
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        alex = session.get(Patient, "p-100")
        alex.telegram_user_id = alex.telegram_chat_id = 620001
        alex.linked_at = alex.consented_at = utcnow()
        alex.routine = routine
        task = assigning.assign_task(
            session=session,
            therapist_id="t-test",
            patient_id="p-100",
            fields={
                "template": "walk",
                "title": "Evening walk",
                "rationale": "Moving a little lifts mood more than waiting to feel like it.",
                "instructions": "",
                "minutes": 15,
                "schedule": {"times_per_week": 3},
            },
        )
        return task.id


def _introduce(sessions, rasa_url, outcomes):
    sent = []

    async def deliver(outgoing):
        outcome = outcomes.pop(0) if outcomes else "delivered"
        if outcome == "delivered":
            sent.append((outgoing.chat_id, [r.text for r in outgoing.replies]))
        return outcome

    async def scenario():
        rasa = RasaClient(rasa_url, "stub-token", timeout=5)
        try:
            announcements = Announcements(sessions, deliver, retention_days=30, rasa=rasa)
            return [await announcements.introduce_tasks() for _ in range(3)]
        finally:
            await rasa.aclose()

    return asyncio.run(scenario()), sent


def test_a_desk_task_is_introduced_once_and_a_failed_send_is_tried_again(sessions):
    task_id = _setup(sessions)
    with RasaStub() as rasa:
        counts, sent = _introduce(sessions, rasa.url, ["failed"])
        assert counts == [0, 1, 0]  # Telegram failing: given back, then sent, then never again
        assert [(intent, entities) for _, intent, entities in rasa.calls] == [
            ("EXTERNAL_new_task", {"task_id": "evening-walk"}),
            ("EXTERNAL_new_task", {"task_id": "evening-walk"}),
        ]
    assert [chat for chat, _ in sent] == [620001]
    with sessions() as session:
        assert session.get(Assignment, task_id).introduced_at is not None
        # The plan's own task, there before they linked, is met at its first check-in instead.
        plan_task = session.scalar(select(Assignment).where(Assignment.task_id == "thought-record"))
        assert plan_task.set_by == "plan" and plan_task.introduced_at is not None


def test_not_before_the_routine_is_given_nor_while_asleep_or_paused(sessions):
    from data import schedule_changes

    task_id = _setup(sessions, routine={"wake": "07:30"})  # the routine questions not finished
    with sessions() as session:
        assert introductions.due(session=session, now=utcnow()) == []
    with transaction(sessions) as session:
        session.get(Patient, "p-100").routine = {"wake": "07:00", "sleep": "22:00", "preferred_times": []}
    night = dt.datetime.now(dt.timezone.utc).replace(hour=2, minute=0)  # London: 2am or 3am, asleep
    noon = night.replace(hour=12)
    with sessions() as session:
        assert introductions.due(session=session, now=night) == []
        [due] = introductions.due(session=session, now=noon)
        assert due.assignment_id == task_id
    with transaction(sessions) as session:
        schedule_changes.request(
            session=session,
            patient_id="p-100",
            kind="pause",
            at=utcnow() + dt.timedelta(days=2),
            dedupe_key="p",
        )
    with sessions() as session:
        assert introductions.due(session=session, now=noon) == []


def test_a_plan_task_added_or_changed_once_they_are_in_the_chat_is_told(sessions, tmp_path):
    _setup(sessions)
    with transaction(sessions) as session:
        for task in session.scalars(select(Assignment)):
            task.introduced_at = utcnow()  # everything told so far
    plan = (FIXTURES / "plan.yml").read_text(encoding="utf-8")
    changed = plan.replace(
        "rationale: Writing the thought down slows it, so you can check it against the facts.",
        "rationale: On paper, a thought can be weighed instead of obeyed.",
        1,
    ).replace(
        '        schedule: {days: [mon, wed, fri], at: "19:00"}\n  - id: p-200',
        '        schedule: {days: [mon, wed, fri], at: "19:00"}\n'
        "      - id: worry-time\n        template: worry_time\n        title: Worry time\n"
        "        rationale: Saving worries for one slot shows they can wait.\n"
        "        schedule: {times_per_week: 3}\n  - id: p-200",
        1,
    )
    assert changed.count("worry-time") == 1 and "weighed" in changed
    (tmp_path / "plan.yml").write_text(changed, encoding="utf-8")
    with transaction(sessions) as session:
        apply_plan(load_plan(tmp_path / "plan.yml"), session=session, invite_ttl_days=14)
    with sessions() as session:
        due = introductions.due(session=session, now=utcnow())
        # Alex (in the chat) hears of both; Jo, not linked, meets her tasks at linking.
        assert sorted(d.task_id for d in due) == ["thought-record", "worry-time"]
    # Applied again unchanged: nothing more to tell.
    with transaction(sessions) as session:
        for task in session.scalars(select(Assignment)):
            task.introduced_at = utcnow()
        apply_plan(load_plan(tmp_path / "plan.yml"), session=session, invite_ttl_days=14)
    with sessions() as session:
        assert introductions.due(session=session, now=utcnow()) == []

"""/forget leaves nothing of the patient: every table, the Rasa tracker and the job store.

Seeds everything a patient can leave behind (check-in with a reflection, barrier in
their words, crisis event, worksheet, schedule changes, nudge log with a follow-up,
scheduled jobs in APScheduler's store, tracker events), erases through the bot's own
/forget flow, then reads every table of both databases for anything of theirs.
"""

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import Column, MetaData, String, Table, create_engine, func, insert, select

from bot.conversation import Conversation, Sender
from bot.erasures import Deletion
from data import barriers, chat_messages, checkins, safety_events, schedule_changes, tasks, worksheets
from data.care_plans import apply_plan
from data.db import make_engine, transaction
from data.models import Assignment, NudgeLog, Patient, utcnow
from data.plan_schema import load_plan
from data.report import build_report
from data.wording import content
from messaging.rasa_client import RasaClient
from scheduler import jobs
from scheduler.service import NudgeScheduler

FIXTURES = Path(__file__).parent.parent / "fixtures"
TELEGRAM_ID = 918273645
SECRET_WORDS = "zebra crossing on the ferry"


def _seed(sessions) -> tuple[str, list[int]]:
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
    with transaction(sessions) as session:
        patient = session.get(Patient, "p-100")
        patient.telegram_user_id = patient.telegram_chat_id = TELEGRAM_ID
        patient.linked_at = patient.consented_at = utcnow()
        patient.silent_nudges = True
        # Quiet for one minute only: the follow-up job exists whatever the hour the test runs at.
        patient.routine = {"preferred_times": ["08:00", "19:00"], "quiet_hours": ["04:00", "04:01"]}
        task = session.scalar(select(Assignment).where(Assignment.task_id == "thought-record"))
        row, _ = checkins.record_checkin(
            session=session, assignment_id=task.id, status="done", dedupe_key="k1"
        )
        row.reflection, row.reflection_shared = SECRET_WORDS, True
        barriers.record_barrier(
            session=session,
            patient_id="p-100",
            assignment_id=task.id,
            category="time",
            words=SECRET_WORDS,
            option="smaller",
            plan=f"When {SECRET_WORDS}, I will do it",
            flag_for_therapist=False,
            dedupe_key="b1",
        )
        safety_events.record_event(
            session=session,
            patient_id="p-100",
            kind="resistance",
            detected_by="nlu",
            dedupe_key="r1",
            words=SECRET_WORDS,
        )
        worksheet = worksheets.start(session=session, patient_id="p-100", assignment=task)
        worksheets.answer(session=session, worksheet_id=worksheet.id, text=SECRET_WORDS, dedupe_key="w1")
        tasks.set_expectation(session=session, assignment_id=task.id, rating=4)
        for kind, extra in (("once", {"at": utcnow() + dt.timedelta(hours=2)}), ("move", {"clock": "07:45"})):
            schedule_changes.request(
                session=session,
                patient_id="p-100",
                assignment_id=task.id,
                kind=kind,
                dedupe_key=kind,
                **extra,
            )
        sent = utcnow() - dt.timedelta(minutes=5)
        session.add(NudgeLog(assignment_id=task.id, scheduled_for=sent, status="sent", sent_at=sent))
        assert (
            chat_messages.record(session=session, chat_id=TELEGRAM_ID, message_ids=[7, 8], from_bot=True) == 2
        )
        return patient.sender_id, [task.id]


def test_forget_leaves_nothing_of_the_patient_anywhere(db_url, sessions, tmp_path):
    sender_id, assignment_ids = _seed(sessions)
    # The scheduler derives its jobs (weekly, one-off, follow-up) into APScheduler's store.
    engine = make_engine(db_url)

    async def no_delivery(*_):
        return "failed"

    async def schedule():
        service = NudgeScheduler(
            engine=engine, sessions=sessions, runtime=jobs.Runtime(sessions, None, no_delivery)
        )
        await service.start()
        ids = service.job_ids()
        await service.stop()
        return ids

    job_ids = asyncio.run(schedule())
    assert {j.split(":")[0] for j in job_ids} == {"nudge", "nudge-once", "follow"}
    # Rasa's tracker store, with the conversation under the patient's sender id.
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    tracker = create_engine(tracker_url)
    events = Table("events", MetaData(), Column("sender_id", String(255)), Column("data", String(2000)))
    events.metadata.create_all(tracker)
    with tracker.begin() as connection:
        connection.execute(insert(events), [{"sender_id": sender_id, "data": SECRET_WORDS}] * 3)

    alex = Sender(telegram_user_id=TELEGRAM_ID, chat_id=TELEGRAM_ID)
    cleared = []

    async def clear_chat(chat_id, message_ids):
        cleared.append((chat_id, message_ids))
        return Deletion(deleted=message_ids)

    conversation = Conversation(
        sessions=sessions,
        rasa=RasaClient("http://127.0.0.1:9", "t", timeout=1),
        invite_ttl_days=14,
        rasa_tracker_url=tracker_url,
        clear_chat=clear_chat,
    )
    [done] = asyncio.run(conversation.on_button(alex, "bw:forget:yes", "f1"))
    said = content()["forget_done"]
    assert done.text == " ".join(said[k] for k in ("erased", "chat_all", "chat_older", "goodbye"))
    assert cleared == [(TELEGRAM_ID, [7, 8])]

    # Every table, every row, every column: no trace of the sender id, the Telegram id or their words.
    app_tables = MetaData()
    app_tables.reflect(bind=engine)
    traces = []
    with engine.connect() as connection:
        for table in app_tables.sorted_tables:
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    if sender_id in text or str(TELEGRAM_ID) in text or "zebra crossing" in text:
                        traces.append(f"{table.name}.{column}")
        jobs_left = [r.id for r in connection.execute(select(app_tables.tables["apscheduler_jobs"].c.id))]
    assert traces == []
    assert not [j for j in jobs_left if any(f":{a}:" in j for a in assignment_ids)], jobs_left
    assert not [j for j in jobs_left if j.startswith(("nudge-once:", "follow:"))], jobs_left
    with tracker.connect() as connection:
        assert connection.execute(select(func.count()).select_from(events)).scalar() == 0
    tracker.dispose()
    with sessions() as session:
        task = session.get(Assignment, assignment_ids[0])
        assert task.expected_helpfulness is None and task.rationale_shown_at is None
        [report] = build_report(session=session, patient_id="p-100")
    assert report["erased"] is True and report["checkins"] == [] and report["barriers"] == []
    assert report["resistance"] == [] and report["crisis"] == []
    engine.dispose()

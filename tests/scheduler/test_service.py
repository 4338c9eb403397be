"""Jobs derived from rows, in APScheduler's persistent store on a real database."""

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from data.care_plans import apply_plan
from data.db import make_engine, transaction
from data.models import Assignment, CheckIn, NudgeLog, Patient, ScheduleChange, utcnow
from data.plan_schema import load_plan, parse_plan
from scheduler import jobs
from scheduler.jobs import _claim
from scheduler.service import NudgeScheduler

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _plan(sessions, raw=None):
    plan = parse_plan(raw) if raw else load_plan(FIXTURES / "plan.yml")
    with transaction(sessions) as session:
        apply_plan(plan, session=session, invite_ttl_days=14)


def _link(sessions, patient_id, chat_id):
    with transaction(sessions) as session:
        patient = session.get(Patient, patient_id)
        patient.telegram_user_id = patient.telegram_chat_id = chat_id
        patient.linked_at = patient.consented_at = utcnow()


async def _reconcile_twice(db_url, sessions):
    async def deliver(outgoing):
        return "delivered"

    engine = make_engine(db_url)
    service = NudgeScheduler(engine=engine, sessions=sessions, runtime=jobs.Runtime(sessions, None, deliver))
    await service.start()
    ids = service.job_ids()
    again = await service.reconcile()
    await service.stop()
    engine.dispose()
    return ids, again


def test_jobs_follow_the_rows_and_survive_a_restart(db_url, sessions):
    _plan(sessions)
    ids, _ = asyncio.run(_reconcile_twice(db_url, sessions))
    assert ids == []  # nobody linked and consenting yet: no nudges
    _link(sessions, "p-100", 4100)
    ids, again = asyncio.run(_reconcile_twice(db_url, sessions))
    with sessions() as session:
        task = session.scalar(select(Assignment).where(Assignment.task_id == "thought-record"))
    assert ids == [f"nudge:{task.id}:0"]
    assert again == {"added": 0, "replaced": 0, "removed": 0}  # nothing churns

    # A fresh scheduler on the same database finds the persisted job as it was.
    ids, again = asyncio.run(_reconcile_twice(db_url, sessions))
    assert ids == [f"nudge:{task.id}:0"] and again["added"] == 0

    raw = load_plan(FIXTURES / "plan.yml").model_dump(mode="json")
    raw["patients"][0]["tasks"][0]["schedule"] = {"days": ["tue"], "at": "08:30"}
    _plan(sessions, raw)
    ids, _ = asyncio.run(_reconcile_twice(db_url, sessions))
    assert ids == [f"nudge:{task.id}:0"]  # replaced in place, no duplicate
    raw["patients"][0]["tasks"] = []
    _plan(sessions, raw)
    ids, _ = asyncio.run(_reconcile_twice(db_url, sessions))
    assert ids == []  # no orphans


def test_a_nudge_is_claimed_once_and_not_after_the_task_is_done(sessions):
    _plan(sessions)
    _link(sessions, "p-100", 4100)
    when = utcnow().replace(second=0, microsecond=0)
    with transaction(sessions) as session:
        task_id = session.scalar(select(Assignment.id).where(Assignment.task_id == "thought-record"))
        assert _claim(session, task_id, when) is not None
    with transaction(sessions) as session:
        assert _claim(session, task_id, when) is None  # the same firing again: nothing
    with transaction(sessions) as session:
        session.add(CheckIn(assignment_id=task_id, status="done", dedupe_key="k", reported_at=utcnow()))
    with transaction(sessions) as session:
        later = when + dt.timedelta(minutes=1)
        assert _claim(session, task_id, later) is None  # done today: no nudge
    with sessions() as session:
        assert session.scalar(select(func.count(NudgeLog.id))) == 1
        walk = session.scalar(select(Assignment.id).where(Assignment.task_id == "walk"))
    with transaction(sessions) as session:
        assert _claim(session, walk, when) is None  # p-200 never linked


def test_paused_backed_off_and_moved_nudges(db_url, sessions):
    from data import schedule_changes, tasks
    from scheduler.nudges import wanted_jobs

    def trigger_of(task_id):
        with sessions() as session:
            return {job.id: job for job in wanted_jobs(session=session)}[f"nudge:{task_id}:0"].trigger

    _plan(sessions)
    _link(sessions, "p-100", 4100)
    when = utcnow().replace(second=0, microsecond=0)
    with transaction(sessions) as session:
        task_id = session.scalar(select(Assignment.id).where(Assignment.task_id == "thought-record"))
        schedule_changes.request(
            session=session, patient_id="p-100", kind="pause", dedupe_key="p", at=when + dt.timedelta(days=7)
        )
    with transaction(sessions) as session:
        assert _claim(session, task_id, when) is None  # paused
        session.execute(ScheduleChange.__table__.delete())
    full = trigger_of(task_id)
    with transaction(sessions) as session:
        tasks.back_off(session=session, assignment_ids=[task_id])
    # After pushback: the same slots, half as often (mon, wed, fri → mon, fri).
    eased = trigger_of(task_id)
    assert "frequency=0.5" in str(eased) and "frequency=1" in str(full)
    with transaction(sessions) as session:
        session.add(CheckIn(assignment_id=task_id, status="partial", dedupe_key="k", reported_at=utcnow()))
    assert str(trigger_of(task_id)) == str(full)  # re-engaged: the full schedule again
    with transaction(sessions) as session:
        assert _claim(session, task_id, when + dt.timedelta(minutes=2)) is not None
        schedule_changes.request(
            session=session, patient_id="p-100", kind="move", clock="07:45", dedupe_key="m"
        )
        schedule_changes.request(
            session=session,
            patient_id="p-100",
            assignment_id=task_id,
            kind="once",
            at=when + dt.timedelta(hours=1),
            dedupe_key="o",
        )
    with sessions() as session:
        wanted = {job.id: job for job in wanted_jobs(session=session)}
    assert "hour='7', minute='45'" in str(wanted[f"nudge:{task_id}:0"].trigger)
    [once] = [j for j in wanted.values() if j.id.startswith("nudge-once:")]
    assert once.func == "scheduler.jobs:send_once"

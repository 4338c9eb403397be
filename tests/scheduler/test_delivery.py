"""Delivery: once and only once, retries, the lease, follow-ups, back-off, unreachable patients.

Real databases (SQLite and PostgreSQL), real APScheduler, a loopback Rasa HTTP
API stand-in; deliveries are recorded by the test's own `deliver`.
"""

import asyncio
import contextlib
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data import nudge_log
from data.care_plans import apply_plan
from data.db import make_engine, transaction
from data.models import Assignment, NudgeLog, Patient, SafetyEvent, UnreachablePeriod, utcnow
from data.plan_schema import load_plan
from messaging.rasa_client import RasaClient
from scheduler import jobs
from scheduler.service import FOLLOW_UP_AFTER, NudgeScheduler, _awake
from tests.support.rasa_stub import RasaStub

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def linked(sessions):
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
    with transaction(sessions) as session:
        patient = session.get(Patient, "p-100")
        patient.telegram_user_id = patient.telegram_chat_id = 4100
        patient.linked_at = patient.consented_at = utcnow()
        return session.scalar(select(Assignment.id).where(Assignment.task_id == "thought-record"))


class Recorder:
    """The bot's side of delivery: what it was asked to send, and what it answers."""

    def __init__(self, answer="delivered"):
        self.sent: list[tuple[str, int, str, bool]] = []
        self.answer = answer

    async def __call__(self, outgoing):
        if self.answer != "failed":
            await outgoing.before_send()
        if self.answer == "delivered":
            self.sent += [
                (outgoing.patient_id, outgoing.chat_id, r.text, outgoing.silent) for r in outgoing.replies
            ]
        return self.answer


def _runtime(sessions, rasa_url, deliver):
    return jobs.Runtime(sessions, RasaClient(rasa_url, "stub-token", timeout=5), deliver)


@contextlib.asynccontextmanager
async def _running(db_url, sessions, rasa_url, recorder, **options):
    """A started NudgeScheduler on its own engine, stopped and disposed afterwards."""
    engine = make_engine(db_url)
    service = NudgeScheduler(
        engine=engine, sessions=sessions, runtime=_runtime(sessions, rasa_url, recorder), **options
    )
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
        engine.dispose()


def _now_minute():
    return utcnow().replace(second=0, microsecond=0)


def _fire(sessions, recorder, *firings):
    """Run job coroutines (made by the callables given, in order, from one runtime, as the
    scheduler's executor does); returns their results and what the Rasa stand-in was asked."""

    async def scenario(rasa_url):
        runtime = _runtime(sessions, rasa_url, recorder)
        return [await firing(runtime) for firing in firings]

    with RasaStub() as rasa:
        return asyncio.run(scenario(rasa.url)), rasa.calls


def _statuses(sessions):
    with sessions() as session:
        return [row.status for row in session.scalars(select(NudgeLog).order_by(NudgeLog.id))]


def test_a_nudge_goes_out_once_however_often_it_fires(sessions, linked):
    recorder = Recorder()
    when = _now_minute().isoformat()
    [results], calls = _fire(
        sessions, recorder, lambda rt: asyncio.gather(*(jobs.send_nudge(rt, linked, when) for _ in range(5)))
    )
    assert sorted(results) == ["sent"] + ["skipped"] * 4
    assert len(calls) == 1 and calls[0][1] == "EXTERNAL_checkin"
    assert len(recorder.sent) == 1 and _statuses(sessions) == ["sent"]


def test_rasa_down_the_nudge_is_retried_not_lost(db_url, sessions, linked):
    recorder = Recorder()

    async def scenario(rasa):
        async with _running(db_url, sessions, rasa.url, recorder) as service:
            rasa.failing = True
            first = await jobs.send_nudge(service.runtime, linked, _now_minute().isoformat())
            rasa.failing = False
            await service.reconcile()  # the upkeep loop retries failed nudges
        return first

    with RasaStub() as rasa:
        assert asyncio.run(scenario(rasa)) == "failed"
    assert len(recorder.sent) == 1 and _statuses(sessions) == ["sent"]
    with sessions() as session:
        assert session.scalar(select(NudgeLog.attempts)) == 2


def test_a_takeover_resends_what_never_left_and_never_what_may_have(db_url, sessions, linked):
    now = utcnow().replace(second=0, microsecond=0)
    with transaction(sessions) as session:
        # A scheduler died: one nudge claimed but not handed over, one mid-send.
        session.add(NudgeLog(assignment_id=linked, scheduled_for=now, status="pending"))
        session.add(
            NudgeLog(assignment_id=linked, scheduled_for=now - dt.timedelta(minutes=5), status="sending")
        )
    recorder = Recorder()

    async def scenario(rasa_url):
        async with _running(db_url, sessions, rasa_url, recorder):
            pass

    with RasaStub() as rasa:
        asyncio.run(scenario(rasa.url))
    assert len(recorder.sent) == 1
    assert sorted(_statuses(sessions)) == ["sent", "unknown"]


def test_one_scheduler_owns_the_job_store_and_a_second_takes_over(db_url, sessions, linked):
    async def scenario(rasa_url):
        engine = make_engine(db_url)

        def service():
            return NudgeScheduler(
                engine=engine,
                sessions=sessions,
                runtime=_runtime(sessions, rasa_url, Recorder()),
                reconcile_seconds=0.2,
                lease_seconds=3,
            )

        first, second = service(), service()
        await first.start()
        await second.start()
        owners = (first.owns_job_store, second.owns_job_store)
        await asyncio.sleep(3.5)  # past the lease's first term: the first renewed it
        still = (first.owns_job_store, second.owns_job_store)
        await first.stop()  # releases the lease
        for _ in range(60):
            if second.owns_job_store:
                break
            await asyncio.sleep(0.1)
        after = second.owns_job_store, second.job_ids()
        await second.stop()
        engine.dispose()
        return owners, still, after

    with RasaStub() as rasa:
        owners, still, (taken, ids) = asyncio.run(scenario(rasa.url))
    assert owners == (True, False) and still == (True, False)
    assert taken and ids == [f"nudge:{linked}:0"]


def test_blocked_patient_is_unreachable_and_gets_no_more_nudges(sessions, linked):
    now = _now_minute()
    results, _ = _fire(
        sessions,
        Recorder(answer="unreachable"),
        lambda rt: jobs.send_nudge(rt, linked, now.isoformat()),
        lambda rt: jobs.send_nudge(rt, linked, (now + dt.timedelta(minutes=1)).isoformat()),
    )
    assert results == ["unreachable", "skipped"]
    with sessions() as session:
        blocked = session.get(Patient, "p-100").unreachable_at
        assert blocked is not None
        # Kept as a period, open until they write again (tests/data/test_unreachable_periods.py).
        periods = session.scalars(select(UnreachablePeriod)).all()
        assert [(p.patient_id, p.started_at, p.ended_at) for p in periods] == [("p-100", blocked, None)]
    assert _statuses(sessions) == ["unreachable"]


def test_silent_nudges_reach_the_bot_as_silent(sessions, linked):
    with transaction(sessions) as session:
        session.get(Patient, "p-100").silent_nudges = True
    recorder = Recorder()
    _fire(sessions, recorder, lambda rt: jobs.send_nudge(rt, linked, _now_minute().isoformat()))
    assert [silent for *_, silent in recorder.sent] == [True]


def test_one_follow_up_for_an_unanswered_nudge_and_none_once_answered(db_url, sessions, linked):
    sent_at = utcnow() - dt.timedelta(minutes=1)
    with transaction(sessions) as session:
        # No quiet hours, so the follow-up's time of day doesn't decide this test.
        session.get(Patient, "p-100").routine = {"quiet_hours": ["03:00", "03:00"]}
        row = NudgeLog(assignment_id=linked, scheduled_for=sent_at, status="sent", sent_at=sent_at)
        session.add(row)
        session.flush()
        log_id = row.id
    recorder = Recorder()

    async def scenario(rasa_url):
        async with _running(db_url, sessions, rasa_url, recorder) as service:
            wanted = service.job_ids()
            results = [
                await jobs.send_follow_up(service.runtime, log_id),
                await jobs.send_follow_up(service.runtime, log_id),
            ]
        return wanted, results

    with RasaStub() as rasa:
        wanted, results = asyncio.run(scenario(rasa.url))
        assert f"follow:{log_id}" in wanted
        assert results == ["sent", "skipped"]  # at most one follow-up
        assert rasa.calls[0][2] == {"task_id": "thought-record", "nudge": "follow_up"}

    # An answered nudge gets no follow-up.
    with transaction(sessions) as session:
        row = NudgeLog(
            assignment_id=linked,
            scheduled_for=sent_at + dt.timedelta(minutes=1),
            status="sent",
            sent_at=sent_at,
        )
        session.add(row)
        session.flush()
        second = row.id
        nudge_log.mark_answered(session=session, patient_id="p-100")
    with transaction(sessions) as session:
        assert nudge_log.claim_follow_up(session=session, log_id=second) is None


def test_awake_respects_quiet_hours_across_midnight():
    patient = Patient(timezone="Europe/London", routine={"quiet_hours": ["22:00", "07:00"]})
    at = lambda h, m=0: dt.datetime(2026, 12, 1, h, m, tzinfo=dt.timezone.utc)  # noqa: E731 - GMT in December
    assert _awake(patient, at(12)) and _awake(patient, at(21, 59)) and _awake(patient, at(7))
    assert not _awake(patient, at(22)) and not _awake(patient, at(3)) and not _awake(patient, at(6, 59))
    # A follow-up three hours after a 20:00 nudge would land in quiet hours: none is planned.
    assert not _awake(patient, at(20) + FOLLOW_UP_AFTER)


def test_three_unanswered_nudges_halve_the_schedule_until_the_patient_answers(sessions, linked):
    start = utcnow() - dt.timedelta(days=7)
    with transaction(sessions) as session:
        for i in range(3):
            at = start + dt.timedelta(days=i)
            session.add(NudgeLog(assignment_id=linked, scheduled_for=at, status="sent", sent_at=at))
    _fire(sessions, Recorder(), lambda rt: jobs.send_nudge(rt, linked, _now_minute().isoformat()))
    with transaction(sessions) as session:
        assert session.get(Assignment, linked).reduced_at is not None  # the therapist sees it
        nudge_log.mark_answered(session=session, patient_id="p-100")
    with sessions() as session:
        assert session.get(Assignment, linked).reduced_at is None  # re-engaged: full schedule
        assert nudge_log.unanswered_streak(session=session, assignment_id=linked) == 0


def test_a_nudge_too_late_to_send_is_recorded_as_missed(db_url, sessions, linked):
    from apscheduler.triggers.date import DateTrigger

    async def scenario(rasa_url):
        late = _now_minute() - dt.timedelta(minutes=10)
        async with _running(db_url, sessions, rasa_url, Recorder(), misfire_grace_seconds=1) as service:
            service._scheduler.add_job(
                "scheduler.jobs:send_nudge",
                trigger=DateTrigger(run_date=late),
                id=f"nudge:{linked}:9",
                args=[linked],
            )
            await asyncio.sleep(0.5)
        return late

    with RasaStub() as rasa:
        late = asyncio.run(scenario(rasa.url))
        assert rasa.calls == []
    with sessions() as session:
        rows = session.scalars(select(NudgeLog)).all()
    assert [(r.status, r.scheduled_for) for r in rows] == [("missed", late)]
    with sessions() as session:
        assert session.scalar(select(func.count(NudgeLog.id))) == 1


def test_the_report_shows_unanswered_nudges_reduced_tasks_and_unreachable_patients(sessions, linked):
    from zoneinfo import ZoneInfo

    from data.report import build_report

    # Linked four days ago; the task's one weekly time was three days ago and went unanswered.
    long_ago = (utcnow() - dt.timedelta(days=3)).replace(second=0, microsecond=0)
    london = long_ago.astimezone(ZoneInfo("Europe/London"))
    with transaction(sessions) as session:
        session.add(NudgeLog(assignment_id=linked, scheduled_for=long_ago, status="sent", sent_at=long_ago))
        session.add(NudgeLog(assignment_id=linked, scheduled_for=utcnow(), status="sent", sent_at=utcnow()))
        task = session.get(Assignment, linked)
        task.schedule = {"days": [london.strftime("%a").lower()], "at": london.strftime("%H:%M")}
        task.reduced_at = utcnow()
        alex = session.get(Patient, "p-100")
        alex.routine = {}
        alex.consented_at = utcnow() - dt.timedelta(days=4)
        alex.unreachable_at = utcnow()
    with sessions() as session:
        [alex] = build_report(session=session, patient_id="p-100")
    # The planned time left unanswered for a day counts as no response; the fresh nudge is
    # not a planned time (its answer window is still open anyway).
    assert alex["checkins"] == [
        {"task_id": "thought-record", "due_at": long_ago.isoformat(), "status": "no_response"}
    ]
    assert alex["completion_rate"] == 0.0 and alex["tasks"][0]["no_response"] == 1
    assert alex["unreachable_since"] is not None
    assert alex["tasks"][0]["nudges_reduced_at"] is not None


def test_after_a_crash_the_next_scheduler_sends_what_the_dead_one_fired_and_lost(db_url, sessions, linked):
    from zoneinfo import ZoneInfo

    from data.models import SchedulerLease

    now = utcnow()
    london = (now - dt.timedelta(minutes=10)).astimezone(ZoneInfo("Europe/London"))
    with transaction(sessions) as session:
        task = session.get(Assignment, linked)
        task.schedule = {"days": [london.strftime("%a").lower()], "at": london.strftime("%H:%M")}
        session.get(Patient, "p-100").routine = {}
        # A scheduler that held the lease for an hour died without a word, its
        # 10-minutes-ago nudge fired (APScheduler moved the job on) but never claimed.
        session.add(
            SchedulerLease(
                name="nudges",
                owner="dead",
                acquired_at=now - dt.timedelta(hours=1),
                expires_at=now - dt.timedelta(minutes=1),
            )
        )
    recorder = Recorder()

    async def scenario(rasa_url):
        async with _running(db_url, sessions, rasa_url, recorder):
            for _ in range(300):  # a busy CI machine can take seconds
                # Sent and written down as sent: stopping between the two is another test's case.
                if recorder.sent and _statuses(sessions) == ["sent"]:
                    break
                await asyncio.sleep(0.1)
        # A clean restart is no rescue: nothing is sent again.
        async with _running(db_url, sessions, rasa_url, recorder):
            await asyncio.sleep(0.5)

    with RasaStub() as rasa:
        asyncio.run(scenario(rasa.url))
    assert len(recorder.sent) == 1
    with sessions() as session:
        [row] = session.scalars(select(NudgeLog)).all()
    assert row.status == "sent" and row.scheduled_for == london.replace(second=0, microsecond=0)


def test_no_nudges_for_a_day_after_a_crisis_response(sessions, linked):
    from data import safety_events

    with transaction(sessions) as session:
        safety_events.record_event(
            session=session, patient_id="p-100", kind="crisis", detected_by="safety_net", dedupe_key="c1"
        )
    recorder = Recorder()
    [result], calls = _fire(
        sessions, recorder, lambda rt: jobs.send_nudge(rt, linked, _now_minute().isoformat())
    )
    assert result == "skipped" and calls == [] and recorder.sent == []
    with transaction(sessions) as session:
        for event in session.scalars(select(SafetyEvent)):
            event.at = utcnow() - dt.timedelta(hours=25)
    [result], _ = _fire(sessions, recorder, lambda rt: jobs.send_nudge(rt, linked, _now_minute().isoformat()))
    assert result == "sent"


def test_a_weekly_firing_is_logged_under_its_planned_time_even_when_late(sessions, linked):
    from zoneinfo import ZoneInfo

    slot = (utcnow() - dt.timedelta(minutes=3)).astimezone(ZoneInfo("Europe/London"))
    with transaction(sessions) as session:
        session.get(Assignment, linked).schedule = {
            "days": [slot.strftime("%a").lower()],
            "at": slot.strftime("%H:%M"),
        }
        session.get(Patient, "p-100").routine = {}
    # APScheduler passes no time: the job works out which planned nudge it is.
    [result], _ = _fire(sessions, Recorder(), lambda rt: jobs.send_nudge(rt, linked))
    assert result == "sent"
    with sessions() as session:
        [row] = session.scalars(select(NudgeLog)).all()
    assert row.scheduled_for == slot.replace(second=0, microsecond=0)

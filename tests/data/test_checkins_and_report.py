import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from data import checkins, patients, safety_events
from data.care_plans import apply_plan
from data.db import transaction
from data.erasure import erase_patient
from data.models import Assignment, Barrier, CheckIn, Invite, Patient, SafetyEvent, Worksheet
from data.occurrences import completion_rate
from data.plan_schema import load_plan
from data.report import build_report

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _setup(sessions):
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)


def _task(session, task_id="thought-record"):
    return session.scalar(select(Assignment).where(Assignment.task_id == task_id))


def test_a_retried_message_writes_one_checkin(sessions):
    _setup(sessions)
    for _ in range(3):
        with transaction(sessions) as session:
            row, created = checkins.record_checkin(
                session=session,
                assignment_id=_task(session).id,
                status="done",
                dedupe_key="pz-x:tg42",
            )
    assert not created and row.status == "done"
    with sessions() as session:
        assert session.scalar(select(func.count(CheckIn.id))) == 1


def test_pick_task_by_words_id_or_only_one(sessions):
    _setup(sessions)
    with sessions() as session:
        alex = patients.active_tasks(session=session, patient_id="p-100")
        assert checkins.pick_task(alex, "did my THOUGHT record", None).task_id == "thought-record"
        assert checkins.pick_task(alex, "done", None).task_id == "thought-record"  # the only one
        assert checkins.pick_task(alex, None, "walk") is None  # not Alex's task
        both = alex + patients.active_tasks(session=session, patient_id="p-200")
        assert checkins.pick_task(both, "went on my walk", None).task_id == "walk"
        assert checkins.pick_task(both, "did it", None) is None


def test_report_has_the_contract_shape(sessions):
    _setup(sessions)
    with transaction(sessions) as session:
        task_id = _task(session).id
        checkins.record_checkin(session=session, assignment_id=task_id, status="done", dedupe_key="a")
        row, _ = checkins.record_checkin(
            session=session, assignment_id=task_id, status="partial", dedupe_key="b"
        )
        row.reflection = "kept to myself"
        row.helpfulness = 4
        session.add(
            Barrier(
                patient_id="p-100",
                assignment_id=task_id,
                category="time",
                words="busy",
                plan="at lunch",
            )
        )
        safety_events.record_event(
            session=session, patient_id="p-100", kind="crisis", detected_by="nlu", dedupe_key="c1"
        )
        safety_events.record_event(
            session=session, patient_id="p-100", kind="crisis", detected_by="nlu", dedupe_key="c1"
        )
    with sessions() as session:
        [report] = build_report(session=session, patient_id="p-100")
    assert set(report) >= {
        "patient_id",
        "therapist_id",
        "tasks",
        "checkins",
        "barriers",
        "resistance",
        "crisis",
        "completion_rate",
    }
    assert report["therapist_id"] == "t-test"
    assert report["tasks"][0]["id"] == "thought-record"
    assert [c["status"] for c in report["checkins"]] == ["done", "partial"]
    assert report["checkins"][1]["helpfulness"] == 4
    assert report["checkins"][1]["reflection"] is None  # not shared, so not shown
    assert report["barriers"][0]["category"] == "time" and report["barriers"][0]["plan"] == "at lunch"
    assert len(report["crisis"]) == 1 and report["crisis"][0]["detected_by"] == "nlu"
    # Completion is over planned occurrences, and Alex never linked, so none were planned:
    # the two check-ins are shown but answer no occurrence (the old rate, 0.75, was over them).
    assert report["completion_rate"] is None and report["tasks"][0]["planned"] == 0
    assert [c["answers_due_at"] for c in report["checkins"]] == [None, None]
    assert report["tasks"][0]["extra"] == 2
    tomorrow = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    with sessions() as session:
        [later] = build_report(session=session, patient_id="p-100", since=tomorrow)
    assert later["checkins"] == [] and later["crisis"] == []


def test_completion_rate():
    assert completion_rate({}) is None
    assert completion_rate({"planned": 3, "open": 3}) is None  # nothing settled yet
    assert completion_rate({"done": 1, "not_done": 1}) == 0.5
    assert completion_rate({"done": 1, "partial": 1, "skipped": 1, "no_response": 1, "open": 5}) == 0.375


def test_erasure_leaves_nothing_of_the_patient(sessions):
    _setup(sessions)
    with transaction(sessions) as session:
        task_id = _task(session).id
        checkins.record_checkin(session=session, assignment_id=task_id, status="done", dedupe_key="a")
        safety_events.record_event(
            session=session, patient_id="p-100", kind="crisis", detected_by="nlu", dedupe_key="c"
        )
        session.add(
            Worksheet(
                patient_id="p-100",
                assignment_id=task_id,
                template="thought_record",
                answers={"situation": "on the bus"},
                step=1,
                status="in_progress",
            )
        )
        old = session.get(Patient, "p-100").sender_id
        assert erase_patient(session=session, patient_id="p-100").old_sender == old
    with sessions() as session:
        patient = session.get(Patient, "p-100")
        assert patient.erased_at and patient.telegram_user_id is None and patient.sender_id != old
        assert session.scalar(select(func.count(CheckIn.id))) == 0
        assert session.scalar(select(func.count(SafetyEvent.id))) == 0
        assert session.scalar(select(func.count(Worksheet.id))) == 0
        assert session.scalar(select(func.count(Invite.id)).where(Invite.patient_id == "p-100")) == 0
        [report] = build_report(session=session, patient_id="p-100")
        assert report["erased"] is True and report["checkins"] == []


def test_report_shows_what_the_patient_said_about_each_task(sessions):
    from data import tasks

    _setup(sessions)
    with transaction(sessions) as session:
        task_id = _task(session).id
        tasks.set_expectation(session=session, assignment_id=task_id, rating=4)
        tasks.back_off(session=session, assignment_ids=[task_id])
    with sessions() as session:
        [report] = build_report(session=session, patient_id="p-100")
    [task] = report["tasks"]
    assert task["expected_helpfulness"] == 4 and task["backed_off_at"] is not None

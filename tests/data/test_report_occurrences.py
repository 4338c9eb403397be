"""The report counts planned occurrences, whatever was (or wasn't) reported."""

import datetime as dt

from sqlalchemy import select

from data import checkins, occurrences
from data.db import transaction
from data.models import Assignment, NudgeLog, utcnow
from data.report import build_report
from tests.support import report_scenario as scenario
from tests.support.report_scenario import NOW, at


def test_each_planned_occurrence_gets_one_status(sessions):
    scenario.seed(sessions)
    with sessions() as session:
        [alex] = build_report(session=session, patient_id="p-100", now=NOW)
    [task] = alex["tasks"]
    assert {k: task[k] for k in scenario.EXPECTED} == scenario.EXPECTED
    assert task["extra"] == 1 and task["completion_rate"] == scenario.EXPECTED_RATE == 0.389
    assert alex["completion_rate"] == scenario.EXPECTED_RATE
    assert alex["occurrences"] == scenario.EXPECTED
    unanswered = [
        (c["due_at"], c["status"], c.get("skipped_because"))
        for c in alex["checkins"]
        if "reported_at" not in c
    ]
    assert unanswered == [
        (at(9, 19).isoformat(), "skipped", "pause"),
        (at(11, 19).isoformat(), "no_response", None),
        (at(13, 19).isoformat(), "skipped", "crisis"),
        (at(20, 19).isoformat(), "no_response", None),
    ]
    answered = {c["reported_at"]: c["answers_due_at"] for c in alex["checkins"] if "reported_at" in c}
    assert answered[at(17, 8).isoformat()] == at(16, 19).isoformat()  # spontaneous, next morning
    assert answered[at(17, 9).isoformat()] is None  # extra: nothing left to answer
    assert answered[at(18, 21).isoformat()] == at(18, 19).isoformat()  # a nudge moved to 20:30


def test_the_weekly_series_counts_by_status_and_averages_the_ratings(sessions):
    scenario.seed(sessions)
    with sessions() as session:
        [alex] = build_report(session=session, patient_id="p-100", now=NOW)
    weeks = {w["week_start"]: w for w in alex["weeks"]}
    assert list(weeks) == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    pick = ("done", "partial", "not_done", "no_response", "skipped", "open", "extra")
    assert [tuple(w[k] for k in pick) for w in weeks.values()] == [
        (1, 1, 1, 0, 0, 0, 0),
        (0, 0, 0, 1, 2, 0, 0),
        (2, 0, 0, 1, 0, 0, 1),
        (0, 0, 0, 0, 0, 1, 0),
    ]
    assert weeks["2026-11-02"]["helpfulness"] == 2.5 and weeks["2026-11-02"]["difficulty"] == 3.5
    assert weeks["2026-11-09"]["helpfulness"] is None
    assert weeks["2026-11-16"]["helpfulness"] == 4.5 and weeks["2026-11-16"]["difficulty"] == 2
    assert {w["expected_helpfulness"] for w in weeks.values()} == {4}


def test_since_until_and_therapist_narrow_the_report(sessions):
    scenario.seed(sessions)
    with sessions() as session:
        [alex] = build_report(session=session, patient_id="p-100", since=at(9, 0), until=at(16, 0), now=NOW)
        mine = build_report(session=session, therapist_id="t-test", now=NOW)
        theirs = build_report(session=session, therapist_id="t-other", now=NOW)
        nobody = build_report(session=session, therapist_id="t-nobody", now=NOW)
    [task] = alex["tasks"]
    # Nov 9 (paused), 11 (no response), 13 (crisis): nothing else is due in that week.
    assert (task["planned"], task["skipped"], task["no_response"], task["completion_rate"]) == (3, 2, 1, 0.0)
    assert [c["status"] for c in alex["checkins"]] == ["skipped", "no_response", "skipped"]
    assert alex["crisis"] and all(
        at(9, 0).isoformat() <= c["at"] < at(16, 0).isoformat() for c in alex["crisis"]
    )
    assert [p["patient_id"] for p in mine] == ["p-100"]
    assert [p["patient_id"] for p in theirs] == ["p-200"]
    assert nobody == []


def test_nothing_is_planned_before_the_patient_links(sessions):
    scenario.seed(sessions)
    with sessions() as session:
        [jo] = build_report(session=session, patient_id="p-200", now=NOW)
    assert jo["tasks"][0]["planned"] == 0 and jo["completion_rate"] is None and jo["weeks"] == []


def test_a_checkin_answering_a_nudge_carries_its_planned_time(sessions):
    scenario.seed(sessions)
    now = utcnow()
    planned = (now - dt.timedelta(hours=2)).replace(second=0, microsecond=0)
    stale = now - dt.timedelta(days=3)
    with transaction(sessions) as session:
        task = session.scalar(select(Assignment).where(Assignment.task_id == "thought-record"))
        session.add(NudgeLog(assignment_id=task.id, scheduled_for=stale, status="sent", sent_at=stale))
        session.add(NudgeLog(assignment_id=task.id, scheduled_for=planned, status="sent", sent_at=planned))
        session.flush()
        first, _ = checkins.record_checkin(
            session=session, assignment_id=task.id, status="done", dedupe_key="n1"
        )
        # The nudge is answered: a second check-in is spontaneous, and a stale nudge answers nothing.
        second, _ = checkins.record_checkin(
            session=session, assignment_id=task.id, status="done", dedupe_key="n2"
        )
        first_due, second_due = first.due_at, second.due_at
    assert first_due == planned and second_due is None


def test_a_spontaneous_checkin_before_the_days_occurrence_answers_it():
    due = [at(2, 19), at(4, 19)]
    early = occurrences.Reported(1, "done", at(4, 8))  # done in the morning, no nudge that day
    late = occurrences.Reported(2, "partial", at(3, 18))  # within 24h of Nov 2 19:00
    settled = occurrences.settle(
        due, [early, late], now=NOW, answer_window=dt.timedelta(hours=24), timezone="UTC"
    )
    assert [(o.status, o.checkin_id) for o in settled.occurrences] == [("partial", 2), ("done", 1)]
    assert settled.extra == []
    again = occurrences.settle(
        due,
        [early, occurrences.Reported(3, "done", at(4, 9))],
        now=NOW,
        answer_window=dt.timedelta(hours=24),
        timezone="UTC",
    )
    assert [o.checkin_id for o in again.occurrences] == [None, 1] and again.extra == [3]
    assert again.occurrences[0].status == "no_response"


def _task_paused(sessions, paused: dt.datetime, resumed: dt.datetime | None) -> None:
    """The therapist paused Alex's task (and maybe resumed it), as /tasks records it."""
    from data import task_changes
    from data.models import AssignmentChange

    with transaction(sessions) as session:
        task = session.scalar(select(Assignment).where(Assignment.task_id == "thought-record"))
        task.active = resumed is not None
        for row in session.scalars(select(AssignmentChange)):  # the plan's "assigned", back then
            row.at = at(1, 0)
        for action, moment, active in (("pause", paused, False), ("resume", resumed, True)):
            if moment is None:
                continue
            task_changes.record(
                session=session,
                assignment_id=task.id,
                actor="therapist:t-test",
                action=action,
                before={"active": not active},
                after={"active": active},
            )
            session.flush()
            row = session.scalars(select(AssignmentChange).order_by(AssignmentChange.id.desc())).first()
            row.at = moment


def test_a_task_paused_and_resumed_by_the_therapist_skips_what_fell_between(sessions):
    scenario.seed(sessions)
    _task_paused(sessions, at(19, 12), at(21, 12))
    with sessions() as session:
        [alex] = build_report(session=session, patient_id="p-100", now=NOW)
    [task] = alex["tasks"]
    # Nov 20, unanswered before, fell in the therapist's pause: skipped, not no response.
    assert (task["planned"], task["skipped"], task["no_response"], task["open"]) == (10, 3, 1, 1)
    assert task["completion_rate"] == round(3.5 / 9, 3)


def test_a_task_still_paused_counts_until_it_stopped(sessions):
    scenario.seed(sessions)
    _task_paused(sessions, at(19, 12), None)
    with sessions() as session:
        [alex] = build_report(session=session, patient_id="p-100", now=NOW)
    [task] = alex["tasks"]
    # Nov 20 and Nov 23 come after the pause: not planned; what came before still counts.
    assert (task["planned"], task["done"], task["no_response"], task["open"]) == (8, 3, 1, 0)
    assert task["completion_rate"] == round(3.5 / 8, 3)


def test_each_task_has_its_own_weekly_series_for_the_chart(sessions):
    scenario.seed(sessions)
    with sessions() as session:
        [alex] = build_report(session=session, patient_id="p-100", now=NOW)
        [jo] = build_report(session=session, patient_id="p-200", now=NOW)
    [task] = alex["tasks"]
    assert task["weeks"] == alex["weeks"]  # one task: its series is the patient's
    assert all(t["weeks"] == [] for t in jo["tasks"])  # nothing planned before they link

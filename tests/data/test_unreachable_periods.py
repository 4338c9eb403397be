"""Each time a patient can't be reached (Telegram says they blocked the bot) is kept as a
period, closed when they write again; the report lists those overlapping its period, and
erasure takes them with everything else of the patient's."""

import datetime as dt

from sqlalchemy import func, select

from bot.people import heard_from
from data import nudge_log, unreachable
from data.db import transaction
from data.erasure import erase_patient
from data.export import patient_export
from data.models import Patient, UnreachablePeriod
from data.report import build_report
from tests.support import report_scenario as scenario
from tests.support.report_scenario import NOW, at


def _periods(sessions, patient_id="p-100"):
    with sessions() as session:
        rows = session.scalars(
            select(UnreachablePeriod)
            .where(UnreachablePeriod.patient_id == patient_id)
            .order_by(UnreachablePeriod.id)
        )
        return [(r.started_at, r.ended_at) for r in rows]


def _unreachable_at(sessions, patient_id="p-100"):
    with sessions() as session:
        return session.get_one(Patient, patient_id).unreachable_at


def test_blocking_writing_again_and_blocking_again_keeps_two_periods(sessions):
    scenario.seed(sessions)
    with transaction(sessions) as session:  # a nudge finds the bot blocked
        nudge_log.mark_unreachable(session=session, patient_id="p-100")
    with transaction(sessions) as session:  # and the next one too: still the one period
        nudge_log.mark_unreachable(session=session, patient_id="p-100")
    [(first_start, first_end)] = _periods(sessions)
    assert first_end is None and _unreachable_at(sessions) == first_start

    with transaction(sessions) as session:  # they write again
        heard_from(session, "p-100")
    with transaction(sessions) as session:  # and again: nothing more to close
        heard_from(session, "p-100")
    [(start, end)] = _periods(sessions)
    assert start == first_start and end is not None and end >= start
    assert _unreachable_at(sessions) is None

    with transaction(sessions) as session:  # and block it again
        nudge_log.mark_unreachable(session=session, patient_id="p-100")
    (_, closed), (second_start, open_end) = _periods(sessions)
    assert closed is not None and open_end is None and second_start >= closed
    assert _unreachable_at(sessions) == second_start
    assert _periods(sessions, "p-200") == []  # Jo is untouched


def _three_periods(sessions):
    """Nov 3-5, Nov 12-14, and from Nov 20, still."""
    scenario.seed(sessions)
    with transaction(sessions) as session:
        for start, end in ((at(3, 10), at(5, 9)), (at(12, 8), at(14, 18)), (at(20, 7), None)):
            assert unreachable.mark_unreachable(session=session, patient_id="p-100", at=start)
            if end is not None:
                assert unreachable.mark_reachable(session=session, patient_id="p-100", at=end)


def test_the_report_lists_the_periods_that_overlap_it(sessions):
    _three_periods(sessions)

    def periods(**window):
        with sessions() as session:
            [alex] = build_report(session=session, patient_id="p-100", now=NOW, **window)
        return alex

    everything = periods()
    assert everything["unreachable_periods"] == [
        {"from": at(3, 10).isoformat(), "until": at(5, 9).isoformat()},
        {"from": at(12, 8).isoformat(), "until": at(14, 18).isoformat()},
        {"from": at(20, 7).isoformat(), "until": None},
    ]
    assert everything["unreachable_since"] == at(20, 7).isoformat()  # as before: now
    middle = periods(since=at(9, 0), until=at(16, 0))
    assert [p["from"] for p in middle["unreachable_periods"]] == [at(12, 8).isoformat()]
    # Overlapping is enough: one that began before `since` and ended after it is in.
    late = periods(since=at(14, 0))
    assert [p["from"] for p in late["unreachable_periods"]] == [at(12, 8).isoformat(), at(20, 7).isoformat()]
    assert periods(since=at(6, 0), until=at(12, 0))["unreachable_periods"] == []
    with sessions() as session:
        [jo] = build_report(session=session, patient_id="p-200", now=NOW)
    assert jo["unreachable_periods"] == []


def test_the_patients_own_export_has_their_periods(sessions):
    _three_periods(sessions)
    with sessions() as session:
        mine = patient_export(session=session, patient_id="p-100")
    assert [p["until"] for p in mine["times_unreachable"]] == [
        at(5, 9).isoformat(),
        at(14, 18).isoformat(),
        None,
    ]


def test_erasure_removes_the_patients_periods(sessions):
    _three_periods(sessions)
    with transaction(sessions) as session:
        assert unreachable.mark_unreachable(session=session, patient_id="p-200", at=at(21, 9))
    with transaction(sessions) as session:
        erase_patient(session=session, patient_id="p-100")
    assert _periods(sessions) == []
    assert _periods(sessions, "p-200") == [(at(21, 9), None)]  # another patient's stay
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(UnreachablePeriod)) == 1
        [alex] = build_report(session=session, patient_id="p-100", now=NOW)
    assert alex["unreachable_periods"] == [] and alex["unreachable_since"] is None


def test_a_patient_erased_at_retention_loses_their_periods_too(sessions):
    from data.retention import prune

    _three_periods(sessions)
    with transaction(sessions) as session:
        session.get_one(Patient, "p-100").discharged_at = NOW - dt.timedelta(days=200)
    with transaction(sessions) as session:
        assert prune(session=session, retention_days=180, now=NOW).discharged_erased == 1
    assert _periods(sessions) == []

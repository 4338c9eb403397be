from pathlib import Path

from sqlalchemy import select

from data.care_plans import apply_plan
from data.db import transaction
from data.models import Assignment, Invite, Patient
from data.plan_schema import load_plan, parse_plan

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _apply(sessions, plan):
    with transaction(sessions) as session:
        return apply_plan(plan, session=session, invite_ttl_days=14)


def test_apply_creates_then_changes_nothing(sessions):
    plan = load_plan(FIXTURES / "plan.yml")
    first = _apply(sessions, plan)
    assert "created patient p-100" in first
    assert "created task p-100/thought-record" in first
    assert _apply(sessions, plan) == []
    with sessions() as session:
        patient = session.get(Patient, "p-200")
        assert patient.timezone == "Europe/London"  # the clinic's, when the plan gives none
        assert patient.sender_id.startswith("pz-") and "p-200" not in patient.sender_id
        # Only a hash of the invite code is stored.
        hashes = session.scalars(select(Invite.code_hash)).all()
        assert len(hashes) == 2 and all("TEST" not in h for h in hashes)


def test_changes_are_reported_and_dropped_tasks_retired(sessions):
    raw = load_plan(FIXTURES / "plan.yml").model_dump(mode="json")
    _apply(sessions, parse_plan(raw))
    raw["patients"][0]["tasks"][0]["rationale"] = "A new reason, agreed in session."
    raw["patients"][1]["tasks"] = []
    changes = _apply(sessions, parse_plan(raw))
    assert changes == [
        "updated task p-100/thought-record: rationale",
        "retired task p-200/walk",
    ]
    with sessions() as session:
        walk = session.scalar(select(Assignment).where(Assignment.task_id == "walk"))
        assert walk.active is False


def test_generated_invite_is_shown_once(sessions):
    raw = load_plan(FIXTURES / "plan.yml").model_dump(mode="json")
    del raw["patients"][1]["invite_code"]
    changes = _apply(sessions, parse_plan(raw))
    lines = [c for c in changes if c.startswith("invite for p-200: ")]
    assert len(lines) == 1 and len(lines[0].split(": ")[1]) == 9
    assert not any(c.startswith("invite for p-200") for c in _apply(sessions, parse_plan(raw)))

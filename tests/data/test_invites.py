import datetime as dt
from pathlib import Path

from data import invites
from data.care_plans import apply_plan
from data.db import transaction
from data.models import Invite, Patient
from data.plan_schema import load_plan

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _setup(sessions):
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)


def _redeem(sessions, code, user_id=5001):
    with transaction(sessions) as session:
        return invites.redeem(session=session, code=code, telegram_user_id=user_id, telegram_chat_id=user_id)


def test_code_links_once(sessions):
    _setup(sessions)
    result = _redeem(sessions, "test-code-100")  # case and dashes don't matter
    assert result.ok and result.patient_id == "p-100"
    with sessions() as session:
        patient = session.get(Patient, "p-100")
        assert patient.telegram_user_id == 5001 and patient.linked_at is not None
    assert _redeem(sessions, "TEST-CODE-100", user_id=5002).reason == "used"


def test_unknown_expired_and_revoked_codes_link_nothing(sessions):
    _setup(sessions)
    assert _redeem(sessions, "NOPE-NOPE").reason == "unknown"
    assert _redeem(sessions, "").reason == "unknown"
    with transaction(sessions) as session:
        for invite in session.query(Invite).all():
            invite.expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    assert _redeem(sessions, "TEST-CODE-200").reason == "expired"
    with transaction(sessions) as session:
        fresh = invites.issue_invite(session=session, patient_id="p-200", ttl_days=1)
        newer = invites.issue_invite(session=session, patient_id="p-200", ttl_days=1)
    assert _redeem(sessions, fresh).reason == "unknown"  # revoked by the newer one
    assert _redeem(sessions, newer).ok
    with sessions() as session:
        assert session.get(Patient, "p-100").telegram_user_id is None


def test_one_telegram_account_one_patient(sessions):
    _setup(sessions)
    assert _redeem(sessions, "TEST-CODE-100", user_id=7).ok
    assert _redeem(sessions, "TEST-CODE-200", user_id=7).reason == "already_linked"
    with sessions() as session:
        assert session.get(Patient, "p-200").telegram_user_id is None

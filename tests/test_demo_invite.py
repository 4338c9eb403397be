"""The demo patient and its published invite code belong to the terminal chat only."""

from pydantic import SecretStr
from sqlalchemy import select

from coach.supervisor import prepare_database
from data import invites
from data.db import make_engine, make_sessionmaker, transaction
from data.models import Invite, Patient
from data.settings import Settings

DEMO_CODE = "SAM-7F3K"  # published in the README


def _settings(db_url: str, token: str | None) -> Settings:
    return Settings(
        _env_file=None,
        database_url=db_url,
        telegram_bot_token=SecretStr(token) if token else None,
    )


def _open(db_url: str) -> bool:
    engine = make_engine(db_url)
    with transaction(make_sessionmaker(engine)) as session:
        found = invites.open_invite_matches(session=session, code=DEMO_CODE, patient_id="p-001")
        sam = session.get(Patient, "p-001")
    engine.dispose()
    return sam is not None and found


def test_without_a_token_the_demo_patient_is_there_for_the_terminal_chat(db_url):
    prepare_database(_settings(db_url, None), demo=True)
    assert _open(db_url)


def test_with_a_real_token_there_is_no_demo_invite_to_redeem(db_url):
    token = "123456789:AAnot-a-real-token-for-this-test-000"
    prepare_database(_settings(db_url, token), demo=True)
    engine = make_engine(db_url)
    with transaction(make_sessionmaker(engine)) as session:
        assert session.get(Patient, "p-001") is None
    engine.dispose()
    # A database where an earlier terminal run created Sam: the code is revoked.
    prepare_database(_settings(db_url, None), demo=True)
    assert _open(db_url)
    prepare_database(_settings(db_url, token), demo=True)
    assert not _open(db_url)
    engine = make_engine(db_url)
    with transaction(make_sessionmaker(engine)) as session:
        assert session.scalar(select(Invite.revoked_at).where(Invite.patient_id == "p-001")) is not None
    engine.dispose()

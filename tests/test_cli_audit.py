"""`coach audit`: who read or changed which patient's data, refused attempts included."""

import asyncio

from bot.conversation import Conversation, Sender
from data.care_plans import apply_plan
from data.db import make_engine, make_sessionmaker, transaction
from data.models import Therapist
from data.plan_schema import load_plan
from messaging.rasa_client import RasaClient
from tests.support.ports import closed_port
from tests.test_cli import FIXTURES, coach

TESS = Sender(telegram_user_id=5550001, chat_id=5550001)


def test_audit_lists_desk_and_cli_actions_and_filters(db_url, tmp_path):
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        session.get(Therapist, "t-test").telegram_chat_id = TESS.chat_id
    conversation = Conversation(
        sessions=sessions,
        rasa=RasaClient(f"http://127.0.0.1:{closed_port()}", "t", timeout=2),
        invite_ttl_days=14,
        rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
    )
    asyncio.run(conversation.on_command(TESS, "session", "Alex", "k1"))
    asyncio.run(conversation.on_command(TESS, "session", "p-999", "k2"))
    engine.dispose()
    assert coach(db_url, "invite", "p-200").returncode == 0

    rows = [line.split("\t") for line in coach(db_url, "audit").stdout.splitlines()[1:]]
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("therapist:t-test", "session", "p-100", "allowed"),
        ("therapist:t-test", "session", "-", "REFUSED"),
        ("cli", "invite", "p-200", "allowed"),
    ]
    only_tess = coach(db_url, "audit", "--therapist", "t-test").stdout.splitlines()[1:]
    assert len(only_tess) == 2
    only_jo = coach(db_url, "audit", "--patient", "p-200").stdout.splitlines()[1:]
    assert len(only_jo) == 1 and "\tcli\t" in only_jo[0]
    assert len(coach(db_url, "audit", "--limit", "1").stdout.splitlines()) == 2
    # A report read from the server is in the audit too, one row per patient in it.
    assert coach(db_url, "report", "--patient", "p-100").returncode == 0
    last = coach(db_url, "audit", "--limit", "1").stdout.splitlines()[1].split("\t")
    assert (last[1], last[2], last[3]) == ("cli", "report", "p-100")

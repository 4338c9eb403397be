"""The migrations build exactly the schema the models describe, and step down again."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from data.db import make_engine
from data.migrate import alembic_config
from data.models import Base


def _differences(url):
    engine = make_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    # APScheduler's job store is APScheduler's own table, not ours.
    return [d for d in diff if not (d[0] == "remove_table" and d[1].name == "apscheduler_jobs")]


def test_migrated_schema_matches_the_models(db_url):
    assert _differences(db_url) == []


def test_the_newest_migration_steps_down_and_up(db_url):
    from alembic import command

    config = alembic_config(db_url)
    command.downgrade(config, "-1")
    engine = make_engine(db_url)
    assert "unreachable_period" not in inspect(engine).get_table_names()
    assert "audit_event" in inspect(engine).get_table_names()  # 0010's, still there
    engine.dispose()
    command.downgrade(config, "-1")  # and 0010 steps down from there too
    engine = make_engine(db_url)
    assert "audit_event" not in inspect(engine).get_table_names()
    engine.dispose()
    command.upgrade(config, "head")
    assert _differences(db_url) == []


def test_unreachable_periods_start_from_whoever_is_unreachable_when_migrated(db_url):
    """0011 carries over a current period (Patient.unreachable_at); its downgrade keeps that."""
    from alembic import command

    from data.db import make_sessionmaker, transaction
    from data.models import Patient, UnreachablePeriod
    from tests.support import report_scenario as scenario

    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    scenario.seed(sessions)
    blocked = scenario.at(20, 7, 30)
    with transaction(sessions) as session:
        session.get_one(Patient, "p-100").unreachable_at = blocked  # as 0010's code left it
    config = alembic_config(db_url)
    command.downgrade(config, "0010")
    with sessions() as session:
        assert session.get_one(Patient, "p-100").unreachable_at == blocked
    command.upgrade(config, "head")
    with sessions() as session:
        rows = session.scalars(select(UnreachablePeriod)).all()
        assert [(r.patient_id, r.started_at, r.ended_at) for r in rows] == [("p-100", blocked, None)]
    engine.dispose()

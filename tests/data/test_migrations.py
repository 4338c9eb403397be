"""The migrations build exactly the schema the models describe, and step down again."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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
    assert "audit_event" not in inspect(engine).get_table_names()
    engine.dispose()
    command.upgrade(config, "head")
    assert _differences(db_url) == []

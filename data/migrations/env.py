"""Alembic environment: the URL comes from the caller or the settings, never the ini."""

from __future__ import annotations

from alembic import context

from data.db import make_engine
from data.models import Base
from data.settings import get_settings

# Tables other components own (APScheduler's job store, Rasa's tracker) are not ours to diff.
_FOREIGN_TABLES = {"apscheduler_jobs", "events"}


def _include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and name in _FOREIGN_TABLES)


def run_migrations() -> None:
    url = context.config.attributes.get("url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=_include,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()

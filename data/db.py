"""Engines and sessions: the same code on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from data.models import Base


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator chose."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # hide_parameters: an error quotes its SQL, never the values (a patient's words).
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def is_transient(exc: BaseException) -> bool:
    """A database failure that may pass: the server gone or restarting, a dropped
    connection, a full pool, a locked SQLite file. Worth retrying; never worth losing a
    patient's message over."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OperationalError, InterfaceError, PoolTimeout))


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    # Several processes share the file: WAL lets readers run beside the writer,
    # and foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


T = TypeVar("T")
M = TypeVar("M", bound=Base)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session, committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session


def insert_once(
    session: Session, model: type[M], values: Mapping[str, Any], key: str | tuple[str, ...]
) -> tuple[M, bool]:
    """Insert a row unless one with the same unique `key` column(s) exists.

    Returns (row, created). Race-free on both backends: the database decides.
    """
    keys = (key,) if isinstance(key, str) else key
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = session.execute(
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(getattr(model, keys[0]))
    ).first()
    # The row exists in this transaction either way: inserted now, or the one in the way.
    row = session.scalars(select(model).where(*(getattr(model, k) == values[k] for k in keys))).one()
    return row, inserted is not None


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE touched. Session.execute is typed as returning a plain
    Result; for those statements it is a CursorResult, which carries the count."""
    return cast("CursorResult[Any]", result).rowcount


def _run_in_transaction(factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    with transaction(factory) as session:
        return work(session)


async def run_in_thread(factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """Run `work(session)` in one transaction on a worker thread.

    The async servers (bot, action server) must not block their event loop on
    synchronous database I/O.
    """
    return await asyncio.to_thread(_run_in_transaction, factory, work)


async def call_in_thread(factory: sessionmaker[Session], query: Callable[..., T], /, **kwargs: Any) -> T:
    """`query(session=..., **kwargs)` in one transaction on a worker thread (run_in_thread
    for the data layer's functions, which take their session by keyword)."""
    return await run_in_thread(factory, lambda session: query(session=session, **kwargs))

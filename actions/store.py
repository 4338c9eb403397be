"""The action server's one way into `data/`: a lazily built session factory.

Built on first use, not at import, so importing the actions does no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from data.db import make_engine, make_sessionmaker, run_in_thread
from data.settings import get_settings

T = TypeVar("T")
log = logging.getLogger(__name__)
# Returned instead of a result when the database could not be reached.
UNAVAILABLE = object()


@lru_cache(maxsize=1)
def _factory() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings().database_url))


async def run(work: Callable[[Session], T]) -> T:
    """Run `work(session)` in one transaction, off the event loop."""
    return await run_in_thread(_factory(), work)


async def run_or_apologise(dispatcher: CollectingDispatcher, action: str, work: Callable[[Session], T]):
    """Like `run`; on a database failure the patient gets a kind word and
    UNAVAILABLE comes back. What they said stays in Rasa's tracker."""
    try:
        return await run(work)
    except SQLAlchemyError:
        log.exception("database unavailable in %s", action)
        dispatcher.utter_message(response="utter_not_available")
        return UNAVAILABLE

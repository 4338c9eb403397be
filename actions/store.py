"""The action server's one way into `data/`: a lazily built session factory.

Built on first use, not at import, so importing the actions does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from data.db import make_engine, make_sessionmaker, run_in_thread
from data.settings import get_settings

T = TypeVar("T")


@lru_cache(maxsize=1)
def _factory() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings().database_url))


async def run(work: Callable[[Session], T]) -> T:
    """Run `work(session)` in one transaction, off the event loop."""
    return await run_in_thread(_factory(), work)

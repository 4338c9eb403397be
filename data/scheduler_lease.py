"""A lease on the job store, so exactly one scheduler sends nudges at a time.

A row per lease name: whoever holds an unexpired row owns it and renews it well
before it runs out. Taking it over is one conditional UPDATE, atomic on SQLite
and PostgreSQL alike, so two schedulers starting together cannot both win.
Portable where an advisory lock is not, and it survives a pooled connection
being recycled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from data.db import insert_once, rowcount
from data.models import SchedulerLease, utcnow


@dataclass(frozen=True)
class Lease:
    held: bool
    # When the lease was taken from an owner that stopped renewing (it crashed),
    # since when that owner had held it: the window whose nudges may be half-done.
    crashed_owner_since: dt.datetime | None = None


def acquire(*, session: Session, name: str, owner: str, ttl: dt.timedelta) -> Lease:
    """Take or renew the lease; not held while someone else holds an unexpired one."""
    now = utcnow()
    _, created = insert_once(
        session,
        SchedulerLease,
        {"name": name, "owner": owner, "acquired_at": now, "expires_at": now + ttl},
        "name",
    )
    if created:
        return Lease(True)
    renewed = rowcount(
        session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == name, SchedulerLease.owner == owner)
            .values(expires_at=now + ttl)
            .execution_options(synchronize_session=False)
        )
    )
    if renewed == 1:
        return Lease(True)
    previous = session.get(SchedulerLease, name)
    since = previous.acquired_at if previous is not None else None
    taken = rowcount(
        session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == name, SchedulerLease.expires_at < now)
            .values(owner=owner, acquired_at=now, expires_at=now + ttl)
            .execution_options(synchronize_session=False)
        )
    )
    return Lease(True, since) if taken == 1 else Lease(False)


def release(*, session: Session, name: str, owner: str) -> None:
    """A clean stop: the next scheduler starts fresh rather than as a rescuer."""
    session.execute(
        delete(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.owner == owner)
        .execution_options(synchronize_session=False)
    )

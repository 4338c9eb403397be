"""The scheduler service: APScheduler with a persistent job store, reconciled from rows.

The rows are the truth. The action server and the bot change schedules by
writing rows; this service derives the jobs from them at start and then every
`reconcile_seconds`, adding what is missing, replacing what changed and removing
orphans. Only the job store's `nudge:` jobs are touched.
"""

from __future__ import annotations

import asyncio
import logging

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from data.db import run_in_thread
from scheduler import jobs
from scheduler.nudges import wanted_jobs

log = logging.getLogger(__name__)

JOB_PREFIX = "nudge"  # nudge:… (weekly) and nudge-once:… (asked for)
# A nudge more than two hours late is no longer timely; coalesce a backlog into one.
MISFIRE_GRACE_SECONDS = 2 * 60 * 60


class NudgeScheduler:
    def __init__(
        self,
        *,
        engine: Engine,
        sessions: sessionmaker[Session],
        runtime: jobs.Runtime,
        reconcile_seconds: float = 60,
    ):
        self._sessions = sessions
        self._runtime = runtime
        self._reconcile_seconds = reconcile_seconds
        self._scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")},
            job_defaults={
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
                "coalesce": True,
                "max_instances": 1,
            },
            timezone="UTC",
        )
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Start inside the running event loop (APScheduler 3.11 needs one)."""
        jobs.install(self._runtime)
        self._scheduler.start()
        await self.reconcile()
        self._task = asyncio.create_task(self._reconcile_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._scheduler.shutdown(wait=False)
        jobs.install(None)

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self._reconcile_seconds)
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconciling nudges failed; will try again")

    async def reconcile(self) -> dict[str, int]:
        rows = await run_in_thread(self._sessions, lambda s: wanted_jobs(session=s))
        wanted = {job.id: job for job in rows}
        # The job store is synchronous I/O: keep it off the event loop.
        return await asyncio.to_thread(self._apply, wanted)

    def _apply(self, wanted: dict) -> dict[str, int]:
        counts = {"added": 0, "replaced": 0, "removed": 0}
        existing = {j.id: j for j in self._scheduler.get_jobs() if j.id.startswith(JOB_PREFIX)}
        for job_id, job in existing.items():
            if job_id not in wanted:
                job.remove()
                counts["removed"] += 1
        for job_id, want in wanted.items():
            current = existing.get(job_id)
            if current is not None and str(current.trigger) == str(want.trigger):
                continue
            self._scheduler.add_job(
                want.func, trigger=want.trigger, id=job_id, args=list(want.args), replace_existing=True
            )
            counts["replaced" if current is not None else "added"] += 1
        if any(counts.values()):
            log.info("nudges reconciled: %s", counts)
        return counts

    def job_ids(self) -> list[str]:
        return sorted(j.id for j in self._scheduler.get_jobs() if j.id.startswith(JOB_PREFIX))

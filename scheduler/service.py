"""The scheduler service: APScheduler with a persistent job store, reconciled from rows.

The rows are the truth. The action server and the bot change schedules by
writing rows; this service derives the jobs from them at start and then every
`reconcile_seconds`, adding what is missing, replacing what changed and removing
orphans. Only the job store's nudge jobs are touched.

APScheduler cannot share a job store, so a scheduler first takes the database
lease (data/scheduler_lease.py); a second one waits, and takes over if the
first stops renewing. On taking over it settles what the previous owner left
half-done before sending anything.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import uuid

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from data import nudge_log, nudge_targets, planner, rasa_tracker, retention, scheduler_lease
from data.db import call_in_thread, run_in_thread
from data.models import Patient, utcnow
from scheduler import jobs
from scheduler.announcements import Announcements
from scheduler.nudges import WantedJob, due_since, wanted_jobs
from scheduler.offloop import OffLoopScheduler

log = logging.getLogger(__name__)

JOB_PREFIXES = ("nudge", "follow:")  # nudge:… (weekly), nudge-once:… (asked for), follow:… (follow-ups)
LEASE_NAME = "nudges"
SEND_FOLLOW_UP = "scheduler.jobs:send_follow_up"
# The one gentle follow-up comes this long after an unanswered nudge, if the
# patient is still awake then; otherwise there is none.
FOLLOW_UP_AFTER = dt.timedelta(hours=3)
# Crisis alerts to therapists and goodbyes to discharged patients are looked for this often.
ALERT_SECONDS = 5
# Retention (data/retention.py): pruned this often, the first time soon after taking the lease.
PRUNE_SECONDS = 3600
FIRST_PRUNE_SECONDS = 60


class NudgeScheduler:
    def __init__(
        self,
        *,
        engine: Engine,
        sessions: sessionmaker[Session],
        runtime: jobs.Runtime,
        reconcile_seconds: float = 60,
        misfire_grace_seconds: float = 2 * 60 * 60,
        lease_seconds: float = 30,
        retention_days: int = retention.DEFAULT_RETENTION_DAYS,
        rasa_tracker_url: str | None = None,
    ):
        self._sessions = sessions
        self._retention_days = retention_days
        self._rasa_tracker_url = rasa_tracker_url
        self._runtime = runtime
        self.announcements = Announcements(sessions, runtime.deliver, retention_days, runtime.rasa)
        self._reconcile_seconds = reconcile_seconds
        self._grace = dt.timedelta(seconds=misfire_grace_seconds)
        self._lease_ttl = dt.timedelta(seconds=lease_seconds)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._scheduler = OffLoopScheduler(
            job_context=runtime,
            jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")},
            job_defaults={
                # A nudge late by more than the grace is not sent but recorded as
                # missed (APScheduler's default of 1 s would silently drop it).
                "misfire_grace_time": int(misfire_grace_seconds),
                "coalesce": True,
                "max_instances": 1,
            },
            timezone="UTC",
        )
        self._scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self._tasks: list[asyncio.Task[None]] = []
        self._reconciling = asyncio.Lock()  # the upkeep loop and a take-over never overlap
        self._owning = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def owns_job_store(self) -> bool:
        return self._owning

    @property
    def runtime(self) -> jobs.Runtime:
        """What every job this scheduler runs is given first (scheduler/offloop.py)."""
        return self._runtime

    async def start(self) -> None:
        """Start inside the running event loop (APScheduler 3.11 needs one).

        Returns at once; if another scheduler holds the lease, this one waits
        for it in the background.
        """
        self._loop = asyncio.get_running_loop()
        lease = await self._renew()
        # The lease is kept by its own task, so a long reconcile never lets it lapse.
        self._tasks.append(asyncio.create_task(self._keep_lease()))
        if lease.held:
            await self._take_over(lease)
        self._tasks.append(asyncio.create_task(self._keep_reconciling()))
        self._tasks.append(asyncio.create_task(self._keep_alerting()))
        self._tasks.append(asyncio.create_task(self._keep_pruning()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._owning:
            self._owning = False
            try:
                await run_in_thread(
                    self._sessions,
                    lambda s: scheduler_lease.release(session=s, name=LEASE_NAME, owner=self.owner),
                )
            except Exception:
                log.warning("could not release the scheduler lease; it will expire")

    # --- the lease -----------------------------------------------------------------

    async def _renew(self) -> scheduler_lease.Lease:
        def acquire(session: Session) -> scheduler_lease.Lease:
            return scheduler_lease.acquire(
                session=session, name=LEASE_NAME, owner=self.owner, ttl=self._lease_ttl
            )

        return await run_in_thread(self._sessions, acquire)

    async def _take_over(self, lease: scheduler_lease.Lease) -> None:
        recovered = await run_in_thread(self._sessions, lambda s: nudge_log.recover_after_crash(session=s))
        if any(recovered.values()):
            log.warning("took over the job store; settled what was left: %s", recovered)
        if recovered["unknown"]:
            await self._look_for_in_doubt()
        self._owning = True
        if not self._scheduler.running:
            self._scheduler.start()
        else:
            self._scheduler.resume()
        log.info("scheduler owns the job store")
        await self.reconcile()
        if lease.crashed_owner_since is not None:
            self._tasks.append(asyncio.create_task(self._catch_up(lease.crashed_owner_since)))

    async def _look_for_in_doubt(self) -> None:
        """Nudges the dead owner was sending when it died: found in the chat, they count as
        sent; proven absent, they are retried; otherwise they stay unknown (never twice)."""
        probe = self._runtime.probe
        if probe is None:
            return
        since = utcnow() - self._grace
        rows = await run_in_thread(self._sessions, lambda s: nudge_log.in_doubt(session=s, since=since))
        verdicts: dict[str, int] = {}
        for row in rows:
            verdict = await probe(row.chat_id, row.after_message_id, row.markup, row.known)
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
            if verdict in ("arrived", "absent"):
                arrived = verdict == "arrived"
                await call_in_thread(self._sessions, nudge_log.settle, log_id=row.log_id, arrived=arrived)
        if verdicts:
            log.warning("nudges in doubt after a crash, looked for in their chats: %s", verdicts)

    async def _catch_up(self, since: dt.datetime) -> None:
        """After a crash: nudges planned while the last owner ran, within the grace, that it
        may have fired and lost. The nudge log turns any it did send into no-ops."""
        now = utcnow()
        since = max(since, now - self._grace)
        due = await run_in_thread(self._sessions, lambda s: due_since(session=s, since=since, now=now))
        if due:
            log.info("catching up on %d planned nudges after a crash", len(due))
        await asyncio.gather(*(jobs.send_nudge(self._runtime, aid, at.isoformat()) for aid, at in due))

    async def _keep_lease(self) -> None:
        loop = asyncio.get_running_loop()
        last_renewed = loop.time()
        while True:
            await asyncio.sleep(self._lease_ttl.total_seconds() / 3)
            try:
                lease = await self._renew()
            except Exception:
                log.exception("could not renew the scheduler lease; will try again")
                # Out of touch with the database past the lease: someone else may own it now.
                if self._owning and loop.time() - last_renewed >= self._lease_ttl.total_seconds():
                    self._lose("could not renew the lease in time")
                continue
            if lease.held:
                last_renewed = loop.time()
                if not self._owning:
                    await self._take_over(lease)
            elif self._owning:
                self._lose("another scheduler holds the lease")

    async def _keep_alerting(self) -> None:
        """Tell therapists (linked in Telegram) of a crisis response, or a patient leaving, within seconds."""
        while True:
            await asyncio.sleep(ALERT_SECONDS)
            if not self._owning:
                continue
            try:
                await self.announcements.alert_therapists()
                await self.announcements.say_goodbyes()
                await self.announcements.send_digests()
                await self.announcements.introduce_tasks()
            except Exception:
                log.exception("crisis alerts failed; will try again")

    async def _keep_pruning(self) -> None:
        await asyncio.sleep(FIRST_PRUNE_SECONDS)
        while True:
            if self._owning:
                try:
                    await self.prune()
                except Exception:
                    log.exception("pruning failed; will try again")
            await asyncio.sleep(PRUNE_SECONDS)

    async def prune(self) -> retention.Pruned:
        """Keep the retention promise: what is past its time goes (data/retention.py)."""
        now = utcnow()
        pruned = await run_in_thread(
            self._sessions,
            lambda s: retention.prune(session=s, retention_days=self._retention_days, now=now),
        )
        transcripts = 0
        if self._rasa_tracker_url:
            before = now - dt.timedelta(days=self._retention_days)
            transcripts = await asyncio.to_thread(
                rasa_tracker.prune_conversations, self._rasa_tracker_url, before
            )
        log.info(
            "pruned: %d inbox rows, %d chat message ids, %d nudge log rows, %d transcript events, "
            "%d discharged patients erased",
            pruned.inbox,
            pruned.chat_messages,
            pruned.nudge_log,
            transcripts,
            pruned.discharged_erased,
        )
        return pruned

    async def _keep_reconciling(self) -> None:
        while True:
            await asyncio.sleep(self._reconcile_seconds)
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconciling nudges failed; will try again")

    def _lose(self, why: str) -> None:
        log.warning("scheduler stops sending: %s", why)
        self._owning = False
        if self._scheduler.running:
            self._scheduler.pause()

    # --- reconciling ---------------------------------------------------------------

    async def reconcile(self) -> dict[str, int]:
        """Bring the jobs in line with the rows; retry failed nudges; settle stale ones."""
        async with self._reconciling:
            if not self._owning:
                return {}
            rows = await run_in_thread(self._sessions, self._wanted)
            wanted = {job.id: job for job in rows}
            # The job store is synchronous I/O: keep it off the event loop.
            counts = await asyncio.to_thread(self._apply, wanted)
            await self._retry_failed()
            return counts

    def _wanted(self, session: Session) -> list[WantedJob]:
        return wanted_jobs(session=session) + self._follow_ups(session)

    def _follow_ups(self, session: Session) -> list[WantedJob]:
        out = []
        for log_id, sent_at in nudge_log.awaiting_follow_up(
            session=session, since=utcnow() - 2 * FOLLOW_UP_AFTER
        ):
            found = nudge_targets.task_of_nudge(session=session, log_id=log_id)
            if found is None:
                continue
            patient = found[2]
            at = sent_at + FOLLOW_UP_AFTER
            if at < utcnow() - self._grace or not _awake(patient, at):
                continue
            out.append(WantedJob(f"follow:{log_id}", SEND_FOLLOW_UP, (log_id,), DateTrigger(run_date=at)))
        return out

    def _apply(self, wanted: dict[str, WantedJob]) -> dict[str, int]:
        counts = {"added": 0, "replaced": 0, "removed": 0}
        existing = {j.id: j for j in self._scheduler.get_jobs() if j.id.startswith(JOB_PREFIXES)}
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

    async def _retry_failed(self) -> None:
        def find(session: Session) -> list[int]:
            nudge_log.expire_unsendable(session=session, grace=self._grace, max_attempts=jobs.MAX_ATTEMPTS)
            return nudge_log.retryable(session=session, grace=self._grace, max_attempts=jobs.MAX_ATTEMPTS)

        retry = await run_in_thread(self._sessions, find)
        if retry and self._owning:
            # All at once: the pacer spaces them out at Telegram's pace.
            await asyncio.gather(*(jobs.retry_nudge(self._runtime, log_id) for log_id in retry))

    def _on_missed(self, event: JobExecutionEvent) -> None:
        """A weekly nudge APScheduler skipped as too late goes in the log as missed."""
        parts = event.job_id.split(":")
        if parts[0] != "nudge" or self._loop is None:
            return
        assignment_id, when = int(parts[1]), event.scheduled_run_time.replace(second=0, microsecond=0)

        def record(session: Session) -> None:
            nudge_log.record_missed(session=session, assignment_id=assignment_id, scheduled_for=when)

        # Called on the thread that looks for due jobs (scheduler/offloop.py).
        asyncio.run_coroutine_threadsafe(run_in_thread(self._sessions, record), self._loop)

    def job_ids(self) -> list[str]:
        return sorted(j.id for j in self._scheduler.get_jobs() if j.id.startswith(JOB_PREFIXES))


def _awake(patient: Patient, at: dt.datetime) -> bool:
    """A follow-up only in waking hours; with no routine given, not at night."""
    return planner.awake_at(patient.routine or {}, patient.timezone, at, night=("21:30", "08:00"))

"""APScheduler's AsyncIOScheduler, with its job-store I/O off the event loop.

AsyncIOScheduler looks for due jobs on the event loop: with the SQL job store
that is blocking database I/O, one read and one write per due job. When
thousands of nudges fall due at a popular time the bot would stop answering
patients for as long as that takes. Here the look-up runs on a worker thread,
as BackgroundScheduler does it (APScheduler guards its job stores with a lock
for that), and the due coroutines are handed back to the event loop to run.
"""

from __future__ import annotations

import asyncio
import logging

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler, run_in_event_loop
from apscheduler.schedulers.base import STATE_STOPPED

log = logging.getLogger(__name__)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class LoopExecutor(AsyncIOExecutor):
    """Runs coroutine jobs on the event loop, whichever thread hands them over."""

    def _do_submit_job(self, job, run_times):
        if _running_loop() is self._eventloop:
            super()._do_submit_job(job, run_times)
        else:
            self._eventloop.call_soon_threadsafe(super()._do_submit_job, job, run_times)


class OffLoopScheduler(AsyncIOScheduler):
    _busy = False
    _again = False

    @run_in_event_loop
    def wakeup(self):
        self._stop_timer()
        if self._busy:  # a round is running: one more right after it
            self._again = True
            return
        self._busy = True
        round_ = self._eventloop.run_in_executor(None, self._process_jobs)
        round_.add_done_callback(self._round_done)

    def _round_done(self, round_: asyncio.Future) -> None:
        self._busy = False
        try:
            wait_seconds = round_.result()
        except Exception:  # APScheduler logs its own errors; never stop waking up
            log.exception("looking for due jobs failed")
            wait_seconds = self.jobstore_retry_interval
        if self._again:
            self._again, wait_seconds = False, 0
        if self.state != STATE_STOPPED and self._eventloop is not None:
            self._start_timer(wait_seconds)

    def _create_default_executor(self):
        return LoopExecutor()

"""APScheduler's AsyncIOScheduler, with its job-store I/O off the event loop.

AsyncIOScheduler looks for due jobs on the event loop: with the SQL job store
that is blocking database I/O, one read and one write per due job. When
thousands of nudges fall due at a popular time the bot would stop answering
patients for as long as that takes. Here the look-up runs on a worker thread,
as BackgroundScheduler does it (APScheduler guards its job stores with a lock
for that), and the due coroutines are handed back to the event loop to run.

A job store keeps a job as a reference to an importable function and plain
arguments, so the objects a job needs (sessions, the Rasa client, the sender)
cannot be stored with it. They are given to the scheduler instead, as
`job_context`, and its executor passes them as the first argument to each job
function marked with `@takes_context`: no module-level state, and two
schedulers in one process never share it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler, run_in_event_loop
from apscheduler.schedulers.base import STATE_STOPPED

log = logging.getLogger(__name__)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


F = TypeVar("F", bound=Callable[..., Any])


def takes_context(func: F) -> F:
    """Marks a job function whose first parameter is the scheduler's `job_context`.

    APScheduler checks a job's stored arguments against the function's signature,
    so the signature it sees leaves that parameter out.
    """
    signature = inspect.signature(func)
    # Attributes on a function object: mypy knows no way to declare them.
    func.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])  # type: ignore[attr-defined]
    func.takes_context = True  # type: ignore[attr-defined]
    return func


class _WithContext:
    """A job as APScheduler's runner sees it, with the context bound as its first argument."""

    def __init__(self, job: Any, context: object):
        self._job = job
        self.func = functools.partial(job.func, context)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class LoopExecutor(AsyncIOExecutor):
    """Runs coroutine jobs on the event loop, whichever thread hands them over."""

    def __init__(self, context: object = None) -> None:
        super().__init__()
        self._context = context

    def _do_submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        if getattr(job.func, "takes_context", False):
            job = _WithContext(job, self._context)
        if _running_loop() is self._eventloop:
            super()._do_submit_job(job, run_times)
        else:
            self._eventloop.call_soon_threadsafe(super()._do_submit_job, job, run_times)


class OffLoopScheduler(AsyncIOScheduler):
    _busy = False
    _again = False

    def __init__(self, *, job_context: object = None, **options: Any):
        self._job_context = job_context
        super().__init__(**options)

    @run_in_event_loop
    def wakeup(self) -> None:
        self._stop_timer()
        if self._busy:  # a round is running: one more right after it
            self._again = True
            return
        self._busy = True
        round_ = self._eventloop.run_in_executor(None, self._process_jobs)
        round_.add_done_callback(self._round_done)

    def _round_done(self, round_: asyncio.Future[float | None]) -> None:
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

    def _create_default_executor(self) -> LoopExecutor:
        return LoopExecutor(self._job_context)

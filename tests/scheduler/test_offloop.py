"""Looking for due jobs in the SQL job store doesn't stall the event loop (scheduler/offloop.py)."""

import asyncio
import datetime as dt
import time

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from data.db import make_engine
from data.models import utcnow
from scheduler.offloop import OffLoopScheduler

ran: list[str] = []


async def job(name: str) -> None:
    ran.append(name)


class SlowStore(SQLAlchemyJobStore):
    """A real SQL job store on a database that takes a second to answer."""

    def get_due_jobs(self, now):
        time.sleep(1.0)
        return super().get_due_jobs(now)


def test_due_jobs_run_on_the_loop_while_the_store_is_read_elsewhere(db_url):
    engine = make_engine(db_url)

    async def scenario() -> float:
        scheduler = OffLoopScheduler(
            jobstores={"default": SlowStore(engine=engine)},
            job_defaults={"misfire_grace_time": 60},
            timezone="UTC",
        )
        scheduler.start()
        for i in range(3):
            scheduler.add_job(
                job, "date", run_date=utcnow() + dt.timedelta(seconds=0.2), args=[f"j{i}"], id=f"j{i}"
            )
        loop = asyncio.get_running_loop()
        worst, deadline = 0.0, loop.time() + 6
        while loop.time() < deadline and len(ran) < 3:
            before = loop.time()
            await asyncio.sleep(0.01)
            worst = max(worst, loop.time() - before - 0.01)
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0.05)
        return worst

    ran.clear()
    worst = asyncio.run(scenario())
    engine.dispose()
    assert sorted(ran) == ["j0", "j1", "j2"]
    # Each look-up takes a second; on the loop, the loop would stall that long.
    assert worst < 0.5, f"the event loop stalled for {worst:.2f}s"

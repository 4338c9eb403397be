"""Looking for due jobs in the SQL job store doesn't stall the event loop (scheduler/offloop.py)."""

import asyncio
import datetime as dt
import time

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from data.db import make_engine
from data.models import utcnow
from scheduler.offloop import OffLoopScheduler, takes_context

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


@takes_context
async def job_with_context(context: dict, name: str) -> None:
    context["ran"].append(name)


def test_each_scheduler_hands_its_own_context_to_its_jobs(db_url):
    """No module-level runtime: two schedulers in one process each give their jobs their own."""
    engines = [make_engine(db_url), make_engine(db_url)]

    async def scenario() -> list[dict]:
        contexts = [{"ran": []}, {"ran": []}]
        schedulers = [
            OffLoopScheduler(
                job_context=context,
                jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=f"jobs_{i}")},
                timezone="UTC",
            )
            for i, (context, engine) in enumerate(zip(contexts, engines, strict=True))
        ]
        for i, scheduler in enumerate(schedulers):
            scheduler.start()
            scheduler.add_job(
                "tests.scheduler.test_offloop:job_with_context",
                "date",
                run_date=utcnow() + dt.timedelta(seconds=0.2),
                args=[f"s{i}"],
                id=f"s{i}",
            )
        deadline = asyncio.get_running_loop().time() + 6
        while asyncio.get_running_loop().time() < deadline and not all(c["ran"] for c in contexts):
            await asyncio.sleep(0.05)
        for scheduler in schedulers:
            scheduler.shutdown(wait=False)
        await asyncio.sleep(0.05)
        return contexts

    contexts = asyncio.run(scenario())
    for engine in engines:
        engine.dispose()
    assert [c["ran"] for c in contexts] == [["s0"], ["s1"]]

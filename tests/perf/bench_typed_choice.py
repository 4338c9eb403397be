"""What reading Rasa's tracker store costs a typed message (bot/dialogue.py): the open
buttons are read from the patient's latest turns before the words go to Rasa.

    .venv/bin/python -m tests.perf.bench_typed_choice [--patients 2000] [--turns 50] [--reads 2000]

Fills a tracker store as Rasa 3.6 writes it (tests/support/rasa_store.py: made-up senders,
each with `turns` turns of a user event, an action and a bot message with buttons), on
SQLite and, when it answers at 127.0.0.1:5432, on a PostgreSQL database made for the run
and dropped after. Then times `Dialogue.typed_choice` for random patients, each typing a
button's words. Prints the median and 95th percentile and writes them to
tests/perf/results/typed_choice.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from bot.dialogue import Dialogue
from bot.people import PatientView
from messaging.rasa_client import RasaClient
from tests.support import rasa_store

RESULTS = Path(__file__).parent / "results" / "typed_choice.json"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
EXPECT = [{"title": str(n), "payload": f'/expect{{"rating":"{n}"}}'} for n in range(1, 6)]


def fill(url: str, patients: int, turns: int) -> None:
    for p in range(patients):
        events = []
        for _ in range(turns):
            events += [
                rasa_store.user("…", "nlu_fallback"),
                rasa_store.action("action_fallback"),
                rasa_store.bot("How much do you expect it to help?", buttons=EXPECT),
            ]
        rasa_store.store(url, f"pz-{p:06d}", *events)


def time_reads(url: str, patients: int, reads: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)

    async def run() -> list[float]:
        client = RasaClient("http://127.0.0.1:9", "unused", timeout=1)
        dialogue = Dialogue(client, url)
        took = []
        try:
            for _ in range(reads):
                who = PatientView(
                    id="p", sender_id=f"pz-{rng.randrange(patients):06d}", display_name="", consented=True
                )
                started = time.perf_counter()
                found = await dialogue.typed_choice(who, "3")
                took.append((time.perf_counter() - started) * 1000)
                assert found == '/expect{"rating":"3"}'
        finally:
            await client.aclose()
        return took

    took = sorted(asyncio.run(run()))
    return {
        "median_ms": round(statistics.median(took), 3),
        "p95_ms": round(took[int(0.95 * (len(took) - 1))], 3),
        "max_ms": round(took[-1], 3),
    }


def _postgres(name: str) -> str | None:
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception:  # no PostgreSQL here: SQLite alone
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop(name: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    events = args.patients * args.turns * 3
    figures: dict = {"patients": args.patients, "events": events, "reads": args.reads}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite:///{Path(tmp) / 'tracker.db'}"
        fill(sqlite, args.patients, args.turns)
        figures["sqlite"] = time_reads(sqlite, args.patients, args.reads, args.seed)
    name = f"bench_typed_{uuid.uuid4().hex[:8]}"
    if (postgres := _postgres(name)) is not None:
        try:
            fill(postgres, args.patients, args.turns)
            figures["postgresql"] = time_reads(postgres, args.patients, args.reads, args.seed)
        finally:
            _drop(name)
    for store in ("sqlite", "postgresql"):
        if store in figures:
            f = figures[store]
            print(
                f"typed answer, open buttons read from the tracker store [{store}, {events} events]: "
                f"median {f['median_ms']} ms, p95 {f['p95_ms']} ms, max {f['max_ms']} ms"
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()

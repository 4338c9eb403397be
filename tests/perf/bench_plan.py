"""Planning a week of nudges for many patients with the pure planner.

    .venv/bin/python -m tests.perf.bench_plan [--patients 100000] [--seed 7] [--start 2026-03-25]

Builds synthetic patients in memory (made-up ids; zones including half- and
three-quarter-hour offsets and both hemispheres; varied routines; one to four
tasks each, fixed days or so-many-a-week, some with the patient's own time,
halved frequency, start/end dates or a pause), then plans the next 7 days of
each task's nudges with `data.planner`. The default week holds Europe's
spring clock change and Australia's autumn one.

Two passes: a timed one, and one under tracemalloc for the peak of Python
allocations (tracemalloc slows things, so it is not timed against the goal).
Prints the figures and writes them to tests/perf/results/plan_week.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from data import planner

RESULTS = Path(__file__).parent / "results" / "plan_week.json"
UTC = dt.timezone.utc

# Weighted towards where patients are likely to be, with every awkward offset present.
ZONES = [
    ("Europe/London", 12),
    ("Europe/Dublin", 3),
    ("Europe/Berlin", 6),
    ("Europe/Madrid", 3),
    ("Europe/Helsinki", 2),
    ("America/New_York", 8),
    ("America/Chicago", 4),
    ("America/Denver", 2),
    ("America/Los_Angeles", 5),
    ("America/Phoenix", 1),
    ("America/St_Johns", 1),  # -03:30 / -02:30
    ("America/Sao_Paulo", 2),
    ("America/Santiago", 1),  # changes at midnight
    ("Australia/Sydney", 3),
    ("Australia/Adelaide", 1),  # +09:30 / +10:30
    ("Australia/Darwin", 1),  # +09:30, no summer time
    ("Australia/Lord_Howe", 1),  # a half-hour change
    ("Pacific/Auckland", 2),
    ("Pacific/Chatham", 1),  # +12:45 / +13:45
    ("Asia/Kolkata", 5),  # +05:30
    ("Asia/Kathmandu", 1),  # +05:45
    ("Asia/Tehran", 1),  # +03:30
    ("Asia/Kabul", 1),  # +04:30
    ("Asia/Yangon", 1),  # +06:30
    ("Asia/Tokyo", 2),
    ("Asia/Singapore", 2),
    ("Africa/Lagos", 2),
    ("Africa/Johannesburg", 1),
    ("UTC", 1),
]
DAYS = planner.WEEKDAYS


def _clock(rng: random.Random, lo: int, hi: int, step: int = 15) -> str:
    minute = rng.randrange(lo, hi, step) % 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


def synthetic_patients(count: int, seed: int, start: dt.date) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    names, weights = zip(*ZONES, strict=True)
    patients = []
    for n in range(count):
        routine: dict[str, Any] = {
            "wake": _clock(rng, 5 * 60 + 30, 9 * 60 + 30),
            "sleep": _clock(rng, 21 * 60 + 30, 24 * 60 + 60),
            "preferred_times": sorted({_clock(rng, 7 * 60, 21 * 60) for _ in range(rng.randint(0, 3))}),
        }
        if rng.random() < 0.4:
            routine["quiet_hours"] = [
                _clock(rng, 21 * 60, 23 * 60 + 1, 30),
                _clock(rng, 6 * 60, 8 * 60 + 1, 30),
            ]
        tasks = []
        for t in range(rng.randint(1, 4)):
            if rng.random() < 0.5:
                days = sorted(rng.sample(DAYS, rng.randint(1, 7)), key=DAYS.index)
                schedule: dict[str, Any] = {"days": days, "at": _clock(rng, 6 * 60, 23 * 60 + 1)}
            else:
                schedule = {"times_per_week": rng.randint(1, 14)}
            task: dict[str, Any] = {"id": f"task-{t}", "schedule": schedule}
            if rng.random() < 0.1:
                task["clock"] = _clock(rng, 7 * 60, 22 * 60)
            if rng.random() < 0.15:
                task["frequency"] = 0.5
            if rng.random() < 0.2:
                task["start"] = start + dt.timedelta(days=rng.randint(-30, 5))
                task["end"] = task["start"] + dt.timedelta(days=rng.randint(3, 60))
            tasks.append(task)
        pauses = []
        if rng.random() < 0.05:
            begin = dt.datetime.combine(start, dt.time(), tzinfo=UTC) + dt.timedelta(
                hours=rng.randint(0, 150)
            )
            pauses.append((begin, begin + dt.timedelta(days=rng.randint(1, 7))))
        patients.append(
            {
                "id": f"bench-{n:06d}",
                "timezone": rng.choices(names, weights)[0],
                "routine": routine,
                "pauses": pauses,
                "tasks": tasks,
            }
        )
    return patients


def plan_week(
    patients: list[dict[str, Any]], after: dt.datetime
) -> tuple[int, list[list[list[dt.datetime]]]]:
    until = after + dt.timedelta(days=7)
    total = 0
    planned = []
    for patient in patients:
        per_task = []
        for task in patient["tasks"]:
            times = planner.nudge_times(
                routine=patient["routine"],
                timezone=patient["timezone"],
                schedule=task["schedule"],
                after=after,
                until=until,
                pauses=patient["pauses"],
                start=task.get("start"),
                end=task.get("end"),
                clock=task.get("clock"),
                frequency=task.get("frequency", 1.0),
            )
            total += len(times)
            per_task.append(times)
        planned.append(per_task)
    return total, planned


def _clear_caches() -> None:
    planner._day.cache_clear()
    planner._days.cache_clear()
    planner._week_tables.cache_clear()
    planner._zone.cache_clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 3, 25))
    args = parser.parse_args(argv)
    after = dt.datetime.combine(args.start, dt.time(), tzinfo=UTC)

    began = time.perf_counter()
    patients = synthetic_patients(args.patients, args.seed, args.start)
    build_seconds = time.perf_counter() - began
    tasks = sum(len(p["tasks"]) for p in patients)

    _clear_caches()
    began = time.perf_counter()
    nudges, planned = plan_week(patients, after)
    plan_seconds = time.perf_counter() - began
    del planned
    maxrss_untraced = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    _clear_caches()
    tracemalloc.start()
    began = time.perf_counter()
    traced_nudges, planned = plan_week(patients, after)
    traced_seconds = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del planned
    assert traced_nudges == nudges

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = {
        "patients": args.patients,
        "tasks": tasks,
        "window": {"after": after.isoformat(), "days": 7},
        "nudges_planned": nudges,
        "build_seconds": round(build_seconds, 2),
        "plan_seconds": round(plan_seconds, 2),
        "tasks_per_second": round(tasks / plan_seconds),
        "nudges_per_second": round(nudges / plan_seconds),
        "traced_plan_seconds": round(traced_seconds, 2),
        "tracemalloc_peak_mib": round(peak / 2**20, 1),
        "ru_maxrss_mib": round(maxrss_untraced / 1024, 1),  # patients, one week planned, the interpreter
        "ru_maxrss_with_tracemalloc_mib": round(maxrss / 1024, 1),
        "zone_days_resolved": planner._day.cache_info().currsize,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"{args.patients} patients, {tasks} tasks: {nudges} nudges for the week from {args.start} "
        f"planned in {plan_seconds:.2f} s ({figures['nudges_per_second']}/s; building the patients "
        f"took {build_seconds:.2f} s)\n"
        f"peak memory: tracemalloc {figures['tracemalloc_peak_mib']} MiB while planning "
        f"(that pass took {traced_seconds:.2f} s), ru_maxrss {figures['ru_maxrss_mib']} MiB "
        f"({figures['ru_maxrss_with_tracemalloc_mib']} MiB after the traced pass)\n"
        f"written to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

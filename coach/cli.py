"""`coach`: the one command-line entry point."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from data.settings import get_settings


def _sessions():
    from data.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(get_settings().database_url))


def cmd_plan(args: argparse.Namespace) -> int:
    from data.care_plans import apply_plan
    from data.db import transaction
    from data.library import require_valid
    from data.plan_schema import PlanError, load_plan

    require_valid()  # a plan is checked against the library, so the library first
    try:
        plan = load_plan(args.file)
    except PlanError as error:
        print(f"{args.file}: {len(error.problems)} problem(s); nothing was written.", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if args.action == "validate":
        tasks = sum(len(p.tasks) for p in plan.patients)
        print(f"{args.file}: valid ({len(plan.patients)} patient(s), {tasks} task(s))")
        return 0
    with transaction(_sessions()) as session:
        settings = get_settings()
        changes = apply_plan(
            plan,
            session=session,
            invite_ttl_days=settings.invite_ttl_days,
            default_timezone=settings.default_timezone,
        )
    if not changes:
        print("No changes: the database already matches the plan.")
    for change in changes:
        print(change)
    return 0


def _day(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SystemExit(f"{flag} wants a date like 2026-11-30, not {value!r}") from None


def _since(value: str | None) -> dt.datetime | None:
    day = _day(value, "--since")
    return None if day is None else dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)


def _until(value: str | None) -> dt.datetime | None:
    """The end of the given day (UTC): --until is inclusive."""
    day = _day(value, "--until")
    return (
        None
        if day is None
        else dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    )


def cmd_report(args: argparse.Namespace) -> int:
    from data import audit
    from data.db import transaction
    from data.report import build_report

    with transaction(_sessions()) as session:
        report = build_report(
            session=session,
            patient_id=args.patient,
            therapist_id=args.therapist,
            since=_since(args.since),
            until=_until(args.until),
        )
        # Read from the server: the audit says so, as it does for a therapist's /review.
        for patient in report:
            audit.record(session=session, actor=audit.CLI, action="report", patient_id=patient["patient_id"])
    if args.patient and not report:
        print(f"No patient with id {args.patient!r}.", file=sys.stderr)
        return 1
    if args.format == "json":
        _write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", args.out)
        return 0
    if args.format == "csv":
        from data.report_csv import write_long_csv

        out = io.StringIO()
        write_long_csv(report, out)
        _write_text(out.getvalue(), args.out)
        return 0
    return _report_png(report, args.out)


def _write_text(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")
        print(out, file=sys.stderr)


def _report_png(report: list[dict[str, Any]], out: str | None) -> int:
    """One patient's chart, written to --out or under var/reports/; prints the path."""
    from coach.paths import VAR
    from data import wording
    from messaging.charts import weekly_chart

    if len(report) != 1:
        print(
            f"The chart draws one patient; this selection has {len(report)}. Add --patient.",
            file=sys.stderr,
        )
        return 2
    [patient] = report
    path = (
        Path(out) if out else VAR / "reports" / f"{patient['patient_id']}-{dt.date.today().isoformat()}.png"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(weekly_chart(patient, wording.content()["report_chart"]))
    print(path)
    return 0


def cmd_invite(args: argparse.Namespace) -> int:
    from data import audit, patients
    from data.db import transaction
    from data.invites import issue_invite

    settings = get_settings()
    with transaction(_sessions()) as session:
        patient = patients.by_id(session=session, patient_id=args.patient_id)
        if patient is None:
            print(f"No patient with id {args.patient_id!r}.", file=sys.stderr)
            return 1
        patient.erased_at = None  # a new invite lets a patient who left come back
        code = issue_invite(session=session, patient_id=patient.id, ttl_days=settings.invite_ttl_days)
        audit.record(session=session, actor=audit.CLI, action="invite", patient_id=patient.id)
    print(f"Invite code for {args.patient_id}: {code}")
    print(f"Link: https://t.me/<your bot's username>?start={code}")
    print(f"Valid for {settings.invite_ttl_days} days, once. Earlier codes no longer work.")
    return 0


def cmd_discharge(args: argparse.Namespace) -> int:
    from data import audit, patients
    from data.care_plans import set_discharged
    from data.db import transaction

    settings = get_settings()
    with transaction(_sessions()) as session:
        patient = patients.by_id(session=session, patient_id=args.patient_id)
        if patient is None or patient.erased_at is not None:
            print(f"No patient with id {args.patient_id!r} (or their data is erased).", file=sys.stderr)
            return 1
        if (patient.discharged_at is None) == args.reopen:
            print(f"{args.patient_id}: already {'active' if args.reopen else 'discharged'}; nothing changed.")
            return 0
        set_discharged(patient, not args.reopen)
        action = "reopen" if args.reopen else "discharge"
        audit.record(session=session, actor=audit.CLI, action=action, patient_id=patient.id)
    if args.reopen:
        print(f"{args.patient_id}: plan reopened; reminders resume.")
    else:
        print(f"{args.patient_id}: plan closed. Reminders stop; the patient gets a goodbye in Telegram;")
        print(f"their data is erased in {settings.retention_days} days (RETENTION_DAYS).")
        print("A care-plan file that still says `status: active` reopens the plan when applied.")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Who read or changed which patient's data, oldest first; refused attempts marked."""
    from data import audit

    actor = audit.therapist_actor(args.therapist) if args.therapist else None
    with _sessions()() as session:
        rows = audit.events(
            session=session, actor=actor, patient_id=args.patient, since=_since(args.since), limit=args.limit
        )
        lines = [
            "\t".join(
                [
                    e.at.isoformat(timespec="seconds"),
                    e.actor,
                    e.action,
                    e.patient_id or "-",
                    "allowed" if e.allowed else "REFUSED",
                    e.detail or "",
                ]
            ).rstrip()
            for e in rows
        ]
    print("\n".join(["at (UTC)\tactor\taction\tpatient\toutcome\tdetail", *lines]))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from data.migrate import upgrade

    upgrade(get_settings().database_url)
    print("Database is at the newest schema.")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from coach import wiring as app
    from data.logging_setup import configure

    settings = get_settings()
    configure(settings.log_level)
    asyncio.run(app.run(settings))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from coach import wiring as app
    from data.logging_setup import configure

    settings = get_settings()
    configure("WARNING")
    asyncio.run(
        app.run(settings.model_copy(update={"telegram_bot_token": None}), terminal_patient=args.patient)
    )
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from coach.supervisor import up

    return up(demo=not args.no_demo)


def cmd_nudges(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from data.db import transaction
    from scheduler.nudges import upcoming_for

    now = dt.datetime.now(dt.timezone.utc)
    with transaction(_sessions()) as session:
        rows = upcoming_for(session=session, patient_id=args.patient, after=now, limit=args.limit)
        lines = [
            (
                patient.id,
                assignment.task_id,
                when.astimezone(ZoneInfo(patient.timezone)).strftime("%a %Y-%m-%d %H:%M %Z"),
                when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "" if patient.consented_at else "  (not linked yet: won't be sent)",
            )
            for when, assignment, patient in rows
        ]
    if not lines:
        print("No upcoming nudges.")
    for patient_id, task_id, local, utc, note in lines:
        print(f"{patient_id}  {task_id:<20} {local:<28} {utc}{note}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coach", description="Bridgework: a CBT homework coach.")
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="validate or apply a care-plan file")
    plan.add_argument("action", choices=["validate", "apply"])
    plan.add_argument("file")
    plan.set_defaults(func=cmd_plan)

    report = sub.add_parser("report", help="the therapist's review")
    report.add_argument("--patient")
    report.add_argument("--therapist", help="only this therapist's patients")
    report.add_argument("--since", help="a date, YYYY-MM-DD (from its start, UTC)")
    report.add_argument("--until", help="a date, YYYY-MM-DD (to its end, UTC)")
    report.add_argument(
        "--format",
        choices=["json", "csv", "png"],
        default="json",
        help="json (default); csv: one row per fact (patient_id, table, row, field, value); "
        "png: one patient's weekly chart",
    )
    report.add_argument("--out", help="write to this file (png: default var/reports/<patient>-<date>.png)")
    report.set_defaults(func=cmd_report)

    nudges = sub.add_parser("nudges", help="upcoming nudges")
    nudges.add_argument("--patient")
    nudges.add_argument("--limit", type=int, default=20)
    nudges.set_defaults(func=cmd_nudges)

    invite = sub.add_parser("invite", help="a fresh single-use invite code")
    invite.add_argument("patient_id")
    invite.set_defaults(func=cmd_invite)

    discharge = sub.add_parser("discharge", help="close a patient's plan: nudges stop, goodbye, erased later")
    discharge.add_argument("patient_id")
    discharge.add_argument("--reopen", action="store_true", help="reopen a closed plan")
    discharge.set_defaults(func=cmd_discharge)

    audit = sub.add_parser("audit", help="who read or changed which patient's data, and refused attempts")
    audit.add_argument("--therapist", help="one therapist's reads and changes")
    audit.add_argument("--patient", help="everything done with one patient's data")
    audit.add_argument("--since", help="a date, YYYY-MM-DD")
    audit.add_argument("--limit", type=int, help="only the newest N rows")
    audit.set_defaults(func=cmd_audit)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(func=cmd_db)

    sub.add_parser("run", help="the bot (Telegram polling) and the scheduler").set_defaults(func=cmd_run)
    chat = sub.add_parser("chat", help="the terminal chat, as a patient (Rasa must be running)")
    chat.add_argument("--patient", default="p-001")
    chat.set_defaults(func=cmd_chat)
    up = sub.add_parser("up", help="everything, as `make run` does")
    up.add_argument("--no-demo", action="store_true", help="don't apply the demo care plan")
    up.set_defaults(func=cmd_up)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Everything coach (and the processes it starts) creates is private from the start:
    # var/, the SQLite files, logs, the generated endpoints.yml. Directories 0700, files 0600.
    os.umask(0o077)
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

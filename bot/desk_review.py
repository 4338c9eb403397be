"""/review, /export and /patients: the therapist's reading of their patients' homework.

All three read the one report computation (data/report.py), so the brief, the files and
`coach report` always agree. The brief is text to read in two minutes before a session,
followed by the chart (messaging/charts.py); /export sends the same data as files.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Callable
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.desk_parts import PatientRef, TherapistView, patient_buttons
from data import audit, desk
from data.db import run_in_thread
from data.models import utcnow
from data.report import build_report
from data.report_csv import write_long_csv
from data.wording import content, say
from messaging.charts import weekly_chart
from messaging.rendering import Reply

# With no session marked and no date given, the brief covers this far back.
DEFAULT_PERIOD = dt.timedelta(days=14)
# What /patients counts as "this week": the last seven days, whatever the weekday.
WEEK = dt.timedelta(days=7)
# The patient's own words are quoted, but a brief is not a transcript.
_QUOTE_LIMIT = 160


class DeskReview:
    def __init__(self, *, sessions: sessionmaker[Session]):
        self._sessions = sessions

    async def review(self, therapist: TherapistView, patient: PatientRef, rest: str) -> list[Reply]:
        """The brief since the last session (or the date given), then the chart."""
        since_date = _date(rest)
        if rest and since_date is None:
            return [Reply(say("desk_session_which_day"))]

        def work(session: Session) -> tuple[dict[str, Any], dt.datetime, str]:
            since, basis = _period_start(session, patient.id, since_date)
            [found] = build_report(session=session, patient_id=patient.id, since=since)
            audit.record(session=session, actor=therapist.actor, action="review", patient_id=patient.id)
            return found, since, basis

        found, since, basis = await run_in_thread(self._sessions, work)
        zone = ZoneInfo(therapist.clinic_timezone)
        text = brief(found, patient, since=since, until=utcnow(), basis=basis, zone=zone)
        chart = weekly_chart(found, content()["report_chart"])
        name = f"bridgework-{patient.id}-{utcnow().date().isoformat()}.png"
        return [Reply(text), Reply(say("review_chart_caption"), document=(name, chart))]

    async def export(self, therapist: TherapistView, patient: PatientRef, rest: str) -> list[Reply]:
        """The same data as the brief, everything since the patient started, as CSV and JSON."""

        def work(session: Session) -> list[dict[str, Any]]:
            reports = build_report(session=session, patient_id=patient.id)
            audit.record(session=session, actor=therapist.actor, action="export", patient_id=patient.id)
            return reports

        reports = await run_in_thread(self._sessions, work)
        stem = f"bridgework-{patient.id}-{utcnow().date().isoformat()}"
        as_json = json.dumps(reports, indent=2, ensure_ascii=False).encode()
        table = io.StringIO()
        write_long_csv(reports, table)
        as_csv = table.getvalue().encode()
        return [
            Reply(say("export_csv_caption", name=patient.display_name), document=(f"{stem}.csv", as_csv)),
            Reply(say("export_json_caption"), document=(f"{stem}.json", as_json)),
        ]

    async def patients(self, therapist: TherapistView) -> list[Reply]:
        """Each of their patients: this week's homework, when last heard from, and flags."""
        now = utcnow()

        def work(session: Session) -> list[tuple[PatientRef, dict[str, Any]]]:
            rows = desk.own_patients(session=session, therapist_id=therapist.id)
            found = []
            for row in rows:
                [week] = build_report(session=session, patient_id=row.id, since=now - WEEK)
                found.append((PatientRef(row.id, row.display_name, row.timezone), week))
            audit.record(
                session=session, actor=therapist.actor, action="patients", detail=f"{len(rows)} listed"
            )
            return found

        found = await run_in_thread(self._sessions, work)
        if not found:
            return [Reply(say("desk_no_patients"))]
        zone = ZoneInfo(therapist.clinic_timezone)
        lines = [say("patients_head")] + [_patient_line(ref, week, zone) for ref, week in found]
        buttons = patient_buttons(therapist, "review", [ref for ref, _ in found])
        return [Reply("\n".join(lines), buttons)]


# --- the brief, as text ---------------------------------------------------------------


def brief(
    report: dict[str, Any],
    patient: PatientRef,
    *,
    since: dt.datetime,
    until: dt.datetime,
    basis: str,
    zone: ZoneInfo,
) -> str:
    words = content()["review"]
    day = _day_format(zone)
    parts = [
        words["head"].format(
            name=patient.display_name,
            patient_id=patient.id,
            start=day(since),
            end=day(until),
            basis=words["basis"][basis],
        )
    ]
    titles = {t["id"]: t["title"] for t in report["tasks"]}
    parts.append(words["tasks_head"])
    parts += [
        _task_line(task, report["checkins"], words) for task in report["tasks"] if task.get("active", True)
    ]
    if (rate := report.get("completion_rate")) is not None:
        parts.append(words["overall"].format(rate=_percent(rate)))

    barriers = report["barriers"]
    if barriers:
        parts.append(words["barriers_head"])
        by_category = Counter(b["category"] for b in barriers)
        for category, count in by_category.most_common():
            label = words["barrier_names"].get(category, category)
            parts.append(words["barrier_line"].format(category=label, count=count))
            for b in [b for b in barriers if b["category"] == category][-3:]:
                plan = words["barrier_plan"].format(plan=b["plan"]) if b.get("plan") else ""
                flag = words["barrier_flag"] if b.get("needs_adjusting") else ""
                parts.append(
                    words["barrier_quote"].format(
                        when=day(_parse(b["at"])), words=_quote(b["words"]), plan=plan, flag=flag
                    )
                )
    else:
        parts.append(words["no_barriers"])

    if report["resistance"]:
        days = ", ".join(day(_parse(r["at"])) for r in report["resistance"])
        parts.append(words["pushback"].format(count=len(report["resistance"]), days=days))
        parts += [words["pushback_quote"].format(words=_quote(r["words"])) for r in report["resistance"][-2:]]
    crisis = report["crisis"]
    checks = report.get("risk_checks", [])
    if crisis or checks:
        moments = [day(_parse(c["at"]), with_time=True) for c in crisis]
        parts.append(words["crisis"].format(count=len(crisis), moments=", ".join(moments) or "-"))
        if checks:
            answers = Counter(c.get("answer") or "none" for c in checks)
            summary = ", ".join(f"{words['risk_answers'].get(a, a)} {n}" for a, n in answers.most_common())
            parts.append(words["risk_checks"].format(count=len(checks), answers=summary))
    if report.get("unreachable_since"):
        parts.append(words["unreachable"].format(since=day(_parse(report["unreachable_since"]))))

    shared = [c for c in report["checkins"] if c.get("reflection")]
    worksheets = [c for c in report["checkins"] if c.get("worksheet")]
    if shared:
        parts.append(words["reflections_head"])
        parts += [
            words["reflection"].format(
                when=day(_parse(c["reported_at"])),
                task=titles.get(c["task_id"], ""),
                words=_quote(c["reflection"]),
            )
            for c in shared[-5:]
        ]
    if worksheets:
        parts.append(words["worksheets_head"])
        parts += [
            words["worksheet"].format(
                when=day(_parse(c["reported_at"])),
                task=titles.get(c["task_id"], ""),
                answers=_answers(c["worksheet"]),
            )
            for c in worksheets[-4:]
        ]
    return "\n".join(parts)


def _task_line(task: dict[str, Any], checkins: list[dict[str, Any]], words: dict[str, Any]) -> str:
    mine = [c for c in checkins if c["task_id"] == task["id"]]
    helped = [c["helpfulness"] for c in mine if c.get("helpfulness") is not None]
    hard = [c["difficulty"] for c in mine if c.get("difficulty") is not None]
    # Still open (due, but within the time to answer) is not counted yet, in the rate or here.
    planned = task.get("planned", 0) - task.get("open", 0)
    line = words["task"].format(
        title=task["title"],
        done=task.get("done", 0),
        planned=planned,
        rate=_percent(task["completion_rate"]) if task.get("completion_rate") is not None else "-",
    )
    extras = []
    if task.get("partial"):
        extras.append(words["task_partial"].format(count=task["partial"]))
    if task.get("no_response"):
        extras.append(words["task_no_response"].format(count=task["no_response"]))
    if task.get("skipped"):
        extras.append(words["task_skipped"].format(count=task["skipped"]))
    if task.get("open"):
        extras.append(words["task_open"].format(count=task["open"]))
    expected = task.get("expected_helpfulness")
    if expected is not None or helped:
        extras.append(
            words["task_helpfulness"].format(
                expected=expected if expected is not None else "-",
                found=f"{mean(helped):.1f}" if helped else "-",
            )
        )
    if hard:
        extras.append(words["task_difficulty"].format(difficulty=f"{mean(hard):.1f}"))
    if task.get("planned_when"):
        when = task["planned_when"]
        extras.append(
            words["task_kept_times"] if when == "keep" else words["task_planned_when"].format(when=when)
        )
    if task.get("backed_off_at"):
        extras.append(words["task_backed_off"])
    return line + ("; " + "; ".join(extras) if extras else "")


def _patient_line(patient: PatientRef, week: dict[str, Any], zone: ZoneInfo) -> str:
    words = content()["patients_list"]
    planned = sum(t.get("planned", 0) - t.get("open", 0) for t in week["tasks"] if t.get("active", True))
    done = sum(t.get("done", 0) for t in week["tasks"] if t.get("active", True))
    heard = [c["reported_at"] for c in week["checkins"] if c.get("reported_at")]
    last = _day_format(zone)(_parse(max(heard))) if heard else words["not_this_week"]
    flags = []
    if week.get("unreachable_since"):
        flags.append(words["flags"]["unreachable"])
    if week["crisis"]:
        flags.append(words["flags"]["crisis"])
    if any(b.get("needs_adjusting") for b in week["barriers"]):
        flags.append(words["flags"]["adjust"])
    if week["resistance"]:
        flags.append(words["flags"]["pushback"])
    if any(t.get("nudges_reduced_at") for t in week["tasks"]):
        flags.append(words["flags"]["unanswered"])
    return words["line"].format(
        name=patient.display_name,
        patient_id=patient.id,
        done=done,
        planned=planned,
        last=last,
        flags=(" · " + ", ".join(flags)) if flags else "",
    )


# --- small parts ------------------------------------------------------------------------


def _period_start(session: Session, patient_id: str, since_date: dt.date | None) -> tuple[dt.datetime, str]:
    if since_date is not None:
        return dt.datetime.combine(since_date, dt.time(), tzinfo=dt.timezone.utc), "since_date"
    if (held := desk.last_session(session=session, patient_id=patient_id)) is not None:
        return held, "since_session"
    return utcnow() - DEFAULT_PERIOD, "default"


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _day_format(zone: ZoneInfo) -> Callable[..., str]:
    """Dates as the therapist reads them: in the clinic's zone, weekday first."""

    def day(moment: dt.datetime, with_time: bool = False) -> str:
        local = moment.astimezone(zone)
        return local.strftime("%a %d %b %H:%M" if with_time else "%a %d %b")

    return day


def _percent(rate: float) -> str:
    return f"{round(rate * 100)}%"


def _quote(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"


def _answers(answers: dict[str, Any]) -> str:
    return "; ".join(f"{key.replace('_', ' ')}: {_quote(str(value))[:60]}" for key, value in answers.items())

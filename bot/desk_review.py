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
from messaging.rendering import TELEGRAM_TEXT_LIMIT, Reply, split_text, telegram_length

# With no session marked and no date given, the brief covers this far back.
DEFAULT_PERIOD = dt.timedelta(days=14)
# What /patients counts as "this week": the last seven days, whatever the weekday.
WEEK = dt.timedelta(days=7)
# The patient's own words are quoted, but a brief is not a transcript.
_QUOTE_LIMIT = 160
# A list of moments (crisis responses, pushback, unreachable periods) shows the latest few.
_LISTED = 5


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
    """The brief, in the order it is read: what needs the therapist's attention, then the
    homework done of planned, then the patient's words. One Telegram message: when it would
    be longer, some of their words are left out, and it says so."""
    words = content()["review"]
    day = _day_format(zone)
    head = words["head"].format(
        name=patient.display_name,
        patient_id=patient.id,
        start=day(since),
        end=day(until),
        basis=words["basis"][basis],
    )
    flags = _flags(report, words, day, ZoneInfo(patient.timezone))
    homework = _homework(report, words)
    titles = {t["id"]: t["title"] for t in report["tasks"]}
    obstacles = _obstacles(report["barriers"], words, day)
    shared = [c for c in report["checkins"] if c.get("reflection")]
    worksheets = [c for c in report["checkins"] if c.get("worksheet")]
    reflections = [words["reflections_head"]] if shared else []
    reflections += [
        words["reflection"].format(
            when=day(_parse(c["reported_at"])),
            task=titles.get(c["task_id"], ""),
            words=_quote(c["reflection"]),
        )
        for c in shared[-5:]
    ]
    sheets = [words["worksheets_head"]] if worksheets else []
    sheets += [
        words["worksheet"].format(
            when=day(_parse(c["reported_at"])),
            task=titles.get(c["task_id"], ""),
            answers=_answers(c["worksheet"]),
        )
        for c in worksheets[-4:]
    ]
    # Over one message: the oldest worksheets go first, then the oldest reflections, then the
    # least common obstacles' quotes; the flags and the homework always stay.
    return _fit(
        [[head], flags, homework],
        [(obstacles, False), (reflections, True), (sheets, True)],
        words["shortened"],
    )


def _flags(
    report: dict[str, Any], words: dict[str, Any], day: Callable[..., str], their_zone: ZoneInfo
) -> list[str]:
    """What needs the therapist's attention, most urgent first; a line saying so when nothing does."""
    lines = []
    crisis = report["crisis"]
    checks = report.get("risk_checks", [])
    if crisis or checks:
        moments = _some([day(_parse(c["at"]), with_time=True) for c in crisis])
        lines.append(words["crisis"].format(count=len(crisis), moments=moments or "-"))
        if checks:
            answers = Counter(c.get("answer") or "none" for c in checks)
            summary = ", ".join(f"{words['risk_answers'].get(a, a)} {n}" for a, n in answers.most_common())
            lines.append(words["risk_checks"].format(count=len(checks), answers=summary))
    lines += _unreachable(report, words, their_zone)
    adjust = _titles_of(report, {b["task_id"] for b in report["barriers"] if b.get("needs_adjusting")})
    if any(b.get("needs_adjusting") for b in report["barriers"]):
        lines.append(words["adjust"].format(tasks=adjust or "-"))
    if report["resistance"]:
        days = _some([day(_parse(r["at"])) for r in report["resistance"]])
        lines.append(words["pushback"].format(count=len(report["resistance"]), days=days))
        lines += [words["pushback_quote"].format(words=_quote(r["words"])) for r in report["resistance"][-2:]]
    reduced = _titles_of(report, {t["id"] for t in report["tasks"] if t.get("nudges_reduced_at")})
    if reduced:
        lines.append(words["unanswered"].format(tasks=reduced))
    return [words["flags_head"], *lines] if lines else [words["no_flags"]]


def _unreachable(report: dict[str, Any], words: dict[str, Any], zone: ZoneInfo) -> list[str]:
    """Each time they couldn't be reached in the period, in their own time zone's dates."""
    their_day = _day_format(zone)
    found = report.get("unreachable_periods") or []
    if not found:
        # A report without periods (made before they were kept) still says so when it is now.
        if since := report.get("unreachable_since"):
            return [words["unreachable"].format(since=their_day(_parse(since)))]
        return []
    lines = [words["unreachable_head"].format(count=len(found), zone=zone.key)]
    shown = found[-_LISTED:]
    if len(found) > len(shown):
        lines.append(words["unreachable_earlier"].format(count=len(found) - len(shown)))
    for period in shown:
        start = _parse(period["from"])
        if period.get("until") is None:
            lines.append(words["unreachable_open"].format(start=their_day(start)))
            continue
        end = _parse(period["until"])
        same_day = start.astimezone(zone).date() == end.astimezone(zone).date()
        lines.append(
            words["unreachable_period"].format(
                start=their_day(start, same_day),
                end=their_day(end, same_day),
            )
        )
    return lines


def _homework(report: dict[str, Any], words: dict[str, Any]) -> list[str]:
    """Done of planned per task and overall, partly done counting half and shown as a half."""
    shown = [t for t in report["tasks"] if t.get("active", True) or t.get("planned")]
    lines = [words["tasks_head"]]
    lines += [_task_line(task, report["checkins"], words) for task in shown]
    if (rate := report.get("completion_rate")) is not None:
        tally = report.get("occurrences") or {}
        lines.append(
            words["overall"].format(
                done=_done(tally), planned=tally.get("planned", 0) - tally.get("open", 0), rate=_percent(rate)
            )
        )
    return lines


def _obstacles(barriers: list[dict[str, Any]], words: dict[str, Any], day: Callable[..., str]) -> list[str]:
    if not barriers:
        return [words["no_barriers"]]
    lines = [words["barriers_head"]]
    by_category = Counter(b["category"] for b in barriers)
    for category, count in by_category.most_common():
        label = words["barrier_names"].get(category, category)
        lines.append(words["barrier_line"].format(category=label, count=count))
        for b in [b for b in barriers if b["category"] == category][-3:]:
            plan = words["barrier_plan"].format(plan=b["plan"]) if b.get("plan") else ""
            flag = words["barrier_flag"] if b.get("needs_adjusting") else ""
            lines.append(
                words["barrier_quote"].format(
                    when=day(_parse(b["at"])), words=_quote(b["words"]), plan=plan, flag=flag
                )
            )
    return lines


def _fit(kept: list[list[str]], shortened: list[tuple[list[str], bool]], note: str) -> str:
    """The sections as one message within Telegram's limit (messaging/rendering.py).

    `kept` always go in whole. Over the limit, the `shortened` sections lose lines, the last
    section first: each its oldest line after its heading (True) or its last line (False),
    and a section down to its heading goes too; `note` says so. Still too long: cut at a
    line break, as a long message is split.
    """
    trimmed = [(list(lines), oldest_first) for lines, oldest_first in shortened]

    def text() -> str:
        return "\n".join(line for section in [*kept, *(lines for lines, _ in trimmed)] for line in section)

    if telegram_length(whole := text()) <= TELEGRAM_TEXT_LIMIT:
        return whole
    while any(lines for lines, _ in trimmed) and telegram_length(text() + note) > TELEGRAM_TEXT_LIMIT:
        lines, oldest_first = next((lines, o) for lines, o in reversed(trimmed) if lines)
        lines.pop(1 if oldest_first and len(lines) > 1 else -1)
        if len(lines) == 1:
            lines.clear()
    return split_text(text(), TELEGRAM_TEXT_LIMIT - telegram_length(note))[0] + note


def _task_line(task: dict[str, Any], checkins: list[dict[str, Any]], words: dict[str, Any]) -> str:
    mine = [c for c in checkins if c["task_id"] == task["id"]]
    helped = [c["helpfulness"] for c in mine if c.get("helpfulness") is not None]
    hard = [c["difficulty"] for c in mine if c.get("difficulty") is not None]
    # Still open (due, but within the time to answer) is not counted yet, in the rate or here.
    planned = task.get("planned", 0) - task.get("open", 0)
    line = words["task"].format(
        title=task["title"],
        done=_done(task),
        planned=planned,
        rate=_percent(task["completion_rate"]) if task.get("completion_rate") is not None else "-",
    )
    if not task.get("active", True):
        line += words["task_stopped"]
    extras = []
    if task.get("partial"):
        extras.append(words["task_partial"].format(count=task["partial"]))
    if task.get("no_response"):
        extras.append(words["task_no_response"].format(count=task["no_response"]))
    if task.get("skipped"):
        extras.append(words["task_skipped"].format(count=task["skipped"]))
    if task.get("open"):
        extras.append(words["task_open"].format(count=task["open"]))
    # Done on their own, not when asked: real work, but not part of the planned count above.
    done_more = sum(c.get("status") == "done" for c in mine) - int(task.get("done") or 0)
    partial_more = sum(c.get("status") == "partial" for c in mine) - int(task.get("partial") or 0)
    if done_more > 0 or partial_more > 0:
        extras.append(words["task_unplanned"].format(done=max(done_more, 0), partial=max(partial_more, 0)))
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


def _done(tally: dict[str, Any]) -> str:
    """Done, with partly done counting half and shown as a half: 3, 2½, ½."""
    halves = 2 * int(tally.get("done") or 0) + int(tally.get("partial") or 0)
    whole, half = divmod(halves, 2)
    return (str(whole) if whole or not half else "") + ("½" if half else "")


def _some(items: list[str]) -> str:
    """A list in a line, the latest few of a long one and how many more there were."""
    if len(items) <= _LISTED:
        return ", ".join(items)
    return f"… (+{len(items) - _LISTED}), " + ", ".join(items[-_LISTED:])


def _titles_of(report: dict[str, Any], task_ids: set[Any]) -> str:
    return ", ".join(t["title"] for t in report["tasks"] if t["id"] in task_ids)


def _quote(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"


def _answers(answers: dict[str, Any]) -> str:
    return "; ".join(f"{key.replace('_', ' ')}: {_quote(str(value))[:60]}" for key, value in answers.items())

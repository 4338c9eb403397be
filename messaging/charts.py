"""The therapist's weekly chart: one patient's report (plain dicts) in, PNG bytes out.

Pure: no database, nothing of ours imported, so `coach report` and the bot can both
draw it. Matplotlib's object API on the Agg canvas: no display, no pyplot global
state (safe from any thread). Sized for a phone: one column, large type.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Stacked bottom to top: what happened first, then what didn't.
STATUSES = ("done", "partial", "not_done", "no_response", "skipped")
# Colour-blind-safe (Okabe-Ito), and told apart by hatching in greyscale too.
COLOURS = {
    "done": "#009E73",
    "partial": "#56B4E9",
    "not_done": "#E69F00",
    "no_response": "#999999",
    "skipped": "#F0F0F0",
}
HATCHES = {"done": "", "partial": "", "not_done": "", "no_response": "//", "skipped": ".."}
EXPECTED_COLOUR, EXPERIENCED_COLOUR, DIFFICULTY_COLOUR = "#0072B2", "#D55E00", "#CC79A7"


# Up to this many tasks, each gets its own panel of planned check-ins; more, and one
# panel pools them (four panels are as many as a phone screen shows at a glance).
MAX_TASK_PANELS = 4
_TITLE_CHARS = 48


def task_panels(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The tasks drawn in a panel each: those with anything planned in the period, when there
    are 1 to MAX_TASK_PANELS of them; otherwise none (one pooled panel)."""
    planned = [
        t
        for t in report.get("tasks") or []
        if any(sum(int(w.get(s) or 0) for s in (*STATUSES, "open")) for w in t.get("weeks") or [])
    ]
    return planned if len(planned) <= MAX_TASK_PANELS else []


def weekly_chart(report: Mapping[str, Any], labels: Mapping[str, str]) -> bytes:
    """PNG bytes: planned check-ins per week by status (stacked bars, completion above each),
    a panel per task for up to four tasks, else one for all; then expected vs experienced
    helpfulness and difficulty (lines on 1-5, all tasks together), one patient.

    `report` is one patient's report (its `patient_id`, `weeks` and each task's `weeks`);
    `labels` the wording (data/content/bot.yml, `report_chart`).
    """
    weeks: Sequence[Mapping[str, Any]] = report.get("weeks") or []
    tasks = task_panels(report) if weeks else []
    bar_rows = max(len(tasks), 1)
    bar_ratio = 2.2 if not tasks else 1.7
    figure = Figure(figsize=(6.4, 5.2 + bar_ratio * 1.55 * bar_rows), dpi=150, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(labels["title"].format(patient_id=report["patient_id"]), fontsize=16, fontweight="bold")
    *bars, helpful, difficult = figure.subplots(
        bar_rows + 2, 1, sharex=True, height_ratios=(*[bar_ratio] * bar_rows, 1.3, 1.1)
    )
    x = list(range(len(weeks)))
    if not weeks:
        for axes in (*bars, helpful, difficult):
            axes.set_xticks([])
        bars[0].text(
            0.5, 0.5, labels["no_data"], ha="center", va="center", fontsize=13, transform=bars[0].transAxes
        )
    if tasks:
        starts = [w["week_start"] for w in weeks]
        series = [_aligned(starts, task.get("weeks") or []) for task in tasks]
        top = max(_height(s) for s in series)
        for axes, task, task_weeks in zip(bars, tasks, series, strict=True):
            _completion(axes, x, task_weeks, labels, top=top, legend=False)
            title = _short(str(task.get("title") or task.get("id")))
            rate = task.get("completion_rate")
            axes.set_title(
                labels["task_panel"].format(title=title)
                if rate is None
                else labels["task_panel_rate"].format(title=title, percent=round(100 * rate)),
                loc="left",
                fontsize=12,
                fontweight="bold",
            )
        _status_legend(bars)
        if len(tasks) > 1:
            helpful.set_title(labels["ratings_all_tasks"], loc="left", fontsize=12, fontweight="bold")
    else:
        _completion(bars[0], x, weeks, labels, legend=bool(weeks))
        if weeks and report.get("tasks"):
            bars[0].set_title(labels["all_tasks"], loc="left", fontsize=12, fontweight="bold")
    _ratings(helpful, x, weeks, labels)
    _difficulty(difficult, x, weeks, labels)
    if weeks:
        difficult.set_xticks(x, [_week_label(w["week_start"]) for w in weeks], fontsize=11)
        for axes in bars if tasks else ():  # each task's weeks named under its own bars
            axes.tick_params(labelbottom=True, labelsize=10)
        if len(weeks) > 8:  # keep the labels readable on a phone
            for tick in difficult.get_xticklabels():
                tick.set_rotation(45)
                tick.set_horizontalalignment("right")
        difficult.set_xlabel(labels["week_of"], fontsize=12)
        difficult.set_xlim(-0.6, len(weeks) - 0.4)
    out = io.BytesIO()
    figure.savefig(out, format="png", facecolor="white")
    return out.getvalue()


def _aligned(starts: list[str], weeks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A task's weeks on the patient's week axis: a week the task had nothing in is empty."""
    by_start = {w["week_start"]: w for w in weeks}
    return [by_start.get(start, {"week_start": start}) for start in starts]


def _height(weeks: Sequence[Mapping[str, Any]]) -> float:
    return max((sum(float(w.get(s) or 0) for s in (*STATUSES, "open")) for w in weeks), default=0.0)


def _short(title: str) -> str:
    return title if len(title) <= _TITLE_CHARS else title[: _TITLE_CHARS - 1] + "…"


def _status_legend(panels: Sequence[Any]) -> None:
    """One legend of the statuses for every task's panel, under the last one's week labels
    ("still open" in it when any panel has an open week)."""
    found: dict[str, Any] = {}
    for axes in panels:
        for handle, name in zip(*axes.get_legend_handles_labels(), strict=True):
            found.setdefault(name, handle)
    panels[-1].legend(
        list(found.values()),
        list(found),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncols=3,
        fontsize=10,
        frameon=False,
    )


def _completion(
    axes: Any,
    x: list[int],
    weeks: Sequence[Mapping[str, Any]],
    labels: Mapping[str, str],
    *,
    top: float | None = None,
    legend: bool = True,
) -> None:
    """Stacked bars of one week's planned check-ins by status; `top`: the same scale for
    every task's panel; `legend`: the statuses' legend under this panel."""
    bottom = [0.0] * len(weeks)
    for status in STATUSES:
        heights = [float(w.get(status) or 0) for w in weeks]
        axes.bar(
            x,
            heights,
            bottom=bottom,
            width=0.7,
            color=COLOURS[status],
            hatch=HATCHES[status],
            edgecolor="#555555",
            linewidth=0.6,
            label=labels[status],
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    # Still open (due, not yet answered, window not passed): an empty dashed box, not counted.
    opened = [float(w.get("open") or 0) for w in weeks]
    shown = [i for i in x if opened[i]]  # a zero-high box would still draw its top edge
    axes.bar(
        shown or [0],
        [opened[i] for i in shown] or [0],
        bottom=[bottom[i] for i in shown] or [0],
        width=0.7,
        fill=False,
        edgecolor="#555555" if shown else "none",
        linestyle="--",
        linewidth=1.2,
        label=labels["open"] if shown else "_nolegend_",
    )
    bottom = [b + h for b, h in zip(bottom, opened, strict=True)]
    top = max(bottom, default=0.0) if top is None else top
    for i, week in enumerate(weeks):
        rate = _rate(week)
        if rate is not None:
            axes.text(
                i,
                bottom[i] + top * 0.03 + 0.05,
                labels["rate"].format(percent=rate),
                ha="center",
                va="bottom",
                fontsize=11,
                fontweight="bold",
            )
    axes.set_ylim(0, max(top * 1.25, 1))
    axes.set_ylabel(labels["completion"], fontsize=12)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.tick_params(labelsize=11)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    if legend:
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.04), ncols=3, fontsize=10, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)


def _rate(week: Mapping[str, Any]) -> int | None:
    """The week's completion in percent (done whole, partly done half), None when nothing settled."""
    settled = sum(int(week.get(s) or 0) for s in STATUSES)
    if not settled:
        return None
    return round(100 * (int(week.get("done") or 0) + 0.5 * int(week.get("partial") or 0)) / settled)


def _ratings(axes: Any, x: list[int], weeks: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> None:
    expected = [_value(w.get("expected_helpfulness")) for w in weeks]
    experienced = [_value(w.get("helpfulness")) for w in weeks]
    axes.plot(
        x,
        expected,
        color=EXPECTED_COLOUR,
        linestyle="--",
        marker="s",
        markersize=7,
        linewidth=2,
        label=labels["expected_helpfulness"],
    )
    axes.plot(
        x,
        experienced,
        color=EXPERIENCED_COLOUR,
        marker="o",
        markersize=8,
        linewidth=2.5,
        label=labels["experienced_helpfulness"],
    )
    _scale(axes, labels["helpfulness"])
    if weeks:
        axes.legend(loc="lower left", fontsize=10, ncols=2, frameon=True, framealpha=0.9, edgecolor="none")


def _difficulty(
    axes: Any, x: list[int], weeks: Sequence[Mapping[str, Any]], labels: Mapping[str, str]
) -> None:
    axes.plot(
        x,
        [_value(w.get("difficulty")) for w in weeks],
        color=DIFFICULTY_COLOUR,
        marker="D",
        markersize=7,
        linewidth=2.5,
    )
    _scale(axes, labels["difficulty"])


def _scale(axes: Any, title: str) -> None:
    axes.set_ylim(0.5, 5.5)
    axes.set_yticks([1, 2, 3, 4, 5])
    axes.set_ylabel(title, fontsize=12)
    axes.tick_params(labelsize=11)
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)


def _value(value: Any) -> float:
    """A rating, or NaN (a gap in the line) for a week without one."""
    return float(value) if value is not None else math.nan


def _week_label(week_start: str) -> str:
    day = dt.date.fromisoformat(week_start)
    return f"{day.day} {day.strftime('%b')}"

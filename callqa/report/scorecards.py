"""The report's scorecard section (QA forms): ``scores.html`` (score distribution, averages
per collector, weekly trend, the lowest-scoring calls) and each call's form on its page
(``templates/_scorecard.html``). Scores are the effective ones: reviewers' overrides applied.

build.py reads the forms of each chunk of call pages with ``warehouse.scores.calls_forms`` and
calls ``write_scores_page`` with the other overview pages (so a purge rebuilds it too).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment

from callqa.report import charts
from core.files import write_atomic
from warehouse.reporting import Reports
from warehouse.scores import collector_scores, lowest_scores, score_summary, weekly_scores

BUCKETS = [f"{10 * k}–{10 * k + 9}" for k in range(9)] + ["90–100"]
LOWEST = 50  # calls listed on scores.html


def _week_label(value: Any) -> str:
    iso = value.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def write_scores_page(rep: Reports, env: Environment, out: Path, common: dict[str, Any],
                      pages: dict[str, str]) -> list[tuple[Path, str, str | None]]:
    """Write ``scores.html``; ``pages`` (call id → page href under calls/) limits the listed
    calls to those with a page in this report. Returns the file written (an overview page)."""
    tz = rep.settings.default_timezone
    summary = score_summary(rep.con, tz, rep.window)          # the report's window
    weekly = weekly_scores(rep.con, tz, rep.trend_window())   # the trend's weeks
    collectors = collector_scores(rep.con, tz, rep.window)
    weeks = sorted({r["week"] for r in weekly if r["week"] is not None})
    means = {(r["scorecard"], r["week"]): float(r["mean_score"] or 0) for r in weekly}
    lowest = lowest_scores(rep.con, list(pages), LOWEST)
    for row in lowest:
        row["page"] = pages.get(row["call_id"])
    figures = {
        "distribution": charts.stacked_bars("Calls by effective score", BUCKETS,
                                            {s["scorecard"]: [float(n) for n in s["buckets"]] for s in summary}),
        "trend": charts.line_chart("Mean effective score per week", [_week_label(w) for w in weeks],
                                   {s["scorecard"]: [means.get((s["scorecard"], w), 0.0) for w in weeks]
                                    for s in summary}),
        "by_collector": {s["scorecard"]: charts.hbars(
            f"Mean score per collector, {s['scorecard']}",
            [(r["collector_id"], float(r["mean_score"] or 0)) for r in collectors if r["scorecard"] == s["scorecard"]],
            vmax=100) for s in summary},
    }
    path = out / "scores.html"
    write_atomic(path, env.get_template("scores.html").render(
        page="scores", root="", summary=summary, weekly=weekly, collectors=collectors, lowest=lowest,
        buckets=BUCKETS, **figures, **common))
    return [(path, "overview", None)]

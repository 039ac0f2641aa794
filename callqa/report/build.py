"""Build the static QA report: overview, review queue, call list and one page per call."""
from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from callqa.report import charts
from callqa.report.media import AudioCopy, place_audio
from core.filenames import safe_name
from core.files import write_atomic
from core.settings import Settings
from warehouse.artifacts import Written, record_files, recorded_files, register_artifact, replace_recorded
from warehouse.redaction import call_audio
from warehouse.reporting import Reports, ensure_schema
from warehouse.store import Warehouse, WarehouseBusy

logger = logging.getLogger("callqa")
HERE = Path(__file__).parent
MARKER = ".callqa-report"
SEVERITIES = ("critical", "high", "medium", "low", "info")
RULE_TITLES = {"outside_hours": "outside calling hours", "attempt_cap": "over the 7-day attempt cap",
               "after_contact": "within the cool-down after a conversation"}


class ReportError(Exception):
    """The report cannot be written (bad output folder, missing database)."""


@dataclass(frozen=True, slots=True)
class ReportResult:
    out: Path
    calls: int
    flagged: int
    audio_ok: int
    audio_missing: int
    seconds: float
    audio_changed: int = 0


def slug(call_id: str) -> str:
    """The file name stem of a call's page and audio (the name exports use). Purges find the
    files by the paths recorded when they were written, not by this name."""
    return safe_name(call_id)


def page_href(call_id: str) -> str:
    """URL (relative to calls/) of a call's page."""
    return quote(f"{slug(call_id)}.html")


def _mmss(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _css_token(value: Any) -> str:
    return re.sub(r"[^a-z0-9_-]", "", str(value or "unknown").lower()) or "unknown"


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def _week(value: date) -> str:
    iso = value.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def environment() -> Environment:
    env = Environment(loader=PackageLoader("callqa.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(mmss=_mmss, num=_num, pct=_pct, css=_css_token, when=_when)
    env.globals.update(rule_titles=RULE_TITLES)
    return env


def _prepare_out(out: Path) -> None:
    """Create OUT, or reuse it when it holds an earlier report; never clobber other folders."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ReportError(f"{out} is not empty and is not a callqa report folder; choose another --out")
    (out / "calls").mkdir(parents=True, exist_ok=True)
    write_atomic(out / MARKER, "written by callqa report\n")
    static = out / "static"
    static.mkdir(exist_ok=True)
    for name in ("report.css", "report.js"):
        write_atomic(static / name, (HERE / "static" / name).read_bytes())


def _register(db: str | Path, out: Path, written: list[Written], *, full: bool) -> None:
    """Record the report folder and the files written into it, so that `callqa purge` reaches
    exactly those. After a full build (``full``), files an earlier build wrote for calls gone
    since are deleted (only files callqa recorded writing)."""
    try:
        with Warehouse(db) as wh:
            register_artifact(wh, out, "report")
            if full:
                replace_recorded(wh, out, written)
            else:
                record_files(wh, out, written)
    except WarehouseBusy:
        logger.warning("database busy: report folder %s not recorded for purges; run the report again later", out)


def _overview_charts(rep: Reports) -> dict[str, Any]:
    weeks_rows = rep.weekly_calls()
    weeks = [r["week"] for r in weeks_rows if r["week"] is not None]
    labels = [_week(w) for w in weeks]
    flags = rep.weekly_flags()
    kinds = sorted({r["kind"] for r in flags})
    by = {(r["week"], r["kind"]): r["n"] for r in flags}
    totals = rep.collector_totals()
    return {
        "flags_by_week": charts.stacked_bars("Flagged findings per week by kind", labels,
                                             {k: [by.get((w, k), 0) for w in weeks] for k in kinds}),
        "abuse_by_week": charts.line_chart("Abuse received and own violations per week", labels, {
            "abuse received": [float(r["abuse_received"] or 0) for r in weeks_rows if r["week"] is not None],
            "threats received": [float(r["threats_received"] or 0) for r in weeks_rows if r["week"] is not None],
            "own violations": [float(r["own_violations"] or 0) for r in weeks_rows if r["week"] is not None],
        }),
        "stress": charts.hbars("Stress index per collector (0-100)",
                               [(r["collector_id"], float(r["stress_index"] or 0)) for r in totals], vmax=100),
        "collector_totals": totals,
    }


def _common(db: str | Path, settings: Settings) -> dict[str, Any]:
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return {"generated": generated, "db_name": Path(db).name, "settings": asdict(settings.compliance)}


def _write_overview(rep: Reports, env: Environment, out: Path, common: dict[str, Any],
                    pages: dict[str, str]) -> tuple[list[Written], int]:
    """Write index.html, queue.html and calls.html. ``pages`` maps call id to its page's href
    (relative to calls/): the queue and call list show the calls that have a page here;
    breaches of other calls (failed ones) are listed without a link.
    Returns (the files written, the number of flagged findings listed)."""
    flagged = [row for row in rep.flagged() if row["call_id"] in pages]
    for row in flagged:
        row["page"] = pages[row["call_id"]]
        row["anchor"] = row["finding_id"].rsplit("#", 1)[-1]
    breaches = rep.compliance_breaches()
    for row in breaches:
        row["page"] = pages.get(row["call_id"])
    calls = [row for row in rep.calls() if row["call_id"] in pages]
    for row in calls:
        row["page"] = pages[row["call_id"]]
    files = {
        "index.html": env.get_template("index.html").render(
            page="overview", root="", kpis=rep.kpis(), breaches=breaches, precision=rep.precision(),
            missed=rep.missed(), unflagged_reviewed=rep.unflagged_reviewed(),
            weekly=rep.collector_stats("week"), trend=rep.abuse_trend(), **_overview_charts(rep), **common),
        "queue.html": env.get_template("queue.html").render(page="queue", root="", flagged=flagged, **common),
        "calls.html": env.get_template("calls.html").render(
            page="calls", root="", calls=calls, by_call=rep.call_breaches(), **common),
    }
    for name, text in files.items():
        write_atomic(out / name, text)
    return [(out / name, "overview", None) for name in files], len(flagged)


def build_report(db: str | Path, out: str | Path, settings: Settings, *, audio: bool = True) -> ReportResult:
    """Write the report for ``db`` into ``out`` (read-only on the database; the files written
    are then recorded in it for purges).

    Args:
        settings: ``[compliance]`` gives the calling hours, caps and default timezone.
        audio: write each recording next to its page with its masked spans toned out (never
            the original file); False: pages without players.
    """
    t0 = time.perf_counter()
    out = Path(out)
    if not Path(db).is_file():
        raise ReportError(f"database {db} does not exist")
    _prepare_out(out)
    out = out.resolve()
    env = environment()
    common = _common(db, settings)
    audio_ok = audio_missing = audio_changed = 0
    written: list[Written] = []
    with Reports(db, settings.compliance) as rep:
        calls = rep.calls()
        by_call = rep.call_breaches()
        for call in calls:
            name = slug(call["call_id"])
            call["page"] = page_href(call["call_id"])
            rec = call_audio(rep.con, call["call_id"]) if audio else None
            if rec:  # redacted audio, never the original file
                copy = place_audio(rec, out / "audio", name, quote(name), settings.audio)
            else:
                copy = AudioCopy(None, "missing" if audio else "off", "The call has no landed recording."
                                 if audio else "Audio was left out of this report (--no-audio).")
            if copy.href:
                audio_ok += 1
                written.append((out / "audio" / (name + Path(copy.href).suffix), "audio", call["call_id"]))
            else:
                audio_missing += copy.status == "missing"
                audio_changed += copy.status == "changed"
            findings = rep.findings(call["call_id"])
            for f in findings:
                f["anchor"] = f["finding_id"].rsplit("#", 1)[-1]
            marks: dict[int, list[dict[str, Any]]] = {}
            for f in findings:
                if f["utterance_idx"] is not None and f["severity"] != "info":
                    marks.setdefault(f["utterance_idx"], []).append(f)
            call["flagged"] = sum(1 for f in findings if f["severity"] != "info")
            page = out / "calls" / f"{name}.html"
            write_atomic(page, env.get_template("call.html").render(
                page="call", root="../", call=call, audio=copy, findings=findings, marks=marks,
                utterances=rep.utterances(call["call_id"]), breaches=by_call.get(call["call_id"], []),
                **common))
            written.append((page, "page", call["call_id"]))
        overview, flagged = _write_overview(rep, env, out, common, {c["call_id"]: c["page"] for c in calls})
    _register(db, out, written + overview, full=True)
    seconds = time.perf_counter() - t0
    logger.info("report: %d call(s), %d flagged finding(s) in %.2f s", len(calls), flagged, seconds)
    return ReportResult(out, len(calls), flagged, audio_ok, audio_missing, seconds, audio_changed)


def rebuild_overview(db: str | Path, out: str | Path, settings: Settings) -> list[Path]:
    """Re-render only the overview pages (index, queue, calls) of an existing report folder
    from the database as it is now, e.g. after a purge; call pages and audio stay as they are.

    Calls are linked to the pages recorded in this folder; calls landed since the report was
    built (no page here) are left out of the queue and call list until the next `callqa report`.
    Returns the pages written.
    """
    out = Path(out).resolve()
    if not (out / MARKER).is_file():
        raise ReportError(f"{out} is not a callqa report folder")
    if not Path(db).is_file():
        raise ReportError(f"database {db} does not exist")
    ensure_schema(db)
    with Warehouse(db, read_only=True) as wh:
        pages = {cid: quote(path.name) for path, _, cid in recorded_files(wh, out, kinds=["page"])}
    with Reports(db, settings.compliance) as rep:
        written, _ = _write_overview(rep, environment(), out, _common(db, settings), pages)
    _register(db, out, written, full=False)
    return [path for path, _, _ in written]

"""Build the static QA report: overview, review queue, call list and one page per call."""
from __future__ import annotations

import logging
import re
import shutil
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
from core.settings import Settings
from warehouse.artifacts import register_artifact
from warehouse.redaction import call_audio
from warehouse.reporting import Reports
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
    """The file name stem of a call's page and audio: the name exports use, so purges find them."""
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
    (out / MARKER).write_text("written by callqa report\n", encoding="utf-8")
    static = out / "static"
    static.mkdir(exist_ok=True)
    for name in ("report.css", "report.js"):
        shutil.copyfile(HERE / "static" / name, static / name)


def _prune(folder: Path, keep: set[str]) -> None:
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file() and path.name not in keep:
                path.unlink()


def _register(db: str | Path, out: Path) -> None:
    """Record the report folder as an artifact so `callqa purge` reaches its call pages."""
    try:
        with Warehouse(db) as wh:
            register_artifact(wh, out, "report")
    except WarehouseBusy:
        logger.warning("database busy: report folder %s not registered for purges; run the report again later", out)


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


def build_report(db: str | Path, out: str | Path, settings: Settings, *, audio: bool = True) -> ReportResult:
    """Write the report for ``db`` into ``out`` (read-only on the database).

    Args:
        settings: ``[compliance]`` gives the calling hours, caps and default timezone.
        audio: write each recording next to its page with its masked spans toned out (never
            the original file); False: pages without players.
    """
    t0 = time.perf_counter()
    out = Path(out)
    compliance = settings.compliance
    if not Path(db).is_file():
        raise ReportError(f"database {db} does not exist")
    _prepare_out(out)
    env = environment()
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    common = {"generated": generated, "db_name": Path(db).name, "settings": asdict(compliance)}
    audio_ok = audio_missing = audio_changed = 0
    with Reports(db, compliance) as rep:
        kpis = rep.kpis()
        flagged = rep.flagged()
        breaches = rep.compliance_breaches()
        calls = rep.calls()
        for row in flagged:
            row["page"] = page_href(row["call_id"])
            row["anchor"] = row["finding_id"].rsplit("#", 1)[-1]
        for row in breaches:
            row["page"] = page_href(row["call_id"])
        overview = _overview_charts(rep)
        (out / "index.html").write_text(env.get_template("index.html").render(
            page="overview", root="", kpis=kpis, breaches=breaches, precision=rep.precision(),
            missed=rep.missed(), unflagged_reviewed=rep.unflagged_reviewed(),
            weekly=rep.collector_stats("week"), trend=rep.abuse_trend(), **overview, **common), encoding="utf-8")
        (out / "queue.html").write_text(env.get_template("queue.html").render(
            page="queue", root="", flagged=flagged, **common), encoding="utf-8")
        by_call = rep.call_breaches()
        pages, media = set(), set()
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
                media.add(name + Path(copy.href).suffix)
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
            (out / "calls" / f"{name}.html").write_text(env.get_template("call.html").render(
                page="call", root="../", call=call, audio=copy, findings=findings, marks=marks,
                utterances=rep.utterances(call["call_id"]), breaches=by_call.get(call["call_id"], []),
                **common), encoding="utf-8")
            pages.add(f"{name}.html")
        (out / "calls.html").write_text(env.get_template("calls.html").render(
            page="calls", root="", calls=calls, by_call=by_call, **common), encoding="utf-8")
    _prune(out / "calls", pages)
    _prune(out / "audio", media)
    _register(db, out)
    seconds = time.perf_counter() - t0
    logger.info("report: %d call(s), %d flagged finding(s) in %.2f s", len(calls), len(flagged), seconds)
    return ReportResult(out, len(calls), len(flagged), audio_ok, audio_missing, seconds, audio_changed)

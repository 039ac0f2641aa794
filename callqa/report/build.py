"""Build the static QA report of one window of days: overview, review queue, call list, and a
page (with redacted audio) for each of the window's calls that matter: flagged, drawn in a QA
sample, or reviewed. Its size follows those calls, not the warehouse."""
from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from callqa.report import charts, scorecards
from callqa.report.media import AudioCopy, check_recording, place_audio
from callqa.report.outcomes import outcomes_section
from core.filenames import safe_name
from core.files import write_atomic
from core.settings import Settings
from warehouse.artifacts import (Written, forget_files, record_files, recorded_files, register_artifact,
                                 remove_recorded, replace_recorded)
from warehouse.redaction import calls_audio
from warehouse.reporting import Reports, Window, ensure_schema
from warehouse.scores import calls_forms
from warehouse.store import Warehouse, WarehouseBusy

logger = logging.getLogger("callqa")
HERE = Path(__file__).parent
MARKER = ".callqa-report"
WINDOW_FILE = ".callqa-report.json"  # the window, page size and page cap a rebuild after a purge reuses
CHUNK = 2000         # call pages rendered from one query per child table
TREND_WEEKS = 12     # weeks of the trend charts, ending with the window's last
BREACH_ROWS = 200    # breaches listed on the overview (all are on the call list)
WHY = {"flagged": "flagged", "sampled": "QA sample", "reviewed": "reviewed", "rules": "calling rules"}
SEVERITIES = ("critical", "high", "medium", "low", "info")
RULE_TITLES = {"outside_hours": "outside calling hours", "attempt_cap": "over the 7-day attempt cap",
               "after_contact": "within the cool-down after a conversation"}


class ReportError(Exception):
    """The report cannot be written (bad output folder, missing database)."""


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What a report holds: ``calls`` in its window, ``pages`` written for them (and how many
    calls that qualify for one got ``without_page`` under the cap), ``flagged`` findings in the
    queue, ``files`` recorded (pages, audio, overview pages)."""

    out: Path
    calls: int
    flagged: int
    audio_ok: int
    audio_missing: int
    seconds: float
    audio_changed: int = 0
    pages: int = 0
    files: int = 0
    window: Window | None = None
    without_page: int = 0


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


@dataclass(frozen=True, slots=True)
class Layout:
    """How a report folder was built, kept in it for rebuilds after a purge: the window, rows
    per list page, and the cap on call pages (0: none)."""

    window: Window
    page_size: int
    max_pages: int = 0


def _save_layout(out: Path, layout: Layout) -> None:
    write_atomic(out / WINDOW_FILE, json.dumps({
        "since": layout.window.since.isoformat(), "until": layout.window.until.isoformat(),
        "page_size": layout.page_size, "max_call_pages": layout.max_pages}) + "\n")


def _load_layout(out: Path, settings: Settings) -> Layout:
    """The layout the report in ``out`` was built with (a folder written before reports had
    windows: every call; before they had caps: none)."""
    path = out / WINDOW_FILE
    if not path.is_file():
        return Layout(Window.everything(), settings.report.page_size)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        return Layout(Window(date.fromisoformat(meta["since"]), date.fromisoformat(meta["until"])),
                      int(meta.get("page_size") or settings.report.page_size), int(meta.get("max_call_pages") or 0))
    except (ValueError, KeyError, TypeError) as exc:
        raise ReportError(f"{path} is damaged ({type(exc).__name__}); run `callqa report --out {out}` again") from exc


def _register(db: str | Path, out: Path, written: list[Written], *, full: bool, stale: Iterable[Path] = ()) -> None:
    """Record the report folder and the files written into it, so that `callqa purge` reaches
    exactly those. After a full build (``full``), files an earlier build wrote for calls gone
    since (or outside the window now) are deleted (only files callqa recorded writing); else
    the recorded files in ``stale`` are."""
    try:
        with Warehouse(db) as wh:
            register_artifact(wh, out, "report")
            if full:
                replace_recorded(wh, out, written)
            else:
                stale = set(stale)
                remove_recorded(out, stale)
                forget_files(wh, stale)
                record_files(wh, out, written)
    except WarehouseBusy:
        logger.warning("database busy: report folder %s not recorded for purges; run the report again later", out)


def _overview_charts(rep: Reports) -> dict[str, Any]:
    weeks_rows = [r for r in rep.weekly_calls() if r["week"] is not None]
    weeks = [r["week"] for r in weeks_rows]
    labels = [_week(w) for w in weeks]
    flags = rep.weekly_flags()
    kinds = sorted({r["kind"] for r in flags})
    by = {(r["week"], r["kind"]): r["n"] for r in flags}
    totals = rep.collector_totals()
    return {
        "flags_by_week": charts.stacked_bars("Flagged findings per week by kind", labels,
                                             {k: [by.get((w, k), 0) for w in weeks] for k in kinds}),
        "abuse_by_week": charts.line_chart("Abuse received and own violations per week", labels, {
            "abuse received": [float(r["abuse_received"] or 0) for r in weeks_rows],
            "threats received": [float(r["threats_received"] or 0) for r in weeks_rows],
            "own violations": [float(r["own_violations"] or 0) for r in weeks_rows],
        }),
        "stress": charts.hbars("Stress index per collector (0-100)",
                               [(r["collector_id"], float(r["stress_index"] or 0)) for r in totals], vmax=100),
        "collector_totals": totals,
    }


def _common(db: str | Path, settings: Settings, rep: Reports) -> dict[str, Any]:
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    window = rep.window
    return {"generated": generated, "db_name": Path(db).name, "settings": asdict(settings.compliance),
            "window": {"label": str(window), "since": window.since, "until": window.until, "days": window.days,
                       "unbounded": window.unbounded, "trend": str(rep.trend_window(TREND_WEEKS))}}


def _pager(stem: str, page: int, pages: int) -> dict[str, Any]:
    """Links between the pages ``stem``-1.html … ``stem``-N.html: previous, next, and the
    numbers around this one (always the first and the last)."""
    def href(k: int) -> str:
        return f"{stem}-{k}.html"
    shown = sorted({1, pages, *range(max(1, page - 3), min(pages, page + 3) + 1)})
    return {"page": page, "pages": pages, "prev": href(page - 1) if page > 1 else None,
            "next": href(page + 1) if page < pages else None,
            "links": [(k, href(k), k == page, i > 0 and k - shown[i - 1] > 1) for i, k in enumerate(shown)]}


def _write_paged(env: Environment, out: Path, template: str, stem: str, rows: list[dict[str, Any]],
                 page_size: int, context: dict[str, Any]) -> list[Written]:
    """``rows`` over pages ``stem``-1.html, -2.html, … of ``page_size`` rows each (one page
    when there are none). Each file is recorded with the calls it lists that have no page of
    their own (a purge of those must rewrite it too)."""
    chunks = [rows[k:k + page_size] for k in range(0, len(rows), page_size)] or [[]]
    written: list[Written] = []
    for number, chunk in enumerate(chunks, start=1):
        path = out / f"{stem}-{number}.html"
        write_atomic(path, env.get_template(template).render(
            rows=chunk, total=len(rows), first=(number - 1) * page_size + 1,
            pager=_pager(stem, number, len(chunks)), **context))
        written.append((path, "overview", None))
        written += [(path, "overview", cid) for cid in sorted({r["call_id"] for r in chunk if not r.get("page")})]
    return written


@dataclass(slots=True)
class Listing:
    """The call list: its rows (the window's calls with a page, and those with a calling-rule
    breach: the newest ``max_rows`` of those without a page, when more), newest first; the
    breaches of the listed calls; how many calls have a breach and no page in all."""

    rows: list[dict[str, Any]]
    by_call: dict[str, list[dict[str, Any]]]
    breach_only_listed: int
    breach_only_total: int


def _listing(rep: Reports, reasons: dict[str, list[str]], pages: Iterable[str], max_rows: int = 0) -> Listing:
    """The call list of the calls with a page here (``pages``) and up to ``max_rows`` (0: all)
    calls with a breach and no page; ``reasons`` says why a call qualifies for a page."""
    pages = set(pages)
    breach_only, breach_only_total = rep.breach_calls(without=pages, limit=max_rows or None)
    listed = rep.calls(pages | set(breach_only))
    breach_only_listed = len(set(breach_only) & {row["call_id"] for row in listed})  # landed calls only
    by_call = rep.call_breaches(row["call_id"] for row in listed)
    kinds = rep.flag_kinds(row["call_id"] for row in listed)
    for row in listed:
        row["why"] = [WHY[k] for k in reasons.get(row["call_id"], [])] + (
            [WHY["rules"]] if row["call_id"] in by_call else [])
        row["flag_kinds"] = sorted({k for k, _ in kinds.get(row["call_id"], [])})
        row["flag_roles"] = [f"{k}:{r}" for k, r in kinds.get(row["call_id"], [])]
    return Listing(listed, by_call, breach_only_listed, breach_only_total)


def _write_overview(rep: Reports, env: Environment, out: Path, common: dict[str, Any], pages: dict[str, str],
                    layout: Layout, listing: Listing | None = None,
                    qualifying: int | None = None) -> tuple[list[Written], int, dict[str, Any]]:
    """Write index.html, queue-N.html and calls-N.html. ``pages`` maps call id to its page's
    href (relative to calls/): the queue and the call list hold the calls that have a page
    here; other calls of the call list (breaches only) and breaches of failed calls are listed
    without a link; ``qualifying``: how many calls qualify for a page (counted when not given),
    those without one are counted on the overview. Returns (the files written, the number of
    flagged findings queued, the KPIs)."""
    listing = listing or _listing(rep, rep.page_calls(), pages, layout.max_pages)
    by_call, listed = listing.by_call, listing.rows
    qualifying = rep.page_call_count() if qualifying is None else qualifying
    flagged = rep.flagged(pages)
    for row in flagged:
        row["page"] = pages[row["call_id"]]
        row["anchor"] = row["finding_id"].rsplit("#", 1)[-1]
    shown = rep.compliance_breaches(BREACH_ROWS)
    for row in shown:
        row["page"] = pages.get(row["call_id"])
    for row in listed:
        row["page"] = pages.get(row["call_id"])
    kpis = rep.kpis()
    index = out / "index.html"
    write_atomic(index, env.get_template("index.html").render(
        page="overview", root="", kpis=kpis, breaches=shown, breaches_total=kpis["breaches"],
        precision=rep.precision(), missed=rep.missed(), unflagged_reviewed=rep.unflagged_reviewed(),
        weekly=rep.collector_stats("week"), trend=rep.abuse_trend(), **_overview_charts(rep),
        **outcomes_section(rep, pages), qualifying=qualifying, without_page=max(0, qualifying - len(pages)),
        max_pages=layout.max_pages, breach_calls_listed=listing.breach_only_listed,
        breach_calls_unlisted=listing.breach_only_total - listing.breach_only_listed, **common))
    written: list[Written] = [(index, "overview", None)]
    written += [(index, "overview", cid) for cid in sorted({b["call_id"] for b in shown if not b["page"]})]
    written += _write_paged(env, out, "queue.html", "queue", flagged, layout.page_size,
                            {"page": "queue", "root": "", **common})
    written += _write_paged(env, out, "calls.html", "calls", listed, layout.page_size,
                            {"page": "calls", "root": "", "by_call": by_call, **common})
    written += scorecards.write_scores_page(rep, env, out, common, pages)
    return written, len(flagged), kpis


def _reusable(dest: Path, landed_at: datetime | None, earlier: set[Path]) -> bool:
    """Whether the redacted recording at ``dest`` can stay: an earlier report into this folder
    wrote it (recorded), after the call last landed (same recording, same masked spans). The
    recording's content hash is still checked by the caller."""
    try:
        return (dest in earlier and landed_at is not None and dest.is_file() and not dest.is_symlink()
                and dest.stat().st_mtime > landed_at.timestamp())
    except OSError:
        return False


def _batches(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for k in range(0, len(rows), size):
        yield rows[k:k + size]


def build_report(db: str | Path, out: str | Path, settings: Settings, *, audio: bool = True,
                 window: Window | None = None, page_size: int | None = None,
                 max_pages: int | None = None) -> ReportResult:
    """Write the report for ``db`` into ``out`` (read-only on the database; the files written
    are then recorded in it for purges).

    Args:
        settings: ``[compliance]`` gives the calling hours, caps and default timezone,
            ``[report]`` the defaults of the arguments below.
        audio: write each page's recording next to it with its masked spans toned out (never
            the original file); False: pages without players.
        window: the calls reported on (default: the last ``report.days`` days in the default
            timezone, ending today). Only its flagged, sampled and reviewed calls get a page.
        page_size: rows per page of the call list and the review queue.
        max_pages: call pages at most (0: no cap): sampled calls first, then reviewed, then
            flagged calls by their most severe finding (``Reports.page_calls``). The others
            are counted on the overview, not listed.
    """
    t0 = time.perf_counter()
    out = Path(out)
    if not Path(db).is_file():
        raise ReportError(f"database {db} does not exist")
    layout = Layout(window or Window.last_days(settings.report.days, settings.compliance.default_timezone),
                    settings.report.page_size if page_size is None else page_size,
                    settings.report.max_call_pages if max_pages is None else max_pages)
    if layout.page_size < 1:
        raise ReportError("page size must be at least 1")
    if layout.max_pages < 0:
        raise ReportError("the cap on call pages must be 0 (none) or more")
    window = layout.window
    _prepare_out(out)
    out = out.resolve()
    env = environment()
    audio_ok = audio_missing = audio_changed = 0
    written: list[Written] = []
    pages: dict[str, str] = {}
    ensure_schema(db)
    with Warehouse(db, read_only=True) as wh:
        earlier_audio = {path for path, _, _ in recorded_files(wh, out, kinds=["audio"])}
    with Reports(db, settings.compliance, window) as rep:
        common = _common(db, settings, rep)
        reasons = rep.page_calls(layout.max_pages or None)
        listing = _listing(rep, reasons, reasons, layout.max_pages)
        by_call = listing.by_call
        for chunk in _batches([c for c in listing.rows if c["call_id"] in reasons], CHUNK):
            ids = [c["call_id"] for c in chunk]
            utterances, findings_by_call, forms = rep.utterances(ids), rep.findings(ids), calls_forms(rep.con, ids)
            recordings = calls_audio(rep.con, ids) if audio else {}
            for call in chunk:
                call_id = call["call_id"]
                name = slug(call_id)
                rec = recordings.get(call_id)
                if rec and _reusable(out / "audio" / f"{name}.wav", call["landed_at"], earlier_audio) \
                        and check_recording(rec) == "ok":  # written by an earlier report, still current
                    copy = AudioCopy(f"audio/{quote(name)}.wav", "ok")
                elif rec:  # redacted audio, never the original file
                    copy = place_audio(rec, out / "audio", name, quote(name), settings.audio)
                else:
                    copy = AudioCopy(None, "missing" if audio else "off", "The call has no landed recording."
                                     if audio else "Audio was left out of this report (--no-audio).")
                if copy.href:
                    audio_ok += 1
                    written.append((out / "audio" / (name + Path(copy.href).suffix), "audio", call_id))
                else:
                    audio_missing += copy.status == "missing"
                    audio_changed += copy.status == "changed"
                findings = findings_by_call.get(call_id, [])
                marks: dict[int, list[dict[str, Any]]] = {}
                for f in findings:
                    f["anchor"] = f["finding_id"].rsplit("#", 1)[-1]
                    if f["utterance_idx"] is not None and f["severity"] != "info":
                        marks.setdefault(f["utterance_idx"], []).append(f)
                page = out / "calls" / f"{name}.html"
                write_atomic(page, env.get_template("call.html").render(
                    page="call", root="../", call=call, audio=copy, findings=findings, marks=marks,
                    utterances=utterances.get(call_id, []), breaches=by_call.get(call_id, []),
                    forms=forms.get(call_id, []), **common))
                written.append((page, "page", call_id))
                pages[call_id] = page_href(call_id)
        qualifying = rep.page_call_count()
        overview, flagged, kpis = _write_overview(rep, env, out, common, pages, layout, listing, qualifying)
    _save_layout(out, layout)
    _register(db, out, written + overview, full=True)
    seconds = time.perf_counter() - t0
    files = len({path for path, _, _ in written + overview})
    logger.info("report %s: %d call(s), %d page(s) (%d more qualify, over the cap), %d flagged finding(s),"
                " %d file(s) in %.2f s", window, kpis["calls"], len(pages), qualifying - len(pages), flagged, files, seconds)
    return ReportResult(out, kpis["calls"], flagged, audio_ok, audio_missing, seconds, audio_changed,
                        pages=len(pages), files=files, window=window,
                        without_page=max(0, qualifying - len(pages)))


def rebuild_overview(db: str | Path, out: str | Path, settings: Settings) -> list[Path]:
    """Re-render only the overview pages (index, queue, call list) of an existing report
    folder from the database as it is now, e.g. after a purge, for the window the report was
    built with; call pages and audio stay as they are.

    Calls are linked to the pages recorded in this folder; calls flagged since the report was
    built (no page here) are left out of the queue and call list until the next `callqa report`.
    Overview pages no longer needed (the list got shorter) are deleted. Returns the pages written.
    """
    out = Path(out).resolve()
    if not (out / MARKER).is_file():
        raise ReportError(f"{out} is not a callqa report folder")
    if not Path(db).is_file():
        raise ReportError(f"database {db} does not exist")
    layout = _load_layout(out, settings)
    ensure_schema(db)
    with Warehouse(db, read_only=True) as wh:
        pages = {cid: quote(path.name) for path, _, cid in recorded_files(wh, out, kinds=["page"])}
        before = {path for path, _, _ in recorded_files(wh, out, kinds=["overview"])}
    with Reports(db, settings.compliance, layout.window) as rep:
        written, _, _ = _write_overview(rep, environment(), out, _common(db, settings, rep), pages, layout)
    now = {path for path, _, _ in written}
    _register(db, out, written, full=False, stale=before - now)
    return sorted(now)

"""The report of one window of days (issue 12): everything on it is about the calls started in
the window, only the window's flagged, sampled and reviewed calls get pages (and audio), the
call list and the queue are paged, and the number of files follows the window's flagged calls,
not the warehouse. Real DuckDB files built with the real landing code."""
from __future__ import annotations

import dataclasses
import html as html_text
import json
import math
import re
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest
from typer.testing import CliRunner

from callqa.cli import app
from callqa.report import build_report, rebuild_overview, slug
from tests.helpers.reporting_data import build_db
from tests.helpers.scale_data import land_spread
from tests.helpers.warehouse_data import processed
from warehouse.artifacts import recorded_files
from warehouse.reporting import Reports, Window
from warehouse.review import Verdict, record, save_sample
from warehouse.store import Warehouse

runner = CliRunner()
CONFIG = Path(__file__).parent / "data" / "test.toml"
WEEK2 = Window(date(2026, 11, 9), date(2026, 11, 15))    # dev_call_04 (flagged), 05 (flagged), 06 (clean)
WEEK3 = Window(date(2026, 11, 16), date(2026, 11, 22))   # the synthetic calls
NOVEMBER = Window(date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture()
def db(tmp_path, test_data, sample_calls) -> Path:
    return build_db(tmp_path / "qa.duckdb", test_data / "calls", sample_calls)


def pages_of(out: Path) -> set[str]:
    return {p.stem for p in (out / "calls").glob("*.html")}


def overview_files(out: Path) -> set[str]:
    return {p.name for p in out.glob("*.html")}


# -- the window ---------------------------------------------------------------------------------

def test_window_bounds_are_local_dates(tmp_path, cfg):
    """A call belongs to the local date it started on in its own timezone (the default one
    when it has none), for timezones from UTC-11 to UTC+14."""
    def call(call_id: str, started: datetime, tz: str | None):
        p = processed(call_id, call_id)
        return dataclasses.replace(p, call=dataclasses.replace(p.call, started_at=started, timezone=tz))

    sh = timezone(timedelta(hours=8))
    inside = [call("sh-first", datetime(2026, 11, 9, 0, 5, tzinfo=sh), "Asia/Shanghai"),
              call("sh-last", datetime(2026, 11, 15, 23, 55, tzinfo=sh), "Asia/Shanghai"),
              call("default-tz", datetime(2026, 11, 15, 23, 55, tzinfo=sh), None),
              call("kiritimati", datetime(2026, 11, 8, 10, 30, tzinfo=timezone.utc), "Pacific/Kiritimati"),  # 11-09 00:30
              call("pago-pago", datetime(2026, 11, 16, 10, 30, tzinfo=timezone.utc), "Pacific/Pago_Pago")]  # 11-15 23:30
    outside = [call("sh-before", datetime(2026, 11, 8, 23, 55, tzinfo=sh), "Asia/Shanghai"),
               call("sh-after", datetime(2026, 11, 16, 0, 5, tzinfo=sh), "Asia/Shanghai"),
               call("kiritimati-before", datetime(2026, 11, 8, 9, 30, tzinfo=timezone.utc), "Pacific/Kiritimati"),
               call("pago-pago-after", datetime(2026, 11, 16, 11, 30, tzinfo=timezone.utc), "Pacific/Pago_Pago"),
               call("much-later", datetime(2026, 12, 20, tzinfo=timezone.utc), "Asia/Shanghai")]
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        wh.land(inside + outside, [], wh.start_run("x", {}))
    with Reports(db, cfg.compliance, WEEK2) as rep:
        assert {c["call_id"] for c in rep.calls()} == {p.call.call_id for p in inside}
        assert rep.kpis()["calls"] == len(inside) and rep.kpis()["flags"] == len(inside)
        assert set(rep.page_calls()) == {p.call.call_id for p in inside}
    with Reports(db, cfg.compliance) as rep:  # no window: every call
        assert rep.kpis()["calls"] == len(inside + outside)
    assert Window.last_days(7, "Asia/Shanghai", today=date(2026, 11, 15)) == WEEK2
    assert WEEK2.weeks_back(2) == Window(date(2026, 11, 2), date(2026, 11, 15))
    with pytest.raises(ValueError, match="after it ends"):
        Window(date(2026, 11, 15), date(2026, 11, 9))


def test_outside_the_window_no_page_and_no_count(db, tmp_path, cfg):
    out = tmp_path / "report"
    result = build_report(db, out, cfg, window=WEEK2)
    # dev_call_06 has no flag and no verdict: counted, no page; other weeks: neither
    assert pages_of(out) == {slug("dev_call_04"), slug("dev_call_05")} and result.pages == 2
    assert (result.calls, result.audio_ok, result.audio_missing) == (3, 2, 0)
    with Reports(db, cfg.compliance, WEEK2) as rep:
        kpis = rep.kpis()
        assert (kpis["calls"], kpis["flagged_calls"], kpis["flags"]) == (3, 2, 5)
        assert sum(r["calls"] for r in rep.collector_totals()) == sum(r["calls"] for r in rep.collector_stats("day")) == 3
        assert {f["call_id"] for f in rep.flagged()} == {"dev_call_04", "dev_call_05"}
        assert rep.compliance_breaches() == []  # dev_call_02's late call is in week 1
    assert {p.name for p in (out / "audio").iterdir()} == {f"{slug('dev_call_04')}.wav", f"{slug('dev_call_05')}.wav"}
    queue = (out / "queue-1.html").read_text(encoding="utf-8")
    assert queue.count('class="finding sev-') == 5 and "dev_call_02" not in queue
    listing = (out / "calls-1.html").read_text(encoding="utf-8")
    assert "dev_call_06" not in listing and "dev_call_02" not in listing
    for page in out.rglob("*.html"):  # the window is on every page
        assert 'id="window">calls started 2026-11-09 – 2026-11-15 (7 days' in page.read_text(encoding="utf-8")
    assert json.loads((out / ".callqa-report.json").read_text()) == {
        "since": "2026-11-09", "until": "2026-11-15", "page_size": 500, "max_call_pages": 2000}

    # a verdict on the unflagged call, then a kept sample: pages in the next report
    record(db, Verdict("dev_call_06", "clean", "amy"))
    result = build_report(db, out, cfg, window=WEEK2, audio=False)
    assert pages_of(out) == {slug("dev_call_04"), slug("dev_call_05"), slug("dev_call_06")}
    assert "reviewed" in (out / "calls" / f"{slug('dev_call_06')}.html").read_text(encoding="utf-8")
    assert not (out / "audio").exists() or list((out / "audio").iterdir()) == []  # earlier audio pruned
    # week 1: the sampled unflagged call gets a page; the verdict of week 2 is elsewhere
    save_sample(db, [{"call_id": "dev_call_01", "finding_id": None, "stratum": "unflagged"}], n=1, by=["kind"],
                seed=0, unflagged_share=0.1)
    week1 = tmp_path / "week1"
    result = build_report(db, week1, cfg, window=Window(date(2026, 11, 2), date(2026, 11, 8)), audio=False)
    assert pages_of(week1) == {slug("dev_call_01"), slug("dev_call_02"), slug("dev_call_03")} and result.calls == 3
    assert "QA sample" in (week1 / "calls" / f"{slug('dev_call_01')}.html").read_text(encoding="utf-8")


@pytest.mark.slow  # writes redacted audio three times
def test_audio_is_reused_until_the_call_lands_again(db, tmp_path, cfg, test_data, sample_calls):
    from tests.helpers.reporting_data import scripted_calls

    out = tmp_path / "report"
    build_report(db, out, cfg, window=WEEK2)
    wavs = {p.name: p.stat().st_mtime_ns for p in (out / "audio").iterdir()}
    assert set(wavs) == {f"{slug('dev_call_04')}.wav", f"{slug('dev_call_05')}.wav"}
    time.sleep(0.05)
    again = build_report(db, out, cfg, window=WEEK2)  # tomorrow's report: the audio stays as it is
    assert again.audio_ok == 2 and {p.name: p.stat().st_mtime_ns for p in (out / "audio").iterdir()} == wavs
    relanded = next(p for p in scripted_calls(test_data / "calls", sample_calls) if p.call.call_id == "dev_call_05")
    with Warehouse(db) as wh:  # processed again (e.g. new rules): its audio is written again
        wh.land([relanded], [], wh.start_run("x", {}))
    third = build_report(db, out, cfg, window=WEEK2)
    now = {p.name: p.stat().st_mtime_ns for p in (out / "audio").iterdir()}
    assert third.audio_ok == 2 and now[f"{slug('dev_call_04')}.wav"] == wavs[f"{slug('dev_call_04')}.wav"]
    assert now[f"{slug('dev_call_05')}.wav"] > wavs[f"{slug('dev_call_05')}.wav"]


def test_breaches_look_back_before_the_window(db, cfg):
    with Reports(db, cfg.compliance) as rep:
        every = {(b["rule"], b["call_id"]) for b in rep.compliance_breaches()}
    window = Window(date(2026, 11, 17), date(2026, 11, 18))
    with Reports(db, cfg.compliance, window) as rep:
        within = {(b["rule"], b["call_id"]) for b in rep.compliance_breaches()}
        ids = {c["call_id"] for c in rep.calls()}
    # the 8th and 9th attempts count the calls of the 16th, before the window
    assert ("attempt_cap", "syn/b1-7") in within and ("attempt_cap", "syn/b1-8") in within
    assert within == {(rule, cid) for rule, cid in every if cid in ids}
    assert ("outside_hours", "dev_call_02") not in within


def test_kpis_read_no_utterances(db):
    con = duckdb.connect(str(db), read_only=True)
    tz, lo, hi, since, until = WEEK2.params("Asia/Shanghai")
    plan = "\n".join(r[1] for r in con.execute(
        "EXPLAIN SELECT count(*), sum(flags) FROM window_finding_facts(?, ?, ?, ?, ?)",
        [tz, lo, hi, since, until]).fetchall())
    full = "\n".join(r[1] for r in con.execute(
        "EXPLAIN SELECT sum(other_s) FROM window_facts(?, ?, ?, ?, ?)", [tz, lo, hi, since, until]).fetchall())
    con.close()
    assert "findings" in plan and "utterances" not in plan
    assert "utterances" in full  # the collector statistics do read them, for the window's calls


# -- paging --------------------------------------------------------------------------------------

def test_call_list_and_queue_are_paged(db, tmp_path, cfg):
    out = tmp_path / "report"
    result = build_report(db, out, cfg, window=NOVEMBER, page_size=4, audio=False)
    with Reports(db, cfg.compliance, NOVEMBER) as rep:
        listed = set(rep.page_calls()) | {b["call_id"] for b in rep.compliance_breaches()}
    assert result.flagged == 16 and len(listed) == 15
    calls_pages = sorted(p.name for p in out.glob("calls-*.html"))
    assert calls_pages == [f"calls-{k}.html" for k in range(1, math.ceil(len(listed) / 4) + 1)]
    assert sorted(p.name for p in out.glob("queue-*.html")) == [f"queue-{k}.html" for k in range(1, 5)]
    seen: list[str] = []
    for k, name in enumerate(calls_pages, start=1):
        html = (out / name).read_text(encoding="utf-8")
        rows = re.findall(r'<tr(?: class="has-flags")?[^>]*><td>(?:<a href="calls/([^"]+)\.html">|<span class="nopage">)([^<]+)<',
                          html)
        assert 1 <= len(rows) <= 4
        seen += [html_text.unescape(cid) for _, cid in rows]
        assert (f'href="calls-{k - 1}.html" rel="prev"' in html) == (k > 1)
        assert (f'href="calls-{k + 1}.html" rel="next"' in html) == (k < len(calls_pages))
        for href, cid in rows:  # a link exactly when the call has a page
            assert (out / "calls" / f"{unquote(href)}.html").is_file() if href else not (
                out / "calls" / f"{slug(cid)}.html").exists()
    assert sorted(seen) == sorted(listed) and len(seen) == len(set(seen))
    # breach-only calls are listed without a link
    assert '<span class="nopage">syn/b2-early</span>' in "".join(
        (out / n).read_text(encoding="utf-8") for n in calls_pages)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="queue-1.html"' in index and 'href="calls-1.html"' in index
    assert not (out / "calls.html").exists() and not (out / "queue.html").exists()


# -- size ----------------------------------------------------------------------------------------

FIXED = {"index.html", "scores.html", "queue-1.html", "calls-1.html", ".callqa-report", ".callqa-report.json", "report.css",
         "report.js"}


def flagged_calls_in(db: Path, window: Window) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT count(DISTINCT f.call_id) FROM findings f JOIN calls c USING (call_id)"
            " WHERE f.severity <> 'info' AND timezone('Asia/Shanghai', c.started_at)::DATE BETWEEN ? AND ?",
            [window.since, window.until]).fetchone()[0]
    finally:
        con.close()


def report_files(db: Path, out: Path, cfg, window: Window) -> tuple[list[Path], object]:
    result = build_report(db, out, cfg, window=window)
    return [p for p in out.rglob("*") if p.is_file()], result


def test_files_follow_the_windows_flagged_calls(tmp_path, cfg):
    end = date(2026, 11, 30)
    window = Window.last_days(7, "Asia/Shanghai", today=end)
    db = land_spread(tmp_path / "w.duckdb", 600, end, days=30, flagged_every=7)  # 20 calls a day
    flagged = flagged_calls_in(db, window)
    assert flagged == 20
    out = tmp_path / "report"
    files, result = report_files(db, out, cfg, window)
    assert result.pages == flagged == len(list((out / "calls").iterdir())) and result.calls == 140
    assert {p.name for p in files if p.parent != out / "calls"} == FIXED  # no recordings on disk: no audio
    assert len(files) == flagged + len(FIXED)
    with Warehouse(db, read_only=True) as wh:
        assert len({p for p, _, _ in recorded_files(wh, out)}) == flagged + 4  # pages + index, queue, calls, scores


@pytest.mark.slow
def test_ten_times_the_history_writes_the_same_files(tmp_path, cfg):
    """600 calls over 30 days and 12,000 over 600 days, 20 a day either way: the same files."""
    end = date(2026, 11, 30)
    window = Window.last_days(7, "Asia/Shanghai", today=end)
    sizes = {}
    for n, days in ((600, 30), (12000, 600)):
        db = land_spread(tmp_path / f"w{n}.duckdb", n, end, days=days, flagged_every=7)
        files, result = report_files(db, tmp_path / f"report{n}", cfg, window)
        sizes[n] = (len(files), result.pages, result.calls)
    assert sizes[600] == sizes[12000] == (20 + len(FIXED), 20, 140)


# -- purges ---------------------------------------------------------------------------------------

def test_rebuild_after_a_purge_keeps_the_window_and_the_paging(db, tmp_path, cfg):
    out = tmp_path / "report"
    build_report(db, out, cfg, window=WEEK3, page_size=3, audio=False)
    before = overview_files(out)
    listing = "".join((out / n).read_text(encoding="utf-8") for n in before if n.startswith("calls-"))
    assert '<span class="nopage">syn/b2-early</span>' in listing  # a breach, no page
    with Warehouse(db, read_only=True) as wh:  # a breach-only call: recorded against the list page
        assert {k for _, k, _ in recorded_files(wh, out, call_ids=["syn/b2-early"])} == {"overview"}

    for gone in ("syn/b2-early",):  # listed without a page (tests/test_safety_purge.py: with one)
        result = runner.invoke(app, ["purge", "--db", str(db), "--call-id", gone, "--yes", "-c", str(CONFIG)])
        assert result.exit_code == 0, result.output
        assert "overview pages rebuilt" in result.output
        html = {n: (out / n).read_text(encoding="utf-8") for n in overview_files(out)}
        assert all("calls started 2026-11-16 – 2026-11-22" in text for text in html.values())
        assert all(gone not in text for text in html.values())
        assert "dev_call_05" not in "".join(html.values())  # still only the window's calls
    with Reports(db, cfg.compliance, WEEK3) as rep:
        listed = set(rep.page_calls()) | {b["call_id"] for b in rep.compliance_breaches()}
    pages = math.ceil(len(listed) / 3)
    assert {n for n in overview_files(out) if n.startswith("calls-")} == {f"calls-{k}.html" for k in range(1, pages + 1)}

    # a rebuild that needs fewer list pages deletes the ones left over (recorded files only)
    meta = json.loads((out / ".callqa-report.json").read_text())
    (out / ".callqa-report.json").write_text(json.dumps({**meta, "page_size": 100}))
    mine = out / "calls-9.html.notes"
    mine.write_text("someone else's")
    written = rebuild_overview(db, out, cfg)
    assert {p.name for p in written} == {"index.html", "scores.html", "queue-1.html", "calls-1.html"} == overview_files(out)
    assert mine.is_file()
    # a folder written before reports had windows: rebuilt over every call, as it was written
    (out / ".callqa-report.json").unlink()
    rebuild_overview(db, out, cfg)
    assert 'id="window">all calls<' in (out / "index.html").read_text(encoding="utf-8")


# -- the command line ------------------------------------------------------------------------------

def test_cli_window_options(db, tmp_path):
    out = tmp_path / "report"
    ok = runner.invoke(app, ["report", "--db", str(db), "--out", str(out), "--until", "2026-11-15", "--no-audio",
                             "-c", str(CONFIG)])
    assert ok.exit_code == 0, ok.output
    assert "report 2026-11-09 – 2026-11-15: 3 call(s), 2 with a page" in ok.output
    ok = runner.invoke(app, ["report", "--db", str(db), "--out", str(out), "--since", "2026-11-16", "--until",
                             "2026-11-16", "--no-audio", "-c", str(CONFIG)])
    assert ok.exit_code == 0 and "report 2026-11-16 – 2026-11-16: 4 call(s), 2 with a page" in ok.output, ok.output
    default = runner.invoke(app, ["report", "--db", str(db), "--out", str(out), "--no-audio", "-c", str(CONFIG)])
    assert default.exit_code == 0, default.output
    until = datetime.now(timezone(timedelta(hours=8))).date()
    assert f"report {until - timedelta(days=6)} – {until}:" in default.output
    for args, message in ((["--since", "11/16/2026"], "--since '11/16/2026' is not a date"),
                          (["--until", "2026-13-01"], "--until '2026-13-01' is not a date"),
                          (["--since", "2026-11-20", "--until", "2026-11-10"], "after it ends")):
        bad = runner.invoke(app, ["report", "--db", str(db), "--out", str(out), *args, "-c", str(CONFIG)])
        assert bad.exit_code == 2 and message in bad.output, bad.output
        assert "Traceback" not in bad.output and len(bad.output.strip().splitlines()) == 1


def test_cli_sample_is_kept_for_the_report(db, tmp_path):
    out = runner.invoke(app, ["sample", "--db", str(db), "--n", "6", "--seed", "3", "-c", str(CONFIG)])
    assert out.exit_code == 0 and "kept as sample" in out.output, out.output
    assert runner.invoke(app, ["sample", "--db", str(db), "--n", "6", "--no-keep", "-c", str(CONFIG)]).exit_code == 0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM qa_samples").fetchone()[0] == 1
    drawn = {r[0] for r in con.execute("SELECT call_id FROM qa_sample_rows").fetchall()}
    con.close()
    assert len(drawn) >= 2
    report = tmp_path / "report"
    assert runner.invoke(app, ["report", "--db", str(db), "--out", str(report), "--since", "2026-11-01", "--until",
                               "2026-11-30", "--no-audio", "-c", str(CONFIG)]).exit_code == 0
    pages = {p.stem for p in (report / "calls").glob("*.html")}
    assert {slug(c) for c in drawn} <= pages

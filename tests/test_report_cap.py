"""The cap on the report's call pages (issue 12): a week at a large centre can hold hundreds of
thousands of flagged calls, so the report gives pages (and audio) to at most
``[report] max_call_pages`` of them: QA-sampled calls first, then reviewed ones, then the most
severe flags. The rest are counted on the overview, not listed. Real DuckDB files built with the
real landing code."""
from __future__ import annotations

import dataclasses
import re
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callqa.cli import app
from callqa.report import build_report, slug
from core.domain import Finding
from core.settings import load_settings
from tests.helpers.scale_data import spread_call
from warehouse.reporting import Reports, Window
from warehouse.review import Verdict, record, save_sample
from warehouse.store import Warehouse

runner = CliRunner()
END = date(2026, 11, 22)
WEEK = Window(date(2026, 11, 16), END)
SEVERITIES = ("low", "medium", "high", "critical")


def flagged_call(i: int, severity: str, n_flags: int = 1):
    """Call ``i`` of the week with ``n_flags`` threat findings of ``severity`` by the collector."""
    result = spread_call(i, date(2026, 11, 16 + i % 7), flagged=True)
    findings = [Finding("threat", "collector", 2.0 * k, 2.0 * k + 1.0, "[redacted]", "t1", 0.9, severity, 0)
                for k in range(n_flags)]
    return dataclasses.replace(result, findings=findings)


def land_week(db: Path, calls) -> Path:
    with Warehouse(db) as wh:
        wh.land(list(calls), [], wh.start_run("/archive", {}))
    return db


@pytest.fixture()
def week(tmp_path) -> Path:
    """24 flagged calls: 6 of each severity, and 3 unflagged ones (info only)."""
    calls = [flagged_call(i, SEVERITIES[i % 4]) for i in range(24)]
    calls += [spread_call(100 + i, date(2026, 11, 17), flagged=False) for i in range(3)]
    return land_week(tmp_path / "week.duckdb", calls)


def severity_of(db: Path, call_ids) -> dict[str, str]:
    with Warehouse(db, read_only=True) as wh:
        return dict(wh.con.execute("SELECT call_id, max(severity) FROM findings WHERE call_id IN (SELECT unnest(?))"
                                   " AND severity <> 'info' GROUP BY call_id", [sorted(call_ids)]).fetchall())


def paged(out: Path) -> set[str]:
    return {p.stem for p in (out / "calls").glob("*.html")}


def test_cap_gives_pages_to_the_most_severe_first(week, tmp_path, cfg):
    out = tmp_path / "report"
    result = build_report(week, out, cfg, window=WEEK, audio=False, max_pages=10)
    with Reports(week, cfg.compliance, WEEK) as rep:
        order = list(rep.page_calls())
        assert rep.page_call_count() == 24
    assert result.pages == 10 and result.without_page == 14
    chosen = order[:10]
    assert paged(out) == {slug(c) for c in chosen}
    sev = severity_of(week, chosen)
    assert sorted(sev.values()).count("critical") == 6 and sorted(sev.values()).count("high") == 4
    # the queue holds the findings of the calls with a page only
    queue = (out / "queue-1.html").read_text(encoding="utf-8")
    assert set(re.findall(r'data-call="([^"]+)"', queue)) == set(chosen)
    index = (out / "index.html").read_text(encoding="utf-8")
    notice = re.search(r'<p class="notice" id="page-cap">(.*?)</p>', index, re.S).group(1)
    assert "14 of the window's 24" in notice and "10 at most" in notice
    assert "24" in index  # the KPIs still count every flagged call


def test_ties_break_by_number_of_flags_then_newest(tmp_path, cfg):
    calls = [flagged_call(i, "high", n_flags=1 + (i == 3)) for i in range(6)]
    db = land_week(tmp_path / "ties.duckdb", calls)
    with Reports(db, cfg.compliance, WEEK) as rep:
        order = list(rep.page_calls())
        started = {c["call_id"]: c["started_at"] for c in rep.calls()}
    assert order[0] == calls[3].call.call_id            # two high flags beat one
    rest = order[1:]
    assert [started[c] for c in rest] == sorted((started[c] for c in rest), reverse=True)


def test_sampled_and_reviewed_calls_come_before_flags(week, tmp_path, cfg):
    with Reports(week, cfg.compliance, WEEK) as rep:
        order = list(rep.page_calls())
    low = [c for c in order if severity_of(week, [c])[c] == "low"]
    clean = spread_call(100, date(2026, 11, 17), flagged=False).call.call_id
    save_sample(week, [{"call_id": clean, "finding_id": None, "stratum": "unflagged"}], n=1, by=["kind"], seed=0,
                unflagged_share=0.1)
    record(week, Verdict(low[0], "clean", "amy"))
    out = tmp_path / "report"
    result = build_report(week, out, cfg, window=WEEK, audio=False, max_pages=3)
    assert result.pages == 3 and result.without_page == 25 - 3
    with Reports(week, cfg.compliance, WEEK) as rep:
        first = list(rep.page_calls(3))
    assert first[:2] == [clean, low[0]] and severity_of(week, first[2:]) == {first[2]: "critical"}
    assert paged(out) == {slug(c) for c in first}


def test_no_cap_and_a_cap_above_the_count_give_every_call_a_page(week, tmp_path, cfg):
    none = build_report(week, tmp_path / "a", cfg, window=WEEK, audio=False, max_pages=0)
    above = build_report(week, tmp_path / "b", cfg, window=WEEK, audio=False, max_pages=1000)
    assert none.pages == above.pages == 24 and none.without_page == above.without_page == 0
    assert 'id="page-cap"' not in (tmp_path / "a" / "index.html").read_text(encoding="utf-8")


def test_report_size_stays_at_the_cap_as_flagged_calls_grow(tmp_path, cfg):
    """Twice the flagged calls, same cap: the same number of call pages and files."""
    small = land_week(tmp_path / "s.duckdb", [flagged_call(i, SEVERITIES[i % 4]) for i in range(20)])
    large = land_week(tmp_path / "l.duckdb", [flagged_call(i, SEVERITIES[i % 4]) for i in range(40)])
    a = build_report(small, tmp_path / "ra", cfg, window=WEEK, audio=False, max_pages=5, page_size=100)
    b = build_report(large, tmp_path / "rb", cfg, window=WEEK, audio=False, max_pages=5, page_size=100)
    assert a.pages == b.pages == 5 and (a.without_page, b.without_page) == (15, 35)
    assert a.files == b.files
    assert len(list((tmp_path / "rb" / "calls").glob("*.html"))) == 5


def test_a_rebuild_after_a_purge_keeps_the_cap(week, tmp_path, cfg):
    out = tmp_path / "report"
    build_report(week, out, cfg, window=WEEK, audio=False, max_pages=4)
    with Reports(week, cfg.compliance, WEEK) as rep:
        first = list(rep.page_calls(4))
    res = runner.invoke(app, ["purge", "--db", str(week), "--call-id", first[0], "--yes"])
    assert res.exit_code == 0, res.output
    assert paged(out) == {slug(c) for c in first[1:]}
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "20 of the window's 23" in re.search(r'id="page-cap">(.*?)</p>', index, re.S).group(1)


def test_cli_max_pages_and_config(week, tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text('[report]\ndays = 3\nmax_call_pages = 2\n', encoding="utf-8")
    res = runner.invoke(app, ["report", "--db", str(week), "--out", str(tmp_path / "r1"), "--until", "2026-11-22",
                              "--no-audio", "--config", str(conf)])
    assert res.exit_code == 0, res.output
    assert "2026-11-20" in res.output and "2 with a page" in res.output and "over the cap" in res.output
    res = runner.invoke(app, ["report", "--db", str(week), "--out", str(tmp_path / "r2"), "--since", "2026-11-16",
                              "--until", "2026-11-22", "--no-audio", "--max-pages", "0", "--config", str(conf)])
    assert res.exit_code == 0, res.output
    assert "24 with a page" in res.output and "over the cap" not in res.output
    res = runner.invoke(app, ["report", "--db", str(week), "--out", str(tmp_path / "r3"), "--max-pages", "-1"])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_report_settings_are_checked(tmp_path):
    conf = tmp_path / "bad.toml"
    conf.write_text('[report]\nmax_call_pages = -5\n', encoding="utf-8")
    with pytest.raises(ValueError, match="max_call_pages"):
        load_settings(conf)
    conf.write_text('[report]\ndays = 0\n', encoding="utf-8")
    with pytest.raises(ValueError, match="report.days"):
        load_settings(conf)
    assert load_settings(None).report.max_call_pages == 2000

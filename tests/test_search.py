"""`callqa search` (issue 14): what was said, across the warehouse, redacted text only.

The warehouse holds the six scripted calls (ground truth, real recordings), the synthetic
cross-call ones, and calls written for these tests: raw text stored beside redacted text,
a cell a spreadsheet would run as a formula, and LIKE wildcards in the text.
"""
from __future__ import annotations

import csv
from datetime import date, datetime, timezone

import pytest
from typer.testing import CliRunner

from callqa.cli import app
from core.domain import Call
from tests.helpers.reporting_data import build_db, processed
from warehouse.search import SearchError, SearchQuery, search
from warehouse.store import Warehouse

runner = CliRunner()
PHONE = "13912345678"
FORMULA = '=HYPERLINK("http://evil.example","点这里")律师函'


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env=env)


@pytest.fixture(scope="module")
def db(tmp_path_factory, test_data, sample_calls):
    path = build_db(tmp_path_factory.mktemp("search") / "w.duckdb", test_data / "calls", sample_calls)
    when = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
    raw = processed(Call("t/raw", "/none/raw.wav", "r1", 1, collector_id="C900", started_at=when,
                         timezone="Asia/Shanghai"),
                    [("customer", 0.5, 3.0, "我的电话是[电话]", []), ("collector", 3.5, 6.0, FORMULA, []),
                     ("collector", 6.5, 8.0, "年化利率100%_以内", [])], 9.0)
    raw.raw_texts = [f"我的电话是{PHONE}", FORMULA, "年化利率100%_以内"]  # store_raw_text = true
    with Warehouse(path) as wh:
        wh.land([raw], [], wh.start_run("/none", {}))
    return path


def find(db, **kw):
    with Warehouse(db, read_only=True) as wh:
        return search(wh.con, SearchQuery(**kw), "Asia/Shanghai")


def ids(result) -> list[tuple[str, str]]:
    return [(r["call_id"], r["at"]) for r in result.rows]


def test_substring_across_calls_newest_first(db):
    found = find(db, text="逾期")
    assert ids(found) == [("dev_call_04", "00:22"), ("dev_call_03", "00:07"), ("dev_call_01", "00:22")]
    assert found.total == 3 and found.rows[0]["role"] == "collector" and found.rows[0]["collector_id"] == "C023"
    assert found.rows[0]["local_start"] == datetime(2026, 11, 9, 16, 20)  # the debtor's local time
    assert "逾期六十五天" in found.rows[0]["text"]
    assert [r["kinds"] for r in found.rows] == [[], ["privacy"], []]


def test_like_wildcards_are_plain_characters(db):
    assert ids(find(db, text="%")) == [("t/raw", "00:06")]
    assert ids(find(db, text="0%_")) == [("t/raw", "00:06")]
    assert find(db, text="利率1_0").total == 0


def test_regex_role_kind_and_dates(db):
    assert [r["call_id"] for r in find(db, text=r"欠(款|了)[一二三四五六七八九十两]+万", regex=True).rows] == [
        "dev_call_04", "dev_call_03", "dev_call_01"]
    assert find(db, text="我", role="customer").total > find(db, text="我", role="collector").total > 0
    threats = find(db, text="你", kind="threat")
    assert {r["call_id"] for r in threats.rows} == {"dev_call_02", "dev_call_05"}
    assert all("threat" in r["kinds"] for r in threats.rows)
    # local dates, both ends included: dev_call_03 (11-03) and dev_call_04 (11-09)
    window = find(db, text="逾期", since=date(2026, 11, 3), until=date(2026, 11, 9))
    assert [r["call_id"] for r in window.rows] == ["dev_call_04", "dev_call_03"]
    assert [r["call_id"] for r in find(db, text="逾期", collector="C017").rows] == ["dev_call_03", "dev_call_01"]
    limited = find(db, text="。", limit=2)
    assert len(limited.rows) == 2 and limited.total > 2


def test_raw_text_is_never_searched_or_returned(db):
    assert find(db, text=PHONE).total == 0
    assert find(db, text="139", regex=True).total == 0
    hit = find(db, text="我的电话是")
    assert hit.rows[0]["text"] == "我的电话是[电话]"


def test_bad_queries(db):
    for kw, needle in ((dict(text="("), "bad regular expression"), (dict(text=""), "give the text"),
                       (dict(text="x", role="boss"), "role must be one of"), (dict(text="x", limit=0), "limit"),
                       (dict(text="x", since=date(2026, 2, 2), until=date(2026, 1, 1)), "is after")):
        with pytest.raises(SearchError, match=needle):
            find(db, **({"regex": True} if kw["text"] == "(" else {}) | kw)


def test_cli_table_and_csv_with_formulas_neutralised(db, tmp_path):
    table = invoke("search", "--db", db, "律师函", "--role", "collector")
    assert table.exit_code == 0 and "1 of 1 matching" in table.stdout and "t/raw" in table.stdout
    out = tmp_path / "hits.csv"
    assert invoke("search", "--db", db, "律师函", "--csv", out).exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [r["call_id"] for r in rows] == ["t/raw"] and rows[0]["at"] == "00:03"
    assert rows[0]["text"] == "'" + FORMULA  # a spreadsheet shows it as text, never runs it
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically (no temporary file left)
    regex = invoke("search", "--db", db, "--regex", "欠款.{1,8}元", "--kind", "privacy", "--csv", out)
    assert regex.exit_code == 0 and "0 of 0" in regex.stdout


@pytest.mark.parametrize("args, needle", [
    (["--since", "2026-13-01"], "--since '2026-13-01' is not a date"),
    (["--regex"], "bad regular expression"),
    (["--csv", "."], "is a folder"),
])
def test_cli_bad_input_is_one_line(db, args, needle):
    result = invoke("search", "--db", db, "(", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    line, = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and needle in line, line


def test_cli_refuses_a_missing_database(tmp_path):
    result = invoke("search", "--db", tmp_path / "typo.duckdb", "x")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert not (tmp_path / "typo.duckdb").exists()

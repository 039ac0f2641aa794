"""Incremental export (issue 12): each export writes only what changed since the last one into
the folder; changed, re-keyed, re-dated and purged calls leave no stale rows; RTTM/VTT only on
request. What a BI tool reads (every Parquet file under OUT/parquet) always equals the database."""
import fcntl
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from callqa.cli import app
from core.filenames import safe_name
from tests.helpers.warehouse_data import processed
from warehouse.artifacts import recorded_files
from warehouse.export import ExportBusy, export

# the tables these synthetic calls have rows in (they make no promises and carry no scores)
TABLES = ("calls", "utterances", "findings", "call_metrics")
from warehouse.purge import purge
from warehouse.store import Warehouse

REPO = Path(__file__).resolve().parents[1]
DAYS = {  # started_at (UTC) -> call date in Asia/Shanghai, the calls' zone
    "11-03": datetime(2026, 11, 2, 23, 30, tzinfo=timezone.utc),
    "11-04": datetime(2026, 11, 4, 2, 0, tzinfo=timezone.utc),
    "11-05": datetime(2026, 11, 5, 2, 0, tzinfo=timezone.utc),
}


def call(call_id: str, sha: str, day: str = "11-03", **kw):
    p = processed(call_id, sha, **kw)
    p.call.started_at = DAYS[day]
    return p


def land(db: Path, calls) -> None:
    with Warehouse(db) as wh:
        wh.land(calls, [], wh.start_run("/archive", {}))


def files(out: Path) -> dict[Path, tuple[int, str]]:
    """Every file under OUT (but the marker): (mtime, SHA-256)."""
    return {p.relative_to(out): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in out.rglob("*") if p.is_file() and p.name != ".callqa-export"}


def parts(out: Path, table: str) -> dict[str, list[Path]]:
    """call date -> the table's files in that partition."""
    found: dict[str, list[Path]] = {}
    for p in sorted((out / "parquet" / table).glob("call_date=*/*.parquet")):
        found.setdefault(p.parent.name.removeprefix("call_date=2026-"), []).append(p)
    return found


def exported(out: Path, table: str) -> Counter:
    """(call date, call id) -> rows, over every file a reader of the folder sees."""
    rows: Counter = Counter()
    for day, paths in parts(out, table).items():
        for path in paths:
            rows.update((day, cid) for cid in pq.read_table(path, columns=["call_id"])["call_id"].to_pylist())
    return rows


def in_db(db: Path, table: str) -> Counter:
    with Warehouse(db, read_only=True) as wh:
        return Counter({cid: n for cid, n in wh.con.execute(
            f"SELECT t.call_id, count(*) FROM {table} t JOIN calls c USING (call_id) WHERE c.status = 'ok'"
            " GROUP BY 1").fetchall()})


def assert_matches_db(db: Path, out: Path) -> None:
    """No duplicate, stale or missing row in any table, each call in exactly one partition."""
    for table in TABLES:
        rows = exported(out, table)
        by_call: Counter = Counter()
        for (_, cid), n in rows.items():
            by_call[cid] += n
        assert by_call == in_db(db, table), table
        assert len({cid for _, cid in rows}) == len(rows), f"{table}: a call in two partitions"


def test_first_export_writes_everything_and_a_second_with_nothing_new_writes_nothing(tmp_path):
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    land(db, [call("a", "h1"), call("b", "h2"), call("c", "h3", day="11-04")])
    first = export(db, out)
    assert first["mode"] == "full" and first["calls_written"] == 3 and first["utterances"] == 9
    assert first["files_written"] == 8 and first["calls_with_transcripts"] == 0
    for table in TABLES:
        assert {d: len(p) for d, p in parts(out, table).items()} == {"11-03": 1, "11-04": 1}
        assert all(p.name.startswith("part-") for ps in parts(out, table).values() for p in ps)
    assert_matches_db(db, out)
    assert not (out / "rttm").exists() and not (out / "vtt").exists()  # transcripts are opt-in
    before = files(out)

    again = export(db, out)
    assert again["mode"] == "incremental"
    assert (again["calls_written"], again["files_written"], again["files_removed"], again["dates_replaced"]) \
        == (0, 0, 0, 0)
    assert files(out) == before  # not one file written again: same bytes, same mtimes
    assert not list(out.glob(".callqa-export-*"))  # the work folder is gone


def test_new_calls_only_add_a_file_to_their_partitions(tmp_path):
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    land(db, [call("a", "h1"), call("b", "h2", day="11-04")])
    export(db, out)
    before = files(out)

    land(db, [call("n1", "h3", day="11-05"), call("n2", "h4", day="11-05")])  # two calls on a new day
    counts = export(db, out)
    assert (counts["calls_written"], counts["dates_replaced"], counts["files_written"], counts["files_removed"]) \
        == (2, 0, 4, 0)
    after = files(out)
    assert {p: v for p, v in after.items() if p in before} == before  # nothing else touched
    new = set(after) - set(before)
    assert len(new) == 4 and {p.parent.name for p in new} == {"call_date=2026-11-05"}
    assert_matches_db(db, out)

    land(db, [call("n3", "h5", day="11-03")])  # a late call of an exported day: a second part file there
    counts = export(db, out)
    assert (counts["calls_written"], counts["dates_replaced"], counts["files_removed"]) == (1, 0, 0)
    for table in TABLES:
        assert len(parts(out, table)["11-03"]) == 2
    assert {p: v for p, v in files(out).items() if p in after} == after
    added = set(files(out)) - set(after)
    assert len(added) == 4 and {p.parent.name for p in added} == {"call_date=2026-11-03"}
    assert_matches_db(db, out)
    with Warehouse(db, read_only=True) as wh:
        assert wh.con.execute("SELECT count(*) FROM export_calls").fetchone()[0] == 5
        assert {p for p, _, c in recorded_files(wh, out) if c == "n3"} == {(out / p).resolve() for p in added}


def test_relanded_rekeyed_and_redated_calls_leave_no_stale_rows(tmp_path):
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    land(db, [call("a", "h1"), call("b", "h2"), call("c", "h3", day="11-04"), call("k", "h4", day="11-05")])
    export(db, out)
    untouched = {p: v for p, v in files(out).items() if "2026-11-05" in str(p)}

    land(db, [call("a", "h1-changed", n_utts=5, text="改过")])  # the recording changed: its rows replaced
    moved = call("c", "h3", day="11-05").call                  # the manifest now dates c a day later
    with Warehouse(db) as wh:
        run = wh.start_run("/archive", {})
        wh.rekey_call("b", "b-manifest", run)                   # the manifest now names b
        wh.update_call_metadata([moved])
    counts = export(db, out)
    assert counts["calls_written"] == 3 and counts["dates_replaced"] == 2  # 11-03 (a, b) and 11-04 (c)
    assert_matches_db(db, out)
    utts = exported(out, "utterances")
    assert utts[("11-03", "a")] == 5 and utts[("11-03", "b-manifest")] == 3
    assert not any(cid == "b" for _, cid in utts) and ("11-05", "c") in utts
    assert "11-04" not in parts(out, "calls")  # its only call moved away: its files are gone
    texts = pq.read_table(parts(out, "utterances")["11-03"][0])["text"].to_pylist()
    assert "改过0" in texts and not any(t.startswith("您好") and t[-1] in "34" for t in texts)
    for table in TABLES:  # the replaced partition is one file again; 11-05 gained one
        assert len(parts(out, table)["11-03"]) == 1 and len(parts(out, table)["11-05"]) == 2
    assert {p: v for p, v in files(out).items() if p in untouched} == untouched
    assert export(db, out)["files_written"] == 0


def test_purge_rewrites_every_partition_of_the_call_into_one_file(tmp_path):
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    land(db, [call("a", "h1"), call("x", "h9", day="11-04")])
    export(db, out)
    land(db, [call("b", "h2")])
    export(db, out)                          # 11-03 now holds two part files: a's and b's
    land(db, [call("late", "h3")])           # landed after the last export: not in the folder yet
    assert all(len(parts(out, t)["11-03"]) == 2 for t in TABLES)
    untouched = {p: v for p, v in files(out).items() if "2026-11-04" in str(p)}

    with Warehouse(db) as wh:
        result = purge(wh, ["a"], "call_id=a")
    assert result.files_rewritten == 4 and result.files_removed == 4  # a's part files merged away
    for table in TABLES:
        (only,) = parts(out, table)["11-03"]
        assert set(pq.read_table(only)["call_id"].to_pylist()) == {"b"}
    assert not any(cid == "a" for t in TABLES for _, cid in exported(out, t))
    assert {p: v for p, v in files(out).items() if p in untouched} == untouched
    with Warehouse(db, read_only=True) as wh:
        assert not recorded_files(wh, out, call_ids=["a"])
        assert wh.con.execute("SELECT count(*) FROM export_calls WHERE call_id = 'a'").fetchone()[0] == 0

    counts = export(db, out)                 # the next night adds the late call, nothing else
    assert (counts["calls_written"], counts["dates_replaced"], counts["files_removed"]) == (1, 0, 0)
    assert_matches_db(db, out)
    with Warehouse(db) as wh:                # and a purge of a call in a later part file
        purge(wh, ["late"], "call_id=late")
    assert all(len(parts(out, t)["11-03"]) == 1 for t in TABLES)
    assert_matches_db(db, out)


def test_transcripts_only_with_the_flag_and_never_stale(tmp_path):
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    land(db, [call("a", "h1"), call("b", "h2")])
    export(db, out)
    parquet = {p: v for p, v in files(out).items()}
    a, b = safe_name("a"), safe_name("b")

    counts = export(db, out, transcripts=True)  # asked for later: written for every call, Parquet untouched
    assert counts["calls_with_transcripts"] == 2 and counts["files_written"] == 4 and counts["calls_written"] == 0
    assert {p.name for p in (out / "vtt").iterdir()} == {f"{a}.vtt", f"{b}.vtt"}
    assert {p: v for p, v in files(out).items() if p in parquet} == parquet
    assert export(db, out, transcripts=True)["files_written"] == 0

    land(db, [call("a", "h1-changed", n_utts=1)])
    counts = export(db, out)                    # without the flag: a's old transcripts go, b's stay
    assert counts["calls_with_transcripts"] == 0
    assert {p.name for p in (out / "vtt").iterdir()} == {f"{b}.vtt"}
    assert {p.name for p in (out / "rttm").iterdir()} == {f"{b}.rttm"}

    runner = CliRunner()
    result = runner.invoke(app, ["export", "--db", str(db), "--out", str(out), "--transcripts"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["calls_with_transcripts"] == 1
    assert (out / "vtt" / f"{a}.vtt").read_text(encoding="utf-8").count("-->") == 1

    result = runner.invoke(app, ["export", "--db", str(db), "--out", str(out), "--full"])
    assert result.exit_code == 0, result.output
    full = json.loads(result.output)
    assert full["mode"] == "full" and full["calls_written"] == 2 and full["files_written"] == 4
    assert not (out / "vtt").exists() and not (out / "rttm").exists()  # a rebuild without transcripts
    assert all(len(parts(out, t)["11-03"]) == 1 for t in TABLES)
    assert_matches_db(db, out)
    with Warehouse(db, read_only=True) as wh:
        assert {k for _, k, _ in recorded_files(wh, out)} == {"parquet"}
        assert len({p for p, _, _ in recorded_files(wh, out)}) == 4


def test_a_folder_exported_before_exports_were_incremental_is_rebuilt(tmp_path):
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    land(db, [call("a", "h1")])
    export(db, out)
    with Warehouse(db) as wh:  # as an export of the earlier release left it: recorded files, no state
        wh.con.execute("DELETE FROM exports")
        wh.con.execute("DELETE FROM export_calls")
    land(db, [call("b", "h2")])
    counts = export(db, out)
    assert counts["mode"] == "full" and counts["files_removed"] == 4
    assert all(len(parts(out, t)["11-03"]) == 1 for t in TABLES)
    assert_matches_db(db, out)


def test_one_export_into_a_folder_at_a_time(tmp_path):
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    land(db, [call("a", "h1")])
    export(db, out)
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another export holds the folder
        with pytest.raises(ExportBusy, match="another callqa export"):
            export(db, out)
        result = CliRunner().invoke(app, ["export", "--db", str(db), "--out", str(out)])
        assert result.exit_code == 3 and "another callqa export" in result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    finally:
        os.close(fd)
    assert export(db, out)["mode"] == "incremental"


@pytest.mark.slow
@pytest.mark.parametrize("point", ["export-part-written:3", "export-recorded"])
def test_an_export_killed_half_way_is_undone_or_finished_by_the_next(tmp_path, point):
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    land(db, [call("a", "h1"), call("b", "h2", day="11-04")])
    export(db, out, transcripts=True)
    land(db, [call("a", "h1-changed", n_utts=5), call("n", "h3", day="11-05")])
    code = ("import sys; from warehouse.export import export;"
            " export(sys.argv[1], sys.argv[2], transcripts=True)")
    killed = subprocess.run([sys.executable, "-c", code, str(db), str(out)], cwd=REPO, timeout=120,
                            env=dict(os.environ, CALLQA_FAILPOINT=point, PYTHONPATH=str(REPO)),
                            capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert list(out.glob(".callqa-export-*"))  # it died with its work folder there

    counts = export(db, out, transcripts=True)
    assert not list(out.glob(".callqa-export-*")) and not list(out.rglob("*.tmp"))
    assert_matches_db(db, out)
    with Warehouse(db, read_only=True) as wh:
        statuses = [s for (s,) in wh.con.execute("SELECT status FROM exports ORDER BY started_at").fetchall()]
        on_disk = {p.resolve() for p in out.rglob("*") if p.is_file() and p.name != ".callqa-export"}
        assert {p for p, _, _ in recorded_files(wh, out)} == on_disk  # every file recorded, no orphan
    assert statuses == ["done", "abandoned" if point.startswith("export-part") else "done", "done"]
    if point == "export-recorded":
        assert counts["calls_written"] == 0  # finished, not redone
    assert (out / "vtt" / f"{safe_name('n')}.vtt").is_file()
    assert export(db, out, transcripts=True)["files_written"] == 0


def test_a_large_first_export_is_written_a_few_days_per_query(tmp_path, monkeypatch):
    """A first export of millions of calls sorts them in runs of whole call dates (about
    CALLS_PER_QUERY calls each), so its memory stays a night's: with runs of one day the
    folder holds the same rows, one file per table and day, as with one run."""
    import warehouse.export as export_module

    db = tmp_path / "w.duckdb"
    land(db, [call("a", "h1"), call("b", "h2"), call("c", "h3", day="11-04"), call("d", "h4", day="11-05")])
    one = export(db, tmp_path / "one")
    monkeypatch.setattr(export_module, "CALLS_PER_QUERY", 1)
    runs = export(db, tmp_path / "runs")
    assert {k: v for k, v in runs.items() if k != "mode"} == {k: v for k, v in one.items() if k != "mode"}
    for table in TABLES:
        assert {d: len(p) for d, p in parts(tmp_path / "runs", table).items()} == {"11-03": 1, "11-04": 1, "11-05": 1}
        assert exported(tmp_path / "runs", table) == exported(tmp_path / "one", table)
    assert_matches_db(db, tmp_path / "runs")

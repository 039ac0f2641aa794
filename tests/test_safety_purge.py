"""Purges that hold and files that stay (issue 11): tombstones keep purged recordings from
landing again, failed calls keep their metadata, purges delete only the files callqa recorded
writing and rebuild only what listed the purged calls, and export paths never become SQL."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from callqa.cli import app
from core.domain import Call, Failure
from core.filenames import safe_name
from core.files import sha256_file
from tests.helpers.warehouse_data import processed
from warehouse.artifacts import recorded_files
from warehouse.export import ExportError, export
from warehouse.purge import lift, purge, select_calls
from warehouse.reporting import Window
from warehouse.store import Warehouse

runner = CliRunner()
CONFIG = Path(__file__).parent / "data" / "test.toml"
NOVEMBER = Window(date(2026, 11, 1), date(2026, 11, 30))  # the test calls' month, whatever today is


def as_call(p) -> Call:
    """The Call discovery would find again for a landed call (same id, same bytes)."""
    return dataclasses.replace(p.call)


def land(db: Path, calls, failures=(), metadata=None) -> None:
    with Warehouse(db) as wh:
        run = wh.start_run("/archive", {})
        wh.land(list(calls), list(failures), run, calls=metadata)


# -- 1. a purge holds ---------------------------------------------------------------------

def test_purged_call_is_never_planned_again_until_lifted(tmp_path):
    from flows.nightly import plan, skip_purged  # Prefect: imported only where used
    db = tmp_path / "w.duckdb"
    keep, gone = processed("keep", "h-keep"), processed("gone", "h-gone")
    gone.call.account_id = "A-ERASE"
    land(db, [keep, gone])
    archive = [as_call(keep), as_call(gone), Call("gone-copy", "/archive/copy.wav", "h-gone"),
               Call("new", "/archive/new.wav", "h-new")]
    with Warehouse(db) as wh:
        purge(wh, select_calls(wh, account_id="A-ERASE"), "account_id=A-ERASE")
        tomb = wh.con.execute("SELECT call_id, sha256, account_id, purge_id FROM purge_tombstones").fetchall()
        record = wh.con.execute("SELECT purge_id, action FROM purges").fetchall()
        assert tomb == [("gone", "h-gone", "A-ERASE", record[0][0])] and record[0][1] == "purge"

        # the next run: neither the purged call nor its bytes under another name are landed
        landable, failures, purged = skip_purged(
            archive, [Failure("gone-dup", "/archive/dup.wav", "h-gone", "discover", "duplicate", "same audio")], wh)
        todo, skipped = plan(landable, wh, retry_failed=False)
        assert [c.call_id for c in todo] == ["new"] and (skipped, purged, failures) == (1, 3, [])

        # an operator lifts it: both may land again, and the lift is on record
        assert lift(wh, account_id="A-ERASE") == 1
        todo, _ = plan(skip_purged(archive, [], wh)[0], wh, retry_failed=False)
        assert [c.call_id for c in todo] == ["gone", "gone-copy", "new"]
        assert wh.con.execute("SELECT criteria, n_calls, action FROM purges WHERE action = 'lift'").fetchall() == [
            ("account_id=A-ERASE", 1, "lift")]
        with pytest.raises(ValueError, match="say which purge to lift"):
            lift(wh)


def test_run_summary_counts_purged_skips(tmp_path, capsys):
    from callqa.cli import print_summary
    from warehouse.purge import record_purged_skips

    with Warehouse(tmp_path / "w.duckdb") as wh:
        run = wh.start_run("/archive", {})
        wh.finish_run(run, discovered=3, skipped=1, landed=0, failed=0, audio_seconds=0.0)
        record_purged_skips(wh, run, 2)
        summary = wh.run_summary(run)
    assert summary["skipped_purged"] == 2
    print_summary(summary)
    assert "skipped (purged)" in capsys.readouterr().out


def test_failed_call_keeps_its_metadata_and_is_purged_by_account(tmp_path):
    from flows.nightly import plan, skip_purged  # Prefect: imported only where used
    db = tmp_path / "w.duckdb"
    started = datetime(2026, 11, 2, 2, 15, tzinfo=timezone.utc)
    call = Call("bad", "/archive/bad.wav", "h-bad", 300, collector_id="C9", account_id="A-BAD", started_at=started,
                timezone="Asia/Shanghai", direction="outbound", campaign="card", team="T1")
    land(db, [processed("ok", "h-ok")], [Failure("bad", call.path, "h-bad", "decode", "decode_error", "not audio")],
         metadata={"bad": call})
    with Warehouse(db) as wh:
        row = wh.con.execute("SELECT status, account_id, collector_id, started_at, timezone, team, size_bytes"
                             " FROM calls WHERE call_id = 'bad'").fetchone()
        assert row == ("failed", "A-BAD", "C9", started, "Asia/Shanghai", "T1", 300)
        assert select_calls(wh, account_id="A-BAD") == ["bad"]
        purge(wh, ["bad"], "account_id=A-BAD")
        assert wh.con.execute("SELECT count(*) FROM failures WHERE call_id = 'bad'").fetchone()[0] == 0
        assert skip_purged([call], [], wh)[2] == 1


# -- 2. purge deletes only what callqa wrote, and rebuilds only what listed the calls -------

def snapshot(*folders: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for f in folders for p in f.rglob("*") if p.is_file()}


def test_purge_removes_recorded_files_only_and_rewrites_what_listed_the_call(tmp_path, repo_root, cfg):
    from callqa.report import build_report

    db = tmp_path / "w.duckdb"
    calls = [processed("dev_call_01", "h1"), processed("dev_call_02", "h2"), processed("dev_call_03", "h3")]
    calls[0].call.path = str(repo_root / "samples" / "calls" / "dev_call_01.stereo.wav")  # a page with audio
    calls[0].call.size_bytes = Path(calls[0].call.path).stat().st_size
    calls[0].call.sha256 = sha256_file(calls[0].call.path)  # the report plays only unchanged recordings
    calls[2].call.started_at = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)  # another call date
    land(db, calls)
    out, rep = tmp_path / "export", tmp_path / "report"
    export(db, out, transcripts=True)
    build_report(db, rep, cfg, window=NOVEMBER)
    foreign = [out / "keep_me_dev_call_01.txt", out / "notes" / "dev_call_01.txt",
               out / "parquet" / "utterances" / "call_date=2026-11-03" / "mine.txt", out / "parquet" / "README",
               rep / "calls" / "dev_call_01.notes.txt"]
    for path in foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("someone else's file")
    with Warehouse(db) as wh:
        own = {p for f in (out, rep) for p, kind, _ in recorded_files(wh, f, call_ids=["dev_call_01"])
               if kind != "parquet"}
        partitions = {p for p, kind, _ in recorded_files(wh, out, call_ids=["dev_call_01"]) if kind == "parquet"}
    assert {p.parent.name for p in own} == {"rttm", "vtt", "calls", "audio"} and len(own) == 4
    assert len(partitions) == 4 and {p.parent.name for p in partitions} == {"call_date=2026-11-03"}
    before = snapshot(out, rep)

    result = runner.invoke(app, ["purge", "--db", str(db), "--call-id", "dev_call_01", "--yes", "-c", str(CONFIG)])
    assert result.exit_code == 0, result.output
    assert "overview pages rebuilt" in result.output
    after = snapshot(out, rep)
    removed = set(before) - set(after)
    changed = {p for p in set(before) & set(after) if before[p] != after[p]}
    overview = {rep / "index.html", rep / "queue-1.html", rep / "calls-1.html"}
    assert removed == own
    # scores.html is rewritten too; its bytes change only if its figures or the minute it was generated do
    assert partitions | overview <= changed <= partitions | overview | {rep / "scores.html"}
    assert set(after) == set(before) - own  # nothing new; every foreign file is still there
    assert all(p.read_text() == "someone else's file" for p in foreign)
    for path in partitions:
        assert set(pq.read_table(path)["call_id"].to_pylist()) == {"dev_call_02"}
    for path in overview:
        assert "dev_call_01" not in path.read_text(encoding="utf-8")
    assert f"{safe_name('dev_call_02')}.html" in (rep / "calls-1.html").read_text(encoding="utf-8")
    with Warehouse(db) as wh:
        assert wh.con.execute("SELECT files_removed FROM purges").fetchone()[0] == 4 + 3 + 1  # + scores.html
        assert not recorded_files(wh, out, call_ids=["dev_call_01"])

    # the only call of a date: its partitions go (recorded files only), the rest stay
    result = runner.invoke(app, ["purge", "--db", str(db), "--call-id", "dev_call_03", "--yes", "-c", str(CONFIG)])
    assert result.exit_code == 0, result.output
    assert not (out / "parquet" / "calls" / "call_date=2026-11-20").exists()
    assert all(p.read_text() == "someone else's file" for p in foreign)
    assert list((out / "parquet" / "calls" / "call_date=2026-11-03").glob("part-*.parquet"))


def test_export_refuses_a_folder_of_other_files(tmp_path):
    db = tmp_path / "w.duckdb"
    land(db, [processed("a", "h1")])
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not a callqa export folder"):
        export(db, docs)
    result = runner.invoke(app, ["export", "--db", str(db), "--out", str(docs)])
    assert result.exit_code == 2 and "not a callqa export folder" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert [p.name for p in docs.iterdir()] == ["notes.txt"]
    # an earlier export is reused; a second export of fewer calls deletes only its stale files
    out = tmp_path / "out"
    export(db, out, transcripts=True)
    land(db, [processed("b", "h2")])
    export(db, out, transcripts=True)
    (out / "vtt" / "mine.vtt").write_text("mine")
    with Warehouse(db) as wh:
        for table in ("utterances", "findings", "call_metrics", "calls"):
            wh.con.execute(f"DELETE FROM {table} WHERE call_id = 'a'")
    export(db, out, transcripts=True)
    assert {p.name for p in (out / "vtt").iterdir()} == {f"{safe_name('b')}.vtt", "mine.vtt"}


# -- 3. no SQL from the export path --------------------------------------------------------

@pytest.mark.parametrize("name", [
    "we'ird \"name\"; DROP TABLE calls; --..x",
    "o' (FORMAT csv); COPY (SELECT 42 AS x) TO 'EVIL' (FORMAT csv); --",
])
def test_export_path_is_never_sql(tmp_path, name):
    db = tmp_path / "w.duckdb"
    land(db, [processed("a", "h1")])
    evil = tmp_path / "evil.csv"
    out = tmp_path / "sub" / ".." / name.replace("EVIL", str(evil))
    counts = export(db, out, transcripts=True)
    assert counts["utterances"] == 3 and counts["calls_with_transcripts"] == 1
    written = out.resolve()
    assert written.is_relative_to(tmp_path) and not evil.exists()
    new = {p for p in tmp_path.rglob("*") if p.is_file()} - {db, tmp_path / "w.duckdb.wal", tmp_path / "w.duckdb.run.lock"}
    assert new and all(p.is_relative_to(written) for p in new)
    assert pq.read_table(written / "parquet" / "utterances" / "call_date=2026-11-03").num_rows == 3
    with Warehouse(db) as wh:
        assert wh.con.execute("SELECT count(*) FROM calls").fetchone()[0] == 1
        assert {str(p.parent.parent.parent) for p, kind, _ in recorded_files(wh, out) if kind == "parquet"} == {
            str(written / "parquet")}


# -- end to end: `callqa run`, purge, run again --------------------------------------------

@pytest.mark.slow
def test_cli_run_purge_run_does_not_land_again(tmp_path, repo_root):
    src = repo_root / "samples" / "calls"
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "dev_call_03.stereo.wav").write_bytes((src / "dev_call_03.stereo.wav").read_bytes())
    (archive / "broken_upload.wav").write_bytes((src / "broken_upload.wav").read_bytes())
    lines = (src / "manifest.csv").read_text(encoding="utf-8").splitlines()
    (archive / "manifest.csv").write_text("\n".join(
        [lines[0]] + [ln for ln in lines if ln.startswith("dev_call_03,")]
        + ["broken_upload,broken_upload.wav,C017,A-BROKEN,2026-11-04T09:00:00+08:00,Asia/Shanghai,collector,customer"]
    ) + "\n", encoding="utf-8")
    db = tmp_path / "qa.duckdb"
    cli = [sys.executable, "-m", "callqa.cli"]
    env = dict(os.environ, PYTHONPATH=str(repo_root))

    def call(*args):
        out = subprocess.run([*cli, *map(str, args)], capture_output=True, text=True, timeout=600, env=env,
                             cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    def run():
        return call("run", archive, "--db", db, "--workers", "1", "--config", CONFIG)

    first = run()
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT call_id, status, account_id FROM calls ORDER BY 1").fetchall() == [
        ("broken_upload", "failed", "A-BROKEN"), ("dev_call_03", "ok", "A55102")]
    con.close()
    assert "skipped (purged)" in first
    call("purge", "--db", db, "--account-id", "A-BROKEN", "--yes", "--config", CONFIG)
    call("purge", "--db", db, "--call-id", "dev_call_03", "--yes", "--config", CONFIG)
    second = run()
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 0
    assert con.execute("SELECT n_landed, n_failed, n_purged FROM runs ORDER BY started_at DESC LIMIT 1").fetchone() \
        == (0, 0, 2)
    con.close()
    assert any("skipped (purged)" in ln and ln.rstrip(" │|").endswith("2") for ln in second.splitlines())
    call("purge", "--db", db, "--lift", "--call-id", "dev_call_03", "--config", CONFIG)
    run()
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT call_id, status FROM calls").fetchall() == [("dev_call_03", "ok")]
    con.close()


def test_folders_written_before_recording_are_left_alone(tmp_path):
    from warehouse.artifacts import register_artifact

    db = tmp_path / "w.duckdb"
    land(db, [processed("a", "h1"), processed("b", "h2")])
    legacy = tmp_path / "old-export"
    (legacy / "vtt").mkdir(parents=True)
    (legacy / "vtt" / "a.vtt").write_text("WEBVTT")
    gone = tmp_path / "deleted-export"
    export(db, gone)
    for path in sorted(gone.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    gone.rmdir()
    with Warehouse(db) as wh:
        register_artifact(wh, legacy, "export")
        result = purge(wh, ["a"], "call_id=a")
    assert result.unrecorded == [legacy.resolve()] and (legacy / "vtt" / "a.vtt").is_file()
    assert not gone.exists()  # a folder its owner deleted is not written again


@pytest.mark.slow
def test_purge_killed_after_its_transaction_is_finished_by_the_next(tmp_path, cfg):
    from flows.nightly import plan, skip_purged  # Prefect: imported only where used
    from callqa.report import build_report

    db = tmp_path / "w.duckdb"
    land(db, [processed("a", "h1"), processed("b", "h2")])
    out, rep = tmp_path / "export", tmp_path / "report"
    export(db, out)
    build_report(db, rep, cfg, window=NOVEMBER)
    cli = [sys.executable, "-m", "callqa.cli", "purge", "--db", str(db), "--call-id", "a", "--yes", "-c", str(CONFIG)]
    killed = subprocess.run(cli, capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, CALLQA_FAILPOINT="purge-committed"))
    assert killed.returncode == -9
    with Warehouse(db) as wh:
        assert select_calls(wh, call_ids=["a"]) == [] and skip_purged([Call("a", "/x", "h1")], [], wh)[2] == 1
        left = {p: kind for f in (out, rep) for p, kind, _ in recorded_files(wh, f, call_ids=["a"])}
    assert left and all(p.is_file() for p in left)
    again = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "overview pages rebuilt" in again.stdout
    assert not any(p.exists() for p, kind in left.items() if kind != "parquet")
    assert all(set(pq.read_table(p)["call_id"].to_pylist()) == {"b"} for p, kind in left.items() if kind == "parquet")
    assert "a.html" not in (rep / "calls-1.html").read_text(encoding="utf-8")

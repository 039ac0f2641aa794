"""Scale-out: the nightly flow on a local Dask cluster of two worker processes, one writer, the
calls staged in a folder of their own (as on shared storage), then exported for BI tools."""
import shutil

import duckdb
import pyarrow.parquet as pq
import pytest

pytestmark = [pytest.mark.flow, pytest.mark.slow]  # a Prefect server and a Dask cluster


def test_nightly_on_a_dask_cluster(harness, sample_calls, tmp_path, monkeypatch):
    from flows.nightly import nightly
    from warehouse.export import export

    archive = tmp_path / "archive"
    archive.mkdir()
    for i in ("03", "06"):
        shutil.copy(sample_calls / f"dev_call_{i}.stereo.wav", archive)
    shared = tmp_path / "shared" / "staging"  # not beside the database: another mount in production
    monkeypatch.setenv("CALLQA_FLOW__TASK_RUNNER", "dask")
    monkeypatch.setenv("CALLQA_FLOW__STAGING_DIR", str(shared))
    monkeypatch.setenv("CALLQA_ASR__CPU_THREADS", "1")
    db = tmp_path / "warehouse" / "dask.duckdb"
    summary = nightly(str(archive), db=str(db), workers=2, config_path="tests/data/test.toml")
    assert (summary["landed"], summary["failed"]) == (2, 0)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(DISTINCT call_id) FROM utterances").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone()[0] == 2
    assert con.execute("SELECT path FROM artifacts WHERE kind = 'staging'").fetchall() == [(str(shared.resolve()),)]
    landed = sorted(r[0] for r in con.execute("SELECT call_id FROM calls").fetchall())
    con.close()
    assert shared.is_dir() and not any(shared.iterdir())  # staged there by the workers, removed once landed
    assert not (db.parent / "staging").exists()

    counts = export(db, tmp_path / "export")  # what BI tools read, refreshed after the run
    assert counts["calls_written"] == 2 and export(db, tmp_path / "export")["files_written"] == 0
    calls = [pq.read_table(p) for p in (tmp_path / "export" / "parquet" / "calls").glob("call_date=*/*.parquet")]
    assert sorted(c for t in calls for c in t["call_id"].to_pylist()) == landed

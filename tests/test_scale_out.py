"""Scale-out: the nightly flow on a local Dask cluster of two worker processes, one writer."""
import shutil

import duckdb
import pytest

pytestmark = [pytest.mark.flow, pytest.mark.slow]  # a Prefect server and a Dask cluster


def test_nightly_on_a_dask_cluster(harness, sample_calls, tmp_path, monkeypatch):
    from flows.nightly import nightly

    archive = tmp_path / "archive"
    archive.mkdir()
    for i in ("03", "06"):
        shutil.copy(sample_calls / f"dev_call_{i}.stereo.wav", archive)
    monkeypatch.setenv("CALLQA_FLOW__TASK_RUNNER", "dask")
    monkeypatch.setenv("CALLQA_ASR__CPU_THREADS", "1")
    db = tmp_path / "dask.duckdb"
    summary = nightly(str(archive), db=str(db), workers=2, config_path="tests/data/test.toml")
    assert (summary["landed"], summary["failed"]) == (2, 0)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(DISTINCT call_id) FROM utterances").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone()[0] == 2
    con.close()

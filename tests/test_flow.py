"""The nightly flow under a temporary Prefect server: land, skip on re-run, replace on change."""
import shutil

import duckdb
import numpy as np
import pytest

from tests.helpers.audio import encode
from tests.helpers.audio import decode_at

pytestmark = [pytest.mark.flow, pytest.mark.slow]  # a Prefect server


def table_counts(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("calls", "utterances", "findings", "call_metrics", "failures")}
    finally:
        con.close()


def test_nightly_lands_skips_and_replaces(harness, sample_calls, tmp_path):
    from flows.nightly import nightly

    archive = tmp_path / "archive"
    archive.mkdir()
    for i in ("03", "05"):
        shutil.copy(sample_calls / f"dev_call_{i}.stereo.wav", archive)
    lines = (sample_calls / "manifest.csv").read_text(encoding="utf-8").splitlines()
    (archive / "manifest.csv").write_text(
        "\n".join([lines[0]] + [ln for ln in lines if ln.startswith(("dev_call_03", "dev_call_05"))]) + "\n")
    (archive / "corrupt.wav").write_bytes(b"RIFF" + bytes(5000))
    db = tmp_path / "qa.duckdb"

    first = nightly(str(archive), db=str(db), config_path="tests/data/test.toml")
    assert (first["landed"], first["failed"], first["skipped"]) == (2, 1, 0)
    assert first["failures"] == [["corrupt", "decode", "decode_error"]]
    after_first = table_counts(db)
    assert after_first["calls"] == 3 and after_first["utterances"] >= 10
    con = duckdb.connect(str(db), read_only=True)
    roles = dict(con.execute("SELECT call_id, list_sort(list_distinct(list(role))) FROM utterances GROUP BY 1").fetchall())
    assert roles == {"dev_call_03": ["collector", "third_party"], "dev_call_05": ["collector", "customer"]}
    status = dict(con.execute("SELECT call_id, status FROM calls").fetchall())
    assert status == {"dev_call_03": "ok", "dev_call_05": "ok", "corrupt": "failed"}
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM findings WHERE call_id = 'dev_call_05'").fetchall()}
    assert "threat" in kinds
    metrics = con.execute("SELECT role, talk_s FROM call_metrics WHERE call_id = 'dev_call_03' ORDER BY role").fetchall()
    assert [r for r, _ in metrics] == ["all", "collector", "third_party"] and all(t > 0 for _, t in metrics)
    run_rows = con.execute("SELECT status, n_landed, n_failed FROM runs").fetchall()
    con.close()
    assert run_rows == [("completed", 2, 1)]

    # the same archive again: nothing new, nothing duplicated
    second = nightly(str(archive), db=str(db), config_path="tests/data/test.toml")
    assert (second["landed"], second["failed"], second["skipped"]) == (0, 0, 3)
    assert table_counts(db) == after_first

    # a changed recording replaces its call's rows
    audio = decode_at(archive / "dev_call_03.stereo.wav", 8000)
    encode(audio.samples[:, : 8000 * 13], 8000, archive / "dev_call_03.stereo.wav", "pcm_s16le", "wav")
    third = nightly(str(archive), db=str(db), config_path="tests/data/test.toml")
    assert (third["landed"], third["skipped"]) == (1, 2)
    con = duckdb.connect(str(db), read_only=True)
    duration, n_utts = con.execute(
        "SELECT duration_s, (SELECT count(*) FROM utterances WHERE call_id = 'dev_call_03') FROM calls"
        " WHERE call_id = 'dev_call_03'").fetchone()
    assert duration == pytest.approx(13.0, abs=0.01) and 0 < n_utts < 6
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 3
    con.close()

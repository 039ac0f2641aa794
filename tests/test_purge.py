"""Purge by call, account and age: every table, exports, reports; recorded; retention floor."""
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest

from core.filenames import safe_name
from tests.helpers.warehouse_data import processed
from warehouse.export import export
from warehouse.purge import purge, select_calls
from warehouse.store import Warehouse


def landed(tmp_path):
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        run = wh.start_run("/a", {})
        calls = [processed("keep", "h1"), processed("gone.1", "h2"), processed("old", "h3")]
        calls[1].call.account_id = "A-ERASE"
        calls[2].call.started_at = datetime.now(timezone.utc) - timedelta(days=800)
        wh.land(calls, [], run)
    return db


def test_purge_everywhere_and_recorded(tmp_path):
    db = landed(tmp_path)
    out = tmp_path / "export"
    export(db, out)
    gone, keep = safe_name("gone.1"), safe_name("keep")
    assert (out / "vtt" / f"{gone}.vtt").is_file() and (out / "parquet").is_dir()
    with Warehouse(db) as wh:
        ids = select_calls(wh, account_id="A-ERASE")
        assert ids == ["gone.1"]
        result = purge(wh, ids, "account_id=A-ERASE")
        left = {t: wh.con.execute(f"SELECT count(*) FROM {t} WHERE call_id = 'gone.1'").fetchone()[0]
                for t in ("calls", "utterances", "findings", "call_metrics", "utterances_raw")}
        record = wh.con.execute("SELECT criteria, n_calls, rows_deleted, files_removed FROM purges").fetchone()
        kept = wh.con.execute("SELECT count(*) FROM utterances WHERE call_id = 'keep'").fetchone()[0]
    assert set(left.values()) == {0}
    assert result.rows_deleted == 1 + 3 + 1 + 1
    assert record[:3] == ("account_id=A-ERASE", 1, 6) and record[3] == result.files_removed > 0
    assert not (out / "vtt" / f"{gone}.vtt").exists() and not (out / "rttm" / f"{gone}.rttm").exists()
    assert (out / "vtt" / f"{keep}.vtt").is_file() and kept == 3
    # the partition that mixed it with other calls is rewritten without it
    part = pq.read_table(out / "parquet" / "utterances" / "call_date=2026-11-03")
    assert set(part["call_id"].to_pylist()) == {"keep"} and result.files_rewritten == 4


def test_retention_floor_and_age(tmp_path):
    db = landed(tmp_path)
    with Warehouse(db) as wh:
        with pytest.raises(ValueError, match="below the minimum"):
            select_calls(wh, older_than_days=30)
        with pytest.raises(ValueError, match="say what to purge"):
            select_calls(wh)
        assert select_calls(wh, older_than_days=730) == ["old"]
        assert select_calls(wh, call_ids=["keep", "nope"]) == ["keep"]


def test_staged_calls_are_purged_too(tmp_path):
    from warehouse.artifacts import register_artifact
    from warehouse.staging import find_staged, write_staged
    from warehouse.staging import stage_call as stage

    db = landed(tmp_path)
    staging = tmp_path / "staging"
    for call_id in ("keep", "gone.1"):
        write_staged(stage(processed(call_id, "f" * 64)), "f" * 64, staging)
    with Warehouse(db) as wh:
        register_artifact(wh, staging, "staging")
        purge(wh, ["gone.1"], "call_id=gone.1")
    assert set(find_staged(staging)) == {("keep", "f" * 64)}

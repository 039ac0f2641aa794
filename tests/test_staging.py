"""Parquet staging between workers and the writer: atomic, complete, readable, landable."""
from warehouse.staging import find_staged, read_staged, remove_staged, write_staged
from warehouse.store import Warehouse
from warehouse.staging import stage_call as stage
from tests.helpers.warehouse_data import counts, processed


def test_round_trip_and_half_written_folders(tmp_path):
    staging = tmp_path / "staging"
    ref = write_staged(stage(processed("day/a", "a" * 64)), "a" * 64, staging)
    (staging / ".tmp-deadbeef").mkdir()            # a writer killed half-way
    found = find_staged(staging)
    assert list(found) == [("day/a", "a" * 64)] and found[("day/a", "a" * 64)] == ref
    assert not (staging / ".tmp-deadbeef").exists()
    back = read_staged(ref)
    assert back.tables["utterances"].num_rows == 3 and back.duration == 9.0
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.land([back], [], wh.start_run("/a", {}))
        assert counts(wh.con) == {"calls": 1, "utterances": 3, "findings": 1, "call_metrics": 1}
    remove_staged([ref])
    assert find_staged(staging) == {}

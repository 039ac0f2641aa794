"""The warehouse on a real DuckDB file: migrations, batch landing, replacement, failures, export."""

import duckdb
import pyarrow.parquet as pq
import pytest

from core.domain import Failure
from core.filenames import safe_name
from warehouse.export import export
from warehouse.migrate import available
from warehouse.store import Warehouse, WarehouseBusy

from tests.helpers.warehouse_data import counts, processed


def test_migrations_apply_once(tmp_path):
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        versions = [v for v, _ in wh.con.execute("SELECT version, name FROM schema_migrations").fetchall()]
    assert versions == [v for v, _, _ in available()]
    with Warehouse(db) as wh:  # reopening applies nothing twice
        assert wh.con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(versions)


def test_land_replace_and_failures(tmp_path):
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        run = wh.start_run("/archive", {"k": 1})
        wh.land([processed("a", "h1"), processed("b", "h2")],
                [Failure("bad", "/archive/bad.wav", "h3", "decode", "decode_error", "not audio")], run)
        assert counts(wh.con) == {"calls": 3, "utterances": 6, "findings": 2, "call_metrics": 2}
        assert wh.known_calls() == {"a": ("h1", "ok"), "b": ("h2", "ok"), "bad": ("h3", "failed")}
        assert wh.failed_versions() == {("bad", "h3")}
        # a changed file replaces all of its call's rows, in one transaction
        wh.land([processed("a", "h1b", n_utts=5)], [], run)
        assert counts(wh.con, "a") == {"calls": 1, "utterances": 5, "findings": 1, "call_metrics": 1}
        assert wh.known_calls()["a"] == ("h1b", "ok")
        # a landed call whose new bytes are broken keeps what landed; the failure is recorded
        wh.land([], [Failure("b", "/archive/b.wav", "h2x", "decode", "decode_error", "truncated")], run)
        assert wh.known_calls()["b"] == ("h2", "ok") and counts(wh.con, "b")["utterances"] == 3
        # a fixed recording replaces its failed row
        wh.land([processed("bad", "h3fixed")], [], run)
        assert wh.known_calls()["bad"] == ("h3fixed", "ok")
        wh.finish_run(run, discovered=3, skipped=0, landed=3, failed=1, audio_seconds=27.0)
        summary = wh.run_summary(run)
    assert summary["landed"] == 3 and summary["flags"] == {"abuse": 3}
    words = duckdb.connect(str(db), read_only=True).execute(
        "SELECT words[1].text, labels FROM utterances WHERE call_id = 'a' AND idx = 1").fetchone()
    assert words == ("您好1", ["abuse"])


def test_failed_batch_leaves_nothing_half_landed(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        run = wh.start_run("/archive", {})
        wh.land([processed("a", "h1")], [], run)
        broken = processed("b", "h2")
        broken.metrics[0].role = None  # violates NOT NULL: the whole batch must roll back
        with pytest.raises(duckdb.Error):
            wh.land([processed("a", "h1-new", n_utts=7), broken], [], run)
        assert wh.known_calls() == {"a": ("h1", "ok")}
        assert counts(wh.con) == {"calls": 1, "utterances": 3, "findings": 1, "call_metrics": 1}


def test_second_writer_gets_a_clear_error(tmp_path):
    import subprocess
    import sys
    db = tmp_path / "w.duckdb"
    Warehouse(db).close()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(db)!r}); "
                               "print('ready', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseBusy, match="in use by another process"):
            Warehouse(db)
    finally:
        holder.kill()
        holder.wait()


def test_export_parquet_rttm_vtt(tmp_path):
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        run = wh.start_run("/archive", {})
        wh.land([processed("day/a", "h1", text="<b>x</b>")], [], run)
    counts_ = export(db, tmp_path / "out")
    assert counts_["utterances"] == 3 and counts_["calls_with_transcripts"] == 1
    # 23:30 UTC is the next morning in Shanghai: partitioned by the call's local date
    part = tmp_path / "out" / "parquet" / "utterances" / "call_date=2026-11-03"
    assert pq.read_table(part).num_rows == 3
    name = safe_name("day/a")
    vtt = (tmp_path / "out" / "vtt" / f"{name}.vtt").read_text()
    assert vtt.startswith("WEBVTT") and "&lt;b&gt;x&lt;/b&gt;0" in vtt and "<v collector>" in vtt
    rttm = (tmp_path / "out" / "rttm" / f"{name}.rttm").read_text().splitlines()
    assert name.startswith("day__a-") and rttm[1] == f"SPEAKER {name} 1 2.000 1.500 <NA> <NA> customer <NA> <NA>"

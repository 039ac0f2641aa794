"""Database safety (issue 11): a warehouse is never created from a wrong path, a schema newer
than the code is refused, a database that cannot record what is written stops the writing,
and review imports are deterministic, fast and read the encodings reviewers' tools save."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import duckdb
import pytest

from tests.helpers.bad_inputs import foreign_duckdb, held_by_writer, newer_schema, not_duckdb, review_csv, unwritable
from tests.helpers.review_data import verdicts_sheet
from tests.helpers.warehouse_data import processed
from warehouse.migrate import available
from warehouse.reporting import ensure_schema
from warehouse.review import ReviewError, import_csv, read_text
from warehouse.store import Warehouse, WarehouseBusy, WarehouseError, WarehouseReadOnly, check_writable

LATEST = max(v for v, _, _ in available())


@pytest.fixture()
def db(tmp_path) -> Path:
    """Calls a and b, each with five findings a#0..a#4, b#0..b#4."""
    path = tmp_path / "w.duckdb"
    calls = [processed(c, f"h-{c}") for c in ("a", "b")]
    calls = [dataclasses.replace(p, findings=[dataclasses.replace(p.findings[0], start=float(k)) for k in range(5)])
             for p in calls]
    with Warehouse(path) as wh:
        wh.land(calls, [], wh.start_run("/archive", {}))
    return path


def reviews(db: Path, finding_id: str) -> tuple[list[tuple], str | None]:
    """(stored rows of the finding in insertion order, the verdict the views count)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT verdict, reviewer, note FROM reviews WHERE finding_id = ? ORDER BY reviewed_at",
                           [finding_id]).fetchall()
        latest = con.execute("SELECT verdict FROM finding_reviews WHERE finding_id = ?", [finding_id]).fetchone()
        return rows, latest[0] if latest else None
    finally:
        con.close()


# -- opening ---------------------------------------------------------------------------------

def test_newer_schema_is_refused_everywhere(tmp_path):
    path = newer_schema(tmp_path / "future.duckdb")
    message = f"database schema version {LATEST + 1} is newer than this callqa (knows up to {LATEST}); upgrade callqa"
    for open_it in (lambda: Warehouse(path), lambda: Warehouse(path, read_only=True),
                    lambda: Warehouse(path, existing=True), lambda: ensure_schema(path), lambda: check_writable(path)):
        with pytest.raises(WarehouseError) as caught:
            open_it()
        assert str(caught.value) == f"{path}: {message}"


def test_only_callqa_warehouses_are_opened(tmp_path):
    with pytest.raises(WarehouseError, match="is not a DuckDB database"):
        Warehouse(not_duckdb(tmp_path / "text.duckdb"), read_only=True)
    foreign = foreign_duckdb(tmp_path / "theirs.duckdb")
    for kwargs in ({}, {"read_only": True}, {"existing": True}):
        with pytest.raises(WarehouseError, match="not a callqa warehouse"):
            Warehouse(foreign, **kwargs)
    con = duckdb.connect(str(foreign), read_only=True)
    assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == 1  # left alone
    con.close()
    missing = tmp_path / "typo" / "qa.duckdb"
    for kwargs in ({"read_only": True}, {"existing": True}):
        with pytest.raises(WarehouseError, match="does not exist"):
            Warehouse(missing, **kwargs)
    assert not missing.parent.exists()
    empty = duckdb.connect(str(tmp_path / "empty.duckdb"))  # an empty DuckDB database may become one
    empty.close()
    Warehouse(tmp_path / "empty.duckdb").close()
    Warehouse(tmp_path / "empty.duckdb", existing=True).close()


def test_check_writable_says_why_the_record_cannot_be_made(db, tmp_path):
    check_writable(db)
    with unwritable(db):
        with pytest.raises(WarehouseReadOnly, match="the file .* is read-only"):
            check_writable(db)
        Warehouse(db, read_only=True).close()  # reading still works
    with unwritable(db.parent):
        with pytest.raises(WarehouseReadOnly, match="its folder .* is read-only"):
            check_writable(db)
    with held_by_writer(db):
        with pytest.raises(WarehouseBusy):
            check_writable(db)


# -- review import ---------------------------------------------------------------------------

def test_two_verdicts_for_one_finding_in_one_file_the_last_row_wins(db, tmp_path):
    rows = [{"call_id": "a", "finding_id": "a#1", "verdict": "confirmed", "reviewer": "amy"},
            {"call_id": "a", "finding_id": "a#2", "verdict": "rejected", "reviewer": "amy"},
            {"call_id": "a", "finding_id": "a#1", "verdict": "rejected", "reviewer": "amy", "note": "second look"},
            # the same time given twice: still the file's order, never a tie in the views
            {"call_id": "b", "finding_id": "b#0", "verdict": "rejected", "reviewer": "bo",
             "reviewed_at": "2026-11-10T10:00:00+08:00"},
            {"call_id": "b", "finding_id": "b#0", "verdict": "confirmed", "reviewer": "bo",
             "reviewed_at": "2026-11-10T10:00:00+08:00"},
            {"call_id": "b", "verdict": "missed", "reviewer": "bo", "note": "first"},
            {"call_id": "b", "verdict": "clean", "reviewer": "bo"}]
    result = import_csv(db, review_csv(tmp_path / "v.csv", rows), "x")
    assert (result.added, result.duplicates, result.superseded, result.errors) == (4, 0, 3, [])
    assert reviews(db, "a#1") == ([("rejected", "amy", "second look")], "rejected")
    assert reviews(db, "b#0") == ([("confirmed", "bo", None)], "confirmed")
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT verdict FROM reviews WHERE call_id = 'b' AND finding_id IS NULL").fetchall() == [
        ("clean",)]
    con.close()
    # a later file changes its mind again: the newest import counts
    import_csv(db, review_csv(tmp_path / "w.csv", [rows[0]]), "x")
    assert reviews(db, "a#1")[1] == "confirmed"


def test_reviewed_at_in_the_future_is_a_row_error(db, tmp_path):
    rows = [{"call_id": "a", "finding_id": "a#0", "verdict": "confirmed", "reviewed_at": "2999-01-01T09:00:00"},
            {"call_id": "a", "finding_id": "a#1", "verdict": "confirmed", "reviewed_at": "2026-11-10T09:00:00Z"}]
    result = import_csv(db, review_csv(tmp_path / "v.csv", rows), "x")
    assert result.errors == ["line 2: reviewed_at 2999-01-01T09:00:00 is in the future"] and result.added == 0
    assert reviews(db, "a#1") == ([], None)  # any error imports nothing


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le-bom",
                                      "utf-16-be-bom"])
def test_review_csv_encodings(db, tmp_path, encoding):
    note = "客户情绪激动，核实无误 €"  if encoding not in ("gbk",) else "客户情绪激动，核实无误"
    rows = [{"call_id": "a", "finding_id": "a#3", "verdict": "confirmed", "reviewer": "王芳", "note": note}]
    path = tmp_path / "v.csv"
    if encoding.endswith("-bom"):  # the byte-order mark written by hand, then the text in that byte order
        bom = {"utf-16-le-bom": b"\xff\xfe", "utf-16-be-bom": b"\xfe\xff"}[encoding]
        review_csv(path, rows, "utf-8")
        path.write_bytes(bom + path.read_text(encoding="utf-8").encode(encoding[:9]))
    else:
        review_csv(path, rows, encoding)
    assert "王芳" in read_text(path)
    result = import_csv(db, path, "x")
    assert (result.added, result.errors) == (1, [])
    assert reviews(db, "a#3") == ([("confirmed", "王芳", note)], "confirmed")


def test_review_csv_that_cannot_be_read_is_a_review_error(db, tmp_path):
    huge = review_csv(tmp_path / "huge.csv", [{"call_id": "a", "finding_id": "a#0", "verdict": "confirmed"},
                                              {"call_id": "a", "finding_id": "a#1", "verdict": "confirmed",
                                               "note": "长" * 140_000}])
    with pytest.raises(ReviewError, match=r"line 3: a field is longer than 128 KB"):
        import_csv(db, huge, "x")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"call_id,finding_id,verdict\n\x80\xff\xfe\x81")
    with pytest.raises(ReviewError, match="not text in UTF-8, UTF-16 or GB18030"):
        import_csv(db, binary, "x")


def test_importing_5000_verdicts_is_one_insert_and_quick(tmp_path):
    """13.5 s row by row before (two queries and an INSERT per row); ~0.15 s now on the
    development machine (bench/review_import.py). The bound leaves room for a loaded CI box."""
    db, sheet = verdicts_sheet(tmp_path, 5000)
    t0 = time.perf_counter()
    result = import_csv(db, sheet, "bench")
    seconds = time.perf_counter() - t0
    assert (result.added, result.errors) == (5000, [])
    assert seconds < 3.0, seconds
    again = import_csv(db, sheet, "bench")  # the same file again adds nothing
    assert (again.added, again.duplicates) == (0, 5000)

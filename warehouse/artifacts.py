"""Folders outside the database that hold copies of call data (staging, exports, reports),
and every file callqa wrote into them, by exact path, so that a purge reaches them and never
touches anything else."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from warehouse.store import Warehouse

Written = tuple[Path, str, str | None]  # (file, kind, call_id): what an export or report wrote


def register_artifact(wh: Warehouse, path: str | Path, kind: str) -> None:
    """Remember a folder that holds copies of call data, so purges can clean it."""
    path = str(Path(path).resolve())
    wh.con.execute("DELETE FROM artifacts WHERE path = ?", [path])
    wh.con.execute("INSERT INTO artifacts VALUES (?, ?, ?)", [path, kind, datetime.now(timezone.utc)])


def registered_artifacts(wh: Warehouse) -> list[tuple[Path, str]]:
    """(folder, kind) of every registered folder."""
    return [(Path(p), k) for p, k in wh.con.execute("SELECT path, kind FROM artifacts").fetchall()]


def _rows(folder: str, written: Iterable[Written]) -> pa.Table:
    now = datetime.now(timezone.utc)
    rows = [(folder, str(Path(p).resolve()), kind, call_id, now) for p, kind, call_id in written]
    return pa.table({
        "folder": pa.array([r[0] for r in rows], pa.string()), "path": pa.array([r[1] for r in rows], pa.string()),
        "kind": pa.array([r[2] for r in rows], pa.string()), "call_id": pa.array([r[3] for r in rows], pa.string()),
        "written_at": pa.array([r[4] for r in rows], pa.timestamp("us", tz="UTC")),
    })


def record_files(wh: Warehouse, folder: str | Path, written: Iterable[Written]) -> None:
    """Record files written into ``folder`` (replacing earlier records of the same paths)."""
    table = _rows(str(Path(folder).resolve()), written)
    if not table.num_rows:
        return
    wh.con.register("written_files", table)
    try:
        wh.con.execute("DELETE FROM artifact_files WHERE path IN (SELECT path FROM written_files)")
        wh.con.execute("INSERT INTO artifact_files BY NAME SELECT * FROM written_files")
    finally:
        wh.con.unregister("written_files")


def recorded_files(wh: Warehouse, folder: str | Path, *, call_ids: Iterable[str] | None = None,
                   kinds: Iterable[str] | None = None) -> list[tuple[Path, str, str | None]]:
    """(path, kind, call_id) recorded for ``folder``, optionally only for some calls or kinds."""
    sql, params = "SELECT path, kind, call_id FROM artifact_files WHERE folder = ?", [str(Path(folder).resolve())]
    if call_ids is not None:
        sql += " AND call_id IN (SELECT unnest(?))"
        params.append(list(call_ids))
    if kinds is not None:
        sql += " AND kind IN (SELECT unnest(?))"
        params.append(list(kinds))
    return [(Path(p), k, c) for p, k, c in wh.con.execute(sql + " ORDER BY path, call_id", params).fetchall()]


def has_records(wh: Warehouse, folder: str | Path) -> bool:
    """Whether any file written into ``folder`` is recorded."""
    return wh.con.execute("SELECT count(*) FROM (SELECT 1 FROM artifact_files WHERE folder = ? LIMIT 1)",
                          [str(Path(folder).resolve())]).fetchone()[0] > 0


def forget_files(wh: Warehouse, paths: Iterable[Path]) -> None:
    """Drop the records of these files (after they were deleted)."""
    paths = [str(Path(p).resolve()) for p in paths]
    if paths:
        wh.con.execute("DELETE FROM artifact_files WHERE path IN (SELECT unnest(?))", [paths])


def remove_recorded(folder: str | Path, paths: Iterable[Path]) -> int:
    """Delete recorded files, each only if it is a regular file inside ``folder`` (never a
    link, never anything outside). Returns how many were deleted."""
    root = Path(folder).resolve()
    removed = 0
    for path in {Path(p) for p in paths}:
        if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(root):
            continue
        path.unlink()
        removed += 1
        if path.parent != root and not any(path.parent.iterdir()):
            path.parent.rmdir()  # a partition folder left empty
    return removed


def replace_recorded(wh: Warehouse, folder: str | Path, written: list[Written]) -> int:
    """After a full export or report into ``folder``: delete the files recorded there by an
    earlier one that this one did not write again (calls gone since), and record what it wrote.
    Returns how many stale files were deleted."""
    now_written = {str(Path(p).resolve()) for p, _, _ in written}
    stale = {p for p, _, _ in recorded_files(wh, folder) if str(p) not in now_written}
    removed = remove_recorded(folder, stale)
    wh.con.execute("BEGIN TRANSACTION")
    try:
        wh.con.execute("DELETE FROM artifact_files WHERE folder = ?", [str(Path(folder).resolve())])
        record_files(wh, folder, written)
        wh.con.execute("COMMIT")
    except Exception:
        wh.con.execute("ROLLBACK")
        raise
    return removed

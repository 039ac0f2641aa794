"""Remove calls everywhere they were written: every table, exports and reports; record the purge."""
from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa

from core.filenames import safe_name
from warehouse import logger
from warehouse.artifacts import registered_artifacts
from warehouse.store import Warehouse

MIN_RETENTION_DAYS = 730  # collection recordings are kept at least 2 years (COMPLIANCE.md rule 10)


@dataclass(slots=True)
class PurgeResult:
    call_ids: list[str]
    rows_deleted: int
    files_removed: int


def _call_tables(wh: Warehouse) -> list[str]:
    rows = wh.con.execute(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'call_id'"
        " AND table_schema = 'main' AND table_name IN (SELECT table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE') ORDER BY table_name").fetchall()
    return [r[0] for r in rows if r[0] != "calls"] + ["calls"]


def select_calls(wh: Warehouse, *, call_ids: list[str] | None = None, account_id: str | None = None,
                 older_than_days: int | None = None, min_retention_days: int = MIN_RETENTION_DAYS) -> list[str]:
    """Call ids matching every criterion given.

    Raises:
        ValueError: no criterion, or an age below the minimum retention.
    """
    clauses, params = [], []
    if call_ids:
        clauses.append("call_id IN (SELECT unnest(?))")
        params.append(list(call_ids))
    if account_id:
        clauses.append("account_id = ?")
        params.append(account_id)
    if older_than_days is not None:
        if older_than_days < min_retention_days:
            raise ValueError(f"retention of {older_than_days} days is below the minimum of {min_retention_days}"
                             " (recordings are kept at least 2 years)")
        cutoff = datetime.now(timezone.utc) - timedelta(days=older_than_days)
        clauses.append("coalesce(started_at, landed_at) < ?")
        params.append(cutoff)
    if not clauses:
        raise ValueError("say what to purge: call ids, an account id or an age")
    return [r[0] for r in wh.con.execute(
        f"SELECT call_id FROM calls WHERE {' AND '.join(clauses)} ORDER BY call_id", params).fetchall()]


REPORT_MARKER = ".callqa-report"


def _remove_all(folder: Path) -> int:
    n = sum(1 for p in folder.rglob("*") if p.is_file())
    shutil.rmtree(folder)
    return n


def _remove_files(folder: Path, kind: str, names: set[str]) -> int:
    """Remove a purged call's copies from one registered folder.

    Reports mix every call into their overview pages, so a report folder (recognised by its
    marker file) is removed whole: `callqa report` rebuilds it. In exports, the per-call RTTM
    and WebVTT files go, and the Parquet tree (rows of many calls per file) is removed whole:
    `callqa export` rebuilds it.
    """
    if not folder.is_dir():
        return 0
    if kind == "report" and (folder / REPORT_MARKER).is_file():
        return _remove_all(folder)
    if kind == "staging":  # one folder per staged call: <call>.<sha prefix>
        return sum(_remove_all(d) for d in list(folder.iterdir()) if d.is_dir() and d.name.rsplit(".", 1)[0] in names)
    removed = 0
    for path in list(folder.rglob("*")):
        if path.is_file() and path.name.rsplit(".", 1)[0] in names:
            path.unlink()
            removed += 1
    if (folder / "parquet").is_dir():
        removed += _remove_all(folder / "parquet")
    return removed


def purge(wh: Warehouse, call_ids: list[str], criteria: str) -> PurgeResult:
    """Delete these calls from every table (one transaction) and from registered folders."""
    rows = 0
    if call_ids:
        ids = pa.table({"call_id": pa.array(call_ids, pa.string())})
        wh.con.execute("BEGIN TRANSACTION")
        try:
            wh.con.register("purged_ids", ids)
            for table in _call_tables(wh):
                rows += wh.con.execute(
                    f"DELETE FROM {table} WHERE call_id IN (SELECT call_id FROM purged_ids)").fetchone()[0]
            wh.con.unregister("purged_ids")
            wh.con.execute("COMMIT")
        except Exception:
            wh.con.execute("ROLLBACK")
            raise
    names = {safe_name(c) for c in call_ids}
    files = 0
    if names:
        for folder, kind in registered_artifacts(wh):
            files += _remove_files(folder, kind, names)
    wh.con.execute("INSERT INTO purges VALUES (?, ?, ?, ?, ?, ?)",
                   [uuid.uuid4().hex[:12], datetime.now(timezone.utc), criteria, len(call_ids), rows, files])
    logger.info("purged %d call(s): %d rows, %d files", len(call_ids), rows, files)
    return PurgeResult(call_ids, rows, files)

"""Remove calls everywhere they were written: every table, staging, exports and reports.

A purge holds: in the transaction that deletes the rows it leaves a tombstone per call (call
id and content hash), and the nightly flow never lands a tombstoned recording again until an
operator lifts it. Files are deleted only where callqa recorded writing them, by exact path
(``artifact_files``): the purged calls' own files go, the export partitions that held them
are rewritten from the database, and report folders that listed them lose their overview
pages, which the caller (``callqa purge``) then rebuilds.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa

from core.failpoints import failpoint
from warehouse import logger
from warehouse.artifacts import (forget_files, has_records, record_files, recorded_files, registered_artifacts,
                                 remove_recorded)
from warehouse.export import MARKER as EXPORT_MARKER
from warehouse.export import forget_exported, partition_of, rewrite_partitions
from warehouse.staging import find_staged, remove_staged
from warehouse.store import Warehouse

MIN_RETENTION_DAYS = 730  # collection recordings are kept at least 2 years (COMPLIANCE.md rule 10)
KEPT_TABLES = ("purge_tombstones", "artifact_files", "export_calls")  # hold call ids, but are not call data
CALL_FILES = ("rttm", "vtt", "page", "audio")        # files of one call each


@dataclass(slots=True)
class PurgeResult:
    """What a purge did.

    Attributes:
        files_removed: files deleted (the calls' own files, emptied partitions, overview pages).
        files_rewritten: export partitions rewritten without the purged calls.
        reports: report folders whose overview pages were deleted because they listed a purged
            call; rebuild them (callqa.report.rebuild_overview).
        unrecorded: registered folders written before callqa recorded its files: left alone.
    """

    call_ids: list[str]
    rows_deleted: int
    files_removed: int
    purge_id: str = ""
    files_rewritten: int = 0
    reports: list[Path] = field(default_factory=list)
    unrecorded: list[Path] = field(default_factory=list)


def _call_tables(wh: Warehouse) -> list[str]:
    rows = wh.con.execute(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'call_id'"
        " AND table_schema = 'main' AND table_name IN (SELECT table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE') ORDER BY table_name").fetchall()
    return [r[0] for r in rows if r[0] not in ("calls",) + KEPT_TABLES] + ["calls"]


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


ACCOUNT_TABLES = ("attempts", "payments")  # the dialer's and the payments logs: by account, not by call


def _delete_rows(wh: Warehouse, call_ids: list[str], purge_id: str, now: datetime, criteria: str,
                 account_id: str | None = None) -> int:
    """One transaction: tombstones, the rows of every call table (and, for an account, its
    attempts and payments), the purge record."""
    rows = 0
    con = wh.con
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("purged_ids", pa.table({"call_id": pa.array(call_ids, pa.string())}))
        con.execute("INSERT INTO purge_tombstones (call_id, sha256, account_id, purge_id, purged_at)"
                    " SELECT call_id, nullif(sha256, ''), account_id, ?, ? FROM calls"
                    " WHERE call_id IN (SELECT call_id FROM purged_ids)", [purge_id, now])
        for table in _call_tables(wh):
            rows += con.execute(
                f"DELETE FROM {table} WHERE call_id IN (SELECT call_id FROM purged_ids)").fetchone()[0]
        con.unregister("purged_ids")
        if account_id:
            for table in ACCOUNT_TABLES:
                rows += con.execute(f"DELETE FROM {table} WHERE account_id = ?", [account_id]).fetchone()[0]
        con.execute("INSERT INTO purges (purge_id, purged_at, criteria, n_calls, rows_deleted, files_removed, action)"
                    " VALUES (?, ?, ?, ?, ?, 0, 'purge')", [purge_id, now, criteria, len(call_ids), rows])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return rows


def _purge_export(wh: Warehouse, folder: Path, call_ids: list[str]) -> tuple[int, int]:
    """Delete the calls' RTTM/VTT files and rewrite the partitions that held them (each into
    one file: its other part files go). Returns (files removed, files rewritten)."""
    found = recorded_files(wh, folder, call_ids=call_ids)
    parts: set[tuple[str, date]] = {part for p, kind, _ in found if kind == "parquet" and (part := partition_of(p))}
    own = {p for p, kind, _ in found if kind in CALL_FILES or (kind == "parquet" and not partition_of(p))}
    removed = remove_recorded(folder, own)
    forget_files(wh, own)
    written, superseded = rewrite_partitions(wh, folder, parts)
    removed += remove_recorded(folder, superseded)
    forget_files(wh, superseded + [p for p, _, _ in written])  # a rewritten file holds other calls now
    record_files(wh, folder, written)
    forget_exported(wh, folder, call_ids)
    return removed, len({p for p, _, _ in written})


def _purge_report(wh: Warehouse, folder: Path, call_ids: list[str]) -> int | None:
    """Delete the calls' pages and audio and, as they listed the calls, the folder's overview
    pages. Returns the files removed, or None when the folder held none of these calls."""
    own = {p for p, _, _ in recorded_files(wh, folder, call_ids=call_ids)}
    if not own:
        return None
    overview = {p for p, _, _ in recorded_files(wh, folder, kinds=["overview"])}
    removed = remove_recorded(folder, own | overview)
    forget_files(wh, own | overview)
    return removed


def _unfinished(wh: Warehouse) -> list[str]:
    """Purged calls that still have recorded files (a purge stopped after its transaction)."""
    return [r[0] for r in wh.con.execute(
        "SELECT DISTINCT call_id FROM artifact_files WHERE call_id IN (SELECT call_id FROM purge_tombstones)"
        " ORDER BY call_id").fetchall()]


def purge(wh: Warehouse, call_ids: list[str], criteria: str, *, account_id: str | None = None) -> PurgeResult:
    """Delete these calls from every table (one transaction, tombstones included) and their
    files from registered folders; record the purge. With ``account_id`` (a purge of an
    account), the account's dialer attempts and payments go in the same transaction. Files left
    by an earlier purge that stopped half-way are removed too."""
    purge_id, now = uuid.uuid4().hex[:12], datetime.now(timezone.utc)
    result = PurgeResult(list(call_ids), 0, 0, purge_id)
    result.rows_deleted = _delete_rows(wh, call_ids, purge_id, now, criteria, account_id)
    failpoint("purge-committed")
    gone = sorted(set(call_ids) | set(_unfinished(wh)))
    for folder, kind in registered_artifacts(wh) if gone else []:
        if kind == "staging":
            refs = [ref for (cid, _), ref in find_staged(folder).items() if cid in set(gone)]
            remove_staged(refs)
            result.files_removed += len(refs)
        elif not folder.is_dir():  # deleted by its owner: nothing to delete or rewrite there
            forget_files(wh, [p for p, _, _ in recorded_files(wh, folder, call_ids=gone)])
        elif not has_records(wh, folder) and (kind == "report" or not (folder / EXPORT_MARKER).is_file()):
            result.unrecorded.append(folder)
        elif kind == "export":
            removed, rewritten = _purge_export(wh, folder, gone)
            result.files_removed += removed
            result.files_rewritten += rewritten
        elif kind == "report":
            removed = _purge_report(wh, folder, gone)
            if removed is not None:
                result.files_removed += removed
                result.reports.append(folder)
    wh.con.execute("UPDATE purges SET files_removed = ? WHERE purge_id = ?", [result.files_removed, purge_id])
    for folder in result.unrecorded:
        logger.warning("%s was written before callqa recorded its files; purge leaves it alone:"
                       " delete it or write it again", folder)
    logger.info("purged %d call(s): %d rows, %d files removed, %d rewritten", len(call_ids), result.rows_deleted,
                result.files_removed, result.files_rewritten)
    return result


def lift(wh: Warehouse, *, call_ids: list[str] | None = None, account_id: str | None = None) -> int:
    """Let purged recordings land again: remove their tombstones and record the lift in
    ``purges`` (action 'lift'). Returns how many calls were lifted.

    Raises:
        ValueError: neither call ids nor an account id given.
    """
    clauses, params = [], []
    if call_ids:
        clauses.append("call_id IN (SELECT unnest(?))")
        params.append(list(call_ids))
    if account_id:
        clauses.append("account_id = ?")
        params.append(account_id)
    if not clauses:
        raise ValueError("say which purge to lift: call ids or an account id")
    criteria = ", ".join(f"{k}={v}" for k, v in (("call_id", ",".join(call_ids or []) or None),
                                                ("account_id", account_id)) if v)
    con = wh.con
    con.execute("BEGIN TRANSACTION")
    try:
        lifted = {r[0] for r in con.execute(
            f"DELETE FROM purge_tombstones WHERE {' AND '.join(clauses)} RETURNING call_id", params).fetchall()}
        con.execute("INSERT INTO purges (purge_id, purged_at, criteria, n_calls, rows_deleted, files_removed, action)"
                    " VALUES (?, ?, ?, ?, 0, 0, 'lift')",
                    [uuid.uuid4().hex[:12], datetime.now(timezone.utc), criteria, len(lifted)])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    logger.info("lifted the purge of %d call(s)", len(lifted))
    return len(lifted)


def purged_keys(wh: Warehouse) -> tuple[set[str], set[str]]:
    """(call ids, content hashes) of every purged recording not lifted since."""
    ids, hashes = set(), set()
    for call_id, sha in wh.con.execute("SELECT call_id, sha256 FROM purge_tombstones").fetchall():
        ids.add(call_id)
        if sha:
            hashes.add(sha)
    return ids, hashes


def record_purged_skips(wh: Warehouse, run_id: str, n: int) -> None:
    """Count, on the run, the recordings it did not land because they were purged."""
    wh.con.execute("UPDATE runs SET n_purged = ? WHERE run_id = ?", [n, run_id])

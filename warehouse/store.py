"""The Warehouse: one DuckDB file, one writer, one transaction per landed batch."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from core.domain import Call, Failure, ProcessedCall, storable
from core.failpoints import failpoint
from warehouse import logger, tables
from warehouse.staging import STAGED_TABLES, StagedCall, stage_call
from warehouse.migrate import WarehouseError, check_schema, migrate

CHILD_TABLES = ("utterances", "utterances_raw", "findings", "call_metrics", "call_scores", "promises")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


class WarehouseBusy(Exception):
    """Another process holds the database for writing."""


class WarehouseReadOnly(WarehouseError):
    """The database (its file, or the folder its write-ahead log goes into) cannot be written."""


_NOT_DUCKDB = "not a valid DuckDB database file"
_HELD = ("could not set lock", "conflicting lock")  # another process has it open for writing
_DENIED = ("permission denied", "operation not permitted", "read-only file system")


# -- the run lock: one writing process per database, even while it has the file closed ----------
RUN_LOCK_SUFFIX = ".run.lock"
_run_locks: dict[str, list[int]] = {}   # lock file (real path) -> [fd, holders in this process]
_run_locks_guard = threading.Lock()


def run_lock_path(db: str | Path) -> Path:
    """``<db>.run.lock``: the file whose ``flock`` says which process writes ``db``."""
    return Path(os.path.realpath(db) + RUN_LOCK_SUFFIX)


def acquire_run_lock(db: str | Path) -> None:
    """Take the database's run lock for this process (re-entrant within the process).

    The lock is an exclusive ``flock`` on ``<db>.run.lock``, held until ``release_run_lock``
    or until the process dies (the kernel drops it: a killed run never leaves it behind). The
    file is never deleted. Every read-write ``Warehouse`` takes it, so a process writes a
    database only while no other process may, even while it has the DuckDB file closed (the
    nightly flow closes it between batches so that readers get in).

    Raises:
        WarehouseBusy: another process holds it.
    """
    path = run_lock_path(db)
    key = str(path)
    with _run_locks_guard:
        if key in _run_locks:
            _run_locks[key][1] += 1
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise WarehouseBusy(f"database {db} is in use by another process (another callqa run"
                                f"{', pid ' + holder if holder.isdigit() else ''} holds {path})") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)  # for the message above; informative only
        _run_locks[key] = [fd, 1]


def release_run_lock(db: str | Path) -> None:
    """Give back one hold of the run lock; the last one releases it."""
    key = str(run_lock_path(db))
    with _run_locks_guard:
        held = _run_locks.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _run_locks[key]
            os.close(held[0])  # closing the only descriptor drops the flock


@contextlib.contextmanager
def run_lock(db: str | Path) -> Iterator[None]:
    """Hold the database's run lock for a block (see ``acquire_run_lock``)."""
    acquire_run_lock(db)
    try:
        yield
    finally:
        release_run_lock(db)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Warehouse:
    """A migrated DuckDB database opened by this process.

    Args:
        path: the database file (its folder is created unless ``existing``).
        read_only: open for reading only (reports, exports); several readers may share it.
            The file must exist and be a callqa warehouse.
        existing: the file must exist and be a callqa warehouse (commands that read, delete or
            add to a warehouse: never create an empty one from a mistyped path).
    Raises:
        WarehouseBusy: another process is writing to the same file (or holds its run lock), or,
            for writing, a reader has it open.
        WarehouseReadOnly: opening for writing was refused (read-only file or file system).
        WarehouseError: the file is missing (``read_only``/``existing``), not a DuckDB
            database, not a callqa warehouse, or written by a newer callqa.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False, existing: bool = False):
        self.path = Path(path)
        self._locked = False
        if read_only or existing:
            if not self.path.exists():
                raise WarehouseError(f"database {self.path} does not exist")
            if not self.path.is_file():
                raise WarehouseError(f"database {self.path} is not a file")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _check_write_access(self.path)
            acquire_run_lock(self.path)
            self._locked = True
        try:
            try:
                self.con = duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as exc:
                raise _open_error(self.path, exc) from exc
            try:
                if read_only or existing:
                    check_schema(self.con, empty_ok=False)
                if not read_only:
                    migrate(self.con)
            except WarehouseError as exc:
                self.con.close()
                raise WarehouseError(f"{self.path}: {exc}") from exc
            except BaseException:
                self.con.close()
                raise
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._locked:
            self._locked = False
            release_run_lock(self.path)

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self._release()

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- what is there -------------------------------------------------------------------
    def known_calls(self) -> dict[str, tuple[str, str]]:
        """call_id → (sha256, status) for every call in the database."""
        return {cid: (sha, status) for cid, sha, status in self.con.execute(
            "SELECT call_id, sha256, status FROM calls").fetchall()}

    def call_statuses(self, call_ids: list[str]) -> dict[str, tuple[str, str]]:
        """call_id → (sha256, status) for just these calls (joined as an Arrow table)."""
        if not call_ids:
            return {}
        return {cid: (sha, status) for cid, sha, status in self._joined(
            "SELECT c.call_id, c.sha256, c.status FROM calls c JOIN wanted USING (call_id)",
            pa.table({"call_id": pa.array(sorted(set(call_ids)), pa.string())}))}

    def stored_files(self, paths: list[str]) -> dict[str, tuple[str, int | None, int | None]]:
        """path → (sha256, size_bytes, mtime_ns) of the calls (landed or failed) stored under
        these paths: the fingerprints that spare reading an unchanged file again. Only these
        paths are looked up (joined as an Arrow table); a landed row wins over a failed one."""
        if not paths:
            return {}
        rows = self._joined(
            "SELECT c.path, c.sha256, c.size_bytes, c.mtime_ns FROM calls c JOIN wanted USING (path)"
            " WHERE c.sha256 <> '' ORDER BY c.status = 'ok', c.call_id",
            pa.table({"path": pa.array(sorted(set(paths)), pa.string())}))
        return {path: (sha, size, mtime) for path, sha, size, mtime in rows}

    def _joined(self, sql: str, wanted: pa.Table, **more: pa.Table) -> list[tuple]:
        """Rows of ``sql``, which joins the Arrow table ``wanted`` (and ``more``) registered under
        their names, on a cursor of its own (committed data; nothing left registered)."""
        with self.con.cursor() as cur:
            for name, table in {"wanted": wanted, **more}.items():
                cur.register(name, table)
            return cur.execute(sql).fetchall()

    def failed_versions(self, call_ids: list[str] | None = None) -> set[tuple[str, str]]:
        """(call_id, sha256) pairs that already failed deterministically: not retried. With
        ``call_ids``, only those calls' failures are looked up (joined as an Arrow table)."""
        query = "SELECT DISTINCT f.call_id, f.sha256 FROM failures f WHERE f.sha256 IS NOT NULL AND f.call_id IS NOT NULL"
        if call_ids is None:
            return {(cid, sha) for cid, sha in self.con.execute(query).fetchall()}
        if not call_ids:
            return set()
        return {(cid, sha) for cid, sha in self._joined(
            query + " AND f.call_id IN (SELECT call_id FROM wanted)",
            pa.table({"call_id": pa.array(sorted(set(call_ids)), pa.string())}))}

    def known_manifest_failures(self) -> set[tuple[str, str]]:
        """(reason, message) of manifest/discover failures already recorded (not repeated)."""
        return {(r, m) for r, m in self.con.execute(
            "SELECT DISTINCT reason, message FROM failures WHERE stage IN ('manifest', 'discover')").fetchall()}

    # -- runs ----------------------------------------------------------------------------
    def start_run(self, archive: str, settings: dict[str, Any]) -> str:
        run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self.con.execute(
            "INSERT INTO runs (run_id, started_at, archive, status, settings) VALUES (?, ?, ?, 'running', ?)",
            [run_id, _now(), archive, json.dumps(settings, ensure_ascii=False, default=str)],
        )
        return run_id

    def finish_run(self, run_id: str, *, discovered: int, skipped: int, landed: int, failed: int,
                   audio_seconds: float, status: str = "completed") -> None:
        self.con.execute(
            "UPDATE runs SET finished_at = ?, status = ?, n_discovered = ?, n_skipped = ?, n_landed = ?,"
            " n_failed = ?, audio_seconds = ? WHERE run_id = ?",
            [_now(), status, discovered, skipped, landed, failed, audio_seconds, run_id],
        )

    def mark_crashed_runs(self) -> int:
        """Runs left 'running' by a killed process become 'crashed'. Returns how many."""
        rows = self.con.execute(
            "UPDATE runs SET status = 'crashed' WHERE status = 'running' RETURNING run_id").fetchall()
        return len(rows)

    # -- landing -------------------------------------------------------------------------
    def land(self, results: list[StagedCall | ProcessedCall], failures: list[Failure], run_id: str,
             calls: Mapping[str, Call] | None = None) -> None:
        """Land a batch in one transaction: processed calls replace any earlier version of
        themselves; failures are recorded (a failed call that never landed gets a calls row
        with status 'failed', with its metadata from ``calls`` by call id; a landed call whose
        file changed into something broken keeps its landed rows). Calls are best staged to
        Arrow by the workers (``staging.stage_call``)."""
        if not results and not failures:
            return
        now = _now()
        staged = [r if isinstance(r, StagedCall) else stage_call(r) for r in results]
        call_ids = [s.call_id for s in staged]
        known = self.call_statuses(call_ids + [f.call_id for f in failures if f.call_id])  # this batch's only
        new_failed = [f for f in failures if f.call_id and f.sha256 and known.get(f.call_id, ("", "failed"))[1] != "ok"
                      and f.call_id not in call_ids]
        batch: dict[str, pa.Table] = {  # tables staged by an older callqa may lack a table or column
            name: pa.concat_tables([s.tables[name] for s in staged if name in s.tables],
                                   promote_options="default").combine_chunks()
            if any(name in s.tables for s in staged) else None
            for name in STAGED_TABLES
        }
        failed_rows = tables.failed_calls_table(_unique_by_call(new_failed), {}, run_id, now, calls)
        batch["calls"] = pa.concat_tables(
            ([tables.stamp_calls(batch["calls"], run_id, now)] if staged else []) + [failed_rows],
            promote_options="default")
        batch["failures"] = tables.failures_table(failures, run_id, now)
        # only calls already in the database have rows to replace (new calls: no delete scans)
        replaced = [c for c in call_ids + [f.call_id for f in _unique_by_call(new_failed)] if c in known]
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            if replaced:
                _delete_calls(con, replaced)
            _number_calls(con, batch)
            for name, table in batch.items():
                if table is not None and table.num_rows:
                    con.register("incoming", table)
                    con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming")
                    con.unregister("incoming")
                    failpoint("land-inserting")
            failpoint("land-before-commit")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        logger.info("landed %d call(s), %d failure(s)", len(results), len(failures))

    # -- moves and re-keys (the same recording found again) -----------------------------
    _LANDED_COLUMNS = ("call_id, sha256, status, path, size_bytes, mtime_ns, collector_id, account_id, started_at,"
                       " timezone, direction, campaign, team, channel_roles")

    def landed_files(self) -> dict[str, dict[str, Any]]:
        """call_id → {sha256, status, path, size_bytes, mtime_ns, manifest metadata,
        channel_roles} for every call in the database (``landed_for``: just some)."""
        cur = self.con.execute(f"SELECT {self._LANDED_COLUMNS} FROM calls")
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r)) for r in cur.fetchall()}

    def landed_for(self, call_ids: list[str], hashes: list[str]) -> dict[str, dict[str, Any]]:
        """``landed_files`` restricted to the calls with one of these ids or content hashes
        (what ``flows.moves.reconcile`` needs for the calls a run discovered): both lists are
        joined as Arrow tables, never every call loaded."""
        names = [c.strip() for c in self._LANDED_COLUMNS.split(",")]
        rows = self._joined(
            f"SELECT {self._LANDED_COLUMNS} FROM calls WHERE call_id IN (SELECT call_id FROM wanted)"
            " OR sha256 IN (SELECT sha256 FROM wanted_hashes)",
            pa.table({"call_id": pa.array(sorted(set(call_ids)), pa.string())}),
            wanted_hashes=pa.table({"sha256": pa.array(sorted(set(hashes)), pa.string())}))
        return {r[0]: dict(zip(names, r)) for r in rows}

    def record_fingerprints(self, rows: list[tuple[str, int, int]]) -> None:
        """Store (call_id, size_bytes, mtime_ns) of landed calls whose file was read again and
        still holds their bytes (touched, copied back, or landed before fingerprints were kept),
        so that the next run does not read it again. One transaction."""
        if not rows:
            return
        values = pa.table({"call_id": pa.array([r[0] for r in rows], pa.string()),
                           "size_bytes": pa.array([r[1] for r in rows], pa.int64()),
                           "mtime_ns": pa.array([r[2] for r in rows], pa.int64())})
        self._transaction(lambda con: self._update_calls(con, values))

    def record_reads(self, run_id: str, files: int, size: int) -> None:
        """Count the recordings a run read and hashed, and their bytes, on the run."""
        self.con.execute("UPDATE runs SET n_hashed = ?, bytes_hashed = ? WHERE run_id = ?", [files, size, run_id])

    def _transaction(self, work: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            work(self.con)
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise

    def record_moves(self, moves: list[tuple[str, str, int | None]], run_id: str) -> None:
        """Point landed calls at their recordings' new place: (call_id, path, size_bytes) each,
        in one transaction that also counts them on the run. Nothing else changes."""
        if not moves:
            return

        moved = pa.table({"call_id": pa.array([m[0] for m in moves], pa.string()),
                          "path": pa.array([storable(m[1]) for m in moves], pa.string()),
                          "size_bytes": pa.array([m[2] for m in moves], pa.int64())})

        def work(con: duckdb.DuckDBPyConnection) -> None:
            self._update_calls(con, moved)
            con.execute("UPDATE runs SET n_moved = coalesce(n_moved, 0) + ? WHERE run_id = ?", [len(moves), run_id])
        self._transaction(work)
        logger.info("%d call(s) moved", len(moves))

    def call_tables(self) -> list[str]:
        """Every base table with a ``call_id`` column (``calls`` last)."""
        names = [r[0] for r in self.con.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'call_id'"
            " AND table_schema = 'main' AND table_name IN (SELECT table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE' AND table_schema = 'main') ORDER BY table_name").fetchall()]
        bad = [n for n in names if not _IDENTIFIER.fullmatch(n)]
        if bad:
            raise ValueError(f"unexpected table name(s) {bad}")
        return [n for n in names if n != "calls"] + ["calls"]

    def rekey_call(self, old: str, new: str, run_id: str) -> None:
        """Rename a landed call ``old`` to ``new`` in every table, in one transaction: its rows,
        failures and QA reviews follow it, and finding ids ``<old>#<n>`` become ``<new>#<n>``.
        Rows already under ``new`` (another version of it) are replaced, as landing would."""
        if old == new:
            return
        tables_ = self.call_tables()
        fids = [r[0] for r in self.con.execute(
            "SELECT finding_id FROM findings WHERE call_id = ? UNION SELECT finding_id FROM reviews"
            " WHERE call_id = ? AND finding_id IS NOT NULL", [old, old]).fetchall()]
        prefix = f"{old}#"
        renamed = pa.table({"old_id": pa.array(fids, pa.string()),
                            "new_id": pa.array([f"{new}#{f[len(prefix):]}" if f.startswith(prefix) else f
                                                for f in fids], pa.string())})

        def work(con: duckdb.DuckDBPyConnection) -> None:
            if con.execute("SELECT count(*) FROM calls WHERE call_id = ?", [new]).fetchone()[0]:
                for name in CHILD_TABLES + ("calls",):
                    con.execute(f"DELETE FROM {name} WHERE call_id = ?", [new])
            for name in tables_:
                con.execute(f"UPDATE {name} SET call_id = ? WHERE call_id = ?", [new, old])
            con.register("renamed_findings", renamed)
            for name in ("findings", "reviews", "promises"):
                con.execute(f"UPDATE {name} SET finding_id = m.new_id FROM renamed_findings m"
                            f" WHERE {name}.call_id = ? AND {name}.finding_id = m.old_id", [new])
            con.unregister("renamed_findings")
            con.execute("UPDATE runs SET n_rekeyed = coalesce(n_rekeyed, 0) + 1 WHERE run_id = ?", [run_id])
            failpoint("rekey-before-commit")
        self._transaction(work)
        logger.info("re-keyed a call to its manifest id")

    def update_call_metadata(self, calls: list[Call]) -> None:
        """Set landed calls' manifest metadata (collector, account, start, timezone, direction,
        campaign, team) from these Calls, in one transaction."""
        if not calls:
            return
        columns = ("call_id", "collector_id", "account_id", "started_at", "timezone", "direction", "campaign", "team")
        schema = pa.schema([tables.CALLS.field(c) for c in columns])
        values = pa.Table.from_pylist([{c: getattr(call, c) for c in columns} | {"started_at": tables._utc(
            call.started_at)} for call in calls], schema=schema)
        def work(con: duckdb.DuckDBPyConnection) -> None:
            self._update_calls(con, values)
            con.execute("UPDATE promises SET account_id = c.account_id, collector_id = c.collector_id FROM calls c"
                        " WHERE promises.call_id = c.call_id AND c.call_id IN (SELECT unnest(?::VARCHAR[]))",
                        [[call.call_id for call in calls]])
        self._transaction(work)

    @staticmethod
    def _update_calls(con: duckdb.DuckDBPyConnection, values: pa.Table) -> None:
        """Set the columns of ``values`` (an Arrow table with ``call_id`` and columns of
        ``calls``) on the calls it names, in one statement."""
        columns = [c for c in values.column_names if c != "call_id"]
        unknown = [c for c in columns if c not in tables.CALLS.names]
        if unknown:
            raise ValueError(f"not columns of calls: {unknown}")
        con.register("call_updates", values)
        try:
            con.execute(f"UPDATE calls SET {', '.join(f'{c} = u.{c}' for c in columns)} FROM call_updates u"
                        " WHERE calls.call_id = u.call_id")
        finally:
            con.unregister("call_updates")

    # -- reading -------------------------------------------------------------------------
    def run_summary(self, run_id: str) -> dict[str, Any]:
        """Counts for one run plus flags by kind over the calls it landed."""
        run = self.con.execute(
            "SELECT n_discovered, n_skipped, n_landed, n_failed, audio_seconds, status, coalesce(n_purged, 0)"
            " FROM runs WHERE run_id = ?",
            [run_id]).fetchone()
        flags = self.con.execute(
            "SELECT f.kind, count(*) FROM findings f JOIN calls c USING (call_id) WHERE c.run_id = ?"
            " AND f.severity <> 'info' GROUP BY f.kind ORDER BY count(*) DESC, f.kind", [run_id]).fetchall()
        failures = self.con.execute(
            "SELECT coalesce(call_id, path), stage, reason FROM failures WHERE run_id = ? ORDER BY 1", [run_id]).fetchall()
        totals = self.con.execute(
            "SELECT count(*), coalesce(sum(duration_s), 0) FROM calls WHERE status = 'ok'").fetchone()
        return {
            "run_id": run_id, "status": run[5], "discovered": run[0], "skipped": run[1], "skipped_purged": run[6], "landed": run[2],
            "failed": run[3], "audio_minutes": round((run[4] or 0) / 60.0, 2),
            "flags": dict(flags), "failures": [list(f) for f in failures],
            "db_calls": totals[0], "db_minutes": round(totals[1] / 60.0, 2), "db": str(self.path),
            **self._move_counts(run_id), **self._read_counts(run_id),
        }

    def _move_counts(self, run_id: str) -> dict[str, int]:
        moved, rekeyed = self.con.execute(
            "SELECT coalesce(n_moved, 0), coalesce(n_rekeyed, 0) FROM runs WHERE run_id = ?", [run_id]).fetchone()
        return {"moved": moved, "rekeyed": rekeyed}

    def _read_counts(self, run_id: str) -> dict[str, int]:
        files, size = self.con.execute(
            "SELECT coalesce(n_hashed, 0), coalesce(bytes_hashed, 0) FROM runs WHERE run_id = ?", [run_id]).fetchone()
        return {"hashed": files, "bytes_hashed": size}


def _open_error(path: Path, exc: duckdb.Error) -> Exception:
    """The error to raise for a database that DuckDB would not open."""
    text = str(exc)
    if any(held in text.lower() for held in _HELD):
        return WarehouseBusy(f"database {path} is in use by another process (another callqa run?): {text}")
    if _NOT_DUCKDB in text:
        return WarehouseError(f"{path} is not a DuckDB database (not a callqa warehouse)")
    if any(d in text.lower() for d in _DENIED):
        return WarehouseReadOnly(f"database {path} cannot be opened for writing: {text}")
    return WarehouseError(f"cannot open database {path}: {text}")


def _check_write_access(path: Path) -> None:
    """Refuse to open for writing what cannot be written: the file, or its folder, where DuckDB
    writes its log at the first commit (a commit failing there would leave work half done)."""
    for target, what in ((path, "the file"), (path.parent, "its folder")):
        if target.exists() and not os.access(target, os.W_OK):
            raise WarehouseReadOnly(f"database {path} cannot be written ({what} {target} is read-only)")


def check_writable(path: str | Path) -> None:
    """Before writing output that is recorded in the warehouse (exports, reports): the
    database exists, is a callqa warehouse, and can be written now, so that the record of what
    is written can be made and a purge reaches it. Opens it for writing once (pending
    migrations are applied) and closes it.

    Raises:
        WarehouseReadOnly: the file, or its folder (where DuckDB writes its log), is not writable.
        WarehouseBusy: another process is writing to it.
        WarehouseError: missing, not DuckDB, not a callqa warehouse, or a newer schema.
    """
    Warehouse(path, existing=True).close()


def _delete_calls(con: duckdb.DuckDBPyConnection, call_ids: list[str]) -> None:
    """Delete these calls' rows from every table (inside the landing transaction).

    A call's rows carry its landing number (``land_seq``, migration 010), which grows with
    landing order: matching constant numbers lets DuckDB skip every row group whose min/max
    excludes them, so the delete reads a few row groups instead of the whole ``call_id``
    column of each table. Calls landed before migration 010 have no number and are found by
    call id (a scan, as before)."""
    seqs = dict(con.execute("SELECT call_id, land_seq FROM calls WHERE call_id = ANY(?)", [call_ids]).fetchall())
    numbered = [s for s in seqs.values() if s is not None]
    unnumbered = [c for c in call_ids if seqs.get(c) is None]
    in_numbered = ", ".join("?" * len(numbered))  # constants (parameters), which the zone maps check
    for name in CHILD_TABLES:
        if numbered:
            con.execute(f"DELETE FROM {name} WHERE land_seq IN ({in_numbered})", numbered)
        if unnumbered:
            con.execute(f"DELETE FROM {name} WHERE call_id = ANY(?)", [unnumbered])
    con.execute("DELETE FROM calls WHERE call_id = ANY(?)", [call_ids])


def _number_calls(con: duckdb.DuckDBPyConnection, batch: dict[str, pa.Table | None]) -> None:
    """Give each calls row of the batch the next landing number and put it on the call's rows
    in the other tables (``land_seq``), in place."""
    calls = batch["calls"]
    seqs = pa.array([r[0] for r in con.execute("SELECT nextval('land_seq_numbers') FROM range(?)",
                                                [calls.num_rows]).fetchall()], pa.int64())
    ids = calls["call_id"].combine_chunks()
    for name, table in batch.items():
        if table is None or "call_id" not in table.column_names or name == "failures":
            continue
        if "land_seq" in table.column_names:
            table = table.drop_columns(["land_seq"])
        numbers = seqs if name == "calls" else seqs.take(pc.index_in(table["call_id"], value_set=ids))
        batch[name] = table.append_column("land_seq", numbers)


def _unique_by_call(failures: list[Failure]) -> list[Failure]:
    seen: dict[str, Failure] = {}
    for f in failures:
        seen.setdefault(f.call_id or "", f)
    return list(seen.values())

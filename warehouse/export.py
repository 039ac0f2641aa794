"""Export the warehouse: Parquet partitioned by call date, and on request per-call RTTM and WebVTT.

Incremental. Each export folder has a state in the database (``export_calls``: every call it
holds, the call date whose partition holds its rows, and a hash of its ``calls`` row as
exported). An export compares that with the database and writes only the difference:

* calls not exported yet are appended, one new file per table and call date,
  ``parquet/<table>/call_date=YYYY-MM-DD/part-<export id>.parquet``;
* a call whose ``calls`` row changed since (landed again with new rows, re-keyed, moved, new
  metadata) or that is gone has its old rows in some partitions: those partitions are replaced,
  one file written from the database, the older files of the partition deleted;
* RTTM/WebVTT only with ``transcripts=True`` (``callqa export --transcripts``), for the calls
  written now and the calls of the folder that have none yet;
* ``full=True`` (and a new folder, or one written before exports were incremental) writes
  everything again and deletes whatever the folder's earlier exports wrote that it did not.

Memory stays bounded: each table is read in one sorted, streamed query (record batches) and
written partition by partition; DuckDB itself is capped (``DUCKDB_MEMORY``) and spills into a
work folder inside the export folder. Reads start at the first row of the selected calls (rows
are appended as calls land), so a night's increment does not read the archive's rows. The
database is opened read-write only briefly (start; record what was written; forget what was
deleted, if anything was), and read-only while reading and writing files, so BI readers may
share it meanwhile.

No SQL is ever built from the output path: paths are parameters, table names come from a fixed
list. Every file is written under a temporary name and renamed into place, and recorded by exact
path (warehouse.artifacts), so that purges delete or rewrite exactly those files and nothing
else in the folder. An export that dies is cleaned up (its own files) or finished by the next.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.domain import Utterance
from core.failpoints import failpoint
from core.filenames import safe_name
from core.files import write_atomic
from core.formats import to_rttm, to_vtt
from warehouse import logger
from warehouse.artifacts import Written, record_files, register_artifact, remove_recorded
from warehouse.store import Warehouse

MARKER = ".callqa-export"
TABLES = ("calls", "utterances", "findings", "call_metrics", "promises", "call_scores")
ORDER = {"calls": "t.call_id", "utterances": "t.call_id, t.idx", "findings": "t.call_id, t.finding_id",
         "call_metrics": "t.call_id, t.role", "promises": "t.call_id, t.finding_id",
         "call_scores": "t.call_id, t.scorecard"}
CALL_DATE = ("coalesce(timezone(coalesce(nullif(c.timezone, ''), 'UTC'), c.started_at)::DATE,"
             " timezone('UTC', c.landed_at)::DATE)")
CALL_FILES = ("rttm", "vtt", "audio")    # files of one call each in an export folder
WORK_PREFIX = ".callqa-export-"          # OUT/.callqa-export-<export id>/: side files, spills
BATCH_ROWS = 16_384                      # rows per record batch read from DuckDB (and per row group)
CALLS_PER_QUERY = 50_000                 # calls (whole call dates) sorted by one query: bounds its memory
DUCKDB_MEMORY = "256MB"                  # DuckDB's own memory while exporting (its sorts spill beyond)
_DAY = "_callqa_call_date"
_RECORDS = pa.schema([("path", pa.string()), ("kind", pa.string()), ("call_id", pa.string())])


class ExportError(ValueError):
    """The export cannot be written there (not a folder, or a folder of someone else's files)."""


class ExportBusy(ExportError):
    """Another callqa export is writing into the same folder."""


# -- the folder ------------------------------------------------------------------------------
def prepare_out(out: str | Path) -> Path:
    """Create OUT, or reuse it when it holds an earlier export (marker file); never write into
    a non-empty folder callqa does not own. Returns the absolute folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ExportError(f"{out} is not empty and is not a callqa export folder (no {MARKER}); choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    if not (out / MARKER).is_file():
        write_atomic(out / MARKER, "written by callqa export\n")
    return out.resolve()


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder for the whole export (one export at a time)."""
    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise ExportBusy(f"another callqa export is writing into {out}; try again when it has finished") \
                    from exc
            raise
        yield
    finally:
        os.close(fd)


def partition_path(out: Path, table: str, day: date, export_id: str) -> Path:
    """A file of a table's partition of one call date:
    ``OUT/parquet/<table>/call_date=<day>/part-<export_id>.parquet``."""
    return out / "parquet" / table / f"call_date={day.isoformat()}" / f"part-{export_id}.parquet"


def partition_of(path: Path) -> tuple[str, date] | None:
    """(table, call date) of a file in a partition folder written by an export, else None."""
    key, _, value = path.parent.name.partition("=")
    table = path.parent.parent.name
    if key != "call_date" or table not in TABLES:
        return None
    try:
        return table, date.fromisoformat(value)
    except ValueError:
        return None


def _new_export_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]


@contextlib.contextmanager
def _utc(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Timestamps exported in UTC whatever the machine's zone (every part file, one schema)."""
    before = con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
    con.execute("SET TimeZone = 'UTC'")
    try:
        yield
    finally:
        con.execute("SET TimeZone = ?", [before])


# -- writing partitions, streamed ------------------------------------------------------------
class _PartFile:
    """One Parquet file being written under a temporary name (in ``tmp_dir``, or beside it),
    renamed into place by :meth:`close`."""

    def __init__(self, target: Path, schema: pa.Schema, tmp_dir: Path | None):
        self.target = target
        target.parent.mkdir(parents=True, exist_ok=True)
        folder = tmp_dir or target.parent
        self.tmp = folder / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        self.writer = pq.ParquetWriter(self.tmp, schema)
        self.calls: set[str] = set()

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table)
        self.calls.update(pc.unique(table["call_id"]).to_pylist())

    def close(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.target)

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink()


def _day_runs(days: pa.Array) -> Iterator[tuple[date, int, int]]:
    """(day, start, length) of each run of equal dates in a sorted column."""
    ints = days.cast(pa.int32()).to_numpy(zero_copy_only=False)
    starts = [0, *(np.flatnonzero(ints[1:] != ints[:-1]) + 1).tolist()]
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else len(ints)
        yield days[start].as_py(), start, stop - start


def _write_table(con: duckdb.DuckDBPyConnection, table: str, selection: str, target: Callable[[date], Path],
                 on_file: Callable[[Path, set[str]], None], tmp_dir: Path | None,
                 days: list[date] | None = None) -> int:
    """Write ``table``'s rows of the calls in the temporary table ``selection`` (call_id,
    call_date) (of ``days`` only, when given), one file per call date (``target(day)``), in one
    sorted query read in record batches; the rows lie between the calls' first and last row
    ids (they are appended as calls land), so only that stretch of the table is read. Returns
    the rows written."""
    on_days, params = (" AND s.call_date IN (SELECT unnest(?::DATE[]))", [days]) if days is not None else ("", [])
    first, last = _row_range(con, table, selection, on_days, params)
    if first is None:
        return 0
    query = (f"SELECT t.*, s.call_date AS {_DAY} FROM {table} t JOIN {selection} s USING (call_id)"
             f" WHERE t.rowid BETWEEN ? AND ?{on_days} ORDER BY s.call_date, {ORDER[table]}")
    reader = con.sql(query, params=[first, last, *params]).to_arrow_reader(BATCH_ROWS)
    part: _PartFile | None = None
    day: date | None = None
    rows = 0
    try:
        for batch in reader:
            if not batch.num_rows:
                continue
            data = batch.drop_columns([_DAY])
            for run_day, start, length in _day_runs(batch.column(_DAY)):
                if part is None or run_day != day:
                    if part is not None:
                        part.close()
                        on_file(part.target, part.calls)
                    day, part = run_day, _PartFile(target(run_day), data.schema, tmp_dir)
                part.write(pa.Table.from_batches([data.slice(start, length)]))
                rows += length
        if part is not None:
            part.close()
            on_file(part.target, part.calls)
            part = None
    finally:
        if part is not None:
            part.discard()
    return rows


def _day_groups(con: duckdb.DuckDBPyConnection, selection: str, calls: int) -> list[list[date]]:
    """The call dates of ``selection`` in order, in runs of whole days of about ``calls``
    calls at most (a larger day is a run of its own): each run is written by one sorted query,
    so a first export of millions of calls needs no more memory than a night's."""
    groups: list[list[date]] = []
    size = 0
    for day, n in con.execute(f"SELECT call_date, count(*) FROM {selection} GROUP BY 1 ORDER BY 1").fetchall():
        if not groups or size + n > calls:
            groups.append([])
            size = 0
        groups[-1].append(day)
        size += n
    return groups


def _row_range(con: duckdb.DuckDBPyConnection, table: str, selection: str, on_days: str = "",
               params: list | None = None) -> tuple[int | None, int | None]:
    """The lowest and highest row ids of the selected calls' rows in ``table`` (None: no rows).
    Rows are appended as calls land, so a night's calls lie at the table's end: reading only
    this stretch skips the rest of the table (zone maps), with the same result."""
    first, last = con.execute(f"SELECT min(t.rowid), max(t.rowid) FROM {table} t JOIN {selection} s USING (call_id)"
                              f" WHERE true{on_days}", params or []).fetchall()[0]
    return first, last


class _SideFile:
    """Rows streamed into a Parquet file in the work folder (what the export wrote, the state
    to record), flushed every ``BATCH_ROWS`` rows, so that nothing grows with the archive."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.schema = schema
        self.writer = pq.ParquetWriter(path, schema)
        self.buffer: list[tuple] = []

    def add(self, *row: object) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            columns = list(zip(*self.buffer))
            self.writer.write_table(pa.table([pa.array(c, f.type) for c, f in zip(columns, self.schema)],
                                             schema=self.schema))
            self.buffer = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


def _dump(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    """A query's result into a Parquet side file, streamed."""
    reader = con.sql(query).to_arrow_reader(BATCH_ROWS)
    with pq.ParquetWriter(path, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


# -- planning: what changed since the folder's last export ---------------------------------
def _plan(con: duckdb.DuckDBPyConnection, folder: str, full: bool, transcripts: bool) -> None:
    """Temporary tables: ``cur`` (every landed call: date, version), ``fresh`` (calls to write:
    new or changed), ``replaced`` (call dates whose partitions are rewritten: they hold stale
    rows), ``sel`` (calls whose rows are written now), ``touched`` (ids whose state changes),
    ``tsel`` (calls whose RTTM/VTT are written now)."""
    con.execute(f"CREATE TEMP TABLE cur AS SELECT c.call_id, {CALL_DATE} AS call_date, hash(c) AS version,"
                " c.landed_at FROM calls c WHERE c.status = 'ok'")
    con.execute("CREATE TEMP TABLE prev AS SELECT call_id, call_date, version, transcripts FROM export_calls"
                " WHERE folder = ? AND NOT ?", [folder, full])
    same = "c.call_id = p.call_id AND c.version = p.version AND c.call_date = p.call_date"
    con.execute(f"CREATE TEMP TABLE fresh AS SELECT c.* FROM cur c WHERE NOT EXISTS (SELECT 1 FROM prev p WHERE {same})")
    con.execute(f"CREATE TEMP TABLE stale AS SELECT p.* FROM prev p WHERE NOT EXISTS (SELECT 1 FROM cur c WHERE {same})")
    con.execute("CREATE TEMP TABLE replaced AS SELECT DISTINCT call_date FROM stale")
    con.execute("CREATE TEMP TABLE sel AS SELECT call_id, call_date FROM fresh"
                " UNION SELECT call_id, call_date FROM cur WHERE call_date IN (SELECT call_date FROM replaced)")
    con.execute("CREATE TEMP TABLE touched AS SELECT call_id FROM fresh UNION SELECT call_id FROM stale")
    con.execute("CREATE TEMP TABLE tsel AS SELECT call_id FROM cur WHERE ? AND (call_id IN (SELECT call_id FROM"
                " touched) OR call_id IN (SELECT call_id FROM prev WHERE NOT transcripts))", [transcripts])


# -- the export ------------------------------------------------------------------------------
def export(db: str | Path, out: str | Path, *, full: bool = False, transcripts: bool = False) -> dict[str, int | str]:
    """Bring the export in OUT up to date with the database: ``OUT/parquet/<table>/
    call_date=YYYY-MM-DD/part-<export id>.parquet`` (redacted text only), and with
    ``transcripts`` per-call ``OUT/rttm`` and ``OUT/vtt``.

    Only what changed since the last export into OUT is written (see the module); ``full``
    rewrites everything. OUT must be new, empty, or an earlier export; files an earlier export
    wrote there for calls gone or changed since are deleted, nothing else is.

    Returns:
        ``mode`` (full | incremental), rows written per table, ``calls_written`` (calls new or
        changed), ``dates_replaced`` (call dates whose partitions were rewritten: they held
        stale rows), ``calls_with_transcripts`` (RTTM/VTT written now),
        ``files_written`` and ``files_removed``.
    Raises:
        ExportError: OUT is not a folder callqa may write into, or DuckDB ran out of memory or
            disk (the export is undone).
        ExportBusy: another export is writing into OUT.
        WarehouseBusy: another process is writing to the database.
    """
    new_folder = not (Path(out) / MARKER).is_file()
    out = prepare_out(out)
    folder = str(out)
    with _locked(out):
        export_id = _new_export_id()
        work = out / f"{WORK_PREFIX}{export_id}"
        with Warehouse(db) as wh:  # briefly: migrate, register, clean up after a dead export, start
            register_artifact(wh, out, "export")
            rebuild = _recover(wh, out)
            done = wh.con.execute("SELECT count(*) FROM exports WHERE folder = ? AND status = 'done'",
                                  [folder]).fetchall()[0][0]
            full = full or new_folder or rebuild or not done
            wh.con.execute("INSERT INTO exports (export_id, folder, mode, transcripts, started_at, status)"
                           " VALUES (?, ?, ?, ?, ?, 'writing')",
                           [export_id, folder, "full" if full else "incremental", transcripts,
                            datetime.now(timezone.utc)])
        work.mkdir()
        try:
            counts = _export(db, out, export_id, work, full=full, transcripts=transcripts)
        except BaseException as exc:
            with contextlib.suppress(Exception), Warehouse(db) as wh:  # undo it now rather than next time
                _recover(wh, out)
            if isinstance(exc, (duckdb.OutOfMemoryException, duckdb.IOException)):
                raise ExportError(f"export into {out} failed: {str(exc).splitlines()[0]}") from exc
            raise
    logger.info("export %s (%s): %d call(s) written, %d date(s) replaced, %d file(s) written, %d removed",
                export_id, counts["mode"], counts["calls_written"], counts["dates_replaced"],
                counts["files_written"], counts["files_removed"])
    return counts


def _export(db: str | Path, out: Path, export_id: str, work: Path, *, full: bool,
            transcripts: bool) -> dict[str, int | str]:
    """Write (database read-only), record (read-write), delete what it superseded, forget it
    (read-write)."""
    with Warehouse(db, read_only=True) as wh:
        counts, last_landed_at = _write(wh.con, out, export_id, work, full=full, transcripts=transcripts)
    with Warehouse(db) as wh:  # briefly: record what was written, find what it superseded
        _record(wh, out, export_id, work, full)
        stale = _stale(wh, out, work, full)
        if not stale:
            _forget(wh, out, export_id, work, 0, counts, last_landed_at)
    counts["files_removed"] = 0
    if stale:
        failpoint("export-recorded")
        counts["files_removed"] = remove_recorded(out, stale)
        with Warehouse(db) as wh:  # briefly: forget the deleted files
            _forget(wh, out, export_id, work, int(counts["files_removed"]), counts, last_landed_at)
    shutil.rmtree(work, ignore_errors=True)
    return counts


def _write(con: duckdb.DuckDBPyConnection, out: Path, export_id: str, work: Path, *, full: bool,
           transcripts: bool) -> tuple[dict[str, int | str], datetime | None]:
    """The read-only part: plan, write the part files and transcripts, and leave in ``work``
    what the next steps record (records, state, touched ids, replaced partitions). Returns the
    counts and the newest landed_at of the calls exported."""
    folder = str(out)
    con.execute("SET memory_limit = ?", [DUCKDB_MEMORY])
    con.execute("SET temp_directory = ?", [str(work / "spill")])
    con.execute("SET enable_progress_bar = false")
    counts: dict[str, int | str] = {"mode": "full" if full else "incremental"}
    with _utc(con):
        _plan(con, folder, full, transcripts)
        n_fresh, replaced, last = con.execute(
            "SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM replaced), (SELECT max(landed_at) FROM cur)"
        ).fetchall()[0]
        _dump(con, "SELECT call_id FROM touched", work / "touched.parquet")
        _dump(con, "SELECT call_id FROM tsel", work / "transcripts.parquet")  # before any transcript is written
        _dump(con, "SELECT c.call_id, c.call_date, c.version, c.call_id IN (SELECT call_id FROM tsel) AS transcripts"
                   " FROM cur c WHERE c.call_id IN (SELECT call_id FROM touched UNION SELECT call_id FROM tsel)",
              work / "state.parquet")
        replaced_days = [r[0] for r in con.execute("SELECT call_date FROM replaced ORDER BY 1").fetchall()]
        dirs = pa.table({"dir": pa.array([str(partition_path(out, t, d, "x").parent) for t in TABLES
                                          for d in replaced_days], pa.string())})
        pq.write_table(dirs, work / "replaced.parquet")
        records = _SideFile(work / "records.parquet", _RECORDS)
        files = 0

        def on_file(path: Path, calls: set[str]) -> None:
            nonlocal files
            failpoint("export-part-written")
            files += 1
            for call_id in sorted(calls):
                records.add(str(path), "parquet", call_id)

        try:
            groups = _day_groups(con, "sel", CALLS_PER_QUERY)
            for table in TABLES:
                counts[table] = sum(_write_table(con, table, "sel", lambda d, t=table: partition_path(out, t, d, export_id),
                                                 on_file, work, days=group) for group in groups)
            counts["calls_with_transcripts"] = _write_transcripts(con, out, records)
        finally:
            records.close()
    counts.update(calls_written=n_fresh, dates_replaced=replaced,
                  files_written=files + 2 * int(counts["calls_with_transcripts"]))
    return counts, last


def _write_transcripts(con: duckdb.DuckDBPyConnection, out: Path, records: _SideFile) -> int:
    """RTTM and WebVTT of each call in ``tsel``, its utterances read in one sorted stream."""
    first = _row_range(con, "utterances", "tsel")[0] or 0
    reader = con.sql("SELECT t.call_id, u.idx, u.speaker, u.role, u.start_s, u.end_s, u.text FROM tsel t"
                     " LEFT JOIN (SELECT * FROM utterances WHERE rowid >= ?) u USING (call_id) ORDER BY t.call_id, u.idx",
                     params=[first]).to_arrow_reader(BATCH_ROWS)
    current: str | None = None
    utterances: list[Utterance] = []
    n = 0

    def flush() -> None:
        nonlocal n
        if current is None:
            return
        name = safe_name(current)
        rttm, vtt = out / "rttm" / f"{name}.rttm", out / "vtt" / f"{name}.vtt"
        write_atomic(rttm, to_rttm(utterances, name))
        write_atomic(vtt, to_vtt(utterances))
        records.add(str(rttm), "rttm", current)
        records.add(str(vtt), "vtt", current)
        n += 1

    for batch in reader:
        for call_id, idx, speaker, role, start, end, text in zip(*(c.to_pylist() for c in batch.columns)):
            if call_id != current:
                flush()
                current, utterances = call_id, []
            if idx is not None:
                utterances.append(Utterance(speaker=speaker, role=role, start=start, end=end, text=text))
    flush()
    return n


def _record(wh: Warehouse, out: Path, export_id: str, work: Path, full: bool) -> None:
    """One transaction: the files written (by exact path), the folder's new state, and the
    export marked ``written``."""
    folder, con = str(out), wh.con
    records, state, touched = (str(work / f) for f in ("records.parquet", "state.parquet", "touched.parquet"))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM artifact_files WHERE folder = ? AND path IN (SELECT path FROM read_parquet(?))",
                    [folder, records])  # files written again in place (transcripts)
        con.execute("INSERT INTO artifact_files (folder, path, kind, call_id, written_at)"
                    " SELECT ?, path, kind, call_id, ? FROM read_parquet(?)",
                    [folder, datetime.now(timezone.utc), records])
        if full:
            con.execute("DELETE FROM export_calls WHERE folder = ?", [folder])
        else:
            con.execute("DELETE FROM export_calls WHERE folder = ? AND call_id IN"
                        " (SELECT call_id FROM read_parquet(?) UNION SELECT call_id FROM read_parquet(?))",
                        [folder, touched, state])
        con.execute("INSERT INTO export_calls (folder, call_id, call_date, version, transcripts)"
                    " SELECT ?, call_id, call_date, version, transcripts FROM read_parquet(?)", [folder, state])
        con.execute("UPDATE exports SET status = 'written' WHERE export_id = ?", [export_id])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _stale(wh: Warehouse, out: Path, work: Path, full: bool) -> list[Path]:
    """Files recorded in the folder that this export superseded: with ``full`` every one it did
    not write; else the other files of the partitions it replaced, and the per-call files
    (RTTM, VTT, audio) of calls changed or gone that it did not write again."""
    folder = str(out)
    records, touched, replaced = (str(work / f) for f in ("records.parquet", "touched.parquet", "replaced.parquet"))
    if full:
        rows = wh.con.execute("SELECT DISTINCT path FROM artifact_files WHERE folder = ? AND path NOT IN"
                              " (SELECT path FROM read_parquet(?))", [folder, records]).fetchall()
    else:
        rows = wh.con.execute(
            "SELECT DISTINCT path FROM artifact_files WHERE folder = ? AND path NOT IN (SELECT path FROM read_parquet(?))"
            " AND ((kind = 'parquet' AND parse_dirpath(path, '/') IN (SELECT dir FROM read_parquet(?)))"
            "   OR (kind IN (SELECT unnest(?)) AND call_id IN (SELECT call_id FROM read_parquet(?))))",
            [folder, records, replaced, list(CALL_FILES), touched]).fetchall()
    paths = sorted(Path(r[0]) for r in rows)
    pq.write_table(pa.table({"path": pa.array([str(p) for p in paths], pa.string())}), work / "stale.parquet")
    return paths


def _forget(wh: Warehouse, out: Path, export_id: str, work: Path, removed: int,
            counts: dict | None = None, last_landed_at: datetime | None = None) -> None:
    """Drop the records of the deleted files (``work/stale.parquet``) and mark the export done."""
    counts = counts or {}
    con = wh.con
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM artifact_files WHERE folder = ? AND path IN (SELECT path FROM read_parquet(?))",
                    [str(out), str(work / "stale.parquet")])
        con.execute("UPDATE exports SET status = 'done', finished_at = ?, last_landed_at = ?, n_calls = ?,"
                    " files_written = ?, files_removed = ? WHERE export_id = ?",
                    [datetime.now(timezone.utc), last_landed_at, counts.get("calls_written"),
                     counts.get("files_written"), removed, export_id])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _recover(wh: Warehouse, out: Path) -> bool:
    """Exports into ``out`` that died (the folder lock is held, so none is running): one that
    was still writing has its part files deleted (its transcripts, written over or beside
    recorded ones, are recorded so that purges reach them); one that had recorded its files is
    finished (superseded files deleted). Returns True when one cannot be finished (its work
    folder is gone): the next export must then be full."""
    folder, rebuild = str(out), False
    for export_id, status, mode in wh.con.execute(
            "SELECT export_id, status, mode FROM exports WHERE folder = ? AND status IN ('writing', 'written')"
            " ORDER BY started_at", [folder]).fetchall():
        work = out / f"{WORK_PREFIX}{export_id}"
        has_work = work.is_dir() and not work.is_symlink()
        if status == "written" and has_work:
            _forget(wh, out, export_id, work, remove_recorded(out, _stale(wh, out, work, mode == "full")))
        elif status == "written":
            rebuild = True
        else:
            remove_recorded(out, [p for t in TABLES
                                  for p in (out / "parquet" / t).glob(f"call_date=*/part-{export_id}.parquet")])
            if has_work and (work / "transcripts.parquet").is_file():
                with contextlib.suppress(Exception):  # unreadable: it was being written, no transcript was
                    _record_existing(wh, out, pq.read_table(work / "transcripts.parquet")["call_id"].to_pylist())
        if status == "writing" or not has_work:
            wh.con.execute("UPDATE exports SET status = 'abandoned', finished_at = ? WHERE export_id = ?",
                           [datetime.now(timezone.utc), export_id])
        if has_work:
            shutil.rmtree(work, ignore_errors=True)
        logger.warning("export %s into %s had stopped (%s): %s", export_id, out, status,
                       "finished it" if status == "written" and has_work else
                       "rewriting everything" if status == "written" else "removed its files")
    return rebuild


def _record_existing(wh: Warehouse, out: Path, call_ids: list[str]) -> None:
    """Record the RTTM/VTT files of these calls that exist in ``out``."""
    found: list[Written] = []
    for call_id in call_ids:
        name = safe_name(call_id)
        for kind in ("rttm", "vtt"):
            path = out / kind / f"{name}.{kind}"
            if path.is_file():
                found.append((path, kind, call_id))
    record_files(wh, out, found)


# -- purges: rewrite the partitions that held purged calls -----------------------------------
def rewrite_partitions(wh: Warehouse, out: Path, parts: Iterable[tuple[str, date]]) -> tuple[list[Written], list[Path]]:
    """Rewrite the given (table, call date) partitions of an export folder from the database as
    it is now (after a purge), each into one file: over the partition's first recorded file (or
    a new part file). Only calls the folder's last export held, unchanged since, are written:
    the next export adds or replaces the others as it would have.

    Returns:
        (files written, the partitions' other recorded files: merged into the rewritten file or
        left without rows; the caller deletes them).
    """
    out = Path(out).resolve()
    folder, con = str(out), wh.con
    by_table: dict[str, list[date]] = {}
    for table, day in parts:
        by_table.setdefault(table, []).append(day)
    if not by_table:
        return [], []
    days = sorted({d for ds in by_table.values() for d in ds})
    dirs = {str(partition_path(out, t, d, "x").parent): (t, d) for t, ds in by_table.items() for d in ds}
    recorded: dict[tuple[str, date], list[Path]] = {}
    for (path,) in con.execute(
            "SELECT DISTINCT path FROM artifact_files WHERE folder = ? AND kind = 'parquet'"
            " AND parse_dirpath(path, '/') IN (SELECT unnest(?)) ORDER BY path", [folder, list(dirs)]).fetchall():
        recorded.setdefault(dirs[str(Path(path).parent)], []).append(Path(path))
    has_state = con.execute("SELECT count(*) FROM exports WHERE folder = ? AND status = 'done'",
                            [folder]).fetchall()[0][0] > 0
    new_id = _new_export_id()
    written: list[Written] = []

    def target(table: str, day: date) -> Path:
        return (recorded.get((table, day)) or [partition_path(out, table, day, new_id)])[0]

    def on_file(path: Path, calls: set[str]) -> None:
        written.extend((path, "parquet", cid) for cid in sorted(calls))

    with _utc(con):
        con.execute("DROP TABLE IF EXISTS temp.main.rewrite_sel")
        con.execute(
            f"CREATE TEMP TABLE rewrite_sel AS SELECT c.call_id, {CALL_DATE} AS call_date FROM calls c"
            f" WHERE c.status = 'ok' AND {CALL_DATE} IN (SELECT unnest(?::DATE[])) AND (NOT ? OR EXISTS"
            f" (SELECT 1 FROM export_calls e WHERE e.folder = ? AND e.call_id = c.call_id AND e.version = hash(c)"
            f" AND e.call_date = {CALL_DATE}))", [days, has_state, folder])
        try:
            for table in (t for t in TABLES if t in by_table):
                _write_table(con, table, "rewrite_sel", lambda d, t=table: target(t, d), on_file, None,
                             days=sorted(set(by_table[table])))
        finally:
            con.execute("DROP TABLE IF EXISTS temp.main.rewrite_sel")
    now_written = {p for p, _, _ in written}
    superseded = [p for files in recorded.values() for p in files if p not in now_written]
    return written, superseded


def forget_exported(wh: Warehouse, folder: str | Path, call_ids: list[str]) -> None:
    """Drop purged calls from an export folder's state (their rows were rewritten away)."""
    if call_ids:
        wh.con.execute("DELETE FROM export_calls WHERE folder = ? AND call_id IN (SELECT unnest(?))",
                       [str(Path(folder).resolve()), list(call_ids)])

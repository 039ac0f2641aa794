"""Export the warehouse: Parquet partitioned by call date, and per-call RTTM and WebVTT.

No SQL is ever built from the output path: rows are read with fixed queries into Arrow and
pyarrow writes the files, each under a temporary name and then renamed into place. Every file
written is recorded by exact path (warehouse.artifacts), so that a purge deletes or rewrites
exactly those and nothing else in the folder.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.domain import Utterance
from core.formats import to_rttm, to_vtt
from core.filenames import safe_name
from core.files import write_atomic
from warehouse.artifacts import Written, register_artifact, replace_recorded
from warehouse.store import Warehouse

MARKER = ".callqa-export"
PARQUET_FILE = "data_0.parquet"
CALL_DATE = "coalesce(timezone(coalesce(c.timezone, 'UTC'), c.started_at)::DATE, c.landed_at::DATE)"
EXPORTS = {
    "calls": "SELECT c.*, {d} AS call_date FROM calls c WHERE c.status = 'ok'",
    "utterances": "SELECT u.*, {d} AS call_date FROM utterances u JOIN calls c USING (call_id)",
    "findings": "SELECT f.*, {d} AS call_date FROM findings f JOIN calls c USING (call_id)",
    "call_metrics": "SELECT m.*, {d} AS call_date FROM call_metrics m JOIN calls c USING (call_id)",
}


class ExportError(ValueError):
    """The export cannot be written there (not a folder, or a folder of someone else's files)."""


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


def partition_path(out: Path, table: str, day: date) -> Path:
    """Where a table's partition of one call date lies: ``OUT/parquet/<table>/call_date=<day>/``."""
    return out / "parquet" / table / f"call_date={day.isoformat()}" / PARQUET_FILE


def partition_of(path: Path) -> tuple[str, date] | None:
    """(table, call date) of a partition file written by :func:`partition_path`, else None."""
    key, _, value = path.parent.name.partition("=")
    table = path.parent.parent.name
    if key != "call_date" or table not in EXPORTS:
        return None
    try:
        return table, date.fromisoformat(value)
    except ValueError:
        return None


def write_partitions(wh: Warehouse, out: Path, table: str,
                     days: Iterable[date] | None = None) -> tuple[int, list[Written], list[Path]]:
    """(Re)write one exported table's Parquet partitions from the database.

    Args:
        days: only these call dates (None: every date in the database).
    Returns:
        (rows written, the files written with each call they hold, the files of requested
        dates that now have no rows: the caller deletes those if it wrote them).
    """
    query, params = EXPORTS[table].format(d=CALL_DATE), []
    if days is not None:
        days = sorted(set(days))
        query = f"SELECT * FROM ({query}) WHERE call_date IN (SELECT unnest(?::DATE[]))"
        params = [days]
    data = wh.con.sql(query, params=params).to_arrow_table()
    written: list[Written] = []
    present: set[date] = set()
    for day in (pc.unique(data["call_date"]).to_pylist() if data.num_rows else []):
        part = data.filter(pc.equal(data["call_date"], pa.scalar(day, data.schema.field("call_date").type)))
        part = part.drop_columns(["call_date"])
        path = partition_path(out, table, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda tmp, part=part: pq.write_table(part, tmp))
        written += [(path, "parquet", cid) for cid in sorted(set(part["call_id"].to_pylist()))]
        present.add(day)
    empty = [partition_path(out, table, d) for d in (days or []) if d not in present]
    return data.num_rows, written, empty


def rewrite_partitions(wh: Warehouse, out: Path, parts: Iterable[tuple[str, date]]) -> tuple[list[Written], list[Path]]:
    """Rewrite the given (table, call date) partitions of an export folder from the database
    as it is now (after a purge). Returns (files written, files of partitions now empty)."""
    by_table: dict[str, set[date]] = {}
    for table, day in parts:
        by_table.setdefault(table, set()).add(day)
    written: list[Written] = []
    empty: list[Path] = []
    for table in (t for t in EXPORTS if t in by_table):
        _, files, gone = write_partitions(wh, out, table, by_table[table])
        written += files
        empty += gone
    return written, empty


def _transcripts(wh: Warehouse) -> dict[str, list[Utterance]]:
    rows = wh.con.execute(
        "SELECT call_id, speaker, role, start_s, end_s, text FROM utterances ORDER BY call_id, idx").fetchall()
    ok = [r[0] for r in wh.con.execute("SELECT call_id FROM calls WHERE status = 'ok' ORDER BY call_id").fetchall()]
    by_call: dict[str, list[Utterance]] = {cid: [] for cid in ok}
    for call_id, speaker, role, start, end, text in rows:
        by_call.setdefault(call_id, []).append(Utterance(speaker=speaker, role=role, start=start, end=end, text=text))
    return by_call


def export(db: str | Path, out: str | Path) -> dict[str, int]:
    """Write ``OUT/parquet/<table>/call_date=YYYY-MM-DD/data_0.parquet`` and ``OUT/rttm``, ``OUT/vtt``.

    Only redacted text is exported. OUT must be new, empty, or an earlier export; files an
    earlier export wrote there for calls gone since are deleted, nothing else is.
    Returns rows written per table and the number of calls.

    Raises:
        ExportError: OUT is not a folder callqa may write into.
        WarehouseBusy: another process is writing to the database.
    """
    out = prepare_out(out)
    counts: dict[str, int] = {}
    written: list[Written] = []
    with Warehouse(db) as wh:
        for name in EXPORTS:
            counts[name], files, _ = write_partitions(wh, out, name)
            written += files
        by_call = _transcripts(wh)
        for sub in ("rttm", "vtt"):
            (out / sub).mkdir(parents=True, exist_ok=True)
        for call_id, utterances in by_call.items():
            name = safe_name(call_id)
            rttm, vtt = out / "rttm" / f"{name}.rttm", out / "vtt" / f"{name}.vtt"
            write_atomic(rttm, to_rttm(utterances, name))
            write_atomic(vtt, to_vtt(utterances))
            written += [(rttm, "rttm", call_id), (vtt, "vtt", call_id)]
        register_artifact(wh, out, "export")
        replace_recorded(wh, out, written)
    counts["calls_with_transcripts"] = len(by_call)
    return counts

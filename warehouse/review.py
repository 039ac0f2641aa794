"""QA review workflow: reproducible stratified samples and verdicts stored in ``reviews``."""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pyarrow as pa

from core.csvsafe import restore_cell, write_csv
from warehouse import logger
from warehouse.store import Warehouse

FINDING_VERDICTS = ("confirmed", "rejected")
CALL_VERDICTS = ("missed", "clean")
VERDICTS = FINDING_VERDICTS + CALL_VERDICTS
STRATA = ("kind", "collector", "team", "campaign", "severity", "role")
_STRATUM_COLUMN = {"collector": "collector_id"}
CLOCK_SKEW = timedelta(minutes=5)  # a reviewed_at up to this far ahead of our clock is accepted
SAMPLE_COLUMNS = ("group", "stratum", "call_id", "finding_id", "kind", "severity", "role", "collector_id",
                  "team", "campaign", "started_at", "start_s", "verdict", "note", "reviewer")


class ReviewError(ValueError):
    """A verdict that cannot be recorded (unknown finding, bad verdict, bad CSV row)."""


@dataclass(slots=True)
class Verdict:
    """One reviewer decision about a finding (or, for missed/clean, about a whole call)."""

    call_id: str
    verdict: str
    reviewer: str
    finding_id: str | None = None
    kind: str | None = None
    note: str | None = None
    reviewed_at: datetime | None = None


@dataclass(slots=True)
class ImportResult:
    added: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)
    superseded: int = 0  # rows followed by a later row about the same finding/call in the same file


def _lookups(con: duckdb.DuckDBPyConnection, verdicts: list[Verdict]) -> tuple[dict[str, tuple[str, str]], set[str]]:
    """finding id → (call id, kind) for the findings named, and the landed calls among those named."""
    fids = sorted({v.finding_id for v in verdicts if v.finding_id})
    cids = sorted({v.call_id for v in verdicts if v.call_id})
    findings = {fid: (cid, kind) for fid, cid, kind in con.execute(
        "SELECT finding_id, call_id, kind FROM findings WHERE finding_id IN (SELECT unnest(?::VARCHAR[]))",
        [fids]).fetchall()}
    landed = {r[0] for r in con.execute(
        "SELECT call_id FROM calls WHERE status = 'ok' AND call_id IN (SELECT unnest(?::VARCHAR[]))",
        [cids]).fetchall()}
    return findings, landed


def _check(v: Verdict, findings: dict[str, tuple[str, str]], landed: set[str]) -> Verdict:
    """Validate a verdict against the database (``_lookups``); fills in the finding's kind."""
    if v.verdict not in VERDICTS:
        raise ReviewError(f"verdict must be one of {', '.join(VERDICTS)}, got {v.verdict!r}")
    if not v.reviewer.strip():
        raise ReviewError("reviewer must not be empty")
    if v.verdict in FINDING_VERDICTS:
        if not v.finding_id:
            raise ReviewError(f"verdict {v.verdict!r} needs a finding id (<call_id>#<n>)")
        row = findings.get(v.finding_id)
        if row is None:
            raise ReviewError(f"finding {v.finding_id!r} does not exist")
        if v.call_id and row[0] != v.call_id:
            raise ReviewError(f"finding {v.finding_id!r} belongs to call {row[0]!r}, not {v.call_id!r}")
        return Verdict(row[0], v.verdict, v.reviewer.strip(), v.finding_id, row[1], v.note or None, v.reviewed_at)
    if v.finding_id:
        raise ReviewError(f"verdict {v.verdict!r} is about a whole call: leave the finding id empty")
    if v.call_id not in landed:
        raise ReviewError(f"call {v.call_id!r} is not in the warehouse")
    kind = v.kind if v.verdict == "missed" else None
    return Verdict(v.call_id, v.verdict, v.reviewer.strip(), None, kind or None, v.note or None, v.reviewed_at)


def _check_all(con: duckdb.DuckDBPyConnection,
               rows: list[tuple[int, Verdict]]) -> tuple[list[tuple[int, Verdict]], list[tuple[int, str]]]:
    """Check numbered verdicts with two queries in all. Returns (checked, (number, error) each)."""
    findings, landed = _lookups(con, [v for _, v in rows])
    checked, errors = [], []
    for line, v in rows:
        try:
            checked.append((line, _check(v, findings, landed)))
        except ReviewError as exc:
            errors.append((line, str(exc)))
    return checked, errors


def _key(v: Verdict) -> tuple[str | None, str, str | None]:
    return v.finding_id, v.call_id, v.kind


def _insert(con: duckdb.DuckDBPyConnection, verdicts: list[Verdict], source: str, now: datetime) -> tuple[int, int]:
    """Insert checked verdicts in one Arrow insert, skipping repeats: the same verdict at the
    same time, or (for rows without a time) a verdict equal to the latest one already stored
    for that finding/call. Returns (added, repeats skipped)."""
    stored = con.execute(
        "SELECT finding_id, call_id, kind, verdict, reviewer, reviewed_at, note FROM reviews"
        " WHERE call_id IN (SELECT unnest(?::VARCHAR[]))", [sorted({v.call_id for v in verdicts})]).fetchall()
    exact = {(f, c, k, verdict, who, at) for f, c, k, verdict, who, at, _ in stored}
    latest: dict[tuple, tuple] = {}
    for f, c, k, verdict, who, at, note in stored:
        if (f, c, k) not in latest or at > latest[(f, c, k)][0]:
            latest[(f, c, k)] = (at, verdict, who, note)
    new = []
    for v in verdicts:
        if v.reviewed_at is not None:
            repeat = (*_key(v), v.verdict, v.reviewer, v.reviewed_at) in exact
        else:
            repeat = latest.get(_key(v), (None,))[1:] == (v.verdict, v.reviewer, v.note)
        if not repeat:
            new.append(v)
    if new:
        table = pa.table({
            "review_id": pa.array([uuid.uuid4().hex for _ in new], pa.string()),
            "finding_id": pa.array([v.finding_id for v in new], pa.string()),
            "call_id": pa.array([v.call_id for v in new], pa.string()),
            "kind": pa.array([v.kind for v in new], pa.string()),
            "verdict": pa.array([v.verdict for v in new], pa.string()),
            "note": pa.array([v.note for v in new], pa.string()),
            "reviewer": pa.array([v.reviewer for v in new], pa.string()),
            "reviewed_at": pa.array([v.reviewed_at or now for v in new], pa.timestamp("us", tz="UTC")),
            "source": pa.array([source] * len(new), pa.string()),
        })
        con.register("new_reviews", table)
        try:
            con.execute("INSERT INTO reviews BY NAME SELECT * FROM new_reviews")
        finally:
            con.unregister("new_reviews")
    return len(new), len(verdicts) - len(new)


def record(db: str | Path, verdict: Verdict) -> Verdict:
    """Store one verdict (``callqa review``). Returns it as stored (kind filled in)."""
    with Warehouse(db, existing=True) as wh:
        checked, errors = _check_all(wh.con, [(0, verdict)])
        if errors:
            raise ReviewError(errors[0][1])
        checked_verdict = checked[0][1]
        _insert(wh.con, [checked_verdict], "cli", datetime.now(timezone.utc))
    logger.info("review recorded: %s %s by %s", checked_verdict.finding_id or checked_verdict.call_id,
                checked_verdict.verdict, checked_verdict.reviewer)
    return checked_verdict


def _free_text(raw: str | None) -> str | None:
    """A note/reviewer cell (its formula quote already removed by ``restore_cell``)."""
    return (raw or "").strip() or None


def _parse_time(raw: str, now: datetime) -> datetime | None:
    """A ``reviewed_at`` cell (ISO 8601; UTC when it has no offset); None when empty.

    Raises:
        ValueError: not a time, or later than now (beyond a few minutes of clock skew).
    """
    if not raw.strip():
        return None
    value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if value > now + CLOCK_SKEW:
        raise ReviewError(f"reviewed_at {raw.strip()} is in the future")
    return value


def read_text(path: str | Path) -> str:
    """A CSV file's text: UTF-8 or UTF-16 when it starts with their byte-order mark, else
    UTF-8, else GB18030 (which reads GBK and GB2312 too: what spreadsheets on Chinese Windows
    save).

    Raises:
        ReviewError: none of these decodes it.
    """
    data = Path(path).read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        encodings = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ReviewError(f"{path}: not text in UTF-8, UTF-16 or GB18030 (GBK); save the CSV as UTF-8")


def _read_rows(path: str | Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of every row of a review CSV after its header."""
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    try:
        missing = {"call_id", "finding_id", "verdict"} - set(reader.fieldnames or [])
        if missing:
            raise ReviewError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        limit = csv.field_size_limit()
        why = (f"a field is longer than {limit // 1024} KB ({limit} characters)" if "field limit" in str(exc)
               else str(exc))
        raise ReviewError(f"{path}: line {reader.line_num + 1}: {why}") from None  # the line being read


def import_csv(db: str | Path, path: str | Path, default_reviewer: str) -> ImportResult:
    """Import verdicts from a CSV (from ``callqa sample --csv`` or the report page).

    Columns: ``call_id, finding_id, verdict`` and optionally ``note, reviewer, reviewed_at, kind``.
    Rows without a verdict are skipped. All rows are checked first; any error imports nothing.
    Several rows about one finding (or one call) in one file: the last one counts, the earlier
    ones are not stored (``superseded``). A ``reviewed_at`` in the future is an error. The
    file may be UTF-8, UTF-16 or GB18030/GBK (``read_text``).
    """
    result = ImportResult()
    now = datetime.now(timezone.utc)
    parsed: list[tuple[int, Verdict]] = []
    errors: list[tuple[int, str]] = []
    for line, row in _read_rows(path):
        row = {k: restore_cell(v) for k, v in row.items()}  # undo formula quotes
        verdict = (row.get("verdict") or "").strip().lower()
        if not verdict:
            continue
        try:
            parsed.append((line, Verdict(
                call_id=(row.get("call_id") or "").strip(), verdict=verdict,
                reviewer=_free_text(row.get("reviewer")) or default_reviewer,
                finding_id=(row.get("finding_id") or "").strip() or None,
                kind=(row.get("kind") or "").strip() or None, note=_free_text(row.get("note")),
                reviewed_at=_parse_time(row.get("reviewed_at") or "", now))))
        except ValueError as exc:
            errors.append((line, str(exc)))
    with Warehouse(db, existing=True) as wh:
        checked, bad = _check_all(wh.con, parsed)
        result.errors = [f"line {line}: {message}" for line, message in sorted(errors + bad)]
        if result.errors:
            return result
        last = {(v.finding_id, v.finding_id or v.call_id): v for _, v in checked}  # file order: the last row wins
        result.superseded = len(checked) - len(last)
        wh.con.execute("BEGIN TRANSACTION")
        try:
            result.added, result.duplicates = _insert(wh.con, list(last.values()), "import", now)
            wh.con.execute("COMMIT")
        except Exception:
            wh.con.execute("ROLLBACK")
            raise
    logger.info("imported %d verdict(s) from %s (%d repeated, %d superseded)", result.added, path,
                result.duplicates, result.superseded)
    return result


# -- sampling ----------------------------------------------------------------------------
def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def _allocate(sizes: dict[tuple, int], n: int, seed: int) -> dict[tuple, int]:
    """Split n over strata: one each first (rare strata get looked at), the rest in proportion
    to stratum size (largest remainder), never more than a stratum holds."""
    alloc = {s: 0 for s in sizes}
    order = sorted(sizes, key=lambda s: _rank(seed, repr(s)))
    for s in order[:n]:
        alloc[s] = 1
    left = n - sum(alloc.values())
    while left > 0:
        room = {s: sizes[s] - alloc[s] for s in sizes if sizes[s] > alloc[s]}
        if not room:
            break
        total = sum(room.values())
        shares = {s: left * r / total for s, r in room.items()}
        step = {s: min(room[s], int(q)) for s, q in shares.items()}
        given = sum(step.values())
        if given == 0:  # hand out single places by largest remainder
            for s in sorted(room, key=lambda s: (-(shares[s] - int(shares[s])), _rank(seed, repr(s))))[:left]:
                step[s] = 1
            given = sum(step.values())
        for s, k in step.items():
            alloc[s] += k
        left -= given
    return alloc


def sample(db: str | Path, n: int, by: Iterable[str] = ("kind",), seed: int = 0, unflagged_share: float = 0.1,
           include_reviewed: bool = False) -> list[dict[str, Any]]:
    """A stratified, reproducible sample of flagged findings plus a share of unflagged calls.

    Args:
        n: total rows wanted (fewer when the warehouse holds fewer).
        by: stratum columns among kind, collector, team, campaign, severity, role.
        seed: the same seed on the same data gives the same sample; within a stratum the order
            is a hash of seed and finding id, so new data does not reshuffle earlier picks.
        unflagged_share: part of n drawn from calls without flags (to estimate misses).
        include_reviewed: also draw findings/calls that already have a verdict.
    """
    by = [b.strip() for b in by if b.strip()]
    unknown = [b for b in by if b not in STRATA]
    if unknown:
        raise ValueError(f"cannot stratify by {', '.join(unknown)} (choose from {', '.join(STRATA)})")
    if n < 1 or not 0.0 <= unflagged_share < 1.0:
        raise ValueError("n must be >= 1 and unflagged share in [0, 1)")
    with Warehouse(db, read_only=True) as wh:
        cur = wh.con.execute(
            "SELECT call_id, finding_id, kind, severity, role, collector_id, team, campaign, started_at, start_s,"
            " verdict FROM flagged_findings" + ("" if include_reviewed else " WHERE verdict IS NULL"))
        names = [d[0] for d in cur.description]
        flagged = [dict(zip(names, r)) for r in cur.fetchall()]
        cur = wh.con.execute(
            "SELECT c.call_id, c.collector_id, c.team, c.campaign, c.started_at FROM calls c"
            " WHERE c.status = 'ok' AND NOT EXISTS (SELECT 1 FROM findings f WHERE f.call_id = c.call_id"
            " AND f.severity <> 'info')" + ("" if include_reviewed else
            " AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.call_id = c.call_id AND r.finding_id IS NULL)"))
        names = [d[0] for d in cur.description]
        unflagged = [dict(zip(names, r)) for r in cur.fetchall()]
    n_unflagged = min(len(unflagged), round(n * unflagged_share)) if unflagged_share > 0 else 0
    if unflagged_share > 0 and unflagged and n_unflagged == 0 and n >= 2:
        n_unflagged = 1
    n_flagged = min(len(flagged), n - n_unflagged)
    strata: dict[tuple, list[dict[str, Any]]] = {}
    for row in flagged:
        key = tuple(str(row[_STRATUM_COLUMN.get(b, b)] or "-") for b in by)
        strata.setdefault(key, []).append(row)
    alloc = _allocate({k: len(v) for k, v in strata.items()}, n_flagged, seed)
    picked: list[dict[str, Any]] = []
    for key in sorted(strata):
        rows = sorted(strata[key], key=lambda r: _rank(seed, r["finding_id"]))[: alloc[key]]
        picked += [{**r, "group": "flagged", "stratum": "/".join(key) if key else "all"} for r in rows]
    for row in sorted(unflagged, key=lambda r: _rank(seed, r["call_id"]))[:n_unflagged]:
        picked.append({**row, "group": "unflagged", "stratum": "unflagged", "finding_id": None, "kind": None,
                       "severity": None, "role": None, "start_s": None})
    return [{c: r.get(c) for c in SAMPLE_COLUMNS} | {"verdict": None, "note": None, "reviewer": None}
            for r in picked]


def write_sample_csv(rows: list[dict[str, Any]], path: str | Path) -> None:
    """Write a sample in the format ``callqa review --import`` reads back (verdict column empty),
    atomically (a device or pipe such as ``/dev/stdout`` is written to directly), with
    spreadsheet formulas neutralised (``core.csvsafe``). Raises OSError naming the path (a full
    disk, a folder given as the file)."""
    try:
        write_csv(path, SAMPLE_COLUMNS, rows)
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise

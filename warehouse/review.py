"""QA review workflow: reproducible stratified samples and verdicts stored in ``reviews``."""
from __future__ import annotations

import csv
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import duckdb

from warehouse import logger
from warehouse.store import Warehouse

FINDING_VERDICTS = ("confirmed", "rejected")
CALL_VERDICTS = ("missed", "clean")
VERDICTS = FINDING_VERDICTS + CALL_VERDICTS
STRATA = ("kind", "collector", "team", "campaign", "severity", "role")
_STRATUM_COLUMN = {"collector": "collector_id"}
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


def _check(con: duckdb.DuckDBPyConnection, v: Verdict) -> Verdict:
    """Validate a verdict against the database; fills in the finding's kind."""
    if v.verdict not in VERDICTS:
        raise ReviewError(f"verdict must be one of {', '.join(VERDICTS)}, got {v.verdict!r}")
    if not v.reviewer.strip():
        raise ReviewError("reviewer must not be empty")
    if v.verdict in FINDING_VERDICTS:
        if not v.finding_id:
            raise ReviewError(f"verdict {v.verdict!r} needs a finding id (<call_id>#<n>)")
        row = con.execute("SELECT call_id, kind FROM findings WHERE finding_id = ?", [v.finding_id]).fetchone()
        if row is None:
            raise ReviewError(f"finding {v.finding_id!r} does not exist")
        if v.call_id and row[0] != v.call_id:
            raise ReviewError(f"finding {v.finding_id!r} belongs to call {row[0]!r}, not {v.call_id!r}")
        return Verdict(row[0], v.verdict, v.reviewer.strip(), v.finding_id, row[1], v.note or None, v.reviewed_at)
    if v.finding_id:
        raise ReviewError(f"verdict {v.verdict!r} is about a whole call: leave the finding id empty")
    if not con.execute("SELECT 1 FROM calls WHERE call_id = ? AND status = 'ok'", [v.call_id]).fetchone():
        raise ReviewError(f"call {v.call_id!r} is not in the warehouse")
    kind = v.kind if v.verdict == "missed" else None
    return Verdict(v.call_id, v.verdict, v.reviewer.strip(), None, kind or None, v.note or None, v.reviewed_at)


def _insert(con: duckdb.DuckDBPyConnection, verdicts: list[Verdict], source: str) -> tuple[int, int]:
    """Insert checked verdicts, skipping repeats: the same verdict at the same time, or (for rows
    without a time) a verdict equal to the latest one already stored for that finding/call."""
    added = dupes = 0
    now = datetime.now(timezone.utc)
    for v in verdicts:
        at = v.reviewed_at or now
        same = ("finding_id IS NOT DISTINCT FROM ? AND call_id = ? AND kind IS NOT DISTINCT FROM ?",
                [v.finding_id, v.call_id, v.kind])
        if v.reviewed_at is not None:
            exists = con.execute(
                f"SELECT 1 FROM reviews WHERE {same[0]} AND verdict = ? AND reviewer = ? AND reviewed_at = ?",
                same[1] + [v.verdict, v.reviewer, at]).fetchone()
        else:
            latest = con.execute(
                f"SELECT verdict, reviewer, note FROM reviews WHERE {same[0]} ORDER BY reviewed_at DESC LIMIT 1",
                same[1]).fetchone()
            exists = latest == (v.verdict, v.reviewer, v.note)
        if exists:
            dupes += 1
            continue
        con.execute(
            "INSERT INTO reviews (review_id, finding_id, call_id, kind, verdict, note, reviewer, reviewed_at, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [uuid.uuid4().hex, v.finding_id, v.call_id, v.kind, v.verdict, v.note, v.reviewer, at, source])
        added += 1
    return added, dupes


def record(db: str | Path, verdict: Verdict) -> Verdict:
    """Store one verdict (``callqa review``). Returns it as stored (kind filled in)."""
    with Warehouse(db) as wh:
        checked = _check(wh.con, verdict)
        _insert(wh.con, [checked], "cli")
    logger.info("review recorded: %s %s by %s", checked.finding_id or checked.call_id, checked.verdict,
                checked.reviewer)
    return checked


def _free_text(raw: str | None) -> str | None:
    """A note/reviewer cell; undoes the report page's quote before a leading = + - @."""
    text = (raw or "").strip()
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@":
        text = text[1:]
    return text or None


def _parse_time(raw: str) -> datetime | None:
    if not raw.strip():
        return None
    value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def import_csv(db: str | Path, path: str | Path, default_reviewer: str) -> ImportResult:
    """Import verdicts from a CSV (from ``callqa sample --csv`` or the report page).

    Columns: ``call_id, finding_id, verdict`` and optionally ``note, reviewer, reviewed_at, kind``.
    Rows without a verdict are skipped. All rows are checked first; any error imports nothing.
    """
    result = ImportResult()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"call_id", "finding_id", "verdict"} - set(reader.fieldnames or [])
        if missing:
            raise ReviewError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        rows = list(reader)
    with Warehouse(db) as wh:
        checked: list[Verdict] = []
        for line, row in enumerate(rows, start=2):
            verdict = (row.get("verdict") or "").strip().lower()
            if not verdict:
                continue
            try:
                checked.append(_check(wh.con, Verdict(
                    call_id=(row.get("call_id") or "").strip(), verdict=verdict,
                    reviewer=_free_text(row.get("reviewer")) or default_reviewer,
                    finding_id=(row.get("finding_id") or "").strip() or None,
                    kind=(row.get("kind") or "").strip() or None, note=_free_text(row.get("note")),
                    reviewed_at=_parse_time(row.get("reviewed_at") or ""))))
            except (ReviewError, ValueError) as exc:
                result.errors.append(f"line {line}: {exc}")
        if result.errors:
            return result
        wh.con.execute("BEGIN TRANSACTION")
        try:
            result.added, result.duplicates = _insert(wh.con, checked, "import")
            wh.con.execute("COMMIT")
        except Exception:
            wh.con.execute("ROLLBACK")
            raise
    logger.info("imported %d verdict(s) from %s (%d repeated)", result.added, path, result.duplicates)
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


def save_sample(db: str | Path, rows: list[dict[str, Any]], *, n: int, by: Iterable[str], seed: int,
                unflagged_share: float) -> str:
    """Keep a drawn sample (``callqa sample``) in ``qa_samples`` / ``qa_sample_rows``, so that the
    report gives its calls pages. Returns the sample id."""
    sample_id = uuid.uuid4().hex[:12]
    with Warehouse(db) as wh:
        con = wh.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("INSERT INTO qa_samples (sample_id, drawn_at, n, strata, seed, unflagged_share)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        [sample_id, datetime.now(timezone.utc), n, ",".join(by), seed, unflagged_share])
            con.executemany("INSERT INTO qa_sample_rows (sample_id, call_id, finding_id, stratum) VALUES (?, ?, ?, ?)",
                            [[sample_id, r["call_id"], r["finding_id"], r["stratum"]] for r in rows])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    logger.info("sample %s kept: %d row(s)", sample_id, len(rows))
    return sample_id


def write_sample_csv(rows: list[dict[str, Any]], path: str | Path) -> None:
    """Write a sample in the format ``callqa review --import`` reads back (verdict column empty)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(SAMPLE_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})

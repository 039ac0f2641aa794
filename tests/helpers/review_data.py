"""A warehouse with many findings and a review CSV with a verdict for each (review import
speed: tests/test_safety_robust.py and bench/review_import.py)."""
from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

from tests.helpers.warehouse_data import processed
from warehouse.store import Warehouse


def verdicts_sheet(folder: Path, rows: int) -> tuple[Path, Path]:
    """Land rows/5 calls with five findings each into ``folder/bench.duckdb`` and write
    ``folder/verdicts.csv`` with one verdict per finding (half with a reviewed_at, half
    without). Returns (database, CSV)."""
    db, sheet = folder / "bench.duckdb", folder / "verdicts.csv"
    calls = []
    for i in range(max(1, rows // 5)):
        p = processed(f"c{i:05d}", f"h{i}")
        calls.append(dataclasses.replace(p, findings=[dataclasses.replace(p.findings[0], start=float(k))
                                                      for k in range(5)]))
    with Warehouse(db) as wh:
        wh.land(calls, [], wh.start_run("/bench", {}))
    with sheet.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["call_id", "finding_id", "verdict", "reviewer", "reviewed_at", "note"])
        for n, p in enumerate(calls):
            for k in range(5):
                at = f"2026-11-10T10:{k:02d}:00+08:00" if (n + k) % 2 else ""
                out.writerow([p.call.call_id, f"{p.call.call_id}#{k}", ("confirmed", "rejected")[k % 2],
                              "bench", at, "note"])
    return db, sheet

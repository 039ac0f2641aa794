"""Seconds to import a review CSV of N verdicts (``callqa review --import``).

usage: .venv/bin/python bench/review_import.py [--rows 5000] [--repeat 3]

Lands N/5 calls with 5 findings each into a fresh warehouse, writes a CSV with one verdict per
finding (half with a reviewed_at, half without: tests/helpers/review_data.py), and times
``warehouse.review.import_csv`` (checks, duplicate detection and the insert), then a second
import of the same file (all duplicates). Prints the best of ``--repeat`` runs on fresh
databases.
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.review_data import verdicts_sheet  # noqa: E402
from warehouse.review import import_csv  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    first, again = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            db, sheet = verdicts_sheet(Path(tmp), args.rows)
            t0 = time.perf_counter()
            result = import_csv(db, sheet, "bench")
            first.append(time.perf_counter() - t0)
            assert result.added == args.rows and not result.errors, (result.added, result.errors[:3])
            t0 = time.perf_counter()
            result = import_csv(db, sheet, "bench")
            again.append(time.perf_counter() - t0)
            assert result.added == 0 and result.duplicates == args.rows
    print(f"{platform.processor() or platform.machine()}: {args.rows} verdicts imported in {min(first):.2f} s,"
          f" re-imported (all duplicates) in {min(again):.2f} s")


if __name__ == "__main__":
    main()

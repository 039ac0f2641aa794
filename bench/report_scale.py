"""Time, files and bytes of `callqa report` over one week, on synthetic warehouses of growing size.

usage: .venv/bin/python bench/report_scale.py [--calls 10000 100000] [--days 60] [--flagged-every 100]
                                              [--utterances 4] [--batch 5000] [--dir DIR]
       .venv/bin/python bench/report_scale.py --measure DB --since 2026-11-24 --until 2026-11-30 [--out DIR]

Each warehouse holds N calls spread evenly over DAYS local days ending 2026-11-30 (Asia/Shanghai),
built with tests.helpers.scale_data (the real landing code, Warehouse.land, in batches of BATCH
calls, in time order as nightly runs would land them); one call in FLAGGED_EVERY has a flagged finding.
The report covers the last 7 days. Each report runs in a fresh process (its peak memory is its
own), twice: right after landing (the first read-only open replays DuckDB's write-ahead log in
memory), and again into the same folder, as the next night's report. The recordings are not on disk, so no audio is written: the figures are the report's
own cost (SQL, pages, overview).

``measure_report()`` is the measurement itself, for other scripts (bench/scale.py) to call on
warehouses they build.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.settings import Settings, load_settings  # noqa: E402

END = date(2026, 11, 30)


def measure_report(db: str | Path, out: str | Path, settings: Settings, since: date, until: date) -> dict[str, Any]:
    """Build the report of the calls started ``since``..``until`` into ``out`` and measure it.

    Returns seconds (wall), files and bytes under ``out``, pages (call pages), calls (in the
    window), flagged (findings in the queue), audio (recordings written), peak_rss_mib (of this
    process so far: run it in a fresh process to see the report's own).
    """
    from callqa.report import build_report
    from warehouse.reporting import Window

    t0 = time.perf_counter()
    result = build_report(db, out, settings, window=Window(since, until))
    seconds = time.perf_counter() - t0
    files = [p for p in Path(out).rglob("*") if p.is_file()]
    return {"seconds": round(seconds, 2), "files": len(files), "bytes": sum(p.stat().st_size for p in files),
            "pages": result.pages, "calls": result.calls, "flagged": result.flagged, "audio": result.audio_ok,
            "peak_rss_mib": _peak_rss_mib()}


def _peak_rss_mib() -> int:
    """Peak resident memory of this process (Linux: VmHWM, which starts afresh at exec; the
    ru_maxrss of getrusage would include the parent's at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _measure_in_child(db: Path, out: Path, since: date, until: date) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--measure", str(db), "--out", str(out), "--since", since.isoformat(),
           "--until", until.isoformat()]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--flagged-every", type=int, default=100)
    ap.add_argument("--utterances", type=int, default=4)
    ap.add_argument("--batch", type=int, default=5000, help="calls landed per transaction while building")
    ap.add_argument("--dir", type=Path, help="keep the warehouses and reports here (default: a temp dir)")
    ap.add_argument("--measure", type=Path, metavar="DB", help="only measure one report of DB (prints JSON)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--since", type=date.fromisoformat, default=END - timedelta(days=6))
    ap.add_argument("--until", type=date.fromisoformat, default=END)
    args = ap.parse_args()
    settings = load_settings(Path(__file__).resolve().parents[1] / "tests" / "data" / "test.toml", environ={})
    if args.measure:
        out = args.out or Path(tempfile.mkdtemp(prefix="report-"))
        print(json.dumps(measure_report(args.measure, out, settings, args.since, args.until)))
        return

    from tests.helpers.scale_data import land_spread

    work = args.dir or Path(tempfile.mkdtemp(prefix="report-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; window {args.since} – {args.until};"
          f" {args.utterances} utterances per call, 1 call in {args.flagged_every} flagged, over {args.days} days")
    print("| calls in warehouse | build s | calls in window | pages | report s | files | MB | peak MiB |"
          " again s | again MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in args.calls:
        db = work / f"w{n}.duckdb"
        t0 = time.perf_counter()
        if not db.exists():
            land_spread(db, n, END, days=args.days, flagged_every=args.flagged_every, n_utts=args.utterances,
                        batch=args.batch)
        built = time.perf_counter() - t0
        out = work / f"report{n}"
        shutil.rmtree(out, ignore_errors=True)
        first = _measure_in_child(db, out, args.since, args.until)
        again = _measure_in_child(db, out, args.since, args.until)  # tomorrow's run into the same folder
        print(f"| {n:,} | {built:.0f} | {first['calls']:,} | {first['pages']:,} | {first['seconds']:.1f} |"
              f" {first['files']:,} | {first['bytes'] / 1e6:.1f} | {first['peak_rss_mib']} | {again['seconds']:.1f} |"
              f" {again['peak_rss_mib']} |",
              flush=True)
        if not args.dir:
            shutil.rmtree(out, ignore_errors=True)
            db.unlink(missing_ok=True)


if __name__ == "__main__":
    main()

"""A second night's discovery over a large archive: seconds and bytes read, before and after
fingerprints (issue 12).

usage: .venv/bin/python bench/discovery.py [--files 20000] [--days 20] [--kb 64] [--workdir DIR] [--keep]

Builds ARCHIVE/YYYY/MM/DD/*.wav (``--days`` day folders; each file a copy of a samples/calls
recording cut to ``--kb`` KiB, with bytes of its own, modified days ago), lands a synthetic row
for every one of them through ``Warehouse.land`` (as a first night would), adds tonight's
folder (another day's worth of new files), then measures the second night's discovery and
landed-row lookups, which is what ``flows.nightly`` does before planning:

* before: every file read and hashed again, every landed call loaded (the code before issue 12);
* after: unchanged files keep their stored hash (path, size, mtime), only the discovered calls'
  rows are looked up;
* after, ``--since`` the last day: only that day's folder is listed;
* after, ``--manifest-only`` with a manifest of the last day: the archive is not walked.

Before each measurement the archive's and database's pages are dropped from the page cache
(``posix_fadvise(DONTNEED)`` on each file: nothing else is evicted), so ``read_bytes`` is what
the storage served; ``rchar`` counts every byte read through read()/pread(), cached or not.

``measure_discovery(archive, db, settings)`` is the measurement alone (bench/scale.py calls it).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.domain import ProcessedCall  # noqa: E402
from core.settings import Settings, load_settings  # noqa: E402
from flows.discovery import discover_archive  # noqa: E402
from flows.intake import discover_night  # noqa: E402
from flows.moves import landed_rows, reconcile  # noqa: E402
from warehouse.store import Warehouse  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DAYS_AGO_NS = 3 * 86400 * 10**9


def io_counters() -> dict[str, int]:
    """/proc/self/io: rchar (bytes through read calls, cached or not), read_bytes (from storage)."""
    out = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = int(value)
    return out


def measure_discovery(archive: str | Path, db: str | Path, settings: Settings, *, since: date | None = None,
                      manifest: str | Path | None = None, manifest_only: bool = False,
                      baseline: bool = False) -> dict[str, Any]:
    """One night's discovery of ``archive`` against ``db`` and the lookup of the landed rows it
    needs (what the nightly flow does before planning); nothing is written.

    ``baseline``: as before fingerprints (every file hashed, every landed call loaded).
    Returns seconds, files found, files and bytes hashed, landed rows loaded, and this
    process's rchar/read_bytes over the measurement.
    """
    before, start = io_counters(), time.perf_counter()
    tz = settings.compliance.default_timezone
    if baseline:
        with Warehouse(db, read_only=True) as wh:
            landed = wh.landed_files()
        found = discover_archive(archive, settings.archive, manifest=manifest, default_tz=tz,
                                 prefer={row["path"] for row in landed.values()})
    else:
        found = discover_night(archive, settings, db, manifest=manifest, since=since, manifest_only=manifest_only)
        with Warehouse(db, read_only=True) as wh:
            landed = landed_rows(found, wh)
    done = reconcile(found, landed)
    seconds = time.perf_counter() - start
    after = io_counters()
    return {"seconds": round(seconds, 3), "files": len(found.calls), "hashed_files": found.hashed_files,
            "hashed_bytes": found.hashed_bytes, "landed_rows_loaded": len(landed), "moves": len(done.moves),
            "rchar": after["rchar"] - before["rchar"], "read_bytes": after["read_bytes"] - before["read_bytes"]}


def build_archive(root: Path, files: int, days: int, kb: int, last_day: date, first: int = 0) -> list[Path]:
    """``files`` recordings spread over ``days`` day folders ending ``last_day``, numbered from
    ``first`` (their bytes differ by their number)."""
    sources = [p.read_bytes()[:kb * 1024] for p in sorted((REPO / "samples" / "calls").glob("dev_call_0*.wav"))]
    per_day = -(-files // days)
    made: list[Path] = []
    old = time.time_ns() - DAYS_AGO_NS
    for d in range(days):
        day = last_day - timedelta(days=days - 1 - d)
        folder = root / f"{day:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(min(per_day, files - len(made))):
            n = first + len(made)
            data = bytearray(sources[n % len(sources)])
            data[100:108] = n.to_bytes(8, "little")  # bytes of its own: no two files are duplicates
            path = folder / f"c{n:07d}.wav"
            path.write_bytes(bytes(data))
            os.utime(path, ns=(old, old + n))
            made.append(path)
    return made


def land_first_night(archive: Path, db: Path, settings: Settings) -> float:
    """The first night: discover everything (hashing it) and land a row per call. Seconds."""
    start = time.perf_counter()
    found = discover_night(archive, settings, db)
    results = [ProcessedCall(call=c, duration=60.0, channels=2, source_rate=8000, codec="pcm_s16le", utterances=[],
                             findings=[], metrics=[], diarization="channel", asr_model="bench") for c in found.calls]
    with Warehouse(db) as wh:
        run_id = wh.start_run(str(archive), {})
        for k in range(0, len(results), 2000):
            wh.land(results[k:k + 2000], [], run_id)
    return time.perf_counter() - start


def drop_cache(paths: list[Path]) -> None:
    """Evict these files' pages from the page cache (only theirs; written pages are flushed first)."""
    os.sync()
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--kb", type=int, default=64, help="size of each recording in KiB")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="callqa-discovery-"))
    archive, db = work / "archive", work / "w.duckdb"
    settings = load_settings(REPO / "tests" / "data" / "test.toml", environ={})
    last_day = date(2026, 11, 20)
    try:
        t = time.perf_counter()
        files = build_archive(archive, args.files, args.days, args.kb, last_day)
        size = sum(f.stat().st_size for f in files)
        print(f"archive: {len(files):,} files, {size / 1e6:,.0f} MB in {args.days} day folders"
              f" ({time.perf_counter() - t:.1f} s to write)", flush=True)
        print(f"first night (hash all, land rows): {land_first_night(archive, db, settings):.1f} s", flush=True)
        tonight = last_day + timedelta(days=1)
        night = build_archive(archive, -(-args.files // args.days), 1, args.kb, tonight, first=len(files))
        files += night
        print(f"tonight's folder: {len(night):,} new files, {sum(f.stat().st_size for f in night) / 1e6:,.1f} MB",
              flush=True)
        manifest = work / "night.csv"
        manifest.write_text("path\n" + "".join(f"{p}\n" for p in night), encoding="utf-8")
        cases = [("before: hash every file, load every call", {"baseline": True}),
                 ("after: fingerprints, lookups of the discovered calls", {}),
                 (f"after, --since {tonight} (tonight's folder)", {"since": tonight}),
                 ("after, --manifest-only (the night's manifest)", {"manifest": manifest, "manifest_only": True})]
        results = {}
        for name, kwargs in cases:
            drop_cache(files + [db])
            results[name] = measure_discovery(archive, db, settings, **kwargs)
            r = results[name]
            print(f"{name}: {r['seconds']:.2f} s, {r['files']:,} files, {r['hashed_files']:,} hashed"
                  f" ({r['hashed_bytes'] / 1e6:,.1f} MB), {r['landed_rows_loaded']:,} landed rows loaded,"
                  f" rchar {r['rchar'] / 1e6:,.1f} MB, read_bytes {r['read_bytes'] / 1e6:,.1f} MB", flush=True)
        print(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores", "files": len(files),
                          "archive_bytes": size, "results": results}, indent=1))
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

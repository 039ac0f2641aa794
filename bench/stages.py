"""Where the time goes: seconds per stage for a fixed set of recordings, and peak memory.

usage: .venv/bin/python bench/stages.py [ARCHIVE] [--threads N]

Runs the same plain functions as the nightly flow (flows.recording.process_recording, then
staging and landing in a temporary DuckDB) one call after another, without Prefect, and
prints decode / ASR / diarization / analysis / metrics / landing seconds, their share, the
real-time factor and the peak resident memory of the process.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive", nargs="?", default=str(REPO / "samples" / "calls"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    from flows.discovery import discover
    from core.settings import load_settings
    from flows.recording import process_recording, transcriber_for
    from speech.audio import AudioError
    from warehouse.store import Warehouse
    from warehouse.staging import stage_call

    cfg = load_settings(environ={}).with_overrides({"asr.cpu_threads": args.threads})
    calls, _ = discover(args.archive, cfg.archive, default_tz=cfg.compliance.default_timezone)
    t = time.perf_counter()
    transcriber_for(cfg)
    load_s = time.perf_counter() - t
    totals: dict[str, float] = {}
    audio_s, staged = 0.0, []
    for call in calls:
        try:
            result = process_recording(call, cfg)
        except AudioError:
            continue
        audio_s += result.duration
        for k, v in result.timings.items():
            totals[k] = totals.get(k, 0.0) + v
        t = time.perf_counter()
        staged.append(stage_call(result))
        totals["stage"] = totals.get("stage", 0.0) + time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "b.duckdb") as wh:
        t = time.perf_counter()
        wh.land(staged, [], wh.start_run(args.archive, {}))
        totals["land"] = time.perf_counter() - t
    total = sum(totals.values())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; model {cfg.asr.model} "
          f"{cfg.asr.device}/{cfg.asr.compute_type}, {args.threads} threads")
    print(f"calls {len(staged)}, audio {audio_s:.1f} s, model load {load_s:.1f} s (once per worker)")
    print(f"{'stage':12s} {'seconds':>8s} {'share':>7s} {'RTF':>7s}")
    for k, v in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{k:12s} {v:8.2f} {v / total:7.1%} {v / audio_s:7.3f}")
    print(f"{'total':12s} {total:8.2f} {1:7.1%} {total / audio_s:7.3f}")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

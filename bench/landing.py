"""Rows per second landed into DuckDB through Arrow (one transaction per batch).

usage: .venv/bin/python bench/landing.py [--calls 2000] [--utterances 50] [--batch 500]

Builds realistic processed calls in memory (utterances with words, findings, metrics), then
times staging to Arrow (per call, done by the workers in parallel in a real run) and the
single writer's Warehouse.land on a fresh file separately.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.domain import Call, Finding, ProcessedCall, RoleMetrics, Utterance, Word  # noqa: E402
from warehouse.staging import stage_call  # noqa: E402
from warehouse.store import Warehouse  # noqa: E402

TEXT = "您好,我是工商银行信用卡中心的客服专员,请问是刘伟先生吗"


def make_call(i: int, n_utts: int) -> ProcessedCall:
    utts = []
    for j in range(n_utts):
        t = j * 3.0
        words = [Word(t + k * 0.2, t + k * 0.2 + 0.2, TEXT[k * 2:k * 2 + 2], 0.9) for k in range(len(TEXT) // 2)]
        utts.append(Utterance(speaker=f"ch{j % 2}", role=("collector", "customer")[j % 2], start=t, end=t + 2.8,
                              text=TEXT, words=words, channel=j % 2, labels=["abuse"] if j == 3 else [],
                              sentiment="neutral"))
    findings = [Finding("abuse", "customer", 9.0, 11.8, TEXT, "abuse.insult", 0.9, "medium", 3)]
    metrics = [RoleMetrics(r, n_utts // 2, 60.0, 0.4, 500, 300.0, 1, 0.5, None, -20.0)
               for r in ("collector", "customer")] + [RoleMetrics("all", n_utts, 120, 0.8, 1000, 300.0, 2, 1.0, 30.0, -21.0)]
    return ProcessedCall(call=Call(call_id=f"c{i:06d}", path=f"/a/c{i}.wav", sha256=f"{i:064x}"), duration=150.0,
                         channels=2, source_rate=8000, codec="pcm_s16le", utterances=utts, findings=findings,
                         metrics=metrics, diarization="channel", asr_model="whisper-base")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--utterances", type=int, default=50)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    calls = [make_call(i, args.utterances) for i in range(args.calls)]
    t0 = time.perf_counter()
    staged = [stage_call(c) for c in calls]  # done by the parallel workers in a real run
    arrow_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "bench.duckdb") as wh:
        run = wh.start_run("/a", {})
        t1 = time.perf_counter()
        for k in range(0, len(calls), args.batch):
            wh.land(staged[k:k + args.batch], [], run)
        total_s = time.perf_counter() - t1
        n_utts = wh.con.execute("SELECT count(*) FROM utterances").fetchone()[0]
        n_words = wh.con.execute("SELECT sum(len(words)) FROM utterances").fetchone()[0]
        # landing the same calls again replaces them (the re-run / changed-file path)
        t2 = time.perf_counter()
        for k in range(0, len(calls), args.batch):
            wh.land(staged[k:k + args.batch], [], run)
        replace_s = time.perf_counter() - t2
        assert wh.con.execute("SELECT count(*) FROM utterances").fetchone()[0] == n_utts
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, duckdb file in a temp dir")
    print(f"calls {args.calls}, utterance rows {n_utts} ({n_words} nested words), batch {args.batch} calls")
    print(f"stage to Arrow (workers)   {arrow_s:7.2f} s  {n_utts / arrow_s:10,.0f} utterance rows/s (one core)")
    print(f"land staged (the writer)   {total_s:7.2f} s  {n_utts / total_s:10,.0f} utterance rows/s")
    print(f"re-land (delete + insert)  {replace_s:7.2f} s  {n_utts / replace_s:10,.0f} utterance rows/s")


if __name__ == "__main__":
    main()

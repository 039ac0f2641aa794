"""Throughput of analysis.annotate_row on one core (utterances per second).

    python bench/analyze_text_throughput.py [--seconds 3] [--input dev_utterances.jsonl] [--redact]

Uses the shared dev utterances (or a built-in sample) cycled for a fixed time, after a
warm-up that loads rule packs and models. ``--redact`` also runs ``analysis.redact`` on every
utterance (what the flow does after analysis: masking at rest) and times it alone too.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analysis import annotate_row, redact  # noqa: E402

SAMPLE = [("collector", "您好,我是工商银行信用卡中心的客服专员小陈,请问是刘伟先生吗?"),
          ("customer", "我手机是一八六一二三四八八七六,有事打这个。"),
          ("collector", "你再拖下去,我们会把你的欠款情况告诉你所有的亲戚朋友。"),
          ("customer", "滚,老子没钱。")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--redact", action="store_true", help="also redact every utterance, and time redact alone")
    ap.add_argument("--input", type=Path,
                    default=Path(os.environ.get("CALLQA_SHARED", REPO.parent / "shared")) / "data" / "dev_utterances.jsonl")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        except OSError:
            pass
    rows = SAMPLE
    if args.input.exists():
        with open(args.input, encoding="utf-8") as fh:
            rows = [(r["role"], r["text"]) for r in map(json.loads, fh)]
    for role, text in rows:  # warm-up: load packs, models, caches (and the segmenter)
        annotate_row(role, text)
        redact(text)
    n = 0
    t0 = time.perf_counter()
    deadline = t0 + args.seconds
    while time.perf_counter() < deadline:
        for role, text in rows:
            annotate_row(role, text)
            if args.redact:
                redact(text)
        n += len(rows)
    dt = time.perf_counter() - t0
    chars = sum(len(t) for _, t in rows) / len(rows)
    what = "annotate_row + redact" if args.redact else "annotate_row"
    print(f"{what}: {n / dt:,.0f} utterances/s on one core "
          f"({n} utterances in {dt:.2f}s, mean {chars:.0f} chars)")
    if args.redact:
        n = 0
        t0 = time.perf_counter()
        while time.perf_counter() < t0 + args.seconds:
            for _, text in rows:
                redact(text)
            n += len(rows)
        dt = time.perf_counter() - t0
        print(f"redact alone: {n / dt:,.0f} utterances/s ({1e6 * dt / n:.0f} µs each)")


if __name__ == "__main__":
    main()

"""Microseconds per utterance of each built-in rule pack, and its three slowest rules.

    python bench/rule_pack_timing.py [--repeat 3] [FILES...]

Reads the normalised text of labelled utterances (default: tests/data/dev_utterances.jsonl
and every analysis/evaldata/*_utterances.jsonl) and times `pack(name).hits` on each, so a
rule pack change can be compared with the code before it (run it from both checkouts back
to back: the shared machine's load moves the absolute figures).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analysis.evaluate import load_rows  # noqa: E402
from analysis.normalize import normalize  # noqa: E402
from analysis.rules import pack  # noqa: E402

PACKS = ("abuse", "threat", "privacy", "sentiment", "self_harm", "steps")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    files = args.files or [REPO / "tests/data/dev_utterances.jsonl",
                           *sorted((REPO / "analysis/evaldata").glob("*_utterances.jsonl"))]
    norms = [(r["role"], normalize(r["text"])) for f in files for r in load_rows(f)]
    print(f"{len(norms)} utterances from {len(files)} files")
    for name in PACKS:
        p = pack(name)
        t = time.perf_counter()
        for _ in range(args.repeat):
            for role, text in norms:
                p.hits(text, role)
        per = (time.perf_counter() - t) / (args.repeat * len(norms)) * 1e6
        slowest = []
        for rule in p.rules:
            t = time.perf_counter()
            for role, text in norms:
                rule.find(text, role)
            slowest.append(((time.perf_counter() - t) / len(norms) * 1e6, rule.id))
        top = ", ".join(f"{rid} {us:.0f}" for us, rid in sorted(slowest)[-3:][::-1])
        print(f"{name:10s} {per:6.0f} us/utterance  (slowest: {top})")


if __name__ == "__main__":
    main()

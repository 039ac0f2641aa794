"""Span-level scores of redaction (what `redaction_spans` masks) against gold spans.

    python -m analysis.evaluate_redaction FILE.jsonl [FILE...] [--show]

Rows: ``{"id", "role", "text", "spans": [{"start", "end", "kind", "value"}]}`` (offsets into
``text``, end exclusive). A gold span counts as found when every character of it is masked.
False positives are masked characters outside every gold span, counted as spans: each maximal
run of them is one, attributed to the kind the redaction gave it. Precision per kind is
found / (found + false positives of that kind); ``all`` pools every kind. ``--show`` lists each
miss and false positive with its row id (evaluation data only; nothing is logged).
Gold kinds named otherwise by other writers are read as ours (`KIND_ALIASES`: id -> id_card,
card -> bank_card, id_partial -> partial_id).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from analysis.pii import redaction_spans

KIND_ALIASES = {"id": "id_card", "card": "bank_card", "id_partial": "partial_id"}


def load_rows(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, spans = row["text"], row.get("spans", [])
                if not all(0 <= s["start"] < s["end"] <= len(text) for s in spans):
                    raise ValueError("span outside the text")
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}: row {lineno}: {type(exc).__name__}: {exc}") from None
            rows.append(row)
    return rows


def score_rows(rows: list[dict]) -> tuple[Counter, Counter, Counter, list[tuple[str, str, str, str]]]:
    """(gold, found, false_pos) counts by kind, and (id, what, kind, value) of every miss/FP."""
    gold, found, false_pos = Counter(), Counter(), Counter()
    notes = []
    for row in rows:
        text = row["text"]
        masked_kind: dict[int, str] = {}
        for s, e, kind in redaction_spans(text):
            for i in range(s, e):
                masked_kind[i] = kind
        in_gold = set()
        for span in row.get("spans", []):
            s, e, kind = span["start"], span["end"], KIND_ALIASES.get(span["kind"], span["kind"])
            in_gold.update(range(s, e))
            gold[kind] += 1
            if all(i in masked_kind for i in range(s, e)):
                found[kind] += 1
            else:
                notes.append((row["id"], "miss", kind, text[s:e]))
        run: list[int] = []
        for i in sorted(set(masked_kind) - in_gold) + [-2]:
            if run and i != run[-1] + 1:
                kind = masked_kind[run[0]]
                false_pos[kind] += 1
                notes.append((row["id"], "false positive", kind, text[run[0]:run[-1] + 1]))
                run = []
            run.append(i)
    return gold, found, false_pos, notes


def report(gold: Counter, found: Counter, false_pos: Counter) -> list[str]:
    lines = [f"{'kind':<12}{'gold':>6}{'found':>7}{'fp':>5}{'P':>7}{'R':>7}{'F1':>7}"]
    kinds = sorted(set(gold) | set(false_pos))
    for kind in kinds + ["all"]:
        g = sum(gold.values()) if kind == "all" else gold[kind]
        f = sum(found.values()) if kind == "all" else found[kind]
        fp = sum(false_pos.values()) if kind == "all" else false_pos[kind]
        p = f / (f + fp) if f + fp else 1.0
        r = f / g if g else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        lines.append(f"{kind:<12}{g:>6}{f:>7}{fp:>5}{p:>7.2f}{r:>7.2f}{f1:>7.2f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--show", action="store_true", help="list misses and false positives")
    args = ap.parse_args(argv)
    for path in args.files:
        try:
            rows = load_rows(path)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        gold, found, false_pos, notes = score_rows(rows)
        print(f"== {path.name} ({len(rows)} rows)")
        print("\n".join(report(gold, found, false_pos)))
        if args.show:
            for row_id, what, kind, value in notes:
                print(f"  {row_id} {what} {kind}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

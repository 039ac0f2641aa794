"""The repository's labelled utterance sets, for training and leave-one-set-out evaluation.

    python -m analysis.training.labelled_sets      # rows, labels and duplicates per set

Each set is one writer / round (tests/data/dev_utterances.jsonl and
analysis/evaldata/<name>_utterances.jsonl). `load_sets()` returns them by name, in the
order they were written; rows whose normalised text occurs in an earlier set are dropped
from the later one (`duplicates()` lists them) so no row is both trained on and held out.
`loso_splits()` yields (held_out_name, train_rows, test_rows): every other set trains.
`SURROGATE` is the blind7-as-first-seen split (round 2): train on the ten sets round 1 trained
on, test on blind7 (written blind for round 1; its misses have since been read, so it is a
surrogate, no longer blind). `SURROGATE_R1` is round 1's blind6-as-first-seen split.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from analysis.normalize import normalize  # noqa: E402

EVALDATA = REPO / "analysis" / "evaldata"
# writing order (git history): dev, heldout, heldout2, heldout3, blind4, blind5, dev7, blind6, dev8, dev9, blind7
SET_FILES = {
    "dev": REPO / "tests" / "data" / "dev_utterances.jsonl",
    "heldout": EVALDATA / "heldout_utterances.jsonl",
    "heldout2": EVALDATA / "heldout2_utterances.jsonl",
    "heldout3": EVALDATA / "heldout3_utterances.jsonl",
    "blind4": EVALDATA / "blind4_utterances.jsonl",
    "blind5": EVALDATA / "blind5_utterances.jsonl",
    "dev7": EVALDATA / "dev7_utterances.jsonl",
    "blind6": EVALDATA / "blind6_utterances.jsonl",
    "dev8": EVALDATA / "dev8_utterances.jsonl",
    "dev9": EVALDATA / "dev9_utterances.jsonl",
    "blind7": EVALDATA / "blind7_utterances.jsonl",
    "blind8": EVALDATA / "blind8_utterances.jsonl",
    "dev10": EVALDATA / "dev10_utterances.jsonl",
    "dev11": EVALDATA / "dev11_utterances.jsonl",
    "dev12": EVALDATA / "dev12_utterances.jsonl",
    # round 4: blind9 as adjudicated (the writer's file with the 27 second-reading decisions)
    "blind9": EVALDATA / "blind9_adjudicated_utterances.jsonl",
    "dev13": EVALDATA / "dev13_utterances.jsonl",
    "dev14": EVALDATA / "dev14_utterances.jsonl",
    # round 5: blind10 and blind11 as adjudicated (both judged round 4 once, now spent)
    "blind10": EVALDATA / "blind10_adjudicated_utterances.jsonl",
    "blind11": EVALDATA / "blind11_adjudicated_utterances.jsonl",
    "dev15": EVALDATA / "dev15_utterances.jsonl",
    "dev16": EVALDATA / "dev16_utterances.jsonl",
    # round 6: blind12 as adjudicated (judged round 5 once, now spent)
    "blind12": EVALDATA / "blind12_adjudicated_utterances.jsonl",
    "dev17": EVALDATA / "dev17_utterances.jsonl",
    # round 7: blind13 as adjudicated (judged round 6 once, now spent)
    "blind13": EVALDATA / "blind13_adjudicated_utterances.jsonl",
    "dev18": EVALDATA / "dev18_utterances.jsonl",
    # round 8: blind14 as adjudicated (judged round 7 once, now spent)
    "blind14": EVALDATA / "blind14_adjudicated_utterances.jsonl",
    "dev19": EVALDATA / "dev19_utterances.jsonl",
    # round 9: blind15 as adjudicated (judged round 8 once, now spent)
    "blind15": EVALDATA / "blind15_adjudicated_utterances.jsonl",
    "dev20": EVALDATA / "dev20_utterances.jsonl",
}
SURROGATE = ("blind7", ("dev", "heldout", "heldout2", "heldout3", "blind4", "blind5", "dev7", "blind6", "dev8", "dev9"))
SURROGATE_R3 = ("blind8", tuple(n for n in SET_FILES if n not in ("blind8", "blind9")))
# round 4: blind9 as first seen (the round-3 rules, vetoes and thresholds were frozen before it)
SURROGATE_R4 = ("blind9", tuple(n for n in SET_FILES if n != "blind9"))
# round 5: blind11 as first seen (written after round 4 was frozen); dev15 and dev16 were written
# with blind10/11's kinds of misses in mind, so they train neither side
SURROGATE_R5 = ("blind11", tuple(n for n in SET_FILES if n not in ("blind11", "dev15", "dev16")))
SURROGATE_R1 = ("blind6", ("dev", "heldout", "heldout2", "heldout3", "blind4", "blind5", "dev7"))


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _key(row: dict) -> str:
    return normalize(row["text"])


def load_sets(names: tuple[str, ...] | None = None) -> dict[str, list[dict]]:
    """Rows per set (each row gains `set`), later duplicates of earlier rows dropped."""
    seen: set[str] = set()
    out: dict[str, list[dict]] = {}
    for name, path in SET_FILES.items():
        rows = []
        for r in read_jsonl(path):
            k = _key(r)
            if k in seen:
                continue
            seen.add(k)
            rows.append({**r, "set": name})
        if names is None or name in names:
            out[name] = rows
    return out


def duplicates() -> list[tuple[str, str, str]]:
    """(set, id, first set) for every row whose normalised text an earlier set (or row) holds."""
    first: dict[str, str] = {}
    dups = []
    for name, path in SET_FILES.items():
        for r in read_jsonl(path):
            k = _key(r)
            if k in first:
                dups.append((name, r.get("id", "?"), first[k]))
            else:
                first[k] = name
    return dups


def loso_splits(sets: dict[str, list[dict]] | None = None):
    """(held-out name, train rows, test rows) for each set, trained on all the others."""
    sets = sets or load_sets()
    for name, rows in sets.items():
        yield name, [r for n, rs in sets.items() if n != name for r in rs], rows


def surrogate_split(sets: dict[str, list[dict]] | None = None):
    sets = sets or load_sets()
    test, train_names = SURROGATE
    return test, [r for n in train_names for r in sets[n]], sets[test]


def main() -> int:
    from collections import Counter

    sets = load_sets()
    dups = duplicates()
    print(f"{'set':10} {'rows':>5} {'abuse':>6} {'threat':>7} {'privacy':>8} {'self_harm':>9}  sentiment neg/neu/pos")
    for name, rows in sets.items():
        c = Counter(lab for r in rows for lab in r.get("labels", []))
        s = Counter(r.get("sentiment") for r in rows)
        print(f"{name:10} {len(rows):5} {c['abuse']:6} {c['threat']:7} {c['privacy']:8} {c['self_harm']:9}"
              f"  {s['negative']}/{s['neutral']}/{s['positive']}")
    print(f"duplicates dropped (normalised text already in an earlier set or row): {len(dups)}")
    for d in dups:
        print(f"  {d[0]} {d[1]} (first in {d[2]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

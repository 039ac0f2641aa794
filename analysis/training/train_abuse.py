"""Train the abuse classifier: COLD train + insult lexicons (+ in-domain safe turns).

    python -m analysis.training.train_abuse [--shared /work/shared/data]

Held-out: COLD dev (printed). Output: analysis/models/abuse_cold_lr.npz (numpy only).
Deterministic (liblinear, fixed data order). Takes about a minute on one core.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
from pathlib import Path

from analysis.training.common import DEFAULT_SHARED, binary_scores, export, featurise, fit_lr

N_FEATURES = 1 << 17
C = 2.0


def read_cold(path: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(row["TEXT"])
            labels.append(int(row["label"]))
    return texts, labels


def read_lexicon_insults(lex_dir: Path) -> list[str]:
    out = []
    for name in ("tea_silencer_insult.txt", "glin_profanity_zh.txt",
                 "tea_silencer_sarcasm_lines_feima.txt", "tea_silencer_sarcasm_lines_yinyang.txt"):
        path = lex_dir / name
        if path.exists():
            out += [w.strip() for w in path.read_text(encoding="utf-8").splitlines()
                    if len(w.strip()) >= 2 and not w.strip().isascii()]
    return sorted(set(out))


def read_helpdesk_turns(stc3: Path, limit: int) -> list[str]:
    with gzip.open(stc3, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    turns = [u for d in data for t in d["turns"] if t["sender"] == "helpdesk" for u in t["utterances"]]
    random.Random(13).shuffle(turns)
    return [t[:120] for t in turns[:limit]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = ap.parse_args()
    text = args.shared / "text"
    tr_x, tr_y = read_cold(text / "COLD" / "train.csv")
    dv_x, dv_y = read_cold(text / "COLD" / "dev.csv")
    lex = read_lexicon_insults(text / "lexicons")
    safe = read_helpdesk_turns(text / "STC3_helpdesk" / "train_data_cn.json.gz", 3000)
    print(f"COLD train {len(tr_x)}, lexicon positives {len(lex)}, helpdesk negatives {len(safe)}")
    X = featurise(tr_x + lex + safe, N_FEATURES)
    y = tr_y + [1] * len(lex) + [0] * len(safe)
    clf = fit_lr(X, y, C)
    p = clf.predict_proba(featurise(dv_x, N_FEATURES))[:, 1]
    scores = binary_scores(dv_y, p)
    print("COLD dev (held out):", json.dumps(scores))
    export("abuse_cold_lr", clf, N_FEATURES, {
        "task": "offensive (COLD label 1) vs safe", "C": C,
        "train": "COLD train + lexicon insults (>=2 chars) + 3000 STC3 helpdesk turns (safe)",
        "heldout_cold_dev": scores})


if __name__ == "__main__":
    main()

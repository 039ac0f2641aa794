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


def read_cold_rows(path: Path) -> list[dict]:
    """COLD rows as {text, label, topic}."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [{"text": row["TEXT"], "label": int(row["label"]), "topic": row["topic"]}
                for row in csv.DictReader(fh)]


def read_cold(path: Path) -> tuple[list[str], list[int]]:
    rows = read_cold_rows(path)
    return [r["text"] for r in rows], [r["label"] for r in rows]


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


def extra_examples(text: Path) -> tuple[list[str], list[int]]:
    """Lexicon insults (offensive) + 3000 STC3 helpdesk turns (safe), added to COLD train."""
    lex = read_lexicon_insults(text / "lexicons")
    safe = read_helpdesk_turns(text / "STC3_helpdesk" / "train_data_cn.json.gz", 3000)
    return lex + safe, [1] * len(lex) + [0] * len(safe)


def describe() -> str:
    return f"char 1-3-gram hashing 2^{N_FEATURES.bit_length() - 1}, liblinear LR C={C}"


def fit(texts: list[str], labels: list[int], quiet: bool = False):
    return fit_lr(featurise(texts, N_FEATURES), labels, C)


def predict(clf, texts: list[str]):
    return clf.predict_proba(featurise(texts, N_FEATURES))[:, 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = ap.parse_args()
    text = args.shared / "text"
    tr_x, tr_y = read_cold(text / "COLD" / "train.csv")
    dv_x, dv_y = read_cold(text / "COLD" / "dev.csv")
    ex_x, ex_y = extra_examples(text)
    print(f"COLD train {len(tr_x)}, lexicon positives {sum(ex_y)}, helpdesk negatives {ex_y.count(0)}")
    clf = fit(tr_x + ex_x, tr_y + ex_y)
    p = predict(clf, dv_x)
    scores = binary_scores(dv_y, p)
    print("COLD dev (held out):", json.dumps(scores))
    export("abuse_cold_lr", clf, N_FEATURES, {
        "task": "offensive (COLD label 1) vs safe", "C": C,
        "train": "COLD train + lexicon insults (>=2 chars) + 3000 STC3 helpdesk turns (safe)",
        "heldout_cold_dev": scores})


if __name__ == "__main__":
    main()

"""Train the polarity model: ChnSentiCorp + waimai_10k + STC3 dialogue turns.

    python -m analysis.training.train_sentiment [--shared /work/shared/data]

Positive vs negative logistic regression; the neutral band used at inference is
calibrated on dialogue (STC3 helpdesk turns, mostly neutral service talk) and written
into the model metadata. Held-out: ChnSentiCorp dev and 10% of waimai (printed).
Output: analysis/models/sentiment_lr.npz (numpy only). About a minute on one core.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
from pathlib import Path

import numpy as np

from analysis.training.common import DEFAULT_SHARED, binary_scores, export, featurise, fit_lr

N_FEATURES = 1 << 17
C = 2.0


def read_tsv(path: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            texts.append(row["text_a"])
            labels.append(int(row["label"]))
    return texts, labels


def read_waimai(path: Path) -> tuple[list[str], list[int]]:
    with open(path, encoding="utf-8") as fh:
        rows = [(r["review"], int(r["label"])) for r in csv.DictReader(fh)]
    return [r[0] for r in rows], [r[1] for r in rows]


def read_stc3(path: Path):
    """Customer turns of clearly unhappy (mean S <= -1) / happy (mean S >= 1) dialogues,
    and helpdesk turns (for calibrating the neutral band)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    neg, pos, helpdesk = [], [], []
    for d in data:
        s = np.mean([a["quality"]["S"] for a in d["annotations"]])
        for t in d["turns"]:
            text = "".join(t["utterances"])[:150]
            if t["sender"] == "helpdesk":
                helpdesk.append(text)
            elif s <= -1.0:
                neg.append(text)
            elif s >= 1.0:
                pos.append(text)
    return neg, pos, helpdesk


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = ap.parse_args()
    text = args.shared / "text"
    cs_x, cs_y = read_tsv(text / "ChnSentiCorp" / "train.tsv")
    csd_x, csd_y = read_tsv(text / "ChnSentiCorp" / "dev.tsv")
    wm_x, wm_y = read_waimai(text / "waimai_10k" / "waimai_10k.csv")
    order = list(range(len(wm_x)))
    random.Random(7).shuffle(order)
    cut = len(order) // 10
    wmd = [order[i] for i in range(cut)]
    wmt = [order[i] for i in range(cut, len(order))]
    neg, pos, helpdesk = read_stc3(text / "STC3_helpdesk" / "train_data_cn.json.gz")
    random.Random(11).shuffle(helpdesk)
    print(f"ChnSentiCorp {len(cs_x)}, waimai {len(wmt)}, STC3 customer neg {len(neg)} pos {len(pos)}")
    X_text = cs_x + [wm_x[i] for i in wmt] + neg + pos
    y = cs_y + [wm_y[i] for i in wmt] + [0] * len(neg) + [1] * len(pos)
    clf = fit_lr(featurise(X_text, N_FEATURES), y, C)
    held = {}
    p = clf.predict_proba(featurise(csd_x, N_FEATURES))[:, 1]
    held["chnsenticorp_dev"] = binary_scores(csd_y, p)
    p = clf.predict_proba(featurise([wm_x[i] for i in wmd], N_FEATURES))[:, 1]
    held["waimai_heldout_10pct"] = binary_scores([wm_y[i] for i in wmd], p)
    for k, v in held.items():
        print(f"{k} (held out, positive class):", json.dumps(v))
    # Neutral band: the central 80% of helpdesk-turn probabilities count as neutral.
    ph = clf.predict_proba(featurise(helpdesk[:3000], N_FEATURES))[:, 1]
    lo, hi = (float(x) for x in np.quantile(ph, [0.10, 0.90]))
    print(f"neutral band calibrated on 3000 STC3 helpdesk turns: p_pos in [{lo:.3f}, {hi:.3f}]")
    export("sentiment_lr", clf, N_FEATURES, {
        "task": "positive (1) vs negative (0) polarity", "C": C,
        "train": "ChnSentiCorp train + 90% waimai_10k + STC3 customer turns (S<=-1 neg, S>=1 pos)",
        "neutral_band": [round(lo, 4), round(hi, 4)], "heldout": held})


if __name__ == "__main__":
    main()

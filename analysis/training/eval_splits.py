"""How the abuse classifier transfers: COLD splits that do not resemble the training rows.

    python -m analysis.training.eval_splits [--shared /work/shared/data] [--tune]
        [--recipe current|before] [--C C] [--words N] [--bits B] [--balanced]

Each split trains a recipe (`train_abuse.Recipe`; default the production one, `--recipe
before` the char-only model up to 2026-11-28; --C/--words/--bits/--balanced override it) on
COLD train rows + lexicon insults + STC3 helpdesk turns (as train_abuse does) and scores
another part of COLD (P/R/F1 at 0.5, AUC):

* ``cold_dev``       all of COLD train -> all of COLD dev (the figure train_abuse prints);
* ``topic:<T>``      leave one topic out: COLD train rows of the two other topics ->
                     COLD dev rows of topic T (race, gender, region);
* ``length``         COLD train rows of >= 30 chars -> COLD dev rows of < 20 chars (short,
                     utterance-like text; COLD is written comments, mean ~48 chars).

These are the held-out figures to report. ``--tune`` scores each topic fold on the COLD
*train* rows of the held-out topic instead and skips the dev.csv splits: the split to
choose features and hyper-parameters on, so the dev.csv figures stay untouched by tuning.
Test rows whose normalised text is among the training texts are dropped. Needs the
training extras (scikit-learn, scipy); a few minutes on one core.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from analysis.normalize import normalize
from analysis.training import train_abuse
from analysis.training.common import DEFAULT_SHARED, binary_scores, fit_lr

TOPICS = ("race", "gender", "region")
SHORT, LONG = 20, 30


def splits(cold_train: list[dict], cold_dev: list[dict], tune: bool) -> dict[str, tuple[list, list]]:
    """name -> (training COLD rows, test rows)."""
    out = {} if tune else {"cold_dev": (cold_train, cold_dev)}
    for topic in TOPICS:
        train = [r for r in cold_train if r["topic"] != topic]
        test = [r for r in (cold_train if tune else cold_dev) if r["topic"] == topic]
        out[f"topic:{topic}"] = (train, test)
    if not tune:
        out["length"] = ([r for r in cold_train if len(r["text"]) >= LONG],
                         [r for r in cold_dev if len(r["text"]) < SHORT])
    return out


class Matrix:
    """Features of every text computed once (rows picked per split)."""

    def __init__(self, texts: list[str], recipe: train_abuse.Recipe) -> None:
        self.row = {}
        for t in texts:
            self.row.setdefault(t, len(self.row))
        self.X = train_abuse.features(list(self.row), recipe)

    def __call__(self, texts: list[str]):
        return self.X[[self.row[t] for t in texts]]


def run_split(train_rows: list[dict], test_rows: list[dict], extra: tuple[list, list],
              recipe: train_abuse.Recipe, matrix: Matrix, sweep: bool = False) -> dict:
    """Fit `recipe` on train_rows (+ the extra texts/labels), score test_rows."""
    ex_x, ex_y = extra
    tr_x = [r["text"] for r in train_rows] + ex_x
    tr_y = [r["label"] for r in train_rows] + ex_y
    seen = {normalize(t) for t in tr_x}
    test_rows = [r for r in test_rows if normalize(r["text"]) not in seen]
    clf = train_abuse.fit_matrix(matrix(tr_x), tr_y, recipe, quiet=True)
    p = clf.predict_proba(matrix([r["text"] for r in test_rows]))[:, 1]
    y = [r["label"] for r in test_rows]
    s = binary_scores(y, p)
    if sweep:
        s["f1_at"] = {t: binary_scores(y, p, t)["f1"] for t in (0.4, 0.5, 0.6, 0.7, 0.8)}
    return {"n_train": len(tr_x), "n_test": len(test_rows),
            "pos_test": int(sum(r["label"] for r in test_rows)), **s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--tune", action="store_true", help="score topic folds on COLD train rows")
    ap.add_argument("--only", help="comma-separated split names")
    ap.add_argument("--recipe", choices=("current", "before"), default="current")
    ap.add_argument("--C", type=float)
    ap.add_argument("--words", type=int, help="word n-gram max (0: chars only)")
    ap.add_argument("--bits", type=int)
    ap.add_argument("--balanced", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--nb", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--complaints", type=int, help="negative reviews added as safe")
    ap.add_argument("--sweep", action="store_true", help="also F1 at other thresholds")
    args = ap.parse_args(argv)
    recipe = train_abuse.RECIPE if args.recipe == "current" else train_abuse.BEFORE
    over = {"C": args.C, "word_ngram_max": args.words, "bits": args.bits, "balanced": args.balanced,
            "nb": args.nb, "complaints": args.complaints}
    recipe = replace(recipe, **{k: v for k, v in over.items() if v is not None})
    cold = args.shared / "text" / "COLD"
    if not (cold / "train.csv").exists():
        print(f"error: COLD not found under {args.shared} (use --shared)")
        return 2
    tr = train_abuse.read_cold_rows(cold / "train.csv")
    dv = train_abuse.read_cold_rows(cold / "dev.csv")
    extra = train_abuse.extra_examples(args.shared / "text", recipe)
    print(f"recipe: {recipe.describe()}")
    matrix = Matrix([r["text"] for r in tr + dv] + extra[0], recipe)
    results = {}
    wanted = set(args.only.split(",")) if args.only else None
    for name, (train, test) in splits(tr, dv, args.tune).items():
        if wanted and name not in wanted:
            continue
        res = run_split(train, test, extra, recipe, matrix, args.sweep)
        results[name] = res
        print(f"{name:14s} " + json.dumps(res))
    topic = [results[f"topic:{t}"] for t in TOPICS if f"topic:{t}" in results]
    if topic:
        mean = {k: round(float(np.mean([r[k] for r in topic])), 4)
                for k in ("precision", "recall", "f1", "auc")}
        print(f"{'topic mean':14s} " + json.dumps(mean))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train the learned in-domain layer (analysis/learned.py) on the repository's labelled sets.

    python -m analysis.training.train_wording            # all sets -> analysis/models/wording_*.npz
    python -m analysis.training.train_wording --check    # train again, compare with the committed weights

Per label (abuse, threat, privacy, self_harm) one binary logistic model, and for sentiment
negative-vs-rest and positive-vs-rest, over hashed char 1-3-grams + jieba word 1-2-grams
(analysis.features, the abuse recipe's features) of the normalised text, L2-normalised
binary; liblinear, C = RECIPE["C"], class weights balanced. Deterministic (liblinear with a
fixed seed, rows in set order). Thresholds are not chosen here but in
`analysis.training.eval_wording` (leave-one-set-out) and written in the rule packs' YAML.
Training needs scikit-learn + scipy; inference numpy + jieba only.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from analysis.training.common import MODELS_DIR, featurise, fit_lr
from analysis.training.labelled_sets import load_sets

LABEL_MODELS = {"abuse": "wording_abuse", "threat": "wording_threat",
                "privacy": "wording_privacy", "self_harm": "wording_self_harm"}
SENTIMENT_MODELS = {"negative": "wording_sentiment_neg", "positive": "wording_sentiment_pos"}
MODEL_NAMES = tuple(LABEL_MODELS.values()) + tuple(SENTIMENT_MODELS.values())
RECIPE = {"n_features": 2 ** 16, "ngram_max": 3, "word_ngram_max": 2, "C": 32.0, "class_weight": "balanced"}


def matrix(rows: list[dict], recipe: dict = RECIPE):
    return featurise([r["text"] for r in rows], recipe["n_features"], recipe["ngram_max"], recipe["word_ngram_max"])


def targets(rows: list[dict]) -> dict[str, np.ndarray]:
    """0/1 target per model name."""
    out = {name: np.array([int(lab in r.get("labels", ())) for r in rows]) for lab, name in LABEL_MODELS.items()}
    for cls, name in SENTIMENT_MODELS.items():
        out[name] = np.array([int(r.get("sentiment") == cls) for r in rows])
    return out


def fit(X, y, recipe: dict = RECIPE) -> tuple[np.ndarray, float]:
    """(float16 weights, bias) of one model."""
    clf = fit_lr(X, y, C=recipe["C"], class_weight=recipe["class_weight"], quiet=True)
    return clf.coef_.ravel().astype(np.float16), float(clf.intercept_[0])


def save(folder: Path, name: str, w: np.ndarray, b: float, meta: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.npz"
    meta = {"name": name, "n_features": int(w.shape[0]), **meta}
    np.savez_compressed(path, weights=w, bias=np.float64(b), meta=np.array(json.dumps(meta, ensure_ascii=False)))
    return path


def train_all(rows: list[dict], folder: Path, trained_on: str, recipe: dict = RECIPE, X=None) -> dict[str, Path]:
    """Fit every wording model on `rows` (X: their feature matrix, if already built) into `folder`."""
    X = matrix(rows, recipe) if X is None else X
    meta = {"ngram_max": recipe["ngram_max"], "word_ngram_max": recipe["word_ngram_max"],
            "features": "char 1-3gram + jieba word 1-2gram crc32 hashing, binary, L2-normalised",
            "recipe": {k: recipe[k] for k in ("C", "class_weight")}, "trained_on": trained_on, "rows": len(rows)}
    out = {}
    for name, y in targets(rows).items():
        w, b = fit(X, y, recipe)
        out[name] = save(folder, name, w, b, {**meta, "positives": int(y.sum())})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=MODELS_DIR)
    ap.add_argument("--check", action="store_true", help="train into a temporary folder and compare with --out")
    args = ap.parse_args(argv)
    sets = load_sets()
    rows = [r for rs in sets.values() for r in rs]
    trained_on = ", ".join(f"{n} ({len(rs)})" for n, rs in sets.items())
    if args.check:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            paths = train_all(rows, Path(tmp), trained_on)
            same = True
            for name, path in paths.items():
                with np.load(path) as a, np.load(args.out / f"{name}.npz") as b:
                    eq = np.array_equal(a["weights"], b["weights"]) and float(a["bias"]) == float(b["bias"])
                print(f"  {name}: {'same weights' if eq else 'DIFFERENT'}")
                same &= eq
        return 0 if same else 1
    paths = train_all(rows, args.out, trained_on)
    for name, path in paths.items():
        print(f"  wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

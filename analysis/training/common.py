"""Shared helpers for the training scripts: featurise, fit, export to .npz."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from analysis.features import MODELS_DIR, model_features  # noqa: E402
from analysis.normalize import normalize  # noqa: E402

DEFAULT_SHARED = REPO.parent / "shared" / "data"


def featurise(texts: list[str], n_features: int, ngram_max: int = 3, word_ngram_max: int = 0,
              lexicons=(), lexicon_multi: bool = False, mask=None, mask_keep: bool = False,
              group_hits: bool = False):
    """CSR matrix of L2-normalised binary hashed n-grams (+ lexicon hits) of the normalised texts
    (group mentions masked with `mask`, a Lexicon, as `features.model_features` does)."""
    from scipy.sparse import csr_matrix

    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for t in texts:
        idx = model_features(normalize(t), n_features, ngram_max, word_ngram_max, lexicons,
                             lexicon_multi, mask, mask_keep, group_hits)
        indices.extend(idx)
        v = 1.0 / np.sqrt(len(idx)) if idx else 0.0
        data.extend([v] * len(idx))
        indptr.append(len(indices))
    return csr_matrix((np.asarray(data, np.float32), np.asarray(indices, np.int32),
                       np.asarray(indptr, np.int64)), shape=(len(texts), n_features))


def fit_lr(X, y, C: float, sample_weight=None, class_weight=None, quiet: bool = False):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=2000, solver="liblinear", class_weight=class_weight,
                             random_state=0)
    t0 = time.time()
    clf.fit(X, y, sample_weight=sample_weight)
    if not quiet:
        print(f"  fit in {time.time() - t0:.1f}s")
    return clf


def best_threshold(y_true, p, grid=None) -> float:
    """The threshold with the highest F1 on (y_true, p) (validation rows), ties to the one
    nearest 0.5; grid 0.20..0.80 by 0.01."""
    y = np.asarray(y_true) == 1
    p = np.asarray(p)
    grid = np.round(np.arange(0.20, 0.805, 0.01), 2) if grid is None else grid
    best = (-1.0, 0.0, 0.5)
    for t in grid:
        pred = p >= t
        tp = int((pred & y).sum())
        f1 = 2 * tp / (pred.sum() + y.sum()) if pred.sum() + y.sum() else 0.0
        key = (round(f1, 6), -abs(t - 0.5), float(t))
        if key > best:
            best = key
    return best[2]


def binary_scores(y_true, p, threshold: float = 0.5) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    y_true = np.asarray(y_true)
    pred = (np.asarray(p) >= threshold).astype(int)
    tp = int(((pred == 1) & (y_true == 1)).sum())
    fp = int(((pred == 1) & (y_true == 0)).sum())
    fn = int(((pred == 0) & (y_true == 1)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"accuracy": round(float((pred == y_true).mean()), 4), "precision": round(prec, 4),
            "recall": round(rec, 4), "f1": round(f1, 4),
            "auc": round(float(roc_auc_score(y_true, p)), 4)}


def export(name: str, clf, n_features: int, meta: dict) -> Path:
    """Save weights (float16) + bias + JSON metadata as models/<name>.npz."""
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    w = clf.coef_.ravel().astype(np.float16)
    meta = {"name": name, "n_features": n_features, "ngram_max": 3,
            "features": "char 1-3gram crc32 hashing, binary, L2-normalised", **meta}
    # meta may set ngram_max, word_ngram_max (jieba word n-grams, analysis.features), lexicons
    # (names under features.LEXICON_DIR), lexicon_multi, mask (a list name under LEXICON_DIR whose
    # entries are masked), mask_keep and group_hits, threshold and its features text
    path = MODELS_DIR / f"{name}.npz"
    np.savez_compressed(path, weights=w, bias=np.float64(clf.intercept_[0]),
                        meta=np.array(json.dumps(meta, ensure_ascii=False)))
    print(f"  wrote {path.relative_to(REPO)} ({path.stat().st_size // 1024} KiB)")
    return path

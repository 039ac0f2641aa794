"""Char n-gram hashing features and the numpy-only linear model used at inference.

Training (analysis/training/*.py) and inference share `hashed_ngrams`, so a model is just
a weight vector and a bias saved with numpy (`.npz`, no pickles, no sklearn at runtime).
"""
from __future__ import annotations

import json
import logging
import math
import re
from functools import lru_cache
from pathlib import Path
from zlib import crc32

import numpy as np

logger = logging.getLogger("analysis")

MODELS_DIR = Path(__file__).resolve().parent / "models"
_STRIP = re.compile(r"[\s,.!?;:\"'()~\-]+")


_last: list = [None, None]  # one-entry cache: both models read the same utterance


def hashed_ngrams(text: str, n_features: int, ngram_max: int = 3) -> list[int]:
    """Sorted unique bucket ids of the char 1..ngram_max-grams of `text` (with ^/$ marks)."""
    key = (text, n_features, ngram_max)
    if _last[0] == key:
        return _last[1]
    out = _hashed_ngrams(text, n_features, ngram_max)
    _last[0], _last[1] = key, out
    return out


def _hashed_ngrams(text: str, n_features: int, ngram_max: int) -> list[int]:
    t = "^" + _STRIP.sub("|", text) + "$"
    mask = n_features - 1
    out = set()
    n = len(t)
    for k in range(1, ngram_max + 1):
        for i in range(n - k + 1):
            g = t[i:i + k]
            if k == 1 and g in "^$|":
                continue
            out.add(crc32(g.encode("utf-8"), k) & mask)
    return sorted(out)


class LinearModel:
    """Binary logistic regression over hashed char n-grams (L2-normalised binary features)."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as z:
            self.weights = z["weights"].astype(np.float32)
            self.bias = float(z["bias"])
            self.meta = json.loads(str(z["meta"]))
        self.n_features = int(self.meta["n_features"])
        self.ngram_max = int(self.meta.get("ngram_max", 3))
        self.name = self.meta.get("name", path.stem)
        if self.weights.shape[0] != self.n_features or self.n_features & (self.n_features - 1):
            raise ValueError(f"{path}: bad model shape")

    def logit(self, text: str) -> float:
        idx = hashed_ngrams(text, self.n_features, self.ngram_max)
        if not idx:
            return self.bias
        return self.bias + float(self.weights[idx].sum()) / math.sqrt(len(idx))

    def proba(self, text: str) -> float:
        z = self.logit(text)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@lru_cache(maxsize=None)
def load_model(name: str) -> LinearModel | None:
    """Model `models/<name>.npz`, or None (with a warning) if it is missing."""
    path = MODELS_DIR / f"{name}.npz"
    if not path.exists():
        logger.warning("model %s not found at %s; rules only", name, path)
        return None
    return LinearModel(path)

"""Hashed n-gram features and the numpy-only linear model used at inference.

Features: char 1..ngram_max-grams and, for models whose metadata has `word_ngram_max`,
word 1..word_ngram_max-grams of jieba's segmentation, hashed (crc32, separate seeds) into
one space. Training (analysis/training/*.py) and inference share `hashed_ngrams`, so a
model is just a weight vector and a bias saved with numpy (`.npz`, no pickles, no sklearn
at runtime). jieba's dictionary is loaded once, on first use, without logging.
"""
from __future__ import annotations

import json
import logging
import math
import re
import threading
from functools import lru_cache
from pathlib import Path
from zlib import crc32

import numpy as np

logger = logging.getLogger("analysis")

MODELS_DIR = Path(__file__).resolve().parent / "models"
_STRIP = re.compile(r"[\s,.!?;:\"'()~\-]+")


_WORD_SEED = 1000  # word n-gram hashes use seeds 1001, 1002: never the char grams' 1..3
_jieba_lock = threading.Lock()
_jieba_cut = None
# one-entry caches (key, raw crc32 hashes), swapped whole: the abuse and sentiment models
# read the same utterance one after the other
_last_chars: list = [(None, ())]
_last_words: list = [(None, ())]


def _segmenter():
    """jieba's default tokenizer, initialised once (its dictionary load logs nothing)."""
    global _jieba_cut
    if _jieba_cut is None:
        with _jieba_lock:
            if _jieba_cut is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_cut = jieba.dt.cut
    return _jieba_cut


def words(text: str) -> list[str]:
    """jieba words of `text` (dictionary words, no HMM guessing), whitespace dropped."""
    return [w for w in _segmenter()(text, HMM=False) if not w.isspace()]


def hashed_ngrams(text: str, n_features: int, ngram_max: int = 3, word_ngram_max: int = 0) -> list[int]:
    """Sorted unique bucket ids of the char 1..ngram_max-grams of `text` (with ^/$ marks)
    and, if word_ngram_max, of the word 1..word_ngram_max-grams of jieba's segmentation of
    each punctuation-delimited chunk (with ^/$ marks per chunk)."""
    mask = n_features - 1
    out = {h & mask for h in _char_hashes(text, ngram_max)}
    if word_ngram_max:
        out.update(h & mask for h in _word_hashes(text, word_ngram_max))
    return sorted(out)


def _char_hashes(text: str, ngram_max: int) -> tuple[int, ...]:
    key = (text, ngram_max)
    hit = _last_chars[0]
    if hit[0] == key:
        return hit[1]
    t = "^" + _STRIP.sub("|", text) + "$"
    out = set()
    n = len(t)
    for k in range(1, ngram_max + 1):
        for i in range(n - k + 1):
            g = t[i:i + k]
            if k == 1 and g in "^$|":
                continue
            out.add(crc32(g.encode("utf-8"), k))
    val = tuple(out)
    _last_chars[0] = (key, val)
    return val


def _word_hashes(text: str, word_ngram_max: int) -> tuple[int, ...]:
    key = (text, word_ngram_max)
    hit = _last_words[0]
    if hit[0] == key:
        return hit[1]
    out = set()
    for chunk in _STRIP.split(text):
        if not chunk:
            continue
        ws = ["^", *words(chunk), "$"]
        for k in range(1, word_ngram_max + 1):
            for i in range(len(ws) - k + 1):
                g = ws[i:i + k]
                if k == 1 and g[0] in "^$":
                    continue
                out.add(crc32(" ".join(g).encode("utf-8"), _WORD_SEED + k))
    val = tuple(out)
    _last_words[0] = (key, val)
    return val


class LinearModel:
    """Binary logistic regression over hashed char (+ word) n-grams, L2-normalised binary."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as z:
            self.weights = z["weights"].astype(np.float32)
            self.bias = float(z["bias"])
            self.meta = json.loads(str(z["meta"]))
        self.n_features = int(self.meta["n_features"])
        self.ngram_max = int(self.meta.get("ngram_max", 3))
        self.word_ngram_max = int(self.meta.get("word_ngram_max", 0))
        self.name = self.meta.get("name", path.stem)
        if self.weights.shape[0] != self.n_features or self.n_features & (self.n_features - 1):
            raise ValueError(f"{path}: bad model shape")

    def logit(self, text: str) -> float:
        idx = hashed_ngrams(text, self.n_features, self.ngram_max, self.word_ngram_max)
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

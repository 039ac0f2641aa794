"""Round 6 candidates: the abuse model's n-grams with Whisper decoder embeddings
(`analysis.text_embedding`), joined in one linear model or averaged with a second one.

``Recipe.embed`` names the embedding ("whisper-base": the bundled model's decoder),
``embed_fusion`` how it enters ("joint": appended to the NB-scaled n-gram features, one
liblinear fit at the recipe's C; "late": an LR on the embedding alone, C 1, its logit averaged
with the n-gram model's at weight ``embed_weight``), ``embed_weight`` the joint columns' scale or
the late logit weight. Embeddings are standardised with the training rows' mean and SD and
scaled by 1/sqrt(DIM), so that a row's embedding part has about the n-grams' unit norm.

Computing embeddings takes ~30 ms a text on one core; ``EmbeddingCache`` keeps them in a file
keyed by the SHA-1 of the normalised text, so that reruns of ``eval_splits`` are minutes.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from analysis.normalize import normalize
from analysis.text_embedding import DIM

EMBEDDINGS = ("whisper-base",)


class CacheError(ValueError):
    """A cache path that is not a file callqa may write its embeddings to, with why."""


def text_key(text: str) -> str:
    return hashlib.sha1(normalize(text).encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Embeddings of texts, computed once per normalised text and kept in ``path`` (.npz) if
    given. The embedder is built only when a text is missing. A path that is a folder, in a
    missing folder, or an existing file that is not this embedding's cache is a CacheError
    (raised before any embedding is computed; such a file is never overwritten)."""

    def __init__(self, name: str, path: Path | None = None) -> None:
        if name not in EMBEDDINGS:
            raise ValueError(f"unknown embedding {name!r} (known: {', '.join(EMBEDDINGS)})")
        self.name, self.path = name, path
        self.rows: dict[str, np.ndarray] = {}
        if path is None:
            return
        path = Path(path)
        if path.is_dir() or not path.parent.is_dir():
            raise CacheError(f"embedding cache {path}: not a file in an existing folder")
        if path.exists():
            try:
                with np.load(path, allow_pickle=False) as data:
                    found = str(data["name"])
                    rows = dict(zip(data["keys"].tolist(), data["emb"]))
            except Exception as exc:  # a foreign or damaged file: numpy raises several kinds
                raise CacheError(f"embedding cache {path}: not an embedding cache"
                                 f" ({type(exc).__name__})") from None
            if found != name:
                raise CacheError(f"embedding cache {path}: holds {found!r} embeddings, not {name!r}")
            self.rows = rows

    def _embedder(self):
        from analysis.text_embedding import WhisperTextEmbedder, bundled_whisper_base

        return WhisperTextEmbedder(bundled_whisper_base(), threads=max(1, min(4, os.cpu_count() or 1)))

    def __call__(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing = {k: t for k, t in zip(keys, texts) if k not in self.rows}
        if missing:
            emb = self._embedder()(list(missing.values()))
            self.rows.update(zip(missing, emb))
            if self.path is not None:
                self.save()
        return np.stack([self.rows[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)

    def save(self) -> None:
        """Write the cache atomically (a temp file beside it, then rename)."""
        path = Path(self.path)
        tmp = path.with_name(path.name + ".tmp.npz")
        keys = list(self.rows)
        np.savez(tmp, name=np.array(self.name), keys=np.array(keys),
                 emb=np.stack([self.rows[k] for k in keys]).astype(np.float32))
        os.replace(tmp, path)


class Standardiser:
    """(D - mean) / SD / sqrt(DIM) with the training rows' mean and SD."""

    def __init__(self, D: np.ndarray) -> None:
        self.mean = D.mean(axis=0)
        self.sd = D.std(axis=0) + 1e-6

    def __call__(self, D: np.ndarray) -> np.ndarray:
        return ((D - self.mean) / self.sd / np.sqrt(D.shape[1])).astype(np.float32)


class JointModel:
    """One LR on [NB-scaled n-grams (if recipe.nb), weight x standardised embedding]."""

    def __init__(self, X, D, y, recipe, quiet: bool = True) -> None:
        from analysis.training.common import fit_lr
        from analysis.training.train_abuse import nb_ratio

        y = np.asarray(y)
        self.r = nb_ratio(X, y) if recipe.nb else None
        self.std, self.weight = Standardiser(D), recipe.embed_weight
        cw = "balanced" if recipe.balanced else None
        self.clf = fit_lr(self._join(X, D), y, recipe.C, class_weight=cw, quiet=quiet)

    def _join(self, X, D):
        from scipy.sparse import csr_matrix, hstack

        sparse = X.multiply(self.r).tocsr() if self.r is not None else X
        return hstack([sparse, csr_matrix(self.weight * self.std(D))]).tocsr()

    def predict_proba(self, X, D):
        return self.clf.predict_proba(self._join(X, D))


class LateModel:
    """The n-gram model and an LR on the standardised embedding (C 1); logits averaged,
    the embedding model's at weight recipe.embed_weight."""

    def __init__(self, X, D, y, recipe, quiet: bool = True) -> None:
        from analysis.training.common import fit_lr
        from analysis.training.train_abuse import fit_matrix

        self.ngrams = fit_matrix(X, y, recipe, quiet=quiet)
        self.std, self.weight = Standardiser(D), recipe.embed_weight
        self.dense = fit_lr(self.std(D), np.asarray(y), 1.0, quiet=quiet)

    def predict_proba(self, X, D):
        def logit(p):
            p = np.clip(p, 1e-9, 1 - 1e-9)
            return np.log(p / (1 - p))

        z = ((1 - self.weight) * logit(self.ngrams.predict_proba(X)[:, 1])
             + self.weight * logit(self.dense.predict_proba(self.std(D))[:, 1]))
        p = 1 / (1 + np.exp(-z))
        return np.stack([1 - p, p], axis=1)


def fit_embedded(X, D, y, recipe, quiet: bool = True):
    """The recipe's fusion of n-grams X and embeddings D, fitted on labels y."""
    if recipe.embed_fusion == "joint":
        return JointModel(X, D, y, recipe, quiet)
    if recipe.embed_fusion == "late":
        return LateModel(X, D, y, recipe, quiet)
    raise ValueError(f"unknown embed_fusion {recipe.embed_fusion!r} (joint or late)")

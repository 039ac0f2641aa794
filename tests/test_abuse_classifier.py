"""The abuse classifier: jieba word n-gram features, the shipped model, the transfer splits."""
from __future__ import annotations

import os
import subprocess
import sys

from zlib import crc32

import numpy as np
import pytest

from analysis.abuse import model_proba
from analysis.evaluate import cold_scores
from analysis.features import _WORD_SEED, MODELS_DIR, LinearModel, hashed_ngrams, load_model, words
from analysis.normalize import normalize
from analysis.training import eval_splits, train_abuse

REPO = MODELS_DIR.parents[1]


def test_word_ngrams_add_buckets_for_segmented_words():
    text = "你们这些催收的都是吸血鬼"
    chars = set(hashed_ngrams(text, 1 << 17, 3))
    both = set(hashed_ngrams(text, 1 << 17, 3, 2))
    assert chars < both                              # words only add buckets
    assert "催收" in words(text)                      # a real segmentation, not single chars
    # the same words in another order give other bigram buckets, same unigram buckets
    assert set(hashed_ngrams("吸血鬼都是催收的", 1 << 17, 0, 1)) <= set(
        hashed_ngrams(text, 1 << 17, 0, 1))
    assert hashed_ngrams(text, 1 << 17, 3, 2) == sorted(both)


def test_word_ngrams_respect_punctuation_chunks():
    # a word bigram never spans a comma; chunk starts/ends are marked
    bigram = crc32("你好 再见".encode("utf-8"), _WORD_SEED + 2) & ((1 << 17) - 1)
    assert bigram in hashed_ngrams("你好再见", 1 << 17, 0, 2)
    assert bigram not in hashed_ngrams("你好,再见", 1 << 17, 0, 2)
    start = crc32("^ 再见".encode("utf-8"), _WORD_SEED + 2) & ((1 << 17) - 1)
    assert start in hashed_ngrams("你好,再见", 1 << 17, 0, 2)


@pytest.mark.slow  # a subprocess of its own (full suite only)
def test_jieba_loads_silently():
    # jieba logs "Building prefix dict ..." to stderr by default: not in our use
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = ("from analysis.abuse import model_proba; from analysis.normalize import normalize;"
            "print(round(model_proba(normalize('你个废物')), 3))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert 0.0 < float(out.stdout) <= 1.0


def test_shipped_model_uses_word_ngrams_and_stays_small():
    path = MODELS_DIR / "abuse_cold_lr.npz"
    assert path.stat().st_size <= 512 * 1024
    model = LinearModel(path)
    assert model.word_ngram_max == train_abuse.RECIPE.word_ngram_max == 2
    assert model.n_features == train_abuse.RECIPE.n_features
    assert model.meta["C"] == train_abuse.RECIPE.C
    assert np.isfinite(model.weights).all()
    assert load_model("abuse_cold_lr").word_ngram_max == 2


def test_char_only_models_still_load():
    # the sentiment model has no word_ngram_max: chars only, as before
    model = LinearModel(MODELS_DIR / "sentiment_lr.npz")
    assert model.word_ngram_max == 0


def test_insult_vs_service_complaint():
    # the classifier alone: an insult to a person scores above a complaint about a service
    insult = model_proba(normalize("你就是个废物,活该一辈子穷"))
    complaint = model_proba(normalize("你们银行这服务真是太差了,效率低得要命"))
    assert insult > 0.5 > complaint


def test_abuse_classifier_on_cold_dev_holds(test_data):
    s = cold_scores(test_data / "text" / "COLD" / "dev.csv")
    assert s["n"] == 6431
    assert s["accuracy"] >= 0.89 and s["f1"] >= 0.89 and s["auc"] >= 0.95


def test_topic_splits_hold_the_topic_out(test_data):
    rows = train_abuse.read_cold_rows(test_data / "text" / "COLD" / "dev.csv")
    tr = [r for i, r in enumerate(rows) if i % 2 == 0]
    dv = [r for i, r in enumerate(rows) if i % 2 == 1]
    blind = eval_splits.splits(tr, dv, tune=False)
    tune = eval_splits.splits(tr, dv, tune=True)
    assert set(blind) == {"cold_dev", "topic:race", "topic:gender", "topic:region", "length"}
    assert set(tune) == {"topic:race", "topic:gender", "topic:region"}
    for topic in eval_splits.TOPICS:
        train, test = blind[f"topic:{topic}"]
        assert train and test
        assert all(r["topic"] != topic for r in train)
        assert all(r["topic"] == topic for r in test)
        assert all(r in dv for r in test[:50])       # blind folds score dev rows only
        assert all(any(r is t for t in tr) for r in tune[f"topic:{topic}"][1][:50])
    train, test = blind["length"]
    assert min(len(r["text"]) for r in train) >= eval_splits.LONG
    assert max(len(r["text"]) for r in test) < eval_splits.SHORT

"""Abuse classifier round 2 (issue 15): lexicon-hit features, the validation-chosen decision
threshold stored in the model file, deterministic features and training."""
from __future__ import annotations

import json
from zlib import crc32

import numpy as np
import pytest

from analysis.evaluate import cold_scores
from analysis.features import (_LEX_SEED, LEXICON_DIR, MODELS_DIR, Lexicon, LinearModel,
                               hashed_ngrams, lexicon_buckets, load_lexicon, load_model,
                               model_features)
from analysis.normalize import normalize
from analysis.training import eval_splits, train_abuse
from analysis.training.common import best_threshold, binary_scores, featurise

N = 1 << 17


def test_lexicon_skips_short_ascii_and_comment_entries_and_finds_hits():
    lex = Lexicon("t", ["# a comment line", "狗", "sb", "傻逼", "死全家", " 废物 ", "傻逼"])
    assert lex.entries == ("傻逼", "废物", "死全家")
    assert lex.hit("你这个废物") and lex.hit("祝你死全家") and lex.hit("傻逼")
    assert not lex.hit("你这只狗") and not lex.hit("sb") and not lex.hit("废") and not lex.hit("")
    # an entry sharing its first two characters with a longer one is still found
    lex2 = Lexicon("t2", ["王八蛋", "王八羔子"])
    assert lex2.hit("你个王八羔子") and lex2.hit("王八蛋") and not lex2.hit("王八")


def test_lexicon_buckets_and_model_features():
    lex = Lexicon("insultish", ["废物", "垃圾人"])
    bucket = crc32(b"lex:insultish", _LEX_SEED) & (N - 1)
    assert lexicon_buckets("你就是个废物", N, [lex]) == [bucket]
    assert lexicon_buckets("今天天气不错", N, [lex]) == []
    text = "你就是个废物"
    plain = hashed_ngrams(text, N, 3, 2)
    both = model_features(text, N, 3, 2, [lex])
    assert set(both) == set(plain) | {bucket} and both == sorted(both)
    # without lexicons model_features is exactly hashed_ngrams (older models unchanged)
    assert model_features(text, N, 3, 2) == plain
    assert model_features("今天天气不错", N, 3, 2, [lex]) == hashed_ngrams("今天天气不错", N, 3, 2)


def test_features_are_deterministic(test_data):
    rows = train_abuse.read_cold_rows(test_data / "text" / "COLD" / "dev.csv")[:300]
    texts = [r["text"] for r in rows]
    lex = (load_lexicon("insult"),)
    a = [model_features(normalize(t), N, 3, 2, lex) for t in texts]
    b = [model_features(normalize(t), N, 3, 2, lex) for t in reversed(texts)][::-1]
    assert a == b
    X1 = featurise(texts, N, 3, 2, lex)
    X2 = featurise(texts, N, 3, 2, lex)
    assert (X1 != X2).nnz == 0
    # some COLD rows hit the insult list, not all
    hits = sum(lex[0].hit(normalize(t)) for t in texts)
    assert 0 < hits < len(texts)


def test_best_threshold_maximises_f1():
    y = [1, 1, 1, 0, 0, 0, 0, 1]
    p = [0.9, 0.35, 0.3, 0.32, 0.1, 0.2, 0.05, 0.7]
    t = best_threshold(y, p)
    f1 = binary_scores(y, p, t)["f1"]
    assert 0.20 < t <= 0.30                      # catches the 0.3 and 0.35 positives
    assert f1 == max(binary_scores(y, p, g / 100)["f1"] for g in range(20, 81))
    assert f1 > binary_scores(y, p, 0.5)["f1"]
    # ties go to the threshold nearest 0.5
    assert best_threshold([1, 0], [0.9, 0.1]) == 0.5


def test_shipped_model_stores_and_uses_the_validated_threshold(test_data):
    model = LinearModel(MODELS_DIR / "abuse_cold_lr.npz")
    recipe = train_abuse.RECIPE
    assert recipe.validated_threshold
    assert model.threshold == model.meta["threshold"] == load_model("abuse_cold_lr").threshold
    assert 0.2 <= model.threshold <= 0.8
    assert tuple(model.meta["lexicons"]) == recipe.lexicons
    assert [lex.name for lex in model.lexicons] == list(recipe.lexicons)
    for name in recipe.lexicons:
        assert (LEXICON_DIR / f"{name}.txt").exists()
    assert model.ngram_max == recipe.ngram_max and model.word_ngram_max == recipe.word_ngram_max
    assert (MODELS_DIR / "abuse_cold_lr.npz").stat().st_size <= 1024 * 1024
    # cold_scores decides at the stored threshold unless told otherwise
    path = test_data / "text" / "COLD" / "dev.csv"
    s = cold_scores(path)
    assert s["threshold"] == model.threshold
    assert cold_scores(path, 0.5)["threshold"] == 0.5
    assert s["f1"] >= 0.89 and s["auc"] >= 0.95
    # the lexicon feature is part of the model: a hit raises the logit by its weight
    lex = model.lexicons[0]
    w = float(model.weights[lex.hash & (model.n_features - 1)])
    assert w > 0                                 # an insult-list hit counts towards offensive


def test_blind_style_set_is_in_cold_format():
    rows = train_abuse.read_cold_rows(eval_splits.BLIND_STYLE)
    assert len(rows) == 100
    assert {r["topic"] for r in rows} == {"occupation", "age", "disability", "debt"}
    assert {r["label"] for r in rows} == {0, 1}
    assert not {r["topic"] for r in rows} & set(eval_splits.TOPICS)


@pytest.mark.slow  # two fits and a leave-one-topic-out validation on 3,000 rows
def test_training_and_threshold_are_deterministic(test_data):
    rows = train_abuse.read_cold_rows(test_data / "text" / "COLD" / "dev.csv")[:3000]
    recipe = train_abuse.RECIPE
    X = train_abuse.features([r["text"] for r in rows], recipe)
    y = [r["label"] for r in rows]
    a = train_abuse.fit_matrix(X, y, recipe, quiet=True)
    b = train_abuse.fit_matrix(X, y, recipe, quiet=True)
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)
    extra = (["你这个废物", "谢谢您的耐心"], [1, 0])
    t1 = train_abuse.validated_threshold(rows, extra, recipe)
    t2 = train_abuse.validated_threshold(rows, extra, recipe)
    assert t1 == t2 and 0.2 <= t1 <= 0.8
    # nested validation for a held-out topic reads only the other topics' rows
    matrix = eval_splits.Matrix([r["text"] for r in rows] + extra[0], recipe)
    v = eval_splits.validation(rows, ("gender", "region"), extra, recipe, matrix)
    assert set(v) == {"threshold", "gender", "region"}
    assert 0 < v["gender"]["f1"] <= 1 and 0 < v["region"]["auc"] <= 1


def test_model_naming_a_missing_word_list_is_a_clear_error(tmp_path):
    # a model file whose lexicon is not there fails with one line, never a traceback deep in numpy
    src = MODELS_DIR / "abuse_cold_lr.npz"
    with np.load(src, allow_pickle=False) as z:
        meta = dict(json.loads(str(z["meta"])), lexicons=["no_such_list"])
        np.savez_compressed(tmp_path / "m.npz", weights=z["weights"], bias=z["bias"],
                            meta=np.array(json.dumps(meta)))
    with pytest.raises(ValueError, match="word list missing .*no_such_list.txt"):
        LinearModel(tmp_path / "m.npz")

"""Abuse classifier round 6 (issue 15): n-grams with a text embedding beside them (joint or late
fusion), the embedding cache, the flags that select them, and blind_cold_style5."""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from analysis.normalize import normalize
from analysis.text_embedding import DIM
from analysis.training import eval_splits, train_abuse
from analysis.training.embedding_fusion import (CacheError, EmbeddingCache, JointModel, LateModel,
                                                Standardiser, fit_embedded, text_key)


def _data(n: int = 400, seed: int = 0):
    """n-grams that carry no label and an embedding whose first 64 columns do."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = csr_matrix((rng.random((n, 50)) < 0.1).astype(np.float32))
    D = rng.normal(size=(n, DIM)).astype(np.float32)
    D[:, :64] += 1.0 * (2 * y - 1)[:, None]
    return X, D, y


def test_standardiser_uses_training_statistics():
    D = np.array([[1.0, 10.0], [3.0, 30.0]], np.float32)
    s = Standardiser(D)
    np.testing.assert_allclose(s(D), [[-1 / np.sqrt(2), -1 / np.sqrt(2)], [1 / np.sqrt(2), 1 / np.sqrt(2)]],
                               atol=1e-5)
    np.testing.assert_allclose(s(np.array([[2.0, 20.0]], np.float32)), [[0.0, 0.0]], atol=1e-6)


def test_joint_model_learns_from_the_embedding_columns():
    X, D, y = _data()
    recipe = replace(train_abuse.ROUND4, embed="whisper-base", embed_fusion="joint")
    model = fit_embedded(X, D, y, recipe)
    assert isinstance(model, JointModel)
    Xt, Dt, yt = _data(seed=1)
    p = model.predict_proba(Xt, Dt)[:, 1]
    assert ((p >= 0.5) == yt).mean() > 0.9
    # the n-grams alone carry nothing
    alone = train_abuse.fit_matrix(X, y, recipe, quiet=True).predict_proba(Xt)[:, 1]
    assert ((alone >= 0.5) == yt).mean() < 0.65


def test_late_model_weights_the_two_logits():
    X, D, y = _data()
    Xt, Dt, _ = _data(seed=2)
    base = replace(train_abuse.ROUND4, embed="whisper-base", embed_fusion="late")
    ngrams = train_abuse.fit_matrix(X, y, base, quiet=True).predict_proba(Xt)[:, 1]
    p0 = fit_embedded(X, D, y, replace(base, embed_weight=0.0)).predict_proba(Xt, Dt)
    np.testing.assert_allclose(p0[:, 1], ngrams, atol=1e-6)
    np.testing.assert_allclose(p0.sum(1), 1.0, atol=1e-9)
    half = fit_embedded(X, D, y, replace(base, embed_weight=0.5))
    assert isinstance(half, LateModel)
    z = lambda p: np.log(p / (1 - p))  # noqa: E731
    dense = half.dense.predict_proba(half.std(Dt))[:, 1]
    np.testing.assert_allclose(z(half.predict_proba(Xt, Dt)[:, 1]), 0.5 * z(ngrams) + 0.5 * z(dense),
                               atol=1e-5)
    with pytest.raises(ValueError, match="embed_fusion"):
        fit_embedded(X, D, y, replace(base, embed_fusion="stacked"))


def test_embedding_cache_keeps_rows_by_normalised_text(tmp_path):
    path = tmp_path / "emb.npz"
    cache = EmbeddingCache("whisper-base", path)
    rows = {"谢谢您,我明天就还款.": np.full(DIM, 1.0, np.float32), "骗子": np.full(DIM, 2.0, np.float32)}
    cache.rows = {text_key(t): v for t, v in rows.items()}
    cache.save()
    assert not list(tmp_path.glob("*.tmp*"))
    again = EmbeddingCache("whisper-base", path)
    # every text is in the file (the full-width form normalises to the same key): no embedder built
    got = again(["谢谢您，我明天就还款。", "骗子", "骗子"])
    assert got.shape == (3, DIM) and got[:, 0].tolist() == [1.0, 2.0, 2.0]
    assert text_key("谢谢您，我明天就还款。") == text_key("谢谢您,我明天就还款.")
    with pytest.raises(ValueError, match="unknown embedding"):
        EmbeddingCache("bert", path)


def test_flags_select_the_embedding_and_describe_it():
    args = eval_splits.parser().parse_args(["--embed", "whisper-base", "--embed-fusion", "late",
                                            "--embed-weight", "0.3"])
    recipe = eval_splits.recipe_of(args)
    assert (recipe.embed, recipe.embed_fusion, recipe.embed_weight) == ("whisper-base", "late", 0.3)
    assert replace(recipe, embed="", embed_fusion="joint", embed_weight=1.0) == train_abuse.RECIPE
    assert "whisper-base decoder embedding (late, weight 0.3)" in recipe.describe()
    assert "embedding" not in train_abuse.RECIPE.describe()


def test_blind_style5_set_is_in_cold_format_and_balanced():
    assert eval_splits.BLINDS["blind_style5"] == eval_splits.BLIND_STYLE5
    with open(eval_splits.BLIND_STYLE5, encoding="utf-8", newline="") as fh:
        raw = list(csv.DictReader(fh))
    assert sorted(r[""] for r in raw) == [f"b5-{i:03d}" for i in range(1, 121)]
    assert {r["split"] for r in raw} == {"blind"}
    rows = train_abuse.read_cold_rows(eval_splits.BLIND_STYLE5)
    per = Counter((r["topic"], r["label"]) for r in rows)
    topics = {t for t, _ in per}
    assert len(topics) == 10 and set(eval_splits.TOPICS) <= topics
    assert all(per[(t, 0)] == per[(t, 1)] for t in topics)
    assert [per[(t, 1)] for t in eval_splits.TOPICS] == [8, 8, 8] and sum(per.values()) == 120
    assert len({normalize(r["text"]) for r in rows}) == 120


def test_a_missing_text_without_whisper_base_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLQA_MODELS_DIR", str(tmp_path))
    cache = EmbeddingCache("whisper-base")
    cache.rows = {text_key("骗子"): np.zeros(DIM, np.float32)}
    assert cache(["骗子"]).shape == (1, DIM)           # cached: no model needed
    with pytest.raises(FileNotFoundError, match="callqa models install"):
        cache(["没见过的话"])


def test_a_cache_path_callqa_may_not_write_is_refused_and_left_alone(tmp_path):
    for bad in (tmp_path, tmp_path / "missing" / "emb.npz"):
        with pytest.raises(CacheError, match="not a file in an existing folder"):
            EmbeddingCache("whisper-base", bad)
    foreign = tmp_path / "notes.npz"
    foreign.write_bytes(b"not numpy at all")
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    for path in (foreign, other):
        before = path.read_bytes()
        with pytest.raises(CacheError, match="not an embedding cache"):
            EmbeddingCache("whisper-base", path)
        assert path.read_bytes() == before
    theirs = tmp_path / "theirs.npz"
    np.savez(theirs, name=np.array("bert"), keys=np.array(["k"]), emb=np.zeros((1, DIM), np.float32))
    with pytest.raises(CacheError, match="holds 'bert' embeddings"):
        EmbeddingCache("whisper-base", theirs)


def test_eval_splits_refuses_a_bad_cache_in_one_line(tmp_path, capsys):
    shared = tmp_path / "shared"
    (shared / "text" / "COLD").mkdir(parents=True)
    (shared / "text" / "COLD" / "train.csv").write_text(",split,topic,label,TEXT\n", encoding="utf-8")
    code = eval_splits.main(["--shared", str(shared), "--validate-clusters", "--embed", "whisper-base",
                             "--embed-cache", str(tmp_path)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 2 and out == [f"error: embedding cache {tmp_path}: not a file in an existing folder"]

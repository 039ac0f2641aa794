"""Abuse classifier round 3 (issue 15): target masking. Words naming a social group
(analysis/models/lexicons/groups.txt) are replaced by one placeholder character before the
n-grams are taken, in training and at inference, as the model's metadata says."""
from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.features import (LEXICON_DIR, MASK, MODELS_DIR, Lexicon, LinearModel,
                               hashed_ngrams, load_lexicon, model_features)
from analysis.normalize import normalize
from analysis.training import eval_splits, train_abuse
from analysis.training.common import featurise

N = 1 << 17


def test_mask_replaces_each_mention_longest_first_and_is_deterministic():
    lex = Lexicon("g", ["河南", "河南人", "女人", "# comment", "黑"])
    assert lex.mask("河南人都是骗子") == MASK + "都是骗子"          # 河南人, not 河南 + 人
    assert lex.mask("去河南旅游") == "去" + MASK + "旅游"
    assert lex.mask("女人女人河南人") == MASK * 3
    assert lex.mask("黑色的车") == "黑色的车"                      # 1-char entries are never used
    assert lex.mask("") == "" and lex.mask("女") == "女"
    texts = ["河南人和女人都一样", "今天天气不错", "河南河南人女人们"]
    assert [lex.mask(t) for t in texts] == [lex.mask(t) for t in reversed(texts)][::-1]
    assert MASK not in "".join(lex.entries)


def test_groups_list_file_is_read_and_covers_every_kind_of_group():
    path = LEXICON_DIR / "groups.txt"
    head = path.read_text(encoding="utf-8").splitlines()[0]
    assert head.startswith("# groups:")
    g = load_lexicon("groups")
    assert not any(e.startswith("#") for e in g.entries)
    # race, nationality, gender, sexuality, region, occupation, age, religion, disability
    for word in ("黑人", "日本人", "女人", "同性恋", "河南人", "东北人", "医生", "老年人", "穆斯林", "残疾人"):
        assert word in g.entries, word
        assert g.mask(f"那些{word}都是") == f"那些{MASK}都是"
    # slurs are the attack, not the target: never masked
    for slur in ("黑鬼", "基佬", "娘炮", "傻逼"):
        assert slur not in g.entries and g.mask(slur) == slur
    # entries are stored as utterances are normalised (the model reads normalised text)
    assert all(normalize(e) == e for e in g.entries)


def test_an_edited_list_changes_the_masking(tmp_path):
    (tmp_path / "groups.txt").write_text("# test list\n程序员\n", encoding="utf-8")
    g = load_lexicon("groups", str(tmp_path))
    assert g.entries == ("程序员",)
    assert g.mask("程序员都是死宅") == MASK + "都是死宅"
    assert g.mask("河南人都是骗子") == "河南人都是骗子"


def test_masked_ngrams_reach_the_features():
    g = load_lexicon("groups")
    text = "河南人都是骗子"
    masked = g.mask(text)
    only = model_features(text, N, 3, 2, mask=g)
    keep = model_features(text, N, 3, 2, mask=g, mask_keep=True)
    plain = hashed_ngrams(text, N, 3, 2)
    assert only == hashed_ngrams(masked, N, 3, 2)
    assert only != plain
    assert set(keep) == set(only) | set(plain) and keep == sorted(keep)
    # two attacks on different groups share their masked n-grams, not their plain ones
    other = model_features("女人都是骗子", N, 3, 2, mask=g)
    assert only == other
    assert hashed_ngrams("女人都是骗子", N, 3, 2) != plain
    # no group word: masking changes nothing, and without a mask older models are unchanged
    assert model_features("今天天气不错", N, 3, 2, mask=g, mask_keep=True) == \
        hashed_ngrams("今天天气不错", N, 3, 2)
    assert model_features(text, N, 3, 2) == plain
    # training featurises the same way (normalised text, masked)
    X = featurise([text, "女人都是骗子"], N, 3, 2, (), False, g)
    assert (X[0] != X[1]).nnz == 0 and sorted(X[0].indices.tolist()) == only


def _model_file(tmp_path, meta_extra: dict, weights=None):
    with np.load(MODELS_DIR / "abuse_cold_lr.npz", allow_pickle=False) as z:
        meta = dict(json.loads(str(z["meta"])), **meta_extra)
        w = z["weights"] if weights is None else weights
        np.savez_compressed(tmp_path / "m.npz", weights=w, bias=z["bias"],
                            meta=np.array(json.dumps(meta, ensure_ascii=False)))
    return tmp_path / "m.npz"


def test_model_metadata_names_the_list_and_inference_applies_it(tmp_path):
    g = load_lexicon("groups")
    # a model whose only weight is on the masked bigram "<MASK>都" fires on any group's attack
    with np.load(MODELS_DIR / "abuse_cold_lr.npz", allow_pickle=False) as z:
        n = int(json.loads(str(z["meta"]))["n_features"])
    w = np.zeros(n, np.float16)
    target = set(hashed_ngrams(MASK + "都", n, 2, 0)) - set(hashed_ngrams("都", n, 2, 0))
    w[list(target)] = 5.0
    masked = LinearModel(_model_file(tmp_path, {"mask": "groups", "mask_keep": False}, w))
    assert masked.mask is g and masked.meta["mask"] == "groups"
    assert masked.logit("河南人都是骗子") > masked.bias + 0.5
    assert masked.logit("程序员都不是好人") > masked.bias + 0.5
    assert masked.logit("今天都挺好") == pytest.approx(masked.bias)
    (tmp_path / "plain").mkdir()
    plain = LinearModel(_model_file(tmp_path / "plain", {"mask": ""}, w))
    assert plain.mask is None and plain.logit("河南人都是骗子") == pytest.approx(plain.bias)


def test_shipped_model_and_recipe_agree_on_masking():
    model = LinearModel(MODELS_DIR / "abuse_cold_lr.npz")
    recipe = train_abuse.RECIPE
    assert (model.meta.get("mask") or "") == recipe.mask
    assert bool(model.meta.get("mask_keep", False)) == recipe.mask_keep
    if recipe.mask:
        assert model.mask is load_lexicon(recipe.mask)
        text = normalize("河南人都是骗子")
        want = model_features(text, model.n_features, model.ngram_max, model.word_ngram_max,
                              model.lexicons, model.lexicon_multi, model.mask, model.mask_keep)
        z = model.bias + float(model.weights[want].sum()) / np.sqrt(len(want))
        assert model.logit(text) == pytest.approx(z, abs=1e-5)


def test_model_naming_a_missing_mask_list_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="word list missing .*no_such_groups.txt"):
        LinearModel(_model_file(tmp_path, {"mask": "no_such_groups"}))


def test_blind_style2_set_is_in_cold_format():
    rows = train_abuse.read_cold_rows(eval_splits.BLIND_STYLE2)
    assert len(rows) == 94
    assert {r["label"] for r in rows} == {0, 1} and sum(r["label"] for r in rows) == 47
    assert set(eval_splits.TOPICS) <= {r["topic"] for r in rows}


def test_average_recipe_has_a_char_only_and_a_word_only_part(test_data):
    recipe = train_abuse.Recipe(word_ngram_max=2, average=True, mask="groups")
    char, word = recipe.parts()
    assert (char.ngram_max, char.word_ngram_max) == (3, 0)
    assert (word.ngram_max, word.word_ngram_max) == (0, 2)
    assert not char.average and char.mask == word.mask == "groups"
    assert train_abuse.RECIPE.parts() == (train_abuse.RECIPE,)
    texts = ["河南人都是骗子", "今天天气不错"]
    m = eval_splits.Matrix(texts, recipe)
    g = load_lexicon("groups")
    assert sorted(m(texts[:1], 0).indices.tolist()) == hashed_ngrams(g.mask(texts[0]), N, 3, 0)
    assert sorted(m(texts[:1], 1).indices.tolist()) == hashed_ngrams(g.mask(texts[0]), N, 0, 2)

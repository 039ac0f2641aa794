"""Abuse classifier round 5 (issue 15): group-context lexicon hits (a word list's entry in a clause
that names a group), the `badwords` list, the flags that select them, and the shipped model."""
from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import replace
from zlib import crc32

import numpy as np

from analysis.features import (_LEX_SEED, LEXICON_DIR, MASK, MODELS_DIR, Lexicon, LinearModel,
                               group_buckets, load_lexicon, model_features)
from analysis.normalize import normalize
from analysis.training import eval_splits, train_abuse
from analysis.training.common import featurise

N = 1 << 17
INSULT = Lexicon("insultish", ["废物", "骗子"])
GROUP_BUCKET = crc32(b"lex:insultish:group", _LEX_SEED) & (N - 1)


def test_group_buckets_need_a_group_and_a_hit_in_the_same_clause():
    groups = load_lexicon("groups")
    assert group_buckets("河南人都是骗子", N, [INSULT], groups) == [GROUP_BUCKET]
    assert group_buckets("我觉得女人都是废物吧", N, [INSULT], groups) == [GROUP_BUCKET]
    assert group_buckets("你就是个骗子", N, [INSULT], groups) == []          # no group
    assert group_buckets("河南人很好", N, [INSULT], groups) == []             # no hit
    assert group_buckets("河南人很好,你是骗子", N, [INSULT], groups) == []    # other clause
    # read on the masked clause: a group word is never its own hit
    self_hit = Lexicon("selfish", ["河南人", "女人"])
    assert group_buckets("河南人来了", N, [self_hit], groups) == []
    assert MASK not in "".join(INSULT.entries + groups.entries)


def test_model_features_add_the_group_bucket_only_when_asked():
    groups, text = load_lexicon("groups"), "河南人都是骗子"
    base = model_features(text, N, 3, 2, [INSULT], False, groups, True)
    grouped = model_features(text, N, 3, 2, [INSULT], False, groups, True, True)
    assert set(grouped) == set(base) | {GROUP_BUCKET} and grouped == sorted(grouped)
    # without a mask list or without lexicons the flag changes nothing (round 4's features)
    assert model_features(text, N, 3, 2, [INSULT], group_hits=True) == \
        model_features(text, N, 3, 2, [INSULT])
    assert model_features(text, N, 3, 2, (), False, groups, True, True) == \
        model_features(text, N, 3, 2, (), False, groups, True)


def _model_file(tmp_path, group_hits: bool):
    """A model file with round 4's feature metadata (+ group_hits) and weight only on the
    insult list's group-context bucket."""
    w = np.zeros(N, np.float16)
    w[load_lexicon("insult").group_hash & (N - 1)] = 8.0
    meta = {"name": "t", "n_features": N, "ngram_max": 3, "word_ngram_max": 2,
            "lexicons": ["insult", "sexhate"], "mask": "groups", "mask_keep": True,
            "group_hits": group_hits}
    path = tmp_path / f"t{int(group_hits)}.npz"
    np.savez_compressed(path, weights=w, bias=np.float64(0.0),
                        meta=np.array(json.dumps(meta, ensure_ascii=False)))
    return LinearModel(path)


def test_runtime_computes_the_training_features(tmp_path, test_data):
    """The model loader reads `group_hits` and computes what `featurise` trained on."""
    on, off = _model_file(tmp_path, True), _model_file(tmp_path, False)
    assert on.group_hits and not off.group_hits
    text = normalize("河南人都是傻逼")
    assert load_lexicon("insult").hit(text)
    assert on.proba(text) > 0.5 and off.proba(text) == 0.5
    recipe = replace(train_abuse.ROUND4, group_hits=True)
    rows = train_abuse.read_cold_rows(test_data / "text" / "COLD" / "dev.csv")[:200]
    texts = [r["text"] for r in rows] + ["河南人都是傻逼"]
    X = train_abuse.features(texts, recipe)
    for i, t in enumerate(texts):
        idx = model_features(normalize(t), on.n_features, on.ngram_max, on.word_ngram_max,
                             on.lexicons, on.lexicon_multi, on.mask, on.mask_keep, on.group_hits)
        assert sorted(X[i].indices.tolist()) == idx
    assert (X != featurise(texts, N, 3, 2, on.lexicons, False, on.mask, True, True)).nnz == 0


def test_flags_select_the_round5_candidates():
    args = eval_splits.parser().parse_args
    r4 = train_abuse.ROUND4
    assert eval_splits.recipe_of(args([])) == train_abuse.RECIPE
    assert eval_splits.recipe_of(args(["--recipe", "round4", "--group-hits"])) == \
        replace(r4, group_hits=True)
    assert eval_splits.recipe_of(args(["--recipe", "round4", "--C", "8"])).C == 8.0
    assert eval_splits.recipe_of(args(["--recipe", "round4", "--lexicons",
                                       "insult,sexhate,badwords"])).lexicons[-1] == "badwords"
    four = eval_splits.recipe_of(args(["--recipe", "round4", "--chars", "4", "--bits", "18"]))
    assert (four.ngram_max, four.n_features) == (4, 1 << 18)
    assert "in a clause naming a 'groups' entry" in replace(r4, group_hits=True).describe()
    assert "clause" not in r4.describe() and not r4.group_hits


def test_badwords_list_is_built_from_its_mit_sources_normalised():
    assert train_abuse.LEXICON_SOURCES["badwords"] == ("safetext_zh", "paminet_badwords")
    lines = (LEXICON_DIR / "badwords.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# badwords: safetext_zh, paminet_badwords") and "MIT" in lines[0]
    entries = lines[1:]
    assert entries == sorted(set(entries)) and len(entries) > 1000
    assert all(len(e) >= 2 and not e.isascii() and normalize(e) == e for e in entries)
    assert load_lexicon("badwords").entries == tuple(entries)


def test_shipped_model_is_still_round4_without_group_hits():
    """Round 5 shipped nothing (no candidate passed the rule): the model, retrained with round 4's
    recipe, records group_hits off and computes round 4's features."""
    assert train_abuse.RECIPE is train_abuse.ROUND4 and not train_abuse.RECIPE.group_hits
    model = LinearModel(MODELS_DIR / "abuse_cold_lr.npz")
    assert model.meta["group_hits"] is False and model.group_hits is False
    assert model.meta["C"] == 4.0 and model.threshold == 0.46
    texts = ["河南人都是傻逼", "你们这帮人就会欺负老实人", "谢谢您,我明天还款"]
    X = train_abuse.features(texts, train_abuse.RECIPE)
    for i, t in enumerate(texts):
        idx = model_features(normalize(t), model.n_features, model.ngram_max, model.word_ngram_max,
                             model.lexicons, model.lexicon_multi, model.mask, model.mask_keep,
                             model.group_hits)
        assert sorted(X[i].indices.tolist()) == idx


def test_blind_style4_set_is_in_cold_format_and_balanced():
    assert eval_splits.BLINDS["blind_style4"] == eval_splits.BLIND_STYLE4
    with open(eval_splits.BLIND_STYLE4, encoding="utf-8", newline="") as fh:
        raw = list(csv.DictReader(fh))
    assert [r[""] for r in raw] == [f"b4-{i:03d}" for i in range(1, 121)]
    assert {r["split"] for r in raw} == {"blind"}
    rows = train_abuse.read_cold_rows(eval_splits.BLIND_STYLE4)
    per = Counter((r["topic"], r["label"]) for r in rows)      # (topic, label) -> rows
    topics = {t for t, _ in per}
    assert len(topics) == 10 and set(eval_splits.TOPICS) <= topics
    assert all(per[(t, 0)] == per[(t, 1)] for t in topics)    # each topic half offensive
    assert [per[(t, 1)] for t in eval_splits.TOPICS] == [8, 8, 8] and sum(per.values()) == 120
    assert len({normalize(r["text"]) for r in rows}) == 120
    assert min(map(len, (r["text"] for r in rows))) >= 4 and max(len(r["text"]) for r in rows) <= 86

"""Abuse classifier round 4 (issue 15): validation on unseen target clusters. Inside a held-out
topic's two training topics, the rows that mention a cluster of groups (training/target_clusters.py)
are held out, the model trains on the rest of both topics and is scored on them."""
from __future__ import annotations

import shutil
import sys
from dataclasses import replace

import numpy as np
import pytest

from analysis.features import MODELS_DIR, LinearModel, load_lexicon, model_features
from analysis.normalize import normalize
from analysis.rules import pack
from analysis.training import eval_splits, target_clusters, train_abuse
from analysis.training.common import DEFAULT_SHARED, best_threshold
from analysis.training.target_clusters import (CLUSTERS, cluster_folds, clusters_of,
                                               entry_clusters, validation_folds)

needs_shared = pytest.mark.skipif(not (DEFAULT_SHARED / "text" / "COLD" / "train.csv").exists(),
                                  reason="../shared/data (COLD train, extras) not present")


@pytest.fixture(scope="module")
def cold_rows(test_data) -> list[dict]:
    """COLD dev rows kept in the repository (tests/data), standing in for training rows."""
    return train_abuse.read_cold_rows(test_data / "text" / "COLD" / "dev.csv")


def test_clusters_are_disjoint_groups_entries_and_stems_join_them():
    groups = set(load_lexicon("groups").entries)
    listed = [e for entries in CLUSTERS.values() for e in entries]
    assert len(listed) == len(set(listed))                     # no entry in two clusters
    assert set(listed) <= groups                               # every entry is a groups.txt entry
    ec = entry_clusters()
    assert set(ec) <= groups and set(listed) <= set(ec)
    assert ec["河南人"] == ec["河南"] == "central" and ec["东北人"] == "north"
    assert ec["黑人们"] == "black" and ec["女人们"] == "women" and ec["台湾人"] == "south"
    for unclustered in ("外地人", "农村人", "医生", "老年人", "穆斯林"):
        assert unclustered in groups and unclustered not in ec
    # each cluster belongs to one COLD topic's kind of group
    assert {"black", "white", "asian", "chinese", "women", "men", "sexuality",
            "north", "east", "central", "south", "west"} == set(CLUSTERS)


def test_clusters_of_reads_mentions_in_order_longest_first():
    assert clusters_of("河南人和上海人都一样") == ["central", "east"]
    assert clusters_of("黑人女性") == ["black", "women"]
    assert clusters_of("医生和农村人") == [] and clusters_of("今天天气不错") == []
    texts = ["女人都是这样", "广东人吃福建人", "日本人"]
    assert [clusters_of(t) for t in texts] == [clusters_of(t) for t in reversed(texts)][::-1]


def test_cluster_folds_are_deterministic_disjoint_and_hold_the_cluster_out(cold_rows):
    topics = ("gender", "region")
    folds = cluster_folds(cold_rows, topics)
    assert folds == cluster_folds(list(cold_rows), topics)
    names = [name for name, _, _ in folds]
    assert names == [n for n in CLUSTERS if n in names] and len(names) >= 4
    seen: set[int] = set()
    for name, tr, va in folds:
        assert len(va) >= target_clusters.MIN_ROWS
        pos = sum(r["label"] for r in va)
        assert min(pos, len(va) - pos) >= target_clusters.MIN_CLASS
        assert all(r["topic"] in topics for r in tr + va)      # the held-out topic is never read
        assert all(clusters_of(r["text"])[0] == name for r in va)
        assert all(name not in clusters_of(r["text"]) for r in tr)
        ids = {id(r) for r in va}
        assert not ids & {id(r) for r in tr} and not ids & seen  # validation sets are disjoint
        seen |= ids
        # the training rows are both topics' (minus the cluster), as the outer model's are
        assert {r["topic"] for r in tr} == set(topics)


def test_validation_folds_rules(cold_rows):
    topics = ("race", "gender")
    loto = validation_folds(cold_rows, topics, "topics")
    assert [name for name, _, _ in loto] == ["race", "gender"]
    for name, tr, va in loto:
        assert {r["topic"] for r in va} == {name} and {r["topic"] for r in tr} == set(topics) - {name}
    assert validation_folds(cold_rows, topics, "clusters") == cluster_folds(cold_rows, topics)
    with pytest.raises(ValueError, match="unknown threshold rule"):
        validation_folds(cold_rows, topics, "quantile")


def test_pooled_threshold_and_recipe_rule():
    folds = [([1, 0, 1], np.array([0.9, 0.2, 0.3])), ([0, 1], np.array([0.35, 0.6]))]
    assert eval_splits.pooled_threshold(folds) == best_threshold([1, 0, 1, 0, 1],
                                                                 [0.9, 0.2, 0.3, 0.35, 0.6])
    plain = train_abuse.Recipe(validated_threshold=False, threshold_rule="clusters")
    assert eval_splits.recipe_threshold([], ("race",), ([], []), plain, None) == 0.5
    assert train_abuse.ROUND2.threshold_rule == "topics"
    assert "target-cluster folds" in replace(train_abuse.ROUND2, threshold_rule="clusters").describe()


@pytest.mark.slow  # two cluster validations (about 20 fits on ~4,000 rows)
def test_cluster_validation_never_reads_the_held_out_topic(cold_rows):
    recipe = train_abuse.Recipe(word_ngram_max=2, nb=True, validated_threshold=True)
    extra = (["你这个废物", "谢谢您的耐心"], [1, 0])
    inner = ("gender", "region")
    kept = [r for r in cold_rows if r["topic"] in inner]
    poisoned = kept + [dict(r, label=1 - r["label"]) for r in cold_rows if r["topic"] == "race"]
    matrix = eval_splits.Matrix([r["text"] for r in cold_rows] + extra[0], recipe)
    a = eval_splits.cluster_validation(poisoned, inner, extra, recipe, matrix)
    b = eval_splits.cluster_validation(kept, inner, extra, recipe, matrix)
    assert a == b
    folds = [k for k in a if not k.startswith("threshold")]
    assert folds == [name for name, _, _ in cluster_folds(kept, inner)]
    preds = eval_splits.fold_predictions(kept, inner, "clusters", extra, recipe, matrix)
    assert a["threshold_clusters"] == eval_splits.pooled_threshold(preds.values())
    for name in folds:   # each fold is scored at the threshold chosen on the OTHER folds
        others = eval_splits.pooled_threshold(v for k, v in preds.items() if k != name)
        assert a[name]["threshold_clusters"] == others
        assert 0 < a[name]["f1_clusters"] <= 1 and 0.5 < a[name]["auc"] <= 1


@needs_shared
@pytest.mark.slow  # featurises ~12,000 texts and fits ~30 small models
def test_validate_clusters_reads_no_dev_and_no_blind_file(tmp_path, test_data):
    text = tmp_path / "text"
    (text / "COLD").mkdir(parents=True)
    # COLD "train" = the in-repo dev rows; there is no dev.csv next to it
    shutil.copy(test_data / "text" / "COLD" / "dev.csv", text / "COLD" / "train.csv")
    for name in ("lexicons", "STC3_helpdesk", "waimai_10k"):
        (text / name).symlink_to(DEFAULT_SHARED / "text" / name)
    opened: list[str] = []
    active = [True]
    sys.addaudithook(lambda ev, args: opened.append(str(args[0]))
                     if active[0] and ev == "open" else None)
    try:
        assert eval_splits.main(["--validate-clusters", "--shared", str(tmp_path)]) == 0
    finally:
        active[0] = False
    assert any(p.endswith("train.csv") for p in opened)
    assert not [p for p in opened if p.endswith("dev.csv") or "blind" in p]



def test_shipped_model_is_round4_and_the_detectors_threshold_moved_with_it():
    model = LinearModel(MODELS_DIR / "abuse_cold_lr.npz")
    assert train_abuse.RECIPE is train_abuse.ROUND4
    assert train_abuse.ROUND4 == replace(train_abuse.ROUND2, mask="groups", mask_keep=True, C=4.0)
    meta = model.meta
    assert (meta["mask"], meta["mask_keep"], meta["C"]) == ("groups", True, 4.0)
    assert meta["threshold_rule"] == "topics" and model.threshold == meta["threshold"] == 0.46
    assert meta["lexicons"] == ["insult", "sexhate"] and meta["word_ngram_max"] == 2 and meta["nb"]
    assert meta["heldout_cold_dev"]["f1"] >= 0.9 and meta["heldout_cold_dev"]["auc"] >= 0.955
    # masked + kept: attacks on two groups share their masked n-grams and keep their own
    g = load_lexicon("groups")
    a, b = (model_features(t, model.n_features, 3, 2, mask=g, mask_keep=True)
            for t in ("河南人都是骗子", "女人都是骗子"))
    assert set(model_features("河南人都是骗子", model.n_features, 3, 2, mask=g)) <= set(a) & set(b)
    assert set(a) != set(b)
    # abuse.yaml's alone threshold was re-chosen on the dev sets for this model's scale
    assert pack("abuse").data["model"]["alone_threshold"] == 0.96
    assert pack("abuse").data["model"]["weak_threshold"] == 0.45


def test_blind_style3_set_is_in_cold_format_and_balanced():
    rows = train_abuse.read_cold_rows(eval_splits.BLIND_STYLE3)
    assert eval_splits.BLINDS["blind_style3"] == eval_splits.BLIND_STYLE3
    assert len(rows) == 120 and sum(r["label"] for r in rows) == 60
    topics = {r["topic"] for r in rows}
    assert set(eval_splits.TOPICS) <= topics and len(topics) == 10
    for topic in topics:                          # each topic half offensive, half safe
        labels = [r["label"] for r in rows if r["topic"] == topic]
        assert 2 * sum(labels) == len(labels), topic
    assert len({normalize(r["text"]) for r in rows}) == 120
    assert all(5 <= len(r["text"]) <= 81 for r in rows)

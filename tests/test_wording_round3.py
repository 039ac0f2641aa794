"""Round 3 of issue 15's wording rows: the learned layer's veto over the rules' readings
(`learned.veto` in a pack), the new training sets, and blind8 as the round's surrogate.

Real rule packs and real shipped models; `learned.using` (the evaluation's own switch) swaps
in a layer with another veto so the behaviour at both ends of the range is tested. Sentences
are this file's own wording.
"""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from analysis import learned
from analysis.annotate import analyze_text
from analysis.features import load_model
from analysis.normalize import normalize
from analysis.rules import RULES_DIR, Hit, PackError, RulePack, pack
from analysis.training import eval_wording
from analysis.training.labelled_sets import SET_FILES, SURROGATE_R3, load_sets

EXPOSE = "你不还钱我就告诉你们单位领导你欠钱不还"   # threat rule with also: [privacy]
INSULT = "你就是个废物"                             # abuse rule
THANKS = "太感谢你了 帮了大忙"                      # positive cue
FED_UP = "烦死了 别打了"                             # negative cue


# a veto no probability reaches (the round-5 models, C 32, give a plain insult 0.999 and more)
NEVER = 1.01


def swapped(label: str, veto: float | None, sentiment: str | None = None) -> dict[str, learned.Layer]:
    """{model name: the shipped layer with `veto`} for a label's pack or a sentiment side; a veto
    over 0.99 comes with a threshold of 1 (the model then never adds the label back either)."""
    if sentiment:
        neg, pos = learned.sentiment_layers(pack("sentiment"))
        lay = neg if sentiment == "negative" else pos
    else:
        lay = learned.layer(pack(label))
    if veto is not None and veto > 0.99:
        return {lay.name: dataclasses.replace(lay, veto=veto, threshold=1.0, role_thresholds=())}
    return {lay.name: dataclasses.replace(lay, veto=veto)}


def from_rules(a, label: str) -> bool:
    """Whether a rule (not a model) gave `label`."""
    return label in a.hits and not learned.from_model(a.hits[label])


def test_a_rule_reading_stands_unless_the_model_vetoes_it():
    with learned.using({}, swapped("abuse", None)):
        assert from_rules(analyze_text("collector", INSULT), "abuse")
    with learned.using({}, swapped("abuse", NEVER)):      # no probability reaches this
        # the rule's reading is gone (the COLD classifier, which the veto leaves alone, may still speak)
        assert not from_rules(analyze_text("collector", INSULT), "abuse")
    with learned.using({}, swapped("abuse", 0.001)):      # nor fall under this
        assert from_rules(analyze_text("collector", INSULT), "abuse")


def test_the_veto_applies_only_to_roles_the_layer_may_label():
    lay = learned.layer(pack("abuse"))
    narrowed = {lay.name: dataclasses.replace(lay, veto=NEVER, threshold=1.0, role_thresholds=(),
                                              roles=frozenset({"customer"}))}
    with learned.using({}, narrowed):
        assert from_rules(analyze_text("collector", INSULT), "abuse")
        assert not from_rules(analyze_text("customer", INSULT), "abuse")


def test_model_hits_are_never_vetoed():
    p = pack("abuse")
    rule = Hit("abuse.insult.noun", "abuse", 0.9, "high", 0, 3)
    model = Hit("model:wording_abuse", "abuse", 0.9, "high", 0, 3)
    with learned.using({}, swapped("abuse", NEVER)):
        assert learned.confirmed(p, [rule, model], normalize(INSULT), "collector") == [model]


def test_threatened_disclosure_keeps_privacy_only_where_the_privacy_model_agrees():
    with learned.using({}, swapped("privacy", None)):
        assert {"threat", "privacy"} <= set(analyze_text("collector", EXPOSE).labels)
    with learned.using({}, swapped("privacy", NEVER)):
        labels = analyze_text("collector", EXPOSE).labels
        assert "threat" in labels and "privacy" not in labels
    with learned.using({}, {**swapped("threat", NEVER), **swapped("privacy", None)}):
        a = analyze_text("collector", EXPOSE)      # a vetoed threat takes its privacy with it
        assert "threat" not in a.labels
        assert "privacy" not in a.hits or not a.hits["privacy"].rule_id.startswith("threat.")


def test_sentiment_cues_checked_by_their_model():
    with learned.using({}, swapped("", None, "positive")):
        assert analyze_text("customer", THANKS).sentiment == "positive"
    with learned.using({}, swapped("", NEVER, "positive")):
        assert analyze_text("customer", THANKS).sentiment == "neutral"
    with learned.using({}, swapped("", None, "negative")):
        assert analyze_text("customer", FED_UP).sentiment == "negative"
    with learned.using({}, {**swapped("", NEVER, "negative"), **swapped("", NEVER, "positive")}):
        assert analyze_text("customer", FED_UP).sentiment == "neutral"
        # misconduct still forces negative whatever the sentiment vetoes
        assert analyze_text("collector", INSULT).sentiment == "negative"


def test_shipped_vetoes_are_set_below_the_thresholds_and_never_on_self_harm():
    for label in ("abuse", "threat", "privacy"):
        lay = learned.layer(pack(label))
        # round 5's sweep (blind8, blind9, blind11 as first seen) found privacy best without one
        if label != "privacy" or lay.veto is not None:
            assert lay.veto is not None and 0 < lay.veto < min([lay.threshold, *dict(lay.role_thresholds).values()]), label
        assert lay.min_chars >= 6
    assert learned.layer(pack("self_harm")).veto is None   # a self-harm signal is never overruled
    neg, pos = learned.sentiment_layers(pack("sentiment"))
    assert neg.veto is not None and 0 < neg.veto < neg.threshold
    assert pos.veto is not None and 0 < pos.veto < pos.threshold


def test_shipped_vetoes_spare_plain_misconduct():
    """The vetoes remove rule readings the model doubts, not the clear cases."""
    assert from_rules(analyze_text("collector", INSULT), "abuse")
    a = analyze_text("collector", EXPOSE)
    assert from_rules(a, "threat") and from_rules(a, "privacy")
    assert analyze_text("customer", THANKS).sentiment == "positive"


@pytest.mark.parametrize("role, text", [
    ("third_party", "什么事啊?要紧吗?"),     # the abuse model scores 0.6 on this: under its threshold
    ("customer", "你谁啊?"),                # short turns: the models have seen almost none
    ("customer", "你敢!"),
    ("customer", "你说话客气点。"),           # a plea for civility is not abuse (LABELS.md)
    ("customer", "月底前还五千,你放心。"),
])
def test_ordinary_turns_get_no_model_label(role, text):
    a = analyze_text(role, text)
    assert not any(learned.from_model(h) for lab, h in a.hits.items() if lab in ("abuse", "threat", "privacy")), a.hits


def test_min_chars_counts_letters_and_digits():
    lay = dataclasses.replace(learned.layer(pack("abuse")), min_chars=6)
    assert not lay.long_enough(normalize("你敢!"))
    assert lay.long_enough(normalize("你就是个废物"))


@pytest.mark.parametrize("key, value, message", [
    ("veto", 1.5, "learned.veto must be between 0 and 1, got 1.5"),
    ("veto", "low", "learned.veto must be a number, got 'low'"),
    ("min_chars", -1, "learned.min_chars must be a whole number >= 0, got -1"),
    ("min_chars", 2.5, "learned.min_chars must be a whole number >= 0, got 2.5"),
])
def test_a_bad_veto_or_min_chars_is_named(key, value, message):
    data = yaml.safe_load((RULES_DIR / "abuse.yaml").read_text(encoding="utf-8"))
    data["learned"][key] = value
    with pytest.raises(PackError, match=message):
        RulePack("abuse.yaml", data=data)


def test_round3_sets_train_and_blind8_is_the_surrogate():
    sets = load_sets()
    assert {"blind8", "dev10", "dev11", "dev12"} <= set(sets)
    test, train = SURROGATE_R3
    # blind9 judged round 3 (it was in no training set then); round 3's surrogate leaves it out
    assert test == "blind8" and set(train) == set(SET_FILES) - {"blind8", "blind9"}
    for name in ("dev10", "dev11", "dev12"):
        rows = sets[name]
        assert len(rows) >= 400 and all(r["sentiment"] in ("negative", "neutral", "positive") for r in rows)


def test_evaluation_detects_with_the_swapped_layers():
    rows = [{"id": "x", "role": "customer", "text": THANKS}]
    models = {n: load_model(n) for n in eval_wording.MODEL_NAMES}
    vetoed = eval_wording.detected(rows, models, swapped("", NEVER, "positive"))
    kept = eval_wording.detected(rows, models, swapped("", None, "positive"))
    assert kept["x"][1] == "positive" and vetoed["x"][1] == "neutral"

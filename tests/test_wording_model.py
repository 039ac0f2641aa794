"""The learned in-domain wording layer (analysis/learned.py, models/wording_*.npz).

Real models, real rule packs, real labelled rows; `learned.using` is the evaluation's own
switch (fold models / none), not a stand-in for our code.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from analysis import learned
from analysis.annotate import analyze_text
from analysis.features import LinearModel, load_model
from analysis.normalize import normalize
from analysis.rules import RULES_DIR, Catalog, pack
from analysis.training import eval_wording, train_wording
from analysis.training.labelled_sets import SET_FILES, duplicates, load_sets, loso_splits

NAMES = train_wording.MODEL_NAMES
OFF = {n: None for n in NAMES}

# sentences in no labelled set (own wording)
CHILD_SCHOOL = "你儿子在实验小学上三年级吧,放学挺晚的"          # veiled threat, no threat word
FAREWELL = "等我走了,保险的钱够还你们的"                           # self-harm as a farewell
SCAM_QUESTION = "你们到底是不是骗子啊,烦死了"                     # asking whether the caller is a scam
CALLS_VENTING = "你们一天打八遍电话,烦不烦啊,烦死了"               # venting about the calls
PAST_DISCLOSURE = "你爸妈早就知道你欠我们钱了"                      # privacy, not a threat
LAWSUIT = "再拖下去 我们只能走法律程序了 你好自为之"                     # lawful process
HARDSHIP = "工资又拖了三个月,房租都交不起"                          # negative without a cue


@pytest.fixture(scope="module")
def sets():
    return load_sets()


def proba(name: str, text: str) -> float:
    return load_model(name).proba(normalize(text))


@pytest.mark.slow
def test_models_load_with_their_recipe_and_are_deterministic(sets):
    for name in NAMES:
        m = load_model(name)
        assert m is not None and m.name == name
        assert m.word_ngram_max == 2 and m.ngram_max == 3 and m.n_features == 2 ** 16
        assert m.meta["rows"] == sum(len(rs) for rs in sets.values())
    a = [proba(n, CHILD_SCHOOL) for n in NAMES]
    b = [proba(n, CHILD_SCHOOL) for n in NAMES]
    assert a == b


def test_every_pack_names_a_shipped_model_and_a_threshold():
    for label in ("abuse", "threat", "privacy", "self_harm"):
        lay = learned.layer(pack(label))
        assert lay.name == train_wording.LABEL_MODELS[label] and 0.3 <= lay.threshold < 1
    neg, pos = learned.sentiment_layers(pack("sentiment"))
    assert (neg.name, pos.name) == (train_wording.SENTIMENT_MODELS["negative"], train_wording.SENTIMENT_MODELS["positive"])


def test_learned_layer_adds_what_the_rules_miss():
    with learned.using(OFF):
        assert analyze_text("collector", CHILD_SCHOOL).labels == []
        assert analyze_text("customer", FAREWELL).labels == []
    a = analyze_text("collector", CHILD_SCHOOL)
    assert a.labels == ["threat"] and a.hits["threat"].rule_id == "model:wording_threat"
    assert a.sentiment == "negative"
    assert "privacy" not in a.labels  # a learned threat never adds privacy
    assert analyze_text("customer", FAREWELL).labels == ["self_harm"]


def _threat_catalog(tmp_path, threshold: float) -> Catalog:
    data = yaml.safe_load((RULES_DIR / "threat.yaml").read_text(encoding="utf-8"))
    data["learned"]["threshold"] = threshold
    folder = tmp_path / f"t{threshold}"
    folder.mkdir()
    (folder / "threat.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return Catalog((str(folder),))


def test_threshold_from_the_pack_decides(tmp_path):
    p = proba("wording_threat", CHILD_SCHOOL)
    assert p >= learned.layer(pack("threat")).threshold
    over = _threat_catalog(tmp_path, round(p + 0.02, 3))
    under = _threat_catalog(tmp_path, round(p - 0.02, 3))
    assert "threat" not in analyze_text("collector", CHILD_SCHOOL, over).labels
    assert "threat" in analyze_text("collector", CHILD_SCHOOL, under).labels


def test_guards_hold_where_the_model_scores_high():
    abuse_t = learned.layer(pack("abuse")).threshold_for("customer")
    threat_t = learned.layer(pack("threat")).threshold_for("collector")
    # asking whether the caller is a scam, venting about the calls: the model is over its
    # threshold, the pack's `unless` keeps the label off
    for text in (SCAM_QUESTION, CALLS_VENTING):
        assert proba("wording_abuse", text) >= abuse_t
        assert "abuse" not in analyze_text("customer", text).labels
    # lawful process and a disclosure already made are not threats
    for text in (LAWSUIT, PAST_DISCLOSURE):
        assert proba("wording_threat", text) >= threat_t
        assert "threat" not in analyze_text("collector", text).labels
    # roles: privacy is the collector's, self-harm the speaker's own
    assert proba("wording_privacy", PAST_DISCLOSURE) >= learned.layer(pack("privacy")).threshold
    assert "privacy" not in analyze_text("customer", PAST_DISCLOSURE).labels
    assert proba("wording_self_harm", FAREWELL) >= learned.layer(pack("self_harm")).threshold
    assert "self_harm" not in analyze_text("collector", FAREWELL).labels
    # the privacy model reads threats as disclosures; where a threat rule fired it stays a threat
    text = "你老婆在哪上班我们都清楚"
    assert proba("wording_privacy", text) >= learned.layer(pack("privacy")).threshold
    assert analyze_text("collector", text).labels == ["threat"]


def test_sentiment_layer_turns_neutral_negative_only_over_its_threshold():
    neg, _ = learned.sentiment_layers(pack("sentiment"))
    with learned.using(OFF):
        assert analyze_text("customer", HARDSHIP).sentiment == "neutral"
    assert proba("wording_sentiment_neg", HARDSHIP) >= neg.threshold
    assert analyze_text("customer", HARDSHIP).sentiment == "negative"
    # a plain neutral turn stays neutral
    assert proba("wording_sentiment_neg", "好的,我知道了") < neg.threshold
    assert analyze_text("customer", "好的,我知道了").sentiment == "neutral"


def test_evaluation_combines_as_the_detectors_do(sets):
    """eval_wording.combine (how a surrogate combines older rules' outputs read from a file)
    == analyze_text with the shipped models, where no veto is set (older rules had none)."""
    import dataclasses

    rows = sets["heldout3"] + sets["dev9"]
    rule = eval_wording.rules_only(rows)
    lays = {n: dataclasses.replace(lay, veto=None) for n, lay in eval_wording.layers().items()}
    for r in rows:
        norm = normalize(r["text"])
        probs = {n: load_model(n).proba(norm) for n in NAMES}
        labels, sent = eval_wording.combine(*rule[r["id"]], r, probs, lays)
        with learned.using({}, lays):
            a = analyze_text(r["role"], r["text"])
        assert (set(a.labels) & set(eval_wording.LABELS), a.sentiment) == (labels & set(eval_wording.LABELS), sent), r["id"]


def test_sets_have_no_duplicates_and_loso_holds_each_set_out(sets):
    # only blind7, blind8, blind11 and blind12 (copied in unchanged as their blind writers wrote them) repeat a
    # few earlier texts; load_sets drops them from them
    assert {d[0] for d in duplicates()} <= {"blind7", "blind8", "blind11", "blind12"}
    assert list(sets) == list(SET_FILES)
    for name, train, test in loso_splits(sets):
        assert test == sets[name] and all(r["set"] != name for r in train)
        assert len(train) + len(test) == sum(len(rs) for rs in sets.values())


@pytest.mark.slow
def test_small_training_run_is_deterministic(tmp_path, sets):
    rows = sets["heldout3"] + sets["heldout2"]
    a = train_wording.train_all(rows, tmp_path / "a", "test")
    b = train_wording.train_all(rows, tmp_path / "b", "test")
    for name in NAMES:
        with np.load(a[name]) as x, np.load(b[name]) as y:
            assert np.array_equal(x["weights"], y["weights"]) and float(x["bias"]) == float(y["bias"])
            assert json.loads(str(x["meta"]))["positives"] == int(train_wording.targets(rows)[name].sum())
    # the model learned its rows: the threat positives score higher than the rest
    m = LinearModel(a["wording_threat"])
    probs = [(m.proba(normalize(r["text"])), "threat" in r["labels"]) for r in rows]
    assert min(p for p, g in probs if g) > np.median([p for p, g in probs if not g])


@pytest.mark.slow
def test_training_reproduces_the_committed_weights():
    assert train_wording.main(["--check"]) == 0


@pytest.mark.parametrize("pack_name, edit, message", [
    ("threat", lambda d: d["learned"].update(threshold="abc"), "learned.threshold must be a number, got 'abc'"),
    ("threat", lambda d: d["learned"].update(threshold=1.5), "learned.threshold must be between 0 and 1, got 1.5"),
    ("threat", lambda d: d["learned"].update(roles=["boss"]), "learned.roles must be a list of"),
    ("threat", lambda d: d["learned"].update(unless=["{NOPE}了"]), "learned.unless: unknown slot {NOPE}"),
    ("threat", lambda d: d["learned"].update(treshold=0.5), "learned: unknown field 'treshold'"),
    ("threat", lambda d: d["learned"].pop("name"), "learned.name must be a model name"),
    ("privacy", lambda d: d["learned"].update(needs="(unclosed"), "bad regex in learned.needs"),
])
def test_a_bad_learned_section_is_named_by_rules_check(tmp_path, pack_name, edit, message):
    """A QA lead's edit to a pack's `learned:` section is checked with the rest of the pack:
    `callqa rules check` names the file and the field, exit 2 (not a traceback at analysis time)."""
    from typer.testing import CliRunner

    from callqa.cli import app

    data = yaml.safe_load((RULES_DIR / f"{pack_name}.yaml").read_text(encoding="utf-8"))
    edit(data)
    (tmp_path / f"{pack_name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "check", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {tmp_path / f'{pack_name}.yaml'}: {message}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_shipped_learned_sections_pass_rules_check():
    from typer.testing import CliRunner

    from callqa.cli import app

    result = CliRunner().invoke(app, ["rules", "check", str(RULES_DIR)], catch_exceptions=False)
    assert "learned" not in result.output, result.output


def test_the_sentiment_packs_two_layers_are_checked_too():
    from analysis.rules import PackError, RulePack

    data = yaml.safe_load((RULES_DIR / "sentiment.yaml").read_text(encoding="utf-8"))
    data["learned"]["negative"]["role_thresholds"] = {"customer": "high"}
    with pytest.raises(PackError, match="learned.negative.role_thresholds.customer must be a number, got 'high'"):
        RulePack("sentiment.yaml", data=data)

"""Round 5 of issue 15's wording rows: blind10 and blind11 (spent) and two new training sets
train, the models are fitted with C 32, threatened exposure through any group chat or community
body is threat + privacy, a promise not to tell anyone gets no privacy from the model, blind11 is
the round's surrogate and blind12 judged it (blind12 trains from round 6 on).

Real packs, real shipped models; sentences are this file's own wording.
"""
from __future__ import annotations


import pytest

from analysis import learned
from analysis.annotate import analyze_text
from analysis.features import load_model
from analysis.rules import pack
from analysis.training import train_wording
from analysis.training.labelled_sets import EVALDATA, SET_FILES, SURROGATE_R5, load_sets
from tests.helpers.wording import rules_analysis

def test_round5_sets_surrogate_and_blind12_kept_out():
    sets = load_sets()
    names = list(SET_FILES)
    # the spent blind sets train as adjudicated, after every set written before them
    assert SET_FILES["blind10"].name == "blind10_adjudicated_utterances.jsonl"
    assert SET_FILES["blind11"].name == "blind11_adjudicated_utterances.jsonl"
    assert names[names.index("dev14") + 1:][:4] == ["blind10", "blind11", "dev15", "dev16"]
    assert len(sets["dev15"]) >= 500 and len(sets["dev16"]) >= 500
    # blind12 judged round 5 and trains only after it (round 6), as adjudicated
    assert names.index("blind12") > names.index("dev16")
    assert (EVALDATA / "blind12_utterances.jsonl").exists()
    # blind11 as first seen; dev15/dev16 were written with blind10/11's kinds of misses in mind
    test, train = SURROGATE_R5
    assert test == "blind11" and set(train) == set(SET_FILES) - {"blind11", "dev15", "dev16"}


def test_shipped_models_are_the_round5_recipe():
    # (rounds 6 to 9 kept the recipe and added blind12-15 and dev17-20; blind16 judges round 9)
    assert train_wording.RECIPE["C"] == 32.0
    # the newest blind set judges the round in progress and trains nothing until it is spent
    newest = max((p.name.split("_")[0] for p in EVALDATA.glob("blind*_utterances.jsonl")
                  if p.name.split("_")[0][5:].isdigit()), key=lambda n: int(n[5:]))
    assert not any(newest in str(p) for p in SET_FILES.values())
    for name in train_wording.MODEL_NAMES:
        meta = load_model(name).meta
        assert meta["recipe"]["C"] == 32.0
        assert "dev16" in meta["trained_on"] and newest not in meta["trained_on"]


@pytest.mark.parametrize("text", [
    "你的头像我存着呢 再不还就发到你们车友群里",
    "我们会通知你们宗亲会 说你欠钱跑路",
    "不还是吧 我就把你的欠款截图发你们商会群",
])
def test_threatened_exposure_through_a_group_is_threat_and_privacy(text):
    a = rules_analysis("collector", text)
    assert {"threat", "privacy"} <= set(a.labels), a.hits
    assert a.hits["threat"].rule_id == "threat.expose.third_party"


def test_the_group_slot_needs_a_named_group():
    import re
    third = re.compile(f"(?:{pack('privacy').data['slots']['THIRD']})")
    for named in ("车友群", "商会群", "老乡群", "宗亲会", "辅导员", "前妻"):
        assert third.search(named), named
    for plain in ("一群人", "这群人", "群众", "整群"):
        assert not third.search(plain), plain


@pytest.mark.parametrize("text", [
    "这个事我们不会告诉你们领导的",
    "我们绝不会联系您单位 这个您放心",
    "您放心 我们不会让您家里人知道",
])
def test_a_promise_not_to_tell_gets_no_privacy_from_the_model(text):
    lay = learned.layer(pack("privacy"))
    assert lay.unless is not None and lay.unless.search(text)
    assert "privacy" not in analyze_text("collector", text).labels


def test_a_rhetorical_or_conditional_denial_is_still_read():
    # "you think we won't tell?" and "do you want her to know?" are threats, not promises
    for text in ("你以为我们不会告诉你家人吗 你再试试不接电话", "要不要让你老婆知道你欠了多少"):
        assert not learned.layer(pack("privacy")).unless.search(text)

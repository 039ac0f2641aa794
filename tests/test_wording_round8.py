"""Round 8 of issue 15's wording rows: an exposure a collector reports as done, with no next step
named, is privacy and not a threat (for the rules and the learned layer alike); "不还我就告诉…" is
a condition, not a denial; blind14 trains and blind15 judges.

Real packs and the shipped models; sentences are this file's own wording.
"""
from __future__ import annotations

import pytest

from analysis import learned
from analysis.annotate import analyze_text
from analysis.normalize import normalize
from analysis.rules import pack
from analysis.training.labelled_sets import SET_FILES
from tests.helpers.wording import rules_analysis

@pytest.mark.parametrize("text", [
    "你不还我就告诉你们领导",
    "你再不还 我就打你家里人电话",
])
def test_not_repaying_is_a_condition_not_a_denial(text):
    a = rules_analysis("collector", text)
    assert a.hits["threat"].rule_id == "threat.expose.third_party"
    assert not pack("threat").denied(normalize(text), "collector")


@pytest.mark.parametrize("text", [
    "我们在你抖音视频下面留言了 问你什么时候还钱 你的粉丝都看见了",
    "你通讯录里那个开饭店的 我们把你的欠款截图发给他了",
])
def test_an_exposure_reported_as_done_is_privacy_only(text):
    labels = analyze_text("collector", text).labels     # rules and models
    assert "privacy" in labels and "threat" not in labels


@pytest.mark.parametrize("text", [
    "我已经在你抖音下面留言了 你再不还 我就发到你们村群里",
    "你丈母娘那边我们打过去了 下次我们直接说你欠钱的事",
    "我现在就打过去告诉她同事你欠了多少钱",
])
def test_a_next_step_keeps_it_a_threat(text):
    assert {"threat", "privacy"} <= set(analyze_text("collector", text).labels)


def test_the_done_guard_is_the_collectors_only():
    # a customer who posted the collector's staff number did threaten
    lay = learned.layer(pack("threat"))
    text = normalize("我把你工号发到我们群里了 几百号人 有人认识你")
    assert dict(lay.role_unless)["collector"].search(text)
    assert "customer" not in dict(lay.role_unless) or not dict(lay.role_unless)["customer"].search(text)


def test_blind14_trains_and_blind15_only_after_it_judged_round_8():
    names = list(SET_FILES)
    assert SET_FILES["blind14"].name == "blind14_adjudicated_utterances.jsonl"
    assert names.index("blind14") > names.index("dev18")
    assert names.index("blind15") > names.index("dev19") > names.index("blind14")

"""Round 9 of issue 15's wording rows: a colleague named at the debtor's workplace with a relative
clause (你们店里那个叫X的师傅) is a disclosure; violent threats in vivid imagery (扔海里喂鱼, a knife
sharpened for whoever comes); blind15 trains and blind16 judges.

Real packs with the learned layer off; sentences are this file's own wording.
"""
from __future__ import annotations

import pytest

from analysis.training.labelled_sets import SET_FILES
from tests.helpers.wording import rule_labels

@pytest.mark.parametrize("text", [
    "喂 是城南汽修吗 你们厂里有个叫刘强的 欠了我们三万多一直不还",
    "你们美甲店那个叫小雪的 信用卡逾期半年了",
])
def test_a_colleague_named_with_a_relative_clause_is_a_disclosure(text):
    assert "privacy" in rule_labels("collector", text)


def test_asking_for_a_named_colleague_alone_is_not():
    assert "privacy" not in rule_labels("collector", "请问你们公司有个叫李明的吗 麻烦让他回个电话")


@pytest.mark.parametrize("text", [
    "你们谁敢来我家 我就把他扔河里喂鱼",
    "我那把砍刀磨得可快了 你们谁来谁试试",
])
def test_violent_threats_in_imagery(text):
    assert "threat" in rule_labels("customer", text)


@pytest.mark.parametrize("text", ["我今天出海 鱼都喂饱了", "刀磨快了 晚上给你们做鱼吃"])
def test_their_harmless_twins(text):
    assert "threat" not in rule_labels("customer", text)


def test_blind15_trains_and_blind16_does_not():
    names = list(SET_FILES)
    assert SET_FILES["blind15"].name == "blind15_adjudicated_utterances.jsonl"
    assert names.index("blind15") > names.index("dev19")
    assert not any("blind16" in str(p) for p in SET_FILES.values())

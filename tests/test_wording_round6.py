"""Rounds 6 and 7 of issue 15's wording rows: disclosure reaches online audiences and the people
around the debtor at work; a disclosure already sent is privacy, not a threat; false consequences
said plainly (窝藏罪, 毕不了业, 坐不了飞机); blind12 and then blind13 train, blind14 judges round 7.

Real packs with the learned layer off (the rules' own reading), unless said; sentences are this
file's own wording.
"""
from __future__ import annotations

import pytest

from analysis.annotate import analyze_text
from analysis.normalize import normalize
from analysis.rules import pack
from analysis.training.labelled_sets import SET_FILES
from tests.helpers.wording import rule_labels

@pytest.mark.parametrize("text", [
    "再拖着不还 我就去你直播间 把你欠款的事在公屏上刷一刷",
    "你抖音视频下面我天天留言 说你欠钱不还",
    "你那个小红书我找到了 每条笔记下面都给你留言 说你是老赖",
])
def test_threatened_exposure_to_an_online_audience(text):
    assert {"threat", "privacy"} <= rule_labels("collector", text)


@pytest.mark.parametrize("text", [
    "你想让你们班主任天天接我们的电话吗",
    "不还的话 我就跟你那些员工说说你欠了多少",
])
def test_threatened_exposure_to_the_people_around_the_debtor(text):
    assert {"threat", "privacy"} <= rule_labels("collector", text)


def test_a_colleague_named_at_the_workplace_is_a_disclosure():
    text = "喂 是你们酒店前台吧 你们那个保安老周在我们这逾期两个月了"
    assert rule_labels("collector", text) == {"privacy"}


def test_a_disclosure_already_sent_is_privacy_not_a_threat():
    for text in ("我们昨天已经给你们单位人事寄了催收函", "我已经给你们公司发了邮件 附了你的欠款明细"):
        labels = rule_labels("collector", text)
        assert "privacy" in labels and "threat" not in labels, text


def test_refusing_calls_is_not_a_denial_and_a_question_is_not_a_negator():
    # "不接电话" after a threat is the debtor's refusal, not the collector promising not to tell
    # (the rules read no denial there, so the learned layer may still speak)
    text = "你以为我们不会告诉你家里人吗 你再不接电话试试"
    assert not pack("threat").denied(normalize(text), "collector")
    assert {"threat", "privacy"} <= set(analyze_text("collector", text).labels)
    # "在不在" asks whether someone is there; the disclosure after it stands
    text = "你们车间主任在不在 你们厂里那个工人小王欠我们三万没还"
    assert not pack("privacy").denied(normalize(text), "collector")
    assert "privacy" in rule_labels("collector", text)


@pytest.mark.parametrize("text", [
    "您放心 我们只打您本人电话 不会去您直播间说什么",
    "你的粉丝群我们不会去的 这个你放心",
    "麻烦你让你们店员转告老板 回个电话就行",
])
def test_lawful_twins_stay_clean(text):
    assert not {"threat", "privacy"} & rule_labels("collector", text)


def test_blind12_trains_and_blind13_only_after_it_judged_round_6():
    names = list(SET_FILES)
    assert SET_FILES["blind12"].name == "blind12_adjudicated_utterances.jsonl"
    assert SET_FILES["blind13"].name == "blind13_adjudicated_utterances.jsonl"
    assert names.index("blind13") > names.index("dev17") > names.index("blind12")


# round 7 (same kinds, kept beside round 6's): false consequences said plainly, and disclosures
# already made said with 刚 ("just now")
@pytest.mark.parametrize("text", [
    "你这是包庇 我们会连你一起起诉",
    "再不还钱 你这个研究生就别想毕业了",
    "你以后坐不了飞机 你信不信",
])
def test_false_consequences_said_plainly(text):
    assert "threat" in rule_labels("collector", text)


def test_a_court_judgment_is_a_lawful_consequence():
    text = "法院判决后还不履行 您可能被列为失信被执行人 坐不了飞机"
    assert "threat" not in rule_labels("collector", text)


def test_a_disclosure_made_just_now_is_privacy_not_a_threat():
    labels = rule_labels("collector", "我刚给你们单位人事发了邮件 写了你欠款的金额")
    assert "privacy" in labels and "threat" not in labels
    # a threat after 刚 is still a threat
    assert "threat" in rule_labels("collector", "你再不还 我刚说了 我就告诉你们领导")


def test_blind14_judged_round_7_before_it_trained():
    names = list(SET_FILES)
    assert names.index("blind14") > names.index("dev18") > names.index("blind13")

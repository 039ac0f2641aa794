"""Round 4 of issue 15's wording rows: denials keep the models quiet, threatened disclosure to
a workplace or under a condition, guarantors are party to the debt, a request to stop calling
is not a threat; blind9 trains and is the round's surrogate, blind10 judges.

Real packs, real shipped models; sentences are this file's own wording.
"""
from __future__ import annotations

import pytest

from analysis import learned
from analysis.annotate import analyze_text
from analysis.rules import pack
from analysis.training.labelled_sets import SET_FILES, SURROGATE_R3, SURROGATE_R4, load_sets
from tests.helpers.wording import rules_analysis

@pytest.mark.parametrize("text", [
    "您放心 我们绝不会让您单位的人知道这件事",
    "我们不会联系您的家人 这个您放心",
    "这个事我们不会告诉你们领导的",
])
def test_a_denial_gets_no_label_from_the_models(text):
    a = analyze_text("collector", text)
    assert not {"threat", "privacy"} & set(a.labels), a.hits


def test_denied_means_a_rule_matched_only_under_a_negator():
    p = pack("threat")
    assert p.denied("我们不会让你单位知道", "collector")
    assert not p.denied("我们会让你单位知道", "collector")      # it fires: not a denial
    assert not p.denied("今天天气不错", "collector")            # nothing matched at all


@pytest.mark.parametrize("text", [
    "你要是不想你们主管知道这笔欠款 今天下午之前就处理掉",
    "再拖 我就打到你们门店 让店里每个人都知道",
    "你不怕你那些学生家长们知道你欠钱不还吗",
])
def test_threatened_disclosure_to_a_workplace_or_under_a_condition(text):
    a = rules_analysis("collector", text)
    assert a.hits["threat"].rule_id == "threat.expose.third_party", a.hits
    assert "privacy" in a.labels


def test_a_guarantor_told_of_the_debt_is_not_a_disclosure_by_the_model():
    text = "王叔 您给他担保的那笔贷款 现在逾期三万一了 您看能不能劝劝他"
    a = analyze_text("collector", text)
    assert "privacy" not in a.labels or not learned.from_model(a.hits["privacy"])


@pytest.mark.parametrize("text", ["我真的不想再接到你们的电话了", "以后不要再打我电话"])
def test_asking_to_stop_calling_is_not_a_threat(text):
    a = analyze_text("customer", text)
    assert "threat" not in a.labels, a.hits


def test_round4_sets_and_surrogates():
    sets = load_sets()
    assert {"blind9", "dev13", "dev14"} <= set(sets)
    # blind9 trains as adjudicated; blind10 judged round 4 (and trains only from round 5 on,
    # after it was spent: test_wording_round5)
    assert SET_FILES["blind9"].name == "blind9_adjudicated_utterances.jsonl"
    assert list(SET_FILES).index("blind10") > list(SET_FILES).index("dev14")
    test, train = SURROGATE_R4
    assert test == "blind9" and set(train) == set(SET_FILES) - {"blind9"}
    assert SURROGATE_R3[0] == "blind8" and "blind9" not in SURROGATE_R3[1]
    for name in ("dev13", "dev14"):
        assert len(sets[name]) >= 600

"""analyze_call on the ground-truth scripted calls and on small hand-made calls."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.domain import Finding, Utterance

from analysis import LABELS, analyze_call, annotate_row

CALLS = [f"dev_call_0{i}" for i in range(1, 7)]


def load_call(test_data: Path, call_id: str) -> tuple[list[Utterance], list[dict]]:
    data = json.loads((test_data / "calls" / f"{call_id}.json").read_text(encoding="utf-8"))
    utts = [Utterance(speaker=f"ch{t.get('channel', 0)}", role=t["role"], start=t["start"],
                      end=t["end"], text=t["text"], channel=t.get("channel")) for t in data["turns"]]
    return utts, data["turns"]


def make(*turns: tuple[str, str]) -> list[Utterance]:
    return [Utterance(speaker=r, role=r, start=float(i), end=i + 0.9, text=t)
            for i, (r, t) in enumerate(turns)]


def by_kind(findings: list[Finding], kind: str) -> list[Finding]:
    return [f for f in findings if f.kind == kind]


@pytest.mark.parametrize("call_id", CALLS)
def test_labels_match_ground_truth_and_annotate_row(test_data, call_id):
    utts, turns = load_call(test_data, call_id)
    findings = analyze_call(utts)
    for u, t in zip(utts, turns):
        # the ground truth annotates LABELS; outcome labels are tested in test_outcomes.py
        assert sorted(lab for lab in u.labels if lab in LABELS) == sorted(t["labels"]), t["text"]
        assert (u.labels, u.sentiment) == annotate_row(u.role, u.text)
    for f in findings:
        assert f.severity in ("info", "low", "medium", "high", "critical")
        assert 0.0 <= f.score <= 1.0
        if f.utterance_index is not None:
            u = utts[f.utterance_index]
            assert (f.start, f.end) == (u.start, u.end)


def test_per_utterance_findings_roles_severity_and_redacted_evidence(test_data):
    utts, _ = load_call(test_data, "dev_call_05")
    fs = analyze_call(utts)
    pii = by_kind(fs, "pii")
    assert len(pii) == 1 and "[电话]" in pii[0].evidence and "一三七" not in pii[0].evidence
    abuse = {f.role: f.severity for f in by_kind(fs, "abuse")}
    assert abuse == {"collector": "high", "customer": "medium"}
    assert by_kind(fs, "threat")[0].role == "collector"


def test_call_privacy_third_party_and_missing_steps_not_judged(test_data):
    utts, _ = load_call(test_data, "dev_call_03")
    fs = analyze_call(utts)
    priv = by_kind(fs, "privacy")
    assert [f.utterance_index for f in priv] == [2]
    assert not by_kind(fs, "missing_steps")  # only a third party was reached
    utts, _ = load_call(test_data, "dev_call_06")  # third party handled correctly
    fs = analyze_call(utts)
    assert not by_kind(fs, "privacy") and not by_kind(fs, "missing_steps")


def test_call_rule_debt_to_third_party_without_per_utterance_label():
    utts = make(("collector", "您好,请问是刘伟先生吗?"),
                ("third_party", "我是他爱人,他不在家。"),
                ("collector", "您的信用卡已经逾期三十天,欠款五千元。"))
    fs = analyze_call(utts)
    priv = by_kind(fs, "privacy")
    assert len(priv) == 1 and priv[0].rule_id == "call.privacy.third_party_disclosure"
    assert priv[0].utterance_index == 2 and priv[0].severity == "high"
    assert utts[2].labels == ["purpose_disclosure"]  # labels stay per-utterance


def test_call_rule_third_party_cue_in_customer_channel():
    utts = make(("collector", "您好,请问是刘伟先生吗?"),
                ("customer", "打错了,这里没有这个人。"),
                ("collector", "他信用卡欠了我们两万,您认识他吗?"))
    fs = analyze_call(utts)
    assert [f.utterance_index for f in by_kind(fs, "privacy")] == [2]


def test_call_rule_debt_before_verification(test_data):
    utts, _ = load_call(test_data, "dev_call_02")
    fs = analyze_call(utts)
    early = [f for f in fs if f.rule_id == "call.privacy.before_verification"]
    assert [f.utterance_index for f in early] == [0]
    missing = by_kind(fs, "missing_steps")
    assert len(missing) == 1 and missing[0].utterance_index is None
    for step in ("identity_disclosure", "identity_verification", "purpose_disclosure", "repayment_options"):
        assert step in missing[0].evidence


@pytest.mark.parametrize("call_id", ["dev_call_01", "dev_call_04"])
def test_compliant_calls_have_no_privacy_or_missing_steps(test_data, call_id):
    utts, _ = load_call(test_data, call_id)
    fs = analyze_call(utts)
    assert not by_kind(fs, "privacy") and not by_kind(fs, "missing_steps")
    steps = {f.kind for f in fs if f.severity == "info" and f.kind != "promise_to_pay"}
    assert steps == {"identity_disclosure", "identity_verification", "purpose_disclosure",
                     "repayment_options"}


def test_missing_steps_partial_and_no_collector():
    utts = make(("collector", "您好,我是工商银行信用卡中心的小陈。"),
                ("customer", "嗯,什么事?"),
                ("collector", "为了核实身份,请报一下身份证后四位。"),
                ("customer", "三八一二。"),
                ("collector", "您的信用卡已经逾期二十天了。"))
    (m,) = by_kind(analyze_call(utts), "missing_steps")
    assert m.evidence == "missing: repayment_options" and m.severity == "low"
    assert analyze_call(make(("customer", "喂?喂?"))) == []
    assert analyze_call([]) == []


def test_sentiment_trajectory_only_when_worsening():
    worse = make(("customer", "好的,谢谢你。"), ("collector", "不客气。"),
                 ("customer", "行,我知道了。"), ("collector", "请尽快处理。"),
                 ("customer", "你们天天打电话,烦死了。"))
    traj = by_kind(analyze_call(worse), "sentiment_trajectory")
    assert len(traj) == 1 and traj[0].role == "customer"
    better = make(("customer", "烦死了,又打来。"), ("customer", "好吧。"),
                  ("customer", "谢谢你的耐心,辛苦了。"))
    assert not by_kind(analyze_call(better), "sentiment_trajectory")

"""Role assignment on the ground-truth turns of the scripted calls (content-only and with prior)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.domain import PARTY_ROLES, Utterance
from analysis.roles import RoleAssignment, apply_roles, assign_roles, cue_pack, cue_text

CALLS = [f"dev_call_0{i}" for i in range(1, 7)]
STEREO_PRIOR = {"ch0": "collector", "ch1": "customer"}


def call_turns(test_data: Path, call: str) -> list[dict]:
    return json.loads((test_data / "calls" / f"{call}.json").read_text())["turns"]


def utterances(turns: list[dict], label, edit=lambda text: text) -> list[Utterance]:
    return [Utterance(speaker=label(t["channel"]), role="unknown", start=t["start"], end=t["end"],
                      text=edit(t["text"]), channel=None) for t in turns]


# mono labels deliberately put the collector on SPEAKER_01 so that order cannot decide
def mono_label(channel: int) -> str:
    return f"SPEAKER_0{1 - channel}"


def channel_label(channel: int) -> str:
    return f"ch{channel}"


@pytest.mark.parametrize("call", CALLS)
def test_content_only_roles(test_data: Path, call: str) -> None:
    turns = call_turns(test_data, call)
    result = assign_roles(utterances(turns, mono_label))
    assert result.roles == {mono_label(t["channel"]): t["role"] for t in turns}
    assert not result.needs_review, result.reasons
    assert all(0.7 <= c <= 1.0 for c in result.confidence.values())


@pytest.mark.parametrize("call", CALLS)
def test_roles_with_channel_prior(test_data: Path, call: str) -> None:
    turns = call_turns(test_data, call)
    result = assign_roles(utterances(turns, channel_label), prior=STEREO_PRIOR)
    assert result.roles == {channel_label(t["channel"]): t["role"] for t in turns}
    assert not result.needs_review, result.reasons
    if result.roles["ch1"] == "third_party":
        assert any("override" in r for r in result.reasons)


ASR_SLIPS = {"信用卡": "信用塔", "银行": "引擎", "逾期": "预期", "录音": "录影", "她": "他"}


def with_slips(text: str) -> str:
    from opencc import OpenCC

    for right, wrong in ASR_SLIPS.items():
        text = text.replace(right, wrong)
    return OpenCC("s2t").convert(text)  # and Traditional characters


@pytest.mark.parametrize("call", CALLS)
def test_roles_survive_asr_slips_and_traditional_text(test_data: Path, call: str) -> None:
    turns = call_turns(test_data, call)
    result = assign_roles(utterances(turns, mono_label, with_slips))
    assert result.roles == {mono_label(t["channel"]): t["role"] for t in turns}


def test_cue_text() -> None:
    assert cue_text("您好,我是工商引擎信用塔中心的客服。") == "您好我是工商银行信用卡中心的客服"
    assert cue_text("她不在, 我是她媽媽!") == "他不在我是他妈妈"


def test_three_voices_on_a_mono_call(test_data: Path) -> None:
    """Debtor and a relative on one line: collector, customer and third_party."""
    turns = call_turns(test_data, "dev_call_03")
    utts = utterances(turns, mono_label) + [
        Utterance("SPEAKER_02", "unknown", 24.0, 27.0, "喂,我是王芳,我就是本人,这个钱我下个月还。")]
    result = assign_roles(utts)
    assert result.roles == {"SPEAKER_01": "collector", "SPEAKER_00": "third_party", "SPEAKER_02": "customer"}


def test_call_without_cues_is_flagged() -> None:
    utts = [Utterance("SPEAKER_00", "unknown", 0, 1, "喂?"), Utterance("SPEAKER_01", "unknown", 1, 2, "嗯,好的。")]
    result = assign_roles(utts)
    assert result.needs_review and result.reasons
    assert set(result.roles) == {"SPEAKER_00", "SPEAKER_01"}
    assert min(result.confidence.values()) <= 0.6


def test_prior_contradicted_by_content_is_flagged(test_data: Path) -> None:
    turns = call_turns(test_data, "dev_call_01")
    swapped = utterances(turns, lambda ch: f"ch{1 - ch}")  # collector recorded on ch1
    result = assign_roles(swapped, prior=STEREO_PRIOR)
    assert result.needs_review
    assert any("swapped" in r for r in result.reasons)


def test_apply_roles_sets_every_utterance(test_data: Path) -> None:
    utts = utterances(call_turns(test_data, "dev_call_06"), channel_label)
    result = assign_roles(utts, prior=STEREO_PRIOR)
    apply_roles(utts + [Utterance("ch9", "unknown", 0, 1, "x")], result)
    assert [u.role for u in utts] == [t["role"] for t in call_turns(test_data, "dev_call_06")]
    assert apply_roles([Utterance("ch9", "customer", 0, 1, "x")], RoleAssignment())[0].role == "unknown"


def test_empty_call() -> None:
    result = assign_roles([])
    assert result.roles == {} and result.needs_review


def test_cue_pack_is_a_rule_pack_with_cues_for_every_role() -> None:
    cues = cue_pack()
    assert cues.name == "roles" and cues.version
    assert {r.label for r in cues.rules} == set(PARTY_ROLES)
    assert all(r.score > 0 and r.id.startswith(f"roles.{r.label}.") for r in cues.rules)
    assert len({r.id for r in cues.rules}) == len(cues.rules)


@pytest.mark.parametrize("lines, expected", [
    ((("A", "喂,您好,这里是平安普惠,请问是陈明先生吗?"), ("B", "对,是我。"),
      ("A", "您在我们这里的贷款已经逾期十五天了。"), ("B", "我知道,下周发工资就还。")),
     {"A": "collector", "B": "customer"}),
    ((("B", "喂?"), ("A", "您好,我是招商银行信用卡中心的,请问是张伟先生吗?"),
      ("B", "打错了,这里没有这个人。")),
     {"A": "collector", "B": "third_party"}),
    ((("A", "你好,请问是李娜女士吗?我这边是建设银行的。"), ("B", "我是她老公,她上班去了,有什么事?"),
      ("A", "麻烦您转告她尽快回电,谢谢。")),
     {"A": "collector", "B": "third_party"}),
])
def test_unseen_phrasings(lines, expected) -> None:
    utts = [Utterance(spk, "unknown", float(i), i + 1.0, text) for i, (spk, text) in enumerate(lines)]
    result = assign_roles(utts)
    assert result.roles == expected
    assert not result.needs_review, result.reasons

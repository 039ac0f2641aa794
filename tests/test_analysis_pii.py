"""PII spans and redaction: checksums, spoken numerals, leading zeros, partials, amounts."""
from __future__ import annotations

import pytest

from analysis import pii_spans, redact
from analysis.pii import classify_number, id_checksum_ok, luhn_ok, pii_matches


def kinds(text: str) -> list[str]:
    return [k for _, _, k in pii_spans(text)]


def test_id_checksum_and_luhn():
    assert id_checksum_ok("440306199011023812")
    assert id_checksum_ok("11010519491231002X")
    assert not id_checksum_ok("440306199011023813")
    assert luhn_ok("6228480402564890018")
    assert not luhn_ok("6228480402564890019")


def test_id_card_spoken_with_valid_checksum_scores_higher():
    good = pii_matches("我的身份证号码是四四零三零六一九九零一一零二三八一二。")
    bad = pii_matches("我的身份证号码是四四零三零六一九九零一一零二三八一三。")
    assert good[0][2] == "id_card" and good[0][3] == 1.0
    assert bad[0][2] == "id_card" and bad[0][3] < good[0][3]


def test_id_card_with_x_and_lowercase_x():
    assert kinds("身份证11010519491231002X") == ["id_card"]
    assert kinds("身份证 110105 1949 1231 002x") == ["id_card"]


def test_bank_card_luhn_arabic_and_grouped():
    assert kinds("我卡号是6228480402564890018。") == ["bank_card"]
    assert kinds("卡号 6228 4804 0256 4890 018") == ["bank_card"]
    # 19 digits, Luhn fails, no card context: not reported
    assert kinds("编号6228480402564890019") == []


@pytest.mark.parametrize("text", [
    "我手机是一八六一二三四八八七六,有事打这个。",
    "幺三八,幺二三四,五六七八",
    "号码 +86 139 1234 5678",
    "我新号码是一三七零零一三八零零零。",
    "手机一三九 一二三四 五六七八",
    "電話是壹叁玖壹贰叁肆伍陆柒捌",
])
def test_mobiles(text):
    assert kinds(text) == ["phone"]


def test_landline_keeps_leading_zero_and_offsets():
    text = "你打我家座机吧,零二一六二三四五六七八。"
    (s, e, k), = pii_spans(text)
    assert k == "phone" and text[s:e] == "零二一六二三四五六七八"
    assert redact(text) == "你打我家座机吧,[电话]。"
    assert kinds("座机 010-62345678") == ["phone"]
    assert kinds("家里座机是零七五五 八六三二 一五零零") == ["phone"]


def test_two_numbers_in_a_row_are_split():
    text = "手机 幺三九 幺二三四 五六七八,座机 010-62345678"
    assert kinds(text) == ["phone", "phone"]
    assert redact(text) == "手机 [电话],座机 [电话]"


@pytest.mark.parametrize("text", [
    "您尾号三四五六的卡片目前处于冻结状态。",
    "后四位是三八一二。",
    "卡号后四位是六六八八。",
    "身份证后六位是一二三四五六",
    "欠款一万八千五百元",
    "我上个月还了18500元",
    "欠款金额1850000元",
    "我们的投诉电话是九五五八八。",
    "二十号我先还三千。",
    "逾期六十五天,欠款两万七千元",
])
def test_not_pii(text):
    assert pii_spans(text) == []


def test_redact_all_kinds_and_offsets_into_original():
    text = "身份证11010519491231002X,卡号6228480402564890018,手机13912345678"
    out = redact(text)
    assert out == "身份证[身份证],卡号[卡号],手机[电话]"
    for s, e, _ in pii_spans(text):
        assert text[s:e].strip() == text[s:e]


def test_classify_number_shapes():
    assert classify_number("13912345678") == ("phone", 0.95)
    assert classify_number("12345678901") is None  # 12x is not a mobile prefix
    assert classify_number("0216234567")[0] == "phone"


def test_redact_no_pii_is_identity():
    assert redact("") == ""
    assert redact("没有号码") == "没有号码"

"""Promises to pay: amounts in yuan and due dates resolved against the call's local start."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from core.domain import Promise

from analysis.promises import cn_number, local_date, parse_amount, parse_due, parse_promise

THU = "2026-11-12T10:00:00+08:00"      # the dev rows' start: Thursday 12 November 2026


def dev_rows(test_data) -> list[dict]:
    with open(test_data / "dev_outcomes.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_every_dev_promise_amount_and_due(test_data):
    rows = [r for r in dev_rows(test_data) if r["promise"]]
    assert len(rows) == 12
    for r in rows:
        assert parse_promise(r["text"], r["started_at"]).as_dict() == r["promise"], r["id"]


@pytest.mark.parametrize("started,text,due", [
    (THU, "今天还", "2026-11-12"),
    (THU, "今天下午就还", "2026-11-12"),
    (THU, "今晚转过去", "2026-11-12"),
    (THU, "明天还", "2026-11-13"),
    (THU, "明儿个还", "2026-11-13"),
    (THU, "后天还", "2026-11-14"),
    (THU, "大后天还", "2026-11-15"),
    (THU, "这周五还", "2026-11-13"),
    (THU, "本周五还", "2026-11-13"),
    (THU, "周五之前还", "2026-11-13"),
    (THU, "这个礼拜五还", "2026-11-13"),
    (THU, "下周一还", "2026-11-16"),
    (THU, "下周五还", "2026-11-20"),              # LABELS.md: Monday-first weeks
    (THU, "下星期天还", "2026-11-22"),
    (THU, "下下周三还", "2026-11-25"),
    (THU, "周三还", "2026-11-18"),                # this week's Wednesday has passed
    (THU, "周末还", "2026-11-15"),                # the week's Sunday
    (THU, "周四下午还", "2026-11-12"),            # 周四 said on a Thursday: today
    (THU, "下周四下午还", "2026-11-19"),
    (THU, "下周一发工资,发了马上还", "2026-11-16"),  # 马上 only counts without a named date
    (THU, "十二号了吧?那我二十号之前还", "2026-11-20"),  # the date in the paying clause
    ("2026-12-27T11:00:00+08:00", "下周一还", "2026-12-28"),   # said on a Sunday
    ("2026-12-27T11:00:00+08:00", "周三还", "2026-12-30"),
    (THU, "月底还", "2026-11-30"),
    (THU, "月底前还五千", "2026-11-30"),
    (THU, "下个月底还", "2026-12-31"),
    ("2027-01-20T09:00:00+08:00", "下个月底还", "2027-02-28"),
    ("2026-12-30T09:00:00+08:00", "下个月底还", "2027-01-31"),
    (THU, "年底前还", "2026-12-31"),
    (THU, "十五号还", "2026-11-15"),             # not passed: this month
    (THU, "十号还", "2026-12-10"),               # passed: next month (LABELS.md)
    (THU, "十二号还", "2026-11-12"),             # said on the 12th: today
    (THU, "20号还", "2026-11-20"),
    ("2026-12-30T09:00:00+08:00", "五号还", "2027-01-05"),
    ("2027-01-30T09:00:00+08:00", "三十一号还", "2027-01-31"),
    ("2027-02-16T09:00:00+08:00", "三十号还", "2027-02-28"),  # no 30 February: the month's last day
    (THU, "这个月二十号还", "2026-11-20"),
    (THU, "下个月五号还", "2026-12-05"),
    (THU, "下个月十五号发工资,发了就还", "2026-12-15"),
    (THU, "十二月十五号还", "2026-12-15"),
    (THU, "12月15日还", "2026-12-15"),
    (THU, "一月三号还", "2027-01-03"),           # January has passed this year
    (THU, "2027年3月1日还", "2027-03-01"),
    (THU, "一个星期之内还", "2026-11-19"),
    (THU, "一周内还", "2026-11-19"),
    (THU, "一个礼拜以内还", "2026-11-19"),
    (THU, "三天内还", "2026-11-15"),
    (THU, "三天之内我一定还", "2026-11-15"),
    (THU, "两天后还", "2026-11-14"),
    (THU, "两周内还", "2026-11-26"),
    (THU, "一个月内还", "2026-12-12"),
    (THU, "马上还", "2026-11-12"),
    (THU, "我现在就转", "2026-11-12"),
    (THU, "下个月还", "2026-12"),
    (THU, "等我下个月发了工资就还清", "2026-12"),
    ("2026-12-30T09:00:00+08:00", "下个月还", "2027-01"),
    (THU, "下下个月还", "2027-01"),
    (THU, "这个月还", "2026-11"),
    (THU, "二月份还", "2027-02"),
    (THU, "发工资以后还", None),
    (THU, "发了工资就还", None),
    (THU, "过几天还", None),
    (THU, "下周一定还", None),                   # 一定, not Monday
    (THU, "上个月十号就还了, 下个月再说", "2026-12"),  # the past date is skipped
    (THU, "上周五还的", None),
    (None, "明天还", None),                      # no start: never guessed
    ("not a date", "明天还", None),
])
def test_due_dates(started, text, due):
    assert parse_due(text, started) == due


def test_local_date_is_the_start_in_its_own_offset():
    # 07:30 in Shanghai is still the previous day in UTC: the local date counts
    assert parse_due("明天还", "2026-12-04T07:30:00+08:00") == "2026-12-05"
    aware = datetime(2026, 12, 4, 7, 30, tzinfo=timezone(timedelta(hours=8)))
    assert local_date(aware) == date(2026, 12, 4)
    assert parse_due("明天还", aware) == parse_due("明天还", date(2026, 12, 4)) == "2026-12-05"
    assert local_date(None) is None and local_date("yesterday") is None


@pytest.mark.parametrize("text,amount", [
    ("还三千五", 3500), ("还一万二", 12000), ("两千五百块还上", 2500), ("还3000块", 3000),
    ("还1.5万", 15000), ("还五百", 500), ("还一千二百五十", 1250), ("还一千零五十块", 1050),
    ("还1万5", 15000), ("还叁仟元", 3000), ("还六千八", 6800), ("还四百五", 450),
    ("还两千三百", 2300), ("还十万", 100000), ("还3,000元", 3000), ("还两千快", 2000),
    ("还五千多", 5000), ("转1500过去", 1500), ("把1.5万一次性还清", 15000),
    ("我只欠两千,先还一千", 1000),                 # owed is not promised
    ("我用尾号8866那张卡,明天还一千", 1000),       # card tail
    ("12月15号还2000元", 2000),                    # date digits
    ("明天上午十点前还五百块", 500),               # a time
    ("二十号我一定还八百", 800),
])
def test_amounts(text, amount):
    assert parse_amount(text) == amount


@pytest.mark.parametrize("text", [
    "三天之内我一定还", "二十号还", "下个月十五号还", "十点前还", "一次性还清", "分两个月还",
    "打13912345678找我", "还款卡是6222 0202 0001 2345 670", "还两三千", "还一部分", "全部还清",
    "还最低还款额", "五六年了", "一定还",
])
def test_not_amounts(text):
    assert parse_amount(text) is None


@pytest.mark.parametrize("s,value", [
    ("三千五", 3500), ("一万二", 12000), ("两千五百", 2500), ("一千二百五十", 1250), ("一千零五", 1005),
    ("二十五", 25), ("十五", 15), ("三百五", 350), ("一万五千", 15000), ("十五万", 150000),
    ("1.5万", 15000), ("2万3千", 23000), ("3,000", 3000), ("叁仟", 3000), ("两三千", None),
    ("一三七", None), ("一零", None), ("", None), ("三千块", None),
])
def test_cn_number(s, value):
    assert cn_number(s) == value


def test_promise_as_dict_and_defaults():
    assert Promise().as_dict() == {"amount": None, "due": None}
    assert Promise(3000.0, "2026-11-13").as_dict() == {"amount": 3000, "due": "2026-11-13"}
    assert Promise(1250.5, "2026-12").as_dict() == {"amount": 1250.5, "due": "2026-12"}
    # raw text is normalised first: traditional characters, full-width digits
    assert parse_promise("明天還３０００塊", THU) == Promise(3000.0, "2026-11-13")
    assert parse_promise("月底前还五千") == Promise(5000.0, None)

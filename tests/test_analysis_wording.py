"""Rule packs on wording the older sets did not cover (issue 15, Wording).

Kinds, not rows: dares and threats as questions, violence verbs, insults at collectors as a
trade, humiliation without a swear word, dialect and ASR-spelled insults, disclosure to kin
named in dialect; and the negatives that must stay clean (service complaints, swearing as
emphasis, quoting, self-deprecation, lawful process). The sentences below are not rows of
evaldata/dev7, dev8 or dev9 (those are checked as whole sets at the end).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from analysis import LABELS, annotate_row
from analysis.abuse import model_proba
from analysis.evaluate import evaluate_rows, load_rows
from analysis.normalize import normalize

EVALDATA = Path(__file__).resolve().parents[1] / "analysis" / "evaldata"
MISCONDUCT = {"abuse", "threat", "privacy", "self_harm"}


def labels(role: str, text: str) -> set[str]:
    return {lab for lab in annotate_row(role, text)[0] if lab in LABELS}


@pytest.mark.parametrize("role,text", [
    ("customer", "有本事你就来我店里,看我不剁了你"),
    ("customer", "你们谁敢来,来一个我砍一个"),
    ("collector", "想不想见识一下我们的手段?"),
    ("customer", "惹毛了我,我拿汽油泼你们前台"),
    ("collector", "哪天你腿被人打折了别来找我们"),
    ("collector", "你以为躲得过初一?"),
    ("collector", "你闺女在哪个小学读书我们都知道"),
    ("customer", "你住哪我迟早会查到你住哪"),
    ("collector", "我们叫几个兄弟去你家坐坐"),
    ("collector", "你再不还,我让你在单位混不下去"),
    ("collector", "你也不希望你爸妈出点什么意外吧"),
    ("collector", "我们有的是办法整你"),
    ("collector", "我们会让你在你们村出大名"),
    ("collector", "再拖着我们就去找你们领导聊聊"),
])
def test_dares_and_violence_are_threats(role, text):
    assert "threat" in labels(role, text), text


@pytest.mark.parametrize("role,text", [
    ("customer", "你们这帮放高利贷的没一个好东西"),
    ("customer", "做催收的都没人性"),
    ("collector", "这么大的人了还靠爹妈养着,羞不羞"),
    ("collector", "你孩子有你这种爹真是抬不起头"),
    ("collector", "你这种人根本不配借钱"),
    ("collector", "混到你这个地步,我都替你着急"),
    ("customer", "你个瓜皮催收"),
    ("customer", "痴线,唔好再打"),
    ("customer", "傻x别打了"),
    ("customer", "你神经并啊"),
    ("customer", "你一个小职员拽什么拽"),
    ("customer", "你们就是欠骂"),
    ("customer", "一帮狐假虎威的东西"),
    ("collector", "你妈怎么教出你这种货色"),
])
def test_trade_insults_humiliation_and_dialect_are_abuse(role, text):
    assert "abuse" in labels(role, text), text


@pytest.mark.parametrize("role,text,expected", [
    ("collector", "阿姨,您家闺女在我们这借的钱三个月没还了", {"privacy"}),
    ("collector", "你老汉已经知道你欠钱的事了", {"privacy"}),
    ("collector", "回头我给你老丈人打个电话说说你的情况", {"threat", "privacy"}),
    ("collector", "你的欠款明细我们会发到你们业主群里", {"threat", "privacy"}),
])
def test_disclosure_to_kin_and_groups(role, text, expected):
    assert expected <= labels(role, text), text


@pytest.mark.parametrize("role,text", [
    ("customer", "你们这垃圾服务,排队一个小时"),
    ("customer", "破系统又登不上,你们银行真恶心"),
    ("customer", "我他妈哪有钱啊"),
    ("customer", "卧槽,又扣了我五十"),
    ("customer", "你们同事骂我是老赖,我要投诉"),
    ("customer", "我真是个没用的东西,连房租都交不起"),
    ("customer", "我一个大男人连老婆孩子都养不活"),
    ("customer", "活该我倒霉,摊上这事"),
    ("collector", "您说我们的人要去您单位?我们公司严禁这种行为"),
    ("collector", "麻烦您转告您闺女,让她给我们回个电话"),
    ("collector", "案件会依法移交律师,由法院判决"),
    ("customer", "我在后厨砍排骨呢,等下打给你"),
    ("customer", "滚动利息怎么算"),
    ("customer", "你是不是骗子,我怎么知道你是银行的"),
    ("collector", "您好,我找您妻子,麻烦请她回个电话"),
    ("collector", "您实在不行可以找您朋友借一点先还上"),
    ("collector", "你这个人怎么说不通呢"),
])
def test_hard_negatives_stay_clean(role, text):
    assert not MISCONDUCT & labels(role, text), text


def test_classifier_alone_does_not_fire_on_service_complaints():
    # the COLD classifier alone is over its threshold here; the pack's model.alone_unless stops it
    text = "你们这家银行真够恶心的,乱扣费"
    assert model_proba(normalize(text)) >= 0.95
    assert "abuse" not in labels("customer", text)


def test_humiliation_of_life_is_abuse_from_the_collector_only():
    text = "三十多岁的人了还靠爹妈,一事无成"
    assert "abuse" in labels("collector", text)
    assert "abuse" not in labels("customer", text)


@pytest.mark.parametrize("text,sentiment", [
    ("你们的年费简直是抢钱", "negative"),
    ("我是真的还不起了", "negative"),
    ("您先别着急,有困难我们一起想办法", "positive"),
    ("滚动还款是什么", "neutral"),
])
def test_sentiment_cues(text, sentiment):
    role = "collector" if text.startswith("您") else "customer"
    assert annotate_row(role, text)[1] == sentiment, text


@pytest.mark.parametrize("name,floor", [("dev7_utterances.jsonl", 0.95), ("dev8_utterances.jsonl", 0.95),
                                        ("dev9_utterances.jsonl", 0.95)])
def test_dev7_dev8_sets(name, floor):
    # written for this work (first passes in analysis/README.md); floors slightly below the figures
    res = evaluate_rows(load_rows(EVALDATA / name))
    for label in ("abuse", "threat", "privacy", "self_harm"):
        assert res["labels"][label]["f1"] >= floor, (label, res["labels"][label], res["errors"])
    assert res["labels"]["abuse"]["precision"] == 1.0, res["errors"]
    assert res["sentiment_accuracy"] >= 0.94, res["errors"]


def test_blind6_does_not_fall_below_its_measured_figures():
    # blind6 (366 rows, writer "blind") was measured once before and once after this work and
    # NOT tuned on (analysis/README.md, "Measured: unseen wording"). These floors sit a little
    # under the after figures so that later changes cannot quietly lose what was measured;
    # raising them needs a new blind set, not edits aimed at blind6's rows.
    res = evaluate_rows(load_rows(EVALDATA / "blind6_utterances.jsonl"))
    assert res["n"] == 366
    floors = {"abuse": 0.78, "threat": 0.73, "privacy": 0.84, "pii": 0.99}
    for label, f1 in floors.items():
        assert res["labels"][label]["f1"] >= f1, (label, res["labels"][label])
    assert res["labels"]["threat"]["precision"] >= 0.99
    assert res["sentiment_accuracy"] >= 0.75

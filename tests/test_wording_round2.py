"""Round 2 of issue 15's wording rows: pack kinds (self-harm plan / place / last arrangements,
insinuated threats), guards (venting at absent people or at a system, 老子 inside a threat),
dialect thanks, and blind7 as training / surrogate material.

Sentences are this file's own wording (in no labelled set); the rules are checked with the
learned layer switched off (`learned.using`, the evaluation's own switch) so a rule, not the
model, is what is tested, and with the shipped models for the combined reading.
"""
from __future__ import annotations

import pytest

from analysis.annotate import analyze_text
from analysis.training.labelled_sets import SET_FILES, SURROGATE, SURROGATE_R1, duplicates, load_sets, surrogate_split
from tests.helpers.wording import rules_analysis

@pytest.mark.parametrize("text", [
    "木炭我昨天就买好了,不用再打来了",          # the means bought
    "绳子就放在床头,我想了一晚上",              # the means at hand
    "我已经爬到桥上了,别劝我",                  # the place
    "房门窗户都封死了,你们别找了",              # sealed in
    "闺女我已经托付给她姨了,我也没啥牵挂了",    # last arrangements
    "替我跟我老娘说声对不起",                    # farewell
])
def test_self_harm_without_a_death_word(text):
    a = rules_analysis("customer", text)
    assert "self_harm" in a.labels and a.hits["self_harm"].rule_id.startswith("self_harm."), text


@pytest.mark.parametrize("text", [
    "我妈的药已经买好了,明天寄过去",    # medicine for someone else (no bare 药 in MEANS)
    "我现在在江边钓鱼呢,晚点回你",       # at a river, not on its edge as a plan
    "孩子托管班的钱我交了",              # not entrusting the children for good
])
def test_self_harm_plan_kind_is_bounded(text):
    a = rules_analysis("customer", text)
    assert a.hits.get("self_harm") is None or a.hits["self_harm"].rule_id != "self_harm.plan", text


@pytest.mark.parametrize("role,text", [
    ("collector", "你闺女每天早上七点从小区门口出来上学吧"),
    ("collector", "老人家年纪都大了,可别让他们受什么刺激"),
    ("customer", "我认识你们公司那栋楼,你下班走慢点"),
    ("customer", "你再骂一句试试"),
    ("collector", "您要是不配合,由此产生的所有后果都得您自己承担"),
])
def test_insinuated_threats(role, text):
    a = rules_analysis(role, text)
    assert "threat" in a.labels and a.hits["threat"].rule_id.startswith("threat."), text


@pytest.mark.parametrize("role,text", [
    ("collector", "你再试试在App里重新登录"),                  # "try again" is no dare
    ("collector", "您家孩子几点放学都行,我们只找您本人"),       # no routine said as leverage
    ("collector", "您父母年纪大了,这个事最好别让他们操心"),     # care, not frailty used as leverage
])
def test_insinuation_kind_spares_ordinary_talk(role, text):
    assert "threat" not in rules_analysis(role, text).labels, text


@pytest.mark.parametrize("text", [
    "我们那个包工头王八蛋卷钱跑了,工资一分没拿到",   # venting at an absent person
    "那个龟孙的合伙人把账都卷走了",
    "操,这破网又断了",                               # swearing at a thing
    "唉他妈的,我也想早点还清啊",                     # at one's own lot
])
def test_venting_is_not_abuse_of_the_listener(text):
    assert "abuse" not in analyze_text("customer", text).labels, text


@pytest.mark.parametrize("text", [
    "你这个王八蛋",
    "操,你到底还不还",
    "他妈的你再打一个试试",
    "滚,老子没钱",
])
def test_abuse_of_the_listener_still_found(text):
    assert "abuse" in analyze_text("customer", text).labels, text


def test_laozi_inside_a_threat_is_the_threat():
    a = analyze_text("customer", "信不信老子带人去你家门口堵你")
    assert "threat" in a.labels and "abuse" not in a.labels
    # a real insult next to the threat is still abuse
    b = analyze_text("customer", "信不信老子带人去你家门口堵你,傻逼")
    assert {"threat", "abuse"} <= set(b.labels)


@pytest.mark.parametrize("text,expected", [
    ("谢谢侬,帮了大忙了", "positive"),
    ("谢了哈,就按你说的办", "positive"),
    ("要得要得,下周就还", "positive"),
    ("你这人敞亮,我明天就去还", "positive"),
])
def test_dialect_thanks_read_positive(text, expected):
    assert analyze_text("customer", text).sentiment == expected


def test_blind7_is_training_material_and_the_surrogate_split():
    sets = load_sets()
    names = list(SET_FILES)
    assert len(sets["blind7"]) >= 360
    test, train_names = SURROGATE
    # round 2's surrogate: blind7 held out, every set written before it trains
    assert test == "blind7" and list(train_names) == names[:names.index("blind7")]
    assert SURROGATE_R1[0] == "blind6" and "blind6" not in SURROGATE_R1[1]
    name, train, held = surrogate_split(sets)
    assert name == "blind7" and held == sets["blind7"] and all(r["set"] != "blind7" for r in train)
    # blind7 was copied in unchanged: its few rows whose text an earlier set holds are dropped
    # from it (never both trained on and held out); only the blind sets copied in unchanged have any
    dups = duplicates()
    assert {d[0] for d in dups} <= {"blind7", "blind8", "blind11", "blind12"}
    keys = {r["text"] for n, rs in sets.items() if n != "blind7" for r in rs}
    assert not any(r["text"] in keys for r in sets["blind7"])

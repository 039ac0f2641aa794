"""Detectors on single utterances: rule packs, negations, role-awareness, ASR tolerance."""
from __future__ import annotations

import pytest

from analysis import LABELS, annotate_row
from analysis.normalize import normalize
from analysis.rules import RULES_DIR, pack, versions


def labels(role: str, text: str) -> list[str]:
    """The LABELS of one utterance (outcome labels are tested in test_outcomes.py)."""
    return [lab for lab in annotate_row(role, text)[0] if lab in LABELS]


def test_every_pack_compiles_and_has_version_and_rule_fields():
    names = [p.stem for p in RULES_DIR.glob("*.yaml")]
    assert {"abuse", "threat", "privacy", "steps", "self_harm", "sentiment"} <= set(names)
    for name in ("abuse", "threat", "privacy", "steps", "self_harm", "sentiment"):
        p = pack(name)
        assert p.version and p.rules
        for r in p.rules:
            assert r.id.startswith(name.split("_")[0]) and r.label and r.description
    assert all(versions().values())


def test_normalize_t2s_width_fillers_asr_slips():
    assert normalize("您好，這裡是銀行") == "您好,这里是银行"
    assert normalize("嗯,那个,你的信用塔已经预期二十天了") == "你的信用卡已经逾期二十天了"
    assert normalize("本次通话将被录影") == "本次通话将被录音"
    assert normalize("没钱没钱没钱!!") == "没钱!"
    assert normalize("符合预期") == "符合预期"


@pytest.mark.parametrize("role,text,expected", [
    ("collector", "您好,我是建设银行信用塔中心的,我姓孙。", ["identity_disclosure"]),
    ("collector", "您好,這裡是中國銀行信用卡中心,本次通話會被錄音。", ["identity_disclosure"]),
    ("collector", "张先生您的信用卡已经预期三十二天了欠款金额是12800元", ["purpose_disclosure"]),
    ("collector", "为了确认是您本人,请说一下您身份证最后四位数字。", ["identity_verification"]),
    ("collector", "您这种情况可以办个分期,分十二个月还。", ["repayment_options"]),
])
def test_steps_tolerate_asr_and_traditional(role, text, expected):
    assert labels(role, text) == expected


def test_steps_only_from_collector_and_not_name_check():
    assert labels("customer", "我是工商银行的员工。") == []
    assert labels("collector", "您好,请问是王芳女士吗?") == []
    assert labels("collector", "喂,张强是吧?你的信用卡欠款到底什么时候还?") == []


@pytest.mark.parametrize("text", [
    "我们不会上门,也不会联系您的家人。",
    "请您放心,我们不会把您的情况告诉任何人。",
    "逾期会影响征信记录。",
    "银行有权依法向法院提起诉讼。",
    "根据相关规定,长期逾期的账户可能会被报送征信系统。",
    "如果持续逾期,银行可能会依法向法院提起诉讼。",
])
def test_lawful_statements_and_negations_are_not_threats(text):
    assert "threat" not in labels("collector", text)
    assert "privacy" not in labels("collector", text)


@pytest.mark.parametrize("text,expected", [
    ("再不还钱,我们就去你单位找你们老板谈谈。", {"threat", "privacy"}),
    ("我们会把你欠钱不还的事发到你们家族群里。", {"threat", "privacy"}),
    ("不还钱就等着坐牢吧。", {"threat"}),
    ("你要是还不接电话,我们就一直打,打到你接为止。", {"threat"}),
    ("不还钱我们就上门。", {"threat"}),
])
def test_threat_intents(text, expected):
    assert expected <= set(labels("collector", text))


def test_abuse_exceptions_service_complaints_and_requests():
    assert labels("customer", "你们银行的系统烂透了。") == []
    assert labels("customer", "我每天收到一堆垃圾短信,是不是你们发的?") == []
    assert labels("customer", "你们这个app太垃圾了,还款按钮都找不到。") == []
    assert labels("collector", "先生,请您文明用语,我们好好沟通。") == []
    assert labels("collector", "您冷静一下,请不要骂人。") == []


def test_abuse_both_roles_with_role_aware_severity():
    from analysis import analyze_text

    c = analyze_text("collector", "你是猪吗?这么简单的事都听不明白。")
    k = analyze_text("customer", "你个狗东西,再打电话试试。")
    assert "abuse" in c.labels and "abuse" in k.labels
    assert c.hits["abuse"].severity == "high"
    assert k.hits["abuse"].severity == "medium"


def test_role_awareness_visits_and_self_harm():
    # a customer going to complain at the bank is not a visit threat
    assert labels("customer", "我要去你们公司投诉你。") == []
    assert "threat" in labels("collector", "我们明天去你公司找你领导。")
    # self-harm is about the speaker; the collector saying it is abuse, not self_harm
    assert labels("customer", "我活着也没什么意思了,不如死了算了。") == ["self_harm"]
    assert "self_harm" not in labels("collector", "你怎么不去死。")


@pytest.mark.parametrize("text,expected", [
    ("我真的不想活了,这日子没法过了。", ["self_harm"]),
    ("大不了我一死了之。", ["self_harm"]),
    ("放心吧,我不会想不开的。", []),
    ("孩子生病住院,我真的快撑不住了。", []),
    ("一天打十几个电话,你们还让不让人活了?", []),
])
def test_self_harm_vs_distress(text, expected):
    assert labels("customer", text) == expected


def test_privacy_disclosure_to_third_party_and_refusal():
    assert labels("collector", "阿姨,您女儿在我们银行的信用卡欠了三万二。") == ["privacy"]
    assert labels("collector", "抱歉,具体事情需要跟他本人说,不方便告诉您。") == []
    assert labels("collector", "麻烦您让他给我们回个电话,谢谢您。") == []


@pytest.mark.parametrize("role,text,expected", [
    ("customer", "麻烦你了,辛苦啦。", "positive"),
    ("customer", "厂子倒闭了,我已经三个月没收入了。", "negative"),
    ("collector", "您的最低还款额是两千三百元,到期日是本月二十五号。", "neutral"),
    ("collector", "请问您是他的朋友吗?麻烦转告他尽快回电,谢谢。", "neutral"),
    ("collector", "你就是个社会的蛀虫。", "negative"),
])
def test_sentiment(role, text, expected):
    assert annotate_row(role, text)[1] == expected


def test_unknown_role_and_empty_text():
    assert annotate_row("", "") == ([], "neutral")
    assert "abuse" in annotate_row("agent", "滚,老子没钱。")[0]


BENIGN = [
    ("collector", "您的还款我们已经收到了,感谢您的配合。"),
    ("collector", "我们会把还款方式通过短信发给您。"),
    ("collector", "您说的情况我已经记录下来了,会反馈给相关部门。"),
    ("collector", "这个情况需要您本人来处理,我们不能跟其他人说。"),
    ("collector", "我们不会去您单位,也不会打扰您的家人。"),
    ("collector", "您的孩子上学需要用钱,我们也理解。"),
    ("collector", "您老实告诉我,这个月大概能还多少?"),
    ("collector", "请您保持电话畅通,方便我们联系您。"),
    ("customer", "我朋友借我的钱还没还给我,等他还了我就还。"),
    ("customer", "我明天去你们公司找客服经理问清楚。"),
    ("customer", "你们能不能不要老给我家里人打电话?"),
    ("third_party", "我是他老婆,有什么事跟我说也行。"),
]


@pytest.mark.parametrize("role,text", BENIGN)
def test_benign_collection_talk_has_no_labels(role, text):
    assert labels(role, text) == []


@pytest.mark.parametrize("role,text", [
    ("collector", "请放心,您的联系人不会知道这件事。"),
    ("collector", "您家人都不会知道的,我们只跟您本人沟通。"),
    ("collector", "我把您的情况反映给我们主管,看能不能减免。"),
    ("collector", "我会把还款信息发给您,请注意查收。"),
    ("collector", "您的账户已经被关闭了。"),
    ("collector", "如果协商不成,银行有权通过法律途径追讨欠款。"),
    ("customer", "我真的不想活得这么窝囊,我一定会还的。"),
    ("customer", "我只能死扛着,等发工资再说。"),
    ("customer", "我没文化,合同看不太懂。"),
    ("customer", "我要去银保监会投诉你们。"),
])
def test_lawful_negated_and_benign_lines_are_clean(role, text):
    assert not {"threat", "privacy", "abuse", "self_harm"} & set(labels(role, text)), text

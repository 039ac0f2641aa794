"""Call outcomes: labels on utterances, outcome findings, dispositions, analyze-text, evaluation."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.domain import Finding, Utterance

from analysis import OUTCOME_LABELS, analyze_call, analyze_text, annotate_jsonl, disposition
from analysis.evaluate import evaluate_rows, load_rows, main
from analysis.rules import pack

EVALDATA = Path(__file__).resolve().parents[1] / "analysis" / "evaldata"
THU = "2026-11-12T10:00:00+08:00"


def outcomes(role: str, text: str) -> list[str]:
    return [lab for lab in analyze_text(role, text).labels if lab in OUTCOME_LABELS]


def make(*turns: tuple[str, str], speakers: tuple[str, ...] | None = None) -> list[Utterance]:
    return [Utterance(speaker=speakers[i] if speakers else r, role=r, start=float(i), end=i + 0.9, text=t)
            for i, (r, t) in enumerate(turns)]


def test_pack_compiles_with_versions_and_fields():
    p = pack("outcomes")
    assert p.version and {r.label for r in p.rules} == set(OUTCOME_LABELS)
    for r in p.rules:
        assert r.id.startswith("outcomes.") and r.description
        assert r.roles is not None and "collector" not in r.roles      # never the collector's speech
    assert p.data["disposition"]["not_speech"]


def test_every_dev_row(test_data):
    rows = load_rows(test_data / "dev_outcomes.jsonl")
    assert len(rows) == 40
    for r in rows:
        assert outcomes(r["role"], r["text"]) == [lab for lab in OUTCOME_LABELS if lab in r["labels"]], r["id"]


@pytest.mark.parametrize("role,text,expected", [
    # negations and inability
    ("customer", "我不会还的。", ["refusal_to_pay"]),
    ("customer", "我没说不还,就是现在没有。", []),
    ("customer", "不是不想还,是真还不上。", []),
    ("customer", "明天我还不了。", []),
    ("customer", "明天不还。", ["refusal_to_pay"]),
    ("customer", "我上个月十号就还完了。", ["dispute"]),
    ("customer", "没钱了,真的还不上了。", []),
    ("customer", "如果不还会怎么样?", []),
    ("customer", "我朋友借我的钱不还给我,我也没办法。", []),
    # vague assurances, requests and questions are not promises
    ("customer", "我尽量月底还。", []),
    ("customer", "钱会还的。", []),
    ("customer", "能不能下个月再还?", []),
    ("customer", "我下个月15号还3000可以吗", []),
    ("customer", "你让我明天还三千?我哪来的钱。", []),
    ("customer", "还款卡是6217001234987654322", []),
    # the collector's proposals and recaps are never outcomes
    ("collector", "您今天能还两千吗?", []),
    ("collector", "那我们约定下周五还款三千元。", []),
    ("collector", "您要是再不还,我们也没办法。", []),
    ("collector", "您可以拨打12378投诉。", []),
    # promises by the customer and by a third party on the debtor's behalf
    ("customer", "我下周一去柜台还两千。", ["promise_to_pay"]),
    ("customer", "我先还五百。", ["promise_to_pay"]),
    ("customer", "发了工资就还。", ["promise_to_pay"]),
    ("third_party", "他的钱我下周三帮他还一万。", ["promise_to_pay"]),
    ("customer", "明天我把2.5万一起转过去。", ["promise_to_pay"]),   # a decimal point is not a clause end
    ("third_party", "我会转告他,让他明天把钱还上。", []),
    ("third_party", "他说他下周一还两千。", []),
    # hardship vs inability
    ("customer", "手头紧,过段时间吧。", []),
    ("customer", "我没失业,就是工资还没发。", []),
    ("customer", "再这样我会被开除的。", []),
    ("customer", "我去年被裁员了。", ["hardship"]),
    ("third_party", "我是他老婆,他住院了。", ["hardship"]),
    # disputes vs asking
    ("customer", "我欠多少钱?", []),
    ("customer", "最低还款额是多少?", []),
    ("customer", "这笔消费不是我刷的。", ["dispute"]),
    ("customer", "我要是有钱早就还了。", []),
    # cease contact vs call later
    ("customer", "别再给我打电话了。", ["cease_contact"]),
    ("customer", "你们能不能不要老给我家里人打电话?", ["cease_contact"]),
    ("customer", "我在开会,晚点再打给我。", []),
    ("customer", "别打岔,听我说完。", []),
    # complaints vs violence vs the collector suing
    ("customer", "我要打12378投诉你们。", ["complaint_threat"]),
    ("customer", "你们再骚扰我,我就报警了。", ["complaint_threat"]),
    ("customer", "我不会去投诉你们的。", []),
    ("customer", "我找人弄死你。", []),
    ("customer", "你们去法院告我吧。", []),
    ("customer", "我去网上查一下还款方式。", []),
    # wrong party vs someone who knows the debtor
    ("third_party", "你打错了,这里没有这个人。", ["wrong_party"]),
    ("third_party", "这个号码我刚办的。", ["wrong_party"]),
    ("customer", "我不姓刘,你找错了吧。", ["wrong_party"]),
    ("third_party", "他是我同事,今天没来。", []),
    ("third_party", "我不是他本人,我是他表弟。", []),
    ("third_party", "你说的那个人我不认识,我是他邻居。", []),
    # widened after the second blind set's first pass (analysis/README.md)
    ("customer", "明儿一早就给你们汇过去。", ["promise_to_pay"]),     # 一早就 is not 早就 (past)
    ("customer", "我明天环三千。", ["promise_to_pay"]),                  # ASR: 环 for 还
    ("customer", "周三下午打你们卡上。", ["promise_to_pay"]),
    ("customer", "我是不会再还的。", ["refusal_to_pay"]),
    ("customer", "别想从我这要到一分钱。", ["refusal_to_pay"]),
    ("customer", "这张卡我从没激活过。", ["dispute"]),
    ("customer", "这笔利息我不认。", ["dispute"]),
    ("customer", "我半年前就结清了。", ["dispute"]),
    ("customer", "我被单位开了。", ["hardship"]),
    ("customer", "我就找人把你们公司砸了。", []),                       # violence, not business failure
    ("customer", "我不想再接你们电话了。", ["cease_contact"]),
    ("customer", "不要再找我家人了。", ["cease_contact"]),
    ("customer", "我打市长热线反映。", ["complaint_threat"]),
    ("third_party", "我不认识什么王刚。", ["wrong_party"]),
    ("third_party", "这号我买来才一个月。", ["wrong_party"]),
    # several outcomes in one utterance
    ("customer", "这钱不是我欠的,再打我就去银保监会投诉。", ["dispute", "complaint_threat"]),
    ("customer", "我被裁员了,你们别再给我单位打电话了。", ["hardship", "cease_contact"]),
])
def test_outcome_labels(role, text, expected):
    assert outcomes(role, text) == expected


def test_outcome_labels_do_not_change_sentiment_or_other_labels():
    a = analyze_text("customer", "行,我明天把三千块钱还上。")
    assert a.labels == ["promise_to_pay"] and a.sentiment != "negative"
    b = analyze_text("customer", "滚,老子就是不还。")
    assert b.labels == ["abuse", "refusal_to_pay"]          # LABELS first, then outcomes


def test_dev_and_blind_figures(test_data):
    dev = evaluate_rows(load_rows(test_data / "dev_outcomes.jsonl"))
    assert dev["n_outcome_rows"] == 40
    assert all(m["f1"] == 1.0 for m in dev["outcomes"].values()), dev["errors"]
    assert dev["promise"]["detected"] == dev["promise"]["both_ok"] == 12
    # written before the rules (first pass in analysis/README.md); floors below what is reached
    blind = evaluate_rows(load_rows(EVALDATA / "blind_outcomes.jsonl"))
    assert blind["n_outcome_rows"] == 136
    for label, m in blind["outcomes"].items():
        assert m["f1"] >= 0.95, (label, m, blind["errors"])
    assert blind["promise"]["both_ok_rate"] >= 0.95, blind["errors"]
    # the second set was written after the first was used for tuning (first pass in README)
    blind2 = evaluate_rows(load_rows(EVALDATA / "blind2_outcomes.jsonl"))
    assert blind2["n_outcome_rows"] == 82
    for label, m in blind2["outcomes"].items():
        assert m["f1"] >= 0.95, (label, m, blind2["errors"])
    assert blind2["promise"]["both_ok_rate"] >= 0.95, blind2["errors"]
    # outcome labels are not judged on the other rows (they are not annotated there)
    utt = evaluate_rows(load_rows(test_data / "dev_utterances.jsonl"))
    assert utt["n_outcome_rows"] == 0 and all(m["f1"] == 1.0 for m in utt["labels"].values())


def test_evaluate_prints_outcomes_and_promises(test_data, capsys):
    assert main([str(test_data / "dev_outcomes.jsonl"), "--no-cold"]) == 0
    out = capsys.readouterr().out
    assert "promise_to_pay" in out and "abuse" not in out
    assert "promises: 12 gold, 12 detected; exact amount 12 (1.000), due 12 (1.000), both 12 (1.000)" in out


# ---- findings ------------------------------------------------------------------------
def test_analyze_call_outcome_findings_carry_the_promise_and_redacted_evidence():
    utts = make(("collector", "您今天能还两千吗?"),
                ("customer", "行,下周一还两千,到了给我回电话13912345678。"),
                ("customer", "你们再骚扰我,我就打12378投诉。"),
                ("customer", "我去年被裁员了。"))
    fs = analyze_call(utts, started_at=THU)
    prom = [f for f in fs if f.kind == "promise_to_pay"]
    assert len(prom) == 1
    p = prom[0]
    assert (p.role, p.utterance_index, p.severity, p.amount, p.due) == ("customer", 1, "info", 2000.0, "2026-11-16")
    assert (p.start, p.end) == (utts[1].start, utts[1].end)
    assert "[电话]" in p.evidence and "13912345678" not in p.evidence
    assert p.rule_id == "outcomes.promise.customer" and 0 < p.score <= 1
    kinds = {f.kind: f for f in fs if f.kind in OUTCOME_LABELS}
    assert set(kinds) == {"promise_to_pay", "complaint_threat", "hardship"}
    assert kinds["complaint_threat"].severity == kinds["hardship"].severity == "medium"
    assert all(f.amount is None and f.due is None for f in fs if f.kind != "promise_to_pay")
    assert utts[1].labels == ["pii", "promise_to_pay"]
    # without the call's start the amount is kept and the due is unknown
    again = [f for f in analyze_call(make(*[(u.role, u.text) for u in utts])) if f.kind == "promise_to_pay"]
    assert (again[0].amount, again[0].due) == (2000.0, None)


def test_outcome_severities():
    utts = make(("customer", "我就是不还。"), ("customer", "这笔不是我刷的。"),
                ("customer", "别再打了。"), ("third_party", "你打错了。"))
    sev = {f.kind: f.severity for f in analyze_call(utts) if f.kind in OUTCOME_LABELS}
    assert sev == {"refusal_to_pay": "low", "dispute": "medium", "cease_contact": "medium", "wrong_party": "low"}


def test_scripted_calls_outcomes(test_data):
    data = json.loads((test_data / "calls" / "dev_call_01.json").read_text(encoding="utf-8"))
    utts = [Utterance(speaker=t["role"], role=t["role"], start=t["start"], end=t["end"], text=t["text"])
            for t in data["turns"]]
    prom = [f for f in analyze_call(utts, data["started_at"]) if f.kind == "promise_to_pay"]
    assert [(f.utterance_index, f.due) for f in prom] == [(5, "2026-11-30"), (7, "2026-11-30")]


# ---- dispositions --------------------------------------------------------------------
@pytest.mark.parametrize("call_id,expected", [
    ("dev_call_01", "right_party"), ("dev_call_02", "right_party"), ("dev_call_03", "third_party"),
    ("dev_call_04", "right_party"), ("dev_call_05", "right_party"), ("dev_call_06", "third_party"),
])
def test_disposition_of_scripted_calls(test_data, call_id, expected):
    data = json.loads((test_data / "calls" / f"{call_id}.json").read_text(encoding="utf-8"))
    utts = [Utterance(speaker=f"ch{t.get('channel', 0)}", role=t["role"], start=t["start"], end=t["end"],
                      text=t["text"]) for t in data["turns"]]
    assert disposition(utts, analyze_call(utts)) == expected


def test_disposition_constructed_calls():
    wrong = make(("collector", "您好,请问是刘伟先生吗?"), ("customer", "你打错了,这里没有这个人。"))
    assert disposition(wrong, analyze_call(wrong)) == "wrong_number"
    assert disposition(wrong) == "wrong_number"                      # from the labels analyze_call set
    collector_only = make(("collector", "喂?喂,您好,请问是刘伟先生吗?"), ("collector", "喂?听得到吗?"))
    assert disposition(collector_only, analyze_call(collector_only)) == "no_answer"
    assert disposition([], []) == "no_answer"
    voicemail = make(("collector", "喂,您好?"), ("customer", "您拨打的电话暂时无法接通,请稍后再拨。"),
                     ("customer", "  "))
    assert disposition(voicemail, analyze_call(voicemail)) == "no_answer"
    relative_in_customer_channel = make(("collector", "请问是王芳女士吗?"),
                                        ("customer", "她不在,我是她妈妈。"), ("customer", "好吧,我跟她说。"))
    assert disposition(relative_in_customer_channel, analyze_call(relative_in_customer_channel)) == "third_party"
    handed_over = make(("collector", "请问是王芳女士吗?"), ("third_party", "我是她妈妈,我叫她。"),
                       ("customer", "喂,什么事?"), speakers=("ch0", "ch1", "ch2"))
    assert disposition(handed_over, analyze_call(handed_over)) == "right_party"
    confirmed = make(("collector", "请问是刘伟吗?"), ("customer", "对,我是刘伟,他不在的时候你别打我单位。"))
    assert disposition(confirmed, analyze_call(confirmed)) == "right_party"
    unassigned = make(("collector", "您好"), ("unknown", "喂,谁啊?"))
    assert disposition(unassigned, analyze_call(unassigned)) == "unknown"
    collector_says_wrong = [Finding("wrong_party", "collector", 0.0, 1.0, "x", "r")]
    assert disposition(make(("customer", "对,我是本人。")), collector_says_wrong) == "right_party"


# ---- analyze-text ----------------------------------------------------------------------
def test_annotate_jsonl_writes_promise(tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [{"id": "a", "role": "customer", "started_at": THU, "text": "行,我明天把三千块钱还上。",
             "labels": [], "promise": None, "x": 1},
            {"id": "b", "role": "customer", "text": "月底前还五千。"},
            {"id": "c", "role": "customer", "started_at": THU, "text": "我尽量。"}]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert annotate_jsonl(src, out) == 3
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert list(got[0]) == ["id", "role", "started_at", "text", "labels", "promise", "x", "sentiment"]
    assert got[0]["labels"] == ["promise_to_pay"] and got[0]["promise"] == {"amount": 3000, "due": "2026-11-13"}
    assert list(got[1])[-3:] == ["labels", "sentiment", "promise"]
    assert got[1]["promise"] == {"amount": 5000, "due": None}        # no started_at: due unknown
    assert got[2]["labels"] == [] and got[2]["promise"] is None


def test_annotate_jsonl_bad_started_at_names_the_row(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"role": "customer", "text": "好"}\n{"role": "customer", "text": "好", "started_at": "soon"}\n',
                   encoding="utf-8")
    with pytest.raises(ValueError, match="row 2: started_at"):
        annotate_jsonl(src, tmp_path / "out.jsonl")


def test_cli_analyze_text_writes_promise(test_data, tmp_path):
    out = tmp_path / "out.jsonl"
    result = subprocess.run([sys.executable, "-m", "callqa.cli", "analyze-text", str(test_data / "dev_outcomes.jsonl"),
                             "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    src = load_rows(test_data / "dev_outcomes.jsonl")
    assert [g["promise"] for g in got] == [s["promise"] for s in src]
    assert [g["labels"] for g in got] == [s["labels"] for s in src]
    # a bad started_at is a ValueError naming the row (test above), which the CLI turns into a
    # one-line error with exit 2 like every other bad row (test_cli.py)

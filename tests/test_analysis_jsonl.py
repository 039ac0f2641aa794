"""annotate_jsonl: schema, replacement of existing labels, stdout, clear errors."""
from __future__ import annotations

import json

import pytest

from analysis import annotate_jsonl


def test_roundtrip_replaces_labels_and_keeps_fields(tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [{"id": "a", "role": "customer", "text": "滚,老子没钱。", "labels": ["x"], "extra": 1},
            {"id": "b", "role": "collector", "text": "您好,这里是交通银行信用卡中心。"}]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8")
    out = tmp_path / "sub" / "out.jsonl"
    assert annotate_jsonl(src, out) == 2
    text = out.read_text(encoding="utf-8")
    assert "老子" in text  # ensure_ascii=False
    got = [json.loads(line) for line in text.splitlines()]
    assert got[0] == {"id": "a", "role": "customer", "text": "滚,老子没钱。", "labels": ["abuse"],
                      "extra": 1, "sentiment": "negative", "promise": None}
    assert got[1]["labels"] == ["identity_disclosure"] and got[1]["sentiment"] == "neutral"


def test_stdout(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"role": "customer", "text": "谢谢你给我讲得这么清楚。"}) + "\n", encoding="utf-8")
    assert annotate_jsonl(src, None) == 1
    assert json.loads(capsys.readouterr().out)["sentiment"] == "positive"


@pytest.mark.parametrize("content,msg", [
    ('{"role": "customer", "text": "好"}\n{bad json\n', "row 2"),
    ('{"role": "customer"}\n', "row 1: missing or non-string text"),
    ('{"text": "好"}\n', "row 1: missing or non-string role"),
    ('[1, 2]\n', "row 1"),
])
def test_errors_name_the_row(tmp_path, content, msg):
    src = tmp_path / "in.jsonl"
    src.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=msg):
        annotate_jsonl(src, tmp_path / "out.jsonl")

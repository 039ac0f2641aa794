"""Shape of the issue-15 blind material: rows, spans and voiced calls must be usable as written.

Checks format only (keys, label names, span offsets, checksums of the numbers labelled as full
numbers, call files and manifest); it never runs a detector on the rows.
"""
import csv
import json
import re
import struct
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "analysis" / "evaldata"
CALLS = ROOT / "bench" / "data" / "blind_calls"
CALLS2 = ROOT / "bench" / "data" / "blind_calls2"
# the utterance sets written blind for issue 15: file, id prefix
UTTERANCE_SETS = [("blind6_utterances.jsonl", "b6"), ("blind7_utterances.jsonl", "b7"), ("blind8_utterances.jsonl", "b8"),
                  ("blind9_utterances.jsonl", "b9"), ("blind10_utterances.jsonl", "b10"),
                  ("blind11_utterances.jsonl", "b11"), ("blind9_adjudicated_utterances.jsonl", "b9"),
                  ("blind10_adjudicated_utterances.jsonl", "b10"), ("blind11_adjudicated_utterances.jsonl", "b11")]
# sets whose gold was read a second time and adjudicated before any detector ran on them
ADJUDICATED = ("blind9", "blind10", "blind11", "blind12", "blind13", "blind14", "blind15", "blind16")
UTTERANCE_SETS += [(f"{name}{kind}_utterances.jsonl", f"b{name[5:]}") for name in ADJUDICATED[3:]
                   for kind in ("", "_adjudicated")]

# the label names of LABELS.md (misconduct, personal data, required steps)
LABEL_NAMES = {"abuse", "threat", "privacy", "self_harm", "pii", "identity_disclosure",
               "identity_verification", "purpose_disclosure", "repayment_options"}
ROLES = {"collector", "customer", "third_party"}
KINDS = {"id", "card", "phone", "id_partial", "name", "address", "employer"}
DIGITS = {**{str(i): i for i in range(10)}, **dict(zip("零一二三四五六七八九", range(10))),
          **dict(zip("壹贰叁肆伍陆柒捌玖", range(1, 10))), "〇": 0, "幺": 1, "两": 2}
# a number written in an ASR garble the digit reader cannot read (十三八 for 一三八), as both
# annotators read it
GARBLED_NUMBERS = {"b16-342": "13812345678"}


def _rows(name):
    with open(EVAL / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _digits(text):
    out = [str(DIGITS[c]) for c in text if c in DIGITS]
    if text.rstrip().endswith(("X", "x", "叉")):
        out.append("X")
    return "".join(out)


def _id_ok(s):
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return len(s) == 18 and "10X98765432"[sum(int(a) * w for a, w in zip(s, weights)) % 11] == s[17]


def _luhn_ok(s):
    total = 0
    for i, d in enumerate(int(c) for c in reversed(s)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@pytest.mark.parametrize(("name", "prefix"), UTTERANCE_SETS)
def test_blind_rows_have_the_dev_schema(name, prefix):
    rows = _rows(name)
    assert len(rows) >= 300
    assert [r["id"] for r in rows] == [f"{prefix}-{i:03d}" for i in range(1, len(rows) + 1)]
    assert len({r["text"] for r in rows}) == len(rows)
    for r in rows:
        assert list(r) == ["id", "role", "text", "labels", "sentiment"], r["id"]
        assert r["role"] in ROLES and r["text"].strip(), r["id"]
        assert set(r["labels"]) <= LABEL_NAMES and len(set(r["labels"])) == len(r["labels"]), r["id"]
        assert r["sentiment"] in {"negative", "neutral", "positive"}, r["id"]
        # (a writer's slip here, b11-329 privacy read neutral, is what the adjudicated gold fixes)
        checked = name.split("_")[0] not in ADJUDICATED or "adjudicated" in name
        if checked and set(r["labels"]) & {"abuse", "threat", "privacy", "self_harm"}:
            assert r["sentiment"] == "negative", r["id"]
        if set(r["labels"]) & {"privacy", "identity_disclosure", "identity_verification",
                               "purpose_disclosure", "repayment_options"}:
            assert r["role"] == "collector", r["id"]
        if "self_harm" in r["labels"]:   # blind9 labels two third parties' own risk
            assert r["role"] in ("customer", "third_party"), r["id"]
    clean = sum(1 for r in rows if not set(r["labels"]) & {"abuse", "threat", "privacy", "self_harm"})
    assert 0.35 <= clean / len(rows) <= 0.70  # a share of hard negatives, as each writer was asked


def _full_number(d):
    return _id_ok(d) or (13 <= len(d) <= 19 and _luhn_ok(d)) or len(d) in (11, 12)


def _spoken_numbers(text):
    """Each number said in one go (digits joined by spaces, commas or dashes), as a digit string."""
    plain = "".join(str(DIGITS[c]) if c in DIGITS else "X" if c == "叉" else c for c in text)
    return [re.sub(r"[ ,，\-]", "", m) for m in re.findall(r"\d(?:[\d ,，\-]*\d)?[Xx]?", plain)]


@pytest.mark.parametrize(("name", "prefix"), UTTERANCE_SETS)
def test_blind_pii_rows_hold_a_full_number(name, prefix):
    # a row may also say a partial number (尾号…) before the full one: one number said must be full
    for r in _rows(name):
        if "pii" not in r["labels"]:
            continue
        if r["id"] in GARBLED_NUMBERS:
            reading = GARBLED_NUMBERS[r["id"]]   # the reader sees every digit but the garbled first one
            assert _full_number(reading) and reading[1:] == _digits(r["text"]), r["id"]
            continue
        assert _full_number(_digits(r["text"])) or any(map(_full_number, _spoken_numbers(r["text"]))), r["id"]


def test_personal_data_spans_point_into_the_text():
    rows = _rows("blind_personal_data.jsonl")
    assert len(rows) >= 120
    assert [r["id"] for r in rows] == [f"pd-{i:03d}" for i in range(1, len(rows) + 1)]
    kinds = set()
    for r in rows:
        assert list(r) == ["id", "role", "text", "spans"] and r["role"] in ROLES, r["id"]
        end = 0
        for s in r["spans"]:
            assert s["kind"] in KINDS, r["id"]
            assert end <= s["start"] < s["end"] <= len(r["text"]), r["id"]
            assert r["text"][s["start"]:s["end"]] == s["value"], r["id"]
            end = s["end"]
            kinds.add(s["kind"])
            d = _digits(s["value"])
            if s["kind"] == "id":
                assert _id_ok(d), r["id"]
            elif s["kind"] == "card":
                assert _luhn_ok(d), r["id"]
            elif s["kind"] == "phone":
                assert len(d) in (11, 12), r["id"]
            elif s["kind"] == "id_partial":
                assert 4 <= len(d) <= 6, r["id"]
    assert kinds == KINDS
    assert sum(1 for r in rows if not r["spans"]) >= 30


def _flac_info(path):
    with open(path, "rb") as f:
        head = f.read(42)
    assert head[:4] == b"fLaC" and head[4] & 0x7F == 0  # STREAMINFO first
    (packed,) = struct.unpack(">Q", head[18:26])
    rate = packed >> 44
    channels = ((packed >> 41) & 0x7) + 1
    bits = ((packed >> 36) & 0x1F) + 1
    samples = packed & ((1 << 36) - 1)
    return rate, channels, bits, samples


@pytest.mark.parametrize(("calls", "first"), [(CALLS, 1), (CALLS2, 7)], ids=["blind_calls", "blind_calls2"])
def test_blind_calls_are_complete_and_consistent(calls, first):
    scripts = json.loads((calls / "scripts.json").read_text(encoding="utf-8"))
    assert [s["call_id"] for s in scripts] == [f"blind_call_{i:02d}" for i in range(first, first + 6)]
    with open(calls / "manifest.csv", encoding="utf-8", newline="") as f:
        manifest = {row["call_id"]: row for row in csv.DictReader(f)}
    voiced = [s for s in scripts if (calls / f"{s['call_id']}.json").exists()]
    if len(voiced) < len(scripts):
        pytest.fail(f"only {len(voiced)} of {len(scripts)} calls voiced in {calls.name}")
    roles_seen = set()
    for s in scripts:
        cid = s["call_id"]
        assert 12 <= len(s["turns"]) <= 25 and s["started_at"].endswith("+08:00"), cid
        meta = json.loads((calls / f"{cid}.json").read_text(encoding="utf-8"))
        assert [(t["role"], t["text"], t["labels"]) for t in meta["turns"]] == \
            [(t["role"], t["text"], t["labels"]) for t in s["turns"]], cid
        assert 45 <= meta["duration"] <= 100, cid
        assert meta["audio"]["stereo"] == f"{cid}.stereo.flac" == manifest[cid]["path"], cid
        rate, channels, bits, samples = _flac_info(calls / meta["audio"]["stereo"])
        assert (rate, channels, bits) == (8000, 2, 16), cid
        assert abs(samples / rate - meta["duration"]) < 0.01, cid
        rttm = (calls / meta["audio"]["rttm"]).read_text().split("\n")
        assert len([line for line in rttm if line.startswith("SPEAKER")]) == len(s["turns"]), cid
        for t in s["turns"]:
            roles_seen.add(t["role"])
            assert set(t["labels"]) <= LABEL_NAMES, cid
    assert roles_seen == ROLES


G5 = {"abuse", "threat", "privacy", "pii", "self_harm"}


@pytest.mark.parametrize("name", ADJUDICATED)
def test_adjudicated_gold_differs_from_the_writers_only_where_the_two_readings_did(name):
    writer = _rows(f"{name}_utterances.jsonl")
    second = {r["id"]: r for r in _rows(f"{name}_second_reading.jsonl")}
    decided = {r["id"]: r for r in _rows(f"{name}_adjudication.jsonl")}
    adjudicated = _rows(f"{name}_adjudicated_utterances.jsonl")
    assert [r["id"] for r in writer] == list(second) == [r["id"] for r in adjudicated]
    disagree = {r["id"] for r in writer
                if set(r["labels"]) & G5 != set(second[r["id"]]["labels"]) & G5
                or r["sentiment"] != second[r["id"]]["sentiment"]}
    assert set(decided) == disagree
    for w, a in zip(writer, adjudicated):
        assert (w["role"], w["text"]) == (a["role"], a["text"])
        # labels outside the five adjudicated ones stay as the writer wrote them
        assert [x for x in w["labels"] if x not in G5] == [x for x in a["labels"] if x not in G5]
        d = decided.get(w["id"])
        if d is None:
            assert (set(a["labels"]), a["sentiment"]) == (set(w["labels"]), w["sentiment"])
        else:
            assert (set(a["labels"]) & G5, a["sentiment"]) == (set(d["labels"]) & G5, d["sentiment"])
            assert d["why"].strip()

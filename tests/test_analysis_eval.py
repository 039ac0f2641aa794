"""The evaluation in the test suite: thresholds slightly below the measured figures."""
from __future__ import annotations

from pathlib import Path

import pytest

from analysis.evaluate import evaluate_rows, load_rows, main

EVALDATA = Path(__file__).resolve().parents[1] / "analysis" / "evaldata"
TARGETS = {"abuse": 0.9, "threat": 0.9, "privacy": 0.9, "pii": 0.9, "identity_disclosure": 0.85,
           "identity_verification": 0.85, "purpose_disclosure": 0.85, "repayment_options": 0.85}


def check(res: dict, floor: dict[str, float], sentiment: float | None) -> None:
    for label, f1 in floor.items():
        assert res["labels"][label]["f1"] >= f1, (label, res["labels"][label], res["errors"])
    if sentiment is not None:
        assert res["sentiment_accuracy"] >= sentiment, res["errors"]


def test_dev_utterances(test_data):
    res = evaluate_rows(load_rows(test_data / "dev_utterances.jsonl"))
    assert res["n"] == 100
    check(res, {k: 0.97 for k in TARGETS} | {"self_harm": 0.95}, sentiment=0.95)


def test_ground_truth_calls(test_data):
    res = evaluate_rows(load_rows(test_data / "calls"))
    assert res["n"] == 45
    check(res, {k: 0.95 for k in TARGETS}, sentiment=None)


@pytest.mark.parametrize("name", ["heldout_utterances.jsonl", "heldout2_utterances.jsonl",
                                  "heldout3_utterances.jsonl"])
def test_own_varied_sentences(name):
    res = evaluate_rows(load_rows(EVALDATA / name))
    check(res, {k: 0.85 for k in TARGETS}, sentiment=0.8)


BLIND_TARGETS = {"abuse": 0.95, "threat": 0.95, "privacy": 0.95, "pii": 0.95, "self_harm": 0.95,
                 "identity_disclosure": 0.95, "identity_verification": 0.95,
                 "purpose_disclosure": 0.95, "repayment_options": 0.95}


@pytest.mark.parametrize("name", ["blind4_utterances.jsonl", "blind5_utterances.jsonl"])
def test_blind_sets(name):
    # blind4 (229 rows) and blind5 (81 rows) were written before the detectors were run on
    # them; first-pass figures are in analysis/README.md. Floors slightly below what is reached.
    res = evaluate_rows(load_rows(EVALDATA / name))
    check(res, BLIND_TARGETS, sentiment=0.95)


def test_cli_prints_table(test_data, capsys):
    assert main([str(test_data / "dev_utterances.jsonl"), "--no-cold"]) == 0
    out = capsys.readouterr().out
    assert "abuse" in out and "sentiment accuracy" in out

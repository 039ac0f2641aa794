"""Sentiment of one utterance: lexical cues (rules/sentiment.yaml) + polarity model.

Score = sum of positive cue scores - negative ones; with no cue, the model votes when it
is outside its neutral band. Misconduct and self-harm labels force `negative`. The learned
in-domain layer (`learned:` in the pack, analysis/learned.py) checks the reading: a negative
(positive) one its model vetoes becomes neutral, and one left neutral may be made negative
(or positive) when a model reaches its threshold.
"""
from __future__ import annotations

import math
from functools import lru_cache

from analysis import learned
from analysis.features import load_model
from analysis.rules import pack

NEGATIVE_LABELS = frozenset({"abuse", "threat", "privacy", "self_harm"})


@lru_cache(maxsize=1)
def _setup():
    p = pack("sentiment")
    cfg = p.data.get("model", {})
    lo, hi = cfg.get("band", [0.06, 0.92])
    return (p, load_model(cfg.get("name", "sentiment_lr")), float(lo), float(hi),
            float(cfg.get("weight", 0.6)), float(p.data.get("threshold", 0.5)))


def score(norm: str, role: str) -> float:
    """Signed sentiment score (>0 positive, <0 negative) before label overrides."""
    p, model, lo, hi, weight, _ = _setup()
    s = 0.0
    hits = p.hits(norm, role)
    for h in hits:
        s += h.score if h.label == "positive" else -h.score
    if not hits and model is not None and norm:
        prob = model.proba(norm)
        if prob < lo:
            s -= weight * min(1.0, math.log(lo / max(prob, 1e-6)) + 0.5)
        elif prob > hi:
            s += weight * min(1.0, math.log(max(1 - hi, 1e-6) / max(1 - prob, 1e-6)) + 0.5)
    return s


def classify(norm: str, role: str, labels: list[str] | tuple[str, ...] = ()) -> tuple[str, float]:
    """(negative|neutral|positive, score) for one normalised utterance."""
    if NEGATIVE_LABELS.intersection(labels):
        return "negative", -1.0
    s = score(norm, role)
    threshold = _setup()[5]
    cues = "positive" if s >= threshold else "negative" if s <= -threshold else "neutral"
    return learned.adjust_sentiment(_setup()[0], cues, norm, role), s

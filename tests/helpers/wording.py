"""The detectors with the learned wording layer switched off: the rule packs' own reading."""
from __future__ import annotations

from analysis import learned
from analysis.annotate import TextAnalysis, analyze_text
from analysis.training.train_wording import MODEL_NAMES

OFF = {n: None for n in MODEL_NAMES}   # for learned.using: every wording model absent


def rules_analysis(role: str, text: str) -> TextAnalysis:
    """``analyze_text`` with no wording model (rules, cues and the COLD classifier only)."""
    with learned.using(OFF):
        return analyze_text(role, text)


def rule_labels(role: str, text: str) -> set[str]:
    """The labels of ``rules_analysis``."""
    return set(rules_analysis(role, text).labels)

"""Self-harm signals (rules/self_harm.yaml); general distress is sentiment only.

When no rule fired, the learned in-domain layer (`learned:` in the pack, analysis/learned.py)
may add `self_harm` (the speaker's own risk: customer and third-party speech).
"""
from __future__ import annotations

from analysis import learned
from analysis.rules import Hit, RulePack, pack


def detect(norm: str, role: str, rules: RulePack | None = None) -> list[Hit]:
    return learned.rules_then_model(rules or pack("self_harm"), "self_harm", norm, role)

"""Self-harm signals (rules/self_harm.yaml); general distress is sentiment only."""
from __future__ import annotations

from analysis.rules import Hit, RulePack, pack


def detect(norm: str, role: str, rules: RulePack | None = None) -> list[Hit]:
    return (rules or pack("self_harm")).hits(norm, role)

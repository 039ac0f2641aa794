"""Self-harm signals (rules/self_harm.yaml); general distress is sentiment only."""
from __future__ import annotations

from analysis.rules import Hit, pack


def detect(norm: str, role: str) -> list[Hit]:
    return pack("self_harm").hits(norm, role)

"""Threats (violence, visits, exposure, false legal consequences, harassment).

Rules in `rules/threat.yaml`; exposure/visit rules involving third parties also yield a
`privacy` hit (threatened disclosure).
"""
from __future__ import annotations

from analysis.rules import Hit, RulePack, pack


def detect(norm: str, role: str, rules: RulePack | None = None) -> list[Hit]:
    """Threat hits, plus privacy hits for rules with `also: [privacy]` (``rules``: a replacement pack)."""
    out = []
    for h in (rules or pack("threat")).hits(norm, role):
        out.append(h)
        for extra in h.also:
            out.append(Hit(h.rule_id, extra, h.score, h.severity, h.start, h.end))
    return out

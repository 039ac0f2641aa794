"""Threats (violence, visits, exposure, false legal consequences, harassment).

Rules in `rules/threat.yaml`; exposure/visit rules involving third parties also yield a
`privacy` hit (threatened disclosure). When no rule fired, the learned in-domain layer
(`learned:` in the pack, analysis/learned.py) may add `threat` alone (never privacy).
"""
from __future__ import annotations

from analysis import learned
from analysis.rules import Hit, RulePack, pack


def detect(norm: str, role: str, rules: RulePack | None = None) -> list[Hit]:
    """Threat hits, plus privacy hits for rules with `also: [privacy]` (``rules``: a replacement pack)."""
    p = rules or pack("threat")
    out = []
    for h in p.hits(norm, role):
        out.append(h)
        for extra in h.also:
            out.append(Hit(h.rule_id, extra, h.score, h.severity, h.start, h.end))
    if not out:
        h = learned.hit(p, "threat", norm, role)
        out = [h] if h else []
    return out

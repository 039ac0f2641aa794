"""Threats (violence, visits, exposure, false legal consequences, harassment).

Rules in `rules/threat.yaml`; exposure/visit rules involving third parties also yield a
`privacy` hit (threatened disclosure). Rule hits stand only where the learned layer does
not veto them (`learned.veto`: its model's probability under it). When no rule fired, the learned in-domain layer
(`learned:` in the pack, analysis/learned.py) may add `threat` alone (never privacy).
"""
from __future__ import annotations

from analysis import learned
from analysis.rules import Hit, RulePack, pack


VETOABLE = ("abuse", "privacy", "self_harm")  # also-labels whose own pack may hold a learned veto


def _vetoed(label: str, norm: str, role: str, also: dict[str, RulePack] | None) -> bool:
    p = (also or {}).get(label) or (pack(label) if label in VETOABLE else None)
    lay = learned.layer(p) if p is not None else None
    return lay is not None and lay.vetoes(norm, role)


def detect(norm: str, role: str, rules: RulePack | None = None, also: dict[str, RulePack] | None = None) -> list[Hit]:
    """Threat hits, plus privacy hits for rules with `also: [privacy]` (``rules``: a replacement
    pack; ``also``: replacement packs of the also-labels). An also-label stands only where its
    own pack's learned layer does not veto it (a threat to freeze the family's cards is not a
    disclosure)."""
    p = rules or pack("threat")
    out = []
    for h in learned.confirmed(p, p.hits(norm, role), norm, role):
        out.append(h)
        for extra in h.also:
            if not _vetoed(extra, norm, role, also):
                out.append(Hit(h.rule_id, extra, h.score, h.severity, h.start, h.end))
    if not out:
        h = learned.hit(p, "threat", norm, role)
        out = [h] if h else []
    return out

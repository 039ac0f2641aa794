"""Abuse (insults, profanity, humiliation): rule pack `rules/abuse.yaml` + classifier.

Strong rules fire alone; `weak` rules need the COLD-trained classifier to agree; the
classifier alone fires only when very confident, no threat rule matched and none of the
pack's `model.alone_unless` patterns (complaints about a service, quoting an insult, asking
whether the caller is a scam) is in the utterance. When a threat was found, a hit on one of
the pack's `threat_absorbs` words alone (老子) is the threat's, not abuse. Rule hits stand
only where the learned layer does not veto them (`learned.veto`). When none of those fired, the learned
in-domain layer (`learned:` in the pack, analysis/learned.py) may add abuse, under the same
conditions: no threat found, none of its `unless` patterns (the same list), its threshold.
"""
from __future__ import annotations

from functools import lru_cache

from analysis import learned
from analysis.features import load_model
from analysis.rules import Hit, RulePack, pack

MODEL_RULE = "model:abuse_cold_lr"


@lru_cache(maxsize=4)
def _setup(rules: RulePack | None = None):
    p = rules or pack("abuse")
    cfg = p.data.get("model", {})
    weak = {spec["id"] for spec in p.data["rules"] if spec.get("weak")}
    return p, weak, load_model(cfg.get("name", "abuse_cold_lr")), \
        float(cfg.get("weak_threshold", 0.45)), float(cfg.get("alone_threshold", 0.95)), \
        p.regex(cfg.get("alone_unless"), "model.alone_unless"), p.regex(p.data.get("threat_absorbs"), "threat_absorbs")


def model_proba(norm: str) -> float | None:
    """Classifier probability that the (normalised) text is offensive, None without model."""
    model = _setup()[2]
    return None if model is None else model.proba(norm)


def detect(norm: str, role: str, threat_found: bool = False, rules: RulePack | None = None) -> list[Hit]:
    """Abuse hits in a normalised utterance said by `role` (``rules``: a replacement pack)."""
    p, weak, model, weak_t, alone_t, unless, absorbs = _setup(rules)
    hits = learned.confirmed(p, p.hits(norm, role), norm, role)
    if threat_found and absorbs is not None:  # 老子 inside a threat is the threat's, not abuse
        hits = [h for h in hits if not absorbs.fullmatch(norm[h.start:h.end])]
    strong = [h for h in hits if h.rule_id not in weak]
    if strong:
        return strong
    if model is not None:
        prob = model.proba(norm)
        if hits and prob >= weak_t:
            h = hits[0]
            return [Hit(h.rule_id, h.label, round(max(h.score, prob), 3), h.severity, h.start, h.end)]
        if prob >= alone_t and not threat_found and len(norm) >= 4 and not (unless and unless.search(norm)):
            rule = p.rules[0]
            return [Hit(MODEL_RULE, "abuse", round(prob, 3), rule.severity_for(role), 0, len(norm))]
    extra = None if threat_found else learned.hit(p, "abuse", norm, role)
    return [extra] if extra else []

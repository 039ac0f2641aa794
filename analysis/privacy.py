"""Per-utterance privacy: the collector telling someone else about the debtor's debt/data.

Threatened disclosure comes from threat.py; the call-level rule is in calls.py. When no
rule fired, the learned in-domain layer (`learned:` in the pack, analysis/learned.py) may
add `privacy` (collector speech naming a third party, per the pack's `learned`), but not
where a threat rule fired (those that mean disclosure add privacy themselves). Rule hits
stand only where the learned layer does not veto them (`learned.veto`).
"""
from __future__ import annotations

import re
from functools import lru_cache

from analysis import learned
from analysis.rules import Hit, RulePack, load_yaml, pack


def detect(norm: str, role: str, rules: RulePack | None = None, threat_rule_found: bool = False,
           threat_rules: RulePack | None = None) -> list[Hit]:
    """Privacy hits; ``threat_rule_found``: a threat rule fired on this utterance (then the
    learned layer adds nothing: a threat read without a disclosure stays a threat), nor where
    a threat rule (``threat_rules``, default the built-in pack) matched only as a denial
    (我们不会让你单位知道)."""
    p = rules or pack("privacy")
    hits = learned.confirmed(p, p.hits(norm, role), norm, role)
    if hits or threat_rule_found:
        return hits
    h = learned.hit(p, "privacy", norm, role)
    return [h] if h and not (threat_rules or pack("threat")).denied(norm, role) else []


@lru_cache(maxsize=1)
def _call_cfg() -> dict:
    data = load_yaml("calls.yaml")
    data["_debt"] = re.compile(data["debt_details"])
    data["_third"] = re.compile(data["third_party_cues"])
    data["_debtor"] = re.compile(data["debtor_cues"])
    return data


def has_debt_details(norm: str) -> bool:
    """True if the utterance discloses debt details (amount, overdue, arrears)."""
    return bool(_call_cfg()["_debt"].search(norm))


def says_third_party(norm: str) -> bool:
    """True if the speaker presents themselves as not the debtor (我是他妈妈, 打错了)."""
    return bool(_call_cfg()["_third"].search(norm))


def says_debtor(norm: str) -> bool:
    """True if the speaker confirms being the debtor (对,我是刘伟 / 我就是本人)."""
    return bool(_call_cfg()["_debtor"].search(norm))

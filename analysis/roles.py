"""Role assignment: which speaker is the collector, the customer or a third party.

Evidence comes from a channel prior where the recording has one (stereo: ``{"ch0":
"collector", "ch1": "customer"}``) and from what each speaker says, scored with the cue rules
of the ``roles`` rule pack (``analysis/rules/roles.yaml``, editable by QA; each rule's label
is a role and its score a weight). Content can turn a prior "customer" into "third_party" (a
relative answering the debtor's phone); other conflicts with the prior, and calls whose
content does not separate the roles, are flagged ``needs_review`` with reasons instead of
being guessed silently. Transcript text is never logged.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

from core.domain import PARTY_ROLES, Utterance
from analysis.normalize import normalize
from analysis.rules import RulePack, pack

log = logging.getLogger("analysis")

# third-party evidence needed to call a speaker third_party (and to beat customer evidence)
THIRD_PARTY_MIN = 3.0
# collector margin (net score difference to the runner-up) below which a call is ambiguous
COLLECTOR_MIN_GAP = 2.0

_NO_PUNCT = re.compile(r"[\s\W_]+")


@dataclass(slots=True)
class RoleAssignment:
    """Roles per speaker label, with a 0..1 confidence per speaker and review flag."""

    roles: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    needs_review: bool = False
    reasons: list[str] = field(default_factory=list)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)


def cue_pack() -> RulePack:
    """The ``roles`` rule pack (compiled once per process)."""
    return pack("roles")


def cue_text(text: str, cues: RulePack | None = None) -> str:
    """The view role cues read: normalised, no punctuation or spaces, ``fold`` applied (她 → 他)."""
    cues = cues or cue_pack()
    text = _NO_PUNCT.sub("", normalize(text))
    for src, dst in (cues.data.get("fold") or {}).items():
        text = text.replace(src, dst)
    return text


def score_speakers(utterances: list[Utterance], cues: RulePack | None = None) -> dict[str, dict[str, float]]:
    """Sum of cue weights per speaker and role (each cue counted once per utterance)."""
    cues = cues or cue_pack()
    scores: dict[str, dict[str, float]] = {}
    for u in utterances:
        per = scores.setdefault(u.speaker, dict.fromkeys(PARTY_ROLES, 0.0))
        text = cue_text(u.text, cues)
        if not text:
            continue
        for hit in cues.hits(text, "unknown"):
            per[hit.label] += hit.score
    return scores


def _conf(gap: float) -> float:
    """Map a score margin (>= 0) to a confidence in [0.5, 0.99]."""
    return round(min(0.99, 0.5 + 0.5 * (1 - math.exp(-max(gap, 0.0) / 3.0))), 3)


def _other_role(s: dict[str, float]) -> tuple[str, float]:
    """customer vs third_party for a non-collector speaker, with its margin."""
    if s["third_party"] >= THIRD_PARTY_MIN and s["third_party"] > s["customer"]:
        return "third_party", s["third_party"] - s["customer"]
    return "customer", s["customer"] - s["third_party"]


def assign_roles(utterances: list[Utterance], prior: dict[str, str] | None = None) -> RoleAssignment:
    """Assign collector / customer / third_party to every speaker in ``utterances``.

    Args:
        prior: known roles by speaker label (channel convention), e.g.
            ``{"ch0": "collector", "ch1": "customer"}``. Content may change a prior
            customer into third_party; any other disagreement is flagged for review.
    """
    scores = score_speakers(utterances)
    for spk in prior or {}:
        scores.setdefault(spk, dict.fromkeys(PARTY_ROLES, 0.0))
    result = RoleAssignment(scores=scores)
    if not scores:
        result.needs_review = True
        result.reasons.append("no utterances to assign roles to")
        return result
    net = {spk: s["collector"] - max(s["customer"], s["third_party"]) for spk, s in scores.items()}
    ranked = sorted(net, key=lambda spk: (net[spk], scores[spk]["collector"]), reverse=True)
    prior = {k: v for k, v in (prior or {}).items() if v in PARTY_ROLES}

    if prior:
        _with_prior(result, scores, net, ranked, prior)
    else:
        _content_only(result, scores, net, ranked)
    result.needs_review = bool(result.needs_review or not result.roles)
    log.info("roles: %s needs_review=%s", result.roles, result.needs_review)
    return result


def _content_only(result: RoleAssignment, scores: dict, net: dict, ranked: list[str]) -> None:
    best = ranked[0]
    gap = net[best] - (net[ranked[1]] if len(ranked) > 1 else 0.0)
    result.roles[best] = "collector"
    result.confidence[best] = _conf(gap)
    if scores[best]["collector"] <= 0:
        result.needs_review = True
        result.reasons.append("no collector cues in the call; collector guessed")
    elif gap < COLLECTOR_MIN_GAP:
        result.needs_review = True
        result.reasons.append(f"collector ambiguous between {best} and {ranked[1]}")
    for spk in ranked[1:]:
        role, margin = _other_role(scores[spk])
        result.roles[spk] = role
        result.confidence[spk] = round(min(_conf(margin), result.confidence[best]), 3)
        _flag_other(result, spk, scores[spk], role)


def _flag_other(result: RoleAssignment, spk: str, s: dict[str, float], role: str) -> None:
    if role == "third_party":
        result.reasons.append(f"{spk}: third-party cues ({s['third_party']:g} vs customer {s['customer']:g})")
    if 0 < s["third_party"] and abs(s["third_party"] - s["customer"]) < 1.0:
        result.needs_review = True
        result.reasons.append(f"{spk}: customer vs third party ambiguous")


def _with_prior(result: RoleAssignment, scores: dict, net: dict, ranked: list[str], prior: dict) -> None:
    collectors = [spk for spk, role in prior.items() if role == "collector"]
    for spk in ranked:
        s = scores[spk]
        role = prior.get(spk)
        if role is None:  # a speaker the prior does not cover: content decides
            role = "collector" if (not collectors and spk == ranked[0] and s["collector"] > 0) else _other_role(s)[0]
            result.roles[spk] = role
            result.confidence[spk] = _conf(abs(net[spk]))
            result.reasons.append(f"{spk}: not in the channel prior, {role} from content")
            continue
        if role == "customer":
            content_role, margin = _other_role(s)
            if content_role == "third_party":
                role = "third_party"
                result.reasons.append(f"{spk}: third-party cues override the channel prior (customer)")
            result.roles[spk] = role
            result.confidence[spk] = round(max(0.7, _conf(margin + 2.0)), 3)
            _flag_other(result, spk, s, role)
        else:
            result.roles[spk] = role
            agree = net[spk] if role == "collector" else -net[spk]
            result.confidence[spk] = _conf(agree + 3.0)
    # the channel prior's collector should carry the collector content
    for spk in collectors:
        rival = max((o for o in scores if o != spk), key=lambda o: net[o], default=None)
        if rival is not None and net[rival] - net[spk] >= COLLECTOR_MIN_GAP and scores[rival]["collector"] > 0:
            result.needs_review = True
            result.confidence[spk] = 0.5
            result.reasons.append(f"content suggests {rival}, not {spk}, is the collector (channels swapped?)")


def apply_roles(utterances: list[Utterance], assignment: RoleAssignment) -> list[Utterance]:
    """Set ``u.role`` from ``assignment`` (speakers it does not know get "unknown")."""
    for u in utterances:
        u.role = assignment.roles.get(u.speaker, "unknown")
    return utterances

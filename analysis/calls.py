"""Call-level analysis: per-utterance findings plus the rules that need the whole call.

`analyze_call(utterances)` labels every utterance in place (same code as annotate_row)
and returns findings:

* one per (utterance, label) for abuse / threat / privacy / pii / self_harm;
* info findings for the four required steps (where each happened; `step_findings` in
  rules/calls.yaml turns them off);
* `privacy` from the call rule: debt details from the collector while a third party is
  on the line (rule `call.privacy.third_party_disclosure`) or before the collector
  verified identity (`call.privacy.before_verification`); these point at the utterance
  (utterance_index set) and are skipped where that utterance already has a privacy finding;
* `missing_steps`: required steps the collector never did (not emitted when there is
  no collector speech, or when only a third party was reached: then the steps would be
  wrong to do);
* `sentiment_trajectory`: a role's sentiment much worse at the end than at the start;
* one finding per (utterance, outcome label) for promise_to_pay, refusal_to_pay, dispute,
  hardship, cease_contact, complaint_threat and wrong_party (customer or third-party
  speech; severity from rules/outcomes.yaml: promise_to_pay `info`, refusal_to_pay and
  wrong_party `low`, the follow-ups dispute / hardship / cease_contact / complaint_threat
  `medium`). A `promise_to_pay` finding carries the promise: `amount` (yuan or None) and
  `due` (``YYYY-MM-DD``, ``YYYY-MM`` or None), resolved against `started_at`, the call's
  local start (a timezone-aware datetime in the debtor's zone, or an ISO-8601 string with
  offset); without it `due` is None. Every other finding has amount = due = None.

The call's disposition (right_party, third_party, wrong_number, no_answer, unknown) is
`analysis.disposition.disposition(utterances, findings)`.
* with a rules `catalog`: the detector packs it replaces, and its categories' hits
  (analysis.categories; kind = the category name). Conditions on silence and interruptions
  need the call's `metrics` (speech.metrics.measure_call) and `duration`.

Evidence is always redacted; utterance text is never logged.
"""
from __future__ import annotations

import logging
from datetime import date, datetime
from functools import lru_cache

from core.domain import Finding, RoleMetrics, Utterance, norm_role

from analysis.annotate import analyze_text
from analysis.categories import call_view, evaluate_categories, sentiment_ends
from analysis.outcomes import OUTCOME_LABELS
from analysis.pii import redact
from analysis.privacy import has_debt_details, says_debtor, says_third_party
from analysis.promises import parse_promise
from analysis.rules import Catalog, load_yaml
from analysis.steps import STEPS

logger = logging.getLogger("analysis")

FINDING_LABELS = ("abuse", "threat", "privacy", "pii", "self_harm")


@lru_cache(maxsize=1)
def _cfg() -> dict:
    return load_yaml("calls.yaml")


def analyze_call(utterances: list[Utterance], started_at: datetime | date | str | None = None, *,
                 catalog: Catalog | None = None, metrics: list[RoleMetrics] | None = None,
                 duration: float | None = None) -> list[Finding]:
    """Label `utterances` in place and return the call's findings (see module docstring).

    `started_at` (the call's local start) only resolves the due dates of promises.
    """
    cfg = _cfg()
    findings: list[Finding] = []
    analyses = []
    for i, u in enumerate(utterances):
        a = analyze_text(u.role, u.text, catalog)
        u.labels = list(a.labels)
        u.sentiment = a.sentiment
        analyses.append(a)
        role = norm_role(u.role)
        for label in FINDING_LABELS:
            h = a.hits.get(label)
            if h is not None:
                findings.append(Finding(kind=label, role=role, start=u.start, end=u.end,
                                        evidence=redact(u.text), rule_id=h.rule_id,
                                        score=round(float(h.score), 3), severity=h.severity,
                                        utterance_index=i))
        if cfg.get("step_findings", True) and role in ("collector", "unknown"):
            for step in STEPS:
                h = a.hits.get(step)
                if h is not None:
                    findings.append(Finding(kind=step, role=role, start=u.start, end=u.end,
                                            evidence=redact(u.text), rule_id=h.rule_id,
                                            score=round(float(h.score), 3), severity="info",
                                            utterance_index=i))
        findings += _outcome_findings(u, i, a, started_at)
    findings += _privacy_call_rule(utterances, analyses, findings)
    findings += _missing_steps(utterances)
    findings += _trajectories(utterances)
    if catalog is not None and catalog.categories:
        view = call_view(utterances, duration, metrics, norms=[a.norm for a in analyses])
        findings += evaluate_categories(view, catalog)
    n_sev = sum(f.severity in ("high", "critical") for f in findings)
    logger.debug("analyze_call: %d utterances, %d findings (%d high+)",
                 len(utterances), len(findings), n_sev)
    return findings


def _outcome_findings(u: Utterance, i: int, a, started_at) -> list[Finding]:
    out = []
    role = norm_role(u.role)
    for label in OUTCOME_LABELS:
        h = a.hits.get(label)
        if h is None:
            continue
        amount = due = None
        if label == "promise_to_pay":
            promise = parse_promise(a.norm, started_at)
            amount, due = promise.amount, promise.due
        out.append(Finding(kind=label, role=role, start=u.start, end=u.end, evidence=redact(u.text),
                           rule_id=h.rule_id, score=round(float(h.score), 3), severity=h.severity,
                           utterance_index=i, amount=amount, due=due))
    return out


def _is_third_party(u: Utterance, norm: str) -> bool:
    role = norm_role(u.role)
    return role == "third_party" or (role in ("customer", "unknown") and says_third_party(norm))


def _privacy_call_rule(utterances, analyses, findings) -> list[Finding]:
    sev = _cfg()["severity"]
    already = {f.utterance_index for f in findings if f.kind == "privacy"}
    out: list[Finding] = []
    third_party_on_line = False
    verified = False
    for i, (u, a) in enumerate(zip(utterances, analyses)):
        role = norm_role(u.role)
        if role != "collector":
            if _is_third_party(u, a.norm):
                third_party_on_line = True
            elif role == "customer" and (says_debtor(a.norm) or third_party_on_line is False
                                         or verified):
                third_party_on_line = False
            continue
        if "identity_verification" in a.labels:
            verified = True
        discloses = "purpose_disclosure" in a.labels or has_debt_details(a.norm)
        if not discloses or i in already:
            continue
        if third_party_on_line:
            rule, severity, score = "call.privacy.third_party_disclosure", sev["third_party_disclosure"], 0.9
        elif not verified:
            rule, severity, score = "call.privacy.before_verification", sev["before_verification"], 0.8
        else:
            continue
        out.append(Finding(kind="privacy", role="collector", start=u.start, end=u.end,
                           evidence=redact(u.text), rule_id=rule, score=score,
                           severity=severity, utterance_index=i))
    return out


def _missing_steps(utterances: list[Utterance]) -> list[Finding]:
    cfg = _cfg()
    collector = [u for u in utterances if norm_role(u.role) == "collector"]
    if not collector:
        logger.debug("missing_steps: no collector speech, not judged")
        return []
    others = [u for u in utterances if norm_role(u.role) in ("customer", "third_party", "unknown")]
    debtor_reached = any(norm_role(u.role) == "customer" and not says_third_party(u.text)
                         for u in others)
    third_party = any(norm_role(u.role) == "third_party" for u in others)
    if third_party and not debtor_reached:
        logger.debug("missing_steps: third party only, not judged")
        return []
    done = {lab for u in collector for lab in u.labels}
    missing = [s for s in cfg["required_steps"] if s not in done]
    if not missing:
        return []
    sev = cfg["severity"]
    identity = {"identity_disclosure", "identity_verification"}
    severity = sev["missing_steps_identity"] if identity.intersection(missing) else sev["missing_steps_other"]
    return [Finding(kind="missing_steps", role="collector", start=utterances[0].start,
                    end=utterances[-1].end, evidence="missing: " + ", ".join(missing),
                    rule_id="call.missing_steps", score=round(len(missing) / len(cfg["required_steps"]), 3),
                    severity=severity, utterance_index=None)]


def _trajectories(utterances: list[Utterance]) -> list[Finding]:
    cfg = _cfg()
    tcfg = cfg["trajectory"]
    sev = cfg["severity"]["trajectory"]
    out = []
    for role in ("customer", "collector", "third_party"):
        us = [u for u in utterances if norm_role(u.role) == role]
        if len(us) < int(tcfg["min_utterances"]):
            continue
        start, end, k = sentiment_ends([u.sentiment for u in us])
        drop = end - start
        if drop <= -float(tcfg["min_drop"]):
            out.append(Finding(kind="sentiment_trajectory", role=role, start=us[0].start,
                               end=us[-1].end,
                               evidence=f"{role} sentiment {start:+.2f} -> {end:+.2f} "
                                        f"(first/last {k} of {len(us)} utterances)",
                               rule_id="call.sentiment_trajectory", score=round(min(1.0, -drop / 2), 3),
                               severity=sev.get(role, sev.get("default", "low")), utterance_index=None))
    return out

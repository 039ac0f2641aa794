"""Call outcomes on one utterance: promise_to_pay, refusal_to_pay, dispute, hardship,
cease_contact, complaint_threat, wrong_party (LABELS.md "Call outcomes").

Rules in `rules/outcomes.yaml` (customer and third-party speech only; the collector's
proposals and recaps are never outcomes). The amount and due date of a promise are read by
analysis.promises; the per-call disposition is analysis.disposition.
"""
from __future__ import annotations

from analysis.rules import Hit, pack

OUTCOME_LABELS = ("promise_to_pay", "refusal_to_pay", "dispute", "hardship", "cease_contact",
                  "complaint_threat", "wrong_party")


def detect(norm: str, role: str) -> list[Hit]:
    """Outcome hits in one normalised utterance said by `role`."""
    return pack("outcomes").hits(norm, role)

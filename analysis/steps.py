"""The four required steps of a collection call, said by the collector (rules/steps.yaml)."""
from __future__ import annotations

from analysis.rules import Hit, RulePack, pack

STEPS = ("identity_disclosure", "identity_verification", "purpose_disclosure", "repayment_options")


def detect(norm: str, role: str, rules: RulePack | None = None) -> list[Hit]:
    return (rules or pack("steps")).hits(norm, role)

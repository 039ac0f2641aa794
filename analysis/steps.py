"""The four required steps of a collection call, said by the collector (rules/steps.yaml)."""
from __future__ import annotations

from analysis.rules import Hit, pack

STEPS = ("identity_disclosure", "identity_verification", "purpose_disclosure", "repayment_options")


def detect(norm: str, role: str) -> list[Hit]:
    return pack("steps").hits(norm, role)

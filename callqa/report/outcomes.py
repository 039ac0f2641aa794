"""The report's outcomes section: what calls achieved and the collection-rule breaches.

``outcomes_section(rep, pages)`` returns the context of templates/_outcomes.html (included by
index.html): right-party contact and promise rates, promises made, kept and broken, hardship
and complaint-threat follow-ups per collector and week, broken promises, follow-ups not yet
reviewed, and every breach of the configured collection rules (attempts and recordings).
"""
from __future__ import annotations

from typing import Any

from warehouse.breaches import RULE_TITLES
from warehouse.reporting import Reports

OUTCOME_TITLES = {
    "promise_to_pay": "promise to pay", "refusal_to_pay": "refusal to pay", "dispute": "dispute",
    "hardship": "hardship", "cease_contact": "cease contact", "complaint_threat": "complaint threat",
    "wrong_party": "wrong party",
}
DISPOSITION_TITLES = {"right_party": "right party", "third_party": "third party", "wrong_number": "wrong number",
                      "no_answer": "no answer", "unknown": "unknown"}


def outcomes_section(rep: Reports, pages: dict[str, str]) -> dict[str, Any]:
    """Rows for the overview's outcomes section; ``pages`` maps call ids to their page (relative
    to calls/), calls without one are listed unlinked."""
    def link(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            row["page"] = pages.get(row.get("call_id") or "")
        return rows

    as_of = rep.as_of()
    return {"outcomes": {
        "as_of": as_of,
        "totals": rep.outcome_totals(as_of),
        "weekly": rep.outcomes_weekly(as_of),
        "broken": link(rep.promise_status(as_of, "broken")),
        "follow_ups": link(rep.follow_ups()),
        "breaches": link(rep.collection_breaches()),
        "profile": rep.settings.profile,
        "rules": list(rep.settings.rules),
        "rule_titles": RULE_TITLES,
        "titles": OUTCOME_TITLES,
    }}

"""The report's outcomes section: what calls achieved and the collection-rule breaches.

``outcomes_section(rep, pages)`` returns the context of templates/_outcomes.html (included by
index.html): right-party contact and promise rates, promises made, kept and broken, hardship
and complaint-threat follow-ups per collector and week, broken promises, follow-ups not yet
reviewed, and the window's breaches of the configured collection rules (attempts and recordings). Each
list shows its first ``LIST_ROWS`` rows and says how many there are; `callqa breaches` lists
every breach.
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
LIST_ROWS = 200   # rows of each list on the overview (the totals count every row)
DISPOSITION_TITLES = {"right_party": "right party", "third_party": "third party", "wrong_number": "wrong number",
                      "no_answer": "no answer", "unknown": "unknown"}


def outcomes_section(rep: Reports, pages: dict[str, str]) -> dict[str, Any]:
    """Rows for the overview's outcomes section; ``pages`` maps call ids to their page (relative
    to calls/), calls without one are listed unlinked."""
    def link(rows: list[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
        """The first LIST_ROWS of ``rows`` linked to their pages, and how many there are in all
        (``total``: when ``rows`` holds only the first ones)."""
        shown = rows[:LIST_ROWS]
        for row in shown:
            row["page"] = pages.get(row.get("call_id") or "")
        return {"rows": shown, "total": len(rows) if total is None else total}

    as_of, window = rep.as_of(), rep.window
    breaches, n_breaches = rep.first_collection_breaches(None if window.unbounded else window.since,
                                                         None if window.unbounded else window.until, LIST_ROWS)
    return {"outcomes": {
        "as_of": as_of,
        "totals": rep.outcome_totals(as_of),
        "weekly": rep.outcomes_weekly(as_of),
        "broken": link(rep.promise_status(as_of, "broken")),
        "follow_ups": link(rep.follow_ups()),
        "breaches": link(breaches, n_breaches),
        "profile": rep.settings.profile,
        "rules": list(rep.settings.rules),
        "rule_titles": RULE_TITLES,
        "titles": OUTCOME_TITLES,
    }}

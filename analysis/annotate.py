"""Per-utterance analysis shared by `callqa analyze-text` and the call flow.

`analyze_text(role, text)` runs every detector once on one normalised view and returns
labels, sentiment and the best hit per label (for findings); `annotate_row` is its
two-field summary; `annotate_jsonl` applies it to a JSONL file and adds each row's
`promise` (amount and due, resolved against the row's `started_at`).

Labels come in two groups: `LABELS` (misconduct, PII, required steps) and
`OUTCOME_LABELS` (what the call achieved: promise_to_pay ... wrong_party); an utterance's
labels list the first group, then the second, each in its tuple's order.
Given a rules Catalog, the detector packs it replaces are used and `annotate_jsonl` lists
each row's categories.
"""
from __future__ import annotations

import contextlib
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from analysis import abuse, learned, outcomes, privacy, self_harm, sentiment, steps, threat
from analysis.normalize import normalize
from analysis.outcomes import OUTCOME_LABELS
from analysis.promises import local_date, parse_promise
from analysis.pii import pii_matches
from analysis.rules import Catalog, Hit
from core.domain import norm_role
from core.failpoints import failpoint
from core.files import atomic_write

logger = logging.getLogger("analysis")

LABELS = ("abuse", "threat", "privacy", "pii", "self_harm", "identity_disclosure",
          "identity_verification", "purpose_disclosure", "repayment_options")
ALL_LABELS = LABELS + OUTCOME_LABELS
PII_SEVERITY = "low"


@dataclass(slots=True)
class TextAnalysis:
    """Everything known about one utterance."""

    labels: list[str]
    sentiment: str
    sentiment_score: float
    hits: dict[str, Hit] = field(default_factory=dict)
    norm: str = ""


def analyze_text(role: str | None, text: str | None, catalog: Catalog | None = None) -> TextAnalysis:
    """Labels, sentiment and best hit per label for one utterance in isolation (with the
    detector packs `catalog` replaces, when given)."""
    over = catalog.overrides if catalog is not None else {}
    role = norm_role(role)
    text = text or ""
    norm = normalize(text)
    best: dict[str, Hit] = {}

    def add(hits: list[Hit]) -> None:
        for h in hits:
            if h.label not in best or h.score > best[h.label].score:
                best[h.label] = h

    threat_hits = threat.detect(norm, role, over.get("threat"), {"privacy": over["privacy"]} if "privacy" in over else None)
    add(threat_hits)
    add(abuse.detect(norm, role, threat_found=bool(threat_hits), rules=over.get("abuse")))
    add(privacy.detect(norm, role, over.get("privacy"),
                       threat_rule_found=any(not learned.from_model(h) for h in threat_hits),
                       threat_rules=over.get("threat")))
    add(self_harm.detect(norm, role, over.get("self_harm")))
    add(steps.detect(norm, role, over.get("steps")))
    add(outcomes.detect(norm, role))
    pii = pii_matches(text)
    if pii:
        s, e, kind, score = max(pii, key=lambda m: m[3])
        best["pii"] = Hit(f"pii.{kind}", "pii", score, PII_SEVERITY, s, e)
    labels = [lab for lab in ALL_LABELS if lab in best]
    sent, sscore = sentiment.classify(norm, role, labels)
    return TextAnalysis(labels, sent, round(sscore, 3), best, norm)


def annotate_row(role: str, text: str, catalog: Catalog | None = None) -> tuple[list[str], str]:
    """(labels, sentiment) of one utterance in isolation (LABELS.md)."""
    a = analyze_text(role, text, catalog)
    return a.labels, a.sentiment


def promise_of(analysis: TextAnalysis, started_at: object = None) -> dict | None:
    """`{"amount", "due"}` of the utterance's promise, None when it holds none.

    `started_at` is the call's local start (see analysis.promises); without it `due` is None.
    """
    if "promise_to_pay" not in analysis.labels:
        return None
    return parse_promise(analysis.norm, started_at).as_dict()


def annotate_jsonl(in_path: str | Path, out_path: str | Path | None = None, catalog: Catalog | None = None) -> int:
    """Add `labels`, `sentiment` and `promise` to every row of a JSONL file; returns the row count.

    Rows need `role` and `text`; other fields are kept, in their order (`labels`,
    `sentiment` and `promise` replace earlier values in place or are added at the end).
    An optional `started_at` (ISO-8601 with offset, the call's local start) resolves the
    promise's relative dates; rows without it get `due` null. `promise` is null on rows
    that hold no promise. `out_path` None writes to stdout; a file is written atomically
    (every row or, when interrupted, its earlier content).
    With a `catalog` that has categories, each row also gets `categories` (see
    analysis.categories.categories_of_rows).
    Raises ValueError naming the row (1-based line number) for bad JSON or missing fields.
    """
    rows = []
    with open(in_path, encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{in_path}: row {lineno}: bad JSON ({exc.msg})") from None
            except RecursionError:
                raise ValueError(f"{in_path}: row {lineno}: JSON nested too deeply") from None
            if not isinstance(row, dict):
                raise ValueError(f"{in_path}: row {lineno}: expected a JSON object")
            missing = [k for k in ("role", "text") if not isinstance(row.get(k), str)]
            if missing:
                raise ValueError(f"{in_path}: row {lineno}: missing or non-string {', '.join(missing)}")
            started = row.get("started_at")
            if started is not None and (not isinstance(started, str) or local_date(started) is None):
                raise ValueError(f"{in_path}: row {lineno}: started_at is not an ISO-8601 time")
            rows.append(row)
    cats = None
    if catalog is not None and catalog.categories:
        from analysis.categories import categories_of_rows  # categories imports this module

        cats = categories_of_rows(rows, catalog)
    with contextlib.nullcontext(sys.stdout) if out_path is None else atomic_write(out_path) as out:
        for n, row in enumerate(rows):
            a = analyze_text(row["role"], row["text"], catalog)
            row["labels"] = a.labels
            row["sentiment"] = a.sentiment
            row["promise"] = promise_of(a, row.get("started_at"))
            if cats is not None:
                row["categories"] = cats[n]
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            failpoint("annotate-row")
    logger.info("annotated %d rows", len(rows))
    return len(rows)

"""Per-utterance analysis shared by `callqa analyze-text` and the call flow.

`analyze_text(role, text)` runs every detector once on one normalised view and returns
labels, sentiment and the best hit per label (for findings); `annotate_row` is its
two-field summary; `annotate_jsonl` applies it to a JSONL file.
"""
from __future__ import annotations

import contextlib
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from analysis import abuse, privacy, self_harm, sentiment, steps, threat
from analysis.normalize import normalize
from analysis.pii import pii_matches
from analysis.rules import Hit
from core.domain import norm_role
from core.failpoints import failpoint
from core.files import atomic_write

logger = logging.getLogger("analysis")

LABELS = ("abuse", "threat", "privacy", "pii", "self_harm", "identity_disclosure",
          "identity_verification", "purpose_disclosure", "repayment_options")
PII_SEVERITY = "low"


@dataclass(slots=True)
class TextAnalysis:
    """Everything known about one utterance."""

    labels: list[str]
    sentiment: str
    sentiment_score: float
    hits: dict[str, Hit] = field(default_factory=dict)
    norm: str = ""


def analyze_text(role: str | None, text: str | None) -> TextAnalysis:
    """Labels, sentiment and best hit per label for one utterance in isolation."""
    role = norm_role(role)
    text = text or ""
    norm = normalize(text)
    best: dict[str, Hit] = {}

    def add(hits: list[Hit]) -> None:
        for h in hits:
            if h.label not in best or h.score > best[h.label].score:
                best[h.label] = h

    threat_hits = threat.detect(norm, role)
    add(threat_hits)
    add(abuse.detect(norm, role, threat_found=bool(threat_hits)))
    add(privacy.detect(norm, role))
    add(self_harm.detect(norm, role))
    add(steps.detect(norm, role))
    pii = pii_matches(text)
    if pii:
        s, e, kind, score = max(pii, key=lambda m: m[3])
        best["pii"] = Hit(f"pii.{kind}", "pii", score, PII_SEVERITY, s, e)
    labels = [lab for lab in LABELS if lab in best]
    sent, sscore = sentiment.classify(norm, role, labels)
    return TextAnalysis(labels, sent, round(sscore, 3), best, norm)


def annotate_row(role: str, text: str) -> tuple[list[str], str]:
    """(labels, sentiment) of one utterance in isolation (LABELS.md)."""
    a = analyze_text(role, text)
    return a.labels, a.sentiment


def annotate_jsonl(in_path: str | Path, out_path: str | Path | None = None) -> int:
    """Add `labels` and `sentiment` to every row of a JSONL file; returns the row count.

    Rows need `role` and `text`; other fields are kept. `out_path` None writes to stdout; a
    file is written atomically (every row or, when interrupted, its earlier content).
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
            rows.append(row)
    with contextlib.nullcontext(sys.stdout) if out_path is None else atomic_write(out_path) as out:
        for row in rows:
            labels, sent = annotate_row(row["role"], row["text"])
            row["labels"] = labels
            row["sentiment"] = sent
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            failpoint("annotate-row")
    logger.info("annotated %d rows", len(rows))
    return len(rows)

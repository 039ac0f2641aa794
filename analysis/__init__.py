"""Text analysis of collection calls: labels, sentiment, PII and call-level findings.

Public API (used by the flow and `callqa analyze-text`):
    annotate_row(role, text) -> (labels, sentiment)
    annotate_jsonl(in_path, out_path | None) -> rows written
    analyze_call(utterances) -> findings (also sets u.labels / u.sentiment in place)
    redact(text) -> text with [身份证] [卡号] [电话] (and [号码] for other long numbers)
    pii_spans(text) -> [(start, end, kind)]       (what the `pii` label means)
    redaction_spans(text) -> [(start, end, kind)] (what is masked at rest)
"""
from __future__ import annotations

import logging

from analysis.annotate import LABELS, analyze_text, annotate_jsonl, annotate_row
from analysis.calls import analyze_call
from analysis.pii import pii_spans, redact, redaction_spans

logging.getLogger("analysis").addHandler(logging.NullHandler())

__all__ = ["LABELS", "analyze_call", "analyze_text", "annotate_jsonl", "annotate_row",
           "pii_spans", "redact", "redaction_spans"]

"""Text analysis of collection calls: labels, sentiment, PII and call-level findings.

Public API (used by the flow and `callqa analyze-text`):
    annotate_row(role, text) -> (labels, sentiment)
    annotate_jsonl(in_path, out_path | None) -> rows written (adds labels, sentiment, promise)
    analyze_call(utterances, started_at=None) -> findings (also sets u.labels / u.sentiment
        in place); promise_to_pay findings carry amount and due
    disposition(utterances, findings) -> right_party | third_party | wrong_number | no_answer | unknown
    parse_promise(text, started_at) -> Promise(amount, due)
    LABELS (misconduct, PII, steps) and OUTCOME_LABELS (promise_to_pay ... wrong_party)
    redact(text) -> text with [身份证] [卡号] [电话] [号码] [尾号] [姓名] [地址] [单位]
    pii_spans(text) -> [(start, end, kind)]       (what the `pii` label means)
    redaction_spans(text) -> [(start, end, kind)] (what is masked at rest)
"""
from __future__ import annotations

import logging

from analysis.annotate import LABELS, analyze_text, annotate_jsonl, annotate_row
from analysis.calls import analyze_call
from analysis.disposition import DISPOSITIONS, disposition
from analysis.outcomes import OUTCOME_LABELS
from analysis.promises import parse_promise
from analysis.pii import pii_spans, redact, redaction_spans

logging.getLogger("analysis").addHandler(logging.NullHandler())

__all__ = ["DISPOSITIONS", "LABELS", "OUTCOME_LABELS", "analyze_call", "analyze_text", "annotate_jsonl",
           "annotate_row", "disposition", "parse_promise", "pii_spans", "redact", "redaction_spans"]

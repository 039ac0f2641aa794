"""Where a call's personal data was masked, so its audio can be toned out there (read-only).

At rest a word inside a redacted span keeps its times and has the text ``*``
(flows.recording.mask_words). An utterance whose text holds a placeholder but has no masked
word (no word timings) counts whole, so nothing redacted in text stays audible.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb

from warehouse.call_rows import rows_of_calls

MASKED_WORD = "*"
# analysis.pii.MASKS as one regular expression (warehouse/ may not import analysis/;
# tests/test_safety_audio.py checks that the two agree).
PLACEHOLDERS = r"\[(身份证|卡号|电话|号码|尾号|姓名|地址|单位)\]"

Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class CallAudio:
    """What it takes to write a call's redacted audio: the recording, the content hash it had
    when processed, its sample rate, and the masked spans (seconds, unpadded)."""

    call_id: str
    path: str
    sha256: str
    source_rate: int | None
    spans: list[Span]


def _spans_by_call(con: duckdb.DuckDBPyConnection, call_ids: list[str]) -> dict[str, list[Span]]:
    """masked_spans() of several calls in one query."""
    where, params = rows_of_calls(con, call_ids)
    rows = con.execute(
        "SELECT call_id, start_s, end_s, [[w.start_s, w.end_s] FOR w IN coalesce(words, []) IF w.text = ?] AS masked"
        f" FROM utterances WHERE {where}"
        " AND (list_contains(list_transform(coalesce(words, []), lambda w: w.text), ?)"
        "      OR regexp_matches(coalesce(text, ''), ?))",
        [MASKED_WORD, *params, MASKED_WORD, PLACEHOLDERS]).fetchall()
    spans: dict[str, list[Span]] = {}
    for call_id, start, end, masked in rows:
        timed = [(float(s), float(e)) for s, e in masked if s is not None and e is not None]
        if timed and len(timed) == len(masked):
            spans.setdefault(call_id, []).extend(timed)
        elif start is not None and end is not None:
            spans.setdefault(call_id, []).append((float(start), float(end)))
    return {call_id: sorted(found) for call_id, found in spans.items()}


def masked_spans(con: duckdb.DuckDBPyConnection, call_id: str) -> list[Span]:
    """(start_s, end_s) of every masked word of a call, and of every utterance with a
    placeholder in its text but no masked word; sorted, not merged."""
    return _spans_by_call(con, [call_id]).get(call_id, [])


def call_audio(con: duckdb.DuckDBPyConnection, call_id: str) -> CallAudio | None:
    """A landed call's recording and masked spans (None if there is no such landed call)."""
    return calls_audio(con, [call_id]).get(call_id)


def calls_audio(con: duckdb.DuckDBPyConnection, call_ids: list[str]) -> dict[str, CallAudio]:
    """call_audio() of several calls, with one pass over the utterances (calls not landed are
    left out)."""
    rows = con.execute("SELECT call_id, path, sha256, source_rate FROM calls WHERE call_id IN (SELECT unnest(?))"
                       " AND status = 'ok'", [list(call_ids)]).fetchall()
    spans = _spans_by_call(con, [r[0] for r in rows])
    return {cid: CallAudio(cid, path, sha, rate, spans.get(cid, [])) for cid, path, sha, rate in rows}


def calls_without_audio(con: duckdb.DuckDBPyConnection, folder: str) -> list[str]:
    """Ids of the landed (status ok) calls with no redacted audio recorded in export ``folder``
    (new calls, and calls whose audio an export removed because they changed), sorted."""
    return [r[0] for r in con.execute(
        "SELECT call_id FROM calls c WHERE status = 'ok' AND NOT EXISTS (SELECT 1 FROM artifact_files f"
        " WHERE f.folder = ? AND f.kind = 'audio' AND f.call_id = c.call_id) ORDER BY call_id", [folder]).fetchall()]

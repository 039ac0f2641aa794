"""Where a call's personal data was masked, so its audio can be toned out there (read-only).

At rest a word inside a redacted span keeps its times and has the text ``*``
(flows.recording.mask_words). An utterance whose text holds a placeholder but has no masked
word (no word timings) counts whole, so nothing redacted in text stays audible.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb

MASKED_WORD = "*"
# analysis.pii.MASKS as one regular expression (warehouse/ may not import analysis/;
# tests/test_safety_audio.py checks that the two agree).
PLACEHOLDERS = r"\[(身份证|卡号|电话|号码)\]"

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


def masked_spans(con: duckdb.DuckDBPyConnection, call_id: str) -> list[Span]:
    """(start_s, end_s) of every masked word of a call, and of every utterance with a
    placeholder in its text but no masked word; sorted, not merged."""
    rows = con.execute(
        "SELECT start_s, end_s, [[w.start_s, w.end_s] FOR w IN coalesce(words, []) IF w.text = ?] AS masked"
        " FROM utterances WHERE call_id = ?"
        " AND (list_contains(list_transform(coalesce(words, []), lambda w: w.text), ?)"
        "      OR regexp_matches(coalesce(text, ''), ?))",
        [MASKED_WORD, call_id, MASKED_WORD, PLACEHOLDERS]).fetchall()
    spans: list[Span] = []
    for start, end, masked in rows:
        timed = [(float(s), float(e)) for s, e in masked if s is not None and e is not None]
        if timed and len(timed) == len(masked):
            spans += timed
        elif start is not None and end is not None:
            spans.append((float(start), float(end)))
    return sorted(spans)


def call_audio(con: duckdb.DuckDBPyConnection, call_id: str) -> CallAudio | None:
    """A landed call's recording and masked spans (None if there is no such landed call)."""
    row = con.execute("SELECT path, sha256, source_rate FROM calls WHERE call_id = ? AND status = 'ok'",
                      [call_id]).fetchone()
    if row is None:
        return None
    return CallAudio(call_id, row[0], row[1], row[2], masked_spans(con, call_id))


def landed_calls(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Ids of every landed (status ok) call, sorted."""
    return [r[0] for r in con.execute("SELECT call_id FROM calls WHERE status = 'ok' ORDER BY call_id").fetchall()]

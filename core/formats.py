"""Render utterances as WebVTT, RTTM, plain text or JSON."""
from __future__ import annotations

import json
from dataclasses import asdict

from core.domain import Utterance


def _vtt_time(seconds: float) -> str:
    ms = int(round(max(seconds, 0.0) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("-->", "--&gt;")


def to_vtt(utterances: list[Utterance]) -> str:
    """WebVTT with one cue per utterance and the role as the voice (``<v collector>``)."""
    lines = ["WEBVTT", ""]
    for i, u in enumerate(utterances, start=1):
        lines += [str(i), f"{_vtt_time(u.start)} --> {_vtt_time(max(u.end, u.start + 0.001))}",
                  f"<v {u.role}>{_vtt_escape(u.text)}", ""]
    return "\n".join(lines)


def to_rttm(utterances: list[Utterance], file_id: str) -> str:
    """NIST RTTM speaker turns (speaker name = role when known, else the diarization label)."""
    rows = []
    safe_id = file_id.replace(" ", "_")
    for u in utterances:
        name = u.role if u.role != "unknown" else u.speaker
        rows.append(f"SPEAKER {safe_id} 1 {u.start:.3f} {max(u.end - u.start, 0.0):.3f} <NA> <NA> {name} <NA> <NA>")
    return "\n".join(rows) + ("\n" if rows else "")


def to_txt(utterances: list[Utterance]) -> str:
    return "".join(f"[{_vtt_time(u.start)}] {u.role}: {u.text}\n" for u in utterances)


def to_json(utterances: list[Utterance], **extra: object) -> str:
    return json.dumps({**extra, "utterances": [asdict(u) for u in utterances]}, ensure_ascii=False, indent=1)

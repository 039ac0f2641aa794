"""Measure a call: talk time per role, silence, overlap, interruptions, speech rate, loudness."""
from __future__ import annotations

import re
import numpy as np

from core.domain import RoleMetrics, Utterance
from speech.audio import dbfs

_CJK = re.compile(r"[\u3400-\u9fff]")
INTERRUPTION_MIN_OVERLAP_S = 0.3


def _union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _length(intervals: list[tuple[float, float]]) -> float:
    return sum(e - s for s, e in intervals)


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _chars(text: str) -> int:
    cjk = len(_CJK.findall(text))
    return cjk if cjk else len(text.split())


def _loudness(samples: np.ndarray | None, rate: int, spans: list[tuple[float, float]]) -> float | None:
    if samples is None or not spans:
        return None
    parts = [samples[int(s * rate):int(e * rate)] for s, e in spans]
    parts = [p for p in parts if p.size]
    return round(dbfs(np.concatenate(parts)), 2) if parts else None


def measure_call(
    utterances: list[Utterance],
    duration: float,
    *,
    channel_audio: dict[int, np.ndarray] | None = None,
    mono_audio: np.ndarray | None = None,
    sample_rate: int = 16000,
) -> list[RoleMetrics]:
    """Per-role and whole-call metrics.

    Args:
        utterances: time-stamped utterances with roles.
        duration: call length in seconds.
        channel_audio: original (un-normalised) samples per channel, for stereo loudness.
        mono_audio: original mono samples, used when an utterance has no channel.
    Returns:
        One RoleMetrics per role present, then one with role ``all``.
    """
    duration = max(duration, 1e-9)
    roles = sorted({u.role for u in utterances})
    spans = {r: _union([(u.start, u.end) for u in utterances if u.role == r]) for r in roles}
    results: list[RoleMetrics] = []
    for role in roles:
        mine = [u for u in utterances if u.role == role]
        others = _union([(u.start, u.end) for u in utterances if u.role != role])
        talk = _length(spans[role])
        chars = sum(_chars(u.text) for u in mine)
        interruptions = 0
        for u in mine:
            earlier = [o for o in utterances if o.role != role and o.start < u.start < o.end]
            if any(min(o.end, u.end) - u.start >= INTERRUPTION_MIN_OVERLAP_S for o in earlier):
                interruptions += 1
        channels = {u.channel for u in mine}
        if len(channels) == 1 and None not in channels and channel_audio and next(iter(channels)) in channel_audio:
            audio = channel_audio[next(iter(channels))]
        else:
            audio = mono_audio
        results.append(RoleMetrics(
            role=role, n_utterances=len(mine), talk_s=round(talk, 3), talk_share=round(talk / duration, 4),
            n_chars=chars, speech_rate_cpm=round(chars / (talk / 60.0), 1) if talk > 0 else 0.0,
            interruptions=interruptions, overlap_s=round(_intersect(spans[role], others), 3),
            silence_s=None, loudness_dbfs=_loudness(audio, sample_rate, spans[role]),
        ))
    everyone = _union([(u.start, u.end) for u in utterances])
    talk_all = _length(everyone)
    chars_all = sum(_chars(u.text) for u in utterances)
    overlap_all = sum(_length(spans[r]) for r in roles) - talk_all
    if mono_audio is None and channel_audio:
        mono_audio = np.mean(np.stack(list(channel_audio.values())), axis=0)
    results.append(RoleMetrics(
        role="all", n_utterances=len(utterances), talk_s=round(talk_all, 3),
        talk_share=round(talk_all / duration, 4), n_chars=chars_all,
        speech_rate_cpm=round(chars_all / (talk_all / 60.0), 1) if talk_all > 0 else 0.0,
        interruptions=sum(r.interruptions for r in results), overlap_s=round(max(overlap_all, 0.0), 3),
        silence_s=round(max(duration - talk_all, 0.0), 3), loudness_dbfs=_loudness(mono_audio, sample_rate, everyone),
    ))
    return results

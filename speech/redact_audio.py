"""Tone out spoken personal data: replace time spans of a recording by a 1 kHz tone.

Plain numpy on decoded samples shaped (channels, n); every channel is replaced, so the other
party's channel (or a mono mix) cannot carry the number either.

The spans come from the masked words of a call (``*`` at rest, with Whisper's times). Those
times are approximate, above all the end of the last word of a phrase, which Whisper often
puts early (on dev_call_05 the spoken phone number ends 0.58 s after its last masked word).
So `redaction_windows` pads every span, then moves its end on to the next pause in the
audio (at most ``MAX_EXTEND_S`` further), then merges what overlaps.
"""
from __future__ import annotations

import numpy as np

PAD_S = 0.25           # added before and after every masked span
MAX_EXTEND_S = 1.5     # how far past the padded end the next pause is looked for
PAUSE_S = 0.25         # quiet this long ends a run of speech
FRAME_S = 0.01         # energy frames for the pause search
QUIET_ABOVE_FLOOR_DB = 12.0   # a frame is quiet below the recording's noise floor + this
TONE_HZ = 1000.0
TONE_LEVEL = 0.1       # peak amplitude: -20 dBFS, clearly audible but not loud
FADE_S = 0.005         # cross-fade between recording and tone, inside the window


def _frame_db(samples: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """Per-frame level in dB (the loudest channel), and the frame length in samples."""
    hop = max(1, int(round(FRAME_S * rate)))
    n = samples.shape[1] // hop
    if n == 0:
        return np.zeros(0), hop
    frames = samples[:, :n * hop].reshape(samples.shape[0], n, hop).astype(np.float64)
    rms = np.sqrt(np.mean(np.square(frames), axis=2)).max(axis=0)
    return 20.0 * np.log10(np.maximum(rms, 1e-6)), hop


def _next_pause(quiet: np.ndarray, start: int, limit: int, need: int) -> int:
    """The first frame >= start that begins ``need`` quiet frames in a row (``limit`` if none
    starts before it)."""
    run = 0
    for i in range(start, min(limit + need, quiet.size)):
        run = run + 1 if quiet[i] else 0
        if run == need:
            return min(i - need + 1, limit)
    return min(limit, quiet.size)


def redaction_windows(samples: np.ndarray, rate: int, spans: list[tuple[float, float]], *,
                      pad_s: float = PAD_S, max_extend_s: float = MAX_EXTEND_S,
                      pause_s: float = PAUSE_S) -> list[tuple[float, float]]:
    """The windows (seconds, sorted, disjoint, inside the recording) that cover ``spans``.

    Each span is padded by ``pad_s`` on both sides; its end then runs on to the next pause
    (``pause_s`` of quiet on every channel) but at most ``max_extend_s`` further; windows that
    overlap or touch are merged.
    """
    duration = samples.shape[1] / float(rate)
    padded = sorted((max(0.0, min(s, e) - pad_s), min(duration, max(s, e) + pad_s)) for s, e in spans)
    padded = [(s, e) for s, e in padded if e > s]
    if not padded:
        return []
    if max_extend_s > 0:
        level, hop = _frame_db(samples, rate)
        if level.size:
            floor = max(float(np.percentile(level, 10)), -80.0)
            quiet = level < floor + QUIET_ABOVE_FLOOR_DB
            step, need = hop / float(rate), max(1, int(round(pause_s * rate / hop)))
            extended = []
            for s, e in padded:
                first, limit = int(e / step), int((e + max_extend_s) / step)
                end = _next_pause(quiet, first, limit, need) * step
                extended.append((s, min(duration, max(e, end))))
            padded = extended
    merged = [padded[0]]
    for s, e in padded[1:]:
        if s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def tone_out(samples: np.ndarray, rate: int, windows: list[tuple[float, float]], *,
             freq: float = TONE_HZ, level: float = TONE_LEVEL, fade_s: float = FADE_S) -> np.ndarray:
    """A copy of ``samples`` (channels, n) with every window replaced by a sine tone on every
    channel. Short raised-cosine fades inside each window avoid clicks; outside the windows
    the samples are untouched."""
    out = np.array(samples, dtype=np.float32, copy=True)
    n = out.shape[1]
    for s, e in windows:
        a, b = max(0, int(np.floor(s * rate))), min(n, int(np.ceil(e * rate)))
        if b <= a:
            continue
        tone = (level * np.sin(2.0 * np.pi * freq * np.arange(a, b) / rate)).astype(np.float32)
        weight = np.ones(b - a, dtype=np.float32)
        k = min(int(round(fade_s * rate)), (b - a) // 2)
        if k > 0:
            ramp = (0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)).astype(np.float32)
            weight[:k], weight[b - a - k:] = ramp, ramp[::-1]
        out[:, a:b] = out[:, a:b] * (1.0 - weight) + tone * weight
    return out


def redact_audio(samples: np.ndarray, rate: int, spans: list[tuple[float, float]]) -> np.ndarray:
    """``samples`` with the masked ``spans`` (seconds) toned out, padded and run on to the
    next pause as `redaction_windows` does."""
    return tone_out(samples, rate, redaction_windows(samples, rate, spans))

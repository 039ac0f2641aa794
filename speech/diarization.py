"""Speaker diarization for calls: who spoke when, and which words each speaker said.

Backends: ``pyannote`` for mono recordings (:func:`diarize`; the embedded pipeline built by
``scripts/setup_diarization.sh`` unless ``pipeline_dir`` or ``$CALLQA_DIARIZATION_PIPELINE``
names another pipeline folder) and ``by_channel`` for stereo recordings with one party per
channel (:func:`turns_by_channel`). :func:`assign_words` turns ASR words plus speaker turns
into :class:`~core.domain.Utterance` objects (role "unknown"; see ``analysis.roles``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from core.domain import Utterance, Word
from core.settings import DiarizationSettings

log = logging.getLogger("speech")

SAMPLE_RATE = 16000


@dataclass(frozen=True, slots=True)
class Turn:
    """A stretch of time attributed to one speaker label (seconds)."""

    start: float
    end: float
    speaker: str

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


def _to_mono_16k(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(waveform, dtype=np.float32)
    if audio.ndim == 2:  # (channels, samples) or (samples, channels)
        audio = audio.mean(axis=0 if audio.shape[0] < audio.shape[1] else 1)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio, got shape {np.shape(waveform)}")
    if sample_rate != SAMPLE_RATE:
        import torch
        import torchaudio.functional as AF

        audio = AF.resample(torch.from_numpy(audio), sample_rate, SAMPLE_RATE).numpy()
    return audio


def diarize(
    waveform: np.ndarray,
    sample_rate: int,
    settings: DiarizationSettings,
    *,
    exclusive: bool = False,
    cache: dict | None = None,
) -> list[Turn]:
    """Diarize a mono recording with pyannote; return turns sorted by start time.

    Args:
        waveform: mono float audio (a 2-D array is downmixed); resampled to 16 kHz if needed.
        settings: ``num_speakers`` voices exactly, or with ``max_speakers`` a range from
            ``num_speakers`` to ``max_speakers`` (2 and 3: a relative taking the phone);
            ``pipeline_dir`` a pyannote pipeline folder (config.yaml + checkpoints), "" for
            ``$CALLQA_DIARIZATION_PIPELINE`` or the embedded ``models/pyannote-embedded``.
            ``segmentation_threshold``, ``clustering_threshold`` and ``min_duration_off`` are
            the embedded pipeline's parameters; ``snap_max_shift_s`` > 0 moves turn edges to
            the speech the audio's energy shows (:func:`snap_turns`), with any pipeline.
        exclusive: return non-overlapping turns (pyannote's exclusive diarization).
        cache: a dict the caller keeps between runs on the same audio (parameter sweeps):
            network outputs are stored there and reused.

    Labels are ``SPEAKER_00``, ``SPEAKER_01``, ... The pipeline is loaded once per process.
    """
    from speech import pyannote_backend as backend

    num_speakers: int | None = settings.num_speakers
    min_speakers = max_speakers = None
    if settings.max_speakers:
        min_speakers, max_speakers, num_speakers = settings.num_speakers, settings.max_speakers, None
    pipeline_dir, device = settings.pipeline_dir or None, settings.device
    audio = _to_mono_16k(waveform, sample_rate)
    if audio.size < SAMPLE_RATE // 2 or not np.any(np.abs(audio) > 1e-4):
        return []
    pipeline = backend.load_pipeline(pipeline_dir, device=device)
    started = time.perf_counter()
    params = {"segmentation": {"threshold": settings.segmentation_threshold,
                               "min_duration_off": settings.min_duration_off},
              "clustering": {"threshold": settings.clustering_threshold}}
    triples = backend.run(pipeline, audio, num_speakers=num_speakers, min_speakers=min_speakers,
                          max_speakers=max_speakers, exclusive=exclusive, params=params, cache=cache)
    turns = [Turn(round(s, 3), round(e, 3), label) for s, e, label in triples]
    if settings.island_max_s > 0:
        turns = bridge_gaps(absorb_islands(turns, max_island=settings.island_max_s),
                            max_gap=settings.min_duration_off)
    if settings.snap_max_shift_s > 0:
        turns = snap_turns(turns, speech_frames(audio, SAMPLE_RATE, rel_db=settings.snap_rel_db),
                           SNAP_HOP_S, max_shift=settings.snap_max_shift_s)
    elapsed = time.perf_counter() - started
    duration = audio.size / SAMPLE_RATE
    log.info("diarized %.1fs of audio in %.1fs (RTF %.2f): %d turns, %d speakers", duration, elapsed,
             elapsed / duration, len(turns), len({t.speaker for t in turns}))
    return turns


SNAP_HOP_S = 0.01
ISLAND_REACH_S = 1.0  # an island goes to a neighbour at most this far away


def absorb_islands(turns: list[Turn], *, max_island: float) -> list[Turn]:
    """Give each turn shorter than ``max_island`` s to the speaker of its nearest neighbour.

    A fragment of a second labelled with the other voice, at the start or end of a turn, is
    nearly always a clustering slip (too little audio for a reliable voice print): it goes to
    the closer of the turns before and after it (within ``ISLAND_REACH_S``), when that turn is
    another speaker's. Islands far from any turn keep their label.
    """
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    out = list(ordered)
    for i, t in enumerate(ordered):
        if t.duration >= max_island:
            continue
        near = [(max(0.0, t.start - o.end) if o.end <= t.end else max(0.0, o.start - t.end), o.speaker)
                for j, o in enumerate(ordered) if j != i and o.duration >= max_island]
        near = [n for n in near if n[0] <= ISLAND_REACH_S]
        if near:
            out[i] = Turn(t.start, t.end, min(near)[1])
    return _merge_touching(out)


def bridge_gaps(turns: list[Turn], *, max_gap: float) -> list[Turn]:
    """Join a speaker's consecutive turns less than ``max_gap`` s apart with nobody in between."""
    out: list[Turn] = []
    for t in sorted(turns, key=lambda t: (t.start, t.end)):
        prev = out[-1] if out else None
        if prev is not None and prev.speaker == t.speaker and t.start - prev.end < max_gap:
            out[-1] = Turn(prev.start, max(prev.end, t.end), t.speaker)
        else:
            out.append(t)
    return _merge_touching(out)


def speech_frames(audio: np.ndarray, sample_rate: int, *, rel_db: float, hop_s: float = SNAP_HOP_S,
                  floor_margin_db: float = 10.0) -> np.ndarray:
    """Per ``hop_s`` frame (frame ``i`` = ``[i * hop_s, (i + 1) * hop_s)``): speech energy?

    A frame is speech when its level is within ``rel_db`` of the recording's loud frames (99th
    percentile) and ``floor_margin_db`` above its noise floor (10th percentile), so a noisy
    line does not turn into one long stretch of "speech".
    """
    hop = max(1, int(hop_s * sample_rate))
    n = len(audio) // hop
    if n == 0:
        return np.zeros(0, dtype=bool)
    x = np.asarray(audio[: n * hop], dtype=np.float64).reshape(n, hop)
    level = 10 * np.log10((x * x).mean(axis=1) + 1e-12)
    loud, floor = np.percentile(level, 99), np.percentile(level, 10)
    return level > max(loud - rel_db, floor + floor_margin_db)


def snap_turns(turns: list[Turn], active: np.ndarray, hop_s: float, *, max_shift: float) -> list[Turn]:
    """Move each turn's edges (at most ``max_shift`` s) to where speech starts and ends.

    ``active[i]`` says whether frame ``i`` (``hop_s`` apart) holds speech. First, where one
    speaker's turn is followed by another's, the change is moved into the pause (silence of at
    least ``MIN_PAUSE_S``) nearest to it within ``max_shift``: people take turns at pauses.
    Then an edge in silence moves inward to the nearest speech and an edge inside speech
    outward to where that speech ends, never past halfway to the other speakers' neighbouring
    turns. A turn with no speech at all is dropped. Turns that overlap another speaker's turn
    (two voices at once) are left as they are.
    """
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    n = len(active)
    if n == 0 or max_shift <= 0:
        return ordered
    k = int(round(max_shift / hop_s))
    ordered = _changes_to_pauses(_merge_touching(ordered), active, hop_s, k)
    out: list[Turn] = []
    for i, turn in enumerate(ordered):
        others = [t for t in ordered if t.speaker != turn.speaker]
        if any(t.start < turn.end and t.end > turn.start for t in others):
            out.append(turn)
            continue
        # outward moves stop halfway to the other speakers' neighbouring turns
        before = max([t.end for t in others if t.end <= turn.start], default=None)
        after = min([t.start for t in others if t.start >= turn.end], default=None)
        lo = 0.0 if before is None else (before + turn.start) / 2
        hi = n * hop_s if after is None else (turn.end + after) / 2
        a, b = int(round(turn.start / hop_s)), min(n, int(round(turn.end / hop_s)))
        lo_f, hi_f = int(np.ceil(lo / hop_s)), min(n, int(hi / hop_s))
        if b <= a:
            out.append(turn)
            continue
        inside = np.flatnonzero(active[a:b])
        if inside.size == 0:
            continue
        # start: inward to the first speech (within max_shift), or outward while speech goes on
        start = a + inside[0] if inside[0] <= k else a
        if active[a]:
            while start > max(lo_f, a - k) and active[start - 1]:
                start -= 1
        end = a + inside[-1] + 1 if (b - (a + inside[-1] + 1)) <= k else b
        if active[b - 1]:
            while end < min(hi_f, b + k) and active[end]:
                end += 1
        out.append(Turn(round(float(start * hop_s), 3), round(float(end * hop_s), 3), turn.speaker))
    return _merge_touching(out)


MIN_PAUSE_S = 0.15


def _changes_to_pauses(ordered: list[Turn], active: np.ndarray, hop_s: float, k: int) -> list[Turn]:
    """Move each change of speaker between consecutive turns into the nearest pause (see snap_turns)."""
    out = list(ordered)
    silent = ~active
    min_pause = max(1, int(round(MIN_PAUSE_S / hop_s)))
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        if a.speaker == b.speaker or any(t.start < b.end and t.end > a.start for j, t in enumerate(out)
                                         if j not in (i, i + 1)):
            continue
        a_end, b_start = int(round(a.end / hop_s)), int(round(b.start / hop_s))
        first, last = min(a_end, b_start), max(a_end, b_start)
        lo, hi = int(round(a.start / hop_s)) + 1, min(int(round(b.end / hop_s)) - 1, len(active))
        if hi - lo < min_pause:
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], silent[lo:hi].astype(np.int8), [0]])) != 0)

        def distance(pause: tuple[int, int]) -> int:  # frames from the change to the pause (0: inside)
            return max(pause[0] - last, first - pause[1], 0)

        pauses = [(lo + s, lo + e) for s, e in edges.reshape(-1, 2) if e - s >= min_pause]
        pauses = [p for p in pauses if distance(p) <= k]
        if not pauses:
            continue
        s, e = min(pauses, key=lambda p: (distance(p), -(p[1] - p[0])))
        out[i] = Turn(a.start, round(float(s * hop_s), 3), a.speaker)
        out[i + 1] = Turn(round(float(e * hop_s), 3), b.end, b.speaker)
    return out


def _merge_touching(turns: list[Turn]) -> list[Turn]:
    """One turn for each run of a speaker's overlapping or touching turns; sorted by start."""
    merged: list[Turn] = []
    last: dict[str, int] = {}
    for t in sorted(turns, key=lambda t: (t.start, t.end)):
        j = last.get(t.speaker)
        if j is not None and t.start <= merged[j].end:
            merged[j] = Turn(merged[j].start, max(merged[j].end, t.end), t.speaker)
        else:
            last[t.speaker] = len(merged)
            merged.append(t)
    return merged


def turns_by_channel(
    waveform: np.ndarray,
    sample_rate: int,
    *,
    labels: Sequence[str] = ("ch0", "ch1"),
    frame: float = 0.03,
    threshold_db: float = -35.0,
    min_speech: float = 0.2,
    min_silence: float = 0.3,
) -> list[Turn]:
    """Energy-based speech turns per channel of a (channels, samples) recording.

    A frame is speech on a channel when its level is within ``threshold_db`` of that
    channel's loudest frame and louder than the other channels' (cross-talk/echo).
    Gaps shorter than ``min_silence`` are bridged, turns shorter than ``min_speech`` dropped.
    """
    audio = np.asarray(waveform, dtype=np.float32)
    if audio.ndim != 2:
        raise ValueError("turns_by_channel needs (channels, samples) audio")
    if audio.shape[0] > audio.shape[1]:
        audio = audio.T
    if len(labels) < audio.shape[0]:
        raise ValueError(f"{audio.shape[0]} channels but {len(labels)} labels")
    hop = max(1, int(frame * sample_rate))
    n = audio.shape[1] // hop
    if n == 0:
        return []
    frames = audio[:, : n * hop].reshape(audio.shape[0], n, hop)
    level = 10 * np.log10(np.mean(frames**2, axis=2) + 1e-12)
    turns: list[Turn] = []
    for ch in range(audio.shape[0]):
        others = np.delete(level, ch, axis=0)
        louder = level[ch] >= (others.max(axis=0) - 6.0 if others.size else -np.inf)
        active = (level[ch] > level[ch].max() + threshold_db) & louder
        turns += _runs(active, hop / sample_rate, labels[ch], min_speech, min_silence)
    return sorted(turns, key=lambda t: (t.start, t.speaker))


def _runs(active: np.ndarray, step: float, label: str, min_speech: float, min_silence: float) -> list[Turn]:
    spans: list[list[float]] = []
    for i in np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])) != 0).reshape(-1, 2):
        start, end = i[0] * step, i[1] * step
        if spans and start - spans[-1][1] < min_silence:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [Turn(round(s, 3), round(e, 3), label) for s, e in spans if e - s >= min_speech]


WORD_CORE_S = 0.3  # Whisper stretches a word's start back over a preceding pause: trust its end


def _speaker_for(word: Word, turns: list[Turn]) -> str | None:
    end = max(word.end, word.start)
    start = max(word.start, end - WORD_CORE_S)
    overlap: dict[str, float] = {}
    for t in turns:
        if t.start > end:
            break
        ov = min(end, t.end) - max(start, t.start)
        if ov > 0 or (ov == 0 and start == end and t.start <= start <= t.end):
            overlap[t.speaker] = overlap.get(t.speaker, 0.0) + ov
    if overlap:
        return max(overlap.items(), key=lambda kv: kv[1])[0]
    if not turns:
        return None
    mid = (start + end) / 2
    return min(turns, key=lambda t: max(t.start - mid, mid - t.end, 0.0)).speaker


def assign_words(words: list[Word], turns: list[Turn], *, max_gap: float) -> list[Utterance]:
    """Group ASR words into utterances by speaker.

    Each word goes to the speaker whose turns overlap it most (overlapping turns are
    allowed), judged on its last 0.3 s: Whisper often starts the first word after a pause
    early, inside the other speaker's turn. A word in no turn goes to the nearest turn. Consecutive words of one speaker
    form an utterance, split where the pause between words exceeds ``max_gap`` seconds.
    Roles are left "unknown". Without turns every word goes to speaker "unknown".
    """
    ordered_turns = sorted(turns, key=lambda t: t.start)
    utterances: list[Utterance] = []
    for word in sorted(words, key=lambda w: (w.start, w.end)):
        speaker = _speaker_for(word, ordered_turns) or "unknown"
        last = utterances[-1] if utterances else None
        if last is not None and last.speaker == speaker and word.start - last.end <= max_gap:
            last.words.append(word)
            last.end = max(last.end, word.end)
            last.text += word.text
        else:
            utterances.append(Utterance(speaker=speaker, role="unknown", start=word.start,
                                        end=word.end, text=word.text, words=[word]))
    for u in utterances:
        u.text = u.text.strip()
    return utterances

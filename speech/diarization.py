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
) -> list[Turn]:
    """Diarize a mono recording with pyannote; return turns sorted by start time.

    Args:
        waveform: mono float audio (a 2-D array is downmixed); resampled to 16 kHz if needed.
        settings: ``num_speakers`` voices exactly, or with ``max_speakers`` a range from
            ``num_speakers`` to ``max_speakers`` (2 and 3: a relative taking the phone);
            ``pipeline_dir`` a pyannote pipeline folder (config.yaml + checkpoints), "" for
            ``$CALLQA_DIARIZATION_PIPELINE`` or the embedded ``models/pyannote-embedded``.
        exclusive: return non-overlapping turns (pyannote's exclusive diarization).

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
    triples = backend.run(pipeline, audio, num_speakers=num_speakers, min_speakers=min_speakers,
                          max_speakers=max_speakers, exclusive=exclusive)
    elapsed = time.perf_counter() - started
    duration = audio.size / SAMPLE_RATE
    log.info("diarized %.1fs of audio in %.1fs (RTF %.2f): %d turns, %d speakers", duration, elapsed,
             elapsed / duration, len(triples), len({s for _, _, s in triples}))
    return [Turn(round(s, 3), round(e, 3), label) for s, e, label in triples]


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

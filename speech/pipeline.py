"""From decoded audio to role-labelled utterances: one call, stereo by channel or mono."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from callqa.domain import Utterance
from speech import logger
from speech.asr import Transcriber
from speech.audio import DecodedAudio, normalise_gain, robust_peak
from speech.utterances import merge_speakers, words_to_utterances

IDENTICAL_CHANNELS_CORR = 0.98
SILENT_PEAK_DBFS = -60.0   # a channel whose robust peak stays below this holds no speech


def is_silent(peak: float) -> bool:
    """True when a channel's robust peak stays below the line-noise floor (no ASR needed)."""
    return peak < 10 ** (SILENT_PEAK_DBFS / 20)


@dataclass(slots=True)
class CallTranscript:
    """Utterances of one call and how they were obtained."""

    utterances: list[Utterance]
    diarization: str                      # channel | pyannote | none
    channel_audio: dict[int, np.ndarray] = field(default_factory=dict)
    mono_audio: np.ndarray | None = None
    roles_confidence: float | None = None
    needs_review: bool = False
    role_notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def channels_are_copies(samples: np.ndarray) -> bool:
    """True for 'stereo' files whose two channels hold the same signal (a mono call)."""
    if samples.shape[0] != 2:
        return False
    a, b = samples[0].astype(np.float64), samples[1].astype(np.float64)
    if not a.any() and not b.any():
        return True
    denom = np.sqrt(np.dot(a, a) * np.dot(b, b))
    return bool(denom > 0 and np.dot(a, b) / denom > IDENTICAL_CHANNELS_CORR)


def transcribe_call(
    audio: DecodedAudio,
    transcriber: Transcriber,
    *,
    channel_roles: tuple[str, ...] | list[str] = ("collector", "customer"),
    max_gap: float = 1.2,
    target_peak_dbfs: float = -3.0,
    max_gain_db: float = 30.0,
    diarization: dict | None = None,
) -> CallTranscript:
    """Transcribe a call and attribute every word to a speaker and role.

    Two distinct channels are two parties (``channel_roles[i]`` is channel i's role); any
    other layout is mixed to mono and separated with the configured diarizer (pyannote),
    or kept as one unknown speaker when diarization is off.

    Args:
        audio: decoded samples (channels, n) at 16 kHz.
        transcriber: a loaded Transcriber.
        channel_roles: role per channel for stereo calls.
        max_gap: pause (s) that splits one speaker's words into two utterances.
        diarization: the [diarization] config section (mono_backend, pipeline_dir, speakers).
    """
    timings: dict[str, float] = {}
    samples = audio.samples
    if samples.shape[0] == 2 and not channels_are_copies(samples):
        streams: list[list[Utterance]] = []
        for ch in range(2):
            peak = robust_peak(samples[ch])
            normalised, gain = normalise_gain(samples[ch], target_peak_dbfs, max_gain_db, peak=peak)
            t0 = time.perf_counter()
            words = [] if is_silent(peak) else transcriber.transcribe(normalised)
            timings["asr"] = timings.get("asr", 0.0) + time.perf_counter() - t0
            role = channel_roles[ch] if ch < len(channel_roles) else "unknown"
            streams.append(words_to_utterances(words, speaker=f"ch{ch}", role=role, channel=ch, max_gap=max_gap))
            logger.debug("channel %d: gain %.1f dB, %d words", ch, gain, len(words))
        utterances = merge_speakers(*streams)
        prior = {f"ch{ch}": channel_roles[ch] for ch in range(min(2, len(channel_roles)))}
        transcript = CallTranscript(utterances=utterances, diarization="channel",
                                    channel_audio={0: samples[0], 1: samples[1]}, timings=timings)
        return _with_roles(transcript, prior)
    mono = samples.mean(axis=0).astype(np.float32) if samples.shape[0] > 1 else samples[0]
    peak = robust_peak(mono)
    normalised, _ = normalise_gain(mono, target_peak_dbfs, max_gain_db, peak=peak)
    t0 = time.perf_counter()
    words = [] if is_silent(peak) else transcriber.transcribe(normalised)
    timings["asr"] = time.perf_counter() - t0
    settings = diarization or {}
    if settings.get("mono_backend", "pyannote") == "none" or not words:
        utterances = words_to_utterances(words, speaker="spk0", role="unknown", max_gap=max_gap)
        transcript = CallTranscript(utterances=utterances, diarization="none", mono_audio=mono, timings=timings)
        return _with_roles(transcript, None)
    from speech.diarization import assign_words, diarize

    t1 = time.perf_counter()
    turns = diarize(normalised, 16000, num_speakers=settings.get("num_speakers", 2),
                    max_speakers=settings.get("max_speakers") or None,
                    pipeline_dir=settings.get("pipeline_dir") or None, device=settings.get("device", "cpu"))
    timings["diarization"] = time.perf_counter() - t1
    utterances = assign_words(words, turns, max_gap=max_gap)
    transcript = CallTranscript(utterances=utterances, diarization="pyannote", mono_audio=mono, timings=timings)
    return _with_roles(transcript, None)


def _with_roles(transcript: CallTranscript, prior: dict[str, str] | None) -> CallTranscript:
    """Assign collector / customer / third_party to every speaker (channel convention as a
    prior, content cues decide otherwise), keeping the confidence and review flag."""
    from speech.roles import apply_roles, assign_roles

    if not transcript.utterances:
        transcript.roles_confidence = None
        return transcript
    assignment = assign_roles(transcript.utterances, prior)
    apply_roles(transcript.utterances, assignment)
    transcript.roles_confidence = round(min(assignment.confidence.values()), 3) if assignment.confidence else None
    transcript.needs_review = assignment.needs_review
    transcript.role_notes = list(assignment.reasons)
    return transcript

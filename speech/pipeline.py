"""From decoded audio to speaker-attributed utterances: one call, stereo by channel or mono.

Roles are decided afterwards from content (``analysis.roles``); this module only records the
channel convention as a prior.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from core.domain import Utterance
from core.settings import AudioSettings, DiarizationSettings
from speech import logger
from speech.asr import Transcriber
from speech.audio import DecodedAudio, normalise_gain, robust_peak
from speech.utterances import merge_speakers, words_to_utterances

IDENTICAL_CHANNELS_CORR = 0.98
SILENT_PEAK_DBFS = -60.0   # a channel whose robust peak stays below this holds no speech


def is_silent(peak: float) -> bool:
    """True when a channel's robust peak stays below the line-noise floor (no ASR needed)."""
    return peak < 10 ** (SILENT_PEAK_DBFS / 20)


@dataclass(frozen=True, slots=True)
class PreparedChannel:
    """One channel as ASR gets it: gain-normalised samples, the gain applied, and whether the
    channel is line noise only (then no ASR is run)."""

    samples: np.ndarray
    gain_db: float
    silent: bool


def prepare_channel(x: np.ndarray, audio_settings: AudioSettings) -> PreparedChannel:
    """Normalise one channel's gain (``audio.target_peak_dbfs``, capped at ``audio.max_gain_db``)
    and tell whether it is silent; the robust peak is computed once for both."""
    peak = robust_peak(x)
    samples, gain = normalise_gain(x, audio_settings.target_peak_dbfs, audio_settings.max_gain_db, peak=peak)
    return PreparedChannel(samples, gain, is_silent(peak))


@dataclass(slots=True)
class CallTranscript:
    """Utterances of one call and how they were obtained."""

    utterances: list[Utterance]
    diarization: str                      # channel | pyannote | none
    channel_audio: dict[int, np.ndarray] = field(default_factory=dict)
    mono_audio: np.ndarray | None = None
    role_prior: dict[str, str] | None = None   # speaker label -> role from the channel convention
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
    channel_roles: tuple[str, ...],
    audio_settings: AudioSettings,
    diarization: DiarizationSettings,
    max_gap: float,
) -> CallTranscript:
    """Transcribe a call and attribute every word to a speaker.

    Two distinct channels are two parties (``channel_roles[i]`` is channel i's role, kept as
    the prior for role assignment); any other layout is mixed to mono and separated with the
    configured diarizer (pyannote), or kept as one unknown speaker when diarization is off.

    Args:
        audio: decoded samples (channels, n) at 16 kHz.
        transcriber: a loaded Transcriber.
        audio_settings: the gain normalisation target and cap.
        max_gap: pause (s) that splits one speaker's words into two utterances.
    """
    timings: dict[str, float] = {}
    samples = audio.samples
    if samples.shape[0] == 2 and not channels_are_copies(samples):
        streams: list[list[Utterance]] = []
        for ch in range(2):
            prepared = prepare_channel(samples[ch], audio_settings)
            t0 = time.perf_counter()
            words = [] if prepared.silent else transcriber.transcribe(prepared.samples)
            timings["asr"] = timings.get("asr", 0.0) + time.perf_counter() - t0
            role = channel_roles[ch] if ch < len(channel_roles) else "unknown"
            streams.append(words_to_utterances(words, speaker=f"ch{ch}", role=role, channel=ch, max_gap=max_gap))
            logger.debug("channel %d: gain %.1f dB, %d words", ch, prepared.gain_db, len(words))
        prior = {f"ch{ch}": channel_roles[ch] for ch in range(min(2, len(channel_roles)))}
        return CallTranscript(utterances=merge_speakers(*streams), diarization="channel",
                              channel_audio={0: samples[0], 1: samples[1]}, role_prior=prior, timings=timings)
    mono = samples.mean(axis=0).astype(np.float32) if samples.shape[0] > 1 else samples[0]
    prepared = prepare_channel(mono, audio_settings)
    normalised = prepared.samples
    t0 = time.perf_counter()
    words = [] if prepared.silent else transcriber.transcribe(normalised)
    timings["asr"] = time.perf_counter() - t0
    if diarization.mono_backend == "none" or not words:
        utterances = words_to_utterances(words, speaker="spk0", role="unknown", max_gap=max_gap)
        return CallTranscript(utterances=utterances, diarization="none", mono_audio=mono, timings=timings)
    from speech.diarization import assign_words, diarize

    t1 = time.perf_counter()
    turns = diarize(normalised, audio.sample_rate, diarization)
    timings["diarization"] = time.perf_counter() - t1
    utterances = assign_words(words, turns, max_gap=max_gap)
    return CallTranscript(utterances=utterances, diarization="pyannote", mono_audio=mono, timings=timings)

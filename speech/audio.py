"""Decode any recording PyAV can read into float32 samples, keeping its channels."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from core.settings import AudioSettings
from speech import logger


class AudioError(Exception):
    """A recording that cannot be used. ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class DecodedAudio:
    """Audio as float32 samples in [-1, 1], shape (channels, n), at ``sample_rate``.

    Attributes:
        source_rate: the sample rate of the file before resampling.
        codec: the codec name PyAV reported (pcm_mulaw, mp3, aac, ...).
    """

    samples: np.ndarray
    sample_rate: int
    source_rate: int
    codec: str

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / float(self.sample_rate)


def decode(path: str | Path, settings: AudioSettings) -> DecodedAudio:
    """Decode the first audio stream of ``path``, resampled to ``sample_rate``, channels kept.

    Args:
        path: any container/codec FFmpeg (via PyAV) reads: wav (PCM, mu-law, A-law), mp3, m4a...
        settings: the output rate and the size, duration and time limits that keep garbage
            from using unbounded resources.
    Returns:
        DecodedAudio with samples shaped (channels, n).
    Raises:
        AudioError: with reason one of unreadable, too_large, no_audio_stream, decode_error,
            empty_audio, too_long, timeout.
    """
    p = Path(path)
    sample_rate, max_file_mb = settings.sample_rate, settings.max_file_mb
    max_duration_s, timeout_s = settings.max_duration_s, settings.decode_timeout_s
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise AudioError("unreadable", f"cannot stat file: {exc.strerror or exc}") from exc
    if size == 0:
        raise AudioError("empty_audio", "file is empty (0 bytes)")
    if size > max_file_mb * 1024 * 1024:
        raise AudioError("too_large", f"file is {size / 2**20:.0f} MiB, over the {max_file_mb} MiB limit")
    started = time.monotonic()
    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
    except PermissionError as exc:
        raise AudioError("unreadable", f"permission denied: {exc.strerror or exc}") from exc
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise AudioError("decode_error", f"not a readable audio container: {exc}") from exc
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with container:
            streams = container.streams.audio
            if not streams:
                raise AudioError("no_audio_stream", "the file has no audio stream")
            stream = streams[0]
            if stream.codec_context is None:
                tag = getattr(stream, "codec_tag", "") or "unknown"
                raise AudioError("unsupported_codec", f"the audio codec (tag {tag}) is not supported by FFmpeg;"
                                 " convert the recording to wav, mp3 or m4a")
            codec = stream.codec_context.name
            source_rate = int(stream.codec_context.sample_rate or 0)
            channels = int(stream.codec_context.channels or 0)
            if channels <= 0 or source_rate <= 0:
                raise AudioError("decode_error", f"audio stream has {channels} channels at {source_rate} Hz")
            resampler = av.AudioResampler(format="flt", layout=stream.layout.name, rate=sample_rate)
            limit = int(max_duration_s * sample_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(_frame_to_array(out, channels))
                    total += chunks[-1].shape[1]
                if total > limit:
                    raise AudioError("too_long", f"audio is longer than the {max_duration_s:.0f} s limit")
                if time.monotonic() - started > timeout_s:
                    raise AudioError("timeout", f"decoding took longer than {timeout_s:.0f} s")
            for out in resampler.resample(None):
                chunks.append(_frame_to_array(out, channels))
    except AudioError:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise AudioError("decode_error", f"decoding failed: {exc}") from exc
    if not chunks:
        raise AudioError("empty_audio", "the audio stream holds no samples")
    samples = np.concatenate(chunks, axis=1)
    if samples.shape[1] < sample_rate // 10:
        raise AudioError("empty_audio", f"audio is only {samples.shape[1] / sample_rate:.3f} s long")
    np.clip(samples, -1.0, 1.0, out=samples)
    logger.debug("decoded %s: %d ch, %.1f s, %s %d Hz", p.name, samples.shape[0], samples.shape[1] / sample_rate, codec, source_rate)
    return DecodedAudio(samples=samples, sample_rate=sample_rate, source_rate=source_rate, codec=codec)


def _frame_to_array(frame: av.AudioFrame, channels: int) -> np.ndarray:
    data = frame.to_ndarray()  # packed float: shape (1, n * channels)
    return data.reshape(-1, channels).T.astype(np.float32, copy=False)


def dbfs(x: np.ndarray) -> float:
    """RMS level in dBFS (-inf-safe: silence gives -120)."""
    if x.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return float(20.0 * np.log10(max(rms, 1e-6)))


def robust_peak(x: np.ndarray) -> float:
    """The 99.9th percentile of |x|: a peak that one click cannot set."""
    return float(np.quantile(np.abs(x), 0.999)) if x.size else 0.0


def normalise_gain(x: np.ndarray, target_peak_dbfs: float, max_gain_db: float,
                   peak: float | None = None) -> tuple[np.ndarray, float]:
    """Scale one channel so its robust peak (99.9th percentile of |x|) sits at the target.

    Quiet telephone speech is otherwise dropped by VAD. The gain is capped so a channel
    holding only line noise is not blown up into something that looks like speech.

    Args:
        peak: ``robust_peak(x)`` when the caller has it already (it scans the whole channel).
    Returns:
        (scaled samples, applied gain in dB).
    """
    if x.size == 0:
        return x, 0.0
    peak = robust_peak(x) if peak is None else peak
    if peak <= 1e-6:
        return x, 0.0
    gain_db = min(target_peak_dbfs - 20.0 * np.log10(peak), max_gain_db)
    scaled = np.clip(x * (10.0 ** (gain_db / 20.0)), -1.0, 1.0).astype(np.float32)
    return scaled, float(gain_db)

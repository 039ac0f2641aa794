"""Write real audio files in many containers/codecs with PyAV, for decoding tests."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from speech.audio import decode


def encode(samples: np.ndarray, rate: int, path: Path, codec: str, fmt: str | None = None) -> Path:
    """Encode float samples (channels, n) into ``path`` with ``codec``."""
    channels = samples.shape[0]
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    with av.open(str(path), mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        fmt_name = stream.codec_context.format.name if stream.codec_context.format else "s16"
        resampler = av.AudioResampler(format=fmt_name, layout=layout, rate=rate)
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        step = 1024
        for i in range(0, pcm.shape[1], step):
            block = np.ascontiguousarray(pcm[:, i:i + step].T).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
            frame.sample_rate = rate
            for f in resampler.resample(frame):
                for packet in stream.encode(f):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def decode_at(path: Path, rate: int = 16000, **limits: float):
    """Decode with the default limits at ``rate`` (``limits``: AudioSettings fields to change)."""
    from core.settings import AudioSettings

    return decode(path, AudioSettings(sample_rate=rate, **limits))


def load_clip(path: Path, rate: int = 16000) -> np.ndarray:
    """A real clip as mono float32 at ``rate``."""
    return decode_at(path, rate).samples[0]


def stereo_call(first: np.ndarray, second: np.ndarray, rate: int, gap_s: float = 1.0) -> np.ndarray:
    """Two clips as a two-party call: channel 0 speaks first, channel 1 answers after a gap."""
    gap = int(gap_s * rate)
    n = gap + first.size + gap + second.size + gap
    out = np.zeros((2, n), dtype=np.float32)
    out[0, gap:gap + first.size] = first
    out[1, 2 * gap + first.size:2 * gap + first.size + second.size] = second
    return out

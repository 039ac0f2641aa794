"""Put a call's recording next to the report: copied when a browser plays it, else
transcoded to 16-bit PCM WAV with PyAV; a missing or changed file is reported, not fatal."""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("callqa")

BROWSER_EXTS = {".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".webm"}
BROWSER_WAV_CODECS = {"pcm_s16le", "pcm_u8", "pcm_s24le", "pcm_s32le", "pcm_f32le"}


@dataclass(frozen=True, slots=True)
class AudioCopy:
    """Where the page finds the recording (relative to the report root), or why it cannot.

    status: ok | changed (file differs in size from what was processed) | missing | failed.
    """

    href: str | None
    status: str
    note: str = ""


def _up_to_date(src: Path, dest: Path) -> bool:
    return dest.is_file() and dest.stat().st_mtime >= src.stat().st_mtime and dest.stat().st_size > 0


def transcode_wav(src: Path, dest: Path) -> None:
    """Decode any PyAV-readable audio and write 16-bit PCM WAV with the same rate/channels."""
    import av

    tmp = dest.with_suffix(".tmp.wav")
    with av.open(str(src)) as inp, av.open(str(tmp), "w", format="wav") as out:
        ist = inp.streams.audio[0]
        layout = ist.layout.name if ist.layout else "mono"
        ost = out.add_stream("pcm_s16le", rate=ist.rate, layout=layout)
        resampler = av.AudioResampler(format="s16", layout=layout, rate=ist.rate)
        for frame in inp.decode(ist):
            for f in resampler.resample(frame):
                out.mux(ost.encode(f))
        for f in resampler.resample(None):
            out.mux(ost.encode(f))
        out.mux(ost.encode(None))
    tmp.replace(dest)


def place_audio(path: str, size_bytes: int | None, codec: str | None, audio_dir: Path, slug: str,
                url_slug: str) -> AudioCopy:
    """Copy or transcode the recording at ``path`` into ``audio_dir`` as ``slug.<ext>``
    (``url_slug`` is the same name URL-quoted, used in the returned href)."""
    src = Path(path)
    if not src.is_file():
        return AudioCopy(None, "missing", "The recording is no longer at its archive path.")
    status, note = "ok", ""
    if size_bytes and src.stat().st_size != size_bytes:
        status, note = "changed", "The recording has changed since it was processed; transcript times may not match."
    ext = src.suffix.lower()
    playable = ext in BROWSER_EXTS and (ext != ".wav" or (codec or "pcm_s16le") in BROWSER_WAV_CODECS)
    dest = audio_dir / f"{slug}{ext if playable else '.wav'}"
    try:
        if not _up_to_date(src, dest):
            audio_dir.mkdir(parents=True, exist_ok=True)
            if playable:
                shutil.copyfile(src, dest)
            else:
                transcode_wav(src, dest)
    except Exception as exc:  # noqa: BLE001  (any decoder/OS error: the page says so)
        logger.warning("cannot prepare audio for %s: %s", slug, type(exc).__name__)
        return AudioCopy(None, "failed", f"The recording could not be prepared for the browser ({type(exc).__name__}).")
    return AudioCopy(f"audio/{url_slug}{dest.suffix}", status, note)

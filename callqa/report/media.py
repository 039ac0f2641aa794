"""Redacted audio for the report and exports: the recording decoded, the spans of its masked
words toned out (speech.redact_audio), written as 16-bit PCM WAV at the source rate.

The original file is never copied. A recording that is gone, or whose content hash differs
from the one it was processed with (the masked times would no longer line up), is reported,
not rendered.
"""
from __future__ import annotations

import dataclasses
import logging
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.filenames import safe_name
from core.files import sha256_file, write_atomic
from core.settings import AudioSettings
from speech.audio import AudioError, decode
from speech.redact_audio import redact_audio
from warehouse.redaction import CallAudio, calls_audio, calls_without_audio
from warehouse.artifacts import Written, record_files
from warehouse.store import Warehouse

logger = logging.getLogger("callqa")

NOTES = {
    "missing": "The recording is no longer at its archive path.",
    "changed": "The recording has changed since it was processed (its content hash differs), so the "
               "redacted audio cannot be lined up with the transcript; it is not played.",
    "failed": "The recording could not be decoded for redaction and playback.",
}


@dataclass(frozen=True, slots=True)
class AudioCopy:
    """Where the page finds the redacted recording (relative to the report root), or why not.

    status: ok | changed (content hash differs from what was processed) | missing | failed | off.
    """

    href: str | None
    status: str
    note: str = ""


def write_wav(samples: np.ndarray, rate: int, dest: Path) -> None:
    """Write float samples (channels, n) as 16-bit PCM WAV, atomically (temp file + rename)."""
    pcm = np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2")

    def write(tmp: Path) -> None:
        with wave.open(str(tmp), "wb") as fh:
            fh.setnchannels(int(samples.shape[0]))
            fh.setsampwidth(2)
            fh.setframerate(int(rate))
            fh.writeframes(np.ascontiguousarray(pcm.T).tobytes())

    write_atomic(dest, write)


def check_recording(rec: CallAudio) -> str:
    """ok, missing (not a file, or unreadable) or changed (content hash differs)."""
    src = Path(rec.path)
    try:
        if not src.is_file():
            return "missing"
        return "ok" if rec.sha256 and sha256_file(src) == rec.sha256 else "changed"
    except OSError:
        return "missing"


def write_redacted(rec: CallAudio, dest: Path, settings: AudioSettings) -> str:
    """Write ``rec``'s recording with its masked spans toned out to ``dest`` (a .wav).

    Returns the status: ok, missing, changed, or failed (cannot be decoded within the
    ``[audio]`` limits). Unless ok, an earlier file at ``dest`` is removed: it may no longer
    match the recording.
    """
    status = check_recording(rec)
    if status == "ok":
        try:
            audio = decode(rec.path, dataclasses.replace(settings, sample_rate=rec.source_rate or settings.sample_rate))
            dest.parent.mkdir(parents=True, exist_ok=True)
            write_wav(redact_audio(audio.samples, audio.sample_rate, rec.spans), audio.sample_rate, dest)
        except (AudioError, OSError, ValueError, wave.Error) as exc:
            logger.warning("cannot write redacted audio for %s: %s", dest.stem, type(exc).__name__)
            status = "failed"
    if status != "ok":
        dest.unlink(missing_ok=True)
    return status


def place_audio(rec: CallAudio, audio_dir: Path, slug: str, url_slug: str, settings: AudioSettings) -> AudioCopy:
    """The redacted recording of ``rec`` in ``audio_dir`` as ``slug.wav`` (``url_slug`` is the
    same name URL-quoted, used in the returned href)."""
    status = write_redacted(rec, audio_dir / f"{slug}.wav", settings)
    if status == "ok":
        return AudioCopy(f"audio/{url_slug}.wav", status)
    return AudioCopy(None, status, NOTES[status])


AUDIO_BATCH = 1_000  # calls whose masked spans are read in one query


def export_audio(db: str | Path, out: Path, settings: AudioSettings) -> dict[str, int]:
    """``callqa export --audio``: each landed call's redacted recording as ``out/audio/<name>.wav``,
    each file recorded against the export folder ``out`` so that a purge removes it.

    Incremental like the export it follows: only calls with no audio recorded in ``out`` are
    written (new calls, and changed calls, whose audio the export just removed; after a full
    export, every call). A call whose recording is missing or changed is tried again next time.

    Returns how many calls ended in each status (audio_ok, audio_missing, audio_changed,
    audio_failed) and ``audio_kept``, the calls whose audio was already there.
    """
    with Warehouse(db, read_only=True) as wh:
        todo = calls_without_audio(wh.con, str(out.resolve()))
        landed = wh.con.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone()[0]
    counts = dict.fromkeys(("audio_ok", "audio_missing", "audio_changed", "audio_failed"), 0)
    counts["audio_kept"] = landed - len(todo)
    for i in range(0, len(todo), AUDIO_BATCH):
        batch = todo[i:i + AUDIO_BATCH]
        with Warehouse(db, read_only=True) as wh:
            recs = calls_audio(wh.con, batch)
        written: list[Written] = []
        for call_id in batch:
            rec = recs.get(call_id)
            if rec is None:
                continue
            dest = out / "audio" / f"{safe_name(rec.call_id)}.wav"
            status = write_redacted(rec, dest, settings)
            counts[f"audio_{status}"] += 1
            if status == "ok":
                written.append((dest, "audio", rec.call_id))
        # recorded batch by batch: a crash leaves at most one batch written but unrecorded, and
        # the next run writes those calls again (no audio recorded for them) and records them
        with Warehouse(db) as wh:
            record_files(wh, out, written)
    return counts

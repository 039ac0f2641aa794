"""Bad inputs: every kind of broken or odd file a nightly run meets, and what a user types wrong.

``make_corpus(folder, good)`` writes the recordings and returns what each one is expected to
become: ``("failed", reason)`` in the failures table, or ``("ok", None)`` when it is handled.

The rest builds bad command-line inputs (tests/test_cli_errors.py, tests/test_safety_robust.py):
databases that are not DuckDB, not a warehouse or newer than the code, deeply nested JSON,
broken configuration, review CSVs in other encodings or with huge fields, a database that
cannot be written (``unwritable``) and one held by another writer (``held_by_writer``).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tests.helpers.audio import encode


def _wav_header_only(path: Path) -> None:
    import wave
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"")


def make_corpus(folder: Path, good: Path) -> dict[str, tuple[str, str | None]]:
    """Write the corpus into ``folder``; ``good`` is a real stereo call to damage and re-encode."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    expected: dict[str, tuple[str, str | None]] = {}
    data = good.read_bytes()

    (folder / "empty.wav").write_bytes(b"")
    expected["empty"] = ("failed", "empty_audio")
    (folder / "random_bytes.wav").write_bytes(rng.bytes(64_000))
    expected["random_bytes"] = ("failed", "decode_error")
    (folder / "truncated_header.wav").write_bytes(data[:30])
    expected["truncated_header"] = ("failed", "decode_error")
    (folder / "truncated_data.wav").write_bytes(data[: len(data) // 3])     # header says more than is there
    expected["truncated_data"] = ("ok", None)                                # the part that exists is used
    _wav_header_only(folder / "zero_length.wav")
    expected["zero_length"] = ("failed", "empty_audio")
    (folder / "unsupported_codec.wav").write_bytes(data[:20] + (0x7777).to_bytes(2, "little") + data[22:4000])
    expected["unsupported_codec"] = ("failed", "unsupported_codec")

    silence = np.zeros((1, 8000 * 3600), dtype=np.float32)                    # one hour, digital silence
    encode(silence, 8000, folder / "hour_of_silence.wav", "pcm_s16le", "wav")
    expected["hour_of_silence"] = ("ok", None)
    noise = (rng.standard_normal((1, 8000 * 30)) * 0.1).astype(np.float32)   # 30 s of loud white noise
    encode(noise, 8000, folder / "white_noise.wav", "pcm_s16le", "wav")
    expected["white_noise"] = ("ok", None)

    from tests.helpers.audio import decode_at
    call = decode_at(good, 8000).samples
    six = np.zeros((6, call.shape[1]), dtype=np.float32)
    six[0], six[1] = call[0], call[1]
    encode(six, 8000, folder / "six_channels.wav", "pcm_s16le", "wav")
    expected["six_channels"] = ("ok", None)
    encode(call, 8000, folder / "mulaw.wav", "pcm_mulaw", "wav")
    expected["mulaw"] = ("ok", None)
    encode(call, 8000, folder / "alaw.wav", "pcm_alaw", "wav")
    expected["alaw"] = ("ok", None)
    _video_with_audio(folder / "video_with_audio.mp4", call[:, : 8000 * 10])
    expected["video_with_audio"] = ("ok", None)

    shutil.copy(good, folder / "same_audio_a.wav")
    shutil.copy(good, folder / "same_audio_b.wav")                           # same bytes, second name
    expected["same_audio_a"] = ("ok", None)
    expected["same_audio_b"] = ("failed", "duplicate")

    os.symlink("loop_b.wav", folder / "loop_a.wav")
    os.symlink("loop_a.wav", folder / "loop_b.wav")
    expected["loop_a"] = ("failed", "unreadable")
    expected["loop_b"] = ("failed", "unreadable")
    os.mkfifo(folder / "a_pipe.wav")
    expected["a_pipe"] = ("failed", "not_a_file")
    odd = os.fsencode(str(folder)) + b"/latin1_caf\xe9.wav"
    with open(odd, "wb") as fh:
        fh.write(data[: len(data) // 2])
    expected["latin1_caf\ufffd"] = ("ok", None)
    unreadable = folder / "no_permission.wav"
    unreadable.write_bytes(data[:1000] + rng.bytes(10))
    unreadable.chmod(0)
    # root reads anything: then the content (30 ms of audio) is what fails
    expected["no_permission"] = ("failed", "empty_audio" if os.geteuid() == 0 else "unreadable")
    return expected


def _video_with_audio(path: Path, stereo: np.ndarray) -> None:
    import av
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("mpeg4", rate=5)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("aac", rate=8000, layout="stereo")
        for i in range(int(stereo.shape[1] / 8000 * 5)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i % 255, dtype=np.uint8), format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        resampler = av.AudioResampler(format=audio.codec_context.format.name, layout="stereo", rate=8000)
        pcm = (np.clip(stereo, -1, 1) * 32767).astype(np.int16)
        for i in range(0, pcm.shape[1], 1024):
            block = np.ascontiguousarray(pcm[:, i:i + 1024].T).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="stereo")
            frame.sample_rate = 8000
            for f in resampler.resample(frame):
                for packet in audio.encode(f):
                    out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)


# -- bad command-line inputs ------------------------------------------------------------------

def not_duckdb(path: Path) -> Path:
    """A file named like a database that is text."""
    path.write_text("call_id,verdict\nthis is not a database\n", encoding="utf-8")
    return path


def foreign_duckdb(path: Path) -> Path:
    """A real DuckDB file that is not a callqa warehouse (someone else's table, no schema_migrations)."""
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE invoices (id INTEGER, amount DECIMAL(10, 2))")
    con.execute("INSERT INTO invoices VALUES (1, 9.99)")
    con.close()
    return path


def newer_schema(path: Path) -> Path:
    """A warehouse whose schema_migrations holds a version above every migration file here
    (written by a newer callqa)."""
    import duckdb

    from warehouse.migrate import available
    from warehouse.store import Warehouse

    Warehouse(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, 'from_the_future')",
                [max(v for v, _, _ in available()) + 1])
    con.close()
    return path


def nested_json(path: Path, depth: int = 100_000) -> Path:
    """A JSONL row with an array nested deeper than Python's recursion limit."""
    path.write_text('{"role": "collector", "text": "x", "deep": ' + "[" * depth + "]" * depth + "}\n",
                    encoding="utf-8")
    return path


def bad_configs(folder: Path) -> dict[str, Path]:
    """TOML files each wrong in one way: syntax, a value settings validation rejects, an
    unknown key, an unknown section (in brackets, which must survive the error's markup)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"syntax": "[asr\nmodel = ", "batch_size_zero": "[flow]\nbatch_size = 0\n",
             "unknown_key": "[asr]\nmodle = \"base\"\n", "unknown_section": "[nope]\nx = 1\n",
             "wrong_type": "[asr]\nbeam_size = \"five\"\n"}
    for name, text in files.items():
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    return {name: folder / f"{name}.toml" for name in files}


BAD_ENVIRONMENTS = {  # CALLQA_* variables each wrong in one way
    "batch_size_zero": {"CALLQA_FLOW__BATCH_SIZE": "0"},
    "unknown_key": {"CALLQA_NOPE__X": "1"},
    "wrong_type": {"CALLQA_ASR__BEAM_SIZE": "many"},
    "missing_config": {"CALLQA_CONFIG": "/nonexistent/callqa.toml"},
}


def review_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    """A review CSV (``callqa review --import``) in the given encoding (utf-16 writes a BOM)."""
    import csv
    import io

    columns = ["call_id", "finding_id", "verdict", "reviewer", "reviewed_at", "note"]
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """Make a file or folder unwritable for this process, even as root (``chattr +i``; as
    another user ``chmod`` would do); skips the test where neither is possible."""
    done = None
    if shutil.which("chattr"):
        result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        done = "chattr" if result.returncode == 0 else None
    if done is None and os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        done = "chmod"
    if done is None:
        import pytest

        pytest.skip("cannot make a file read-only here (root, and chattr +i unsupported)")
    try:
        yield
    finally:
        if done == "chattr":
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(mode)


@contextlib.contextmanager
def held_by_writer(db: Path) -> Iterator[None]:
    """Another process holds ``db`` open for writing (as a running ``callqa run`` does)."""
    code = ("import duckdb, sys\ncon = duckdb.connect(sys.argv[1])\nprint('ready', flush=True)\n"
            "sys.stdin.read()\ncon.close()\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)

"""Real-time factor of `callqa run` against bare faster-whisper on the same audio and model.

usage: .venv/bin/python bench/run_vs_whisper.py [ARCHIVE] [--threads N]

Bare faster-whisper: the same model folder, device, compute type, threads, beam size, VAD and
word timestamps, each channel of each recording transcribed in turn (the unavoidable work).
`callqa run`: the whole command in a subprocess into a fresh database (Prefect, decoding,
normalisation, analysis, metrics, landing), timed twice: wall clock including Prefect start-up,
and the flow's own run time from the `runs` table. Overhead ratio = run time / bare time.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive", nargs="?", default=str(REPO / "samples" / "calls"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import duckdb
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    from flows.discovery import list_recordings
    from core.settings import load_settings
    from speech.audio import AudioError, decode
    from speech.whisper_models import resolve_model

    cfg = load_settings(environ={})
    s = cfg.asr
    files = []
    for f in list_recordings(Path(args.archive), cfg.archive.patterns):
        try:
            decode(f, cfg.audio)
            files.append(f)
        except AudioError:
            pass
    model = WhisperModel(str(resolve_model(s.model)), device=s.device, compute_type=s.compute_type,
                         cpu_threads=args.threads)
    audio_s = 0.0
    t0 = time.perf_counter()
    for f in files:
        channels = decode_audio(str(f), split_stereo=True)
        if channels[0].shape == channels[1].shape and (channels[0] == channels[1]).all():
            channels = channels[:1]  # a mono file: the pipeline transcribes it once too
        for ch in channels:  # (left, right); a duration is counted once per recording
            segments, info = model.transcribe(ch, language=s.language, beam_size=s.beam_size, word_timestamps=True,
                                              vad_filter=True, condition_on_previous_text=False)
            list(segments)
        audio_s += info.duration
    bare = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        env = dict(os.environ, CALLQA_ASR__CPU_THREADS=str(args.threads), CALLQA_CONFIG=str(REPO / "tests/data/test.toml"))
        t1 = time.perf_counter()
        subprocess.run([str(REPO / ".venv/bin/callqa"), "run", args.archive, "--db", str(db)], check=True,
                       env=env, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t1
        con = duckdb.connect(str(db), read_only=True)
        flow_s = con.execute("SELECT epoch(finished_at - started_at) FROM runs").fetchone()[0]
        n_calls = con.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone()[0]
        con.close()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {args.threads} ASR threads, "
          f"model {s.model} {s.device}/{s.compute_type}, beam {s.beam_size}")
    print(f"recordings: {len(files)} ({n_calls} landed), audio {audio_s:.1f} s")
    print(f"{'path':34s} {'seconds':>8s} {'RTF':>7s} {'audio s / s':>12s}")
    for name, secs in (("bare faster-whisper", bare), ("callqa run (flow run time)", flow_s),
                       ("callqa run (wall, incl. Prefect)", wall)):
        print(f"{name:34s} {secs:8.1f} {secs / audio_s:7.3f} {audio_s / secs:12.1f}")
    print(f"overhead ratio (flow / bare): {flow_s / bare:.3f}")


if __name__ == "__main__":
    main()

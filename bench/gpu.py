"""Real-time factors of the CPU and GPU paths, in one go (for a machine with an NVIDIA GPU).

usage: .venv/bin/python bench/gpu.py [ARCHIVE] [--model base|/path/to/ct2-folder]

For each device available (cpu always; cuda when CTranslate2 sees a GPU) it prints the RTF of
bare faster-whisper (sequential), faster-whisper's batched pipeline, and callqa's own ASR path
(process_recording: decode, normalisation, VAD, ASR, analysis), all on the same recordings.
cuda uses float16, cpu int8.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive", nargs="?", default=str(REPO / "samples" / "calls"))
    ap.add_argument("--model", default="base")
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()

    import ctranslate2
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from flows.discovery import discover
    from core.settings import load_settings
    from flows.recording import process_recording
    from speech.audio import AudioError, decode
    from speech.whisper_models import resolve_model

    folder = str(resolve_model(args.model))
    cfg0 = load_settings(environ={})
    calls, _ = discover(args.archive, cfg0.archive, default_tz=cfg0.compliance.default_timezone)
    channels, good = [], []
    for c in calls:
        try:
            a = decode(c.path, cfg0.audio)
        except AudioError:
            continue
        good.append(c)
        channels.extend(list(a.samples))
    audio_s = sum(ch.size for ch in channels) / 16000 / 2
    devices = ["cpu"] + (["cuda"] if ctranslate2.get_cuda_device_count() > 0 else [])
    print(f"recordings {len(good)}, audio {audio_s:.1f} s (both channels transcribed), model {args.model}")
    print(f"{'device':6s} {'path':28s} {'seconds':>8s} {'RTF':>7s}")
    for device in devices:
        compute = "float16" if device == "cuda" else "int8"
        model = WhisperModel(folder, device=device, compute_type=compute, cpu_threads=2)
        kw = dict(language="zh", beam_size=5, word_timestamps=True, vad_filter=True, condition_on_previous_text=False)
        t = time.perf_counter()
        for ch in channels:
            list(model.transcribe(ch, **kw)[0])
        bare = time.perf_counter() - t
        pipe = BatchedInferencePipeline(model)
        t = time.perf_counter()
        for ch in channels:
            list(pipe.transcribe(ch, batch_size=args.batch_size, **kw)[0])
        batched = time.perf_counter() - t
        cfg = cfg0.with_overrides({"asr.device": device, "asr.compute_type": compute, "asr.model": args.model,
                                   "asr.batched": device == "cuda", "asr.batch_size": args.batch_size})
        process_recording(good[0], cfg)  # load once
        t = time.perf_counter()
        for c in good:
            process_recording(c, cfg)
        ours = time.perf_counter() - t
        for name, secs in (("bare faster-whisper", bare), ("batched pipeline", batched), ("callqa process_recording", ours)):
            print(f"{device:6s} {name:28s} {secs:8.1f} {secs / audio_s:7.3f}")


if __name__ == "__main__":
    main()

"""Diarization benchmark: DER (pyannote.metrics) and real-time factor per recording.

Recordings: shared data/audio/diarization (sample.wav, dev00, dev01; 16 kHz) at 16 kHz and
as telephone-band 8 kHz versions (resampled down; diarize() resamples back up), and the
mono mixes of the scripted calls (data/calls/*.mono.wav, native 8 kHz) against their RTTM.
DER is reported with pyannote.metrics ``collar=0`` and ``collar=0.25`` (pyannote's collar is
the total width, i.e. +-0.125 s around each reference boundary), overlap scored.
RTF = diarization wall time / audio duration, pipeline loading excluded (reported once); the
machine may be shared, so CPU seconds per audio second are printed too. "mix3" is call 03
followed by part of call 01 (three voices), diarized with 2 or 3 speakers allowed.

    .venv/bin/python bench/diarization.py [--pipeline DIR] [--step 0.1] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from speech import pyannote_backend as backend  # noqa: E402
from speech.diarization import diarize  # noqa: E402


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 audio and its rate (int16 or float WAV; channels averaged)."""
    from scipy.io import wavfile

    sr, data = wavfile.read(path)
    if data.dtype.kind in "iu":
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    data = data.astype(np.float32)
    return (data.mean(axis=1) if data.ndim == 2 else data), int(sr)


def resample(audio: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return audio
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(audio), sr, target).numpy()


def load_rttm(path: Path) -> dict:
    from pyannote.core import Annotation, Segment

    out: dict[str, Annotation] = {}
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) < 8 or f[0] != "SPEAKER":
            continue
        start, dur = float(f[3]), float(f[4])
        out.setdefault(f[1], Annotation(uri=f[1]))[Segment(start, start + dur)] = f[7]
    return out


def machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch

    return (f"{cpu}, {os.cpu_count()} cores visible, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), python {platform.python_version()}")


def cases(shared: Path) -> list[tuple[str, str, np.ndarray, int, object]]:
    rows = []
    diar = shared / "audio" / "diarization"
    refs = {}
    for rttm in sorted(diar.glob("*.rttm")):
        refs.update(load_rttm(rttm))
    for wav in sorted(diar.glob("*.wav")):
        if wav.stem not in refs:
            continue
        audio, sr = read_wav(wav)
        rows.append((wav.stem, "16k", resample(audio, sr, 16000), 16000, refs[wav.stem]))
        rows.append((wav.stem, "8k", resample(audio, sr, 8000), 8000, refs[wav.stem]))
    for wav in sorted((shared / "calls").glob("*.mono.wav")):
        call = wav.name.removesuffix(".mono.wav")
        ref = load_rttm(wav.with_name(call + ".rttm"))[call]
        audio, sr = read_wav(wav)
        rows.append((call, f"{sr // 1000}k", audio, sr, ref))
    # three voices: call 03 (collector + the debtor's mother) then 21.5 s of call 01 (+ debtor)
    calls = shared / "calls"
    if (calls / "dev_call_03.mono.wav").is_file() and (calls / "dev_call_01.mono.wav").is_file():
        from pyannote.core import Segment

        a, sr = read_wav(calls / "dev_call_03.mono.wav")
        b, _ = read_wav(calls / "dev_call_01.mono.wav")
        ref = load_rttm(calls / "dev_call_03.rttm")["dev_call_03"].copy()
        offset = len(a) / sr
        for seg, _, label in load_rttm(calls / "dev_call_01.rttm")["dev_call_01"].itertracks(yield_label=True):
            if seg.end < 21.5:
                ref[Segment(seg.start + offset, seg.end + offset)] = label
        rows.append(("mix3 (2-3)", f"{sr // 1000}k", np.concatenate([a, b[: int(21.5 * sr)]]), sr, ref))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="diarization DER / RTF benchmark")
    parser.add_argument("--shared", type=Path, default=Path(os.environ.get("CALLQA_SHARED", REPO.parent / "shared")) / "data")
    parser.add_argument("--pipeline", default=None, help="pipeline folder (default: embedded)")
    parser.add_argument("--step", type=float, default=None, help="override segmentation step (ratio)")
    parser.add_argument("--seg-threshold", type=float, default=None)
    parser.add_argument("--clu-threshold", type=float, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--third-voice", action="store_true", help="min 2 / max 3 speakers instead of exactly 2")
    parser.add_argument("--only", default=None, help="substring filter on recording names")
    args = parser.parse_args()

    import torch
    from pyannote.metrics.diarization import DiarizationErrorRate

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    pipeline = backend.load_pipeline(args.pipeline)
    load_s = time.perf_counter() - started
    if args.step is not None:
        pipeline._segmentation.step = args.step * pipeline._segmentation.duration
    params = pipeline.parameters(instantiated=True)
    if args.seg_threshold is not None:
        params["segmentation"]["threshold"] = args.seg_threshold
    if args.clu_threshold is not None:
        params["clustering"]["threshold"] = args.clu_threshold
    pipeline.instantiate(params)

    import warnings

    warnings.filterwarnings("ignore", module="pyannote")
    print(f"machine: {machine()}")
    print(f"pipeline: {args.pipeline or backend.default_pipeline_dir()} (loaded in {load_s:.1f}s), "
          f"step {pipeline._segmentation.step:.2f}s, params {params}")
    print(f"speakers: {'2 or 3' if args.third_voice else 'exactly 2 (references have 2)'}; mix3 always 2 or 3;"
          " CPU/s = process CPU seconds per audio second (RTF is wall time)", flush=True)
    header = f"{'recording':<14}{'rate':>5}{'dur s':>7}{'DER c0':>8}{'DER c.25':>9}{'RTF':>6}{'CPU/s':>6}{'spk':>4}"
    print(header)
    print("-" * len(header))
    totals: dict[str, list[float]] = {}
    for name, rate, audio, sr, ref in cases(args.shared):
        if args.only and args.only not in name:
            continue
        third = args.third_voice or name.startswith("mix3")
        kw = {"num_speakers": 2, "max_speakers": 3} if third else {"num_speakers": 2}
        t0, c0 = time.perf_counter(), time.process_time()
        turns = diarize(audio, sr, pipeline_dir=args.pipeline, **kw)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        from pyannote.core import Annotation, Segment

        dur = len(audio) / sr
        hyp = Annotation(uri=name)
        for t in turns:
            hyp[Segment(t.start, t.end)] = t.speaker
        uem = Segment(0.0, dur)
        der0 = DiarizationErrorRate(collar=0.0)(ref, hyp, uem=uem)
        der25 = DiarizationErrorRate(collar=0.25)(ref, hyp, uem=uem)
        group = "audio/diarization" if name.startswith(("sample", "dev0")) else "calls"
        totals.setdefault(f"{group} {rate}", []).extend([der0, der25, elapsed / dur, cpu / dur])
        print(f"{name:<14}{rate:>5}{dur:>7.1f}{der0:>8.1%}{der25:>9.1%}{elapsed / dur:>6.2f}{cpu / dur:>6.2f}"
              f"{len(hyp.labels()):>4}", flush=True)
    print("-" * len(header))
    for key, vals in totals.items():
        arr = np.array(vals).reshape(-1, 4).mean(axis=0)
        print(f"mean {key:<21}{arr[0]:>8.1%}{arr[1]:>9.1%}{arr[2]:>6.2f}{arr[3]:>6.2f}")


if __name__ == "__main__":
    main()

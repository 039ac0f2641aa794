"""Diarization benchmark: DER (pyannote.metrics), its parts and real-time factor per recording.

Recordings: shared data/audio/diarization (sample.wav, dev00, dev01; 16 kHz) at 16 kHz and
as telephone-band 8 kHz versions (resampled down; diarize() resamples back up), and scripted
calls: every ``<id>.json`` + ``<id>.rttm`` in a call folder, diarized from ``<id>.mono.wav``
or, without one, from ``<id>.stereo.flac``/``.stereo.wav`` with its channels summed and peak
normalised to -1 dBFS (as tools/synth_calls.py makes the mono mixes), at the file's own rate.
Default call folders: shared data/calls and tests/data/calls_outcomes (the dev calls);
``--calls DIR ...`` names others instead (and skips the clips and mix3).

Per recording: DER with ``collar=0`` and ``collar=0.25`` (pyannote's collar is the total
width, i.e. +-0.125 s around each reference boundary), overlap scored; at collar 0 its parts
as a share of reference speech: missed speech, false alarm, speaker confusion. With
``--where`` each part is also split by where it happens (seconds): in reference overlap,
within 0.25 s of a reference turn boundary, inside a reference turn shorter than 1 s, in the
rest of a turn ("inside"), or in silence away from any boundary. RTF = diarization wall time
/ audio duration (pipeline loading excluded, reported once); CPU seconds per audio second
too, as the machine may be shared. "mix3" is call 03 followed by part of call 01 (three
voices), diarized with 2 or 3 speakers allowed.

    .venv/bin/python bench/diarization.py [--calls DIR ...] [--where] [--set FIELD=VALUE ...]
        [--cache DIR] [--pipeline DIR] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.settings import AudioSettings, DiarizationSettings  # noqa: E402
from speech import pyannote_backend as backend  # noqa: E402
from speech.audio import decode  # noqa: E402
from speech.diarization import diarize  # noqa: E402

FRAME = 0.01          # seconds per frame of the error breakdown
NEAR = 0.25           # "near a boundary": within this many seconds of a reference turn edge
SHORT = 1.0           # "short turn": a reference turn shorter than this
PLACES = ("overlap", "boundary", "short turn", "inside", "silence")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 audio and its rate (int16 or float WAV; channels averaged)."""
    from scipy.io import wavfile

    sr, data = wavfile.read(path)
    if data.dtype.kind in "iu":
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    data = data.astype(np.float32)
    return (data.mean(axis=1) if data.ndim == 2 else data), int(sr)


def mono_mix(path: Path) -> tuple[np.ndarray, int]:
    """The channels of a stereo call summed, peak at -1 dBFS (tools/synth_calls.py), native rate."""
    import av

    with av.open(str(path)) as container:
        rate = int(container.streams.audio[0].codec_context.sample_rate)
    audio = decode(path, AudioSettings(sample_rate=rate))
    mono = audio.samples.sum(axis=0)
    mono *= min(1.0, 10 ** (-1 / 20) / max(float(np.abs(mono).max()), 1e-9))
    return mono.astype(np.float32), rate


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


def clip_cases(shared: Path) -> list[tuple[str, str, np.ndarray, int, object]]:
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
    return rows


def call_cases(folder: Path) -> list[tuple[str, str, np.ndarray, int, object]]:
    """Every call in ``folder`` with ground truth (json + rttm) and mono or stereo audio."""
    rows = []
    for truth in sorted(folder.glob("*.json")):
        call = truth.stem
        rttm = folder / f"{call}.rttm"
        if not rttm.is_file():
            continue
        mono = folder / f"{call}.mono.wav"
        stereo = next((p for p in (folder / f"{call}.stereo.flac", folder / f"{call}.stereo.wav") if p.is_file()), None)
        if mono.is_file():
            audio, sr = read_wav(mono)
        elif stereo is not None:
            audio, sr = mono_mix(stereo)
        else:
            continue
        rows.append((call, f"{sr // 1000}k", audio, sr, load_rttm(rttm)[call]))
    return rows


def mix3_case(calls: Path) -> list[tuple[str, str, np.ndarray, int, object]]:
    """Call 03 (collector + the debtor's mother) then 21.5 s of call 01 (+ debtor): three voices."""
    if not ((calls / "dev_call_03.mono.wav").is_file() and (calls / "dev_call_01.mono.wav").is_file()):
        return []
    from pyannote.core import Segment

    a, sr = read_wav(calls / "dev_call_03.mono.wav")
    b, _ = read_wav(calls / "dev_call_01.mono.wav")
    ref = load_rttm(calls / "dev_call_03.rttm")["dev_call_03"].copy()
    offset = len(a) / sr
    for seg, _, label in load_rttm(calls / "dev_call_01.rttm")["dev_call_01"].itertracks(yield_label=True):
        if seg.end < 21.5:
            ref[Segment(seg.start + offset, seg.end + offset)] = label
    return [("mix3 (2-3)", f"{sr // 1000}k", np.concatenate([a, b[: int(21.5 * sr)]]), sr, ref)]


def settings_values(items: list[str]) -> dict[str, list]:
    """``["FIELD=v1,v2", ...]`` -> {field: [values as the DiarizationSettings field's type]}."""
    kinds = {f.name: str(f.type) for f in fields(DiarizationSettings)}
    out = {}
    for item in items:
        key, _, values = item.partition("=")
        if key not in kinds:
            raise SystemExit(f"{key} is not a DiarizationSettings field ({', '.join(kinds)})")
        out[key] = [{"float": float, "int": int}.get(kinds[key], str)(v) for v in values.split(",")]
    return out


def breakdown(ref, hyp, duration: float) -> dict[str, dict[str, float]]:
    """Seconds of missed speech / false alarm / confusion per place (see module doc), collar 0.

    Frame-level (10 ms) version of pyannote's DER after its optimal speaker mapping; its
    totals match DiarizationErrorRate(collar=0) up to frame rounding.
    """
    from pyannote.metrics.diarization import DiarizationErrorRate

    mapping = DiarizationErrorRate().optimal_mapping(ref, hyp)
    hyp = hyp.rename_labels(mapping={k: mapping.get(k, f"__extra_{k}") for k in hyp.labels()})
    n = int(np.ceil(duration / FRAME))
    t = (np.arange(n) + 0.5) * FRAME
    labels = sorted(set(ref.labels()) | set(hyp.labels()))
    r = np.zeros((n, len(labels)), bool)
    h = np.zeros((n, len(labels)), bool)
    short = np.zeros(n, bool)
    edges = []
    for ann, arr in ((ref, r), (hyp, h)):
        for seg, _, lbl in ann.itertracks(yield_label=True):
            sl = slice(int(round(seg.start / FRAME)), int(round(seg.end / FRAME)))
            arr[sl, labels.index(lbl)] = True
            if ann is ref:
                edges += [seg.start, seg.end]
                if seg.duration < SHORT:
                    short[sl] = True
    n_ref, n_hyp, n_ok = r.sum(1), h.sum(1), (r & h).sum(1)
    parts = {"missed": np.maximum(n_ref - n_hyp, 0), "false alarm": np.maximum(n_hyp - n_ref, 0),
             "confusion": np.minimum(n_ref, n_hyp) - n_ok}
    edges_arr = np.sort(np.asarray(edges)) if edges else np.asarray([np.inf])
    pos = np.clip(np.searchsorted(edges_arr, t), 1, len(edges_arr) - 1) if len(edges_arr) > 1 else np.zeros(n, int)
    dist = np.minimum(np.abs(t - edges_arr[pos - 1]), np.abs(t - edges_arr[pos])) if len(edges_arr) > 1 \
        else np.abs(t - edges_arr[0])
    place = np.full(n, "inside", dtype=object)
    place[n_ref == 0] = "silence"
    place[short] = "short turn"
    place[dist <= NEAR] = "boundary"
    place[n_ref >= 2] = "overlap"
    return {kind: {p: float(v[place == p].sum() * FRAME) for p in PLACES} for kind, v in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="diarization DER / RTF benchmark")
    parser.add_argument("--shared", type=Path, default=Path(os.environ.get("CALLQA_SHARED", REPO.parent / "shared")) / "data")
    parser.add_argument("--calls", type=Path, nargs="+", default=None,
                        help="call folders (json + rttm + mono.wav or stereo.flac/wav); default: the dev calls")
    parser.add_argument("--no-clips", action="store_true", help="skip the pyannote clips and mix3")
    parser.add_argument("--where", action="store_true", help="split missed / false alarm / confusion by place")
    parser.add_argument("--pipeline", default=None, help="pipeline folder (default: embedded)")
    parser.add_argument("--step", type=float, default=None, help="override segmentation step (ratio)")
    parser.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE",
                        help="DiarizationSettings values, e.g. --set snap_max_shift_s=0 island_max_s=0")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--third-voice", action="store_true", help="min 2 / max 3 speakers instead of exactly 2")
    parser.add_argument("--only", default=None, help="substring filter on recording names")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep network outputs per recording in this folder and reuse them (RTF then "
                             "counts clustering only)")
    args = parser.parse_args()

    import torch
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    torch.set_num_threads(args.threads)
    settings = DiarizationSettings(pipeline_dir=args.pipeline or "",
                                   **{k: v[0] for k, v in settings_values(args.set).items()})
    started = time.perf_counter()
    pipeline = backend.load_pipeline(args.pipeline)
    load_s = time.perf_counter() - started
    if args.step is not None:
        pipeline._segmentation.step = args.step * pipeline._segmentation.duration
    params = pipeline.parameters(instantiated=True)  # as loaded; diarize() sets the settings' values

    import warnings

    warnings.filterwarnings("ignore", module="pyannote")
    print(f"machine: {machine()}")
    print(f"pipeline: {args.pipeline or backend.default_pipeline_dir()} (loaded in {load_s:.1f}s), "
          f"step {pipeline._segmentation.step:.2f}s, params {params}, settings {settings}")
    print(f"speakers: {'2 or 3' if args.third_voice else 'exactly 2 (references have 2)'}; mix3 always 2 or 3;"
          " miss/FA/conf: DER parts at collar 0; CPU/s = process CPU seconds per audio second (RTF is wall time)",
          flush=True)
    folders = args.calls or [args.shared / "calls", REPO / "tests" / "data" / "calls_outcomes"]
    rows = [] if (args.calls or args.no_clips) else clip_cases(args.shared)
    for folder in folders:
        rows += [(folder.name, *row) for row in call_cases(folder)]
    rows = [r if len(r) == 6 else ("audio/diarization", *r) for r in rows]
    if not (args.calls or args.no_clips):
        rows += [(f"{args.shared.name}/calls", *row) for row in mix3_case(args.shared / "calls")]
    header = (f"{'recording':<16}{'rate':>5}{'dur s':>7}{'DER c0':>8}{'DER c.25':>9}{'miss':>7}{'FA':>7}"
              f"{'conf':>7}{'RTF':>6}{'CPU/s':>6}{'spk':>4}")
    print(header)
    print("-" * len(header))
    totals: dict[str, list[list[float]]] = {}
    where: dict[str, dict[str, float]] = {k: dict.fromkeys(PLACES, 0.0) for k in ("missed", "false alarm", "confusion")}
    details = []
    for group, name, rate, audio, sr, ref in rows:
        if args.only and args.only not in name:
            continue
        third = args.third_voice or name.startswith("mix3")
        run = replace(settings, max_speakers=3) if third else settings
        cache_file = args.cache / f"{name}-{rate}.pkl" if args.cache else None
        cache = pickle.loads(cache_file.read_bytes()) if cache_file and cache_file.is_file() else None
        if args.cache and cache is None:
            cache = {}
        t0, c0 = time.perf_counter(), time.process_time()
        turns = diarize(audio, sr, run, **({"cache": cache} if args.cache else {}))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        if cache_file:
            args.cache.mkdir(parents=True, exist_ok=True)
            cache_file.write_bytes(pickle.dumps(cache))
        dur = len(audio) / sr
        hyp = Annotation(uri=name)
        for t in turns:
            hyp[Segment(t.start, t.end)] = t.speaker
        uem = Segment(0.0, dur)
        metric = DiarizationErrorRate(collar=0.0)
        parts = metric(ref, hyp, uem=uem, detailed=True)
        der0 = parts["diarization error rate"]
        der25 = DiarizationErrorRate(collar=0.25)(ref, hyp, uem=uem)
        total = parts["total"]
        miss, fa, conf = (parts[k] / total for k in ("missed detection", "false alarm", "confusion"))
        totals.setdefault(f"{group} {rate}", []).append([der0, der25, miss, fa, conf, elapsed / dur, cpu / dur])
        print(f"{name:<16}{rate:>5}{dur:>7.1f}{der0:>8.1%}{der25:>9.1%}{miss:>7.1%}{fa:>7.1%}{conf:>7.1%}"
              f"{elapsed / dur:>6.2f}{cpu / dur:>6.2f}{len(hyp.labels()):>4}", flush=True)
        if args.where:
            split = breakdown(ref, hyp, dur)
            details.append((name, total, split))
            for kind, by_place in split.items():
                for p, s in by_place.items():
                    where[kind][p] += s
    print("-" * len(header))
    for key, vals in totals.items():
        arr = np.array(vals)
        mean = arr.mean(axis=0)
        print(f"mean {key:<23}{mean[0]:>8.1%}{mean[1]:>9.1%}{mean[2]:>7.1%}{mean[3]:>7.1%}{mean[4]:>7.1%}"
              f"{mean[5]:>6.2f}{mean[6]:>6.2f}   (max DER c0 {arr[:, 0].max():.1%}, "
              f"{int((arr[:, 0] > 0.08).sum())} of {len(arr)} above 8 %)")
    if args.where:
        print(f"\nwhere the errors are (seconds, collar 0; boundary = within {NEAR} s of a reference turn edge,"
              f" short turn = inside a reference turn < {SHORT} s)")
        head = f"{'recording':<16}{'error':<13}" + "".join(f"{p:>11}" for p in PLACES) + f"{'total':>9}"
        print(head)
        print("-" * len(head))
        for name, total, split in details + [("all", 0.0, where)]:
            for kind, by_place in split.items():
                if sum(by_place.values()) < 0.005 and name != "all":
                    continue
                print(f"{name:<16}{kind:<13}" + "".join(f"{by_place[p]:>11.2f}" for p in PLACES)
                      + f"{sum(by_place.values()):>9.2f}")


if __name__ == "__main__":
    main()

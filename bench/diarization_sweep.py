"""Sweep DiarizationSettings values on the dev calls; DER (collar 0 and 0.25) per setting.

Tuning aid for bench/README.md "Mono diarization at 8 kHz": the segmentation and embedding
networks run once per call and setting of ``segmentation_threshold`` (their outputs are kept in
a pickle under ``--cache``), so each further setting only re-clusters and post-processes.
Run it on dev calls only, never on a blind set.

    .venv/bin/python bench/diarization_sweep.py --grid clustering_threshold=0.4,0.5,0.6 \\
        snap_max_shift_s=0,0.3 [--calls DIR ...] [--cache /tmp/diar-sweep]
"""
from __future__ import annotations

import argparse
import itertools
import pickle
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from core.settings import DiarizationSettings  # noqa: E402
from diarization import call_cases, settings_values  # noqa: E402  (bench/diarization.py)
from speech.diarization import diarize  # noqa: E402


def parse_grid(items: list[str]) -> list[dict]:
    axes = [[(key, v) for v in values] for key, values in settings_values(items).items()]
    return [dict(combo) for combo in itertools.product(*axes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=Path, nargs="+",
                        default=[REPO.parent / "shared" / "data" / "calls", REPO / "tests" / "data" / "calls_outcomes"])
    parser.add_argument("--grid", nargs="+", default=[], help="FIELD=v1,v2 ... (DiarizationSettings fields)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/diar-cache"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = [row for folder in args.calls for row in call_cases(folder)]
    names = [r[0] for r in rows]
    print("calls:", " ".join(names))
    print(f"{'setting':<60}{'mean c0':>8}{'max c0':>8}{'>8%':>4}{'mean c.25':>10}  per call c0", flush=True)
    results = []
    for combo in parse_grid(args.grid) or [{}]:
        settings = replace(DiarizationSettings(), **combo)
        t0 = time.perf_counter()
        der0, der25 = [], []
        for name, rate, audio, sr, ref in rows:
            path = args.cache / f"{name}-{rate}.pkl"
            cache = pickle.loads(path.read_bytes()) if path.is_file() else {}
            turns = diarize(audio, sr, settings, cache=cache)
            path.write_bytes(pickle.dumps(cache))
            hyp = Annotation(uri=name)
            for t in turns:
                hyp[Segment(t.start, t.end)] = t.speaker
            uem = Segment(0.0, len(audio) / sr)
            der0.append(DiarizationErrorRate(collar=0.0)(ref, hyp, uem=uem))
            der25.append(DiarizationErrorRate(collar=0.25)(ref, hyp, uem=uem))
        d0 = np.array(der0)
        label = " ".join(f"{k}={v}" for k, v in combo.items()) or "defaults"
        results.append((d0.max(), d0.mean(), label))
        print(f"{label:<60}{d0.mean():>8.1%}{d0.max():>8.1%}{int((d0 > 0.08).sum()):>4}{np.mean(der25):>10.1%}  "
              + " ".join(f"{v:.1%}" for v in d0) + f"  ({time.perf_counter() - t0:.0f}s)", flush=True)
    print("\nbest (max, then mean DER c0):")
    for mx, mean, label in sorted(results)[:5]:
        print(f"  {mx:.1%} / {mean:.1%}  {label}")


if __name__ == "__main__":
    main()

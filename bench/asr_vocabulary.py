"""ASR domain vocabulary: CER per call and overall for each ``asr.vocabulary_mode``, on scripted
calls, on real speech, and what Whisper writes on silence and line noise.

usage: .venv/bin/python bench/asr_vocabulary.py [CALLS_DIR ...] [--modes off,hotwords,prompt]
           [--audio stereo|mono] [--no-real] [--no-noise] [--no-asr-fixes] [--labels]
           [--cache DIR] [--set KEY=VALUE ...]

- Calls (default ../shared/data/calls and tests/data/calls_outcomes, i.e. the dev calls): each
  call runs through flows.recording.process_recording with the mode set, and is scored by
  bench/calls_e2e.py's Tally (same CER: all turns vs all utterances, punctuation ignored; same
  label P/R/F1). ``--labels`` prints the whole label table per mode; ``--no-asr-fixes`` runs
  the detectors without analysis/rules/asr_fixes.yaml (to see which labels the fixes still
  win), and prints how often each fix fires on the transcripts.
- Real speech: tests/data/audio (AISHELL-1 and WenetSpeech clips) against transcripts.txt,
  decoded and gain-normalised as the pipeline does, as recorded and through an 8 kHz line.
- Silence and noise (generated, seeded): digital silence, -60 dBFS RMS telephone-band noise,
  and 50 Hz mains hum harmonics over band-limited noise. Whisper is run on each (after the
  pipeline's gain normalisation) even where the pipeline would skip the channel as silent
  (printed); any text, and any vocabulary term, it writes is counted.
- RTF: ASR seconds / audio seconds per mode, from the runs that filled the cache.

Transcripts are cached per (channel samples, mode, vocabulary, ASR settings) under --cache
(default /tmp/asr-vocab-cache), with the seconds their transcription took, so reruns are cheap.
"""
from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.calls_e2e import DEFAULT_CALLS, LABELS, SCORING, Tally, call_of, truth_files  # noqa: E402

RATE = 16000


def cached_transcriber(asr_settings, cache: Path, clock: dict[str, float]):
    """A real Transcriber whose results are kept on disk per input and settings; ``clock``
    gathers ASR seconds and audio seconds of the inputs actually transcribed."""
    from speech.asr import Transcriber, vocabulary_options

    tag = repr((settings_key(asr_settings), vocabulary_options(asr_settings))).encode()

    class Cached(Transcriber):
        def recognise(self, samples: np.ndarray):
            key = hashlib.sha256(tag + np.ascontiguousarray(samples, dtype=np.float32).tobytes()).hexdigest()
            path = cache / f"{key}.pkl"
            if path.is_file():
                words, seconds = pickle.loads(path.read_bytes())
            else:
                t0 = time.perf_counter()
                words = super().recognise(samples)
                seconds = time.perf_counter() - t0
                cache.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(pickle.dumps((words, seconds)))
                tmp.replace(path)
            clock["asr_s"] = clock.get("asr_s", 0.0) + seconds
            clock["audio_s"] = clock.get("audio_s", 0.0) + len(samples) / RATE
            return words

    return Cached(asr_settings)


def parse_override(item: str) -> tuple[str, object]:
    """``asr.beam_size=8`` as (key, value), the value read as a TOML scalar.

    Raises:
        tomllib.TOMLDecodeError: the value is not one.
    """
    import tomllib

    key, _, value = item.partition("=")
    return key.strip(), tomllib.loads(f"v = {value.strip()}")["v"]


def settings_key(asr_settings) -> str:
    """``repr(asr_settings)`` without the fields added in round 2 while they hold their default
    (2026-11-29 values), so transcripts cached before they existed stay valid, and without the
    term correction's and homophone correction's fields and ``recover_min_s`` (applied after
    ``recognise``, so not part of what is cached)."""
    import dataclasses

    from core.settings import AsrSettings

    old = {"patience": 1.0, "best_of": 5, "temperature_step": 0.2, "repetition_penalty": 1.0,
           "no_repeat_ngram_size": 0, "condition_on_previous_text": False, "hallucination_silence_s": 2.0,
           "rescore_hypotheses": 1, "rescore_weight": 0.3, "fusion_weight": 0.0, "fusion_bonus": 0.0}
    shown = [f"{f.name}={getattr(asr_settings, f.name)!r}" for f in dataclasses.fields(AsrSettings)
             if not (f.name in old and getattr(asr_settings, f.name) == old[f.name])
             and not f.name.startswith(("correction", "homophone")) and f.name != "recover_min_s"]
    return f"AsrSettings({', '.join(shown)})"


def settings_for(mode: str):
    from core.settings import load_settings

    return load_settings(environ={}).with_overrides({**EXTRA, "asr.vocabulary_mode": mode, **SCORING})


def use_transcriber(settings, transcriber) -> None:
    """Make the pipeline (flows.recording.transcriber_for) use ``transcriber`` for these settings."""
    from speech import asr

    asr._cache[settings.asr] = transcriber


def noise_clips(seed: int = 20261129) -> dict[str, np.ndarray]:
    """Silence and line noise, 16 kHz float32, seeded."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(seed)
    band = butter(6, [300, 3400], btype="bandpass", fs=RATE, output="sos")

    def at_dbfs(x: np.ndarray, level: float) -> np.ndarray:
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        return (x * (10 ** (level / 20) / rms)).astype(np.float32)

    n45, n60 = 45 * RATE, 60 * RATE
    t = np.arange(n60) / RATE
    hum = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) / k for k, f in enumerate((50, 150, 250, 350, 450), 1))
    return {
        "digital silence 30 s": np.zeros(30 * RATE, dtype=np.float32),
        "band noise -60 dBFS 45 s": at_dbfs(sosfilt(band, rng.standard_normal(n45)), -60.0),
        "hum + noise -45 dBFS 60 s": at_dbfs(at_dbfs(hum, -48.0) + at_dbfs(sosfilt(band, rng.standard_normal(n60)), -50.0), -45.0),
    }


def run_calls(dirs: list[str], modes: list[str], audio: str, cache: Path, show_labels: bool) -> None:
    from flows.recording import process_recording

    calls = truth_files(dirs, audio)
    per_call: dict[str, dict[str, tuple[float, float]]] = {}
    tallies: dict[str, Tally] = {}
    clocks: dict[str, dict[str, float]] = {}
    fired: dict[str, dict[str, int]] = {}
    for mode in modes:
        settings = settings_for(mode)
        clocks[mode] = {}
        use_transcriber(settings, cached_transcriber(settings.asr, cache, clocks[mode]))
        tally = tallies[mode] = Tally()
        fired[mode] = {}
        for truth, path in calls:
            result = process_recording(call_of(truth, path), settings)
            e, n, roles = tally.add(truth, result)
            per_call.setdefault(truth["call_id"], {})[mode] = (e / max(n, 1), roles)
            count_fixes(result.utterances, fired[mode])
    print(f"\n## Calls ({audio}, {len(calls)} calls from {', '.join(dirs)})\n")
    print(f"{'call (CER, roles)':18s}" + "".join(f"{m:>18s}" for m in modes))
    for call_id, row in per_call.items():
        print(f"{call_id:18s}" + "".join(f"{row[m][0]:10.1%}{row[m][1]:8.1%}" for m in modes))
    print(f"{'overall CER':18s}" + "".join(f"{tallies[m].cer():10.1%}{'':8s}" for m in modes))
    print(f"{'ASR RTF':18s}" + "".join(f"{clocks[m]['asr_s'] / max(clocks[m]['audio_s'], 1e-9):10.3f}" for m in modes)
          + "   (seconds of the runs that filled the cache)")
    print(f"\nlabel recall (found / reference turns), {'without' if NO_FIXES else 'with'} asr_fixes.yaml")
    print(f"{'label':22s}" + "".join(f"{m:>10s}" for m in modes))
    for lab in LABELS:
        cells = [f"{tallies[m].tp[lab]}/{tallies[m].tp[lab] + tallies[m].fn[lab]}" for m in modes]
        print(f"{lab:22s}" + "".join(f"{c:>10s}" for c in cells))
    print(f"{'false labels':22s}" + "".join(f"{sum(tallies[m].fp[k] for k in LABELS):>10d}" for m in modes))
    if not NO_FIXES:
        print("\nasr_fixes.yaml rules that fire on the transcripts (utterances changed):")
        for pattern in sorted({p for m in modes for p in fired[m]}):
            print(f"  {pattern[:60]:60s}" + "".join(f" {m}={fired[m].get(pattern, 0)}" for m in modes))
    if show_labels:
        for mode in modes:
            print(f"\n### {mode}")
            tallies[mode].print_summary()


def count_fixes(utterances, into: dict[str, int]) -> None:
    """How many utterances each asr_fixes rule changes (on the detectors' normalised view)."""
    from analysis.normalize import _asr_fixes

    for u in utterances:
        text = u.text or ""
        for pattern, repl in _asr_fixes():
            if pattern.search(text):
                into[pattern.pattern] = into.get(pattern.pattern, 0) + 1


def run_real(modes: list[str], cache: Path) -> None:
    from core.settings import load_settings
    from speech.audio import decode
    from speech.pipeline import prepare_channel
    from speech.text import character_error_rate

    audio_dir = REPO / "tests" / "data" / "audio"
    refs = dict(line.split(maxsplit=1) for line in (audio_dir / "transcripts.txt").read_text(encoding="utf-8").splitlines()
                if line.strip())
    audio_settings = load_settings(environ={}).audio
    print("\n## Real speech (tests/data/audio)\n")
    print(f"{'clip':42s}" + "".join(f"{m:>10s}" for m in modes))
    totals = {m: [0, 0] for m in modes}
    texts: dict[str, dict[str, str]] = {}
    from scipy.signal import resample_poly

    clips = []
    for clip, ref in sorted(refs.items()):
        decoded = decode(audio_dir / f"{clip}.wav", audio_settings)
        mono = decoded.samples.mean(axis=0).astype(np.float32)
        clips.append((clip, ref, mono))  # and the same through an 8 kHz telephone line, as the calls are:
        clips.append((f"{clip} @8kHz", ref, resample_poly(resample_poly(mono, 1, 2), 2, 1).astype(np.float32)))
    for clip, ref, mono in clips:
        samples = prepare_channel(mono, audio_settings).samples   # ASR runs on every clip
        row = []
        for mode in modes:
            settings = settings_for(mode)
            words = cached_transcriber(settings.asr, cache, {}).transcribe(samples)
            e, n = character_error_rate(ref.replace(" ", ""), "".join(w.text for w in words))
            totals[mode][0] += e
            totals[mode][1] += n
            row.append(f"{e}/{n}")
            texts.setdefault(clip, {})[mode] = "".join(w.text for w in words)
        print(f"{clip[:42]:42s}" + "".join(f"{c:>10s}" for c in row))
    print(f"{'CER (edits / reference characters)':42s}" + "".join(f"{totals[m][0] / max(totals[m][1], 1):10.1%}" for m in modes))
    for clip, by_mode in texts.items():  # public corpus sentences, not call data
        for mode, text in by_mode.items():
            print(f"  {clip[:20]} {mode:9s} {text}")


def run_noise(modes: list[str], cache: Path) -> None:
    from core.settings import load_settings, vocabulary_terms
    from speech.pipeline import prepare_channel

    cfg = load_settings(environ={})
    terms = vocabulary_terms(cfg.asr.vocabulary)
    print("\n## Silence and noise (generated, seeded): characters written / vocabulary terms among them\n")
    print(f"{'clip':28s} {'pipeline':>9s}" + "".join(f"{m:>12s}" for m in modes))
    for name, clip in noise_clips().items():
        prepared = prepare_channel(clip, cfg.audio)
        cells, outputs = [], []
        for mode in modes:
            words = cached_transcriber(settings_for(mode).asr, cache, {}).transcribe(prepared.samples)
            text = "".join(w.text for w in words)
            cells.append(f"{len(text)} / {sum(text.count(t) for t in terms)}")
            if text:
                outputs.append(f"  {mode}: {text}")
        print(f"{name:28s} {'skips' if prepared.silent else 'runs ASR':>9s}" + "".join(f"{c:>12s}" for c in cells))
        for line in outputs:
            print(line)


NO_FIXES = False
EXTRA: dict = {}   # --set overrides, applied to every mode


def main() -> None:
    global NO_FIXES
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("calls", nargs="*", default=DEFAULT_CALLS)
    ap.add_argument("--modes", default="off,hotwords,prompt")
    ap.add_argument("--audio", choices=("stereo", "mono"), default="stereo")
    ap.add_argument("--no-real", action="store_true", help="skip the real-speech clips")
    ap.add_argument("--no-noise", action="store_true", help="skip the silence and noise clips")
    ap.add_argument("--no-calls", action="store_true", help="skip the scripted calls")
    ap.add_argument("--no-asr-fixes", action="store_true", help="detectors without analysis/rules/asr_fixes.yaml")
    ap.add_argument("--labels", action="store_true", help="print the whole label table per mode")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/asr-vocab-cache"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a settings override for every mode, e.g. asr.vad_speech_pad_ms=400 (TOML value)")
    args = ap.parse_args()
    import tomllib

    for item in args.set:
        try:
            key, value = parse_override(item)
            EXTRA[key] = value
        except tomllib.TOMLDecodeError:
            sys.exit(f"--set {item}: the value must be a TOML value")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.no_asr_fixes:
        import analysis.normalize as norm

        NO_FIXES = True
        norm._asr_fixes = lambda: []
    if not args.no_calls:
        run_calls(args.calls, modes, args.audio, args.cache, args.labels)
    if not args.no_real:
        run_real(modes, args.cache)
    if not args.no_noise:
        run_noise(modes, args.cache)


if __name__ == "__main__":
    main()

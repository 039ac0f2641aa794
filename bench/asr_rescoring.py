"""Try n-best re-ranking weights (speech/nbest_rescoring.py) without decoding again.

usage: .venv/bin/python bench/asr_rescoring.py [CALLS_DIR ...] [--hypotheses N] [--cache FILE]
           [--weights 0,0.1,...] [--oracle-decode]

1. Records: every stereo call (default: the dev calls, bench/asr_errors.py DEV_CALLS) is decoded
   per channel as the pipeline does (gain-normalised, silent channels skipped) with the
   configured ASR settings, the beam asked for ``--hypotheses`` finished readings per window,
   Whisper's own reading kept. Each window's readings (text, Whisper's and the language model's
   log probabilities) are stored in ``--cache`` (pickle, with the calls, number of readings and
   ASR settings it was recorded for), so reruns with the same ones only re-rank.
2. Re-ranks: for each weight, each window keeps the reading
   ``speech.nbest_rescoring.best`` picks; a channel's text is its windows' kept texts in order,
   after the term and homophone corrections as configured. CER per channel against the
   channel's reference turns (punctuation ignored; numbers normalised on both sides as
   bench/asr_errors.py does, and as written), summed over the calls.

3. Bounds: the **oracle** row keeps, in each window, whichever reading brings the channel
   nearest its reference (exact: edit distance through the lattice of readings, every choice
   at once), with no corrections, beside Whisper's own reading with no corrections. It is what
   a perfect re-ranking of these readings could reach: a floor for the CER of any re-ranking.
   The recorded windows include ones the pipeline later rejects or decodes again, so
   ``--oracle-decode`` also runs the whole pipeline (guards, recovery, corrections) with the
   choice made against the reference: each window keeps the reading whose text, after the
   channel's kept text so far, is nearest some start of the channel's reference. That is the
   CER a perfect re-ranker of Whisper's readings would give; nothing is cached.

This is an estimate to choose the weights on: a different reading can move where Whisper's
next window starts, and the loop, alignment and recovery guards run only in the pipeline.
The figures to report come from bench/asr_errors.py with ``asr.rescore_*`` set.
Transcript text is never printed.
"""
from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.asr_errors import DEV_CALLS, align, normalise_numbers  # noqa: E402
from bench.calls_e2e import SCORING, truth_files  # noqa: E402


def rescoring_transcriber(settings):
    """A loaded Transcriber for ``settings`` and its re-ranking model (re-ranking must be on)."""
    from speech.asr import Transcriber
    from speech.nbest_rescoring import RescoringWhisper

    transcriber = Transcriber(settings.asr)
    rescorer = transcriber.model.model
    assert isinstance(rescorer, RescoringWhisper)
    return transcriber, rescorer


def stereo_channels(dirs: list[str], settings):
    """(truth, path, channel, the channel's reference text, ``PreparedChannel``) for both
    channels of every two-party stereo call under ``dirs``, prepared as the pipeline does."""
    from speech.audio import decode
    from speech.pipeline import channels_are_copies, prepare_channel

    for truth, path in truth_files(dirs, "stereo"):
        audio = decode(path, settings.audio)
        if audio.samples.shape[0] != 2 or channels_are_copies(audio.samples):
            continue
        for ch in range(2):
            ref = "".join(t["text"] for t in truth["turns"] if int(t["channel"]) == ch)
            yield truth, path, ch, ref, prepare_channel(audio.samples[ch], settings.audio)


def record(dirs: list[str], hypotheses: int) -> dict:
    """{call_id: {"ref": {ch: text}, "windows": {ch: [[Reading, ...], ...]}}}."""
    from core.settings import load_settings

    settings = load_settings(environ={}).with_overrides({**SCORING, "asr.rescore_hypotheses": hypotheses})
    transcriber, rescorer = rescoring_transcriber(settings)
    windows: list = []
    rescorer.choose = lambda readings: 0                    # Whisper's own reading: record only
    rescorer.on_window = lambda readings, k: windows.append(readings)
    out: dict = {}
    for truth, _, ch, ref, prepared in stereo_channels(dirs, settings):
        call = out.setdefault(truth["call_id"], {"ref": {}, "windows": {}})
        call["ref"][ch] = ref
        windows.clear()
        if not prepared.silent:
            transcriber.recognise(prepared.samples)
        call["windows"][ch] = list(windows)
        if ch == 1:
            print(f"recorded {truth['call_id']}", file=sys.stderr, flush=True)
    return out


def kept_text(r) -> str:
    """A reading's text as a channel's text is made of it (its stretches joined)."""
    return r.text.replace(" ", "")


def rerank(calls: dict, choose, correct) -> tuple[int, int, int, int, int]:
    """(errors, reference chars, errors numbers normalised, their chars, windows changed) when
    ``choose(readings)`` picks each window's reading."""
    from speech.text import squash

    errs = chars = errs_n = chars_n = changed = 0
    for call in calls.values():
        for ch, wins in call["windows"].items():
            kept = []
            for readings in wins:
                k = choose(readings)
                changed += k != 0
                kept.append(kept_text(readings[k]))
            hyp, ref = squash(correct("".join(kept))), squash(call["ref"][ch])
            errs += sum(op != "=" for op, _, _ in align(ref, hyp))
            chars += len(ref)
            ref_n, hyp_n = squash(normalise_numbers(ref)), squash(normalise_numbers(hyp))
            errs_n += sum(op != "=" for op, _, _ in align(ref_n, hyp_n))
            chars_n += len(ref_n)
    return errs, chars, errs_n, chars_n, changed


def advance(ref, dist, text: str):
    """Edit distances of every prefix of ``ref`` (an int array of code points) to a text, given
    ``dist`` (those to the text before it) and the characters ``text`` appends to it."""
    import numpy as np

    idx = np.arange(len(ref) + 1, dtype=np.int64)
    for c in text:
        step = np.empty_like(dist)
        step[0] = dist[0] + 1
        step[1:] = np.minimum(dist[1:] + 1, dist[:-1] + (ref != ord(c)))
        dist = np.minimum.accumulate(step - idx) + idx   # deletions of reference characters
    return dist


def code_points(text: str):
    import numpy as np

    return np.array([ord(c) for c in text], dtype=np.int64)


def lattice_edits(ref: str, windows: list[list[str]]) -> int:
    """The fewest edits between ``ref`` and any text made of one entry of each window, in order.

    Dynamic programming over the reference (``advance``); after a window, the element-wise
    minimum over its entries (exact, as for a lattice's oracle error rate)."""
    import numpy as np

    r = code_points(ref)
    dist = np.arange(len(r) + 1, dtype=np.int64)
    for entries in windows:
        if entries:
            dist = np.minimum.reduce([advance(r, dist, text) for text in set(entries)])
    return int(dist[-1])


class PrefixOracle:
    """A ``RescoringWhisper.choose`` that knows the channel's reference: keeps the reading
    that leaves the kept text nearest some start of the reference (edit distance, greedy per
    window; ties go to Whisper's order)."""

    def __init__(self, ref: str) -> None:
        import numpy as np

        self.ref = code_points(ref)
        self.dist = np.arange(len(ref) + 1, dtype=np.int64)

    def __call__(self, readings) -> int:
        from speech.text import squash

        after = [advance(self.ref, self.dist, squash(kept_text(r))) for r in readings]
        k = min(range(len(after)), key=lambda i: (int(after[i].min()), i))
        self.dist = after[k]
        return k


def oracle_decode(dirs: list[str]) -> dict[str, tuple[int, int, int, int]]:
    """Per calls folder: (errors, reference chars, errors numbers normalised, their chars) of
    the pipeline when every window's reading is chosen by ``PrefixOracle``."""
    from bench.asr_errors import Tally, score_call
    from core.settings import load_settings
    from speech.text import squash
    from speech.utterances import merge_speakers, words_to_utterances

    settings = load_settings(environ={}).with_overrides(SCORING)
    transcriber, rescorer = rescoring_transcriber(settings)
    tallies: dict[str, Tally] = {}
    streams: list = []
    for truth, path, ch, ref, prepared in stereo_channels(dirs, settings):
        rescorer.choose = PrefixOracle(squash(ref))
        words = [] if prepared.silent else transcriber.transcribe(prepared.samples)
        streams.append(words_to_utterances(words, speaker=f"ch{ch}", role="unknown", channel=ch,
                                           max_gap=settings.utterances.max_gap_s))
        if ch == 1:
            score_call(truth, merge_speakers(*streams), tallies.setdefault(str(Path(path).parent), Tally()))
            streams = []
            print(f"oracle-decoded {truth['call_id']}", file=sys.stderr, flush=True)
    return {d: (t.errs, t.chars, t.errs_num, t.chars_num) for d, t in tallies.items()}


def oracle(calls: dict) -> tuple[int, int, int, int]:
    """(errors, reference chars, errors numbers normalised, their chars) of the best choice of
    reading in every window (no corrections)."""
    from speech.text import squash

    errs = chars = errs_n = chars_n = 0
    for call in calls.values():
        for ch, wins in call["windows"].items():
            ref = squash(call["ref"][ch])
            errs += lattice_edits(ref, [[squash(kept_text(r)) for r in rs] for rs in wins])
            chars += len(ref)
            ref_n = squash(normalise_numbers(ref))
            errs_n += lattice_edits(ref_n, [[squash(normalise_numbers(kept_text(r))) for r in rs] for rs in wins])
            chars_n += len(ref_n)
    return errs, chars, errs_n, chars_n


def corrections():
    """The configured term and homophone corrections as one text function."""
    from core.settings import load_settings
    from speech.asr import homophone_corrector, term_corrector

    asr = load_settings(environ={}).asr
    fixes = [c for c in (term_corrector(asr), homophone_corrector(asr)) if c is not None]

    def correct(text: str) -> str:
        for c in fixes:
            text = c.correct_text(text)
        return text
    return correct


def weights(text: str) -> list[float]:
    """``--weights``: comma-separated numbers >= 0."""
    try:
        out = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not out or min(out) < 0:
        raise argparse.ArgumentTypeError(f"weights must be numbers >= 0: {text!r}")
    return out


def load_or_record(cache: Path, dirs: list[str], hypotheses: int) -> dict:
    """The recorded readings of ``dirs`` from ``cache`` when it was recorded for the same calls,
    number of readings and ASR settings; recorded again (and the cache replaced) otherwise."""
    from bench.asr_vocabulary import settings_key
    from core.settings import load_settings

    asr = load_settings(environ={}).with_overrides({"asr.rescore_hypotheses": hypotheses}).asr
    key = (sorted(str(Path(d).resolve()) for d in dirs), hypotheses, settings_key(asr))
    try:
        stored = pickle.loads(cache.read_bytes()) if cache.is_file() else None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError):
        stored = None
    if isinstance(stored, dict) and stored.get("key") == key:
        return stored["calls"]
    calls = record(dirs, hypotheses)
    tmp = cache.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps({"key": key, "calls": calls}))
    tmp.replace(cache)
    return calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("calls", nargs="*", default=DEV_CALLS)
    ap.add_argument("--hypotheses", type=int, default=8, help="readings per window (at least 2)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/asr-nbest.pkl"))
    ap.add_argument("--weights", type=weights, default="0,0.1,0.2,0.3,0.4,0.5,0.7,1.0")
    ap.add_argument("--oracle-decode", action="store_true",
                    help="also run the pipeline with each window's reading chosen against the reference")
    args = ap.parse_args()
    if args.hypotheses < 2:
        ap.error("--hypotheses must be at least 2 (1 is Whisper's reading alone)")
    if args.cache.is_dir() or not args.cache.parent.is_dir():
        ap.error(f"--cache {args.cache}: not a file in an existing folder")
    if not truth_files(args.calls, "stereo"):
        ap.error(f"no stereo call with ground truth under {', '.join(args.calls)}")
    calls = load_or_record(args.cache, args.calls, args.hypotheses)
    from speech.nbest_rescoring import best

    correct = corrections()
    windows = sum(len(w) for c in calls.values() for w in c["windows"].values())
    choices = sum(len({r.text for r in rs}) > 1 for c in calls.values() for w in c["windows"].values() for rs in w)
    print(f"\n## n-best re-ranking estimate ({len(calls)} calls, {windows} windows, {choices} with more than one text)\n")
    print("| weight | CER | CER, numbers normalised | windows changed |")
    print("|---|---|---|---|")
    e, n, en, nn, _ = rerank(calls, lambda readings: 0, correct)
    print(f"| Whisper's reading | {e / max(n, 1):.2%} | {en / max(nn, 1):.2%} | 0 |", flush=True)
    for w in args.weights:
        e, n, en, nn, changed = rerank(calls, lambda readings: best(readings, w), correct)
        print(f"| {w:g} | {e / max(n, 1):.2%} | {en / max(nn, 1):.2%} | {changed} |", flush=True)
    e, n, en, nn, _ = rerank(calls, lambda readings: 0, lambda text: text)
    print(f"| Whisper's reading, no corrections | {e / max(n, 1):.2%} | {en / max(nn, 1):.2%} | 0 |")
    e, n, en, nn = oracle(calls)
    print(f"| oracle: the reading nearest the reference in each window, no corrections"
          f" | {e / max(n, 1):.2%} | {en / max(nn, 1):.2%} | |")
    if args.oracle_decode:
        print("\n## The pipeline with the oracle's choice (bench/asr_errors.py's CER)\n")
        print("| calls | CER | CER, numbers normalised |")
        print("|---|---|---|")
        totals = [0, 0, 0, 0]
        for folder, (e, n, en, nn) in oracle_decode(args.calls).items():
            totals = [a + b for a, b in zip(totals, (e, n, en, nn))]
            print(f"| {Path(folder).name} | {e / max(n, 1):.1%} | {en / max(nn, 1):.1%} |", flush=True)
        e, n, en, nn = totals
        print(f"| all | {e / max(n, 1):.1%} | {en / max(nn, 1):.1%} |")


if __name__ == "__main__":
    main()

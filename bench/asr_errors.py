"""Where the ASR errors are on scripted stereo calls, for one or more ASR configurations.

usage: .venv/bin/python bench/asr_errors.py [CALLS_DIR ...] [--config NAME:KEY=VALUE,KEY=VALUE ...]
           [--cache DIR] [--per-call] [--worst N]

- Calls (default: the dev calls, ../shared/data/calls, tests/data/calls_outcomes and the blind
  sets bench/data/blind_calls … blind_calls9, every one of them opened already): each stereo call is decoded and
  transcribed per channel exactly as flows.recording does (speech.pipeline.transcribe_call).
- ``--config``: one ASR/audio configuration per flag, ``NAME:asr.beam_size=8,asr.vad_speech_pad_ms=400``
  (settings keys as in callqa.toml; values parsed as TOML scalars). ``base`` (no overrides)
  is always run first.
- Printed per configuration: CER as bench/calls_e2e.py scores it (all turns vs all utterances,
  punctuation ignored, Arabic numerals count as errors against spoken numerals), the same CER
  with number normalisation (``normalise_numbers``, applied to reference and hypothesis
  alike), substitutions / deletions / insertions, Traditional characters left in the output,
  and where the errors fall: per reference turn (hypothesis words assigned by channel and
  time), short turns (<= 4 characters), the first two characters of each turn (VAD clipping),
  whole turns dropped, and words on no reference turn (inserted / hallucinated).
- RTF: ASR seconds / audio seconds of the channels, from the runs that filled the cache
  (transcripts are cached per channel samples and settings, as in asr_vocabulary.py).

Transcript text is call data from scripted test calls, printed only with ``--worst``.
"""
from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.asr_vocabulary import cached_transcriber, parse_override  # noqa: E402
from bench.calls_e2e import DEFAULT_CALLS, SCORING, truth_files  # noqa: E402

# every blind set opened so far is dev now (bench/README.md): a new round needs new blind calls
DEV_CALLS = DEFAULT_CALLS + [str(REPO / "bench" / "data" / name)
                             for name in ("blind_calls", "blind_calls2", "blind_calls3", "blind_calls4", "blind_calls5",
                                          "blind_calls6", "blind_calls7", "blind_calls8", "blind_calls9")]
SHORT_TURN = 4      # reference characters: a turn this short is "short"
TURN_START = 2      # the first characters of a turn, where VAD clipping shows
EDGE_S = 0.4        # a word this close to a reference turn (s) is counted with it

_DIGITS = "零一二三四五六七八九"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*%?")


def read_integer(n: int) -> str:
    """A whole number as it is read aloud in Mandarin (value reading): 5000 → 五千,
    15 → 十五, 105 → 一百零五, 120000 → 十二万."""
    if n == 0:
        return "零"

    def below_10000(m: int, leading: bool) -> str:
        out, zero = "", False
        for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            d = m // value % 10
            if d == 0:
                zero = bool(out)
                continue
            if zero:
                out += "零"
                zero = False
            out += ("" if (unit == "十" and d == 1 and leading and not out) else _DIGITS[d]) + unit
        return out

    parts, out = [], ""
    for unit in ("", "万", "亿"):
        parts.append((n % 10000, unit))
        n //= 10000
        if not n:
            break
    for i, (m, unit) in enumerate(reversed(parts)):
        if m == 0:
            continue
        if out and m < 1000:
            out += "零"
        out += below_10000(m, leading=not out) + unit
    return out


def normalise_numbers(text: str) -> str:
    """The number normalisation used for the second CER figure, applied to reference and
    hypothesis alike: Arabic numerals become spoken Chinese numerals (digit by digit when the
    string starts with 0 or is longer than 8 digits, as ID and phone numbers are read; the value
    reading otherwise; "3.5" → 三点五, "5%" → 百分之五, "5,000" → 五千), then 两 → 二, 〇 → 零 and
    幺 → 一 (the same number either way). Nothing else changes."""
    def spoken(m: re.Match) -> str:
        s = m.group(0)
        percent = s.endswith("%")
        s = s.rstrip("%").replace(",", "")
        whole, _, frac = s.partition(".")
        if whole.startswith("0") and len(whole) > 1 or len(whole) > 8:
            said = "".join(_DIGITS[int(c)] for c in whole)
        else:
            said = read_integer(int(whole))
        if frac:
            said += "点" + "".join(_DIGITS[int(c)] for c in frac)
        return ("百分之" + said) if percent else said

    return _NUMBER.sub(spoken, text).replace("两", "二").replace("〇", "零").replace("幺", "一")


def align(ref: str, hyp: str) -> list[tuple[str, int, int]]:
    """Levenshtein alignment as operations ("=", "S", "D", "I", ref index, hyp index)."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
    ops, i, j = [], n, m
    while i or j:
        if i and j and d[i][j] == d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops.append(("=" if ref[i - 1] == hyp[j - 1] else "S", i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            ops.append(("D", i - 1, j))
            i -= 1
        else:
            ops.append(("I", i, j - 1))
            j -= 1
    return ops[::-1]


@dataclass
class Tally:
    chars: int = 0
    errs: int = 0
    errs_num: int = 0
    chars_num: int = 0
    ops: dict[str, int] = field(default_factory=lambda: {"S": 0, "D": 0, "I": 0})
    traditional: int = 0
    digits: int = 0
    start_errs: int = 0
    start_chars: int = 0
    short_errs: int = 0
    short_chars: int = 0
    dropped_turns: int = 0
    dropped_chars: int = 0
    turns: int = 0
    stray_chars: int = 0
    asr_s: float = 0.0
    audio_s: float = 0.0
    worst: list = field(default_factory=list)
    per_call: dict = field(default_factory=dict)


def score_call(truth: dict, utterances, tally: Tally) -> None:
    from core.chinese import to_simplified
    from speech.text import squash

    ref = squash("".join(t["text"] for t in truth["turns"]))
    hyp = squash("".join(u.text for u in utterances))
    ops = align(ref, hyp)
    errs = sum(op != "=" for op, _, _ in ops)
    for op, _, _ in ops:
        if op != "=":
            tally.ops[op] += 1
    tally.errs += errs
    tally.chars += len(ref)
    ref_n, hyp_n = squash(normalise_numbers(ref)), squash(normalise_numbers(hyp))
    errs_n = sum(op != "=" for op, _, _ in align(ref_n, hyp_n))
    tally.errs_num += errs_n
    tally.chars_num += len(ref_n)
    tally.traditional += sum(to_simplified(c) != c for c in hyp)
    tally.digits += sum(c.isdigit() for c in hyp)
    tally.per_call[truth["call_id"]] = (errs / max(len(ref), 1), errs_n / max(len(ref_n), 1))
    # per turn: the words of the turn's channel that overlap it (midpoint within the turn ± EDGE_S)
    words = {ch: [w for u in utterances if u.channel == ch for w in u.words] for ch in (0, 1)}
    used: dict[int, set[int]] = {0: set(), 1: set()}
    for t in truth["turns"]:
        ch = int(t["channel"])
        mine = [k for k, w in enumerate(words[ch]) if t["start"] - EDGE_S <= (w.start + w.end) / 2 <= t["end"] + EDGE_S]
        used[ch].update(mine)
        r = squash(t["text"])
        h = squash("".join(words[ch][k].text for k in mine))
        turn_ops = align(r, h)
        e = sum(op != "=" for op, _, _ in turn_ops)
        tally.turns += 1
        if not h and r:
            tally.dropped_turns += 1
            tally.dropped_chars += len(r)
        if len(r) <= SHORT_TURN:
            tally.short_errs += e
            tally.short_chars += len(r)
        tally.start_errs += sum(op in "SD" for op, i, _ in turn_ops if i < TURN_START)
        tally.start_chars += min(TURN_START, len(r))
        tally.worst.append((e, truth["call_id"], r, h))
    for ch in (0, 1):
        tally.stray_chars += sum(len(squash(w.text)) for k, w in enumerate(words[ch]) if k not in used[ch])


def parse_config(spec: str) -> tuple[str, dict]:
    name, _, rest = spec.partition(":")
    overrides = {}
    for item in filter(None, rest.split(",")):
        key, value = parse_override(item)
        overrides[key] = value
    return name, overrides


def run(dirs: list[str], configs: list[tuple[str, dict]], cache: Path, per_call: bool, worst: int) -> None:
    from core.settings import load_settings
    from speech.audio import decode
    from speech.pipeline import transcribe_call

    calls = truth_files(dirs, "stereo")
    tallies: dict[str, Tally] = {}
    for name, overrides in configs:
        settings = load_settings(environ={}).with_overrides({**SCORING, **overrides})
        clock: dict[str, float] = {}
        transcriber = cached_transcriber(settings.asr, cache, clock)
        tally = tallies[name] = Tally()
        for truth, path in calls:
            audio = decode(path, settings.audio)
            transcript = transcribe_call(audio, transcriber, channel_roles=settings.roles.channels,
                                         audio_settings=settings.audio, diarization=settings.diarization,
                                         max_gap=settings.utterances.max_gap_s)
            score_call(truth, transcript.utterances, tally)
        tally.asr_s, tally.audio_s = clock.get("asr_s", 0.0), clock.get("audio_s", 0.0)
        print(f"{name}: CER {tally.errs / max(tally.chars, 1):.1%}", file=sys.stderr, flush=True)
    names = [n for n, _ in configs]
    print(f"\n## ASR errors ({len(calls)} stereo calls from {', '.join(dirs)})\n")
    print("| measure | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")

    def row(label: str, fn) -> None:
        print(f"| {label} | " + " | ".join(fn(tallies[n]) for n in names) + " |")

    row("CER (as calls_e2e.py)", lambda t: f"{t.errs / max(t.chars, 1):.1%}")
    row("CER, numbers normalised", lambda t: f"{t.errs_num / max(t.chars_num, 1):.1%}")
    row("substitutions / deletions / insertions", lambda t: f"{t.ops['S']} / {t.ops['D']} / {t.ops['I']}")
    row("Traditional characters left", lambda t: f"{t.traditional}")
    row("Arabic digits written", lambda t: f"{t.digits}")
    row("short turns (<= 4 chars): errors / chars", lambda t: f"{t.short_errs} / {t.short_chars}")
    row("turn starts (first 2 chars): S+D / chars", lambda t: f"{t.start_errs} / {t.start_chars}")
    row("turns dropped whole (chars)", lambda t: f"{t.dropped_turns} / {t.turns} ({t.dropped_chars})")
    row("characters on no reference turn", lambda t: f"{t.stray_chars}")
    row("ASR RTF (runs that filled the cache)", lambda t: f"{t.asr_s / max(t.audio_s, 1e-9):.3f}" if t.asr_s else "cached")
    if per_call:
        print("\n| call | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for call_id in tallies[names[0]].per_call:
            print(f"| {call_id} | " + " | ".join(f"{tallies[n].per_call[call_id][0]:.1%} ({tallies[n].per_call[call_id][1]:.1%})"
                                                for n in names) + " |")
        print("(CER as calls_e2e.py, in brackets with numbers normalised)")
    if worst:
        for n in names:
            print(f"\n### {n}: the {worst} worst turns (errors, call, reference | hypothesis)")
            for e, call_id, r, h in sorted(tallies[n].worst, key=lambda x: -x[0])[:worst]:
                print(f"  {e:3d} {call_id} {r} | {h}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("calls", nargs="*", default=DEV_CALLS)
    ap.add_argument("--config", action="append", default=[], help="NAME:key=value,key=value")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/asr7-cache"))
    ap.add_argument("--per-call", action="store_true")
    ap.add_argument("--worst", type=int, default=0, help="print the N worst turns per configuration")
    args = ap.parse_args()
    try:
        configs = [("base", {})] + [parse_config(c) for c in args.config]
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        sys.exit(f"bad --config: {exc}")
    run(args.calls, configs, args.cache, args.per_call, args.worst)


if __name__ == "__main__":
    main()

"""False corrections of the ASR term and homophone corrections on correctly written text.

usage: .venv/bin/python bench/term_correction.py [--shared ../shared/data] [--show N]
           [--set asr.correction_margin=2.0 ...]

Runs speech/term_correction.py and then speech/homophone_correction.py (as ``asr.*`` configures
them, in the order the transcriber does) over text nobody misheard, where every change is a
false correction (or the fix of a garble written into the text on purpose):
- the reference turns of the scripted calls kept here (bench/data/blind_calls*, tests/data/calls_outcomes);
- the spent blind utterance set blind16 (collection talk by a writer whose text is not in the
  language model's training text, analysis/training/labelled_sets.py; a few garbles on purpose);
- with ``--shared``: ChnSentiCorp dev (hotel, book and laptop reviews), the first 3,000
  waimai_10k reviews and the first 3,000 COLD dev comments (none in the model's training text).
Prints characters, changes of each correction and changes per 10,000 characters per corpus,
and the first ``--show`` changes of each with two characters of context (public or scripted
text only). CER on calls with and without them: ``bench/asr_errors.py --config
off:asr.correction=false`` / ``--config off:asr.homophones=false``.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.asr_vocabulary import parse_override  # noqa: E402
from core.settings import load_settings  # noqa: E402
from speech.asr import homophone_corrector, term_corrector  # noqa: E402


def script_turns() -> list[str]:
    texts = []
    for folder in ("bench/data/blind_calls", "bench/data/blind_calls2", "bench/data/blind_calls3",
                   "bench/data/blind_calls4", "bench/data/blind_calls5", "bench/data/blind_calls6", "bench/data/blind_calls7",
                   "bench/data/blind_calls8", "bench/data/blind_calls9",
                   "tests/data/calls_outcomes"):
        for path in sorted((REPO / folder).glob("*_call_*.json")):
            texts.extend(t["text"] for t in json.loads(path.read_text(encoding="utf-8"))["turns"])
    return texts


def jsonl_texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def corpora(shared: Path | None) -> dict[str, list[str]]:
    out = {"call scripts": script_turns()}
    out["blind16"] = jsonl_texts(REPO / "analysis" / "evaldata" / "blind16_utterances.jsonl")
    if shared is not None:
        text = shared / "text"
        with open(text / "ChnSentiCorp" / "dev.tsv", encoding="utf-8") as fh:
            out["ChnSentiCorp dev"] = [r[2] for r in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)][1:]
        with open(text / "waimai_10k" / "waimai_10k.csv", encoding="utf-8") as fh:
            out["waimai_10k (3,000)"] = [r[1] for r in csv.reader(fh)][1:3001]
        with open(text / "COLD" / "dev.csv", encoding="utf-8") as fh:
            out["COLD dev (3,000)"] = [r["TEXT"] for r in csv.DictReader(fh)][:3000]
    return out


def changes(before: str, after: str) -> list[str]:
    """Each changed stretch with two characters of context: "已经[于七→逾期]两个"."""
    out, i = [], 0
    while i < len(before):
        if before[i] == after[i]:
            i += 1
            continue
        j = i
        while j < len(before) and before[j] != after[j]:
            j += 1
        out.append(f"{before[max(0, i - 2):i]}[{before[i:j]}→{after[i:j]}]{before[j:j + 2]}")
        i = j
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--show", type=int, default=10)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    overrides = {}
    for spec in args.set:
        try:
            key, value = parse_override(spec)
            overrides[key] = value
        except tomllib.TOMLDecodeError:
            print(f"error: --set {spec}: the value is not a TOML scalar", file=sys.stderr)
            raise SystemExit(2) from None
    settings = load_settings(environ={}).with_overrides(overrides)
    corrector, homophones = term_corrector(settings.asr), homophone_corrector(settings.asr)
    if corrector is None and homophones is None:
        print("error: asr.correction and asr.homophones are both off", file=sys.stderr)
        raise SystemExit(2)
    shared = args.shared if (args.shared / "text" / "COLD").is_dir() else None
    if corrector is not None:
        print(f"terms: margin {corrector.margin}, common-word margin {corrector.word_margin}, {len(corrector.terms)} terms")
    if homophones is not None:
        print(f"homophones: margin {homophones.margin}, + {homophones.word_margin} in a common word,"
              f" + {homophones.edge_margin} at a stretch's edge")
    print("\n| text | texts | characters | term changes | homophone changes | per 10,000 characters |\n|---|---|---|---|---|---|")
    shown = {}
    for name, texts in corpora(shared).items():
        terms_found, homo_found = [], []
        for t in texts:
            fixed = corrector.correct_text(t) if corrector is not None else t
            terms_found += changes(t, fixed)
            if homophones is not None:
                homo_found += changes(fixed, homophones.correct_text(fixed))
        chars = sum(len(t) for t in texts)
        total = len(terms_found) + len(homo_found)
        print(f"| {name} | {len(texts):,} | {chars:,} | {len(terms_found)} | {len(homo_found)} | {total / chars * 1e4:.1f} |")
        shown[name] = terms_found + homo_found
    for name, found in shown.items():
        if found and args.show:
            print(f"\n{name}: " + "  ".join(found[:args.show]))
    if shared is None:
        print(f"\n(no public corpora: {args.shared / 'text'} not found)")


if __name__ == "__main__":
    main()

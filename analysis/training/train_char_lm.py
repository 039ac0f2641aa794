"""Build the collection language model that speech/term_correction.py consults.

    python -m analysis.training.train_char_lm [--shared ../shared/data] [--check]

Text: every labelled utterance set of the wording models (analysis/training/labelled_sets.py
SET_FILES: collection-call talk of both sides, written for this project), counted
``DOMAIN_WEIGHT`` times, and the STC3 helpdesk dialogues (NTCIR-14 STC-3, Chinese customer
and helpdesk turns from Weibo, CC BY 4.0; ../shared/data/text/STC3_helpdesk) once, as
everyday service talk. No call script (dev or blind) is read. Trigrams seen fewer than
``MIN_TRIGRAM`` times (after weighting) are dropped. Same inputs, same bytes: ``--check``
rebuilds in memory and fails (exit 1) if the shipped file differs.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from analysis.training.common import DEFAULT_SHARED, REPO
from analysis.training.labelled_sets import load_sets
from core.char_lm import CharLM, count_ngrams, lm_text
from core.chinese import speech_runs

OUT = REPO / "speech" / "data" / "collection_lm.json.gz"
DOMAIN_WEIGHT = 3
MIN_TRIGRAM = 2


def runs(text: str) -> list[str]:
    """The stretches of speech characters in ``text`` (split at anything else), as the
    model reads them."""
    return [lm_text(r) for r in speech_runs(text)]


def stc3_turns(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    return ["".join(t["utterances"]) for d in data for t in d["turns"]]


def build(shared: Path) -> tuple[CharLM, dict]:
    sets = load_sets()
    domain = [r["text"] for rows in sets.values() for r in rows]
    general = stc3_turns(shared / "text" / "STC3_helpdesk" / "train_data_cn.json.gz")
    uni, bi, tri = Counter(), Counter(), Counter()
    for texts, weight in ((domain, DOMAIN_WEIGHT), (general, 1)):
        u, b, t = count_ngrams([r for text in texts for r in runs(text)], weight)
        uni.update(u)
        bi.update(b)
        tri.update(t)
    tri = Counter({g: c for g, c in tri.items() if c >= MIN_TRIGRAM})
    meta = {
        "domain": f"{len(domain)} utterances of {len(sets)} labelled sets x{DOMAIN_WEIGHT}",
        "general": f"{len(general)} STC3 helpdesk turns (CC BY 4.0) x1",
        "min_trigram": MIN_TRIGRAM,
        "sizes": {"uni": len(uni), "bi": len(bi), "tri": len(tri)},
    }
    return CharLM.from_counts(uni, bi, tri), meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--check", action="store_true", help="rebuild and compare with the shipped file")
    args = ap.parse_args()
    if not (args.shared / "text" / "STC3_helpdesk").is_dir():
        print(f"error: no STC3_helpdesk under {args.shared / 'text'} (--shared)", file=sys.stderr)
        raise SystemExit(2)
    lm, meta = build(args.shared)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / OUT.name
            lm.dump(path, meta)
            same = path.read_bytes() == OUT.read_bytes()
        print(f"{OUT.relative_to(REPO)}: {'same' if same else 'DIFFERENT'} ({meta['sizes']})")
        raise SystemExit(0 if same else 1)
    lm.dump(OUT, meta)
    print(f"wrote {OUT.relative_to(REPO)} ({OUT.stat().st_size / 1e6:.2f} MB): {meta}")


if __name__ == "__main__":
    main()

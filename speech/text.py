"""Script conversion for recognised text: Whisper often emits Traditional characters."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from core.chinese import to_simplified

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def simplify_pieces(pieces: list[str]) -> list[str]:
    """Convert word pieces as one text (phrase-aware), split back when lengths allow."""
    joined = "".join(pieces)
    converted = to_simplified(joined)
    if len(converted) != len(joined):
        return [to_simplified(p) for p in pieces]
    out, pos = [], 0
    for piece in pieces:
        out.append(converted[pos:pos + len(piece)])
        pos += len(piece)
    return out


def squash(text: str) -> str:
    """Text without spaces and punctuation, lower-cased, for phrase comparisons."""
    return _PUNCT.sub("", text).lower()


@lru_cache(maxsize=8)
def load_phrase_list(path: str) -> tuple[str, ...]:
    """Read a one-phrase-per-line file (``#`` comments), squashed and simplified."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return tuple(squash(to_simplified(s)) for s in lines if s.strip() and not s.lstrip().startswith("#"))


def character_error_rate(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance, reference length) over characters, ignoring spaces and punctuation."""
    ref, hyp = squash(reference), squash(hypothesis)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1], len(ref)

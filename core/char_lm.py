"""A character trigram language model of collection-call talk, to weigh one reading of a
stretch of recognised text against another (speech/term_correction.py consults it,
analysis/training/train_char_lm.py builds it; here in core so that both can import it).

Interpolated absolute discounting (D = 0.75) over characters, the lower orders ending in an
add-one unigram, so every character has some probability. Numbers (Arabic digits and the
Chinese numeral characters) are one class, ``#``, a run of them one ``#``: "逾期45天",
"逾期四十五天" and "逾期两个月" read alike. ``^`` and ``$`` mark where a stretch of speech
begins and ends.

The counts ship as a gzip JSON file built by ``analysis.training.train_char_lm``.
"""
from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DISCOUNT = 0.75
BEGIN, END, NUMBER = "^", "$", "#"
NUMERALS = "0123456789０１２３４５６７８９零〇一二三四五六七八九十百千万亿两幺"   # read as one class, ``#``
_NUMERALS = re.compile(f"[{NUMERALS}]+")


def lm_text(text: str) -> str:
    """``text`` as the model reads it: every run of number characters one ``#``."""
    return _NUMERALS.sub(NUMBER, text)


def count_ngrams(texts, weight: int = 1) -> tuple[Counter, Counter, Counter]:
    """Unigram, bigram and trigram counts of ``texts`` (each a stretch of speech without
    punctuation, already passed through ``lm_text``), each occurrence counted ``weight`` times."""
    uni, bi, tri = Counter(), Counter(), Counter()
    for text in texts:
        s = BEGIN + BEGIN + text + END
        for i in range(2, len(s)):
            uni[s[i]] += weight
            bi[s[i - 1:i + 1]] += weight
            tri[s[i - 2:i + 1]] += weight
    return uni, bi, tri


@dataclass(frozen=True)
class CharLM:
    """Counts and the back-off weights derived from them (``load`` or ``from_counts``)."""

    uni: dict[str, int]
    bi: dict[str, int]
    tri: dict[str, int]
    uni_total: int
    bi_context: dict[str, tuple[int, float]]   # "a" -> (count of a as a context, back-off weight)
    tri_context: dict[str, tuple[int, float]]  # "ab" -> (count of ab as a context, back-off weight)

    @classmethod
    def from_counts(cls, uni: dict[str, int], bi: dict[str, int], tri: dict[str, int]) -> "CharLM":
        def contexts(grams: dict[str, int]) -> dict[str, tuple[int, float]]:
            total: Counter = Counter()
            kept: Counter = Counter()
            for g, c in grams.items():
                total[g[:-1]] += c
                kept[g[:-1]] += max(c - DISCOUNT, 0.0)
            return {h: (n, 1.0 - kept[h] / n) for h, n in total.items()}

        return cls(dict(uni), dict(bi), dict(tri), sum(uni.values()), contexts(bi), contexts(tri))

    def p_uni(self, c: str) -> float:
        return (self.uni.get(c, 0) + 1) / (self.uni_total + len(self.uni) + 1)

    def p_bi(self, a: str, c: str) -> float:
        ctx = self.bi_context.get(a)
        if ctx is None:
            return self.p_uni(c)
        n, backoff = ctx
        return max(self.bi.get(a + c, 0) - DISCOUNT, 0.0) / n + backoff * self.p_uni(c)

    def p(self, ab: str, c: str) -> float:
        """P(c | ab), ``ab`` the two characters before (``^`` at the start)."""
        ctx = self.tri_context.get(ab)
        if ctx is None:
            return self.p_bi(ab[1], c)
        n, backoff = ctx
        return max(self.tri.get(ab + c, 0) - DISCOUNT, 0.0) / n + backoff * self.p_bi(ab[1], c)

    def logprob(self, text: str, begins: bool = True, ends: bool = True) -> float:
        """log10 probability of ``text`` (through ``lm_text``); ``begins``/``ends``: the text
        is a whole stretch of speech, so its start and end are scored as such. Without
        ``begins`` the first two characters are context only."""
        s = lm_text(text)
        s = (BEGIN + BEGIN + s if begins else s) + (END if ends else "")
        return sum(math.log10(self.p(s[i - 2:i], s[i])) for i in range(2, len(s)))

    def dump(self, path: Path, meta: dict) -> None:
        """Write the counts (with ``meta``: sources, sizes) as gzip JSON, keys sorted and no
        timestamp, so the same inputs give the same bytes."""
        body = json.dumps({"meta": meta, "uni": self.uni, "bi": self.bi, "tri": self.tri},
                          ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as fh:
            fh.write(body)
        tmp.replace(path)


@lru_cache(maxsize=4)
def load_lm(path: str) -> CharLM:
    """The model at ``path`` (read once per process).

    Raises:
        ValueError: the file cannot be read as the counts this module writes (one line).
    """
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        return CharLM.from_counts(data["uni"], data["bi"], data["tri"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ValueError(f"asr.correction_lm: cannot read {path}: {reason}") from None

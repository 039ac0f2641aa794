"""Hashed n-gram features and the numpy-only linear model used at inference.

Features: char 1..ngram_max-grams and, for models whose metadata has `word_ngram_max`,
word 1..word_ngram_max-grams of jieba's segmentation, hashed (crc32, separate seeds) into
one space; for models whose metadata names `lexicons`, one bucket per word list
(`models/lexicons/<name>.txt`) that has an entry in the text; for models whose metadata
names a `mask` list (e.g. `groups`: words naming a social group), every mention of an entry is
replaced by one placeholder character (`MASK`) before the n-grams are taken (target masking;
with `mask_keep` the original text's n-grams are kept too; with `group_hits`, one more bucket per
word list whose entry occurs in a clause that also mentions a masked group, `group_buckets`). Training
(analysis/training/*.py) and inference share `model_features`, so a model is just a weight vector and a bias saved with numpy (`.npz`, no pickles, no sklearn
at runtime). jieba's dictionary is loaded once, on first use, without logging.
"""
from __future__ import annotations

import json
import logging
import math
import re
from functools import lru_cache
from pathlib import Path
from zlib import crc32

import numpy as np

from core.chinese import jieba_dictionary

logger = logging.getLogger("analysis")

MODELS_DIR = Path(__file__).resolve().parent / "models"
_STRIP = re.compile(r"[\s,.!?;:\"'()~\-]+")


_WORD_SEED = 1000  # word n-gram hashes use seeds 1001, 1002: never the char grams' 1..3
_LEX_SEED = 2000   # lexicon-hit buckets
MASK = "\ue000"    # placeholder for a masked group mention: a private-use character, never in text
LEXICON_DIR = MODELS_DIR / "lexicons"
# one-entry caches (key, raw crc32 hashes), swapped whole: the abuse and sentiment models
# read the same utterance one after the other
_last_chars: list = [(None, ())]
_last_words: list = [(None, ())]


def words(text: str) -> list[str]:
    """jieba words of `text` (dictionary words, no HMM guessing), whitespace dropped."""
    return [w for w in jieba_dictionary().cut(text, HMM=False) if not w.isspace()]


def hashed_ngrams(text: str, n_features: int, ngram_max: int = 3, word_ngram_max: int = 0) -> list[int]:
    """Sorted unique bucket ids of the char 1..ngram_max-grams of `text` (with ^/$ marks)
    and, if word_ngram_max, of the word 1..word_ngram_max-grams of jieba's segmentation of
    each punctuation-delimited chunk (with ^/$ marks per chunk)."""
    mask = n_features - 1
    out = {h & mask for h in _char_hashes(text, ngram_max)}
    if word_ngram_max:
        out.update(h & mask for h in _word_hashes(text, word_ngram_max))
    return sorted(out)


def _char_hashes(text: str, ngram_max: int) -> tuple[int, ...]:
    key = (text, ngram_max)
    hit = _last_chars[0]
    if hit[0] == key:
        return hit[1]
    t = "^" + _STRIP.sub("|", text) + "$"
    out = set()
    n = len(t)
    for k in range(1, ngram_max + 1):
        for i in range(n - k + 1):
            g = t[i:i + k]
            if k == 1 and g in "^$|":
                continue
            out.add(crc32(g.encode("utf-8"), k))
    val = tuple(out)
    _last_chars[0] = (key, val)
    return val


def _word_hashes(text: str, word_ngram_max: int) -> tuple[int, ...]:
    key = (text, word_ngram_max)
    hit = _last_words[0]
    if hit[0] == key:
        return hit[1]
    out = set()
    for chunk in _STRIP.split(text):
        if not chunk:
            continue
        ws = ["^", *words(chunk), "$"]
        for k in range(1, word_ngram_max + 1):
            for i in range(len(ws) - k + 1):
                g = ws[i:i + k]
                if k == 1 and g[0] in "^$":
                    continue
                out.add(crc32(" ".join(g).encode("utf-8"), _WORD_SEED + k))
    val = tuple(out)
    _last_words[0] = (key, val)
    return val


class Lexicon:
    """A word list (one entry a line; entries under 2 chars, ASCII-only or starting with '#'
    are skipped: too many false hits) and its hit buckets' hashes."""

    def __init__(self, name: str, entries) -> None:
        self.name = name
        kept = sorted({e.strip() for e in entries if len(e.strip()) >= 2
                       and not e.strip().isascii() and not e.strip().startswith("#")})
        self.entries = tuple(kept)
        self._by_prefix: dict[str, tuple[str, ...]] = {}
        for e in kept:  # entries by their first two characters: one dict look-up per position
            self._by_prefix[e[:2]] = self._by_prefix.get(e[:2], ()) + (e,)
        self.hash = crc32(f"lex:{name}".encode("utf-8"), _LEX_SEED)
        self.hash2 = crc32(f"lex:{name}:2".encode("utf-8"), _LEX_SEED)
        self.group_hash = crc32(f"lex:{name}:group".encode("utf-8"), _LEX_SEED)  # group_buckets

    def hits(self, text: str, most: int = 1) -> int:
        """How many positions of `text` start an entry, counting up to `most`."""
        get = self._by_prefix.get
        n = 0
        for i in range(len(text) - 1):
            cand = get(text[i:i + 2])
            if cand and any(text.startswith(e, i) for e in cand):
                n += 1
                if n >= most:
                    break
        return n

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every mention of an entry in `text`, left to right, the longest
        entry winning where several start at a position (河南人 before 河南)."""
        get = self._by_prefix.get
        out: list[tuple[int, int]] = []
        i, n = 0, len(text)
        while i < n - 1:
            cand = get(text[i:i + 2])
            best = max((len(e) for e in cand if text.startswith(e, i)), default=0) if cand else 0
            if best:
                out.append((i, i + best))
                i += best
            else:
                i += 1
        return out

    def mentions(self, text: str) -> list[str]:
        """The entries mentioned in `text`, in order, as `spans` finds them."""
        return [text[a:b] for a, b in self.spans(text)]

    def mask(self, text: str, token: str = MASK) -> str:
        """`text` with every mention of an entry (`spans`) replaced by `token`."""
        spans = self.spans(text)
        if not spans:
            return text
        out, last = [], 0
        for a, b in spans:
            out += [text[last:a], token]
            last = b
        out.append(text[last:])
        return "".join(out)

    def hit(self, text: str) -> bool:
        """Whether an entry occurs in `text`."""
        return self.hits(text, 1) > 0


@lru_cache(maxsize=None)
def load_lexicon(name: str, folder: str = str(LEXICON_DIR)) -> Lexicon:
    """`<folder>/<name>.txt` as a Lexicon (cached)."""
    path = Path(folder) / f"{name}.txt"
    return Lexicon(name, path.read_text(encoding="utf-8").splitlines())


def lexicon_buckets(text: str, n_features: int, lexicons, multi: bool = False) -> list[int]:
    """Bucket ids of the lexicons (Lexicon objects) with an entry in `text`; with `multi`,
    also a second bucket per lexicon with two or more hits."""
    mask = n_features - 1
    out = set()
    for lex in lexicons:
        n = lex.hits(text, 2 if multi else 1)
        if n:
            out.add(lex.hash & mask)
        if n >= 2:
            out.add(lex.hash2 & mask)
    return sorted(out)


def group_buckets(text: str, n_features: int, lexicons, mask) -> list[int]:
    """Bucket ids of the lexicons with an entry in a clause (punctuation-delimited chunk) of
    `text` that also mentions an entry of `mask` (a group); the lexicons are read on the masked
    clause, so a group word is never its own hit."""
    bits = n_features - 1
    out = set()
    for chunk in _STRIP.split(text):
        masked = mask.mask(chunk) if len(chunk) > 1 else chunk
        if MASK not in masked:
            continue
        out.update(lex.group_hash & bits for lex in lexicons if lex.hit(masked))
    return sorted(out)


def model_features(text: str, n_features: int, ngram_max: int = 3, word_ngram_max: int = 0,
                   lexicons=(), lexicon_multi: bool = False, mask=None,
                   mask_keep: bool = False, group_hits: bool = False) -> list[int]:
    """Sorted unique bucket ids: `hashed_ngrams` plus the lexicon-hit buckets. With `mask` (a
    Lexicon), the n-grams are those of the text with its entries masked (`Lexicon.mask`), and
    with `mask_keep` also those of the text as it is; lexicon hits are read on the text as it is;
    with `group_hits` (and `mask`), also `group_buckets`."""
    if mask is None:
        idx = hashed_ngrams(text, n_features, ngram_max, word_ngram_max)
    else:
        masked = mask.mask(text)
        idx = hashed_ngrams(masked, n_features, ngram_max, word_ngram_max)
        if mask_keep and masked != text:
            idx = sorted(set(idx).union(hashed_ngrams(text, n_features, ngram_max, word_ngram_max)))
    if not lexicons:
        return idx
    out = set(idx).union(lexicon_buckets(text, n_features, lexicons, lexicon_multi))
    if group_hits and mask is not None:
        out.update(group_buckets(text, n_features, lexicons, mask))
    return sorted(out)


class LinearModel:
    """Binary logistic regression over hashed char (+ word) n-grams, L2-normalised binary."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as z:
            self.weights = z["weights"].astype(np.float32)
            self.bias = float(z["bias"])
            self.meta = json.loads(str(z["meta"]))
        self.n_features = int(self.meta["n_features"])
        self.ngram_max = int(self.meta.get("ngram_max", 3))
        self.word_ngram_max = int(self.meta.get("word_ngram_max", 0))
        self.name = self.meta.get("name", path.stem)
        try:
            self.lexicons = tuple(load_lexicon(n) for n in self.meta.get("lexicons", ()))
        except OSError as exc:
            raise ValueError(f"{path}: word list missing ({exc.filename})") from None
        self.lexicon_multi = bool(self.meta.get("lexicon_multi", False))
        # target masking: the list whose entries are replaced by MASK before featurising
        self.mask = None
        if self.meta.get("mask"):
            try:
                self.mask = load_lexicon(str(self.meta["mask"]))
            except OSError as exc:
                raise ValueError(f"{path}: word list missing ({exc.filename})") from None
        self.mask_keep = bool(self.meta.get("mask_keep", False))
        # a bucket per word list hit in a clause that names a group (round 5; needs mask)
        self.group_hits = bool(self.meta.get("group_hits", False))
        # decision threshold chosen on validation by the training script (0.5 if none)
        self.threshold = float(self.meta.get("threshold", 0.5))
        if self.weights.shape[0] != self.n_features or self.n_features & (self.n_features - 1):
            raise ValueError(f"{path}: bad model shape")

    def logit(self, text: str) -> float:
        idx = model_features(text, self.n_features, self.ngram_max, self.word_ngram_max,
                             self.lexicons, self.lexicon_multi, self.mask, self.mask_keep,
                             self.group_hits)
        if not idx:
            return self.bias
        return self.bias + float(self.weights[idx].sum()) / math.sqrt(len(idx))

    def proba(self, text: str) -> float:
        z = self.logit(text)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@lru_cache(maxsize=None)
def load_model(name: str) -> LinearModel | None:
    """Model `models/<name>.npz`, or None (with a warning) if it is missing."""
    path = MODELS_DIR / f"{name}.npz"
    if not path.exists():
        logger.warning("model %s not found at %s; rules only", name, path)
        return None
    try:
        return LinearModel(path)
    except ValueError as exc:
        logger.warning("model %s unusable (%s); rules only", name, exc)
        return None

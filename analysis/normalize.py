"""Text normalisation shared by every detector.

`normalize(text)` gives the view the rule packs and models read: Simplified Chinese
(OpenCC t2s), half-width ASCII and punctuation, known ASR slips corrected
(`rules/asr_fixes.yaml`), fillers and stutters removed.

`digit_view(text)` gives the view the PII rules read: every character that can be a
spoken or written digit mapped to 0-9 (幺=1, 两=2, 〇/零=0, X kept for ID checksums),
each with its offset in the ORIGINAL text so spans can be reported and redacted there.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

from analysis.rules import load_yaml
from core.chinese import to_simplified

logger = logging.getLogger("analysis")

_PUNCT = str.maketrans({
    "。": ".", "、": ",", "…": ".", "—": "-", "～": "~", "「": '"', "」": '"',
    "『": '"', "』": '"', "“": '"', "”": '"', "‘": "'", "’": "'", "《": '"', "》": '"',
    "【": "(", "】": ")", "〔": "(", "〕": ")", "\u3000": " ",
})
_CJK = r"\u3400-\u9fff"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
_SPACES = re.compile(r"\s+")
# Fillers that never carry meaning: 嗯/呃 anywhere, and stand-alone 啊/额/哦/那个 tokens.
_FILLER_ANY = re.compile(r"[嗯呃]+[,.]?")
_FILLER_TOKEN = re.compile(r"(?:(?<=^)|(?<=[,.!?;:]))(?:额+|啊+|哦+|唉+|那个|就是说)(?:[,.!?;:]|$)")
# Stutters: a 2-4 char unit said 3+ times -> once; a single char 3+ times -> twice.
_REPEAT_MULTI = re.compile(r"([^\d\s,.!?]{2,4})\1{2,}")
_REPEAT_SINGLE = re.compile(r"([^\d\s,.!?零一二三四五六七八九幺两〇])\1{2,}")
_MULTI_PUNCT = re.compile(r"([,.!?;:])[,.!?;:]+")


@lru_cache(maxsize=1)
def _asr_fixes() -> list[tuple[re.Pattern[str], str]]:
    data = load_yaml("asr_fixes.yaml")
    return [(re.compile(f["pattern"]), f["replace"]) for f in data.get("fixes", [])]


def normalize(text: str) -> str:
    """Normalised view of one utterance (see module docstring). Pure and cheap."""
    if not text:
        return ""
    t = to_simplified(text)
    t = unicodedata.normalize("NFKC", t).translate(_PUNCT).lower()
    t = _SPACE_BETWEEN_CJK.sub("", t)
    t = _SPACES.sub(" ", t).strip()
    for pattern, repl in _asr_fixes():
        t = pattern.sub(repl, t)
    t = _FILLER_ANY.sub("", t)
    t = _FILLER_TOKEN.sub("", t)
    t = _REPEAT_MULTI.sub(r"\1", t)
    t = _REPEAT_SINGLE.sub(r"\1\1", t)
    t = _MULTI_PUNCT.sub(r"\1", t)
    return t.strip(" ,")


# ---- digit view for PII -------------------------------------------------------------
DIGIT_CHARS: dict[str, str] = {
    "零": "0", "〇": "0", "○": "0", "洞": "0", "一": "1", "幺": "1", "壹": "1", "二": "2", "两": "2",
    "兩": "2", "贰": "2", "貳": "2", "三": "3", "叁": "3", "參": "3", "四": "4", "肆": "4",
    "五": "5", "伍": "5", "六": "6", "陆": "6", "陸": "6", "七": "7", "柒": "7", "八": "8",
    "捌": "8", "九": "9", "玖": "9", "x": "X", "X": "X", "ｘ": "X", "Ｘ": "X", "叉": "X",
}
for _i in range(10):
    DIGIT_CHARS[str(_i)] = str(_i)
    DIGIT_CHARS[chr(0xFF10 + _i)] = str(_i)
# Characters allowed between two digits of one spoken/written number.
SEPARATORS = frozenset(" \t-,，、.·—_/()（）")


def digit_view(text: str) -> list[tuple[str, list[int], list[int]]]:
    """Runs of digits in `text`: (digits, offsets, group_starts).

    `digits` is the run as 0-9/X, `offsets[i]` the index in `text` of digit i,
    `group_starts` the digit indices where a new separator-delimited group begins
    (so two numbers said one after the other with a comma can be told apart).
    A single separator (or spaces) may sit between digits; anything else ends the run.
    """
    runs: list[tuple[str, list[int], list[int]]] = []
    digits: list[str] = []
    offs: list[int] = []
    groups: list[int] = []
    pending_sep = False
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        d = DIGIT_CHARS.get(ch)
        if d is not None:
            if d == "X" and not digits:  # X only ends an ID, never starts a number
                i += 1
                continue
            if pending_sep or not digits:
                groups.append(len(digits))
            digits.append(d)
            offs.append(i)
            pending_sep = False
        elif ch in SEPARATORS and digits:
            j = i
            while j < n and text[j] in SEPARATORS:
                j += 1
            if j - i > 3 or j >= n or text[j] not in DIGIT_CHARS:
                runs.append(("".join(digits), offs, groups))
                digits, offs, groups = [], [], []
            else:
                pending_sep = True
            i = j
            continue
        else:
            if digits:
                runs.append(("".join(digits), offs, groups))
                digits, offs, groups = [], [], []
            pending_sep = False
        i += 1
    if digits:
        runs.append(("".join(digits), offs, groups))
    return runs

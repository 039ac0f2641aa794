"""Script conversion: Whisper and users write Traditional characters; everything we match
and store is Simplified. One OpenCC converter for the whole process."""
from __future__ import annotations

from functools import lru_cache

import opencc


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (other scripts pass through)."""
    return _t2s().convert(text) if text else text


def is_speech_char(char: str) -> bool:
    """A character speech is written in: a Chinese character or a digit (not punctuation,
    spaces or Latin letters)."""
    return char.isdigit() or "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"

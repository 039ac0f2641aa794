"""Script conversion: Whisper and users write Traditional characters; everything we match
and store is Simplified. One OpenCC converter for the whole process, and jieba's default
tokenizer, loaded once."""
from __future__ import annotations

import logging
import threading
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


def speech_runs(text: str) -> list[str]:
    """The stretches of speech characters of ``text`` in Simplified Chinese, split at anything
    else (punctuation, spaces, Latin letters)."""
    out, cur = [], []
    for ch in to_simplified(text):
        if is_speech_char(ch):
            cur.append(ch)
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out


_jieba_lock = threading.Lock()
_jieba = None


def jieba_dictionary():
    """jieba's default tokenizer (``jieba.dt``: ``cut``, ``FREQ``), its dictionary loaded once
    per process on first use, without logging (threads wait for the first load)."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba.dt
    return _jieba

"""Put domain terms back where Whisper wrote a homophone: 于七 → 逾期, 合时 → 核实, 仗单 → 账单.

Through an 8 kHz line Whisper base often hears a collection term and writes other characters
with the same sound (the tones are what the line loses first). For every stretch of the
transcript that sounds like a term of the vocabulary (same pinyin syllables, tones ignored,
its commonest reading; a term's reading as a phrase), the term is put in its place when the
collection language model (core/char_lm.py) finds the sentence with the term more likely by
at least ``asr.correction_margin`` (log10: 1.0 = ten times as likely), or by
``asr.correction_word_margin`` when the stretch is itself a common word (合适, 预期, 克服: jieba's
dictionary frequency >= ``COMMON_WORD``). A stretch must begin and end where jieba's dictionary
segmentation of the sentence does (明目张胆 holds no 张胆 → 账单), except inside a number. A digit
counts as the syllable it is read as: "已经于745天" (Whisper hearing 逾期四十五天) becomes
"已经逾期45天".

Only characters change, one for one, so every word keeps its timing; nothing is inserted or
removed. The terms are those of ``asr.vocabulary`` and ``asr.correction_terms`` (text files a
centre edits).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from core.domain import Word
from core.char_lm import NUMBER, CharLM, lm_text
from core.chinese import is_speech_char, jieba_dictionary

RUN_GAP_S = 0.8   # a pause this long between two words ends a stretch of speech
COMMON_WORD = 50  # jieba dictionary frequency from which a stretch is a common word in its own right
_DIGIT_READING = "零一二三四五六七八九"
_EXTRA_READINGS = {"1": ("yao",), "2": ("liang",)}   # 幺 in phone numbers, 两 before a measure


def _toneless(syllable: str) -> str:
    s = syllable.replace("ü", "v").replace("ǖ", "v").replace("ǘ", "v").replace("ǚ", "v").replace("ǜ", "v")
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


# pypinyin's phrase readings, corrected where it reads a collection word wrong
PHRASE_READINGS = {"还款": [["huán"], ["kuǎn"]]}


@lru_cache(maxsize=None)
def readings(char: str) -> frozenset[str]:
    """How a character Whisper wrote sounds: its commonest toneless pinyin reading (the
    dictionary's first; rarer readings made stretches like 不完 sound like 还款: 不 fu, 完
    kuan); a digit: the numeral it is read as (1 also yao, 2 also liang); empty for anything
    else."""
    from pypinyin.pinyin_dict import pinyin_dict

    extra: tuple[str, ...] = ()
    if char.isdigit() and unicodedata.digit(char, -1) >= 0:
        d = str(unicodedata.digit(char))
        extra = _EXTRA_READINGS.get(d, ())
        char = _DIGIT_READING[int(d)]
    raw = [r for r in pinyin_dict.get(ord(char), "").split(",") if r][:1]
    return frozenset([_toneless(r) for r in raw] + list(extra))


def term_sounds(term: str) -> list[frozenset[str]]:
    """How a term sounds, character by character: its reading as a phrase (银行 yin hang,
    还款 huan kuan) and each character's commonest reading (行 xing, 还 hai)."""
    from pypinyin import Style, lazy_pinyin, load_phrases_dict

    load_phrases_dict(PHRASE_READINGS)
    phrase = lazy_pinyin(term, style=Style.NORMAL, v_to_u=False)
    return [frozenset({_toneless(p)} | readings(c)) for c, p in zip(term, phrase)]


_BLUR_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
_BLUR_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"))


def blur(syllable: str) -> str:
    """A toneless syllable with the distinctions a telephone line and southern accents lose
    merged: zh/z, ch/c, sh/s, l/n, and the finals in/ing, en/eng, an/ang (名声 ~ 民生)."""
    for a, b in _BLUR_INITIALS:
        if syllable.startswith(a):
            syllable = b + syllable[len(a):]
            break
    for a, b in _BLUR_FINALS:
        if syllable.endswith(a):
            return syllable[:-len(a)] + b
    return syllable


def word_edges(run: str) -> set[int]:
    """The positions in ``run`` where jieba's dictionary segmentation (no HMM guessing) puts a
    word boundary, and every position inside a number, digits or numerals (Whisper hears
    逾期十二天 as 于七十二天, which jieba cuts 于|七十二|天)."""
    edges, pos = {0}, 0
    for word in jieba_dictionary().cut(run, HMM=False):
        pos += len(word)
        edges.add(pos)
    edges.update(i for i in range(1, len(run)) if _is_number_char(run[i - 1]) and _is_number_char(run[i]))
    return edges


def _is_number_char(char: str) -> bool:
    return char.isdigit() or lm_text(char) == NUMBER


def word_frequency(text: str) -> int:
    """jieba's dictionary frequency of ``text`` as one word (0: not a word)."""
    return jieba_dictionary().FREQ.get(text, 0)


@dataclass(frozen=True, slots=True)
class Correction:
    """One stretch put back to a term: where in its stretch of speech, what and the gain."""

    start: int
    before: str
    after: str
    gain: float    # log10 P(with the term) - log10 P(as written)
    blurred: int = 0   # syllables that matched only once blurred (zh/z, in/ing ...)


class TermCorrector:
    """Terms matched by sound and kept when the language model prefers them."""

    def __init__(self, terms: tuple[str, ...], lm: CharLM, margin: float, word_margin: float,
                 blur_cost: float = 0.0):
        self.lm = lm
        self.margin = margin
        self.word_margin = word_margin
        self.blur_cost = blur_cost
        self.terms = tuple(t for t in dict.fromkeys(terms) if len(t) >= 2 and all(readings(c) for c in t))
        self._sounds = {t: term_sounds(t) for t in self.terms}
        self._blurred = {t: [frozenset(blur(r) for r in s) for s in sounds] for t, sounds in self._sounds.items()}

    def sounds_like(self, text: str, term: str) -> int | None:
        """How many syllables of ``text`` match ``term`` only when blurred (0: all exactly),
        or None when it does not sound like it (blurring only with a ``blur_cost`` above 0)."""
        if len(text) != len(term):
            return None
        blurred = 0
        for c, exact, loose in zip(text, self._sounds[term], self._blurred[term]):
            heard = readings(c)
            if heard & exact:
                continue
            if not self.blur_cost or not {blur(r) for r in heard} & loose:
                return None
            blurred += 1
        return blurred

    def candidates(self, run: str) -> list[Correction]:
        """Every place in ``run`` (a stretch of speech, no punctuation) that sounds like a term
        it is not and that starts and ends on word edges, with the language model's gain for
        the term; best first."""
        found = []
        base = edges = None
        for term in self.terms:
            n = len(term)
            for i in range(len(run) - n + 1):
                window = run[i:i + n]
                if window == term:
                    continue
                blurred = self.sounds_like(window, term)
                if blurred is None or blurred > 1:
                    continue
                if edges is None:
                    edges = word_edges(run)
                if i not in edges or i + n not in edges:
                    continue
                if base is None:
                    base = self.lm.logprob(run)
                gain = self.lm.logprob(run[:i] + term + run[i + n:]) - base
                found.append(Correction(i, window, term, round(gain, 3), blurred))
        return sorted(found, key=lambda c: (-c.gain, c.start, c.after))

    def margin_for(self, c: Correction) -> float:
        """The gain a stretch needs to become a term: more when it is a common word, and
        ``blur_cost`` more when a syllable matched only blurred."""
        base = self.word_margin if word_frequency(c.before) >= COMMON_WORD else self.margin
        return base + c.blurred * self.blur_cost

    def correct_run(self, run: str) -> tuple[str, list[Correction]]:
        """``run`` with the terms put back where the gain reaches the margin (the best first,
        never two on the same characters), and those corrections."""
        taken = [False] * len(run)
        chars = list(run)
        done = []
        for c in self.candidates(run):
            span = range(c.start, c.start + len(c.after))
            if c.gain < self.margin_for(c) or any(taken[k] for k in span):
                continue
            for k, ch in zip(span, c.after):
                chars[k], taken[k] = ch, True
            done.append(c)
        return "".join(chars), done

    def correct_text(self, text: str) -> str:
        """``text`` with every stretch of speech corrected (``correct_text_runs``)."""
        return correct_text_runs(text, self.correct_run)

    def correct_words(self, words: list[Word]) -> tuple[list[Word], int]:
        """``words`` (one channel, in time order) with the terms put back, and how many places
        changed (``correct_word_runs``)."""
        return correct_word_runs(words, self.correct_run)


def correct_text_runs(text: str, correct_run) -> str:
    """``text`` with ``correct_run(stretch) -> (stretch, changes)`` applied to every stretch of
    speech; punctuation and other characters end a stretch and stay as they are."""
    out, run = [], []

    def flush() -> None:
        if run:
            out.append(correct_run("".join(run))[0])
            run.clear()

    for ch in text:
        if is_speech_char(ch):
            run.append(ch)
        else:
            flush()
            out.append(ch)
    flush()
    return "".join(out)


def correct_word_runs(words: list[Word], correct_run) -> tuple[list[Word], int]:
    """``words`` (one channel, in time order) with ``correct_run`` applied to each stretch of
    speech, and how many changes it made. A stretch runs over words until a punctuation mark
    or a pause of ``RUN_GAP_S``; ``correct_run(text) -> (text, changes)`` changes characters one
    for one, and each changed character stays in its word, so timings are kept."""
    texts = [list(w.text) for w in words]
    places: list[tuple[int, int]] = []   # (word, character) of the current stretch
    changed = 0

    def flush() -> None:
        nonlocal changed
        if len(places) >= 2:
            fixed, done = correct_run("".join(texts[w][k] for w, k in places))
            for (w, k), ch in zip(places, fixed):
                texts[w][k] = ch
            changed += len(done)
        places.clear()

    for wi, word in enumerate(words):
        if wi and word.start - words[wi - 1].end >= RUN_GAP_S:
            flush()
        for ki, ch in enumerate(word.text):
            if is_speech_char(ch):
                places.append((wi, ki))
            else:
                flush()
    flush()
    if not changed:
        return words, 0
    out = [w if "".join(t) == w.text else Word(start=w.start, end=w.end, text="".join(t), probability=w.probability)
           for w, t in zip(words, texts)]
    return out, changed

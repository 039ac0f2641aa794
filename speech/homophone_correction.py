"""Put single characters back where Whisper wrote a homophone the sentence rejects:
在不海 → 再不还, 刘女是 → 刘女士, 反死了 → 烦死了.

Through an 8 kHz line Whisper base hears the syllable and often picks the wrong character for
it (the tones are what the line loses first). Term correction (speech/term_correction.py)
puts back whole collection terms; this puts back one character at a time, anywhere: every
character of a stretch of speech is weighed against the characters that sound like it
(toneless pinyin: any reading of the candidate equals the written character's commonest
reading, ``term_correction.readings``) and seen at least ``MIN_COUNT`` times in the collection
language model's text (core/char_lm.py), and the candidate is put in its place when the model
finds the sentence more likely with it by at least ``asr.homophone_margin`` (log10), plus
``asr.homophone_word_margin`` when the character is part of a common word as written (jieba's
dictionary, as for terms) and ``asr.homophone_edge_margin`` at either end of a stretch, where
the model sees context on one side only. The best change of a stretch is made first, then the
next with the change in place; no character changes twice.

Never changed: numbers (digits and numeral characters), 他/她/它 (they sound alike and the
sentence rarely tells them apart), anything that is not a speech character. Only characters
change, one for one, so every word keeps its timing. Measured in bench/README.md ("ASR
accuracy, round 6"): bench/asr_errors.py for CER, bench/term_correction.py for false changes.
"""
from __future__ import annotations

import math
from collections import defaultdict
from functools import cached_property, lru_cache

from core.char_lm import BEGIN, END, NUMBER, CharLM, lm_text
from core.chinese import is_speech_char, jieba_dictionary
from core.domain import Word
from speech.term_correction import (COMMON_WORD, Correction, _toneless, correct_text_runs, correct_word_runs, readings,
                                    word_frequency)

MIN_COUNT = 20               # a candidate must occur this often in the model's text (weighted counts)
NEVER = frozenset("他她它")   # same sound, and the sentence rarely says which


@lru_cache(maxsize=None)
def all_readings(char: str) -> frozenset[str]:
    """Every toneless pinyin reading of ``char`` (还: hai and huan)."""
    from pypinyin.pinyin_dict import pinyin_dict

    return frozenset(_toneless(r) for r in pinyin_dict.get(ord(char), "").split(",") if r)


def _plain(char: str) -> bool:
    """A speech character the model reads as itself: not a digit or numeral (``^``, ``$`` and
    ``#`` are not speech characters)."""
    return is_speech_char(char) and not char.isdigit() and lm_text(char) == char


class HomophoneCorrector:
    """Single characters replaced by a homophone when the language model prefers it enough."""

    def __init__(self, lm: CharLM, margin: float, word_margin: float, edge_margin: float,
                 min_count: int = MIN_COUNT):
        self.lm = lm
        self.margin = margin
        self.word_margin = word_margin
        self.edge_margin = edge_margin
        self.min_count = min_count

    @cached_property
    def _by_sound(self) -> dict[str, frozenset[str]]:
        groups: dict[str, set[str]] = defaultdict(set)
        for char, count in self.lm.uni.items():
            if count >= self.min_count and len(char) == 1 and _plain(char) and char not in NEVER:
                for r in all_readings(char):
                    groups[r].add(char)
        return {r: frozenset(cs) for r, cs in groups.items()}

    def sounds_like(self, char: str) -> frozenset[str]:
        """The characters that may stand for ``char`` (itself excluded; none for numbers,
        他/她/它 and anything that is not a plain speech character)."""
        if not _plain(char) or char in NEVER:
            return frozenset()
        out: set[str] = set()
        for r in readings(char):
            out |= self._by_sound.get(r, frozenset())
        out.discard(char)
        return frozenset(out)

    def _in_words(self, run: str) -> set[int]:
        """Positions of ``run`` inside a common word of two or more characters as written."""
        inside, pos = set(), 0
        for word in jieba_dictionary().cut(run, HMM=False):
            if len(word) >= 2 and word_frequency(word) >= COMMON_WORD:
                inside.update(range(pos, pos + len(word)))
            pos += len(word)
        return inside

    def margin_at(self, i: int, run: str, in_words: set[int]) -> float:
        """The gain a change at ``i`` of ``run`` needs."""
        return (self.margin + (self.word_margin if i in in_words else 0.0)
                + (self.edge_margin if i in (0, len(run) - 1) else 0.0))

    def correct_run(self, run: str) -> tuple[str, list[Correction]]:
        """``run`` (a stretch of speech, no punctuation) with homophones put back, and the
        changes, in the order they were made."""
        chars = list(run)
        done: list[Correction] = []
        options = {i: self.sounds_like(c) for i, c in enumerate(chars)}
        options = {i: o for i, o in options.items() if o}
        if len(run) < 2 or not options:
            return run, done
        # the model's sequence: "^^" + the run with each number one "#" + "$"; where each character lands
        seq, where = [BEGIN, BEGIN], {}
        for i, c in enumerate(chars):
            if _plain(c):
                where[i] = len(seq)
                seq.append(c)
            elif not (lm_text(c) == NUMBER and seq[-1] == NUMBER):   # a number is one "#"
                seq.append(lm_text(c))
        seq.append(END)

        def local(s: list[str], k: int) -> float:    # the trigrams a change at k touches
            return sum(math.log10(self.lm.p(s[j - 2] + s[j - 1], s[j])) for j in range(k, min(k + 3, len(s))))

        in_words = self._in_words(run)
        while options:
            best = None
            for i, cands in options.items():
                k = where[i]
                base = local(seq, k)
                need = self.margin_at(i, run, in_words)
                for cand in sorted(cands):
                    trial = seq[:k] + [cand] + seq[k + 1:]
                    gain = local(trial, k) - base
                    if gain >= need and (best is None or gain > best[0]):
                        best = (gain, i, cand)
            if best is None:
                break
            gain, i, cand = best
            done.append(Correction(i, chars[i], cand, round(gain, 3)))
            chars[i] = seq[where[i]] = cand
            del options[i]
        return "".join(chars), done

    def correct_text(self, text: str) -> str:
        """``text`` with every stretch of speech corrected (``correct_text_runs``)."""
        return correct_text_runs(text, self.correct_run)

    def correct_words(self, words: list[Word]) -> tuple[list[Word], int]:
        """``words`` (one channel, in time order) corrected stretch by stretch, as the term
        correction walks them, and how many characters changed; timings kept."""
        return correct_word_runs(words, self.correct_run)

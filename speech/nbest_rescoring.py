"""Whisper's beam search n-best re-ranked with the collection language model.

Whisper base keeps several readings of a 30-s window in its beam; the one it prints is the
one its own decoder likes best, which through an 8 kHz line is often a reading the sentence
rejects while a better one is in the beam (计同减是 for 系统显示, 福导员 for 辅导员, 备助 for 备注).
Here the beam's ``asr.rescore_hypotheses`` best finished readings of each window are scored
again, each as

    Whisper's score (its mean log probability per token, the order its beam ranks readings
    by) × the number of tokens of Whisper's own reading
    + ``asr.rescore_weight`` × the language model's log probability (core/char_lm.py, in nats)

and faster-whisper goes on with the best one (at weight 0, Whisper's own): its segments,
timestamps and word alignment are Whisper's for that reading, nothing is edited after the
search. Only readings that end on the same token as Whisper's own and are at most
``LENGTH_SLACK`` speech characters longer or shorter compete: a reading that stops elsewhere
moves where the next window starts, and the language model favours shorter text. Only the
beam search at temperature 0 is re-ranked; fallback sampling, greedy search and a window with
one reading pass through unchanged. Measured in bench/README.md ("ASR accuracy, round 7"),
with bench/asr_rescoring.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from core.char_lm import CharLM
from core.chinese import speech_runs

LN10 = math.log(10.0)
LENGTH_SLACK = 1      # speech characters a competing reading may differ from Whisper's by


@dataclass(frozen=True)
class Reading:
    """One finished hypothesis of a window: its tokens, text as the model reads it, scores."""

    tokens: tuple[int, ...]
    text: str           # Simplified, speech characters only, stretches joined by " "
    whisper: float      # Whisper's score: log probability per token (length-normalised)
    lm: float           # the language model's log10 probability of the stretches
    chars: int          # speech characters


def reading(tokens, score: float, decode: Callable[[list[int]], str], lm: CharLM) -> Reading:
    """A ``Reading`` of one hypothesis; ``score`` is CTranslate2's length-normalised score."""
    runs = speech_runs(decode(list(tokens)))
    return Reading(tuple(tokens), " ".join(runs), score, sum(lm.logprob(r) for r in runs), sum(map(len, runs)))


def total(r: Reading, weight: float, tokens: int) -> float:
    """The score a reading is ranked by, Whisper's part on the scale of ``tokens`` tokens."""
    return r.whisper * tokens + weight * LN10 * r.lm


def competes(r: Reading, first: Reading) -> bool:
    """``r`` ends where Whisper's own reading ``first`` ends and is about as long."""
    return bool(r.tokens) and r.tokens[-1:] == first.tokens[-1:] and abs(r.chars - first.chars) <= LENGTH_SLACK


def best(readings: list[Reading], weight: float) -> int:
    """Index of the reading to keep: the first (Whisper's own choice) unless a competing one
    (``competes``) scores strictly higher; a text already seen never wins."""
    first = readings[0]
    n = max(len(first.tokens), 1)
    choice, top, seen = 0, total(first, weight, n), {first.text}
    for i, r in enumerate(readings[1:], start=1):
        if r.text in seen or not competes(r, first):
            continue
        seen.add(r.text)
        s = total(r, weight, n)
        if s > top:
            choice, top = i, s
    return choice


@dataclass
class RescoredResult:
    """What faster-whisper reads of a CTranslate2 ``WhisperGenerationResult``, for the reading kept."""

    sequences_ids: list[list[int]]
    scores: list[float]
    no_speech_prob: float


class RescoringWhisper:
    """A CTranslate2 Whisper model whose beam search returns the n-best reading the language
    model and Whisper together prefer; every other call goes to the model itself.

    ``on_window`` (optional) is called with each window's readings and the index kept
    (bench/asr_rescoring.py records them to try other weights without decoding again).
    """

    def __init__(self, model, decode: Callable[[list[int]], str], lm: CharLM, hypotheses: int,
                 weight: float, on_window: Callable[[list[Reading], int], None] | None = None):
        self.model = model
        self.decode = decode
        self.lm = lm
        self.hypotheses = hypotheses
        self.weight = weight
        self.on_window = on_window

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def choose(self, readings: list[Reading]) -> int:
        """Index of the reading kept (``best`` at the configured weight)."""
        return best(readings, self.weight)

    def generate(self, features, prompts, **kwargs):
        beam = kwargs.get("beam_size", 1)
        if beam <= 1 or self.hypotheses <= 1 or kwargs.get("num_hypotheses", 1) > 1:
            return self.model.generate(features, prompts, **kwargs)
        kwargs["return_scores"] = True
        results = self.model.generate(features, prompts, num_hypotheses=min(self.hypotheses, beam), **kwargs)
        out = []
        for result in results:
            readings = [reading(t, s, self.decode, self.lm)
                        for t, s in zip(result.sequences_ids, result.scores)]
            if not readings:
                out.append(result)
                continue
            k = self.choose(readings)
            if self.on_window is not None:
                self.on_window(readings, k)
            out.append(RescoredResult([list(readings[k].tokens)], [result.scores[k]], result.no_speech_prob))
        return out

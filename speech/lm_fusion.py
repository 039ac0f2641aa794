"""Whisper's beam search with the collection language model fused into it (shallow fusion).

Re-ranking the beam's finished readings (speech/nbest_rescoring.py) can only choose among what
Whisper's own search kept; bench/README.md measured that a perfect choice among them still leaves
new writers' calls above the issue's 11 %. Here the language model (core/char_lm.py) scores every
extension while the beam is searched, so readings Whisper alone would have pruned early can
survive. Each candidate token is ranked by

    Whisper's log probability of the token
    + ``asr.fusion_weight`` x ln 10 x the language model's log10 probability of the speech
      characters the token completes (Simplified; a run of numerals scores as one ``#``)
    + ``asr.fusion_bonus`` x the number of those characters (against the model's pull to
      shorter text)

and finished readings by that total divided by their length in tokens. What is returned to
faster-whisper is Whisper's part alone (its score, the no-speech probability), so its
fallback, log-probability and no-speech checks judge the audio as before.

The search is Whisper's (as openai-whisper and CTranslate2 run it): ``beam_size`` readings
kept, each extended by its ``beam_size + 1`` likeliest tokens, finished readings collected
until ``round(beam_size x patience)`` are in; the timestamp rules (timestamps in pairs,
non-decreasing, the first token a timestamp no later than ``max_initial_timestamp_index``,
text suppressed when the timestamps together are likelier than any text token),
``suppress_tokens`` and ``suppress_blank``. The decoder is core/whisper_decoder.py (int8 linear
layers, as CTranslate2's int8), cross-attending to CTranslate2's encoder output.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

from core.char_lm import BEGIN, NUMBER, NUMERALS, CharLM
from core.chinese import is_speech_char, to_simplified
from speech.nbest_rescoring import LN10, RescoredResult


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level BPE alphabet (Whisper's tokenizer): byte -> the character standing for it."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, n = keep[:], 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(keep, map(chr, chars)))


def token_bytes(id_to_token: Callable[[int], str | None], count: int) -> list[bytes]:
    """The UTF-8 bytes of tokens 0 .. count-1 (text tokens; Whisper's byte-level pieces)."""
    back = {c: b for b, c in _bytes_to_unicode().items()}
    out = []
    for i in range(count):
        piece = id_to_token(i) or ""
        out.append(bytes(back[c] for c in piece if c in back))
    return out


@lru_cache(maxsize=8192)
def _lm_char(char: str) -> str | None:
    """The character the language model reads for ``char``: ``#`` for a numeral, the
    Simplified form of a speech character, None for anything else (punctuation, spaces)."""
    if char in NUMERALS:
        return NUMBER
    if not is_speech_char(char):
        return None
    return to_simplified(char)[:1] or None


@dataclass(frozen=True)
class LMState:
    """Where one reading stands in the language model: the two characters before (``^^`` at
    the start of a stretch) and the bytes of a character not yet complete."""

    context: str = BEGIN + BEGIN
    pending: bytes = b""


def lm_extend(lm: CharLM, state: LMState, piece: bytes) -> tuple[float, int, LMState]:
    """(log10 probability of the speech characters ``piece`` completes, how many, new state).

    Punctuation and spaces end a stretch (the next character is scored as a stretch's first);
    a numeral after a numeral continues one ``#`` and costs nothing."""
    data = state.pending + piece
    text, rest = data, b""
    for cut in range(len(data), max(len(data) - 4, -1), -1):   # longest prefix that decodes
        try:
            text, rest = data[:cut].decode("utf-8"), data[cut:]
            break
        except UnicodeDecodeError:
            continue
    else:
        return 0.0, 0, LMState(state.context, data)
    logp, chars, ctx = 0.0, 0, state.context
    for ch in text:
        c = _lm_char(ch)
        if c is None:
            ctx = BEGIN + BEGIN
            continue
        chars += 1
        if c == NUMBER and ctx[-1] == NUMBER:
            continue
        logp += math.log10(lm.p(ctx, c))
        ctx = ctx[-1] + c
    return logp, chars, LMState(ctx, rest)


@dataclass(frozen=True)
class SearchOptions:
    """What faster-whisper asks of one window's search, and the fusion's two weights."""

    beam_size: int
    patience: float
    max_new_tokens: int
    suppress: tuple[int, ...]
    suppress_blank: tuple[int, ...]      # tokens barred as the first one (blank, end of text)
    timestamp_begin: int
    eot: int
    no_timestamps: int
    max_initial_timestamp_index: int | None
    timestamps: bool                     # False when the prompt asks for no timestamps
    weight: float
    bonus: float


@dataclass
class Hypothesis:
    tokens: list[int] = field(default_factory=list)
    whisper: float = 0.0     # Whisper's cumulative log probability (natural log)
    fused: float = 0.0       # with the language model's part
    lm: LMState = field(default_factory=LMState)


def apply_timestamp_rules(logits, seqs: list[list[int]], opts: SearchOptions):
    """Whisper's timestamp rules on logits (beams, vocab), in place; returns the log
    probabilities after them."""
    import torch

    tb, neg = opts.timestamp_begin, -math.inf
    logits[:, opts.no_timestamps] = neg
    for k, seq in enumerate(seqs):
        last = len(seq) >= 1 and seq[-1] >= tb
        penultimate = len(seq) < 2 or seq[-2] >= tb
        if last:
            if penultimate:
                logits[k, tb:] = neg
            else:
                logits[k, :opts.eot] = neg
        stamps = [t for t in seq if t >= tb]
        if stamps:
            floor = stamps[-1] if last and not penultimate else stamps[-1] + 1
            logits[k, tb:floor] = neg
        if not seq:
            logits[k, :tb] = neg
            if opts.max_initial_timestamp_index is not None:
                logits[k, tb + opts.max_initial_timestamp_index + 1:] = neg
    logprobs = torch.log_softmax(logits, -1)
    stamp_mass = torch.logsumexp(logprobs[:, tb:], -1)
    best_text = logprobs[:, :tb].max(-1).values
    over = stamp_mass > best_text
    if bool(over.any()):
        logits[over, :tb] = neg
        logprobs = torch.log_softmax(logits, -1)
    return logprobs


def fused_search(decoder, prompt: list[int], opts: SearchOptions, lm: CharLM, pieces: list[bytes],
                 no_speech: int | None, sot_index: int) -> tuple[list[int], float, float]:
    """One window: (tokens without end of text, Whisper's length-normalised score as CTranslate2
    reports it, the no-speech probability). ``decoder`` has the window's audio set."""
    import torch

    with torch.no_grad():
        logits_all, cache = decoder.prefill(torch.tensor([prompt]))
        no_speech_prob = float(torch.softmax(logits_all[0, sot_index], -1)[no_speech]) if no_speech is not None else 0.0
        logits = logits_all[:, -1].clone()
        beams = [Hypothesis()]
        finished: list[Hypothesis] = []
        wanted = max(1, round(opts.beam_size * opts.patience))
        width = opts.beam_size + 1
        for step in range(opts.max_new_tokens):
            if opts.suppress:
                logits[:, list(opts.suppress)] = -math.inf
            if step == 0 and opts.suppress_blank:
                logits[:, list(opts.suppress_blank)] = -math.inf
            if opts.timestamps:
                logprobs = apply_timestamp_rules(logits, [h.tokens for h in beams], opts)
            else:
                logprobs = torch.log_softmax(logits, -1)
            top_v, top_i = logprobs.topk(min(width, logprobs.shape[1]), -1)
            candidates = []
            for b, hyp in enumerate(beams):
                for v, t in zip(top_v[b].tolist(), top_i[b].tolist()):
                    if v == -math.inf:
                        continue
                    fused, state = hyp.fused + v, hyp.lm
                    if t < opts.eot and opts.weight:
                        lp, chars, state = lm_extend(lm, hyp.lm, pieces[t])
                        fused += opts.weight * LN10 * lp + opts.bonus * chars
                    candidates.append((fused, b, t, hyp.whisper + v, state))
            candidates.sort(key=lambda c: -c[0])
            kept: list[tuple[int, Hypothesis]] = []
            for fused, b, t, whisper, state in candidates:
                hyp = Hypothesis(beams[b].tokens + [t], whisper, fused, state)
                if t == opts.eot:
                    if len(finished) < wanted:
                        finished.append(hyp)
                else:
                    kept.append((b, hyp))
                if len(kept) == opts.beam_size:
                    break
            if len(finished) >= wanted or not kept:
                break
            order = torch.tensor([b for b, _ in kept])
            beams = [h for _, h in kept]
            cache = [(k.index_select(0, order), v.index_select(0, order)) for k, v in cache]
            logits, cache = decoder.step(torch.tensor([h.tokens[-1] for h in beams]), cache)
        if len(finished) < wanted:
            finished.extend(beams[:wanted - len(finished)])

    def normalised(h: Hypothesis) -> float:
        return h.fused / max(len(h.tokens), 1)

    best = max(finished, key=normalised)
    tokens = [t for t in best.tokens if t != opts.eot]
    return tokens, best.whisper / max(len(tokens), 1), no_speech_prob


class FusionWhisper:
    """A CTranslate2 Whisper model whose beam searches (temperature 0) run ``fused_search``;
    sampling at a fallback temperature, greedy search and every other call go to the model.
    One window is searched at a time (the decoder holds the window's audio)."""

    def __init__(self, model, decoder, hf_tokenizer, lm: CharLM, weight: float, bonus: float):
        self.model = model
        self.decoder = decoder
        self.lm = lm
        self.weight = weight
        self.bonus = bonus
        self.eot = hf_tokenizer.token_to_id("<|endoftext|>")
        self.sot = hf_tokenizer.token_to_id("<|startoftranscript|>")
        self.no_timestamps = hf_tokenizer.token_to_id("<|notimestamps|>")
        self.no_speech = hf_tokenizer.token_to_id("<|nospeech|>") or hf_tokenizer.token_to_id("<|nocaptions|>")
        self.timestamp_begin = self.no_timestamps + 1
        self.blank = tuple(hf_tokenizer.encode(" ", add_special_tokens=False).ids) + (self.eot,)
        self.pieces = token_bytes(hf_tokenizer.id_to_token, self.eot)
        self.lock = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def encoder_output(self, features) -> np.ndarray:
        """(windows, frames, d) float32 from what faster-whisper passes: the encoder's output
        (its usual call) or mel features (then encoded here)."""
        arr = np.array(features)
        if arr.ndim == 3 and arr.shape[1] == self.model.n_mels:
            import ctranslate2

            arr = np.array(self.model.encode(ctranslate2.StorageView.from_array(arr), to_cpu=True))
        return np.asarray(arr, dtype=np.float32)

    def generate(self, features, prompts, **kwargs):
        beam = kwargs.get("beam_size", 1)
        if beam <= 1 or kwargs.get("num_hypotheses", 1) > 1 or kwargs.get("sampling_temperature", 1.0) != 1.0:
            return self.model.generate(features, prompts, **kwargs)
        import torch

        encoded = self.encoder_output(features)
        out = []
        for window, prompt in zip(encoded, prompts):
            prompt = list(prompt)
            opts = SearchOptions(
                beam_size=beam,
                patience=float(kwargs.get("patience", 1.0)),
                max_new_tokens=max(1, min(int(kwargs.get("max_length", 448)), self.decoder.max_positions) - len(prompt)),
                suppress=tuple(t for t in kwargs.get("suppress_tokens") or () if t >= 0),
                suppress_blank=self.blank if kwargs.get("suppress_blank", True) else (),
                timestamp_begin=self.timestamp_begin,
                eot=self.eot,
                no_timestamps=self.no_timestamps,
                max_initial_timestamp_index=kwargs.get("max_initial_timestamp_index"),
                timestamps=self.no_timestamps not in prompt,
                weight=self.weight,
                bonus=self.bonus,
            )
            sot_index = prompt.index(self.sot) if self.sot in prompt else 0
            with self.lock:
                self.decoder.set_audio(torch.from_numpy(window[None]))
                tokens, score, no_speech_prob = fused_search(self.decoder, prompt, opts, self.lm, self.pieces,
                                                             self.no_speech, sot_index)
            out.append(RescoredResult([tokens], [score], no_speech_prob))
        return out

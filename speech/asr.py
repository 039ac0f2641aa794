"""faster-whisper transcription with word timestamps and guards against invented text."""
from __future__ import annotations

import threading

import numpy as np

from core.char_lm import load_lm
from core.domain import Word
from core.settings import MODEL_SAMPLE_RATE, AsrSettings, project_path, vocabulary_terms
from core.whisper_decoder import WhisperDecoder
from speech import logger
from speech.homophone_correction import HomophoneCorrector
from speech.lm_fusion import FusionWhisper
from speech.nbest_rescoring import RescoringWhisper
from speech.term_correction import TermCorrector
from speech.whisper_models import resolve_model
from speech.text import load_phrase_list, simplify_pieces, squash

TERM_SEPARATOR = "、"   # the terms as one enumeration, "信用卡、逾期、还款。": a list joined with
                       # "，" or spaces made Whisper base drop timestamps and lose words (bench/README.md)


def vocabulary_options(settings: AsrSettings) -> dict[str, str]:
    """The faster-whisper options that show the domain vocabulary (``asr.vocabulary_mode``).

    ``hotwords``: the terms go into the prompt of every 30-s window Whisper decodes (after
    ``<|startofprev|>``), sequential or batched. ``prompt``: the terms as ``initial_prompt``;
    with ``condition_on_previous_text`` off (as here) faster-whisper uses it for the first
    window of the VAD-joined speech only, while the batched pipeline puts it before every
    chunk. ``off``: neither.
    """
    if settings.vocabulary_mode == "off":
        return {}
    text = TERM_SEPARATOR.join(vocabulary_terms(settings.vocabulary)) + "。"
    return {"hotwords": text} if settings.vocabulary_mode == "hotwords" else {"initial_prompt": text}


def fallback_temperatures(step: float) -> tuple[float, ...]:
    """The temperatures faster-whisper tries in turn when a window fails its checks
    (compression ratio, log probability): 0, step, 2*step ... 1.0; only 0 when ``step`` is 0."""
    if step <= 0:
        return (0.0,)
    n = int(round(1.0 / step + 1e-9))
    return tuple(round(min(k * step, 1.0), 4) for k in range(n + 1))


def term_corrector(settings: AsrSettings) -> TermCorrector | None:
    """The corrector ``asr.correction`` asks for: the terms of ``asr.vocabulary`` and
    ``asr.correction_terms``, the language model at ``asr.correction_lm``; None when off."""
    if not settings.correction:
        return None
    terms = vocabulary_terms(settings.vocabulary) + vocabulary_terms(settings.correction_terms, "asr.correction_terms")
    return TermCorrector(terms, load_lm(str(project_path(settings.correction_lm))), settings.correction_margin,
                         settings.correction_word_margin, settings.correction_blur_cost)


def homophone_corrector(settings: AsrSettings) -> HomophoneCorrector | None:
    """The single-character homophone correction ``asr.homophones`` asks for (the language
    model at ``asr.correction_lm``); None when off."""
    if not settings.homophones:
        return None
    return HomophoneCorrector(load_lm(str(project_path(settings.correction_lm))), settings.homophone_margin,
                              settings.homophone_word_margin, settings.homophone_edge_margin)


def rescoring(model, settings: AsrSettings) -> RescoringWhisper | None:
    """``model`` (a loaded faster-whisper WhisperModel)'s CTranslate2 model with its beam n-best
    re-ranked as ``asr.rescore_*`` asks (the language model at ``asr.correction_lm``); None when off."""
    if settings.rescore_hypotheses <= 1:
        return None
    hf = model.hf_tokenizer
    eot = hf.token_to_id("<|endoftext|>")       # text tokens come before it, timestamps after

    def decode(tokens: list[int]) -> str:
        return hf.decode([t for t in tokens if t < eot])

    return RescoringWhisper(model.model, decode, load_lm(str(project_path(settings.correction_lm))),
                            settings.rescore_hypotheses, settings.rescore_weight)


def fusion(model, folder, settings: AsrSettings) -> FusionWhisper | None:
    """``model`` (a loaded faster-whisper WhisperModel)'s CTranslate2 model with the language
    model fused into its beam search as ``asr.fusion_*`` asks (the decoder read from the model
    ``folder``, int8 on CPU as ``asr.compute_type`` int8 asks); None when off."""
    if settings.fusion_weight <= 0:
        return None
    import torch

    decoder = WhisperDecoder(folder / "model.bin")
    if settings.compute_type == "int8" and not decoder.quantize():
        logger.warning("asr.fusion_weight: this torch has no int8 linear layers; the fused search runs in float32")
    torch.set_num_threads(settings.cpu_threads)
    return FusionWhisper(model.model, decoder, model.hf_tokenizer, load_lm(str(project_path(settings.correction_lm))),
                         settings.fusion_weight, settings.fusion_bonus)


class Transcriber:
    """One loaded Whisper model; ``transcribe`` is safe to call from several threads."""

    def __init__(self, settings: AsrSettings):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.settings = settings
        folder = resolve_model(settings.model)
        device = settings.device
        compute_type = settings.compute_type
        if device == "cuda" and compute_type == "int8":
            compute_type = "float16"
        self.model = WhisperModel(
            str(folder),
            device=device,
            compute_type=compute_type,
            cpu_threads=settings.cpu_threads,
            num_workers=settings.num_workers,
        )
        searcher = fusion(self.model, folder, settings) or rescoring(self.model, settings)  # fusion replaces re-ranking
        if searcher is not None:
            self.model.model = searcher
        self.pipeline = BatchedInferencePipeline(self.model) if settings.batched else None
        self.phantoms = load_phrase_list(str(project_path(settings.phantom_phrases)))
        self.vocabulary = vocabulary_options(settings)
        self.corrector = term_corrector(settings)
        self.homophones = homophone_corrector(settings)
        self.model_name = folder.name
        logger.info("loaded Whisper model %s on %s (%s)", folder.name, device, compute_type)
        for text in self.vocabulary.values():
            tokens = len(self.model.hf_tokenizer.encode(" " + text).ids)
            if tokens >= self.model.max_length // 2:
                logger.warning("asr.vocabulary: %d tokens, Whisper reads only %d of them: shorten the file",
                               tokens, self.model.max_length // 2 - 1)

    def transcribe(self, samples: np.ndarray) -> list[Word]:
        """Recognise one channel of 16 kHz float32 audio (already gain-normalised).

        Returns:
            Words in time order, Simplified Chinese, phantom segments and loops dropped,
            speech Whisper left without words decoded again (``asr.recover_min_s``), domain
            terms put back where Whisper wrote a homophone (``asr.correction``), then single
            characters (``asr.homophones``).
        """
        words = drop_unaligned(drop_loops(self.recognise(samples)))
        if self.settings.recover_min_s > 0:
            words = self.recover(samples, words)
        if self.corrector is not None:
            words, changed = self.corrector.correct_words(words)
            if changed:
                logger.info("put back %d domain term(s) written as homophones", changed)
        if self.homophones is not None:
            words, changed = self.homophones.correct_words(words)
            if changed:
                logger.info("put back %d character(s) written as homophones", changed)
        return words

    def recover(self, samples: np.ndarray, words: list[Word]) -> list[Word]:
        """``words`` with the speech Whisper left without words decoded again on its own.

        Whisper base sometimes ends a 30-s window early ("能?" and spaces for 20 s of a
        customer's speech): every stretch that the VAD finds speech in, at least
        ``asr.recover_min_s`` long and without a word, is decoded alone and its words added
        (those that fall on no word already there)."""
        spans = uncovered_speech(samples, words, self.settings)
        if not spans:
            return words
        found: list[Word] = []
        for a, b in spans:
            for w in drop_unaligned(drop_loops(self.recognise(samples[a:b]))):
                start, end = round(w.start + a / RATE, 3), round(w.end + a / RATE, 3)
                if not any(o.start < end and start < o.end for o in words):
                    found.append(Word(start=start, end=end, text=w.text, probability=w.probability))
        if found:
            logger.info("recovered %d word(s) in %d stretch(es) of speech Whisper had left empty", len(found), len(spans))
        return sorted(words + found, key=lambda w: (w.start, w.end))

    def recognise(self, samples: np.ndarray) -> list[Word]:
        """Whisper's words for one channel with phantom segments dropped (no loop guard)."""
        s = self.settings
        kwargs = dict(
            language=s.language,
            beam_size=s.beam_size,
            word_timestamps=True,
            vad_filter=True,
            vad_parameters=dict(
                threshold=s.vad_threshold,
                min_silence_duration_ms=s.vad_min_silence_ms,
                speech_pad_ms=s.vad_speech_pad_ms,
            ),
            condition_on_previous_text=s.condition_on_previous_text,
            patience=s.patience,
            best_of=s.best_of,
            temperature=fallback_temperatures(s.temperature_step),
            repetition_penalty=s.repetition_penalty,
            no_repeat_ngram_size=s.no_repeat_ngram_size,
            no_speech_threshold=s.no_speech_threshold,
            log_prob_threshold=s.log_prob_threshold,
            compression_ratio_threshold=s.compression_ratio_threshold,
            **self.vocabulary,
        )
        if self.pipeline is not None:
            segments, _ = self.pipeline.transcribe(samples, batch_size=s.batch_size, **kwargs)
        else:
            segments, _ = self.model.transcribe(
                samples, hallucination_silence_threshold=s.hallucination_silence_s or None, **kwargs)
        words: list[Word] = []
        dropped = 0
        for seg in segments:
            seg_words = [w for w in (seg.words or []) if w.word.strip()]
            if not seg_words:
                continue
            text = squash("".join(w.word for w in seg_words))
            if not text or any(p and p in text for p in self.phantoms):
                dropped += 1
                continue
            pieces = simplify_pieces([w.word for w in seg_words])
            words.extend(
                Word(start=round(float(w.start), 3), end=round(float(w.end), 3), text=t, probability=round(float(w.probability), 4))
                for w, t in zip(seg_words, pieces)
            )
        if dropped:
            logger.info("dropped %d phantom segment(s)", dropped)
        return words


RATE = MODEL_SAMPLE_RATE
RECOVER_PAD_S = 0.2      # each side of a stretch decoded again


def uncovered_speech(samples: np.ndarray, words: list[Word], settings: AsrSettings) -> list[tuple[int, int]]:
    """(start, end) sample ranges of speech (faster-whisper's Silero VAD, as configured)
    at least ``settings.recover_min_s`` long on which no word lies, padded by ``RECOVER_PAD_S``."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    chunks = get_speech_timestamps(samples, VadOptions(
        threshold=settings.vad_threshold, min_silence_duration_ms=settings.vad_min_silence_ms,
        speech_pad_ms=settings.vad_speech_pad_ms))
    least, pad = int(settings.recover_min_s * RATE), int(RECOVER_PAD_S * RATE)
    taken = sorted((int(w.start * RATE), int(w.end * RATE)) for w in words)
    spans, first = [], 0
    for chunk in chunks:                       # both in time order: one pass over the words
        pos, end = chunk["start"], chunk["end"]
        while first < len(taken) and taken[first][1] <= pos:
            first += 1
        k = first
        while k < len(taken) and taken[k][0] < end:
            a, b = taken[k]
            if a - pos >= least:
                spans.append((pos, a))
            pos = max(pos, b)
            k += 1
        if end - pos >= least:
            spans.append((pos, end))
    return [(max(0, a - pad), min(samples.size, b + pad)) for a, b in spans]


UNALIGNED_S = 0.01       # a word this short has no audio under it: Whisper wrote it after the speech
UNSURE_PROBABILITY = 0.2  # an unsure word just before such words goes with them
UNALIGNED_REACH = 3       # a word with unaligned words this close (in words) on both sides goes with them


def drop_unaligned(words: list[Word]) -> list[Word]:
    """``words`` without those the aligner could place on no audio (zero length), the words
    lying among them (an unaligned word at most ``UNALIGNED_REACH`` words before and after, or
    before and the text ends), and an unsure word (probability < 0.2) just before one: text
    Whisper adds after the speech ends, e.g. the vocabulary echoed as "银行、商银行、工商银行。"
    after the AISHELL clip's last word, where a few of the echoed words got a little audio
    (with 600 ms of VAD padding; bench/README.md)."""
    n = len(words)
    unaligned = [w.end - w.start < UNALIGNED_S for w in words]
    out = []
    for i, w in enumerate(words):
        before = any(unaligned[max(0, i - UNALIGNED_REACH):i])
        after = any(unaligned[i + 1:i + 1 + UNALIGNED_REACH])
        if unaligned[i] or (before and (after or i + 1 == n)) or (i + 1 < n and unaligned[i + 1] and w.probability < UNSURE_PROBABILITY):
            continue
        out.append(w)
    return out


LOOP_REPEATS = 6   # a run of 1-4 words said this many times in a row is a decoding loop
LOOP_UNIT = 4


def drop_loops(words: list[Word]) -> list[Word]:
    """``words`` without runs where the same 1-4 words repeat ``LOOP_REPEATS`` times or more
    in a row (Whisper's decoding loops, e.g. "字幕——" dozens of times after the last sentence
    when a prompt is shown). Real speech repeats a word two or three times, not six."""
    texts = [squash(w.text) for w in words]
    out: list[Word] = []
    i = 0
    while i < len(words):
        for unit in range(1, LOOP_UNIT + 1):
            run = 1
            while texts[i:i + unit] == texts[i + run * unit:i + (run + 1) * unit]:
                run += 1
            if run >= LOOP_REPEATS:
                logger.info("dropped a decoding loop of %d words", run * unit)
                i += run * unit
                break
        else:
            out.append(words[i])
            i += 1
    return out


_cache: dict[AsrSettings, Transcriber] = {}
_lock = threading.Lock()


def get_transcriber(settings: AsrSettings) -> Transcriber:
    """The process-wide Transcriber for these settings (loaded once per worker)."""
    with _lock:
        if settings not in _cache:
            _cache[settings] = Transcriber(settings)
        return _cache[settings]

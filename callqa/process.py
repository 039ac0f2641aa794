"""One recording end to end, as plain functions: decode → transcribe → roles → analyse → measure.

The Prefect flow, ``callqa transcribe`` and the benchmarks all call these, so they agree.
"""
from __future__ import annotations

import time

from callqa.config import Config
from callqa.domain import Call, ProcessedCall, Utterance, Word
from speech.asr import AsrSettings, Transcriber, get_transcriber
from speech.audio import DecodedAudio, decode
from speech.metrics import measure_call
from speech.pipeline import CallTranscript, transcribe_call


def transcriber_for(cfg: Config) -> Transcriber:
    """The process-wide Whisper model for this configuration (loaded on first use)."""
    return get_transcriber(AsrSettings.from_config(cfg.section("asr")))


def decode_call(path: str, cfg: Config) -> DecodedAudio:
    a = cfg.section("audio")
    return decode(path, a["sample_rate"], max_duration_s=a["max_duration_s"], max_file_mb=a["max_file_mb"],
                  timeout_s=a["decode_timeout_s"])


def transcribe_audio(audio: DecodedAudio, cfg: Config, channel_roles: tuple[str, ...] | None = None) -> CallTranscript:
    """Speaker- and role-attributed utterances for decoded audio."""
    a = cfg.section("audio")
    return transcribe_call(
        audio, transcriber_for(cfg),
        channel_roles=channel_roles or tuple(cfg.get("roles.channels")),
        max_gap=cfg.get("utterances.max_gap_s"), target_peak_dbfs=a["target_peak_dbfs"],
        max_gain_db=a["max_gain_db"], diarization=cfg.section("diarization"),
    )


def mask_words(words: list[Word], text: str, spans: list[tuple[int, int, str]]) -> list[Word]:
    """Words with the text of any word overlapping a personal-data span replaced by ``*``.

    ``text`` is the utterance text built from the words (``"".join(...).strip()``).
    """
    if not spans:
        return words
    lead = len("".join(w.text for w in words)) - len("".join(w.text for w in words).lstrip())
    out, pos = [], -lead
    for w in words:
        start, end = pos, pos + len(w.text)
        pos = end
        hit = any(s < end and start < e for s, e, _ in spans)
        out.append(Word(w.start, w.end, "*" if hit else w.text, w.probability) if hit else w)
    return out


def redact_utterances(utterances: list[Utterance], keep_raw: bool) -> list[str] | None:
    """Redact personal data in place (text and words). Returns the raw texts when kept."""
    from analysis import redact, redaction_spans

    raw = [u.text for u in utterances] if keep_raw else None
    for u in utterances:
        spans = redaction_spans(u.text)
        if spans:
            u.words = mask_words(u.words, u.text, spans)
            u.text = redact(u.text)
    return raw


def process_recording(call: Call, cfg: Config) -> ProcessedCall:
    """Decode, transcribe, analyse and measure one call.

    Raises:
        speech.audio.AudioError: the recording cannot be decoded (deterministic).
    """
    from analysis import analyze_call

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    audio = decode_call(call.path, cfg)
    timings["decode"] = time.perf_counter() - t0
    transcript = transcribe_audio(audio, cfg, call.channel_roles)
    timings.update(transcript.timings)
    t1 = time.perf_counter()
    findings = analyze_call(transcript.utterances)
    timings["analysis"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    metrics = measure_call(transcript.utterances, audio.duration, channel_audio=transcript.channel_audio,
                           mono_audio=transcript.mono_audio, sample_rate=audio.sample_rate)
    raw = redact_utterances(transcript.utterances, cfg.get("warehouse.store_raw_text"))
    timings["metrics"] = time.perf_counter() - t2
    return ProcessedCall(
        call=call, duration=round(audio.duration, 3), channels=audio.channels, source_rate=audio.source_rate,
        codec=audio.codec, utterances=transcript.utterances, findings=findings, metrics=metrics,
        diarization=transcript.diarization, asr_model=transcriber_for(cfg).model_name,
        roles_confidence=transcript.roles_confidence, needs_review=transcript.needs_review,
        role_notes=transcript.role_notes, timings=timings, raw_texts=raw,
    )

"""One recording end to end, as plain functions: decode → transcribe → roles → measure → analyse.

This is the per-call wiring of speech/ and analysis/. It knows nothing of Prefect or DuckDB:
the nightly flow, ``callqa transcribe``/``diarize`` and the benchmarks all call these, so they
agree.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analysis import analyze_call, disposition, redact, redaction_spans
from analysis.pii import apply_masks, asks_for_partial
from analysis.roles import apply_roles, assign_roles
from analysis.rules import catalog as rules_catalog
from analysis.scorecards import ScorecardError, load_scorecards, score_call
from core.domain import Call, CallScore, ProcessedCall, Utterance, Word
from core.settings import Settings
from speech.asr import Transcriber, get_transcriber
from speech.audio import DecodedAudio, decode
from speech.metrics import measure_call
from speech.pipeline import CallTranscript, transcribe_call

logger = logging.getLogger("flows")


def transcriber_for(settings: Settings) -> Transcriber:
    """The process-wide Whisper model for these settings (loaded on first use)."""
    return get_transcriber(settings.asr)


def decode_call(path: str, settings: Settings) -> DecodedAudio:
    return decode(path, settings.audio)


@dataclass(slots=True)
class RoleOutcome:
    """How sure the role assignment of one call is."""

    confidence: float | None
    needs_review: bool
    notes: list[str]


def assign_call_roles(transcript: CallTranscript) -> RoleOutcome:
    """Set collector / customer / third_party on every utterance (channel convention as a
    prior, content cues decide otherwise); unsure calls come back ``needs_review``."""
    if not transcript.utterances:
        return RoleOutcome(None, False, [])
    assignment = assign_roles(transcript.utterances, transcript.role_prior)
    apply_roles(transcript.utterances, assignment)
    confidence = round(min(assignment.confidence.values()), 3) if assignment.confidence else None
    return RoleOutcome(confidence, assignment.needs_review, list(assignment.reasons))


def transcribe_audio(audio: DecodedAudio, settings: Settings,
                     channel_roles: tuple[str, ...] | None = None) -> tuple[CallTranscript, RoleOutcome]:
    """Speaker- and role-attributed utterances for decoded audio."""
    transcript = transcribe_call(
        audio, transcriber_for(settings), channel_roles=channel_roles or settings.roles.channels,
        audio_settings=settings.audio, diarization=settings.diarization, max_gap=settings.utterances.max_gap_s,
    )
    return transcript, assign_call_roles(transcript)


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
    """Redact personal data in place (text and words). Returns the raw texts when kept.

    An utterance answering a request for a partial number (the other speaker's turn just
    before, or the one before that, said 后四位/尾号...) has its short digit runs masked too.
    """
    texts = [u.text for u in utterances]
    for i, u in enumerate(utterances):
        asked = any(utterances[j].speaker != u.speaker and asks_for_partial(texts[j])
                    for j in range(max(0, i - 2), i))
        spans = redaction_spans(u.text, asked=asked)
        if spans:
            u.words = mask_words(u.words, u.text, spans)
            u.text = apply_masks(u.text, spans)
    return texts if keep_raw else None


def local_start(call: Call) -> datetime | None:
    """The call's start in its own timezone (what spoken dates like 明天 are relative to)."""
    if call.started_at is None:
        return None
    try:
        return call.started_at.astimezone(ZoneInfo(call.timezone)) if call.timezone else call.started_at
    except (ZoneInfoNotFoundError, ValueError):
        return call.started_at


def process_recording(call: Call, settings: Settings) -> ProcessedCall:
    """Decode, transcribe, assign roles, measure and analyse one call (with the rule packs of
    ``settings.analysis``: replaced detector packs and categories).

    Raises:
        speech.audio.AudioError: the recording cannot be decoded (deterministic).
        analysis.rules.PackError: a pack in ``settings.analysis.rules_dirs`` is bad.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    audio = decode_call(call.path, settings)
    timings["decode"] = time.perf_counter() - t0
    transcript, roles = transcribe_audio(audio, settings, call.channel_roles)
    timings.update(transcript.timings)
    t2 = time.perf_counter()
    metrics = measure_call(transcript.utterances, audio.duration, channel_audio=transcript.channel_audio,
                           mono_audio=transcript.mono_audio, sample_rate=audio.sample_rate)
    timings["metrics"] = time.perf_counter() - t2
    t1 = time.perf_counter()  # categories may judge silence and interruptions: metrics come first
    findings = analyze_call(transcript.utterances, local_start(call),
                            catalog=rules_catalog(settings.analysis.rules_dirs), metrics=metrics, duration=audio.duration)
    reached = disposition(transcript.utterances, findings)
    texts = [u.text for u in transcript.utterances]
    raw = redact_utterances(transcript.utterances, settings.warehouse.store_raw_text)
    for f in findings:  # evidence redacted like its utterance (an answer to 后四位? needs the turn before)
        i = f.utterance_index
        if i is not None and 0 <= i < len(texts) and f.evidence != transcript.utterances[i].text \
                and f.evidence == redact(texts[i]):
            f.evidence = transcript.utterances[i].text
    timings["analysis"] = time.perf_counter() - t1
    result = ProcessedCall(
        call=call, duration=round(audio.duration, 3), channels=audio.channels, source_rate=audio.source_rate,
        codec=audio.codec, utterances=transcript.utterances, findings=findings, metrics=metrics,
        diarization=transcript.diarization, asr_model=transcriber_for(settings).model_name,
        roles_confidence=roles.confidence, needs_review=roles.needs_review,
        role_notes=roles.notes, timings=timings, raw_texts=raw, disposition=reached,
    )
    t3 = time.perf_counter()
    result.scores = score_processed(result, settings)
    timings["scoring"] = time.perf_counter() - t3
    return result


def score_processed(result: ProcessedCall, settings: Settings) -> list[CallScore]:
    """The call's scores on every configured scorecard (``[scoring]``), from its redacted
    utterances, findings and metrics. A scorecard that became unusable after the run checked
    it (edited mid-run) leaves the call unscored rather than failing it: `callqa score` scores
    it later."""
    try:
        return [score_call(card, result) for card in load_scorecards(settings.scoring)]
    except ScorecardError as exc:
        logger.warning("call %s landed without scores: %s", result.call.call_id, exc)
        return []

"""Build the Arrow tables that land one batch of processed calls (column-wise, no row inserts)."""
from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa

from callqa.domain import Failure, ProcessedCall, storable

WORD = pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), ("text", pa.string()), ("probability", pa.float64())])
TS = pa.timestamp("us", tz="UTC")

CALLS = pa.schema([
    ("call_id", pa.string()), ("sha256", pa.string()), ("path", pa.string()), ("size_bytes", pa.int64()),
    ("status", pa.string()), ("error", pa.string()), ("duration_s", pa.float64()), ("channels", pa.int32()),
    ("source_rate", pa.int32()), ("codec", pa.string()), ("collector_id", pa.string()), ("account_id", pa.string()),
    ("started_at", TS), ("timezone", pa.string()), ("direction", pa.string()), ("campaign", pa.string()),
    ("team", pa.string()), ("channel_roles", pa.list_(pa.string())), ("diarization", pa.string()),
    ("asr_model", pa.string()), ("roles_confidence", pa.float64()), ("needs_review", pa.bool_()),
    ("role_notes", pa.list_(pa.string())), ("run_id", pa.string()), ("landed_at", TS),
])
UTTERANCES = pa.schema([
    ("call_id", pa.string()), ("idx", pa.int32()), ("speaker", pa.string()), ("role", pa.string()),
    ("channel", pa.int32()), ("start_s", pa.float64()), ("end_s", pa.float64()), ("text", pa.string()),
    ("labels", pa.list_(pa.string())), ("sentiment", pa.string()), ("words", pa.list_(WORD)),
])
UTTERANCES_RAW = pa.schema([("call_id", pa.string()), ("idx", pa.int32()), ("text", pa.string())])
FINDINGS = pa.schema([
    ("finding_id", pa.string()), ("call_id", pa.string()), ("kind", pa.string()), ("role", pa.string()),
    ("utterance_idx", pa.int32()), ("start_s", pa.float64()), ("end_s", pa.float64()), ("evidence", pa.string()),
    ("rule_id", pa.string()), ("score", pa.float64()), ("severity", pa.string()),
])
METRICS = pa.schema([
    ("call_id", pa.string()), ("role", pa.string()), ("n_utterances", pa.int32()), ("talk_s", pa.float64()),
    ("talk_share", pa.float64()), ("n_chars", pa.int32()), ("speech_rate_cpm", pa.float64()),
    ("interruptions", pa.int32()), ("overlap_s", pa.float64()), ("silence_s", pa.float64()),
    ("loudness_dbfs", pa.float64()),
])
FAILURES = pa.schema([
    ("run_id", pa.string()), ("call_id", pa.string()), ("path", pa.string()), ("sha256", pa.string()),
    ("stage", pa.string()), ("reason", pa.string()), ("message", pa.string()), ("failed_at", TS),
])


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def calls_table(results: list[ProcessedCall], run_id: str, now: datetime) -> pa.Table:
    rows = []
    for r in results:
        c = r.call
        rows.append(dict(
            call_id=c.call_id, sha256=c.sha256, path=storable(c.path), size_bytes=c.size_bytes, status="ok", error=None,
            duration_s=r.duration, channels=r.channels, source_rate=r.source_rate, codec=r.codec,
            collector_id=c.collector_id, account_id=c.account_id, started_at=_utc(c.started_at),
            timezone=c.timezone, direction=c.direction, campaign=c.campaign, team=c.team,
            channel_roles=list(c.channel_roles) if c.channel_roles else None, diarization=r.diarization,
            asr_model=r.asr_model, roles_confidence=r.roles_confidence, needs_review=r.needs_review,
            role_notes=list(r.role_notes), run_id=run_id, landed_at=now,
        ))
    return pa.Table.from_pylist(rows, schema=CALLS)


def failed_calls_table(failures: list[Failure], sizes: dict[str, int], run_id: str, now: datetime) -> pa.Table:
    rows = [dict(
        call_id=f.call_id, sha256=f.sha256 or "", path=storable(f.path) or "", size_bytes=sizes.get(f.call_id or ""),
        status="failed", error=storable(f"{f.stage}/{f.reason}: {f.message}"), run_id=run_id, landed_at=now,
    ) for f in failures]
    return pa.Table.from_pylist(rows, schema=CALLS)


def utterances_tables(results: list[ProcessedCall]) -> tuple[pa.Table, pa.Table]:
    """(utterances, utterances_raw): the raw table only has rows for calls that carry raw text."""
    cols: dict[str, list] = {name: [] for name in UTTERANCES.names}
    raw: dict[str, list] = {name: [] for name in UTTERANCES_RAW.names}
    for r in results:
        for i, u in enumerate(r.utterances):
            cols["call_id"].append(r.call.call_id)
            cols["idx"].append(i)
            cols["speaker"].append(u.speaker)
            cols["role"].append(u.role)
            cols["channel"].append(u.channel)
            cols["start_s"].append(u.start)
            cols["end_s"].append(u.end)
            cols["text"].append(u.text)
            cols["labels"].append(list(u.labels))
            cols["sentiment"].append(u.sentiment)
            cols["words"].append([
                {"start_s": w.start, "end_s": w.end, "text": w.text, "probability": w.probability} for w in u.words
            ])
        for i, text in enumerate(r.raw_texts or []):
            raw["call_id"].append(r.call.call_id)
            raw["idx"].append(i)
            raw["text"].append(text)
    return pa.table(cols, schema=UTTERANCES), pa.table(raw, schema=UTTERANCES_RAW)


def findings_table(results: list[ProcessedCall]) -> pa.Table:
    rows = []
    for r in results:
        for n, f in enumerate(r.findings):
            rows.append(dict(
                finding_id=f"{r.call.call_id}#{n}", call_id=r.call.call_id, kind=f.kind, role=f.role,
                utterance_idx=f.utterance_index, start_s=f.start, end_s=f.end, evidence=f.evidence,
                rule_id=f.rule_id, score=f.score, severity=f.severity,
            ))
    return pa.Table.from_pylist(rows, schema=FINDINGS)


def metrics_table(results: list[ProcessedCall]) -> pa.Table:
    rows = []
    for r in results:
        for m in r.metrics:
            rows.append(dict(
                call_id=r.call.call_id, role=m.role, n_utterances=m.n_utterances, talk_s=m.talk_s,
                talk_share=m.talk_share, n_chars=m.n_chars, speech_rate_cpm=m.speech_rate_cpm,
                interruptions=m.interruptions, overlap_s=m.overlap_s, silence_s=m.silence_s,
                loudness_dbfs=m.loudness_dbfs,
            ))
    return pa.Table.from_pylist(rows, schema=METRICS)


def failures_table(failures: list[Failure], run_id: str, now: datetime) -> pa.Table:
    rows = [dict(
        run_id=run_id, call_id=f.call_id, path=storable(f.path), sha256=f.sha256, stage=f.stage,
        reason=f.reason, message=storable(f.message), failed_at=now,
    ) for f in failures]
    return pa.Table.from_pylist(rows, schema=FAILURES)

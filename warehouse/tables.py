"""Arrow schemas and the column-wise builders that turn processed calls into warehouse rows."""
from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, datetime, timezone

import pyarrow as pa

from core.domain import Call, CallScore, Failure, ProcessedCall, storable

WORD = pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), ("text", pa.string()), ("probability", pa.float64())])
TS = pa.timestamp("us", tz="UTC")

CALLS = pa.schema([
    ("call_id", pa.string()), ("sha256", pa.string()), ("path", pa.string()), ("size_bytes", pa.int64()),
    ("status", pa.string()), ("error", pa.string()), ("duration_s", pa.float64()), ("channels", pa.int32()),
    ("source_rate", pa.int32()), ("codec", pa.string()), ("collector_id", pa.string()), ("account_id", pa.string()),
    ("started_at", TS), ("timezone", pa.string()), ("direction", pa.string()), ("campaign", pa.string()),
    ("team", pa.string()), ("channel_roles", pa.list_(pa.string())), ("diarization", pa.string()),
    ("asr_model", pa.string()), ("roles_confidence", pa.float64()), ("needs_review", pa.bool_()),
    ("role_notes", pa.list_(pa.string())), ("run_id", pa.string()), ("landed_at", TS), ("mtime_ns", pa.int64()),
    ("disposition", pa.string()),
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
SCORE_ITEM = pa.struct([
    ("item_id", pa.string()), ("section", pa.string()), ("title", pa.string()), ("result", pa.string()),
    ("points", pa.float64()), ("weight", pa.float64()), ("fatal", pa.bool_()), ("evidence", pa.string()),
    ("finding_n", pa.int32()),
])
CALL_SCORES = pa.schema([
    ("call_id", pa.string()), ("scorecard", pa.string()), ("version", pa.string()), ("score", pa.float64()),
    ("fatal", pa.bool_()), ("items", pa.list_(SCORE_ITEM)), ("scored_at", TS),
])
PROMISES = pa.schema([
    ("call_id", pa.string()), ("finding_id", pa.string()), ("account_id", pa.string()),
    ("collector_id", pa.string()), ("amount", pa.float64()), ("due", pa.string()), ("due_date", pa.date32()),
    ("said_at_s", pa.float64()), ("role", pa.string()), ("evidence", pa.string()),
])
FAILURES = pa.schema([
    ("run_id", pa.string()), ("call_id", pa.string()), ("path", pa.string()), ("sha256", pa.string()),
    ("stage", pa.string()), ("reason", pa.string()), ("message", pa.string()), ("failed_at", TS),
])


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _metadata(c: Call | None) -> dict:
    """The manifest's facts about a call (who, which account, when): on every calls row."""
    if c is None:
        return {}
    return dict(collector_id=c.collector_id, account_id=c.account_id, started_at=_utc(c.started_at),
                timezone=c.timezone, direction=c.direction, campaign=c.campaign, team=c.team,
                channel_roles=list(c.channel_roles) if c.channel_roles else None)


def calls_table(results: list[ProcessedCall], run_id: str | None, now: datetime | None) -> pa.Table:
    rows = []
    for r in results:
        c = r.call
        rows.append(dict(
            call_id=c.call_id, sha256=c.sha256, path=storable(c.path), size_bytes=c.size_bytes, mtime_ns=c.mtime_ns,
            status="ok", error=None,
            duration_s=r.duration, channels=r.channels, source_rate=r.source_rate, codec=r.codec, **_metadata(c),
            diarization=r.diarization, asr_model=r.asr_model, roles_confidence=r.roles_confidence,
            needs_review=r.needs_review, role_notes=list(r.role_notes), run_id=run_id, landed_at=now,
            disposition=r.disposition,
        ))
    return pa.Table.from_pylist(rows, schema=CALLS)


def failed_calls_table(failures: list[Failure], sizes: dict[str, int], run_id: str, now: datetime,
                       calls: Mapping[str, Call] | None = None) -> pa.Table:
    """Rows for calls that failed; ``calls`` (by call id) gives their manifest metadata, so that
    a failed call is found by account, collector and date like a landed one (purges included)."""
    calls = calls or {}
    rows = []
    for f in failures:
        call = calls.get(f.call_id or "")
        rows.append(dict(
            call_id=f.call_id, sha256=f.sha256 or "", path=storable(f.path) or "",
            size_bytes=sizes.get(f.call_id or "", call.size_bytes if call else None),
            mtime_ns=call.mtime_ns if call and call.sha256 == f.sha256 else None, status="failed",
            error=storable(f"{f.stage}/{f.reason}: {f.message}"), **_metadata(call), run_id=run_id, landed_at=now,
        ))
    return pa.Table.from_pylist(rows, schema=CALLS)


def utterances_tables(results: list[ProcessedCall]) -> tuple[pa.Table, pa.Table]:
    """(utterances, utterances_raw): the raw table only has rows for calls that carry raw text.

    Built column by column (words as one flat struct array plus offsets): this is the
    widest table and the hot path of landing.
    """
    utts = [(r.call.call_id, i, u) for r in results for i, u in enumerate(r.utterances)]
    words = [w for _, _, u in utts for w in u.words]
    offsets = [0]
    for _, _, u in utts:
        offsets.append(offsets[-1] + len(u.words))
    word_struct = pa.StructArray.from_arrays(
        [pa.array([w.start for w in words], pa.float64()), pa.array([w.end for w in words], pa.float64()),
         pa.array([w.text for w in words], pa.string()), pa.array([w.probability for w in words], pa.float64())],
        fields=list(WORD))
    columns = {
        "call_id": pa.array([c for c, _, _ in utts], pa.string()),
        "idx": pa.array([i for _, i, _ in utts], pa.int32()),
        "speaker": pa.array([u.speaker for _, _, u in utts], pa.string()),
        "role": pa.array([u.role for _, _, u in utts], pa.string()),
        "channel": pa.array([u.channel for _, _, u in utts], pa.int32()),
        "start_s": pa.array([u.start for _, _, u in utts], pa.float64()),
        "end_s": pa.array([u.end for _, _, u in utts], pa.float64()),
        "text": pa.array([u.text for _, _, u in utts], pa.string()),
        "labels": pa.array([list(u.labels) for _, _, u in utts], pa.list_(pa.string())),
        "sentiment": pa.array([u.sentiment for _, _, u in utts], pa.string()),
        "words": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), word_struct),
    }
    raw = [(r.call.call_id, i, text) for r in results for i, text in enumerate(r.raw_texts or [])]
    raw_table = pa.table({
        "call_id": pa.array([c for c, _, _ in raw], pa.string()),
        "idx": pa.array([i for _, i, _ in raw], pa.int32()),
        "text": pa.array([t for _, _, t in raw], pa.string()),
    }, schema=UTTERANCES_RAW)
    return pa.Table.from_arrays(list(columns.values()), schema=UTTERANCES), raw_table


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


def due_date(due: str | None) -> date | None:
    """The day a promise is due: ``YYYY-MM-DD`` as it is, ``YYYY-MM`` as the month's last day."""
    if not due:
        return None
    try:
        if len(due) == 7:
            year, month = int(due[:4]), int(due[5:7])
            return date(year, month, calendar.monthrange(year, month)[1])
        return date.fromisoformat(due)
    except ValueError:
        return None


def promises_table(results: list[ProcessedCall]) -> pa.Table:
    """One row per promise_to_pay finding (ids as in ``findings_table``; evidence redacted)."""
    rows = []
    for r in results:
        c = r.call
        for n, f in enumerate(r.findings):
            if f.kind == "promise_to_pay":
                rows.append(dict(
                    call_id=c.call_id, finding_id=f"{c.call_id}#{n}", account_id=c.account_id,
                    collector_id=c.collector_id, amount=f.amount, due=f.due, due_date=due_date(f.due),
                    said_at_s=f.start, role=f.role, evidence=f.evidence,
                ))
    return pa.Table.from_pylist(rows, schema=PROMISES)


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


def _finding_n(call_id: str, finding_id: str | None) -> int | None:
    """``n`` of a finding id ``<call_id>#<n>`` (stored so that a re-keyed call keeps its links)."""
    prefix = f"{call_id}#"
    if finding_id and finding_id.startswith(prefix) and finding_id[len(prefix):].isdigit():
        return int(finding_id[len(prefix):])
    return None


def scores_table(scores: list[CallScore], now: datetime | None = None) -> pa.Table:
    """call_scores rows: one per call and scorecard, its items as a list of structs (the
    finding an item rests on as its number ``n`` in the call: ``<call_id>#<n>``)."""
    now = now or datetime.now(timezone.utc)
    return pa.Table.from_pylist([dict(
        call_id=s.call_id, scorecard=s.scorecard, version=s.version, score=s.score, fatal=s.fatal,
        items=[dict(item_id=i.item_id, section=i.section, title=i.title, result=i.result, points=i.points,
                    weight=i.weight, fatal=i.fatal, evidence=i.evidence, finding_n=_finding_n(s.call_id, i.finding_id))
               for i in s.items],
        scored_at=now,
    ) for s in scores], schema=CALL_SCORES)


def failures_table(failures: list[Failure], run_id: str, now: datetime) -> pa.Table:
    rows = [dict(
        run_id=run_id, call_id=f.call_id, path=storable(f.path), sha256=f.sha256, stage=f.stage,
        reason=f.reason, message=storable(f.message), failed_at=now,
    ) for f in failures]
    return pa.Table.from_pylist(rows, schema=FAILURES)


def stamp_calls(table: pa.Table, run_id: str, now: datetime) -> pa.Table:
    """Fill run_id and landed_at of a staged calls table at landing time."""
    n = table.num_rows
    table = table.set_column(table.schema.get_field_index("run_id"), "run_id", pa.array([run_id] * n, pa.string()))
    return table.set_column(table.schema.get_field_index("landed_at"), "landed_at", pa.array([now] * n, TS))

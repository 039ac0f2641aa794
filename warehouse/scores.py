"""Scorecard results in the warehouse (migration 014).

Calls are scored when they land (``call_scores`` rows come with the call through
``Warehouse.land``). This module reads stored calls back as ``CallView`` for re-scoring (no
transcription: utterances, findings and metrics as landed), replaces their scores one batch
per transaction, records reviewers' item overrides and answers the report's questions from
``effective_call_scores`` (overrides applied).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import duckdb

from core.domain import CallScore, CallView, Finding, RoleMetrics, Utterance
from warehouse import logger
from warehouse.reporting import Window
from warehouse.store import Warehouse
from warehouse.tables import scores_table

OVERRIDE_RESULTS = ("pass", "fail")
Row = dict[str, Any]


class ScoreError(ValueError):
    """An override that cannot be recorded (no such call, scorecard or item; bad result)."""


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Row]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


# -- re-scoring ------------------------------------------------------------------------------
def calls_to_score(con: duckdb.DuckDBPyConnection, scorecard: str, version: str, *, every: bool = False) -> list[str]:
    """Landed calls whose stored score for ``scorecard`` is of another version or missing
    (``every``: all landed calls), in landing order."""
    return [r[0] for r in con.execute(
        "SELECT c.call_id FROM calls c LEFT JOIN call_scores s ON s.call_id = c.call_id AND s.scorecard = ?"
        " WHERE c.status = 'ok' AND (? OR s.version IS DISTINCT FROM ?) ORDER BY c.landed_at, c.call_id",
        [scorecard, every, version]).fetchall()]


def _finding_n(finding_id: str) -> int:
    tail = finding_id.rsplit("#", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def call_views(con: duckdb.DuckDBPyConnection, call_ids: list[str]) -> list[CallView]:
    """The calls as scoring sees them, read back from the warehouse (redacted text only:
    ``utterances_raw`` is never read), in the order of ``call_ids``; ids not landed are skipped."""
    ids = [list(call_ids)]
    durations = dict(con.execute(
        "SELECT call_id, coalesce(duration_s, 0) FROM calls WHERE status = 'ok'"
        " AND call_id IN (SELECT unnest(?::VARCHAR[]))", ids).fetchall())
    utts: dict[str, list[Utterance]] = {cid: [] for cid in durations}
    for cid, speaker, role, channel, start, end, text, labels, sentiment in con.execute(
            "SELECT call_id, speaker, role, channel, start_s, end_s, text, labels, sentiment FROM utterances"
            " WHERE call_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY call_id, idx", ids).fetchall():
        if cid in utts:
            utts[cid].append(Utterance(speaker or "", role or "unknown", start or 0.0, end or 0.0, text or "",
                                       channel=channel, labels=list(labels or []), sentiment=sentiment or "neutral"))
    found: dict[str, list[tuple[str, Finding]]] = {cid: [] for cid in durations}
    for fid, cid, kind, role, idx, start, end, evidence, rule_id, score, severity in con.execute(
            "SELECT finding_id, call_id, kind, role, utterance_idx, start_s, end_s, evidence, rule_id, score, severity"
            " FROM findings WHERE call_id IN (SELECT unnest(?::VARCHAR[]))", ids).fetchall():
        if cid in found:
            found[cid].append((fid, Finding(kind, role or "unknown", start or 0.0, end or 0.0, evidence or "",
                                            rule_id or "", score if score is not None else 1.0,
                                            severity or "medium", idx)))
    metrics: dict[str, list[RoleMetrics]] = {cid: [] for cid in durations}
    for cid, *values in con.execute(
            "SELECT call_id, role, n_utterances, talk_s, talk_share, n_chars, speech_rate_cpm, interruptions,"
            " overlap_s, silence_s, loudness_dbfs FROM call_metrics WHERE call_id IN (SELECT unnest(?::VARCHAR[]))",
            ids).fetchall():
        if cid in metrics:
            metrics[cid].append(RoleMetrics(*values))
    views = []
    for cid in call_ids:
        if cid not in durations:
            continue
        pairs = sorted(found[cid], key=lambda p: _finding_n(p[0]))
        views.append(CallView(cid, durations[cid], utts[cid], [f for _, f in pairs], [fid for fid, _ in pairs],
                              metrics[cid]))
    return views


def replace_scores(wh: Warehouse, scores: list[CallScore]) -> None:
    """Replace the stored scores of these (call, scorecard) pairs, in one transaction."""
    if not scores:
        return
    table = scores_table(scores)
    con = wh.con
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("new_scores", table)
        con.execute("DELETE FROM call_scores USING new_scores n"
                    " WHERE call_scores.call_id = n.call_id AND call_scores.scorecard = n.scorecard")
        # with the call's landing number (migration 010), so that landing the call again deletes them
        con.execute("INSERT INTO call_scores BY NAME SELECT n.*, c.land_seq FROM new_scores n JOIN calls c USING (call_id)")
        con.unregister("new_scores")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


# -- reviewers' overrides ------------------------------------------------------------------
def record_override(wh: Warehouse, call_id: str, scorecard: str, item_id: str, result: str, reviewer: str,
                    note: str | None = None, now: datetime | None = None) -> Row:
    """Store a reviewer's result for one item of a call's form; returns the call's effective
    score for that scorecard afterwards (``effective_call_scores``).

    Raises:
        ScoreError: the call has no score for ``scorecard``, the item is not on it, the result
            is not pass or fail, or the reviewer is empty.
    """
    if result not in OVERRIDE_RESULTS:
        raise ScoreError(f"result must be pass or fail, not {result!r}")
    if not reviewer.strip():
        raise ScoreError("reviewer must not be empty")
    row = wh.con.execute("SELECT version, [i.item_id FOR i IN items] FROM call_scores WHERE call_id = ?"
                         " AND scorecard = ?", [call_id, scorecard]).fetchone()
    if row is None:
        known = [r[0] for r in wh.con.execute(
            "SELECT scorecard FROM call_scores WHERE call_id = ? ORDER BY 1", [call_id]).fetchall()]
        if not known and not wh.con.execute("SELECT count(*) FROM calls WHERE call_id = ? AND status = 'ok'",
                                            [call_id]).fetchone()[0]:
            raise ScoreError(f"call {call_id!r} is not in the warehouse")
        raise ScoreError(f"call {call_id!r} has no score for scorecard {scorecard!r}"
                         + (f" (it has: {', '.join(known)})" if known else " (run `callqa score` first)"))
    version, items = row
    if item_id not in items:
        raise ScoreError(f"item {item_id!r} is not on scorecard {scorecard!r} version {version}"
                         f" (items: {', '.join(items)})")
    wh.con.execute(
        "INSERT INTO score_overrides (override_id, call_id, scorecard, version, item_id, result, note, reviewer,"
        " reviewed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [uuid.uuid4().hex, call_id, scorecard, version, item_id, result, note or None, reviewer.strip(),
         now or datetime.now(timezone.utc)])
    logger.info("score override recorded: %s %s %s -> %s", scorecard, item_id, call_id, result)
    return _rows(wh.con, "SELECT * FROM effective_call_scores WHERE call_id = ? AND scorecard = ?",
                 [call_id, scorecard])[0]


# -- what the report shows -----------------------------------------------------------------
def call_forms(con: duckdb.DuckDBPyConnection, call_id: str) -> list[Row]:
    """A call's forms, one per scorecard: the effective score and each item (detected result,
    override, evidence) in the scorecard's order."""
    return calls_forms(con, [call_id]).get(call_id, [])


def calls_forms(con: duckdb.DuckDBPyConnection, call_ids: list[str]) -> dict[str, list[Row]]:
    """call_forms() of several calls in two queries, by call id (calls without a score left out)."""
    ids = [sorted(set(call_ids))]
    forms: dict[str, list[Row]] = {}
    for form in _rows(con, "SELECT * FROM effective_call_scores WHERE call_id IN (SELECT unnest(?))"
                           " ORDER BY call_id, scorecard", ids):
        form["items"] = []
        forms.setdefault(form["call_id"], []).append(form)
    by_form = {(f["call_id"], f["scorecard"]): f for found in forms.values() for f in found}
    for item in _rows(con, "SELECT * FROM effective_score_items WHERE call_id IN (SELECT unnest(?))"
                           " ORDER BY call_id, scorecard, pos", ids):
        form = by_form.get((item["call_id"], item["scorecard"]))
        if form is not None:
            form["items"].append(item)
    return forms


def _local(column: str) -> str:
    """SQL for a call's local date (the debtor's timezone, else the default: parameter 1)."""
    return f"coalesce(timezone(coalesce(nullif(c.timezone, ''), ?), c.{column}), c.landed_at)::DATE"


def _in_window(window: Window | None, default_tz: str) -> tuple[str, list[Any]]:
    """SQL (AND …) keeping the calls of ``window`` (the report's local dates; None: every call),
    with its parameters: a UTC range on started_at first (DuckDB skips row groups), then the
    exact local date."""
    if window is None or window.unbounded:
        return "", []
    tz, lo, hi, since, until = window.params(default_tz)
    return (f" AND (c.started_at IS NULL OR c.started_at >= ? AND c.started_at < ?)"
            f" AND {_local('started_at')} BETWEEN ? AND ?", [lo, hi, tz, since, until])


def score_summary(con: duckdb.DuckDBPyConnection, default_tz: str = "UTC", window: Window | None = None) -> list[Row]:
    """Per scorecard, over the calls of ``window``: calls scored, mean effective score, fatal
    calls, overrides, the versions stored, and the distribution in ten 10-point buckets
    (``buckets[9]`` is 90-100)."""
    where, params = _in_window(window, default_tz)
    rows = _rows(con, f"""
        SELECT s.scorecard, count(*) AS calls, avg(s.score) AS mean_score, median(s.score) AS median_score,
               count(*) FILTER (WHERE s.fatal) AS fatal_calls, count(*) FILTER (WHERE s.score IS NULL) AS unscored,
               sum(s.overrides) AS overrides, list(DISTINCT s.version ORDER BY s.version) AS versions,
               list(least(9, floor(s.score / 10))::INTEGER) FILTER (WHERE s.score IS NOT NULL) AS bucket_list
        FROM effective_call_scores s JOIN calls c USING (call_id)
        WHERE c.status = 'ok'{where} GROUP BY s.scorecard ORDER BY s.scorecard""", params)
    for row in rows:
        buckets = [0] * 10
        for b in row.pop("bucket_list") or []:
            buckets[b] += 1
        row["buckets"] = buckets
    return rows


def collector_scores(con: duckdb.DuckDBPyConnection, default_tz: str, window: Window | None = None) -> list[Row]:
    """Per scorecard and collector, over the calls of ``window``: calls, mean/min effective
    score, fatal calls, first and last local day."""
    where, params = _in_window(window, default_tz)
    return _rows(con, f"""
        WITH s AS (
            SELECT s.*, coalesce(c.collector_id, '(unknown)') AS collector_id, {_local('started_at')} AS local_date
            FROM effective_call_scores s JOIN calls c USING (call_id) WHERE c.status = 'ok'{where}
        )
        SELECT scorecard, collector_id, count(*) AS calls, avg(score) AS mean_score, min(score) AS min_score,
               count(*) FILTER (WHERE fatal) AS fatal_calls, min(local_date) AS first_day, max(local_date) AS last_day
        FROM s GROUP BY ALL ORDER BY scorecard, mean_score NULLS LAST, collector_id""", [default_tz] + params)


def weekly_scores(con: duckdb.DuckDBPyConnection, default_tz: str, window: Window | None = None) -> list[Row]:
    """Per scorecard and local week (Monday first) of ``window``: calls, mean effective score,
    fatal calls."""
    where, params = _in_window(window, default_tz)
    return _rows(con, f"""
        SELECT s.scorecard, date_trunc('week', {_local('started_at')})::DATE AS week, count(*) AS calls,
               avg(s.score) AS mean_score, count(*) FILTER (WHERE s.fatal) AS fatal_calls
        FROM effective_call_scores s JOIN calls c USING (call_id)
        WHERE c.status = 'ok'{where} GROUP BY ALL ORDER BY s.scorecard, week""", [default_tz] + params)


def lowest_scores(con: duckdb.DuckDBPyConnection, call_ids: list[str], limit: int = 50) -> list[Row]:
    """The lowest effective scores among ``call_ids`` (fatal first), with collector and start."""
    return _rows(con, """
        SELECT s.call_id, s.scorecard, s.version, s.score, s.fatal, s.overrides, c.collector_id, c.started_at
        FROM effective_call_scores s JOIN calls c USING (call_id)
        WHERE c.status = 'ok' AND s.call_id IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY s.score NULLS LAST, s.call_id, s.scorecard LIMIT ?""", [list(call_ids), limit])

-- The report's period window, and QA samples kept so that the report can give their calls pages.
--
-- Everything the report shows is about the calls started within a window of local dates
-- [since, until] (the debtor's timezone; default_tz when the call has none; landed_at's date
-- for a call without a start time). lo_utc / hi_utc are instants that enclose the window in
-- every timezone (warehouse.reporting.Window computes them): the filter on calls.started_at
-- that DuckDB can push into the scan; the local-date test after it is exact. Child rows
-- (findings, utterances, call_metrics) are read for the window's calls only, by call id.
-- The whole history is the window (-infinity, infinity): the macros of migration 002 are
-- redefined so, with the same columns, so that ad hoc queries keep working.

CREATE MACRO window_calls(default_tz, lo_utc, hi_utc, since, until) AS TABLE
WITH c AS (  -- two scans, each with a plain range filter on one column that DuckDB pushes down
    SELECT call_id, status, collector_id, team, campaign, account_id, direction, started_at, timezone, landed_at,
           duration_s, needs_review
    FROM calls WHERE started_at >= lo_utc AND started_at < hi_utc
    UNION ALL
    SELECT call_id, status, collector_id, team, campaign, account_id, direction, started_at, timezone, landed_at,
           duration_s, needs_review
    FROM calls WHERE started_at IS NULL AND landed_at >= lo_utc AND landed_at < hi_utc
), w AS (
    SELECT c.call_id, c.status, c.collector_id, c.team, c.campaign, c.account_id, c.direction, c.started_at,
           c.timezone, c.needs_review, c.duration_s AS recorded_s,
           coalesce(nullif(c.timezone, ''), default_tz)                                 AS tz,
           timezone(coalesce(nullif(c.timezone, ''), default_tz), c.started_at)         AS local_start,
           timezone(coalesce(nullif(c.timezone, ''), default_tz), coalesce(c.started_at, c.landed_at))::DATE
                                                                                        AS local_date,
           coalesce(c.duration_s, 0)                                                    AS duration_s
    FROM c
)
SELECT * FROM w WHERE local_date BETWEEN since AND until;

-- Landed calls of the window with the counts of their findings (no utterances read).
CREATE MACRO window_finding_facts(default_tz, lo_utc, hi_utc, since, until) AS TABLE
WITH w AS (
    SELECT * EXCLUDE (status, timezone, needs_review, recorded_s)
    FROM window_calls(default_tz, lo_utc, hi_utc, since, until) WHERE status = 'ok'
), f AS (
    SELECT call_id,
           count(*) FILTER (WHERE severity <> 'info')                        AS flags,
           count(*) FILTER (WHERE is_received(kind, role, 'abuse'))          AS abuse_received,
           count(*) FILTER (WHERE is_received(kind, role, 'threat'))         AS threats_received,
           count(*) FILTER (WHERE is_violation(kind, role, severity))        AS own_violations
    FROM findings WHERE call_id IN (SELECT call_id FROM w) GROUP BY call_id
)
SELECT w.*, coalesce(f.flags, 0) AS flags, coalesce(f.abuse_received, 0) AS abuse_received,
       coalesce(f.threats_received, 0) AS threats_received, coalesce(f.own_violations, 0) AS own_violations
FROM w LEFT JOIN f USING (call_id);

-- call_facts of migration 002 for the window's calls.
CREATE MACRO window_facts(default_tz, lo_utc, hi_utc, since, until) AS TABLE
WITH w AS (
    SELECT * FROM window_finding_facts(default_tz, lo_utc, hi_utc, since, until)
), u AS (
    SELECT call_id,
           sum(end_s - start_s) FILTER (WHERE role <> 'collector')                           AS other_s,
           sum(end_s - start_s) FILTER (WHERE role <> 'collector' AND sentiment = 'negative') AS other_neg_s,
           sum(end_s - start_s) FILTER (WHERE role = 'collector')                            AS own_s,
           sum(end_s - start_s) FILTER (WHERE role = 'collector' AND sentiment = 'negative')  AS own_neg_s
    FROM utterances WHERE call_id IN (SELECT call_id FROM w) GROUP BY call_id
), m AS (
    SELECT call_id,
           max(talk_s) FILTER (WHERE role = 'all')                                 AS talk_s,
           max(silence_s) FILTER (WHERE role = 'all')                              AS silence_s,
           max(overlap_s) FILTER (WHERE role = 'all')                              AS overlap_s,
           coalesce(sum(interruptions) FILTER (WHERE role NOT IN ('all', 'collector')), 0) AS interruptions_received,
           coalesce(sum(interruptions) FILTER (WHERE role = 'collector'), 0)       AS interruptions_made
    FROM call_metrics WHERE call_id IN (SELECT call_id FROM w) GROUP BY call_id
)
SELECT w.call_id, w.collector_id, w.team, w.campaign, w.account_id, w.direction, w.started_at, w.tz,
       w.local_start, w.local_date, w.duration_s,
       coalesce(m.talk_s, 0)                        AS talk_s,
       coalesce(m.silence_s, 0)                     AS silence_s,
       coalesce(m.overlap_s, 0)                     AS overlap_s,
       coalesce(m.interruptions_received, 0)        AS interruptions_received,
       coalesce(m.interruptions_made, 0)            AS interruptions_made,
       coalesce(u.other_s, 0)                       AS other_s,
       coalesce(u.other_neg_s, 0)                   AS other_neg_s,
       coalesce(u.own_s, 0)                         AS own_s,
       coalesce(u.own_neg_s, 0)                     AS own_neg_s,
       w.flags, w.abuse_received, w.threats_received, w.own_violations
FROM w
LEFT JOIN u USING (call_id)
LEFT JOIN m USING (call_id);

CREATE OR REPLACE MACRO call_facts(default_tz) AS TABLE
SELECT * FROM window_facts(default_tz, '-infinity'::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ,
                           '-infinity'::DATE, 'infinity'::DATE);

-- collector_stats of migration 002 (stress index explained there) over the window's calls.
CREATE MACRO window_collector_stats(default_tz, grain, lo_utc, hi_utc, since, until) AS TABLE
WITH agg AS (
    SELECT coalesce(collector_id, '(unknown)')          AS collector_id,
           any_value(team)                               AS team,
           date_trunc(grain, local_date)::DATE           AS period,
           count(*)                                      AS calls,
           sum(duration_s) / 60.0                        AS call_min,
           sum(talk_s) / 60.0                            AS talk_min,
           sum(abuse_received)                           AS abuse_received,
           sum(threats_received)                         AS threats_received,
           sum(own_violations)                           AS own_violations,
           count(*) FILTER (WHERE flags > 0)             AS flagged_calls,
           sum(other_neg_s) / nullif(sum(other_s), 0)    AS negative_share,
           sum(own_neg_s) / nullif(sum(own_s), 0)        AS collector_negative_share,
           (sum(interruptions_received) + sum(interruptions_made)) / nullif(sum(duration_s) / 60.0, 0)
                                                         AS interruptions_per_min,
           sum(overlap_s) / nullif(sum(duration_s), 0)   AS overlap_share,
           sum(silence_s) / nullif(sum(duration_s), 0)   AS silence_share
    FROM window_facts(default_tz, lo_utc, hi_utc, since, until)
    GROUP BY 1, 3
)
SELECT *,
       round(100 * (
           0.30 * least(1.0, abuse_received / calls)
         + 0.25 * least(1.0, 2.0 * threats_received / calls)
         + 0.20 * coalesce(negative_share, 0)
         + 0.10 * least(1.0, coalesce(overlap_share, 0) / 0.10)
         + 0.10 * least(1.0, own_violations / calls)
         + 0.05 * least(1.0, greatest(0.0, coalesce(silence_share, 0) - 0.30) / 0.40)
       ), 1) AS stress_index
FROM agg;

CREATE OR REPLACE MACRO collector_stats(default_tz, grain) AS TABLE
SELECT * FROM window_collector_stats(default_tz, grain, '-infinity'::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ,
                                     '-infinity'::DATE, 'infinity'::DATE);

-- abuse_trend of migration 002 over the window's calls (findings only).
CREATE MACRO window_abuse_trend(default_tz, lo_utc, hi_utc, since, until) AS TABLE
SELECT date_trunc('week', local_date)::DATE                       AS week,
       coalesce(campaign, '(none)')                               AS campaign,
       coalesce(team, '(none)')                                   AS team,
       count(*)                                                   AS calls,
       count(*) FILTER (WHERE abuse_received + threats_received > 0) AS calls_with_abuse,
       sum(abuse_received)                                        AS abuse_received,
       sum(threats_received)                                      AS threats_received,
       round(100.0 * count(*) FILTER (WHERE abuse_received + threats_received > 0) / count(*), 1)
                                                                  AS pct_calls_with_abuse
FROM window_finding_facts(default_tz, lo_utc, hi_utc, since, until)
GROUP BY 1, 2, 3;

CREATE OR REPLACE MACRO abuse_trend(default_tz) AS TABLE
SELECT * FROM window_abuse_trend(default_tz, '-infinity'::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ,
                                 '-infinity'::DATE, 'infinity'::DATE);

-- compliance_breaches of migration 002 (rules explained there) of the window's calls. The
-- cap and the cool-down look back at the account's calls of the days before the window.
CREATE MACRO window_breaches(default_tz, hours_start, hours_end, max_attempts, cooldown_days,
                             lo_utc, hi_utc, since, until) AS TABLE
WITH base AS (
    SELECT c.call_id, c.collector_id, c.team, c.campaign, c.account_id, c.started_at,
           coalesce(c.direction, 'outbound') AS direction, c.status,
           timezone(coalesce(nullif(c.timezone, ''), default_tz), c.started_at) AS local_start,
           coalesce(nullif(c.timezone, ''), default_tz) AS tz
    FROM calls c
    WHERE c.started_at IS NOT NULL
      AND c.started_at >= lo_utc - to_days(greatest(7, CAST(cooldown_days AS INTEGER)))
      AND c.started_at < hi_utc
), conversations AS (
    SELECT DISTINCT call_id FROM call_metrics
    WHERE role = 'customer' AND talk_s > 0 AND call_id IN (SELECT call_id FROM base)
), calls_seen AS (
    SELECT base.*, call_id IN (SELECT call_id FROM conversations) AS conversation,
           local_start::DATE BETWEEN since AND until AS in_window
    FROM base
), outbound AS (
    SELECT *, count(*) OVER (PARTITION BY account_id ORDER BY started_at
                             RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND CURRENT ROW) AS attempts_7d
    FROM calls_seen WHERE direction <> 'inbound' AND account_id IS NOT NULL
), hours AS (
    SELECT 'outside_hours' AS rule, call_id, collector_id, team, campaign, account_id, started_at, local_start,
           'started ' || strftime(local_start, '%H:%M') || ' ' || tz || ', allowed '
               || hours_start || '-' || hours_end AS detail
    FROM calls_seen
    WHERE in_window AND direction <> 'inbound'
      AND (local_start::TIME < CAST(hours_start AS TIME) OR local_start::TIME > CAST(hours_end AS TIME))
), cap AS (
    SELECT 'attempt_cap' AS rule, call_id, collector_id, team, campaign, account_id, started_at, local_start,
           'attempt ' || attempts_7d || ' to this account within 7 days, cap ' || max_attempts AS detail
    FROM outbound
    WHERE in_window AND attempts_7d > max_attempts
), contact AS (
    SELECT 'after_contact' AS rule, o.call_id, o.collector_id, o.team, o.campaign, o.account_id, o.started_at,
           o.local_start,
           'conversation with the debtor on ' || strftime(max(timezone(o.tz, p.started_at)), '%Y-%m-%d %H:%M')
               || ', cool-down ' || cooldown_days || ' days' AS detail
    FROM outbound o
    JOIN calls_seen p ON p.account_id = o.account_id AND p.conversation AND p.status = 'ok'
              AND p.started_at < o.started_at
              AND p.started_at >= o.started_at - to_days(CAST(cooldown_days AS INTEGER))
    WHERE o.in_window
    GROUP BY ALL
)
SELECT * FROM hours
UNION ALL SELECT * FROM cap
UNION ALL SELECT * FROM contact;

CREATE OR REPLACE MACRO compliance_breaches(default_tz, hours_start, hours_end, max_attempts, cooldown_days) AS TABLE
SELECT * FROM window_breaches(default_tz, hours_start, hours_end, max_attempts, cooldown_days,
                              '-infinity'::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ, '-infinity'::DATE, 'infinity'::DATE);

-- Flagged findings (the view of migration 002) of the window's calls, with the call's local start
-- and date.
CREATE MACRO window_flagged(default_tz, lo_utc, hi_utc, since, until) AS TABLE
WITH w AS (
    SELECT * FROM window_calls(default_tz, lo_utc, hi_utc, since, until) WHERE status = 'ok'
), f AS (
    SELECT * FROM findings WHERE severity <> 'info' AND call_id IN (SELECT call_id FROM w)
)
SELECT f.finding_id, f.call_id, f.kind, f.role, f.severity, f.score, f.rule_id,
       f.utterance_idx, f.start_s, f.end_s, f.evidence,
       w.collector_id, w.team, w.campaign, w.account_id, w.started_at, w.timezone,
       w.direction, w.recorded_s AS duration_s, w.needs_review, w.local_start, w.local_date,
       is_violation(f.kind, f.role, f.severity) AS is_violation,
       CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.verdict END AS verdict,
       CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.reviewer END AS reviewer,
       CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.reviewed_at END AS reviewed_at,
       CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.note END AS review_note
FROM f
JOIN w USING (call_id)
LEFT JOIN finding_reviews r USING (finding_id);

-- detector_precision of migration 002 over the window's flagged findings.
CREATE MACRO window_precision(default_tz, lo_utc, hi_utc, since, until) AS TABLE
SELECT kind,
       count(*)                                        AS flagged,
       count(verdict)                                  AS reviewed,
       count(*) FILTER (WHERE verdict = 'confirmed')   AS confirmed,
       count(*) FILTER (WHERE verdict = 'rejected')    AS rejected,
       count(*) - count(verdict)                       AS pending,
       CASE WHEN count(verdict) > 0
            THEN count(*) FILTER (WHERE verdict = 'confirmed') / count(verdict) END AS precision
FROM window_flagged(default_tz, lo_utc, hi_utc, since, until)
GROUP BY kind;

-- missed_by_kind of migration 002 over the call-level verdicts on the window's calls.
CREATE MACRO window_missed(default_tz, lo_utc, hi_utc, since, until) AS TABLE
WITH latest AS (
    SELECT call_id, arg_max(verdict, reviewed_at) AS verdict, arg_max(kind, reviewed_at) AS kind
    FROM reviews
    WHERE finding_id IS NULL
      AND call_id IN (SELECT call_id FROM window_calls(default_tz, lo_utc, hi_utc, since, until))
    GROUP BY call_id, coalesce(kind, '')
)
SELECT coalesce(kind, '(any)') AS kind,
       count(DISTINCT call_id) FILTER (WHERE verdict = 'missed') AS calls_missed,
       (SELECT count(DISTINCT call_id) FROM latest) AS calls_reviewed
FROM latest
WHERE verdict = 'missed'
GROUP BY 1;

-- QA samples drawn with `callqa sample`: the report gives the drawn calls pages.
CREATE TABLE qa_samples (
    sample_id        VARCHAR PRIMARY KEY,
    drawn_at         TIMESTAMPTZ NOT NULL,
    n                INTEGER NOT NULL,       -- rows asked for
    strata           VARCHAR,                -- e.g. kind,collector
    seed             INTEGER,
    unflagged_share  DOUBLE
);

CREATE TABLE qa_sample_rows (
    sample_id   VARCHAR NOT NULL,
    call_id     VARCHAR NOT NULL,
    finding_id  VARCHAR,                     -- NULL: an unflagged call drawn whole
    stratum     VARCHAR
);

-- The window's landed calls that get a page in the report, and why: a flagged finding, drawn
-- in a QA sample, or a verdict recorded.
CREATE MACRO window_page_calls(default_tz, lo_utc, hi_utc, since, until) AS TABLE
WITH w AS (
    SELECT call_id FROM window_calls(default_tz, lo_utc, hi_utc, since, until) WHERE status = 'ok'
), why AS (
    SELECT call_id,
           call_id IN (SELECT call_id FROM findings
                       WHERE severity <> 'info' AND call_id IN (SELECT call_id FROM w)) AS flagged,
           call_id IN (SELECT call_id FROM qa_sample_rows)                               AS sampled,
           call_id IN (SELECT call_id FROM reviews)                                      AS reviewed
    FROM w
)
SELECT * FROM why WHERE flagged OR sampled OR reviewed;

CREATE OR REPLACE VIEW detector_precision AS
SELECT * FROM window_precision('UTC', '-infinity'::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ,
                               '-infinity'::DATE, 'infinity'::DATE);

CREATE OR REPLACE VIEW missed_by_kind AS
SELECT * FROM window_missed('UTC', '-infinity'::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ,
                            '-infinity'::DATE, 'infinity'::DATE);

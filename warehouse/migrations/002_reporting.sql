-- Reporting: QA reviews, flagged-finding and review views, per-call facts, collector stress,
-- customer-abuse trend, detector precision and cross-call compliance.
--
-- Values that are configuration (calling hours, attempt cap, cool-down, default timezone) are
-- parameters of table macros; warehouse.reporting passes them from callqa.config
-- ([compliance]). Ad hoc:  FROM compliance_breaches('Asia/Shanghai', '08:00', '21:00', 7, 7);

-- QA verdicts. finding_id is NULL for call-level verdicts on sampled unflagged calls
-- ('clean', or 'missed' with the kind that the detectors missed). Rows are never updated:
-- the latest verdict per finding (or per call and kind) counts.
CREATE TABLE reviews (
    review_id    VARCHAR PRIMARY KEY,
    finding_id   VARCHAR,                    -- <call_id>#<n>, NULL for call-level verdicts
    call_id      VARCHAR NOT NULL,
    kind         VARCHAR,                    -- the finding's kind when reviewed / the missed kind
    verdict      VARCHAR NOT NULL CHECK (verdict IN ('confirmed', 'rejected', 'missed', 'clean')),
    note         VARCHAR,
    reviewer     VARCHAR NOT NULL,
    reviewed_at  TIMESTAMPTZ NOT NULL,
    source       VARCHAR NOT NULL            -- cli | import
);

-- A collector's own misconduct: anything flagged against the collector (abuse, threat, privacy,
-- missing steps, ...) except personal data said aloud, welfare signals and mood trends.
CREATE MACRO is_violation(kind, role, severity) AS
    role = 'collector' AND severity <> 'info'
    AND kind NOT IN ('pii', 'self_harm', 'sentiment_trajectory', 'negative_trajectory');

-- Abuse / threats aimed at the collector by the other side of the line.
CREATE MACRO is_received(kind, role, wanted) AS
    kind = wanted AND role IN ('customer', 'third_party');

-- Latest verdict per finding. `current` is false when the call was re-landed since and the
-- finding id now names a different kind of finding (the verdict then no longer applies).
CREATE VIEW finding_reviews AS
SELECT r.finding_id,
       arg_max(r.call_id, r.reviewed_at)  AS call_id,
       arg_max(r.kind, r.reviewed_at)     AS kind,
       arg_max(r.verdict, r.reviewed_at)  AS verdict,
       arg_max(r.note, r.reviewed_at)     AS note,
       arg_max(r.reviewer, r.reviewed_at) AS reviewer,
       max(r.reviewed_at)                 AS reviewed_at,
       count(*)                           AS n_reviews
FROM reviews r
WHERE r.finding_id IS NOT NULL
GROUP BY r.finding_id;

-- Flagged findings (severity above info) with their call's metadata and latest verdict.
CREATE VIEW flagged_findings AS
SELECT f.finding_id, f.call_id, f.kind, f.role, f.severity, f.score, f.rule_id,
       f.utterance_idx, f.start_s, f.end_s, f.evidence,
       c.collector_id, c.team, c.campaign, c.account_id, c.started_at, c.timezone,
       c.direction, c.duration_s, c.needs_review,
       is_violation(f.kind, f.role, f.severity) AS is_violation,
       CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.verdict END AS verdict,
       CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.reviewer END AS reviewer,
       CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.reviewed_at END AS reviewed_at,
       CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.note END AS review_note
FROM findings f
JOIN calls c USING (call_id)
LEFT JOIN finding_reviews r USING (finding_id)
WHERE f.severity <> 'info' AND c.status = 'ok';

-- Detector precision per kind from the latest current verdicts (confirmed / reviewed).
CREATE VIEW detector_precision AS
SELECT kind,
       count(*)                                        AS flagged,
       count(verdict)                                  AS reviewed,
       count(*) FILTER (WHERE verdict = 'confirmed')   AS confirmed,
       count(*) FILTER (WHERE verdict = 'rejected')    AS rejected,
       count(*) - count(verdict)                       AS pending,
       CASE WHEN count(verdict) > 0
            THEN count(*) FILTER (WHERE verdict = 'confirmed') / count(verdict) END AS precision
FROM flagged_findings
GROUP BY kind;

-- Call-level verdicts on sampled calls without flags: what the detectors missed.
CREATE VIEW missed_by_kind AS
WITH latest AS (
    SELECT call_id, arg_max(verdict, reviewed_at) AS verdict, arg_max(kind, reviewed_at) AS kind
    FROM reviews WHERE finding_id IS NULL
    GROUP BY call_id, coalesce(kind, '')
)
SELECT coalesce(kind, '(any)') AS kind,
       count(DISTINCT call_id) FILTER (WHERE verdict = 'missed') AS calls_missed,
       (SELECT count(DISTINCT call_id) FROM latest) AS calls_reviewed
FROM latest
WHERE verdict = 'missed'
GROUP BY 1;

-- One row per landed call: when (in the debtor's local time), who, and the measures the
-- collector views aggregate. default_tz is used when calls.timezone is empty.
CREATE MACRO call_facts(default_tz) AS TABLE
WITH f AS (
    SELECT call_id,
           count(*) FILTER (WHERE severity <> 'info')                        AS flags,
           count(*) FILTER (WHERE is_received(kind, role, 'abuse'))          AS abuse_received,
           count(*) FILTER (WHERE is_received(kind, role, 'threat'))         AS threats_received,
           count(*) FILTER (WHERE is_violation(kind, role, severity))        AS own_violations
    FROM findings GROUP BY call_id
), u AS (
    SELECT call_id,
           sum(end_s - start_s) FILTER (WHERE role <> 'collector')                           AS other_s,
           sum(end_s - start_s) FILTER (WHERE role <> 'collector' AND sentiment = 'negative') AS other_neg_s,
           sum(end_s - start_s) FILTER (WHERE role = 'collector')                            AS own_s,
           sum(end_s - start_s) FILTER (WHERE role = 'collector' AND sentiment = 'negative')  AS own_neg_s
    FROM utterances GROUP BY call_id
), m AS (
    SELECT call_id,
           max(talk_s) FILTER (WHERE role = 'all')                                 AS talk_s,
           max(silence_s) FILTER (WHERE role = 'all')                              AS silence_s,
           max(overlap_s) FILTER (WHERE role = 'all')                              AS overlap_s,
           coalesce(sum(interruptions) FILTER (WHERE role NOT IN ('all', 'collector')), 0) AS interruptions_received,
           coalesce(sum(interruptions) FILTER (WHERE role = 'collector'), 0)       AS interruptions_made
    FROM call_metrics GROUP BY call_id
)
SELECT c.call_id, c.collector_id, c.team, c.campaign, c.account_id, c.direction, c.started_at,
       coalesce(nullif(c.timezone, ''), default_tz)                                 AS tz,
       timezone(coalesce(nullif(c.timezone, ''), default_tz), c.started_at)         AS local_start,
       coalesce(timezone(coalesce(nullif(c.timezone, ''), default_tz), c.started_at), c.landed_at)::DATE AS local_date,
       coalesce(c.duration_s, 0)                    AS duration_s,
       coalesce(m.talk_s, 0)                        AS talk_s,
       coalesce(m.silence_s, 0)                     AS silence_s,
       coalesce(m.overlap_s, 0)                     AS overlap_s,
       coalesce(m.interruptions_received, 0)        AS interruptions_received,
       coalesce(m.interruptions_made, 0)            AS interruptions_made,
       coalesce(u.other_s, 0)                       AS other_s,
       coalesce(u.other_neg_s, 0)                   AS other_neg_s,
       coalesce(u.own_s, 0)                         AS own_s,
       coalesce(u.own_neg_s, 0)                     AS own_neg_s,
       coalesce(f.flags, 0)                         AS flags,
       coalesce(f.abuse_received, 0)                AS abuse_received,
       coalesce(f.threats_received, 0)              AS threats_received,
       coalesce(f.own_violations, 0)                AS own_violations
FROM calls c
LEFT JOIN f USING (call_id)
LEFT JOIN u USING (call_id)
LEFT JOIN m USING (call_id)
WHERE c.status = 'ok';

-- Per collector and period (grain 'day' or 'week', weeks start on Monday, local dates).
-- Shares are time-weighted over the period. stress_index (0-100) is a weighted sum of six
-- components, each scaled to 0..1:
--   0.30 abuse received per call          (1 per call or more = 1)
--   0.25 threats received per call x 2    (1 per two calls or more = 1)
--   0.20 negative share of the other side's speech time
--   0.10 crosstalk: overlap share / 0.10  (10 % of call time in overlap or more = 1)
--   0.10 own violations per call          (1 per call or more = 1)
--   0.05 silence above 30 % of call time, / 0.40 (70 % silence or more = 1)
CREATE MACRO collector_stats(default_tz, grain) AS TABLE
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
    FROM call_facts(default_tz)
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

-- Customer abuse received by week, campaign and team.
CREATE MACRO abuse_trend(default_tz) AS TABLE
SELECT date_trunc('week', local_date)::DATE                       AS week,
       coalesce(campaign, '(none)')                               AS campaign,
       coalesce(team, '(none)')                                   AS team,
       count(*)                                                   AS calls,
       count(*) FILTER (WHERE abuse_received + threats_received > 0) AS calls_with_abuse,
       sum(abuse_received)                                        AS abuse_received,
       sum(threats_received)                                      AS threats_received,
       round(100.0 * count(*) FILTER (WHERE abuse_received + threats_received > 0) / count(*), 1)
                                                                  AS pct_calls_with_abuse
FROM call_facts(default_tz)
GROUP BY 1, 2, 3;

-- Cross-call compliance from call metadata (inbound calls are never breaches):
--   outside_hours: started before hours_start or after hours_end ('HH:MM') in the debtor's time
--   attempt_cap:   more than max_attempts outbound calls to one account within 7 days
--   after_contact: an outbound call within cooldown_days after a conversation with the debtor
--                  (an earlier landed call of the account in which the customer spoke)
CREATE MACRO compliance_breaches(default_tz, hours_start, hours_end, max_attempts, cooldown_days) AS TABLE
WITH base AS (
    SELECT c.call_id, c.collector_id, c.team, c.campaign, c.account_id, c.started_at,
           coalesce(c.direction, 'outbound') AS direction, c.status,
           timezone(coalesce(nullif(c.timezone, ''), default_tz), c.started_at) AS local_start,
           coalesce(nullif(c.timezone, ''), default_tz) AS tz,
           EXISTS (SELECT 1 FROM call_metrics m WHERE m.call_id = c.call_id
                   AND m.role = 'customer' AND m.talk_s > 0) AS conversation
    FROM calls c
    WHERE c.started_at IS NOT NULL
), outbound AS (
    SELECT *, count(*) OVER (PARTITION BY account_id ORDER BY started_at
                             RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND CURRENT ROW) AS attempts_7d
    FROM base WHERE direction <> 'inbound' AND account_id IS NOT NULL
), hours AS (
    SELECT 'outside_hours' AS rule, call_id, collector_id, team, campaign, account_id, started_at, local_start,
           'started ' || strftime(local_start, '%H:%M') || ' ' || tz || ', allowed '
               || hours_start || '-' || hours_end AS detail
    FROM base
    WHERE direction <> 'inbound'
      AND (local_start::TIME < CAST(hours_start AS TIME) OR local_start::TIME > CAST(hours_end AS TIME))
), cap AS (
    SELECT 'attempt_cap' AS rule, call_id, collector_id, team, campaign, account_id, started_at, local_start,
           'attempt ' || attempts_7d || ' to this account within 7 days, cap ' || max_attempts AS detail
    FROM outbound
    WHERE attempts_7d > max_attempts
), contact AS (
    SELECT 'after_contact' AS rule, o.call_id, o.collector_id, o.team, o.campaign, o.account_id, o.started_at,
           o.local_start,
           'conversation with the debtor on ' || strftime(max(timezone(o.tz, p.started_at)), '%Y-%m-%d %H:%M')
               || ', cool-down ' || cooldown_days || ' days' AS detail
    FROM outbound o
    JOIN base p ON p.account_id = o.account_id AND p.conversation AND p.status = 'ok'
              AND p.started_at < o.started_at
              AND p.started_at >= o.started_at - to_days(CAST(cooldown_days AS INTEGER))
    GROUP BY ALL
)
SELECT * FROM hours
UNION ALL SELECT * FROM cap
UNION ALL SELECT * FROM contact;

-- Call outcomes and collection rules: the call's disposition, promises to pay, the dialer's
-- attempt log and the payments file, and the views/macros managers run the floor by.
--
-- Values that are configuration (timezone, as-of date, rule numbers) are macro parameters;
-- warehouse.outcomes and warehouse.breaches pass them from [compliance]. Ad hoc:
--   FROM outcomes_weekly('Asia/Shanghai', current_date);
--   FROM promise_status('Asia/Shanghai', current_date);   FROM follow_ups('Asia/Shanghai');
--   FROM breaches_cease_contact('Asia/Shanghai', 120);

-- Whom the call reached (analysis.disposition): right_party | third_party | wrong_number |
-- no_answer | unknown. NULL for failed recordings and calls landed before this migration.
ALTER TABLE calls ADD COLUMN disposition VARCHAR;

-- One row per promise_to_pay finding, landed with its call (replaced, purged and re-keyed with it).
CREATE TABLE promises (
    call_id      VARCHAR NOT NULL,
    finding_id   VARCHAR NOT NULL,       -- the promise_to_pay finding, <call_id>#<n>
    account_id   VARCHAR,                -- the call's, kept in step with calls
    collector_id VARCHAR,
    amount       DOUBLE,                 -- yuan; NULL when no amount was said
    due          VARCHAR,                -- YYYY-MM-DD, YYYY-MM (a month was named) or NULL
    due_date     DATE,                   -- the day; for YYYY-MM the month's last day
    said_at_s    DOUBLE,                 -- seconds into the recording
    role         VARCHAR,                -- customer | third_party (on the debtor's behalf)
    evidence     VARCHAR                 -- redacted
);

-- The dialer's attempt log (`callqa import-attempts`): every attempt, recorded or not. The phone
-- number is not stored: a SHA-256 digest of its digits (to count attempts per number) and its
-- last four digits (to show it as ***1234).
CREATE TABLE attempts (
    attempt_id   VARCHAR NOT NULL,       -- att-<16 hex of SHA-256 of the natural key>
    account_id   VARCHAR NOT NULL,
    phone_hash   VARCHAR,
    phone_tail   VARCHAR,
    started_at   TIMESTAMPTZ NOT NULL,
    timezone     VARCHAR,                -- the debtor's zone (default: [compliance] default_timezone)
    answered     BOOLEAN NOT NULL,
    collector_id VARCHAR,
    source       VARCHAR,                -- the file it came from
    imported_at  TIMESTAMPTZ NOT NULL
);

-- Payments received (`callqa import-payments`); natural key (account_id, paid_at, amount).
CREATE TABLE payments (
    account_id   VARCHAR NOT NULL,
    paid_at      TIMESTAMPTZ NOT NULL,
    amount       DOUBLE NOT NULL,
    timezone     VARCHAR,
    source       VARCHAR,
    imported_at  TIMESTAMPTZ NOT NULL
);

-- One row per landed call: disposition and outcome counts (far-side findings), local date and
-- week in the debtor's zone. promised_amount sums the call's distinct (amount, due) promises.
CREATE MACRO call_outcomes(default_tz) AS TABLE
WITH f AS (
    SELECT call_id,
           count(*) FILTER (WHERE kind = 'promise_to_pay')    AS promises_said,
           count(*) FILTER (WHERE kind = 'refusal_to_pay')    AS refusals,
           count(*) FILTER (WHERE kind = 'dispute')           AS disputes,
           count(*) FILTER (WHERE kind = 'hardship')          AS hardships,
           count(*) FILTER (WHERE kind = 'cease_contact')     AS cease_requests,
           count(*) FILTER (WHERE kind = 'complaint_threat')  AS complaint_threats,
           count(*) FILTER (WHERE kind = 'wrong_party')       AS wrong_party
    FROM findings WHERE role <> 'collector' GROUP BY call_id
), p AS (
    SELECT call_id, count(*) AS promises, sum(amount) AS promised_amount
    FROM (SELECT DISTINCT call_id, amount, due FROM promises) GROUP BY call_id
)
SELECT c.call_id, coalesce(c.collector_id, '(unknown)') AS collector_id, c.team, c.account_id,
       c.direction, c.started_at, c.disposition,
       coalesce(nullif(c.timezone, ''), default_tz)                                        AS tz,
       coalesce(timezone(coalesce(nullif(c.timezone, ''), default_tz), c.started_at), c.landed_at)::DATE AS local_date,
       date_trunc('week', coalesce(timezone(coalesce(nullif(c.timezone, ''), default_tz), c.started_at),
                                   c.landed_at))::DATE                                      AS week,
       coalesce(p.promises, 0)            AS promises,
       coalesce(p.promised_amount, 0)     AS promised_amount,
       coalesce(f.refusals, 0)            AS refusals,
       coalesce(f.disputes, 0)            AS disputes,
       coalesce(f.hardships, 0)           AS hardships,
       coalesce(f.cease_requests, 0)      AS cease_requests,
       coalesce(f.complaint_threats, 0)   AS complaint_threats,
       coalesce(f.wrong_party, 0)         AS wrong_party
FROM calls c
LEFT JOIN f USING (call_id)
LEFT JOIN p USING (call_id)
WHERE c.status = 'ok';

-- Every promise (one per call and distinct amount/due) judged against the payments file as of
-- a local date:
--   kept     payments of the account from the call's local date to the due date (to as_of
--            when no date was named) add up to the amount (any payment when no amount was said)
--   broken   not kept, and the due date is before as_of
--   pending  not kept yet, the due date is as_of or later
--   open     not kept, no due date named (never broken)
--   unknown  no payments file was imported yet, or the call has no account
CREATE MACRO promise_status(default_tz, as_of) AS TABLE
WITH p AS (
    SELECT pr.*, c.started_at, c.team, coalesce(nullif(c.timezone, ''), default_tz) AS tz,
           timezone(coalesce(nullif(c.timezone, ''), default_tz), c.started_at)::DATE AS promised_on
    FROM promises pr JOIN calls c USING (call_id)
    WHERE c.status = 'ok'
    QUALIFY row_number() OVER (PARTITION BY pr.call_id, pr.amount, pr.due ORDER BY pr.said_at_s, pr.finding_id) = 1
), paid AS (
    SELECT p.finding_id,
           coalesce(sum(y.amount) FILTER (WHERE p.due_date IS NULL
                                             OR timezone(p.tz, y.paid_at)::DATE <= p.due_date), 0) AS paid_by_due,
           coalesce(sum(y.amount), 0)  AS paid_since,
           max(y.paid_at)              AS last_paid_at
    FROM p
    LEFT JOIN payments y ON y.account_id = p.account_id
          AND timezone(p.tz, y.paid_at)::DATE >= p.promised_on
          AND timezone(p.tz, y.paid_at)::DATE <= CAST(as_of AS DATE)
    GROUP BY p.finding_id
)
SELECT p.finding_id, p.call_id, p.account_id, coalesce(p.collector_id, '(unknown)') AS collector_id, p.team,
       p.started_at, p.promised_on, date_trunc('week', p.promised_on)::DATE AS week,
       p.amount, p.due, p.due_date, p.said_at_s, p.role, p.evidence,
       paid.paid_by_due, paid.paid_since, paid.last_paid_at,
       CASE
           WHEN NOT EXISTS (SELECT 1 FROM payments) OR p.account_id IS NULL THEN 'unknown'
           WHEN (p.amount IS NULL AND paid.paid_by_due > 0) OR paid.paid_by_due >= p.amount - 0.005 THEN 'kept'
           WHEN p.due_date IS NULL THEN 'open'
           WHEN p.due_date < CAST(as_of AS DATE) THEN 'broken'
           ELSE 'pending'
       END AS status
FROM p JOIN paid USING (finding_id);

CREATE MACRO broken_promises(default_tz, as_of) AS TABLE
SELECT * FROM promise_status(default_tz, as_of) WHERE status = 'broken';

-- Hardship and complaint-threat findings (the far side's) that no reviewer has judged yet.
CREATE MACRO follow_ups(default_tz) AS TABLE
SELECT f.finding_id, f.call_id, f.kind, f.role, f.severity, f.start_s, f.evidence,
       coalesce(c.collector_id, '(unknown)') AS collector_id, c.team, c.account_id, c.started_at, c.disposition,
       timezone(coalesce(nullif(c.timezone, ''), default_tz), c.started_at) AS local_start
FROM findings f
JOIN calls c USING (call_id)
LEFT JOIN finding_reviews r USING (finding_id)
WHERE f.kind IN ('hardship', 'complaint_threat') AND f.role <> 'collector' AND c.status = 'ok'
  AND (r.finding_id IS NULL OR r.kind IS DISTINCT FROM f.kind);

-- Per collector and local week: calls, dispositions, right-party contact rate (right-party
-- calls / calls with a disposition), promise rate (calls with a promise / right-party calls),
-- promised amount, promises kept/broken/pending (see promise_status), follow-ups.
CREATE MACRO outcomes_weekly(default_tz, as_of) AS TABLE
WITH c AS (
    SELECT collector_id, week,
           count(*)                                                   AS calls,
           count(disposition)                                         AS with_disposition,
           count(*) FILTER (WHERE disposition = 'right_party')        AS right_party,
           count(*) FILTER (WHERE disposition = 'third_party')        AS third_party,
           count(*) FILTER (WHERE disposition = 'wrong_number')       AS wrong_number,
           count(*) FILTER (WHERE disposition = 'no_answer')          AS no_answer,
           count(*) FILTER (WHERE promises > 0)                       AS promise_calls,
           sum(promised_amount)                                       AS promised_amount,
           count(*) FILTER (WHERE disputes > 0)                       AS dispute_calls,
           count(*) FILTER (WHERE hardships > 0)                      AS hardship_calls,
           count(*) FILTER (WHERE complaint_threats > 0)              AS complaint_calls,
           count(*) FILTER (WHERE cease_requests > 0)                 AS cease_calls
    FROM call_outcomes(default_tz) GROUP BY 1, 2
), p AS (
    SELECT collector_id, week, count(*) AS promises,
           count(*) FILTER (WHERE status = 'kept')    AS promises_kept,
           count(*) FILTER (WHERE status = 'broken')  AS promises_broken,
           count(*) FILTER (WHERE status = 'pending') AS promises_pending
    FROM promise_status(default_tz, as_of) GROUP BY 1, 2
), u AS (
    SELECT collector_id,
           date_trunc('week', coalesce(local_start, started_at::DATE))::DATE AS week,
           count(DISTINCT call_id) AS follow_up_calls
    FROM follow_ups(default_tz) GROUP BY 1, 2
)
SELECT c.collector_id, c.week, c.calls, c.right_party, c.third_party, c.wrong_number, c.no_answer,
       c.right_party / nullif(c.with_disposition, 0)          AS rpc_rate,
       c.promise_calls,
       c.promise_calls / nullif(c.right_party, 0)             AS promise_rate,
       c.promised_amount,
       coalesce(p.promises, 0)          AS promises,
       coalesce(p.promises_kept, 0)     AS promises_kept,
       coalesce(p.promises_broken, 0)   AS promises_broken,
       coalesce(p.promises_pending, 0)  AS promises_pending,
       c.dispute_calls, c.hardship_calls, c.complaint_calls, c.cease_calls,
       coalesce(u.follow_up_calls, 0)   AS follow_up_calls
FROM c
LEFT JOIN p USING (collector_id, week)
LEFT JOIN u USING (collector_id, week);

-- Contact events for the collection rules: every attempt of the dialer's log, and every call
-- that is not in it. A call is in the log when an attempt to the same account started within
-- match_s seconds of it (each call takes its nearest attempt, each attempt at most one call):
-- the pair is one event (the attempt's time and number, the call's disposition).
--   answered      the dialer's flag; for calls not in the log: someone on the far side spoke
--   effective     connected and spoken: a recorded call reaching the debtor, a third party or an
--                 unknown speaker (not a wrong number, not no answer); an unrecorded answered attempt
--   failed        toward the debtor: no answer or a wrong number; an unrecorded unanswered attempt
--   conversation  a landed call with the debtor (right_party; before dispositions: the customer spoke)
CREATE MACRO contact_events(default_tz, match_s) AS TABLE
WITH c AS (
    SELECT call_id, account_id, collector_id, started_at, status, disposition,
           coalesce(nullif(timezone, ''), default_tz) AS tz, coalesce(direction, 'outbound') AS direction
    FROM calls WHERE started_at IS NOT NULL
), spoke AS (
    SELECT call_id,
           bool_or(role IN ('customer', 'third_party', 'unknown') AND talk_s > 0) AS far_spoke,
           bool_or(role = 'customer' AND talk_s > 0)                              AS customer_spoke
    FROM call_metrics GROUP BY call_id
), pairs AS (
    SELECT a.attempt_id, c.call_id, abs(epoch(c.started_at) - epoch(a.started_at)) AS gap
    FROM attempts a JOIN c ON c.account_id = a.account_id AND c.direction <> 'inbound'
     AND c.started_at BETWEEN a.started_at - to_seconds(CAST(match_s AS DOUBLE))
                          AND a.started_at + to_seconds(CAST(match_s AS DOUBLE))
), per_call AS (
    SELECT * FROM pairs QUALIFY row_number() OVER (PARTITION BY call_id ORDER BY gap, attempt_id) = 1
), matched AS (
    SELECT * FROM per_call QUALIFY row_number() OVER (PARTITION BY attempt_id ORDER BY gap, call_id) = 1
), ev AS (
    SELECT 'attempt:' || a.attempt_id AS event_key, a.attempt_id, m.call_id, a.account_id,
           coalesce(a.collector_id, c.collector_id) AS collector_id, a.phone_hash, a.phone_tail, a.started_at,
           coalesce(nullif(a.timezone, ''), default_tz) AS tz, 'outbound' AS direction, a.answered,
           c.status, c.disposition
    FROM attempts a LEFT JOIN matched m USING (attempt_id) LEFT JOIN c ON c.call_id = m.call_id
    UNION ALL
    SELECT 'call:' || c.call_id, NULL, c.call_id, c.account_id, c.collector_id, NULL, NULL, c.started_at, c.tz,
           c.direction, NULL, c.status, c.disposition
    FROM c WHERE c.call_id NOT IN (SELECT call_id FROM matched)
)
SELECT ev.event_key, CASE WHEN ev.call_id IS NULL THEN 'attempt' ELSE 'call' END AS event,
       ev.call_id, ev.attempt_id, ev.account_id, ev.collector_id, ev.phone_hash,
       CASE WHEN ev.phone_tail IS NOT NULL THEN '***' || ev.phone_tail END AS phone,
       ev.started_at, ev.tz, timezone(ev.tz, ev.started_at) AS local_start,
       timezone(ev.tz, ev.started_at)::DATE AS local_date, ev.direction, ev.status, ev.disposition,
       coalesce(ev.answered, ev.disposition <> 'no_answer', s.far_spoke, false) AS answered,
       CASE WHEN ev.call_id IS NULL THEN ev.answered
            WHEN ev.status <> 'ok' THEN coalesce(ev.answered, false)
            ELSE coalesce(ev.disposition IN ('right_party', 'third_party', 'unknown'), s.far_spoke, false) END AS effective,
       CASE WHEN ev.call_id IS NULL THEN NOT ev.answered
            WHEN ev.status <> 'ok' THEN NOT coalesce(ev.answered, true)
            ELSE coalesce(ev.disposition IN ('no_answer', 'wrong_number'), NOT s.far_spoke, false) END AS failed,
       coalesce(ev.status = 'ok', false)
           AND coalesce(ev.disposition = 'right_party', s.customer_spoke, false)            AS conversation,
       coalesce(ev.status = 'ok', false) AND coalesce(ev.disposition = 'third_party', false) AS third_party
FROM ev LEFT JOIN spoke s ON s.call_id = ev.call_id;

-- The collection rules, one macro each, all with the same columns:
--   rule, event (call | attempt), call_id, attempt_id, account_id, collector_id, phone (***1234),
--   started_at, local_start, detail. Inbound calls are never breaches.

-- Outbound contact before hours_start or after hours_end ('HH:MM') in the debtor's local time.
CREATE MACRO breaches_calling_hours(default_tz, match_s, hours_start, hours_end) AS TABLE
SELECT 'calling_hours' AS rule, event, call_id, attempt_id, account_id, collector_id, phone, started_at, local_start,
       'started ' || strftime(local_start, '%H:%M') || ' ' || tz || ', allowed ' || hours_start || '-' || hours_end AS detail
FROM contact_events(default_tz, match_s)
WHERE direction <> 'inbound'
  AND (local_start::TIME < CAST(hours_start AS TIME) OR local_start::TIME > CAST(hours_end AS TIME));

-- More than max_attempts outbound attempts/calls to one account within 7 days (168 hours, the
-- event's own included).
CREATE MACRO breaches_attempts_7d(default_tz, match_s, max_attempts) AS TABLE
WITH e AS (
    SELECT *,
           row_number() OVER (PARTITION BY account_id ORDER BY started_at, event_key)
           - count(*) OVER (PARTITION BY account_id ORDER BY started_at
                            RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 7 DAYS PRECEDING) AS n_7d
    FROM contact_events(default_tz, match_s)
    WHERE direction <> 'inbound' AND account_id IS NOT NULL
)
SELECT 'attempts_7d' AS rule, event, call_id, attempt_id, account_id, collector_id, phone, started_at, local_start,
       'attempt ' || n_7d || ' to this account within 7 days, at most ' || max_attempts AS detail
FROM e WHERE n_7d > max_attempts;

-- An outbound attempt/call within cooldown_days after a conversation with the debtor.
CREATE MACRO breaches_cooldown_after_contact(default_tz, match_s, cooldown_days) AS TABLE
WITH e AS (
    SELECT * FROM contact_events(default_tz, match_s) WHERE account_id IS NOT NULL
)
SELECT 'cooldown_after_contact' AS rule, o.event, o.call_id, o.attempt_id, o.account_id, o.collector_id, o.phone,
       o.started_at, o.local_start,
       'conversation with the debtor on ' || strftime(max(timezone(o.tz, p.started_at)), '%Y-%m-%d %H:%M')
           || ', cool-down ' || cooldown_days || ' days' AS detail
FROM e o
JOIN e p ON p.account_id = o.account_id AND p.conversation AND p.event_key <> o.event_key
        AND p.started_at < o.started_at
        AND p.started_at >= o.started_at - to_days(CAST(cooldown_days AS INTEGER))
WHERE o.direction <> 'inbound'
GROUP BY ALL;

-- More than max_calls effective (connected, spoken) outbound calls to one debtor (account) on
-- one local day.
CREATE MACRO breaches_effective_calls_per_day(default_tz, match_s, max_calls) AS TABLE
WITH e AS (
    SELECT *, row_number() OVER (PARTITION BY account_id, local_date ORDER BY started_at, event_key) AS k
    FROM contact_events(default_tz, match_s)
    WHERE direction <> 'inbound' AND account_id IS NOT NULL AND effective
)
SELECT 'effective_calls_per_day' AS rule, event, call_id, attempt_id, account_id, collector_id, phone, started_at,
       local_start, 'effective call ' || k || ' to this debtor on ' || strftime(local_date, '%Y-%m-%d')
           || ', at most ' || max_calls || ' a day' AS detail
FROM e WHERE k > max_calls;

-- More than max_unanswered unanswered attempts to one phone number on one local day (attempts
-- of the log only: recordings carry no number).
CREATE MACRO breaches_unanswered_per_number_per_day(default_tz, match_s, max_unanswered) AS TABLE
WITH e AS (
    SELECT *, row_number() OVER (PARTITION BY phone_hash, local_date ORDER BY started_at, event_key) AS k
    FROM contact_events(default_tz, match_s)
    WHERE direction <> 'inbound' AND phone_hash IS NOT NULL AND NOT answered
)
SELECT 'unanswered_per_number_per_day' AS rule, event, call_id, attempt_id, account_id, collector_id, phone,
       started_at, local_start, 'unanswered attempt ' || k || ' to ' || phone || ' on '
           || strftime(local_date, '%Y-%m-%d') || ', at most ' || max_unanswered || ' a day' AS detail
FROM e WHERE k > max_unanswered;

-- A third party reached (a landed call with disposition third_party) before min_failed
-- consecutive failed attempts to the debtor: the min_failed latest earlier events of the account
-- (third-party calls skipped) must all have failed (no answer, wrong number).
CREATE MACRO breaches_third_party_after_failed_attempts(default_tz, match_s, min_failed) AS TABLE
WITH e AS (
    SELECT * FROM contact_events(default_tz, match_s) WHERE account_id IS NOT NULL
), prior AS (
    SELECT t.event_key, p.failed,
           row_number() OVER (PARTITION BY t.event_key ORDER BY p.started_at DESC, p.event_key DESC) AS back
    FROM e t JOIN e p ON p.account_id = t.account_id AND p.started_at < t.started_at
                     AND NOT p.third_party AND p.direction <> 'inbound'
    WHERE t.third_party
), judged AS (
    SELECT event_key,
           count(*) FILTER (WHERE back <= min_failed)                 AS looked_at,
           coalesce(min(back) FILTER (WHERE NOT failed), 1000000) - 1 AS failed_in_a_row
    FROM prior GROUP BY event_key
)
SELECT 'third_party_after_failed_attempts' AS rule, t.event, t.call_id, t.attempt_id, t.account_id, t.collector_id,
       t.phone, t.started_at, t.local_start,
       'third party reached after ' || least(coalesce(j.failed_in_a_row, 0), coalesce(j.looked_at, 0))
           || ' consecutive failed attempt(s) to the debtor, at least ' || min_failed || ' first' AS detail
FROM e t LEFT JOIN judged j USING (event_key)
WHERE t.third_party AND t.direction <> 'inbound'
  AND least(coalesce(j.failed_in_a_row, 0), coalesce(j.looked_at, 0)) < min_failed;

-- An outbound attempt/call to an account after the debtor (or a third party) asked in a landed
-- call to stop calling (a cease_contact finding).
CREATE MACRO breaches_cease_contact(default_tz, match_s) AS TABLE
WITH asked AS (
    SELECT c.call_id AS asked_in, c.account_id, c.started_at AS asked_at,
           coalesce(nullif(c.timezone, ''), default_tz) AS tz
    FROM findings f JOIN calls c USING (call_id)
    WHERE f.kind = 'cease_contact' AND f.role <> 'collector' AND c.status = 'ok'
      AND c.account_id IS NOT NULL AND c.started_at IS NOT NULL
    GROUP BY ALL
)
SELECT 'cease_contact' AS rule, e.event, e.call_id, e.attempt_id, e.account_id, e.collector_id, e.phone, e.started_at,
       e.local_start,
       'asked to stop calls in ' || arg_min(a.asked_in, a.asked_at) || ' on '
           || strftime(min(timezone(a.tz, a.asked_at)), '%Y-%m-%d %H:%M') AS detail
FROM contact_events(default_tz, match_s) e
JOIN asked a ON a.account_id = e.account_id AND a.asked_at < e.started_at
            AND e.call_id IS DISTINCT FROM a.asked_in
WHERE e.direction <> 'inbound'
GROUP BY ALL;

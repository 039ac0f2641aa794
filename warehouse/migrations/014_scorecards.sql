-- QA scorecards: every landed call scored against each configured scorecard, reviewers'
-- overrides of single items, and the effective score with the overrides applied.

-- One row per call and scorecard, written when the call lands (and replaced with it), and
-- rewritten by `callqa score` when the scorecard's version changes. score is 0-100 (NULL when
-- no item applies), 0 with fatal = true when a fatal item (致命项) failed.
CREATE TABLE call_scores (
    call_id    VARCHAR NOT NULL,
    scorecard  VARCHAR NOT NULL,
    version    VARCHAR NOT NULL,
    score      DOUBLE,
    fatal      BOOLEAN NOT NULL,
    items      STRUCT(item_id VARCHAR, section VARCHAR, title VARCHAR, result VARCHAR, points DOUBLE,
                      weight DOUBLE, fatal BOOLEAN, evidence VARCHAR, finding_n INTEGER)[],
                                          -- result pass | fail | na; evidence: redacted text or a measured
                                          -- value; finding_n: the finding <call_id>#<n> it rests on
    scored_at  TIMESTAMPTZ NOT NULL
);

-- A reviewer's result for one item of one call's form (`callqa review CALL --scorecard S
-- --item I --result pass|fail`). Rows are never updated: the latest per call, scorecard and
-- item counts, whatever version of the scorecard was scored when it was made (`version`).
CREATE TABLE score_overrides (
    override_id  VARCHAR PRIMARY KEY,
    call_id      VARCHAR NOT NULL,
    scorecard    VARCHAR NOT NULL,
    version      VARCHAR,
    item_id      VARCHAR NOT NULL,
    result       VARCHAR NOT NULL CHECK (result IN ('pass', 'fail')),
    note         VARCHAR,
    reviewer     VARCHAR NOT NULL,
    reviewed_at  TIMESTAMPTZ NOT NULL
);

CREATE VIEW latest_score_overrides AS
SELECT call_id, scorecard, item_id,
       arg_max(result, reviewed_at)   AS result,
       arg_max(note, reviewed_at)     AS note,
       arg_max(reviewer, reviewed_at) AS reviewer,
       max(reviewed_at)               AS reviewed_at
FROM score_overrides
GROUP BY call_id, scorecard, item_id;

-- Each item with its override applied (result = the override's when there is one).
CREATE VIEW effective_score_items AS
WITH exploded AS (
    SELECT call_id, scorecard, version, unnest(items) AS it, generate_subscripts(items, 1) AS pos FROM call_scores
)
SELECT e.call_id, e.scorecard, e.version, e.pos, e.it.item_id AS item_id, e.it.section AS section, e.it.title AS title,
       e.it.weight AS weight, e.it.fatal AS item_fatal, e.it.evidence AS evidence,
       e.call_id || '#' || e.it.finding_n AS finding_id,
       e.it.result AS detected, coalesce(o.result, e.it.result) AS result,
       CASE WHEN coalesce(o.result, e.it.result) = 'pass' THEN e.it.weight ELSE 0.0 END AS points,
       o.result IS NOT NULL AS overridden, o.reviewer, o.reviewed_at, o.note
FROM exploded e
LEFT JOIN latest_score_overrides o
       ON o.call_id = e.call_id AND o.scorecard = e.scorecard AND o.item_id = e.it.item_id;

-- The score that counts: computed from the effective items as analysis.scorecards.total does
-- (0 when a fatal item fails; 100 x points / weights of the items that apply, to 0.1).
CREATE VIEW effective_call_scores AS
SELECT s.call_id, s.scorecard, s.version, s.score AS detected_score, s.fatal AS detected_fatal, s.scored_at,
       CASE WHEN bool_or(i.item_fatal AND i.result = 'fail') THEN 0.0
            ELSE round(100.0 * sum(i.points) / nullif(sum(i.weight) FILTER (WHERE i.result <> 'na'), 0), 1)
       END AS score,
       coalesce(bool_or(i.item_fatal AND i.result = 'fail'), false) AS fatal,
       count(*) FILTER (WHERE i.overridden) AS overrides
FROM call_scores s
LEFT JOIN effective_score_items i USING (call_id, scorecard)
GROUP BY ALL;

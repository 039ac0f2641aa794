-- Landing numbers (migration 010) on the tables added since: a call's scores and promises are
-- deleted with its other rows by number when the call lands again (warehouse.store._delete_calls).
-- Rows written outside landing (re-scoring, `callqa rules apply`) take their call's number.
ALTER TABLE call_scores ADD COLUMN land_seq BIGINT;
ALTER TABLE promises ADD COLUMN land_seq BIGINT;
UPDATE call_scores SET land_seq = c.land_seq FROM calls c WHERE call_scores.call_id = c.call_id;
UPDATE promises SET land_seq = c.land_seq FROM calls c WHERE promises.call_id = c.call_id;

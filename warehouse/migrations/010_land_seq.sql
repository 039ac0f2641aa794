-- Landing numbers: each landed version of a call (ok or failed) gets the next number, on its
-- calls row and on all of its rows in the other tables. The numbers grow with landing order,
-- so the rows of one call lie in few row groups and DuckDB's min/max (zone maps) find them:
-- replacing a changed call deletes its old rows without scanning every call_id of the
-- warehouse (warehouse.store._delete_calls). Rows landed before this migration have NULL and
-- are found by call id.

CREATE SEQUENCE land_seq_numbers START 1;
ALTER TABLE calls ADD COLUMN land_seq BIGINT;
ALTER TABLE utterances ADD COLUMN land_seq BIGINT;
ALTER TABLE utterances_raw ADD COLUMN land_seq BIGINT;
ALTER TABLE findings ADD COLUMN land_seq BIGINT;
ALTER TABLE call_metrics ADD COLUMN land_seq BIGINT;

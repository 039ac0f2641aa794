-- Where derived copies of call data were written (exports, reports), so purges reach them,
-- and a record of every purge.

CREATE TABLE artifacts (
    path        VARCHAR NOT NULL,     -- an export or report folder
    kind        VARCHAR NOT NULL,     -- export | report
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE purges (
    purge_id      VARCHAR NOT NULL,
    purged_at     TIMESTAMPTZ NOT NULL,
    criteria      VARCHAR NOT NULL,   -- e.g. account_id=A123, older_than_days=730
    n_calls       INTEGER NOT NULL,
    rows_deleted  BIGINT NOT NULL,
    files_removed INTEGER NOT NULL
);

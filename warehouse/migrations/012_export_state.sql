-- Incremental exports: what each export folder holds, so that the next export into it writes
-- only what changed since (warehouse/export.py).

-- One row per call whose rows an export folder holds. `version` is a hash of the call's `calls`
-- row when it was exported: a call landed again, re-keyed, moved or given new metadata has
-- another one, and the partitions holding its old rows are rewritten.
CREATE TABLE export_calls (
    folder       VARCHAR NOT NULL,    -- artifacts.path of the export folder
    call_id      VARCHAR NOT NULL,
    call_date    DATE NOT NULL,       -- the partition (call_date=YYYY-MM-DD) holding its rows
    version      UBIGINT NOT NULL,    -- hash of its calls row as exported
    transcripts  BOOLEAN NOT NULL     -- its RTTM and WebVTT files were written
);

-- One row per export into a folder. An export that stopped while `writing` has its part files
-- (part-<export_id>.parquet) removed by the next export into the folder; one that stopped when
-- `written` (recorded, superseded files not yet deleted) is finished by it.
CREATE TABLE exports (
    export_id      VARCHAR NOT NULL,
    folder         VARCHAR NOT NULL,
    mode           VARCHAR NOT NULL,  -- full | incremental
    transcripts    BOOLEAN NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    status         VARCHAR NOT NULL,  -- writing | written | done | abandoned
    last_landed_at TIMESTAMPTZ,       -- the newest landed_at of the calls it exported (the watermark)
    n_calls        INTEGER,           -- calls written (new or changed)
    files_written  INTEGER,
    files_removed  INTEGER
);

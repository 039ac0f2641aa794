-- Purges that hold, and the files a purge may delete.

-- One row per purged call, written in the purge's own transaction. The nightly flow never
-- lands a recording whose call id or content hash is here again, until an operator lifts it
-- (`callqa purge --lift`, recorded in purges with action 'lift').
CREATE TABLE purge_tombstones (
    call_id     VARCHAR NOT NULL,
    sha256      VARCHAR,                 -- content hash of the purged recording (NULL: unknown)
    account_id  VARCHAR,                 -- so that `--lift --account-id` finds them
    purge_id    VARCHAR NOT NULL,
    purged_at   TIMESTAMPTZ NOT NULL
);

-- Every file callqa wrote into an export or report folder, by exact path: the only files a
-- purge (or a later export or report into the same folder) ever deletes or rewrites.
CREATE TABLE artifact_files (
    folder      VARCHAR NOT NULL,        -- artifacts.path of the folder
    path        VARCHAR NOT NULL,        -- absolute path of the file
    kind        VARCHAR NOT NULL,        -- rttm | vtt | parquet | page | audio | overview
    call_id     VARCHAR,                 -- a call the file holds (a file of many calls: a row per call);
                                         -- NULL for overview pages (they list every call of the folder)
    written_at  TIMESTAMPTZ NOT NULL
);

ALTER TABLE purges ADD COLUMN action VARCHAR DEFAULT 'purge';     -- purge | lift
ALTER TABLE runs ADD COLUMN n_purged INTEGER DEFAULT 0;           -- recordings not landed: purged

-- Nightly cost follows the night's recordings, not the archive.
-- A recording whose path, size and modification time are unchanged since it landed (or failed)
-- is not read again: its stored sha256 is reused. NULL: not known (rows landed before this
-- migration, or a file that changed while it was read); such a file is hashed once more.
ALTER TABLE calls ADD COLUMN mtime_ns BIGINT;             -- st_mtime_ns of the file when it was read

-- What each run read from the archive (bytes hashed), to check that nights stay cheap.
ALTER TABLE runs ADD COLUMN n_hashed INTEGER DEFAULT 0;     -- recordings whose bytes were read and hashed
ALTER TABLE runs ADD COLUMN bytes_hashed BIGINT DEFAULT 0;  -- their total size

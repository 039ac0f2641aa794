-- Core tables: runs, calls, utterances, findings, call_metrics, failures.
-- Child rows are replaced per call inside one transaction by warehouse.store.Warehouse.land().

CREATE TABLE runs (
    run_id        VARCHAR PRIMARY KEY,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    archive       VARCHAR,
    status        VARCHAR NOT NULL,          -- running | completed | crashed
    n_discovered  INTEGER DEFAULT 0,
    n_skipped     INTEGER DEFAULT 0,
    n_landed      INTEGER DEFAULT 0,
    n_failed      INTEGER DEFAULT 0,
    audio_seconds DOUBLE DEFAULT 0,
    settings      VARCHAR                    -- JSON of the non-secret settings used
);

CREATE TABLE calls (
    call_id          VARCHAR NOT NULL,
    sha256           VARCHAR NOT NULL,
    path             VARCHAR NOT NULL,
    size_bytes       BIGINT,
    status           VARCHAR NOT NULL,       -- ok | failed
    error            VARCHAR,
    duration_s       DOUBLE,
    channels         INTEGER,
    source_rate      INTEGER,
    codec            VARCHAR,
    collector_id     VARCHAR,
    account_id       VARCHAR,
    started_at       TIMESTAMPTZ,
    timezone         VARCHAR,
    direction        VARCHAR,
    campaign         VARCHAR,
    team             VARCHAR,
    channel_roles    VARCHAR[],
    diarization      VARCHAR,
    asr_model        VARCHAR,
    roles_confidence DOUBLE,
    needs_review     BOOLEAN,
    role_notes       VARCHAR[],
    run_id           VARCHAR,
    landed_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX calls_call_id ON calls (call_id);

CREATE TABLE utterances (
    call_id    VARCHAR NOT NULL,
    idx        INTEGER NOT NULL,
    speaker    VARCHAR,
    role       VARCHAR,
    channel    INTEGER,
    start_s    DOUBLE,
    end_s      DOUBLE,
    text       VARCHAR,                      -- personal data redacted
    labels     VARCHAR[],
    sentiment  VARCHAR,
    words      STRUCT(start_s DOUBLE, end_s DOUBLE, text VARCHAR, probability DOUBLE)[]  -- PII words masked
);

-- Unredacted text, written only when [warehouse] store_raw_text = true; grant separately.
CREATE TABLE utterances_raw (
    call_id VARCHAR NOT NULL,
    idx     INTEGER NOT NULL,
    text    VARCHAR
);

CREATE TABLE findings (
    finding_id     VARCHAR NOT NULL,         -- <call_id>#<n>
    call_id        VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,
    role           VARCHAR,
    utterance_idx  INTEGER,
    start_s        DOUBLE,
    end_s          DOUBLE,
    evidence       VARCHAR,                  -- redacted
    rule_id        VARCHAR,
    score          DOUBLE,
    severity       VARCHAR
);

CREATE TABLE call_metrics (
    call_id          VARCHAR NOT NULL,
    role             VARCHAR NOT NULL,       -- collector | customer | third_party | unknown | all
    n_utterances     INTEGER,
    talk_s           DOUBLE,
    talk_share       DOUBLE,
    n_chars          INTEGER,
    speech_rate_cpm  DOUBLE,
    interruptions    INTEGER,
    overlap_s        DOUBLE,
    silence_s        DOUBLE,
    loudness_dbfs    DOUBLE
);

CREATE TABLE failures (
    run_id     VARCHAR NOT NULL,
    call_id    VARCHAR,
    path       VARCHAR,
    sha256     VARCHAR,
    stage      VARCHAR NOT NULL,             -- discover | manifest | decode | asr | analysis | land
    reason     VARCHAR NOT NULL,             -- short code: decode_error, empty_audio, ...
    message    VARCHAR,
    failed_at  TIMESTAMPTZ NOT NULL
);

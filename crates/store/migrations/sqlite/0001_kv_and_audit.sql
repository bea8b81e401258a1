-- Rampart storage schema, version 1 (SQLite).
--
-- Keys are BLOBs holding UTF-8 so that ordering is plain byte order (memcmp), matching the
-- PostgreSQL backend exactly. Times are Unix microseconds.

CREATE TABLE kv (
    ns         TEXT    NOT NULL,
    key        BLOB    NOT NULL,
    value      BLOB    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    updated_at INTEGER NOT NULL, -- Unix microseconds of the last put
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;

-- AUTOINCREMENT: seq is never reused, even after the newest rows are deleted by retention.
CREATE TABLE audit_records (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    time_us            INTEGER NOT NULL,
    request_id         TEXT    NOT NULL,
    principal_arn      TEXT,
    access_key_id      TEXT,
    source_ip          TEXT    NOT NULL,
    tls                INTEGER NOT NULL CHECK (tls IN (0, 1)),
    user_agent         TEXT,
    service            TEXT    NOT NULL,
    operation          TEXT    NOT NULL,
    outcome            TEXT    NOT NULL CHECK (outcome IN ('success', 'failure')),
    error_code         TEXT,
    http_status        INTEGER NOT NULL,
    decision           TEXT,
    matched_statements TEXT    NOT NULL -- JSON array of strings
);

CREATE INDEX audit_records_time ON audit_records (time_us);
CREATE INDEX audit_records_principal ON audit_records (principal_arn);
CREATE INDEX audit_records_access_key ON audit_records (access_key_id);

//! The database schema, as numbered migrations.
//!
//! `PRAGMA user_version` holds the number of migrations applied. A migration
//! is never edited once released: a change is a new entry at the end. A
//! database with a higher version than [`LATEST`] came from a newer Kyso and
//! is refused rather than written, so a downgrade cannot corrupt it.

/// The SQL of each migration; migration `n` (1-based) is `MIGRATIONS[n-1]`.
pub const MIGRATIONS: &[&str] = &[
    // 1: entries, one row per use of the token, and the chain head.
    //
    // The nested parts of an entry (certificate, token, document) are
    // flattened into columns so reports can GROUP BY them. `time_utc` is
    // fixed-width RFC 3339 text, so comparing text compares instants.
    r#"
CREATE TABLE entries (
    id                 INTEGER PRIMARY KEY,
    time_utc           TEXT    NOT NULL,
    time_local         TEXT    NOT NULL,
    operation          TEXT    NOT NULL,
    outcome            TEXT    NOT NULL,
    error_code         TEXT,
    has_cert           INTEGER NOT NULL,
    cert_cn            TEXT,
    cert_serial        TEXT,
    cert_issuer        TEXT,
    cert_sha256        TEXT,
    cert_not_after     TEXT,
    has_token          INTEGER NOT NULL,
    token_label        TEXT,
    token_serial       TEXT,
    has_doc            INTEGER NOT NULL,
    doc_name           TEXT,
    doc_input_sha256   TEXT,
    doc_output_sha256  TEXT,
    doc_input_size     INTEGER,
    doc_output_size    INTEGER,
    doc_pages          INTEGER,
    origin             TEXT    NOT NULL,
    job_id             TEXT,
    os_user            TEXT    NOT NULL,
    host               TEXT    NOT NULL,
    pin_locked         INTEGER NOT NULL,
    detail             TEXT,
    anchor_id          INTEGER,
    anchor_hash        TEXT,
    prev_hash          TEXT    NOT NULL,
    hash               TEXT    NOT NULL
);
CREATE INDEX entries_time ON entries (time_utc);
CREATE INDEX entries_pin_change ON entries (operation, token_serial);
-- key 'head': the id and hash of the last entry written, 'ID HASH'.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#,
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

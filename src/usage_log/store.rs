//! The SQLite store: the only file that names rusqlite.
//!
//! Durability: WAL mode with `synchronous=FULL`, so every committed entry has
//! been fsynced to the WAL before [`UsageLog::record`] returns. Each write
//! is a `BEGIN IMMEDIATE` transaction that reads the head, appends one row
//! and moves the head, so the CLI and the daemon can write to the same file
//! at once and still form one chain (SQLite serialises the writers;
//! `busy_timeout` makes the second one wait instead of failing).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{
    params, params_from_iter, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior,
};

use super::chain::{BadEntry, Checker, Problem, Verification};
use super::model::{
    utc_text, Anchor, CertRef, DocRef, Entry, NewEntry, Operation, Outcome, TokenRef, GENESIS,
};
use super::report::{
    CertUsage, ChainHead, CountBy, Expiry, FailureCount, PinLockIncident, Report, Totals,
};
use super::{schema, Error, Filter, Period};

#[cfg(test)]
mod tests;

/// How long a writer waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The usage log: one SQLite file. `Send + Sync`; calls are serialised on an
/// internal mutex and block on disk I/O, so async callers should use
/// `spawn_blocking`.
pub struct UsageLog {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for UsageLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageLog")
            .field("path", &self.path)
            .finish()
    }
}

const COLUMNS: &str = "id, time_utc, time_local, operation, outcome, error_code, \
    has_cert, cert_cn, cert_serial, cert_issuer, cert_sha256, cert_not_after, \
    has_token, token_label, token_serial, \
    has_doc, doc_name, doc_input_sha256, doc_output_sha256, doc_input_size, doc_output_size, doc_pages, \
    origin, job_id, os_user, host, pin_locked, detail, anchor_id, anchor_hash, prev_hash, hash";

const SIGN_OPS: &str = "operation IN ('sign', 'batch_sign')";

impl UsageLog {
    /// Opens (creating if needed) the log at `path` and brings its schema up
    /// to date. On Unix a new file is created readable by its owner only:
    /// it names documents and people.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let open_err = |reason: String| Error::Open {
            path: path.to_owned(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        }
        create_private(path).map_err(|e| open_err(e.to_string()))?;
        let conn = Connection::open(path).map_err(|e| classify(path, e, open_err))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| open_err(e.to_string()))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| classify(path, e, open_err))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(format!("SQLite refused WAL mode (got {mode})")));
        }
        // The CLI opens the log once per run. A checkpoint when the last
        // connection closes would cost every run extra flushes of the
        // database file; the WAL is durable on its own (synchronous=FULL),
        // and SQLite's automatic checkpoint still folds it in every 1000
        // pages.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(|e| open_err(e.to_string()))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| open_err(e.to_string()))?;
        let log = UsageLog {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        };
        log.migrate()?;
        Ok(log)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-done transaction
        // behind (rusqlite rolls back on drop), so a poisoned lock is usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write_err(&self, e: rusqlite::Error) -> Error {
        classify(&self.path, e, |reason| Error::Write {
            path: self.path.clone(),
            reason,
        })
    }

    fn read_err(&self, e: rusqlite::Error) -> Error {
        classify(&self.path, e, |reason| Error::Read {
            path: self.path.clone(),
            reason,
        })
    }

    fn migrate(&self) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.write_err(e))?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.read_err(e))?;
        if version > schema::LATEST {
            return Err(Error::TooNew {
                path: self.path.clone(),
                found: version,
                supported: schema::LATEST,
            });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(|e| self.write_err(e))?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(|e| self.write_err(e))?;
            tracing::info!(path = %self.path.display(), version = i + 1, "usage log schema migrated");
        }
        tx.commit().map_err(|e| self.write_err(e))
    }

    /// Appends `entry` and returns its id. When this returns, the entry is
    /// on disk (fsynced): only then may the caller release what it records.
    pub fn record(&self, entry: NewEntry) -> Result<i64, Error> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.write_err(e))?;
        let sealed = append(&tx, entry).map_err(|e| self.write_err(e))?;
        tx.commit().map_err(|e| self.write_err(e))?;
        tracing::debug!(
            id = sealed.id,
            operation = sealed.operation.as_str(),
            "usage log entry recorded"
        );
        Ok(sealed.id)
    }

    /// Appends `entries` in one transaction (one fsync for all: a group
    /// commit) and returns their ids in order. All or none are recorded.
    pub fn record_all(&self, entries: Vec<NewEntry>) -> Result<Vec<i64>, Error> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.write_err(e))?;
        let mut ids = Vec::with_capacity(entries.len());
        for entry in entries {
            ids.push(append(&tx, entry).map_err(|e| self.write_err(e))?.id);
        }
        tx.commit().map_err(|e| self.write_err(e))?;
        tracing::debug!(?ids, "usage log entries recorded");
        Ok(ids)
    }

    /// The entries matching `filter`, oldest first. With a limit, the most
    /// recent `limit` of them.
    pub fn query(&self, filter: &Filter) -> Result<Vec<Entry>, Error> {
        let mut sql = format!("SELECT {COLUMNS} FROM entries WHERE 1=1");
        let mut args: Vec<String> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, v: String| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(t) = filter.since {
            arg(&mut sql, " AND time_utc >= ?", utc_text(t));
        }
        if let Some(t) = filter.until {
            arg(&mut sql, " AND time_utc < ?", utc_text(t));
        }
        if let Some(c) = &filter.cert {
            // A serial or thumbprint in any case and with colons, or part of
            // the holder's name.
            let hexed = c.replace(':', "").to_uppercase();
            arg(&mut sql, " AND (cert_serial = ?", hexed.clone());
            arg(&mut sql, " OR cert_sha256 = ?", hexed);
            arg(
                &mut sql,
                " OR cert_cn LIKE ? ESCAPE '\\')",
                format!("%{}%", like_escape(c)),
            );
        }
        if let Some(o) = &filter.origin {
            arg(&mut sql, " AND origin = ?", o.clone());
        }
        if let Some(o) = filter.outcome {
            arg(&mut sql, " AND outcome = ?", o.as_str().to_owned());
        }
        if let Some(o) = filter.operation {
            arg(&mut sql, " AND operation = ?", o.as_str().to_owned());
        }
        let sql = match filter.limit {
            Some(n) => format!("SELECT * FROM ({sql} ORDER BY id DESC LIMIT {n}) ORDER BY id"),
            None => format!("{sql} ORDER BY id"),
        };
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql).map_err(|e| self.read_err(e))?;
        let rows = stmt
            .query_map(params_from_iter(args.iter()), read_entry)
            .map_err(|e| self.read_err(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.read_err(e))
    }

    /// Checks the database file and the whole chain. Problems with the
    /// entries are in the result; `Err` means the log could not be read.
    pub fn verify(&self) -> Result<Verification, Error> {
        let mut conn = self.conn();
        // One read transaction: a consistent snapshot even while another
        // process appends.
        let tx = conn.transaction().map_err(|e| self.read_err(e))?;
        verify_in(&tx).map_err(|e| self.read_err(e))
    }

    /// Removes the entries older than `cutoff` (a prefix of the chain), then
    /// appends a prune entry recording how many, and the hash of the last
    /// one removed as the anchor the first remaining entry follows. All in
    /// one transaction. Refuses with [`Error::Tampered`] when the chain does
    /// not verify, so pruning never erases the evidence of tampering.
    /// Returns the prune entry's id, or `None` when nothing was old enough.
    pub fn prune(&self, cutoff: DateTime<Utc>, origin: &str) -> Result<Option<i64>, Error> {
        let cutoff_text = utc_text(cutoff);
        let mut conn = self.conn();
        // Cheap check first, outside the write lock: most runs have nothing
        // to prune, and they should not pay for a full verification.
        let oldest: Option<String> = conn
            .query_row("SELECT MIN(time_utc) FROM entries", [], |r| r.get(0))
            .map_err(|e| self.read_err(e))?;
        if oldest.is_none_or(|t| t >= cutoff_text) {
            return Ok(None);
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.write_err(e))?;
        let v = verify_in(&tx).map_err(|e| self.read_err(e))?;
        if let Some(bad) = v.first_bad {
            return Err(Error::Tampered(bad));
        }
        // The prefix ends before the first entry that is recent enough, so a
        // clock that once jumped back cannot punch a hole in the chain.
        let keep_from: Option<i64> = tx
            .query_row(
                "SELECT MIN(id) FROM entries WHERE time_utc >= ?1",
                [&cutoff_text],
                |r| r.get(0),
            )
            .map_err(|e| self.read_err(e))?;
        let through = match keep_from {
            Some(id) => id - 1,
            None => v.last_id.unwrap_or(0),
        };
        let (count, first): (i64, Option<i64>) = tx
            .query_row(
                "SELECT COUNT(*), MIN(id) FROM entries WHERE id <= ?1",
                [through],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.read_err(e))?;
        let Some(first) = first else { return Ok(None) };
        let hash: String = tx
            .query_row("SELECT hash FROM entries WHERE id = ?1", [through], |r| {
                r.get(0)
            })
            .map_err(|e| self.read_err(e))?;
        tx.execute("DELETE FROM entries WHERE id <= ?1", [through])
            .map_err(|e| self.write_err(e))?;
        let mut entry = NewEntry::now(Operation::Prune, Outcome::Ok);
        entry.origin = origin.to_owned();
        entry.detail = Some(format!(
            "removed {count} entries (#{first} to #{through}) older than {cutoff_text}"
        ));
        entry.anchor = Some(Anchor {
            through_id: through,
            hash,
        });
        let sealed = append(&tx, entry).map_err(|e| self.write_err(e))?;
        tx.commit().map_err(|e| self.write_err(e))?;
        tracing::info!(count, through, id = sealed.id, "usage log pruned");
        Ok(Some(sealed.id))
    }

    /// When the PIN of the token with serial `token_serial` was last changed
    /// through Kyso, if the log still holds it.
    pub fn last_pin_change(&self, token_serial: &str) -> Result<Option<DateTime<Utc>>, Error> {
        let t: Option<String> = self
            .conn()
            .query_row(
                "SELECT MAX(time_utc) FROM entries WHERE operation = 'pin_change' AND outcome = 'ok' \
                 AND token_serial = ?1",
                [token_serial],
                |r| r.get(0),
            )
            .map_err(|e| self.read_err(e))?;
        Ok(t.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)))
    }

    /// The number of entries and the head (last id and hash).
    pub fn head(&self) -> Result<ChainHead, Error> {
        let conn = self.conn();
        head_in(&conn).map_err(|e| self.read_err(e))
    }

    /// The report for `period`, every figure computed by SQL aggregation.
    pub fn report(&self, period: &Period) -> Result<Report, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.read_err(e))?;
        let r = report_in(&tx, period).map_err(|e| self.read_err(e))?;
        tx.commit().map_err(|e| self.read_err(e))?;
        Ok(r)
    }
}

/// Creates `path` with mode 0600 if it does not exist yet. SQLite gives its
/// `-wal` and `-shm` files the same permissions as the database file.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Maps a SQLite error, singling out a damaged file.
fn classify(path: &Path, e: rusqlite::Error, other: impl FnOnce(String) -> Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => Error::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        },
        _ => other(e.to_string()),
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Reads the head from `meta`.
fn read_head(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'head'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.and_then(|v| {
        let (id, hash) = v.split_once(' ')?;
        Some((id.parse().ok()?, hash.to_owned()))
    }))
}

/// Seals `entry` after the head and inserts it; the caller commits.
///
/// The next id and `prev_hash` come from the recorded head, not from the
/// last row present: if rows were deleted from the end, new entries keep
/// pointing past the gap and verification keeps reporting it.
fn append(conn: &Connection, entry: NewEntry) -> rusqlite::Result<Entry> {
    let (id, prev) = match read_head(conn)? {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS.to_owned()),
    };
    let e = Entry::seal(entry, id, prev);
    let c = e.cert.as_ref();
    let t = e.token.as_ref();
    let d = e.document.as_ref();
    let size = |v: Option<u64>| v.map(|v| v as i64);
    conn.prepare_cached(
        &format!(
            "INSERT INTO entries ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
             ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32)"
        ),
    )?
    .execute(params![
            e.id,
            e.time_utc,
            e.time_local,
            e.operation.as_str(),
            e.outcome.as_str(),
            e.error_code,
            c.is_some(),
            c.map(|c| &c.common_name),
            c.map(|c| &c.serial),
            c.map(|c| &c.issuer),
            c.map(|c| &c.sha256),
            c.and_then(|c| c.not_after.as_ref()),
            t.is_some(),
            t.map(|t| &t.label),
            t.map(|t| &t.serial),
            d.is_some(),
            d.map(|d| &d.name),
            d.and_then(|d| d.input_sha256.as_ref()),
            d.and_then(|d| d.output_sha256.as_ref()),
            size(d.and_then(|d| d.input_size)),
            size(d.and_then(|d| d.output_size)),
            size(d.and_then(|d| d.pages)),
            e.origin,
            e.job_id,
            e.os_user,
            e.host,
            e.pin_locked,
            e.detail,
            e.anchor.as_ref().map(|a| a.through_id),
            e.anchor.as_ref().map(|a| &a.hash),
            e.prev_hash,
            e.hash,
    ])?;
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('head', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([format!("{} {}", e.id, e.hash)])?;
    Ok(e)
}

/// Reads a row selected with [`COLUMNS`]. Text that is not a known
/// operation or outcome is kept out of the enum by failing the read: an
/// edit like that is tampering, and the hash check reports it as such
/// because the caller maps it (see `verify_in`).
fn read_entry(r: &Row<'_>) -> rusqlite::Result<Entry> {
    let bad = |i: usize, what: &str, v: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown {what} '{v}'").into(),
        )
    };
    let op: String = r.get(3)?;
    let outcome: String = r.get(4)?;
    let size = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(|v| v as u64))
    };
    Ok(Entry {
        id: r.get(0)?,
        time_utc: r.get(1)?,
        time_local: r.get(2)?,
        operation: Operation::parse(&op).ok_or_else(|| bad(3, "operation", &op))?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| bad(4, "outcome", &outcome))?,
        error_code: r.get(5)?,
        cert: if r.get(6)? {
            Some(CertRef {
                common_name: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                serial: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                issuer: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                sha256: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                not_after: r.get(11)?,
            })
        } else {
            None
        },
        token: if r.get(12)? {
            Some(TokenRef {
                label: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                serial: r.get::<_, Option<String>>(14)?.unwrap_or_default(),
            })
        } else {
            None
        },
        document: if r.get(15)? {
            Some(DocRef {
                name: r.get::<_, Option<String>>(16)?.unwrap_or_default(),
                input_sha256: r.get(17)?,
                output_sha256: r.get(18)?,
                input_size: size(19)?,
                output_size: size(20)?,
                pages: size(21)?,
            })
        } else {
            None
        },
        origin: r.get(22)?,
        job_id: r.get(23)?,
        os_user: r.get(24)?,
        host: r.get(25)?,
        pin_locked: r.get(26)?,
        detail: r.get(27)?,
        anchor: match (
            r.get::<_, Option<i64>>(28)?,
            r.get::<_, Option<String>>(29)?,
        ) {
            (Some(through_id), Some(hash)) => Some(Anchor { through_id, hash }),
            _ => None,
        },
        prev_hash: r.get(30)?,
        hash: r.get(31)?,
    })
}

fn verify_in(conn: &Connection) -> rusqlite::Result<Verification> {
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Ok(Verification {
            entries: 0,
            first_id: None,
            last_id: None,
            last_hash: None,
            first_bad: Some(BadEntry {
                id: 0,
                problem: Problem::Corrupt { detail: check },
            }),
        });
    }
    let mut checker = Checker::new();
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM entries ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        match read_entry(row) {
            Ok(e) => {
                if !checker.push(&e) {
                    break;
                }
            }
            // A value the model cannot even hold was written by hand.
            Err(
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..),
            ) => {
                checker.mark_edited(row.get(0)?);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(checker.finish(read_head(conn)?))
}

fn head_in(conn: &Connection) -> rusqlite::Result<ChainHead> {
    let entries: i64 = conn.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0))?;
    let head = read_head(conn)?;
    Ok(ChainHead {
        entries,
        head_id: head.as_ref().map(|h| h.0),
        head_hash: head.map(|h| h.1),
    })
}

/// Rows of (key, name, ok, failed) for one GROUP BY over the signing
/// operations in the period.
fn count_by(conn: &Connection, key: &str, p: &Period) -> rusqlite::Result<Vec<CountBy>> {
    let sql = format!(
        "SELECT {key} AS k, COUNT(*) FILTER (WHERE outcome = 'ok'), COUNT(*) FILTER (WHERE outcome = 'failed') \
         FROM entries WHERE {SIGN_OPS} AND time_utc >= ?1 AND time_utc < ?2 GROUP BY k ORDER BY k"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![utc_text(p.start_utc), utc_text(p.end_utc)], |r| {
        Ok(CountBy {
            key: r.get(0)?,
            signatures: r.get(1)?,
            failures: r.get(2)?,
        })
    })?;
    rows.collect()
}

fn report_in(conn: &Connection, p: &Period) -> rusqlite::Result<Report> {
    let range = params![utc_text(p.start_utc), utc_text(p.end_utc)];
    let totals = conn.query_row(
        &format!(
            "SELECT \
               COUNT(*) FILTER (WHERE {SIGN_OPS} AND outcome = 'ok'), \
               COUNT(*) FILTER (WHERE {SIGN_OPS} AND outcome = 'failed'), \
               COUNT(DISTINCT job_id) FILTER (WHERE operation = 'batch_sign'), \
               COUNT(*) FILTER (WHERE operation = 'login'), \
               COUNT(*) FILTER (WHERE operation = 'login_failed'), \
               COUNT(*) FILTER (WHERE operation = 'pin_change' AND outcome = 'ok'), \
               COUNT(*) FILTER (WHERE operation = 'pin_change' AND outcome = 'failed'), \
               COUNT(*) FILTER (WHERE pin_locked = 1), \
               COUNT(*) FILTER (WHERE operation = 'pairing_approved'), \
               COUNT(*) FILTER (WHERE operation = 'pairing_denied'), \
               COUNT(*) FILTER (WHERE operation = 'consent_refused'), \
               COUNT(*) \
             FROM entries WHERE time_utc >= ?1 AND time_utc < ?2"
        ),
        range,
        |r| {
            Ok(Totals {
                signatures: r.get(0)?,
                signature_failures: r.get(1)?,
                batches: r.get(2)?,
                logins: r.get(3)?,
                failed_logins: r.get(4)?,
                pin_changes: r.get(5)?,
                failed_pin_changes: r.get(6)?,
                pin_lock_incidents: r.get(7)?,
                pairings_approved: r.get(8)?,
                pairings_denied: r.get(9)?,
                consents_refused: r.get(10)?,
                entries: r.get(11)?,
            })
        },
    )?;

    let mut stmt = conn.prepare(&format!(
        "SELECT cert_sha256, MAX(cert_cn), MAX(cert_serial), MAX(cert_issuer), MAX(cert_not_after), \
           COUNT(*) FILTER (WHERE {SIGN_OPS} AND outcome = 'ok'), \
           COUNT(*) FILTER (WHERE {SIGN_OPS} AND outcome = 'failed'), \
           MIN(time_local), MAX(time_local) \
         FROM entries WHERE has_cert = 1 AND time_utc >= ?1 AND time_utc < ?2 \
         GROUP BY cert_sha256 ORDER BY MAX(cert_cn), cert_sha256"
    ))?;
    let certificates = stmt
        .query_map(range, |r| {
            let not_after: Option<String> = r.get(4)?;
            let (expiry, days_left) =
                Expiry::classify(not_after.as_deref(), p.now, p.expiry_warning_days);
            Ok(CertUsage {
                sha256: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                common_name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                serial: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                issuer: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                not_after,
                signatures: r.get(5)?,
                failures: r.get(6)?,
                first_use: r.get(7)?,
                last_use: r.get(8)?,
                expiry,
                days_left,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    // The month of the local time the entry was made in: the office's month.
    let months = count_by(conn, "substr(time_local, 1, 7)", p)?;
    let origins = count_by(conn, "origin", p)?;

    let mut stmt = conn.prepare(
        "SELECT operation, COALESCE(error_code, 'UNKNOWN') AS code, COUNT(*) FROM entries \
         WHERE outcome = 'failed' AND time_utc >= ?1 AND time_utc < ?2 \
         GROUP BY operation, code ORDER BY COUNT(*) DESC, operation, code",
    )?;
    let failures = stmt
        .query_map(range, |r| {
            let op: String = r.get(0)?;
            Ok(FailureCount {
                operation: op,
                code: r.get(1)?,
                count: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let mut stmt = conn.prepare(
        "SELECT id, time_local, operation, COALESCE(error_code, ''), token_label, token_serial, origin \
         FROM entries WHERE pin_locked = 1 AND time_utc >= ?1 AND time_utc < ?2 ORDER BY id",
    )?;
    let pin_lock_incidents = stmt
        .query_map(range, |r| {
            Ok(PinLockIncident {
                id: r.get(0)?,
                time_local: r.get(1)?,
                operation: r.get(2)?,
                code: r.get(3)?,
                token_label: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                token_serial: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                origin: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    Ok(Report {
        from: p.from,
        to: p.to,
        generated_at: p
            .now
            .with_timezone(&chrono::Local)
            .fixed_offset()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        totals,
        certificates,
        months,
        origins,
        failures,
        pin_lock_incidents,
        integrity: verify_in(conn)?,
    })
}

//! The usage log: one tamper-evident entry per use of the token, and the
//! periodic report the regulations ask offices for.
//!
//! ```text
//!  cli / daemon ──NewEntry──► UsageLog::record ──► SQLite (WAL, synchronous=FULL)
//!                                 │  BEGIN IMMEDIATE; read head; seal (id, prev_hash, hash);
//!                                 │  INSERT; move head; COMMIT (fsync)  ──► Ok(id)
//!                                 ▼
//!                   query / report (SQL GROUP BY) / verify (chain::Checker)
//! ```
//!
//! * [`model`]: what an entry holds, and its canonical encoding.
//! * [`chain`]: the verification rules, free of SQL.
//! * `store`: the only file that names rusqlite.
//! * [`report`]: the report's figures and its CSV, HTML and JSON renderings.
//! * [`reminders`]: when to warn about the PIN and about certificates.
//!
//! This module is a leaf: it knows nothing of PDF, CMS or tokens, only the
//! names and hashes callers hand it. It is kept apart from diagnostics
//! logging (`tracing`), which is for support and may be deleted at will;
//! this log is a record, and deleting from it shows.

pub mod chain;
pub mod model;
pub mod reminders;
pub mod report;
mod schema;
mod store;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use crate::describe::Describe;
pub use chain::{BadEntry, Problem, Verification};
pub use model::{Anchor, CertRef, DocRef, Entry, NewEntry, Operation, Outcome, TokenRef};
pub use report::{Lang, Report};
pub use store::UsageLog;

/// The file name of the log inside the data directory.
pub const FILE_NAME: &str = "usage-log.sqlite3";

/// The default log path in `data_dir`.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Why the usage log could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or created.
    #[error("cannot open the usage log {path}: {reason}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite or the OS said.
        reason: String,
    },
    /// An entry could not be committed.
    #[error("cannot write to the usage log {path}: {reason}")]
    Write {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// Entries could not be read.
    #[error("cannot read the usage log {path}: {reason}")]
    Read {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// SQLite reports the file as damaged or not a database.
    #[error("the usage log {path} is damaged: {reason}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// The file was written by a newer Kyso.
    #[error("the usage log {path} has schema version {found}; this Kyso knows up to {supported}")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The chain does not verify (pruning refuses to run).
    #[error("the usage log fails verification: {}", .0.en())]
    Tampered(BadEntry),
}

impl Describe for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Open { .. } => "LOG_OPEN",
            Error::Write { .. } => "LOG_WRITE",
            Error::Read { .. } => "LOG_READ",
            Error::Corrupt { .. } => "LOG_CORRUPT",
            Error::TooNew { .. } => "LOG_TOO_NEW",
            Error::Tampered(_) => "LOG_TAMPERED",
        }
    }

    fn en(&self) -> String {
        match self {
            Error::Open { path, reason } => format!(
                "The usage log {} cannot be opened ({reason}). Nothing was signed: every use of the token must be recorded.",
                path.display()
            ),
            Error::Write { path, reason } => format!(
                "The usage log {} cannot be written ({reason}). The signed file was not released: every use of the token must be recorded.",
                path.display()
            ),
            Error::Read { path, reason } => format!("The usage log {} cannot be read ({reason}).", path.display()),
            Error::Corrupt { path, reason } => format!(
                "The usage log {} is damaged ({reason}). Keep a copy of the file and contact IT support.",
                path.display()
            ),
            Error::TooNew { path, found, supported } => format!(
                "The usage log {} was written by a newer version of Kyso (schema {found}; this version knows {supported}). Update Kyso.",
                path.display()
            ),
            Error::Tampered(b) => format!(
                "The usage log has been tampered with: {}. Keep a copy of the file and report it.",
                b.en()
            ),
        }
    }

    fn vi(&self) -> String {
        match self {
            Error::Open { path, reason } => format!(
                "Không mở được nhật ký sử dụng {} ({reason}). Chưa ký văn bản nào: mọi lần sử dụng thiết bị ký đều phải được ghi lại.",
                path.display()
            ),
            Error::Write { path, reason } => format!(
                "Không ghi được nhật ký sử dụng {} ({reason}). Tệp đã ký chưa được trả ra: mọi lần sử dụng thiết bị ký đều phải được ghi lại.",
                path.display()
            ),
            Error::Read { path, reason } => format!("Không đọc được nhật ký sử dụng {} ({reason}).", path.display()),
            Error::Corrupt { path, reason } => format!(
                "Nhật ký sử dụng {} bị hỏng ({reason}). Hãy giữ lại một bản sao của tệp và liên hệ bộ phận CNTT.",
                path.display()
            ),
            Error::TooNew { path, found, supported } => format!(
                "Nhật ký sử dụng {} được ghi bởi phiên bản Kyso mới hơn (lược đồ {found}; phiên bản này hỗ trợ đến {supported}). Hãy cập nhật Kyso.",
                path.display()
            ),
            Error::Tampered(b) => format!(
                "Nhật ký sử dụng đã bị can thiệp: {}. Hãy giữ lại một bản sao của tệp và báo cáo.",
                b.vi()
            ),
        }
    }
}

/// Which entries [`UsageLog::query`] returns. Empty fields match anything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// At or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Before this instant.
    pub until: Option<DateTime<Utc>>,
    /// A certificate serial or SHA-256 thumbprint (hex, any case, colons
    /// allowed), or part of the holder's name.
    pub cert: Option<String>,
    /// The calling origin, exactly (`cli` for the command line).
    pub origin: Option<String>,
    /// The outcome.
    pub outcome: Option<Outcome>,
    /// The operation.
    pub operation: Option<Operation>,
    /// Only the most recent `limit` matching entries.
    pub limit: Option<u32>,
}

/// The period of a report: whole local calendar days.
#[derive(Debug, Clone)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// Start of `from` in local time, as UTC.
    pub start_utc: DateTime<Utc>,
    /// Start of the day after `to` in local time, as UTC (exclusive).
    pub end_utc: DateTime<Utc>,
    /// When the report is made: certificate expiry is judged at this time.
    pub now: DateTime<Utc>,
    /// Certificates expiring within this many days are flagged.
    pub expiry_warning_days: u32,
}

impl Period {
    /// `from` to `to` inclusive, in this computer's time zone. `None` when
    /// `to` is before `from`.
    pub fn local_days(from: NaiveDate, to: NaiveDate) -> Option<Self> {
        if to < from {
            return None;
        }
        let start = |d: NaiveDate| -> Option<DateTime<Utc>> {
            d.and_hms_opt(0, 0, 0)?
                .and_local_timezone(chrono::Local)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        };
        Some(Period {
            from,
            to,
            start_utc: start(from)?,
            end_utc: start(to.succ_opt()?)?,
            now: Utc::now(),
            expiry_warning_days: reminders::DEFAULT_CERT_WARNING_DAYS,
        })
    }
}

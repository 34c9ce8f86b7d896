//! `kyso log` and `kyso log verify`, and the [`Recorder`] through which the
//! other commands write usage-log entries.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use super::args::{LogAction, LogArgs, ResultArg};
use super::output::report;
use super::{exit, Failure};
use crate::certinfo::CertSummary;
use crate::config::{self, Config};
use crate::signing::Signed;
use crate::token::{self, TokenInfo};
use crate::usage_log::{
    self, CertRef, DocRef, Entry, Filter, NewEntry, Operation, Outcome, TokenRef, UsageLog,
};

/// Entries older than this are pruned unless the config says otherwise:
/// five years, longer than any reporting period the regulations name.
pub(super) const DEFAULT_RETENTION_DAYS: u32 = 1826;

/// The usage log file: the config's `usage_log`, else the data directory's.
pub(super) fn log_path(config: &Config) -> PathBuf {
    config
        .usage_log
        .clone()
        .unwrap_or_else(|| usage_log::default_path(&config::data_dir()))
}

/// Opens the usage log.
/// Opens the usage log and prunes entries past the retention period. A
/// failed prune is a warning only: it must not stop the office's work, and
/// the entries stay.
pub(super) fn open_and_prune(config: &Config, origin: &str) -> Result<UsageLog, Failure> {
    let log = open_log(config)?;
    let days = config
        .usage_log_retention_days
        .unwrap_or(DEFAULT_RETENTION_DAYS);
    if days > 0 {
        let cutoff = Utc::now() - chrono::TimeDelta::days(i64::from(days));
        match log.prune(cutoff, origin) {
            Ok(Some(id)) => tracing::info!(id, days, "pruned the usage log"),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("usage log not pruned: {e}");
                report(
                    &format!("Warning: old usage-log entries were not pruned: {e}. Run `kyso log verify`."),
                    "Cảnh báo: chưa dọn được các bản ghi cũ của nhật ký sử dụng. Hãy chạy `kyso log verify`.",
                );
            }
        }
    }
    Ok(log)
}

pub(super) fn open_log(config: &Config) -> Result<UsageLog, Failure> {
    let path = log_path(config);
    tracing::info!(path = %path.display(), "opening the usage log");
    Ok(UsageLog::open(&path)?)
}

/// Whether the benchmark asked for no usage log. Only builds with the
/// `bench` feature honour it, so a user of a release build cannot switch
/// the record off; bench/usage_log.sh builds with it to measure the cost.
fn disabled_for_bench() -> bool {
    cfg!(feature = "bench") && std::env::var("KYSO_USAGE_LOG").is_ok_and(|v| v == "off")
}

/// Writes the entries of one command-line run: one job id, and the token
/// and certificate once chosen.
pub(super) struct Recorder {
    log: Option<UsageLog>,
    job_id: String,
    token: Option<TokenRef>,
    cert: Option<CertRef>,
    /// Entries committed together with the next write (see [`Recorder::defer`]).
    pending: std::sync::Mutex<Vec<NewEntry>>,
}

impl Recorder {
    /// Opens the log before the token is touched, so that a log that cannot
    /// be written stops the command before anything happens, and prunes
    /// entries past the retention period. A failed prune is a warning only:
    /// it must not stop the office's work, and the entries stay.
    pub(super) fn open(config: &Config) -> Result<Self, Failure> {
        let job_id = format!(
            "cli-{}-{}",
            Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
            std::process::id()
        );
        if disabled_for_bench() {
            tracing::warn!("usage log disabled by KYSO_USAGE_LOG=off (bench build)");
            return Ok(Recorder {
                log: None,
                job_id,
                token: None,
                cert: None,
                pending: Default::default(),
            });
        }
        let log = open_and_prune(config, "cli")?;
        Ok(Recorder {
            log: Some(log),
            job_id,
            token: None,
            cert: None,
            pending: Default::default(),
        })
    }

    /// Names the token in the entries from now on.
    pub(super) fn set_token(&mut self, t: &TokenInfo) {
        self.token = Some(TokenRef {
            label: t.label.clone(),
            serial: t.serial.clone(),
        });
    }

    /// Names the certificate in the entries from now on.
    pub(super) fn set_cert(&mut self, c: &CertSummary) {
        self.cert = Some(CertRef::from_summary(c));
    }

    /// A new entry for this run.
    pub(super) fn entry(&self, operation: Operation, outcome: Outcome) -> NewEntry {
        let mut e = NewEntry::now(operation, outcome);
        e.job_id = Some(self.job_id.clone());
        e.token = self.token.clone();
        e.cert = self.cert.clone();
        e
    }

    /// A failed entry for `operation` with the error's code, and whether
    /// the token is now locked.
    pub(super) fn failure(&self, operation: Operation, code: &str, locked: bool) -> NewEntry {
        let mut e = self.entry(operation, Outcome::Failed);
        e.error_code = Some(code.to_owned());
        e.pin_locked = locked;
        e
    }

    /// A failed login entry for a token error.
    pub(super) fn login_failure(&self, err: &token::Error) -> NewEntry {
        use crate::describe::Describe;
        self.failure(Operation::LoginFailed, err.code(), locked_by(err))
    }

    /// Commits `entry`; returns its id (`None` when the bench turned the
    /// log off).
    pub(super) fn record(&self, entry: NewEntry) -> Result<Option<i64>, usage_log::Error> {
        Ok(self.record_all(vec![entry])?.pop().flatten())
    }

    /// Queues `entry` to be committed in the same transaction as the next
    /// write, ahead of it, or when the recorder is dropped. For a successful
    /// login before signing: it saves a disk flush, and until the next write
    /// nothing has been released, so a crash loses no released file's
    /// entry. Failures are never deferred.
    pub(super) fn defer(&self, entry: NewEntry) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry);
    }
}

impl Recorder {
    /// Commits `entries` in one transaction; their ids (`None` each when
    /// the bench turned the log off).
    pub(super) fn record_all(
        &self,
        entries: Vec<NewEntry>,
    ) -> Result<Vec<Option<i64>>, usage_log::Error> {
        let Some(log) = &self.log else {
            return Ok(vec![None; entries.len()]);
        };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let skip = pending.len();
        let all: Vec<NewEntry> = pending.iter().cloned().chain(entries).collect();
        let ids = log.record_all(all)?;
        pending.clear();
        Ok(ids.into_iter().skip(skip).map(Some).collect())
    }
}

impl Drop for Recorder {
    /// Commits a deferred entry that no later write took along.
    fn drop(&mut self) {
        let pending = std::mem::take(self.pending.get_mut().unwrap_or_else(|p| p.into_inner()));
        if let (Some(log), false) = (&self.log, pending.is_empty()) {
            if let Err(e) = log.record_all(pending) {
                tracing::error!("usage log: a deferred entry could not be written: {e}");
                report(
                    &format!("Warning: the usage log could not record the login: {e}"),
                    "Cảnh báo: không ghi được lần đăng nhập vào nhật ký sử dụng.",
                );
            }
        }
    }
}

/// Whether a token error says the PIN is now locked.
pub(super) fn locked_by(err: &token::Error) -> bool {
    matches!(err, token::Error::PinLocked)
        || matches!(err, token::Error::PinIncorrect(s) if s.locked)
}

fn file_name(input: &Path) -> String {
    input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| input.display().to_string())
}

/// The document part of an entry for a signed file.
pub(super) fn signed_doc(input: &Path, s: &Signed) -> DocRef {
    DocRef {
        name: file_name(input),
        input_sha256: Some(s.input_sha256.clone()),
        output_sha256: Some(s.output_sha256.clone()),
        input_size: Some(s.input_len),
        output_size: Some(s.output_len),
        pages: Some(s.pages),
    }
}

/// The document part of an entry for a file that was not signed: its name,
/// and its size and hash when it can be read (they identify the document
/// without keeping any of it).
pub(super) fn unsigned_doc(input: &Path) -> DocRef {
    let (size, hash) = match std::fs::File::open(input) {
        Ok(mut f) => {
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            match std::io::copy(&mut f, &mut h) {
                Ok(n) => (Some(n), Some(hex::encode_upper(h.finalize()))),
                Err(_) => (None, None),
            }
        }
        Err(_) => (None, None),
    };
    DocRef {
        name: file_name(input),
        input_sha256: hash,
        input_size: size,
        ..Default::default()
    }
}

/// `--since` / `--until`: a local date or an RFC 3339 instant. A date as
/// `--until` includes that whole day.
fn parse_when(flag: &str, s: &str, until: bool) -> Result<DateTime<Utc>, Failure> {
    let bad = || {
        Failure::new(
            "OPTION_DATE",
            format!("{flag} {s}: use a date like 2026-06-30 or a time like 2026-06-30T17:00:00+07:00."),
            format!("{flag} {s}: hãy dùng ngày dạng 2026-06-30 hoặc thời điểm dạng 2026-06-30T17:00:00+07:00."),
        )
    };
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if until {
            d.succ_opt().ok_or_else(bad)?
        } else {
            d
        };
        return d
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(bad);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad())
}

pub(super) fn run(config: &Config, a: &LogArgs) -> Result<u8, Failure> {
    if let Some(LogAction::Verify(v)) = &a.action {
        return verify(config, v.json);
    }
    let filter = Filter {
        since: a
            .since
            .as_deref()
            .map(|s| parse_when("--since", s, false))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|s| parse_when("--until", s, true))
            .transpose()?,
        cert: a.cert.clone(),
        origin: a.origin.clone(),
        outcome: a.result.map(|r| match r {
            ResultArg::Ok => Outcome::Ok,
            ResultArg::Failed => Outcome::Failed,
        }),
        operation: None,
        limit: (a.limit > 0).then_some(a.limit),
    };
    let log = open_log(config)?;
    let entries = log.query(&filter)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&entries).expect("entries serialise")
        );
        return Ok(exit::OK);
    }
    if entries.is_empty() {
        report("No entries.", "Không có bản ghi nào.");
        return Ok(exit::OK);
    }
    println!(
        "{:>6}  {:<25}  {:<16}  {:<24}  {:<24}  {:<24}  ORIGIN",
        "ID", "TIME", "OPERATION", "RESULT", "CERTIFICATE", "DOCUMENT"
    );
    for e in &entries {
        println!("{}", line(e));
    }
    if filter.limit.is_some_and(|n| entries.len() == n as usize) {
        report(
            &format!(
                "(the {} most recent matching entries; --limit 0 shows all)",
                entries.len()
            ),
            &format!(
                "({} bản ghi gần nhất; --limit 0 để xem tất cả)",
                entries.len()
            ),
        );
    }
    Ok(exit::OK)
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn line(e: &Entry) -> String {
    let result = match (&e.outcome, &e.error_code) {
        (Outcome::Ok, _) => "ok".to_owned(),
        (Outcome::Failed, Some(c)) => format!("failed {c}"),
        (Outcome::Failed, None) => "failed".to_owned(),
    };
    let cert = e
        .cert
        .as_ref()
        .map(|c| c.common_name.as_str())
        .unwrap_or("");
    let doc = match (&e.document, &e.detail) {
        (Some(d), _) => d.name.clone(),
        (None, Some(detail)) => detail.clone(),
        _ => String::new(),
    };
    format!(
        "{:>6}  {:<25}  {:<16}  {:<24}  {:<24}  {:<24}  {}",
        e.id,
        e.time_local,
        e.operation.as_str(),
        clip(&result, 24),
        clip(cert, 24),
        clip(&doc, 24),
        e.origin
    )
}

fn verify(config: &Config, json: bool) -> Result<u8, Failure> {
    let log = open_log(config)?;
    let v = log.verify()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("verification serialises")
        );
    }
    if let Some(bad) = v.first_bad {
        return Err(usage_log::Error::Tampered(bad).into());
    }
    if !json {
        match (v.first_id, v.last_id, &v.last_hash) {
            (Some(first), Some(last), Some(hash)) => {
                report(
                    &format!(
                        "The usage log is intact: {} entries (#{first} to #{last}).",
                        v.entries
                    ),
                    &format!(
                        "Nhật ký sử dụng nguyên vẹn: {} bản ghi (#{first} đến #{last}).",
                        v.entries
                    ),
                );
                println!("{}", log.path().display());
                println!("#{last} {hash}");
            }
            _ => report(
                "The usage log is empty.",
                "Nhật ký sử dụng chưa có bản ghi nào.",
            ),
        }
    }
    Ok(exit::OK)
}

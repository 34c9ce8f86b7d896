//! Diagnostics logging for support: `tracing` events to stderr (as chosen
//! with `-v` or `KYSO_LOG`) and to daily files in the platform log
//! directory, the newest [`KEEP_FILES`] kept.
//!
//! This is not the usage log. Diagnostics say what the program did so IT
//! staff can find a fault; they may be deleted at any time, and nothing in
//! them is evidence. The usage log (`usage_log`) is the record of token use.
//!
//! No PIN ever reaches a `tracing` call: PINs live in `cryptoki::AuthPin`
//! (a `SecretString`, redacted by its `Debug`) from the moment they are
//! read, and no code formats one. The integration tests grep these files
//! for the PINs they use.

use std::path::PathBuf;

use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How many daily files are kept.
pub const KEEP_FILES: usize = 14;

/// The directory for diagnostics files: `KYSO_LOG_DIR` if set, else the
/// platform's per-user state directory (`~/.local/state/kyso/logs` on
/// Linux), else the local data directory (`%LOCALAPPDATA%\kyso\kyso\data\logs`
/// on Windows, `~/Library/Application Support/vn.kyso.kyso/logs` on macOS).
pub fn log_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KYSO_LOG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let dirs = crate::config::project_dirs()?;
    Some(
        dirs.state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .join("logs"),
    )
}

/// Installs the global subscriber. `verbose` is the `-v` count. Returns the
/// directory the files go to, or `None` when it cannot be used (then only
/// stderr gets diagnostics; signing must not fail for want of a log file).
pub fn init(verbose: u8) -> Option<PathBuf> {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // cryptoki logs every vendor mechanism it has no name for at ERROR level
    // while listing mechanisms; that is noise for a user.
    let stderr_filter = EnvFilter::try_from_env("KYSO_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},cryptoki::mechanism=off")));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(stderr_filter);

    let file_level = if verbose >= 2 { "debug" } else { "info" };
    let dir = log_dir();
    let appender = dir.as_ref().and_then(|d| {
        std::fs::create_dir_all(d).ok()?;
        RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix("kyso")
            .filename_suffix("log")
            .max_log_files(KEEP_FILES)
            .build(d)
            .ok()
    });
    let used = appender.is_some().then_some(dir).flatten();
    let file = appender.map(|a| {
        tracing_subscriber::fmt::layer()
            .with_writer(a)
            .with_ansi(false)
            .with_filter(EnvFilter::new(format!(
                "{file_level},cryptoki::mechanism=off"
            )))
    });
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .init();
    used
}

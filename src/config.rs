//! The configuration file: TOML in the platform config directory
//! (`~/.config/kyso/config.toml` on Linux, `%APPDATA%\kyso\config\config.toml`
//! on Windows), or the file named by `--config` / `KYSO_CONFIG`. Every key is
//! optional and every key can be overridden on the command line. The keys
//! are documented in `docs/operations.md`.

use std::path::{Path, PathBuf};

use directories::ProjectDirs;
use serde::Deserialize;

use crate::appearance::AppearanceDefaults;
use crate::types::DigestAlg;

/// The settings read from the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The PKCS#11 module path. Auto-detected when absent.
    pub module: Option<PathBuf>,
    /// The token to use, by label or serial.
    pub token: Option<String>,
    /// The certificate to use, by serial, CKA_ID or subject substring.
    pub cert: Option<String>,
    /// The digest algorithm (sha256, sha384, sha512).
    pub digest: Option<DigestAlg>,
    /// A PEM file of issuer certificates to embed.
    pub chain: Option<PathBuf>,
    /// The default `/Reason`.
    pub reason: Option<String>,
    /// The default `/Location`.
    pub location: Option<String>,
    /// The default `/ContactInfo`.
    pub contact_info: Option<String>,
    /// The usage log database [default: `usage-log.sqlite3` in the data dir].
    pub usage_log: Option<PathBuf>,
    /// Usage-log entries older than this many days are pruned (a logged
    /// event); 0 keeps everything. Default 1826 (five years).
    pub usage_log_retention_days: Option<u32>,
    /// `kyso status` warns when a certificate expires within this many days.
    /// Default 30.
    pub cert_warning_days: Option<u32>,
    /// Visible-signature settings: pictures, seal size, organization name,
    /// default profile (per certificate).
    #[serde(default)]
    pub appearance: AppearanceDefaults,
    /// The daemon's settings (`[server]`).
    #[serde(default)]
    pub server: crate::server::ServerSettings,
}

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        source: Box<toml::de::Error>,
    },
}

/// Kyso's directories for this user.
pub fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("vn", "kyso", "kyso")
}

/// The default config file path.
pub fn default_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("config.toml"))
}

/// Where Kyso keeps its data (the demo token, later the usage log).
pub fn data_dir() -> PathBuf {
    project_dirs()
        .map(|d| d.data_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from(".kyso"))
}

impl Config {
    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Self, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| Error::Parse {
                path: path.to_owned(),
                source: Box::new(e),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(Error::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("modul = \"x\"").is_err());
        let c: Config = toml::from_str("module = \"/x.so\"\ndigest = \"sha384\"").unwrap();
        assert_eq!(c.digest, Some(DigestAlg::Sha384));
        let c: Config =
            toml::from_str("usage_log_retention_days = 365\ncert_warning_days = 45").unwrap();
        assert_eq!(
            (c.usage_log_retention_days, c.cert_warning_days),
            (Some(365), Some(45))
        );
    }
}

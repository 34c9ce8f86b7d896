//! The origins the user has paired with Kyso, kept in `origins.json` in the
//! data directory so pairings survive restarts. `kyso origins list|revoke`
//! edits the same file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One paired origin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pairing {
    /// When the user approved it.
    pub paired_at: DateTime<Utc>,
}

/// The persisted set of paired origins.
#[derive(Debug, Default)]
pub struct OriginStore {
    path: PathBuf,
    origins: BTreeMap<String, Pairing>,
    /// The file's modification time when last read or written.
    seen: Option<std::time::SystemTime>,
}

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct Error {
    path: PathBuf,
    reason: String,
}

impl OriginStore {
    /// Loads `path`; a missing file is an empty store.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let err = |reason: String| Error {
            path: path.to_owned(),
            reason,
        };
        let origins = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(err(e.to_string())),
        };
        Ok(OriginStore {
            path: path.to_owned(),
            origins,
            seen: modified(path),
        })
    }

    /// Re-reads the file when another process (`kyso origins revoke`)
    /// changed it, so a revocation takes effect without a restart.
    pub fn refresh(&mut self) {
        let now = modified(&self.path);
        if now != self.seen {
            match OriginStore::load(&self.path) {
                Ok(fresh) => *self = fresh,
                Err(e) => tracing::warn!("cannot re-read the paired origins: {e}"),
            }
        }
    }

    /// The default location in `data_dir`.
    pub fn default_path(data_dir: &Path) -> PathBuf {
        data_dir.join("origins.json")
    }

    /// Whether `origin` is paired.
    pub fn contains(&self, origin: &str) -> bool {
        self.origins.contains_key(origin)
    }

    /// Every pairing, sorted by origin.
    pub fn list(&self) -> impl Iterator<Item = (&String, &Pairing)> {
        self.origins.iter()
    }

    /// How many origins are paired.
    pub fn len(&self) -> usize {
        self.origins.len()
    }

    /// Whether no origin is paired.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// Pairs `origin` and saves.
    pub fn add(&mut self, origin: &str) -> Result<(), Error> {
        self.origins.insert(
            origin.to_owned(),
            Pairing {
                paired_at: Utc::now(),
            },
        );
        self.save()
    }

    /// Unpairs `origin` and saves; false when it was not paired.
    pub fn revoke(&mut self, origin: &str) -> Result<bool, Error> {
        let removed = self.origins.remove(origin).is_some();
        if removed {
            self.save()?;
        }
        Ok(removed)
    }

    fn save(&mut self) -> Result<(), Error> {
        let err = |reason: String| Error {
            path: self.path.clone(),
            reason,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| err(e.to_string()))?;
        serde_json::to_writer_pretty(&mut tmp, &self.origins).map_err(|e| err(e.to_string()))?;
        tmp.as_file().sync_all().map_err(|e| err(e.to_string()))?;
        tmp.persist(&self.path).map_err(|e| err(e.to_string()))?;
        self.seen = modified(&self.path);
        Ok(())
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Normalises an origin as browsers send it: `scheme://host[:port]`, lower
/// case, no path. Returns `None` for anything else (including `null`).
pub fn normalize(origin: &str) -> Option<String> {
    let origin = origin.trim();
    let (scheme, rest) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let rest = rest.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let rest = rest.strip_suffix(default_port).unwrap_or(&rest);
    Some(format!("{scheme}://{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_browsers() {
        assert_eq!(
            normalize("HTTPS://VanBan.example.gov.vn").as_deref(),
            Some("https://vanban.example.gov.vn")
        );
        assert_eq!(
            normalize("https://a.vn:443").as_deref(),
            Some("https://a.vn")
        );
        assert_eq!(
            normalize("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(normalize("null"), None);
        assert_eq!(normalize("https://a.vn/path"), None);
        assert_eq!(normalize("file://x"), None);
    }

    #[test]
    fn pairings_persist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("origins.json");
        let mut s = OriginStore::load(&path).unwrap();
        s.add("https://a.vn").unwrap();
        let mut s = OriginStore::load(&path).unwrap();
        assert!(s.contains("https://a.vn"));
        assert!(s.revoke("https://a.vn").unwrap());
        assert!(!OriginStore::load(&path).unwrap().contains("https://a.vn"));
    }
}

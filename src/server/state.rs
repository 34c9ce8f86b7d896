//! The daemon's shared state: jobs, pairing requests, paired origins and the
//! token worker. Plain data behind one mutex each; nothing here blocks on
//! the token.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use tokio::sync::watch;

use super::settings::ServerSettings;
use crate::origins::OriginStore;
use crate::signing::worker::{Problem, Worker};
use crate::signing::Signed;

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub settings: ServerSettings,
    pub worker: Worker,
    pub jobs: Mutex<HashMap<String, Job>>,
    pub pairings: Mutex<HashMap<String, PairRequest>>,
    pub origins: Mutex<OriginStore>,
    /// Token serials for which the user chose "ask PIN every time".
    pub ask_every_time: Mutex<PinPrefs>,
    /// Uploaded and signed documents, one directory per job.
    pub work_dir: PathBuf,
    /// The origins this server answers as itself, e.g. `http://127.0.0.1:28770`.
    pub self_origins: Vec<String>,
    /// The base URL for links, e.g. `http://127.0.0.1:28770`.
    pub base_url: String,
    /// The demo document system's URL, when `--demo` serves it.
    pub demo_url: Option<String>,
    /// The user's `[appearance]` settings.
    pub appearance: crate::appearance::AppearanceDefaults,
    /// The usage log every token use is recorded in.
    pub usage_log: Arc<crate::usage_log::UsageLog>,
    /// Days before a certificate's expiry when status warns.
    pub cert_warning_days: u32,
    /// The secret `GET /v1/log` requires (see `server::log_api`).
    pub log_secret: String,
}

/// What [`AppState::new`] is made from.
pub(crate) struct Parts {
    pub settings: ServerSettings,
    pub worker: Worker,
    pub origins: OriginStore,
    pub prefs: PinPrefs,
    pub appearance: crate::appearance::AppearanceDefaults,
    pub base_url: String,
    pub self_origins: Vec<String>,
    pub demo_url: Option<String>,
    pub data_dir: PathBuf,
    pub usage_log: Arc<crate::usage_log::UsageLog>,
    pub cert_warning_days: u32,
    pub log_secret: String,
}

impl AppState {
    pub(crate) fn new(p: Parts) -> std::io::Result<Self> {
        // Jobs live in the user's own data directory, not a shared /tmp.
        // Whatever a killed daemon left there is stale: no job outlives
        // the process that owns it.
        let work_dir = p.data_dir.join("jobs");
        if work_dir.exists() {
            std::fs::remove_dir_all(&work_dir)?;
        }
        std::fs::create_dir_all(&work_dir)?;
        Ok(AppState {
            inner: Arc::new(Inner {
                settings: p.settings,
                worker: p.worker,
                jobs: Mutex::new(HashMap::new()),
                pairings: Mutex::new(HashMap::new()),
                origins: Mutex::new(p.origins),
                ask_every_time: Mutex::new(p.prefs),
                work_dir,
                self_origins: p.self_origins,
                base_url: p.base_url,
                demo_url: p.demo_url,
                appearance: p.appearance,
                usage_log: p.usage_log,
                cert_warning_days: p.cert_warning_days,
                log_secret: p.log_secret,
            }),
        })
    }
}

/// A random, unguessable identifier (128 bits, hex).
pub(crate) fn random_id() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Compares two secrets in time that depends only on their length.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A one-time link secret, bound to one job or pairing and one origin.
#[derive(Debug, Clone)]
pub(crate) struct OneTimeToken {
    pub value: String,
    pub expires: Instant,
}

impl OneTimeToken {
    pub fn new(ttl: Duration) -> Self {
        let mut b = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut b);
        OneTimeToken {
            value: hex::encode(b),
            expires: Instant::now() + ttl,
        }
    }

    /// Compares in constant time with respect to the secret's content.
    pub fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(self.value.as_bytes(), candidate.as_bytes())
    }
}

/// The life of a signing job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for more documents (batch upload).
    Uploading,
    /// Waiting for the user in the consent window.
    AwaitingConsent,
    /// On the token.
    Signing,
    /// Signed; results can be fetched.
    Done,
    /// Failed; see the problem.
    Failed,
    /// Refused by the user or cancelled by the page.
    Cancelled,
}

impl JobState {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

/// One uploaded document.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub name: String,
    pub input: PathBuf,
    pub output: PathBuf,
    pub size: u64,
    pub pages: u64,
    pub sha256: String,
    /// SHA-256 state over the whole upload, so signing need not re-read it.
    pub prefix: crate::types::Hasher,
    pub signed: Option<Signed>,
}

/// A signing job.
pub(crate) struct Job {
    pub id: String,
    pub origin: String,
    pub state: JobState,
    pub names: Vec<String>,
    pub documents: Vec<Option<Document>>,
    pub options: crate::signing::DocOptions,
    pub consent: Option<OneTimeToken>,
    pub problem: Option<Problem>,
    /// A message for the consent window (a wrong PIN, say).
    pub window_problem: Option<Problem>,
    pub created: Instant,
    pub finished_at: Option<Instant>,
    pub changed: watch::Sender<u64>,
}

impl Job {
    pub fn new(origin: String, names: Vec<String>, options: crate::signing::DocOptions) -> Self {
        let (changed, _) = watch::channel(0);
        Job {
            id: random_id(),
            origin,
            state: JobState::Uploading,
            documents: vec![None; names.len()],
            names,
            options,
            consent: None,
            problem: None,
            window_problem: None,
            created: Instant::now(),
            finished_at: None,
            changed,
        }
    }

    /// Moves to `state` and wakes long-polling callers.
    pub fn set_state(&mut self, state: JobState) {
        self.state = state;
        if state.is_finished() {
            self.finished_at = Some(Instant::now());
            self.consent = None;
        }
        self.changed.send_modify(|v| *v += 1);
    }
}

/// The life of a pairing request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairState {
    /// Waiting for the user.
    Pending,
    /// The user approved; the origin is paired.
    Approved,
    /// The user refused.
    Denied,
    /// Nobody answered in time.
    Expired,
}

/// A website asking to be paired.
pub(crate) struct PairRequest {
    pub id: String,
    pub origin: String,
    pub state: PairState,
    pub token: OneTimeToken,
    pub used: bool,
    pub changed: watch::Sender<u64>,
}

/// The tokens whose user asked to type the PIN for every signing, kept in
/// `pin-prefs.json` in the data directory so the choice survives restarts.
#[derive(Debug, Default)]
pub struct PinPrefs {
    path: Option<PathBuf>,
    serials: std::collections::BTreeSet<String>,
}

impl PinPrefs {
    /// Loads the preferences; a missing or unreadable file means none.
    pub fn load(path: PathBuf) -> Self {
        let serials = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        PinPrefs {
            path: Some(path),
            serials,
        }
    }

    /// Whether the token with `serial` asks every time.
    pub fn contains(&self, serial: &str) -> bool {
        self.serials.contains(serial)
    }

    /// Records the user's choice for `serial` and saves it.
    pub fn set(&mut self, serial: &str, ask: bool) {
        let changed = if ask {
            self.serials.insert(serial.to_owned())
        } else {
            self.serials.remove(serial)
        };
        if let (true, Some(path)) = (changed, &self.path) {
            let saved = serde_json::to_vec_pretty(&self.serials)
                .map_err(std::io::Error::other)
                .and_then(|b| {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    std::fs::write(path, b)
                });
            if let Err(e) = saved {
                tracing::warn!("cannot save the PIN preference: {e}");
            }
        }
    }
}

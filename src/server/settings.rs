//! The daemon's settings: the `[server]` table of the config file, each key
//! overridable by a `kyso serve` flag. Documented in docs/operations.md.

use std::time::Duration;

use serde::Deserialize;

/// Kyso's default port. It avoids the ports of the tools users already run:
/// VGCA Sign Service 8987, VNPT-CA 4433–4435, NexU 9795/9895, Fortify 31337,
/// and stays below the OS ephemeral ranges.
pub const DEFAULT_PORT: u16 = 28770;

/// The `[server]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// The loopback port.
    pub port: u16,
    /// Serve HTTPS with a locally generated certificate.
    pub tls: bool,
    /// Origins the IT officer pre-approves (no pairing window).
    pub allowed_origins: Vec<String>,
    /// Origins whose requests are signed without a consent click while the
    /// PIN is cached. Empty by default: every signing shows the window.
    pub auto_sign_origins: Vec<String>,
    /// The largest accepted document, in MB.
    pub max_body_mb: u64,
    /// How many unfinished jobs may wait before new ones get 503.
    pub queue_limit: usize,
    /// How long a login stays cached without use, in minutes (0: never cached).
    pub pin_cache_minutes: u64,
    /// How long a consent or pairing link stays valid, in seconds.
    pub consent_ttl_seconds: u64,
    /// Open consent windows in the default browser when no page does.
    pub open_browser: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            port: DEFAULT_PORT,
            tls: false,
            allowed_origins: Vec::new(),
            auto_sign_origins: Vec::new(),
            max_body_mb: 512,
            queue_limit: 8,
            pin_cache_minutes: 15,
            consent_ttl_seconds: 300,
            open_browser: false,
        }
    }
}

impl ServerSettings {
    /// The body limit in bytes.
    pub fn max_body_bytes(&self) -> u64 {
        self.max_body_mb.saturating_mul(1024 * 1024)
    }

    /// The PIN cache idle time.
    pub fn pin_idle(&self) -> Duration {
        Duration::from_secs(self.pin_cache_minutes.saturating_mul(60))
    }

    /// The consent link lifetime.
    pub fn consent_ttl(&self) -> Duration {
        Duration::from_secs(self.consent_ttl_seconds)
    }
}

//! One usage-log entry, and its canonical encoding for the hash chain.
//!
//! An entry says who used which token and certificate, on which document (by
//! name, size, page count and hash), for which caller, when, and how it
//! ended. By construction it cannot hold a PIN or document content: no field
//! has room for either, and callers pass hashes, never bytes.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::certinfo::CertSummary;

/// The `prev_hash` of the first entry of a log that was never pruned.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What the token was used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// One document signed on its own.
    Sign,
    /// One document of a batch: each document gets its own entry, and the
    /// entries of one batch share a job id.
    BatchSign,
    /// A successful login (PIN accepted).
    Login,
    /// A refused login: wrong PIN, or a locked token.
    LoginFailed,
    /// A PIN change with `C_SetPIN`, successful or not.
    PinChange,
    /// The user approved a web origin's pairing request (daemon).
    PairingApproved,
    /// The user denied a web origin's pairing request (daemon).
    PairingDenied,
    /// The user refused to sign what a web page asked for (daemon).
    ConsentRefused,
    /// Entries older than the retention period were removed.
    Prune,
}

impl Operation {
    /// Every operation, in the order reports list them.
    pub const ALL: [Operation; 9] = [
        Operation::Sign,
        Operation::BatchSign,
        Operation::Login,
        Operation::LoginFailed,
        Operation::PinChange,
        Operation::PairingApproved,
        Operation::PairingDenied,
        Operation::ConsentRefused,
        Operation::Prune,
    ];

    /// The stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Sign => "sign",
            Operation::BatchSign => "batch_sign",
            Operation::Login => "login",
            Operation::LoginFailed => "login_failed",
            Operation::PinChange => "pin_change",
            Operation::PairingApproved => "pairing_approved",
            Operation::PairingDenied => "pairing_denied",
            Operation::ConsentRefused => "consent_refused",
            Operation::Prune => "prune",
        }
    }

    /// The inverse of [`Operation::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Operation::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It did what was asked.
    Ok,
    /// It did not; the entry's `error_code` says why.
    Failed,
}

impl Outcome {
    /// The stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
        }
    }

    /// The inverse of [`Outcome::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(Outcome::Ok),
            "failed" => Some(Outcome::Failed),
            _ => None,
        }
    }
}

/// The certificate an operation used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRef {
    /// The subject's common name.
    pub common_name: String,
    /// The serial number, upper-case hex.
    pub serial: String,
    /// The issuer, RFC 4514.
    pub issuer: String,
    /// SHA-256 of the certificate's DER, upper-case hex.
    pub sha256: String,
    /// End of validity, RFC 3339 UTC; reports show each certificate's expiry.
    pub not_after: Option<String>,
}

impl CertRef {
    /// The fields a log entry keeps from a certificate summary.
    pub fn from_summary(s: &CertSummary) -> Self {
        CertRef {
            common_name: s.common_name.clone(),
            serial: s.serial.clone(),
            issuer: s.issuer.clone(),
            sha256: s.sha256.clone(),
            not_after: Some(s.not_after.to_rfc3339_opts(SecondsFormat::Secs, true)),
        }
    }
}

/// The token an operation used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRef {
    /// The token label.
    pub label: String,
    /// The token serial number.
    pub serial: String,
}

/// The document an operation worked on: never its content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocRef {
    /// The file name (no directory), or the name the calling system gave.
    pub name: String,
    /// SHA-256 of the input, upper-case hex; absent when it could not be read.
    pub input_sha256: Option<String>,
    /// SHA-256 of the signed output; absent when nothing was signed.
    pub output_sha256: Option<String>,
    /// Size of the input in bytes.
    pub input_size: Option<u64>,
    /// Size of the output in bytes.
    pub output_size: Option<u64>,
    /// The number of pages, when the PDF could be read.
    pub pages: Option<u64>,
}

/// For a prune entry: the last removed entry, so that verification can
/// check that the first remaining entry follows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The id of the last entry removed.
    pub through_id: i64,
    /// Its hash, which the first remaining entry carries as `prev_hash`.
    pub hash: String,
}

/// What a caller records. The store gives it an id and chains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// When it happened, in local time (the offset is kept for display).
    pub time: DateTime<FixedOffset>,
    /// What was done.
    pub operation: Operation,
    /// How it ended.
    pub outcome: Outcome,
    /// The stable error code (see `describe::Describe`) when it failed.
    pub error_code: Option<String>,
    /// The certificate, when one was chosen.
    pub cert: Option<CertRef>,
    /// The token, when one was chosen.
    pub token: Option<TokenRef>,
    /// The document, for signing operations.
    pub document: Option<DocRef>,
    /// The calling web origin (`https://vanban.example.gov.vn`), or `cli`.
    pub origin: String,
    /// Ties together the entries of one run or one HTTP job.
    pub job_id: Option<String>,
    /// The operating-system user.
    pub os_user: String,
    /// The computer's host name.
    pub host: String,
    /// The token reported its PIN locked at the end of this operation.
    pub pin_locked: bool,
    /// A short human-readable note (never a PIN, never content).
    pub detail: Option<String>,
    /// Set only on prune entries.
    pub anchor: Option<Anchor>,
}

impl NewEntry {
    /// An entry for `operation` now, from the command line, with the OS user
    /// and host filled in and everything else empty.
    pub fn now(operation: Operation, outcome: Outcome) -> Self {
        NewEntry {
            time: chrono::Local::now().fixed_offset(),
            operation,
            outcome,
            error_code: None,
            cert: None,
            token: None,
            document: None,
            origin: "cli".into(),
            job_id: None,
            os_user: os_user(),
            host: host_name(),
            pin_locked: false,
            detail: None,
            anchor: None,
        }
    }
}

/// The OS user name (from the user database, not the environment, which
/// a service or a scheduled task may not set).
pub fn os_user() -> String {
    whoami::fallible::username().unwrap_or_else(|_| "unknown".into())
}

/// The computer's host name.
pub fn host_name() -> String {
    whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into())
}

/// A stored entry: what was recorded plus its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Consecutive from 1; a gap means removed entries.
    pub id: i64,
    /// UTC, RFC 3339 with microseconds and `Z`, so text order is time order.
    pub time_utc: String,
    /// The same instant in the local time of the recording computer,
    /// ISO 8601 with its offset (`2026-11-23T09:15:02+07:00`).
    pub time_local: String,
    /// What was done.
    pub operation: Operation,
    /// How it ended.
    pub outcome: Outcome,
    /// The error code when it failed.
    pub error_code: Option<String>,
    /// The certificate.
    pub cert: Option<CertRef>,
    /// The token.
    pub token: Option<TokenRef>,
    /// The document.
    pub document: Option<DocRef>,
    /// The calling origin, or `cli`.
    pub origin: String,
    /// The job id.
    pub job_id: Option<String>,
    /// The OS user.
    pub os_user: String,
    /// The host name.
    pub host: String,
    /// The token reported its PIN locked.
    pub pin_locked: bool,
    /// A note.
    pub detail: Option<String>,
    /// On prune entries, the last removed entry.
    pub anchor: Option<Anchor>,
    /// The previous entry's `hash` ([`GENESIS`] for entry 1).
    pub prev_hash: String,
    /// SHA-256 of this entry's canonical encoding, upper-case hex.
    pub hash: String,
}

/// Formats an instant the way `time_utc` stores it.
pub fn utc_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl Entry {
    /// Gives `new` its id and place after `prev_hash`, and computes its hash.
    pub fn seal(new: NewEntry, id: i64, prev_hash: String) -> Self {
        let mut e = Entry {
            id,
            time_utc: utc_text(new.time.with_timezone(&Utc)),
            time_local: new.time.to_rfc3339_opts(SecondsFormat::Secs, false),
            operation: new.operation,
            outcome: new.outcome,
            error_code: new.error_code,
            cert: new.cert,
            token: new.token,
            document: new.document,
            origin: new.origin,
            job_id: new.job_id,
            os_user: new.os_user,
            host: new.host,
            pin_locked: new.pin_locked,
            detail: new.detail,
            anchor: new.anchor,
            prev_hash,
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    /// SHA-256 of [`Entry::canonical`], upper-case hex.
    pub fn compute_hash(&self) -> String {
        hex::encode_upper(Sha256::digest(self.canonical()))
    }

    /// The bytes the hash covers: every field but `hash`, in a fixed order,
    /// each as `name=<len>:<value>\n` (or `name=-\n` when absent). Length
    /// prefixes make the encoding unambiguous whatever the values contain,
    /// and it depends on no serializer's formatting choices.
    ///
    /// Changing this encoding breaks every existing chain: a new encoding
    /// needs a new version tag and a schema migration.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = b"kyso-usage-log-entry/1\n".to_vec();
        let mut put = |name: &str, value: Option<&str>| {
            out.extend_from_slice(name.as_bytes());
            match value {
                Some(v) => {
                    out.extend_from_slice(format!("={}:", v.len()).as_bytes());
                    out.extend_from_slice(v.as_bytes());
                }
                None => out.extend_from_slice(b"=-"),
            }
            out.push(b'\n');
        };
        let num = |n: Option<u64>| n.map(|n| n.to_string());
        put("id", Some(&self.id.to_string()));
        put("prev_hash", Some(&self.prev_hash));
        put("time_utc", Some(&self.time_utc));
        put("time_local", Some(&self.time_local));
        put("operation", Some(self.operation.as_str()));
        put("outcome", Some(self.outcome.as_str()));
        put("error_code", self.error_code.as_deref());
        let c = self.cert.as_ref();
        put("cert", c.map(|_| ""));
        put("cert.common_name", c.map(|c| c.common_name.as_str()));
        put("cert.serial", c.map(|c| c.serial.as_str()));
        put("cert.issuer", c.map(|c| c.issuer.as_str()));
        put("cert.sha256", c.map(|c| c.sha256.as_str()));
        put("cert.not_after", c.and_then(|c| c.not_after.as_deref()));
        let t = self.token.as_ref();
        put("token", t.map(|_| ""));
        put("token.label", t.map(|t| t.label.as_str()));
        put("token.serial", t.map(|t| t.serial.as_str()));
        let d = self.document.as_ref();
        put("document", d.map(|_| ""));
        put("document.name", d.map(|d| d.name.as_str()));
        put(
            "document.input_sha256",
            d.and_then(|d| d.input_sha256.as_deref()),
        );
        put(
            "document.output_sha256",
            d.and_then(|d| d.output_sha256.as_deref()),
        );
        put(
            "document.input_size",
            num(d.and_then(|d| d.input_size)).as_deref(),
        );
        put(
            "document.output_size",
            num(d.and_then(|d| d.output_size)).as_deref(),
        );
        put("document.pages", num(d.and_then(|d| d.pages)).as_deref());
        put("origin", Some(&self.origin));
        put("job_id", self.job_id.as_deref());
        put("os_user", Some(&self.os_user));
        put("host", Some(&self.host));
        put("pin_locked", Some(if self.pin_locked { "1" } else { "0" }));
        put("detail", self.detail.as_deref());
        let a = self.anchor.as_ref();
        put(
            "anchor.through_id",
            a.map(|a| a.through_id.to_string()).as_deref(),
        );
        put("anchor.hash", a.map(|a| a.hash.as_str()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NewEntry {
        let time = DateTime::parse_from_rfc3339("2026-03-04T09:15:02.5+07:00").unwrap();
        NewEntry {
            time,
            operation: Operation::Sign,
            outcome: Outcome::Ok,
            error_code: None,
            cert: Some(CertRef {
                common_name: "A".into(),
                serial: "01".into(),
                ..Default::default()
            }),
            token: None,
            document: Some(DocRef {
                name: "a.pdf".into(),
                pages: Some(1),
                ..Default::default()
            }),
            origin: "cli".into(),
            job_id: Some("j".into()),
            os_user: "u".into(),
            host: "h".into(),
            pin_locked: false,
            detail: None,
            anchor: None,
        }
    }

    #[test]
    fn times_are_stored_in_utc_and_local() {
        let e = Entry::seal(sample(), 1, GENESIS.into());
        assert_eq!(e.time_utc, "2026-03-04T02:15:02.500000Z");
        assert_eq!(e.time_local, "2026-03-04T09:15:02+07:00");
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = Entry::seal(sample(), 1, GENESIS.into());
        type Change = Box<dyn Fn(&mut Entry)>;
        let variants: Vec<Change> = vec![
            Box::new(|e| e.id = 2),
            Box::new(|e| e.prev_hash = "1".repeat(64)),
            Box::new(|e| e.time_utc.push('x')),
            Box::new(|e| e.time_local.push('x')),
            Box::new(|e| e.operation = Operation::BatchSign),
            Box::new(|e| e.outcome = Outcome::Failed),
            Box::new(|e| e.error_code = Some(String::new())),
            Box::new(|e| e.cert = None),
            Box::new(|e| e.cert.as_mut().unwrap().issuer = "X".into()),
            Box::new(|e| e.token = Some(TokenRef::default())),
            Box::new(|e| e.document.as_mut().unwrap().pages = Some(2)),
            Box::new(|e| e.document.as_mut().unwrap().output_size = Some(1)),
            Box::new(|e| e.origin = "https://x".into()),
            Box::new(|e| e.job_id = None),
            Box::new(|e| e.os_user = "v".into()),
            Box::new(|e| e.host = "g".into()),
            Box::new(|e| e.pin_locked = true),
            Box::new(|e| e.detail = Some("d".into())),
            Box::new(|e| {
                e.anchor = Some(Anchor {
                    through_id: 0,
                    hash: String::new(),
                })
            }),
        ];
        for (i, change) in variants.iter().enumerate() {
            let mut e = base.clone();
            change(&mut e);
            assert_ne!(
                e.compute_hash(),
                base.hash,
                "variant {i} did not change the hash"
            );
        }
    }

    #[test]
    fn encoding_is_unambiguous() {
        // Moving a character from one field to the next must not collide.
        let mut a = Entry::seal(sample(), 1, GENESIS.into());
        let mut b = a.clone();
        a.os_user = "ab".into();
        a.host = "c".into();
        b.os_user = "a".into();
        b.host = "bc".into();
        assert_ne!(a.compute_hash(), b.compute_hash());
        // An empty string differs from an absent value.
        a.detail = Some(String::new());
        b = a.clone();
        b.detail = None;
        assert_ne!(a.compute_hash(), b.compute_hash());
    }

    #[test]
    fn names_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.as_str()), Some(op));
        }
        assert_eq!(Outcome::parse("failed"), Some(Outcome::Failed));
        assert_eq!(Operation::parse("nope"), None);
    }
}

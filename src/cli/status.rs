//! `kyso status`: what a non-expert needs to see at a glance: the tokens,
//! their certificates, and the two reminders, `pin_change_due` (PIN not
//! changed through Kyso for 6 months, or never) and `cert_expiring` (a
//! signing certificate expires within the warning days, or has expired).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::args::StatusArgs;
use super::log::{log_path, open_log};
use super::output::report;
use super::{exit, Failure};
use crate::config::Config;
use crate::token::{Module, PinState, TokenInfo};
use crate::usage_log::{reminders, UsageLog};

/// The status of everything, as `kyso status --json` prints it.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Some token's PIN is due for a change.
    pub pin_change_due: bool,
    /// Some signing certificate expires within `cert_warning_days`, or has expired.
    pub cert_expiring: bool,
    /// The warning period in days.
    pub cert_warning_days: u32,
    /// The tokens plugged in.
    pub tokens: Vec<TokenStatus>,
    /// The usage log.
    pub usage_log: LogStatus,
}

/// One token.
#[derive(Debug, Serialize)]
pub struct TokenStatus {
    /// The label.
    pub label: String,
    /// The serial.
    pub serial: String,
    /// The PIN flags.
    pub pin: PinState,
    /// The last PIN change recorded in the usage log.
    pub last_pin_change: Option<DateTime<Utc>>,
    /// The PIN is due for a change.
    pub pin_change_due: bool,
    /// When the next change is due (absent when none was ever recorded).
    pub pin_change_due_at: Option<DateTime<Utc>>,
    /// The signing certificates.
    pub certificates: Vec<CertStatus>,
}

/// One signing certificate.
#[derive(Debug, Serialize)]
pub struct CertStatus {
    /// The holder's common name.
    pub common_name: String,
    /// The serial.
    pub serial: String,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// Whole days left (negative once expired).
    pub days_left: i64,
    /// Expires within the warning days, or has expired.
    pub cert_expiring: bool,
    /// Has expired.
    pub expired: bool,
}

/// The usage log's state.
#[derive(Debug, Serialize)]
pub struct LogStatus {
    /// The database file.
    pub path: String,
    /// Entries in it.
    pub entries: i64,
    /// The last entry's id.
    pub head_id: Option<i64>,
    /// The chain verifies.
    pub intact: bool,
    /// The first problem, in English, when it does not.
    pub problem: Option<String>,
}

fn token_status(
    module: &Module,
    log: &UsageLog,
    t: &TokenInfo,
    now: DateTime<Utc>,
    warn: u32,
) -> Result<TokenStatus, Failure> {
    let session = module.open(t)?;
    let certificates = session
        .certificates()?
        .into_iter()
        .filter(|c| c.is_signing_candidate())
        .map(|c| {
            let s = c.summary;
            CertStatus {
                days_left: (s.not_after - now).num_days(),
                cert_expiring: reminders::cert_expiring(s.not_after, now, warn),
                expired: s.not_after <= now,
                common_name: s.common_name,
                serial: s.serial,
                not_after: s.not_after,
            }
        })
        .collect();
    let last = log.last_pin_change(&t.serial)?;
    Ok(TokenStatus {
        label: t.label.clone(),
        serial: t.serial.clone(),
        pin: t.pin,
        last_pin_change: last,
        pin_change_due: reminders::pin_change_due(last, now),
        pin_change_due_at: reminders::pin_change_due_at(last),
        certificates,
    })
}

/// Collects the status; the daemon's status can call this too.
pub fn collect(module: &Module, config: &Config, token: Option<&str>) -> Result<Status, Failure> {
    let log = open_log(config)?;
    let now = Utc::now();
    let warn = config
        .cert_warning_days
        .unwrap_or(reminders::DEFAULT_CERT_WARNING_DAYS);
    let infos = match token {
        Some(sel) => vec![module.select(Some(sel))?],
        None => module.tokens()?,
    };
    let tokens = infos
        .iter()
        .map(|t| token_status(module, &log, t, now, warn))
        .collect::<Result<Vec<_>, _>>()?;
    let head = log.head()?;
    let v = log.verify()?;
    Ok(Status {
        pin_change_due: tokens.iter().any(|t| t.pin_change_due),
        cert_expiring: tokens
            .iter()
            .flat_map(|t| &t.certificates)
            .any(|c| c.cert_expiring),
        cert_warning_days: warn,
        tokens,
        usage_log: LogStatus {
            path: log_path(config).display().to_string(),
            entries: head.entries,
            head_id: head.head_id,
            intact: v.is_ok(),
            problem: v.first_bad.map(|b| b.en()),
        },
    })
}

pub(super) fn run(module: &Module, config: &Config, a: &StatusArgs) -> Result<u8, Failure> {
    let s = collect(
        module,
        config,
        a.token.as_deref().or(config.token.as_deref()),
    )?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&s).expect("status serialises")
        );
        return Ok(exit::OK);
    }
    if s.tokens.is_empty() {
        report("No token is plugged in.", "Chưa cắm thiết bị ký nào.");
    }
    let local = |t: DateTime<Utc>| {
        t.with_timezone(&chrono::Local)
            .format("%Y-%m-%d")
            .to_string()
    };
    for t in &s.tokens {
        println!("Token {} ({})", t.label, t.serial);
        let pin = match (t.pin.locked, t.pin.final_try, t.pin.count_low) {
            (true, _, _) => "LOCKED",
            (_, true, _) => "final try",
            (_, _, true) => "count low",
            _ => "ok",
        };
        println!("  PIN:              {pin}");
        match t.last_pin_change {
            Some(c) => println!("  PIN last changed: {}", local(c)),
            None => println!("  PIN last changed: never recorded"),
        }
        if t.pin_change_due {
            report(
                "  WARNING: change the PIN now (`kyso pin change`): it must be changed at least every 6 months.",
                "  CẢNH BÁO: hãy đổi mã PIN ngay (`kyso pin change`): mã PIN phải được đổi ít nhất 6 tháng một lần.",
            );
        }
        for c in &t.certificates {
            println!(
                "  Certificate {} [{}] valid until {} ({} days)",
                c.common_name,
                c.serial,
                local(c.not_after),
                c.days_left
            );
            if c.expired {
                report(
                    "    WARNING: this certificate has EXPIRED.",
                    "    CẢNH BÁO: chứng thư số này đã HẾT HẠN.",
                );
            } else if c.cert_expiring {
                report(
                    &format!("    WARNING: this certificate expires in {} days; ask the CA to renew it.", c.days_left),
                    &format!("    CẢNH BÁO: chứng thư số này sẽ hết hạn sau {} ngày; hãy đề nghị gia hạn.", c.days_left),
                );
            }
        }
    }
    let l = &s.usage_log;
    println!("Usage log: {} ({} entries)", l.path, l.entries);
    if let Some(p) = &l.problem {
        report(
            &format!("  WARNING: the usage log fails verification: {p}."),
            "  CẢNH BÁO: nhật ký sử dụng không còn nguyên vẹn; hãy chạy `kyso log verify`.",
        );
    }
    Ok(exit::OK)
}

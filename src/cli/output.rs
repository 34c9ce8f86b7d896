//! How results and failures are printed.

use std::io::IsTerminal;

use super::{exit, Failure};
use crate::token::{Module, PinState};

/// Prints a failure as two lines, English then Vietnamese, with its code.
pub(super) fn print_failure(f: &Failure, file: Option<&std::path::Path>) {
    let prefix = file
        .map(|p| format!("{}: ", p.display()))
        .unwrap_or_default();
    eprintln!("error [{}]: {prefix}{}", f.code, f.en);
    eprintln!("lỗi   [{}]: {prefix}{}", f.code, f.vi);
}

/// Prints a one-line notice in both languages.
pub fn report(en: &str, vi: &str) {
    eprintln!("{en}");
    eprintln!("{vi}");
}

fn pin_text(p: &PinState) -> &'static str {
    if p.locked {
        "LOCKED"
    } else if p.final_try {
        "final try"
    } else if p.count_low {
        "count low"
    } else {
        "ok"
    }
}

pub(super) fn tokens(module: &Module, json: bool) -> Result<u8, Failure> {
    let tokens = module.tokens()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&tokens).expect("serialisable")
        );
        return Ok(exit::OK);
    }
    if tokens.is_empty() {
        report("No token is plugged in.", "Chưa cắm thiết bị ký nào.");
        return Ok(exit::OK);
    }
    println!(
        "{:<6} {:<24} {:<18} {:<20} PIN",
        "SLOT", "LABEL", "SERIAL", "MANUFACTURER"
    );
    for t in tokens {
        println!(
            "{:<6} {:<24} {:<18} {:<20} {}",
            t.slot_id,
            t.label,
            t.serial,
            t.manufacturer,
            pin_text(&t.pin)
        );
    }
    Ok(exit::OK)
}

pub(super) fn certs(module: &Module, token: Option<&str>, json: bool) -> Result<u8, Failure> {
    let token = module.select(token)?;
    let session = module.open(&token)?;
    let certs = session.certificates()?;
    if json {
        let list: Vec<_> = certs
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": hex::encode_upper(&c.id),
                    "label": c.label,
                    "signing": c.is_signing_candidate(),
                    "key_visible": c.key_visible,
                    "certificate": c.summary,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).expect("serialisable")
        );
        return Ok(exit::OK);
    }
    println!("Token: {}", token.display_name());
    let now = chrono::Utc::now();
    for c in certs {
        let s = &c.summary;
        let role = if s.is_ca {
            "CA certificate"
        } else {
            "signing certificate"
        };
        println!();
        println!("  {} ({role})", s.common_name);
        println!("    subject:  {}", s.subject);
        println!("    issuer:   {}", s.issuer);
        println!("    serial:   {}", s.serial);
        println!(
            "    valid:    {} to {}{}",
            s.not_before.format("%Y-%m-%d"),
            s.not_after.format("%Y-%m-%d"),
            if s.is_valid_at(now) {
                ""
            } else {
                "  (NOT VALID NOW)"
            }
        );
        println!("    key:      {}", s.key);
        println!(
            "    CKA_ID:   {}{}",
            hex::encode_upper(&c.id),
            match (c.is_signing_candidate(), c.key_visible) {
                (false, _) => "",
                (true, true) => "  (private key paired)",
                (true, false) => "  (private key checked at login)",
            }
        );
    }
    Ok(exit::OK)
}

/// Whether a progress bar makes sense.
pub(super) fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

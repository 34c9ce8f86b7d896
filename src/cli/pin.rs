//! `kyso pin change`: change the token's user PIN with `C_SetPIN`.
//!
//! The token's PIN flags are shown first, a locked token is not tried, and
//! a wrong old PIN is never retried (the token counts every try). Checks
//! that need no token (the two new PINs differ, the new PIN equals the old
//! one, its length is outside what the token accepts) come before the
//! token is touched, so they cost the user no try and make no log entry.

use std::io::{BufRead, IsTerminal};

use zeroize::Zeroizing;

use super::args::{PinAction, PinArgs, PinChangeArgs};
use super::log::{locked_by, Recorder};
use super::output::report;
use super::{exit, Failure};
use crate::config::Config;
use crate::describe::Describe;
use crate::token::{self, Module, Pin, PinState};
use crate::usage_log::{reminders, Operation, Outcome};

pub(super) fn run(
    module: &Module,
    config: &Config,
    a: &PinArgs,
    demo: bool,
) -> Result<u8, Failure> {
    match &a.action {
        PinAction::Change(c) => change(module, config, c, demo),
    }
}

/// The PIN flags in both languages, shown before any PIN is asked for.
fn show_state(state: &PinState) {
    let mut en = Vec::new();
    let mut vi = Vec::new();
    if state.locked {
        en.push("LOCKED");
        vi.push("ĐÃ BỊ KHOÁ");
    }
    if state.final_try {
        en.push("final try: one more wrong PIN locks the token");
        vi.push("lần thử cuối: nhập sai thêm một lần thiết bị sẽ bị khoá");
    }
    if state.count_low {
        en.push("a wrong PIN was entered recently");
        vi.push("gần đây đã có lần nhập sai PIN");
    }
    if state.to_be_changed {
        en.push("must be changed");
        vi.push("phải đổi mã PIN");
    }
    if en.is_empty() {
        en.push("ok");
        vi.push("bình thường");
    }
    report(
        &format!("PIN state: {}.", en.join("; ")),
        &format!("Trạng thái mã PIN: {}.", vi.join("; ")),
    );
}

/// The old PIN, the new PIN and its confirmation.
struct Pins {
    old: Zeroizing<String>,
    new: Zeroizing<String>,
    again: Zeroizing<String>,
}

fn read_pins(from_stdin: bool, demo: bool) -> Result<Pins, Failure> {
    if from_stdin {
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        let mut next = || -> Result<Zeroizing<String>, Failure> {
            let mut line = Zeroizing::new(String::new());
            lock.read_line(&mut line).map_err(|_| cancelled())?;
            while line.ends_with('\n') || line.ends_with('\r') {
                line.pop();
            }
            Ok(line)
        };
        return Ok(Pins {
            old: next()?,
            new: next()?,
            again: next()?,
        });
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            "PIN_NO_INPUT",
            "There is no terminal to ask for the PINs. Use --pin-stdin to pass the old PIN, the new PIN and the new PIN again on three lines of standard input.",
            "Không có cửa sổ dòng lệnh để hỏi mã PIN. Hãy dùng --pin-stdin để nhập mã PIN cũ, mã PIN mới và nhập lại mã PIN mới trên ba dòng của đầu vào chuẩn.",
        ));
    }
    if demo {
        report(
            &format!("Demo token: the current PIN is {}.", crate::demo::PIN),
            &format!(
                "Thiết bị ký thử nghiệm: mã PIN hiện tại là {}.",
                crate::demo::PIN
            ),
        );
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|_| cancelled())
    };
    Ok(Pins {
        old: ask("Current PIN (mã PIN hiện tại): ")?,
        new: ask("New PIN (mã PIN mới): ")?,
        again: ask("New PIN again (nhập lại mã PIN mới): ")?,
    })
}

fn cancelled() -> Failure {
    Failure::new(
        "PIN_CANCELLED",
        "No PIN was entered; the PIN was not changed.",
        "Chưa nhập mã PIN; mã PIN chưa được đổi.",
    )
}

/// Checks that need no token, so a typo costs no try on the token.
fn check(p: &Pins, min: usize, max: usize) -> Result<(), Failure> {
    if p.old.is_empty() || p.new.is_empty() {
        return Err(cancelled());
    }
    if p.new != p.again {
        return Err(Failure::new(
            "PIN_MISMATCH",
            "The two new PINs differ; the PIN was not changed. The token was not touched.",
            "Hai lần nhập mã PIN mới không khớp nhau; mã PIN chưa được đổi. Thiết bị ký chưa bị tác động.",
        ));
    }
    if p.new == p.old {
        return Err(Failure::new(
            "PIN_UNCHANGED",
            "The new PIN is the same as the current one; choose a different PIN.",
            "Mã PIN mới trùng với mã PIN hiện tại; hãy chọn mã PIN khác.",
        ));
    }
    // PKCS#11 counts PIN length in bytes.
    let len = p.new.len();
    if len < min || (max > 0 && len > max) {
        return Err(Failure::new(
            "PIN_LENGTH",
            format!("This token accepts PINs of {min} to {max} characters; the PIN was not changed."),
            format!("Thiết bị ký này chỉ nhận mã PIN dài từ {min} đến {max} ký tự; mã PIN chưa được đổi."),
        ));
    }
    Ok(())
}

fn change(module: &Module, config: &Config, c: &PinChangeArgs, demo: bool) -> Result<u8, Failure> {
    let mut rec = Recorder::open(config)?;
    let token = module.select(c.token.as_deref().or(config.token.as_deref()))?;
    rec.set_token(&token);
    eprintln!("Token:       {}", token.display_name());
    let state = module.pin_state(&token)?;
    show_state(&state);
    if state.locked {
        rec.record(rec.failure(Operation::PinChange, "PIN_LOCKED", true))?;
        return Err(token::Error::PinLocked.into());
    }
    if let Some((en, vi)) = state.warning() {
        report(&en, &vi);
    }
    if token.pin_pad {
        return Err(Failure::new(
            "TOKEN_PIN_PAD",
            "This token's PIN is entered on its reader's PIN pad; change it with the token maker's tool.",
            "Mã PIN của thiết bị ký này được nhập trên bàn phím của đầu đọc; hãy đổi mã PIN bằng phần mềm của nhà sản xuất thiết bị.",
        ));
    }
    let (min, max) = module.pin_length_range(&token)?;
    let pins = read_pins(c.pin_stdin, demo)?;
    check(&pins, min, max)?;
    let session = module.open_rw(&token)?;
    let result = session.change_pin(
        &Pin::from(pins.old.to_string()),
        &Pin::from(pins.new.to_string()),
    );
    drop(pins);
    match result {
        Ok(()) => {
            let id = rec
                .record(rec.entry(Operation::PinChange, Outcome::Ok))
                .map_err(|e| {
                    // The token has the new PIN whatever happens to the log.
                    report(
                        "The PIN WAS changed, but the change could not be recorded.",
                        "Mã PIN ĐÃ được đổi, nhưng không ghi được vào nhật ký.",
                    );
                    Failure::from(e)
                })?;
            tracing::info!(token = %token.serial, entry = ?id, "PIN changed");
            let due = reminders::pin_change_due_at(Some(chrono::Utc::now()))
                .map(|d| d.with_timezone(&chrono::Local).date_naive());
            let (due_en, due_vi) = match due {
                Some(d) => (
                    d.format("%Y-%m-%d").to_string(),
                    d.format("%d/%m/%Y").to_string(),
                ),
                None => (String::new(), String::new()),
            };
            report(
                &format!("The PIN was changed. Change it again by {due_en}."),
                &format!("Đã đổi mã PIN. Hạn đổi mã PIN lần tới: {due_vi}."),
            );
            Ok(exit::OK)
        }
        Err(e) => {
            rec.record(rec.failure(Operation::PinChange, e.code(), locked_by(&e)))?;
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(old: &str, new: &str, again: &str) -> Pins {
        Pins {
            old: Zeroizing::new(old.into()),
            new: Zeroizing::new(new.into()),
            again: Zeroizing::new(again.into()),
        }
    }

    #[test]
    fn checks_before_touching_the_token() {
        let code = |p: Pins| check(&p, 4, 8).err().map(|f| f.code);
        assert_eq!(code(pins("1234", "5678", "5678")), None);
        assert_eq!(code(pins("1234", "5678", "5679")), Some("PIN_MISMATCH"));
        assert_eq!(code(pins("1234", "1234", "1234")), Some("PIN_UNCHANGED"));
        assert_eq!(code(pins("1234", "567", "567")), Some("PIN_LENGTH"));
        assert_eq!(
            code(pins("1234", "567890123", "567890123")),
            Some("PIN_LENGTH")
        );
        assert_eq!(code(pins("", "5678", "5678")), Some("PIN_CANCELLED"));
        assert_eq!(code(pins("1234", "", "")), Some("PIN_CANCELLED"));
    }
}

//! When to remind the user: a PIN unchanged for 6 months (Bắc Kạn Đ21.3),
//! and a certificate close to expiry. Pure date arithmetic, shared by
//! `kyso status` and the daemon's status.

use chrono::{DateTime, Months, TimeDelta, Utc};

/// Subscribers must change the token PIN at least this often.
pub const PIN_CHANGE_MONTHS: u32 = 6;

/// Warn this many days before a certificate expires, unless configured.
pub const DEFAULT_CERT_WARNING_DAYS: u32 = 30;

/// Whether the PIN is due for a change: never changed through Kyso (as far
/// as the log knows), or last changed more than 6 calendar months ago.
pub fn pin_change_due(last_change: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match last_change {
        None => true,
        Some(t) => match t.checked_add_months(Months::new(PIN_CHANGE_MONTHS)) {
            Some(due) => now > due,
            None => false,
        },
    }
}

/// When the next PIN change is due, if a change was recorded.
pub fn pin_change_due_at(last_change: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    last_change?.checked_add_months(Months::new(PIN_CHANGE_MONTHS))
}

/// Whether a certificate valid until `not_after` expires within
/// `warn_days` of `now`, or has already expired.
pub fn cert_expiring(not_after: DateTime<Utc>, now: DateTime<Utc>, warn_days: u32) -> bool {
    not_after - now <= TimeDelta::days(i64::from(warn_days))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn pin_change_is_due_after_six_calendar_months_or_when_never_recorded() {
        let last = t("2026-01-31T10:00:00Z");
        assert!(pin_change_due(None, last));
        // 31 January + 6 months is clamped to 31 July.
        assert!(!pin_change_due(Some(last), t("2026-07-31T10:00:00Z")));
        assert!(pin_change_due(Some(last), t("2026-07-31T10:00:01Z")));
        assert_eq!(
            pin_change_due_at(Some(last)),
            Some(t("2026-07-31T10:00:00Z"))
        );
    }

    #[test]
    fn cert_expiring_within_the_warning_days() {
        let now = t("2026-06-01T00:00:00Z");
        assert!(cert_expiring(t("2026-07-01T00:00:00Z"), now, 30));
        assert!(!cert_expiring(t("2026-07-01T00:00:01Z"), now, 30));
        assert!(
            cert_expiring(t("2026-05-01T00:00:00Z"), now, 30),
            "expired counts too"
        );
        assert!(!cert_expiring(t("2026-06-20T00:00:00Z"), now, 7));
    }
}

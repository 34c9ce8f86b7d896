//! The periodic usage report: its figures (computed in SQL by the store) and
//! its three renderings, CSV, printable HTML (Vietnamese or English) and JSON.
//!
//! Renderers only lay out what the store computed; they count nothing.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::chain::Verification;
use super::model::Operation;

/// The report language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Vietnamese, the default: the report goes to Vietnamese offices.
    #[default]
    Vi,
    /// English.
    En,
}

/// Totals over the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Documents signed (single and batch).
    pub signatures: i64,
    /// Signing attempts that failed.
    pub signature_failures: i64,
    /// Batches (distinct job ids of batch entries).
    pub batches: i64,
    /// Successful logins.
    pub logins: i64,
    /// Refused logins (wrong PIN, locked token).
    pub failed_logins: i64,
    /// PIN changes.
    pub pin_changes: i64,
    /// Failed PIN changes.
    pub failed_pin_changes: i64,
    /// Entries where the token reported its PIN locked.
    pub pin_lock_incidents: i64,
    /// Pairings approved.
    pub pairings_approved: i64,
    /// Pairings denied.
    pub pairings_denied: i64,
    /// Signing requests the user refused.
    pub consents_refused: i64,
    /// All entries in the period.
    pub entries: i64,
}

/// A certificate's expiry status at the time of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expiry {
    /// Valid for longer than the warning period.
    Valid,
    /// Expires within the warning period.
    Expiring,
    /// Already expired.
    Expired,
    /// The entries do not say.
    Unknown,
}

impl Expiry {
    /// The status of a certificate valid until `not_after` (RFC 3339) at
    /// `now`, warning `warn_days` ahead; with the whole days left.
    pub fn classify(
        not_after: Option<&str>,
        now: DateTime<Utc>,
        warn_days: u32,
    ) -> (Expiry, Option<i64>) {
        let Some(t) = not_after.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) else {
            return (Expiry::Unknown, None);
        };
        let left = t.with_timezone(&Utc) - now;
        let days = left.num_days();
        let status = if left <= chrono::TimeDelta::zero() {
            Expiry::Expired
        } else if left <= chrono::TimeDelta::days(i64::from(warn_days)) {
            Expiry::Expiring
        } else {
            Expiry::Valid
        };
        (status, Some(days))
    }
}

/// Use of one certificate in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertUsage {
    /// The holder's common name.
    pub common_name: String,
    /// The serial, upper-case hex.
    pub serial: String,
    /// The issuer.
    pub issuer: String,
    /// SHA-256 thumbprint.
    pub sha256: String,
    /// End of validity, RFC 3339.
    pub not_after: Option<String>,
    /// Documents signed.
    pub signatures: i64,
    /// Failed signing attempts.
    pub failures: i64,
    /// First entry in the period, local time.
    pub first_use: String,
    /// Last entry in the period, local time.
    pub last_use: String,
    /// Expiry status when the report was made.
    pub expiry: Expiry,
    /// Whole days of validity left (negative once expired).
    pub days_left: Option<i64>,
}

/// Signatures and failures for one value of a grouping key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountBy {
    /// The month (`2026-01`) or the calling origin.
    pub key: String,
    /// Documents signed.
    pub signatures: i64,
    /// Failed signing attempts.
    pub failures: i64,
}

/// Failures of one operation with one error code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureCount {
    /// The operation.
    pub operation: String,
    /// The error code.
    pub code: String,
    /// How many.
    pub count: i64,
}

/// An entry where the token reported its PIN locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinLockIncident {
    /// The entry id.
    pub id: i64,
    /// When, local time.
    pub time_local: String,
    /// The operation.
    pub operation: String,
    /// The error code.
    pub code: String,
    /// The token label.
    pub token_label: String,
    /// The token serial.
    pub token_serial: String,
    /// The calling origin.
    pub origin: String,
}

/// The number of entries and the last one written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    /// Entries in the log.
    pub entries: i64,
    /// The last id written.
    pub head_id: Option<i64>,
    /// Its hash.
    pub head_hash: Option<String>,
}

/// The usage report for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// First day, inclusive (local calendar).
    pub from: NaiveDate,
    /// Last day, inclusive (local calendar).
    pub to: NaiveDate,
    /// When the report was made, local ISO 8601.
    pub generated_at: String,
    /// Totals.
    pub totals: Totals,
    /// Per certificate.
    pub certificates: Vec<CertUsage>,
    /// Per month (local), signing operations only.
    pub months: Vec<CountBy>,
    /// Per calling system, signing operations only.
    pub origins: Vec<CountBy>,
    /// Failures by operation and reason.
    pub failures: Vec<FailureCount>,
    /// PIN-lock incidents.
    pub pin_lock_incidents: Vec<PinLockIncident>,
    /// The whole log's integrity when the report was made; the head hash
    /// printed on an archived report anchors the log up to that point.
    pub integrity: Verification,
}

/// JSON, pretty-printed.
pub fn to_json(r: &Report) -> String {
    serde_json::to_string_pretty(r).expect("a report always serialises")
}

fn op_label(op: &str, lang: Lang) -> String {
    let Some(o) = Operation::parse(op) else {
        return op.to_owned();
    };
    let (vi, en) = match o {
        Operation::Sign => ("Ký văn bản", "Sign"),
        Operation::BatchSign => ("Ký theo lô", "Batch sign"),
        Operation::Login => ("Đăng nhập thiết bị ký", "Login"),
        Operation::LoginFailed => ("Đăng nhập không thành công", "Failed login"),
        Operation::PinChange => ("Đổi mã PIN", "PIN change"),
        Operation::PairingApproved => ("Chấp thuận kết nối", "Pairing approved"),
        Operation::PairingDenied => ("Từ chối kết nối", "Pairing denied"),
        Operation::ConsentRefused => ("Từ chối ký", "Consent refused"),
        Operation::Prune => ("Dọn nhật ký", "Log pruned"),
    };
    match lang {
        Lang::Vi => vi.to_owned(),
        Lang::En => en.to_owned(),
    }
}

fn expiry_label(c: &CertUsage, lang: Lang) -> String {
    let days = c.days_left.unwrap_or(0);
    match (c.expiry, lang) {
        (Expiry::Valid, Lang::Vi) => format!("Còn hiệu lực ({days} ngày)"),
        (Expiry::Valid, Lang::En) => format!("Valid ({days} days left)"),
        (Expiry::Expiring, Lang::Vi) => format!("Sắp hết hạn (còn {days} ngày)"),
        (Expiry::Expiring, Lang::En) => format!("Expiring ({days} days left)"),
        (Expiry::Expired, Lang::Vi) => "Đã hết hạn".into(),
        (Expiry::Expired, Lang::En) => "Expired".into(),
        (Expiry::Unknown, Lang::Vi) => "Không rõ".into(),
        (Expiry::Unknown, Lang::En) => "Unknown".into(),
    }
}

fn origin_label(o: &str, lang: Lang) -> String {
    match (o, lang) {
        ("cli", Lang::Vi) => "Dòng lệnh (cli)".into(),
        ("cli", Lang::En) => "Command line (cli)".into(),
        _ => o.to_owned(),
    }
}

fn date(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Vi => d.format("%d/%m/%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

/// `2026-05-31T23:59:59+07:00` as `31/05/2026 23:59:59 (+07:00)` in
/// Vietnamese; unchanged in English.
fn local_time(t: &str, lang: Lang) -> String {
    match (lang, DateTime::parse_from_rfc3339(t)) {
        (Lang::Vi, Ok(t)) => t.format("%d/%m/%Y %H:%M:%S (%:z)").to_string(),
        _ => t.to_owned(),
    }
}

fn not_after_text(c: &CertUsage, lang: Lang) -> String {
    match c
        .not_after
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        Some(t) => date(t.with_timezone(&chrono::Local).date_naive(), lang),
        None => String::new(),
    }
}

/// The totals as (key, Vietnamese label, English label, value).
fn total_rows(t: &Totals) -> [(&'static str, &'static str, &'static str, i64); 12] {
    [
        (
            "signatures",
            "Số văn bản đã ký",
            "Documents signed",
            t.signatures,
        ),
        (
            "signature_failures",
            "Số lần ký không thành công",
            "Failed signing attempts",
            t.signature_failures,
        ),
        ("batches", "Số lô ký", "Batches", t.batches),
        ("logins", "Số lần đăng nhập thiết bị ký", "Logins", t.logins),
        (
            "failed_logins",
            "Số lần đăng nhập không thành công (sai PIN, thiết bị bị khoá)",
            "Failed logins (wrong PIN, locked token)",
            t.failed_logins,
        ),
        (
            "pin_changes",
            "Số lần đổi mã PIN",
            "PIN changes",
            t.pin_changes,
        ),
        (
            "failed_pin_changes",
            "Số lần đổi mã PIN không thành công",
            "Failed PIN changes",
            t.failed_pin_changes,
        ),
        (
            "pin_lock_incidents",
            "Số sự cố khoá mã PIN",
            "PIN-lock incidents",
            t.pin_lock_incidents,
        ),
        (
            "pairings_approved",
            "Số lần chấp thuận kết nối hệ thống",
            "Pairings approved",
            t.pairings_approved,
        ),
        (
            "pairings_denied",
            "Số lần từ chối kết nối hệ thống",
            "Pairings denied",
            t.pairings_denied,
        ),
        (
            "consents_refused",
            "Số yêu cầu ký bị người dùng từ chối",
            "Signing requests refused",
            t.consents_refused,
        ),
        (
            "entries",
            "Tổng số bản ghi nhật ký trong kỳ",
            "Log entries in the period",
            t.entries,
        ),
    ]
}

/// A CSV cell: quoted when needed, and a leading `= + - @` neutralised so a
/// spreadsheet never runs a certificate name or origin as a formula.
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// CSV with one row per figure: `section,key,name,signatures,failures,count,detail`.
/// It starts with a UTF-8 byte-order mark so that Excel shows the
/// Vietnamese labels correctly.
pub fn to_csv(r: &Report, lang: Lang) -> String {
    let mut out = String::from("\u{feff}section,key,name,signatures,failures,count,detail\r\n");
    let mut row = |cols: [&str; 7]| {
        let line: Vec<String> = cols.iter().map(|c| cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    };
    let period = format!("{} - {}", r.from, r.to);
    row(["period", "range", &period, "", "", "", &r.generated_at]);
    for (key, vi, en, n) in total_rows(&r.totals) {
        let name = if lang == Lang::Vi { vi } else { en };
        row(["summary", key, name, "", "", &n.to_string(), ""]);
    }
    for c in &r.certificates {
        let detail = format!(
            "{}; serial {}; {}",
            expiry_label(c, lang),
            c.serial,
            c.not_after.as_deref().unwrap_or("")
        );
        row([
            "certificate",
            &c.sha256,
            &c.common_name,
            &c.signatures.to_string(),
            &c.failures.to_string(),
            "",
            &detail,
        ]);
    }
    for m in &r.months {
        row([
            "month",
            &m.key,
            "",
            &m.signatures.to_string(),
            &m.failures.to_string(),
            "",
            "",
        ]);
    }
    for o in &r.origins {
        row([
            "origin",
            &o.key,
            &origin_label(&o.key, lang),
            &o.signatures.to_string(),
            &o.failures.to_string(),
            "",
            "",
        ]);
    }
    for f in &r.failures {
        row([
            "failure",
            &f.code,
            &op_label(&f.operation, lang),
            "",
            "",
            &f.count.to_string(),
            &f.operation,
        ]);
    }
    for p in &r.pin_lock_incidents {
        let token = format!("{} ({})", p.token_label, p.token_serial);
        row([
            "pin_lock",
            &p.id.to_string(),
            &token,
            "",
            "",
            "1",
            &format!("{} {} {}", p.time_local, p.operation, p.code),
        ]);
    }
    let i = &r.integrity;
    let status = if i.is_ok() {
        "intact".to_owned()
    } else {
        i.first_bad.as_ref().map(|b| b.en()).unwrap_or_default()
    };
    row([
        "integrity",
        &i.last_id.map(|x| x.to_string()).unwrap_or_default(),
        i.last_hash.as_deref().unwrap_or(""),
        "",
        "",
        &i.entries.to_string(),
        &status,
    ]);
    out
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = r#"
@page { size: A4; margin: 18mm 15mm; }
body { font-family: "Times New Roman", "Liberation Serif", "DejaVu Serif", serif; font-size: 12pt; color: #000; max-width: 190mm; margin: 0 auto; }
h1 { font-size: 15pt; text-align: center; margin: 8pt 0 2pt; text-transform: uppercase; }
.sub { text-align: center; font-style: italic; margin: 0 0 12pt; }
h2 { font-size: 12.5pt; margin: 14pt 0 4pt; }
table { border-collapse: collapse; width: 100%; page-break-inside: auto; }
tr { page-break-inside: avoid; }
th, td { border: 1px solid #444; padding: 3pt 5pt; vertical-align: top; }
th { background: #eee; font-weight: bold; }
td.n { text-align: right; white-space: nowrap; }
.warn { font-weight: bold; }
.bad { font-weight: bold; color: #a00; }
.mono { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; word-break: break-all; }
.empty { font-style: italic; }
.org { display: flex; justify-content: space-between; font-size: 11pt; }
.sign { display: flex; justify-content: space-between; margin-top: 28pt; text-align: center; }
.sign div { width: 45%; }
.sign p { margin: 0 0 60pt; }
@media print { .noprint { display: none; } }
"#;

/// Printable, self-contained HTML (no scripts, no external resources).
pub fn to_html(r: &Report, lang: Lang) -> String {
    let vi = lang == Lang::Vi;
    let t = |v: &'static str, e: &'static str| if vi { v } else { e };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style></head><body>\n",
        t("vi", "en"),
        t("Báo cáo sử dụng chứng thư số", "Certificate usage report")
    );
    let _ = writeln!(
        h,
        "<div class=\"org\"><span>{}</span><span>{}</span></div>",
        t(
            "Đơn vị: ...........................................",
            "Office: ..........................................."
        ),
        esc(&local_time(&r.generated_at, lang))
    );
    let _ = write!(
        h,
        "<h1>{}</h1>\n<p class=\"sub\">{} {} {} {}</p>\n",
        t(
            "Báo cáo tình hình sử dụng chứng thư số và chữ ký số",
            "Report on the use of certificates and digital signatures"
        ),
        t("Kỳ báo cáo: từ ngày", "Period: from"),
        date(r.from, lang),
        t("đến ngày", "to"),
        date(r.to, lang)
    );

    let _ = write!(
        h,
        "<h2>1. {}</h2>\n<table><tr><th>{}</th><th>{}</th></tr>\n",
        t("Tổng hợp", "Summary"),
        t("Nội dung", "Item"),
        t("Số lượng", "Count")
    );
    for (key, v, e, n) in total_rows(&r.totals) {
        let class = if key == "pin_lock_incidents" && n > 0 {
            " class=\"n bad\""
        } else {
            " class=\"n\""
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td{class} data-key=\"{key}\">{n}</td></tr>",
            esc(if vi { v } else { e })
        );
    }
    h.push_str("</table>\n");

    let _ = write!(
        h,
        "<h2>2. {}</h2>\n<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>\n",
        t("Theo chứng thư số", "By certificate"),
        t("Chủ thể chứng thư số", "Certificate holder"),
        t("Số hiệu / Tổ chức cấp", "Serial / Issuer"),
        t("Số văn bản đã ký", "Signed"),
        t("Không thành công", "Failed"),
        t("Hiệu lực đến", "Valid until"),
        t("Tình trạng", "Status")
    );
    for c in &r.certificates {
        let class = match c.expiry {
            Expiry::Expired => "bad",
            Expiry::Expiring => "warn",
            _ => "",
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><span class=\"mono\">{}</span><br>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"{class}\">{}</td></tr>",
            esc(&c.common_name),
            esc(&c.serial),
            esc(&c.issuer),
            c.signatures,
            c.failures,
            not_after_text(c, lang),
            esc(&expiry_label(c, lang))
        );
    }
    empty_row(&mut h, r.certificates.is_empty(), 6, lang);
    h.push_str("</table>\n");

    count_table(
        &mut h,
        "3",
        t("Theo tháng", "By month"),
        t("Tháng", "Month"),
        &r.months,
        lang,
        |k| {
            if vi {
                k.split_once('-')
                    .map(|(y, m)| format!("{m}/{y}"))
                    .unwrap_or_else(|| k.to_owned())
            } else {
                k.to_owned()
            }
        },
    );
    count_table(
        &mut h,
        "4",
        t("Theo hệ thống gọi ký", "By calling system"),
        t("Hệ thống", "System"),
        &r.origins,
        lang,
        |k| origin_label(k, lang),
    );

    let _ = write!(
        h,
        "<h2>5. {}</h2>\n<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>\n",
        t("Lỗi theo nguyên nhân", "Failures by reason"),
        t("Thao tác", "Operation"),
        t("Mã lỗi", "Error code"),
        t("Số lần", "Count")
    );
    for f in &r.failures {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&op_label(&f.operation, lang)),
            esc(&f.code),
            f.count
        );
    }
    empty_row(&mut h, r.failures.is_empty(), 3, lang);
    h.push_str("</table>\n");

    let _ = write!(
        h,
        "<h2>6. {}</h2>\n<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>\n",
        t("Sự cố khoá mã PIN", "PIN-lock incidents"),
        t("Thời điểm", "Time"),
        t("Thiết bị ký", "Token"),
        t("Thao tác", "Operation"),
        t("Mã lỗi", "Error code")
    );
    for p in &r.pin_lock_incidents {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{} ({})</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            esc(&local_time(&p.time_local, lang)),
            esc(&p.token_label),
            esc(&p.token_serial),
            esc(&op_label(&p.operation, lang)),
            esc(&p.code)
        );
    }
    empty_row(&mut h, r.pin_lock_incidents.is_empty(), 4, lang);
    h.push_str("</table>\n");

    let i = &r.integrity;
    let _ = write!(
        h,
        "<h2>7. {}</h2>\n<p>",
        t("Tính toàn vẹn của nhật ký", "Integrity of the log")
    );
    match &i.first_bad {
        None => {
            let _ = write!(
                h,
                "{} {} {}",
                t("Nhật ký nguyên vẹn:", "The log is intact:"),
                i.entries,
                t(
                    "bản ghi, chuỗi mã băm hợp lệ.",
                    "entries, hash chain valid."
                )
            );
        }
        Some(b) => {
            let _ = write!(
                h,
                "<span class=\"bad\">{} {}.</span>",
                t("NHẬT KÝ ĐÃ BỊ THAY ĐỔI:", "THE LOG WAS TAMPERED WITH:"),
                esc(&if vi { b.vi() } else { b.en() })
            );
        }
    }
    if let (Some(id), Some(hash)) = (i.last_id, &i.last_hash) {
        let _ = write!(
            h,
            "<br>{} #{id}: <span class=\"mono\">{}</span>",
            t("Mã băm của bản ghi cuối", "Hash of the last entry"),
            esc(hash)
        );
    }
    h.push_str("</p>\n");
    let _ = writeln!(
        h,
        "<div class=\"sign\"><div><p><b>{}</b><br><i>{}</i></p></div><div><p><b>{}</b><br><i>{}</i></p></div></div>",
        t("Người lập báo cáo", "Prepared by"),
        t("(Ký, ghi rõ họ tên)", "(signature and name)"),
        t("Thủ trưởng đơn vị", "Head of office"),
        t("(Ký, ghi rõ họ tên, đóng dấu)", "(signature, name and seal)")
    );
    h.push_str("</body></html>\n");
    h
}

fn empty_row(h: &mut String, empty: bool, cols: usize, lang: Lang) {
    if empty {
        let text = if lang == Lang::Vi {
            "Không có."
        } else {
            "None."
        };
        let _ = writeln!(
            h,
            "<tr><td colspan=\"{cols}\" class=\"empty\">{text}</td></tr>"
        );
    }
}

fn count_table(
    h: &mut String,
    num: &str,
    title: &str,
    key_header: &str,
    rows: &[CountBy],
    lang: Lang,
    label: impl Fn(&str) -> String,
) {
    let vi = lang == Lang::Vi;
    let _ =
        write!(
        h,
        "<h2>{num}. {title}</h2>\n<table><tr><th>{key_header}</th><th>{}</th><th>{}</th></tr>\n",
        if vi { "Số văn bản đã ký" } else { "Signed" },
        if vi { "Không thành công" } else { "Failed" }
    );
    for c in rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&label(&c.key)),
            c.signatures,
            c.failures
        );
    }
    empty_row(h, rows.is_empty(), 3, lang);
    h.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_classification() {
        let now = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            Expiry::classify(Some("2026-06-20T00:00:00Z"), now, 30),
            (Expiry::Expiring, Some(19))
        );
        assert_eq!(
            Expiry::classify(Some("2026-08-01T00:00:00Z"), now, 30),
            (Expiry::Valid, Some(61))
        );
        assert_eq!(
            Expiry::classify(Some("2026-05-01T00:00:00Z"), now, 30).0,
            Expiry::Expired
        );
        assert_eq!(Expiry::classify(None, now, 30), (Expiry::Unknown, None));
        assert_eq!(
            Expiry::classify(Some("2026-06-20T00:00:00Z"), now, 10).0,
            Expiry::Valid
        );
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(cell("Nguyễn Văn A"), "Nguyễn Văn A");
    }

    #[test]
    fn html_escapes() {
        assert_eq!(esc("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
    }
}

//! `kyso report`: the periodic report of certificate use.

use super::args::{LangArg, ReportArgs, ReportFormat};
use super::log::open_log;
use super::output::report as notice;
use super::{exit, Failure};
use crate::config::Config;
use crate::usage_log::report::{to_csv, to_html, to_json};
use crate::usage_log::{reminders, Lang, Period};

pub(super) fn run(config: &Config, a: &ReportArgs) -> Result<u8, Failure> {
    let mut period = Period::local_days(a.from, a.to).ok_or_else(|| {
        Failure::new(
            "OPTION_PERIOD",
            format!("--to {} is before --from {}.", a.to, a.from),
            format!("--to {} ở trước --from {}.", a.to, a.from),
        )
    })?;
    period.expiry_warning_days = config
        .cert_warning_days
        .unwrap_or(reminders::DEFAULT_CERT_WARNING_DAYS);
    let log = open_log(config)?;
    let r = log.report(&period)?;
    let lang = match a.lang {
        LangArg::Vi => Lang::Vi,
        LangArg::En => Lang::En,
    };
    let text = match a.format {
        ReportFormat::Csv => to_csv(&r, lang),
        ReportFormat::Html => to_html(&r, lang),
        ReportFormat::Json => to_json(&r) + "\n",
    };
    match &a.output {
        Some(path) => std::fs::write(path, text).map_err(|e| {
            Failure::new(
                "FILE_ERROR",
                format!("Cannot write {}: {e}.", path.display()),
                format!("Không ghi được {}: {e}.", path.display()),
            )
        })?,
        None => print!("{text}"),
    }
    // A report over a tampered log is still made (it is evidence), but the
    // person making it must not miss that.
    if let Some(bad) = &r.integrity.first_bad {
        notice(
            &format!("Warning: the usage log fails verification: {}.", bad.en()),
            &format!(
                "Cảnh báo: nhật ký sử dụng không còn nguyên vẹn: {}.",
                bad.vi()
            ),
        );
        return Ok(exit::LOG);
    }
    Ok(exit::OK)
}

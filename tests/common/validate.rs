//! Independent validators: pyHanko, Poppler's pdfsig, qpdf.

use std::path::Path;
use std::process::{Command, ExitStatus, Output};

use super::pki::Pki;
use super::process::{describe, run};

// ---------- pyHanko ----------

/// One line of `pyhanko sign validate` output:
/// `FIELD:SIGNER_CERT_SHA256_HEX:STATUS`, where STATUS is `INVALID` or
/// `INTACT:<trust>,<coverage>[,<modifications>]`, e.g.
/// `INTACT:TRUSTED,UNTOUCHED` (covers the whole file) or
/// `INTACT:TRUSTED,EXTENDED_WITH_FORM_FILLING,ACCEPTABLE_MODIFICATIONS`
/// (an earlier signature after more revisions were appended).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PyhankoSig {
    pub field: String,
    /// Lower-case hex SHA-256 of the signer's certificate.
    pub signer_sha256: String,
    /// Everything after the fingerprint.
    pub status: String,
}

impl PyhankoSig {
    /// Parses one stdout line; `None` for anything else.
    pub fn parse(line: &str) -> Option<PyhankoSig> {
        // The field name may itself contain ':'; the fingerprint cannot.
        let bytes = line.as_bytes();
        (0..line.len()).find_map(|i| {
            let rest = bytes.get(i + 1..i + 66)?;
            let is_fp = bytes[i] == b':'
                && rest[..64]
                    .iter()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                && rest[64] == b':';
            is_fp.then(|| PyhankoSig {
                field: line[..i].to_string(),
                signer_sha256: line[i + 1..i + 65].to_string(),
                status: line[i + 66..].to_string(),
            })
        })
    }

    fn summary_fields(&self) -> Vec<&str> {
        match self.status.strip_prefix("INTACT:") {
            Some(rest) => rest.split(',').collect(),
            None => Vec::new(),
        }
    }

    /// The cryptographic signature matches the signed byte ranges.
    pub fn is_intact(&self) -> bool {
        self.status.starts_with("INTACT:")
    }

    pub fn is_trusted(&self) -> bool {
        self.summary_fields().first() == Some(&"TRUSTED")
    }

    /// The signature covers the whole file (it is the last revision).
    pub fn is_untouched(&self) -> bool {
        self.summary_fields().contains(&"UNTOUCHED")
    }

    /// For a signature followed by later revisions: the level pyHanko
    /// assigns to them (`FORM_FILLING`, `ANNOTATIONS`, `LTA_UPDATES`,
    /// `OTHER`, ...), from `EXTENDED_WITH_<level>`.
    pub fn modification_level(&self) -> Option<&str> {
        self.summary_fields()
            .into_iter()
            .find_map(|f| f.strip_prefix("EXTENDED_WITH_"))
    }

    pub fn has_illegal_modifications(&self) -> bool {
        self.summary_fields().contains(&"ILLEGAL_MODIFICATIONS")
    }

    /// Intact, trusted, and either untouched or followed only by acceptable
    /// modifications.
    pub fn is_valid(&self) -> bool {
        let fields = self.summary_fields();
        self.is_intact()
            && self.is_trusted()
            && !self.has_illegal_modifications()
            && (self.is_untouched() || fields.contains(&"ACCEPTABLE_MODIFICATIONS"))
    }
}

/// Result of one `pyhanko sign validate` run.
#[derive(Debug)]
pub struct PyhankoReport {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Signatures in the order pyHanko reports them (signed revision order).
    pub signatures: Vec<PyhankoSig>,
    /// Non-empty stdout lines that are not signature lines.
    pub other_lines: Vec<String>,
}

impl PyhankoReport {
    /// Parses the output of a `pyhanko sign validate` run.
    pub fn from_output(out: &Output) -> PyhankoReport {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut signatures = Vec::new();
        let mut other_lines = Vec::new();
        for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
            match PyhankoSig::parse(line) {
                Some(sig) => signatures.push(sig),
                None => other_lines.push(line.to_string()),
            }
        }
        PyhankoReport {
            status: out.status,
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            signatures,
            other_lines,
        }
    }

    /// Full output, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "pyhanko status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// `pyhanko sign validate` trusting only the test root, with the issuing CA
/// supplied as an extra certificate, no revocation checks.
pub fn pyhanko_validate(pdf: &Path, pki: &Pki) -> PyhankoReport {
    pyhanko_validate_args(pdf, pki, &[])
}

/// As [`pyhanko_validate`] with extra options, e.g. `--no-strict-syntax`
/// (without which pyHanko reports any signature in a hybrid-reference file
/// as INVALID) or `--password PW`.
pub fn pyhanko_validate_args(pdf: &Path, pki: &Pki, extra_args: &[&str]) -> PyhankoReport {
    let mut cmd = pyhanko_validate_cmd(pki);
    cmd.arg("--other-certs").arg(&pki.intermediate.cert_pem);
    cmd.args(extra_args).arg(pdf);
    PyhankoReport::from_output(&run(&mut cmd))
}

/// As [`pyhanko_validate`] but without `--other-certs`: signatures are only
/// TRUSTED if they carry the issuing CA certificate themselves.
pub fn pyhanko_validate_embedded_chain(pdf: &Path, pki: &Pki) -> PyhankoReport {
    let mut cmd = pyhanko_validate_cmd(pki);
    cmd.arg(pdf);
    PyhankoReport::from_output(&run(&mut cmd))
}

fn pyhanko_validate_cmd(pki: &Pki) -> Command {
    let mut cmd = Command::new("pyhanko");
    cmd.args([
        "sign",
        "validate",
        "--no-revocation-check",
        "--trust-replace",
        "--trust",
    ])
    .arg(&pki.root.cert_pem);
    cmd
}

/// Asserts that pyHanko exits 0 and reports exactly `expected_count`
/// signatures, all valid, of which exactly the last covers the whole file.
pub fn assert_pyhanko_all_valid(pdf: &Path, pki: &Pki, expected_count: usize) -> PyhankoReport {
    let report = pyhanko_validate(pdf, pki);
    check_pyhanko_all_valid(&report, expected_count)
        .unwrap_or_else(|why| panic!("{}: {why}\n{}", pdf.display(), report.describe()));
    report
}

/// The checks of [`assert_pyhanko_all_valid`], as a `Result`.
pub fn check_pyhanko_all_valid(
    report: &PyhankoReport,
    expected_count: usize,
) -> Result<(), String> {
    if !report.status.success() {
        return Err(format!("pyhanko exited with {}", report.status));
    }
    if report.signatures.len() != expected_count {
        return Err(format!(
            "expected {expected_count} signature(s), pyhanko reported {}",
            report.signatures.len()
        ));
    }
    if let Some(bad) = report.signatures.iter().find(|s| !s.is_valid()) {
        return Err(format!(
            "signature {:?} is not valid: {}",
            bad.field, bad.status
        ));
    }
    let untouched: Vec<usize> = (0..expected_count)
        .filter(|&i| report.signatures[i].is_untouched())
        .collect();
    if expected_count > 0 && untouched != [expected_count - 1] {
        return Err(format!(
            "expected only the last signature to cover the whole file, untouched: {untouched:?}"
        ));
    }
    Ok(())
}

// ---------- pdfsig ----------

/// One `Signature #N:` block of pdfsig output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdfsigSig {
    pub field: String,
    pub signer_common_name: String,
    /// E.g. "Signature is Valid." or "Digest Mismatch."
    pub validation: String,
    /// "Total document signed" (vs. "Not total document signed").
    pub total_document_signed: bool,
}

impl PdfsigSig {
    pub fn is_valid(&self) -> bool {
        self.validation == "Signature is Valid."
    }
}

#[derive(Debug)]
pub struct PdfsigReport {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub signatures: Vec<PdfsigSig>,
}

impl PdfsigReport {
    pub fn describe(&self) -> String {
        format!(
            "pdfsig status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    pub fn timed_out(&self) -> bool {
        self.status.code() == Some(124)
    }
}

/// Runs `pdfsig -nocert` (signature checks only; no NSS trust store) under
/// `timeout 60`. Note pdfsig exits 0 even for broken signatures, and 2 for
/// a file without signatures.
pub fn pdfsig_report(pdf: &Path) -> PdfsigReport {
    let mut cmd = Command::new("timeout");
    cmd.args(["60", "pdfsig", "-nocert"]).arg(pdf);
    let out = run(&mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    PdfsigReport {
        status: out.status,
        signatures: parse_pdfsig(&stdout),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// pdfsig's whole output (stdout, then stderr).
pub fn pdfsig(pdf: &Path) -> String {
    let report = pdfsig_report(pdf);
    format!("{}{}", report.stdout, report.stderr)
}

/// Parses pdfsig's `Signature #N:` blocks.
pub fn parse_pdfsig(stdout: &str) -> Vec<PdfsigSig> {
    let mut sigs: Vec<PdfsigSig> = Vec::new();
    for line in stdout.lines() {
        if line.starts_with("Signature #") {
            sigs.push(PdfsigSig {
                field: String::new(),
                signer_common_name: String::new(),
                validation: String::new(),
                total_document_signed: false,
            });
            continue;
        }
        let Some(sig) = sigs.last_mut() else { continue };
        let item = line.trim_start().trim_start_matches("- ");
        if let Some(v) = item.strip_prefix("Signature Field Name: ") {
            sig.field = v.to_string();
        } else if let Some(v) = item.strip_prefix("Signer Certificate Common Name: ") {
            sig.signer_common_name = v.to_string();
        } else if let Some(v) = item.strip_prefix("Signature Validation: ") {
            sig.validation = v.to_string();
        } else if item == "Total document signed" {
            sig.total_document_signed = true;
        }
    }
    sigs
}

/// Asserts pdfsig finds exactly `expected_count` signatures, each
/// "Signature is Valid.", the last one covering the whole document.
pub fn assert_pdfsig_all_valid(pdf: &Path, expected_count: usize) -> PdfsigReport {
    let report = pdfsig_report(pdf);
    let fail = |why: String| -> ! { panic!("{}: {why}\n{}", pdf.display(), report.describe()) };
    if report.timed_out() {
        fail("pdfsig timed out".to_string());
    }
    if !report.status.success() {
        fail(format!("pdfsig exited with {}", report.status));
    }
    if report.signatures.len() != expected_count {
        fail(format!(
            "expected {expected_count} signature(s), pdfsig reported {}",
            report.signatures.len()
        ));
    }
    if let Some(bad) = report.signatures.iter().find(|s| !s.is_valid()) {
        fail(format!("signature {:?}: {}", bad.field, bad.validation));
    }
    if report
        .signatures
        .last()
        .is_some_and(|s| !s.total_document_signed)
    {
        fail("the last signature does not cover the whole document".to_string());
    }
    report
}

// ---------- qpdf ----------

/// `qpdf --check`: `Ok` only for exit code 0 (no errors, no warnings);
/// otherwise the full output, with what went wrong (errors = 2,
/// warnings = 3, killed by a signal = crash) on the first line.
pub fn qpdf_check(pdf: &Path) -> Result<(), String> {
    let mut cmd = Command::new("qpdf");
    cmd.arg("--check").arg(pdf);
    let out = run(&mut cmd);
    let verdict = match out.status.code() {
        Some(0) => return Ok(()),
        Some(2) => "qpdf --check found errors".to_string(),
        Some(3) => "qpdf --check found warnings (e.g. it had to repair the file)".to_string(),
        Some(code) => format!("qpdf --check exited with unexpected code {code}"),
        None => format!("qpdf --check crashed ({})", out.status),
    };
    Err(format!("{verdict}: {}\n{}", pdf.display(), describe(&out)))
}

pub fn assert_qpdf_ok(pdf: &Path) {
    if let Err(report) = qpdf_check(pdf) {
        panic!("{report}");
    }
}

// ---------- bytes ----------

/// Asserts that `output` is `original` with bytes appended (an incremental
/// update) and strictly longer.
pub fn assert_is_prefix(original: &Path, output: &Path) {
    let a = std::fs::read(original).unwrap_or_else(|e| panic!("read {}: {e}", original.display()));
    let b = std::fs::read(output).unwrap_or_else(|e| panic!("read {}: {e}", output.display()));
    if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
        panic!(
            "{} is not a prefix of {}: first difference at byte {i}\n  original: {:?}\n  output:   {:?}",
            original.display(),
            output.display(),
            excerpt(&a, i),
            excerpt(&b, i)
        );
    }
    assert!(
        b.len() > a.len(),
        "{} ({} bytes) is not longer than {} ({} bytes)",
        output.display(),
        b.len(),
        original.display(),
        a.len()
    );
}

fn excerpt(bytes: &[u8], at: usize) -> String {
    let start = at.saturating_sub(24);
    let end = (at + 40).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..end]).into_owned()
}

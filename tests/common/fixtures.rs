//! Committed fixture PDFs and variants derived from them at test time.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::pdfgen::{append_info_update, find, hybrid_pdf, rfind};
use super::pki::{Pki, Signer};
use super::process::run_ok;

/// Committed fixtures (see tests/fixtures/make.sh).
pub const FIXTURES: [&str; 4] = [
    "libreoffice.pdf",
    "libreoffice-2pages.pdf",
    "pdftex.pdf",
    "pdftex-form.pdf",
];

/// Owner password of [`make_encrypted`] files (their user password is empty).
pub const ENCRYPTION_OWNER_PASSWORD: &str = "kyso-owner";

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Path of a committed fixture; panics if it is missing.
pub fn fixture(name: &str) -> PathBuf {
    let path = fixtures_dir().join(name);
    assert!(
        path.is_file(),
        "missing fixture {} (run tests/fixtures/make.sh)",
        path.display()
    );
    path
}

/// Copies a committed fixture into `dir` and returns the copy's path.
pub fn copy_fixture(name: &str, dir: &Path) -> PathBuf {
    let dst = dir.join(name);
    std::fs::copy(fixture(name), &dst).unwrap_or_else(|e| panic!("copy fixture {name}: {e}"));
    dst
}

fn qpdf(args: &[&str], src: &Path, dst: &Path) {
    let mut cmd = Command::new("qpdf");
    cmd.args(args).arg(src).arg(dst);
    run_ok(&mut cmd);
}

/// Rewritten with object streams and a cross-reference stream.
pub fn make_objstm(src: &Path, dst: &Path) {
    qpdf(&["--object-streams=generate"], src, dst);
}

/// Linearized ("fast web view").
pub fn make_linearized(src: &Path, dst: &Path) {
    qpdf(&["--linearize"], src, dst);
}

/// AES-256 encrypted with an empty user password (opens without a
/// password, like most real encrypted documents) and owner password
/// [`ENCRYPTION_OWNER_PASSWORD`].
pub fn make_encrypted(src: &Path, dst: &Path) {
    make_encrypted_with_password(src, dst, "");
}

/// AES-256 encrypted; a non-empty `user_password` is needed to open it.
pub fn make_encrypted_with_password(src: &Path, dst: &Path, user_password: &str) {
    let mut cmd = Command::new("qpdf");
    cmd.args([
        "--encrypt",
        user_password,
        ENCRYPTION_OWNER_PASSWORD,
        "256",
        "--",
    ])
    .arg(src)
    .arg(dst);
    run_ok(&mut cmd);
}

/// `src` plus one real incremental update (a new Info dictionary); see
/// [`super::pdfgen::append_info_update`].
pub fn make_incremental(src: &Path, dst: &Path) {
    write(dst, &append_info_update(&read(src)));
}

/// A hand-written hybrid-reference file; see [`super::pdfgen::hybrid_pdf`].
pub fn make_hybrid(dst: &Path) {
    write(dst, &hybrid_pdf());
}

/// Junk after the final `%%EOF` (common in the wild; readers accept it).
pub fn make_trailing_garbage(src: &Path, dst: &Path) {
    let mut bytes = read(src);
    bytes.extend_from_slice(b"\r\n\0\0\0 trailing junk from a broken mail gateway \xff\xfe\n");
    write(dst, &bytes);
}

/// The first half of `src`.
pub fn make_truncated(src: &Path, dst: &Path) {
    let bytes = read(src);
    write(dst, &bytes[..bytes.len() / 2]);
}

/// The last `startxref` points into the middle of the file, so only xref
/// reconstruction can open it. qpdf 11 repairs a classic-xref source with
/// warnings (exit 3) but gives up (exit 2) on an xref-stream source such as
/// pdftex.pdf, as its reconstruction looks for a `trailer` keyword.
pub fn make_broken_xref(src: &Path, dst: &Path) {
    let mut bytes = read(src);
    let at = rfind(&bytes, b"startxref").expect("source has a startxref") + b"startxref".len();
    let digits_start = at
        + bytes[at..]
            .iter()
            .position(u8::is_ascii_digit)
            .expect("startxref offset");
    let digits_len = bytes[digits_start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let offset: usize = std::str::from_utf8(&bytes[digits_start..digits_start + digits_len])
        .expect("ascii digits")
        .parse()
        .expect("startxref offset");
    let wrong = (offset / 2).to_string();
    bytes.splice(digits_start..digits_start + digits_len, wrong.into_bytes());
    write(dst, &bytes);
}

/// A file named like a PDF that is not one.
pub fn make_not_pdf(dst: &Path) {
    write(
        dst,
        "Đây không phải là tệp PDF.\nThis is not a PDF file.\n".as_bytes(),
    );
}

/// `src` certified by pyHanko (field `Cert1`, signer `personal`) with
/// DocMDP P=1: no changes allowed, so any later signature is illegal.
pub fn make_certified_no_changes(src: &Path, dst: &Path, pki: &Pki) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/certify_no_changes.py");
    let signer = pki.signer(Signer::Personal);
    let mut cmd = Command::new(python());
    cmd.arg(script)
        .arg(src)
        .arg(dst)
        .arg(&signer.key_pem)
        .arg(&signer.cert_pem)
        .arg(&pki.intermediate.cert_pem);
    run_ok(&mut cmd);
}

/// `src` signed by pyHanko (approval signature, new invisible field
/// `field`) with the key of `which`, embedding the issuing CA.
pub fn make_pyhanko_signed(src: &Path, dst: &Path, pki: &Pki, which: Signer, field: &str) {
    let signer = pki.signer(which);
    let mut cmd = Command::new("pyhanko");
    cmd.args([
        "sign",
        "addsig",
        "--field",
        field,
        "pemder",
        "--no-pass",
        "--key",
    ])
    .arg(&signer.key_pem)
    .arg("--cert")
    .arg(&signer.cert_pem)
    .arg("--chain")
    .arg(&pki.intermediate.cert_pem)
    .arg(src)
    .arg(dst);
    run_ok(&mut cmd);
}

/// Python with pyHanko installed: `$KYSO_TEST_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("KYSO_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Flips one byte of the first occurrence of `needle` (e.g. inside a signed
/// range) so signatures over it break.
pub fn tamper(src: &Path, dst: &Path, needle: &[u8]) {
    let mut bytes = read(src);
    let at = find(&bytes, needle).unwrap_or_else(|| {
        panic!(
            "{:?} not found in {}",
            String::from_utf8_lossy(needle),
            src.display()
        )
    });
    bytes[at] ^= 0x01;
    write(dst, &bytes);
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

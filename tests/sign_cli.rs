//! `kyso sign` end to end: real SoftHSM2 tokens holding keys made by the test
//! PKI, the real binary, and independent validators (pyHanko, pdfsig, qpdf).
//! See issue 2 ("Signing engine").

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// Signs `input` into `output` with the environment's token and PIN `pin`.
fn sign(env: &TestEnv, input: &Path, output: &Path, pin: &str, extra: &[&str]) -> Output {
    env.sign(input, output, pin, &os(extra))
}

fn sign_ok(env: &TestEnv, input: &Path, output: &Path, extra: &[&str]) {
    env.sign_ok(input, output, &os(extra));
}

fn os<'a>(args: &[&'a str]) -> Vec<&'a std::ffi::OsStr> {
    args.iter().map(|a| std::ffi::OsStr::new(*a)).collect()
}

/// Every check the issue names for one output.
fn assert_valid(env: &TestEnv, original: &Path, output: &Path, signatures: usize) {
    assert_is_prefix(original, output);
    assert_qpdf_ok(output);
    assert_pdfsig_all_valid(output, signatures);
    assert_pyhanko_all_valid(output, &env.pki, signatures);
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The certificate's serial as `kyso certs` prints it (upper-case hex).
fn serial_hex(kc: &KeyAndCert) -> String {
    let out = run_ok(
        std::process::Command::new("openssl")
            .args(["x509", "-noout", "-serial", "-in"])
            .arg(&kc.cert_pem),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().trim_start_matches("serial=").to_uppercase()
}

fn no_partial_files(dir: &Path) {
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "partial files left behind: {leftovers:?}"
    );
}

fn signed_with(which: Signer, extra: &[&str]) {
    let env = TestEnv::new(which);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let output = env.path().join("signed.pdf");
    sign_ok(&env, &input, &output, extra);
    assert_valid(&env, &input, &output, 1);
}

// --- Each key type and each mechanism --------------------------------------

#[test]
fn rsa_pkcs1_default_mechanism() {
    signed_with(Signer::Personal, &[]);
}

#[test]
fn rsa_pkcs1_combined_mechanism() {
    signed_with(Signer::Personal, &["--rsa-mechanism", "combined"]);
}

#[test]
fn rsa_pkcs1_raw_mechanism_over_digest_info() {
    signed_with(Signer::Personal, &["--rsa-mechanism", "raw"]);
}

#[test]
fn rsa_pss() {
    signed_with(Signer::Personal, &["--pss"]);
}

#[test]
fn rsa_organization_key() {
    signed_with(Signer::Org, &[]);
}

#[test]
fn ecdsa_p256() {
    signed_with(Signer::Ec, &[]);
}

#[test]
fn ecdsa_p384_with_sha384() {
    signed_with(Signer::Ec384, &["--digest", "sha384"]);
}

#[test]
fn rsa_with_sha512() {
    signed_with(Signer::Personal, &["--digest", "sha512"]);
}

#[test]
fn pss_with_an_ec_key_is_a_usage_error() {
    let env = TestEnv::new(Signer::Ec);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let output = env.path().join("signed.pdf");
    let out = sign(&env, &input, &output, USER_PIN, &["--pss"]);
    assert_refused(&out, "OPTION_PSS_NEEDS_RSA", 2);
    assert!(!output.exists());
}

// --- Two signatures in a row -------------------------------------------------

#[test]
fn personal_then_organization_both_stay_valid() {
    let env = TestEnv::new(Signer::Personal);
    // The clerk's organization token sits in the same SoftHSM instance.
    env.hsm.add_token("ORG TOKEN", SO_PIN, USER_PIN);
    let org = env.pki.signer(Signer::Org);
    env.hsm.import_key_and_cert(
        "ORG TOKEN",
        USER_PIN,
        &org.key_der,
        &org.cert_der,
        "02",
        "org",
    );
    env.hsm.import_cert_only(
        "ORG TOKEN",
        USER_PIN,
        &env.pki.intermediate.cert_der,
        "03",
        "ca",
    );

    let input = copy_fixture("libreoffice.pdf", env.path());
    let first = env.path().join("first.pdf");
    let second = env.path().join("second.pdf");
    sign_ok(
        &env,
        &input,
        &first,
        &["--token", TOKEN_LABEL, "--reason", "Phê duyệt"],
    );
    sign_ok(
        &env,
        &first,
        &second,
        &["--token", "ORG TOKEN", "--reason", "Ban hành"],
    );

    assert_is_prefix(&input, &first);
    assert_is_prefix(&first, &second);
    assert_qpdf_ok(&second);
    assert_pdfsig_all_valid(&second, 2);
    let report = assert_pyhanko_all_valid(&second, &env.pki, 2);
    let (s1, s2) = (&report.signatures[0], &report.signatures[1]);
    assert_eq!(
        s1.signer_sha256,
        env.pki.signer(Signer::Personal).cert_sha256_hex()
    );
    assert_eq!(
        s2.signer_sha256,
        env.pki.signer(Signer::Org).cert_sha256_hex()
    );
    assert!(
        !s1.is_untouched(),
        "the first signature covers only a prefix:\n{}",
        report.describe()
    );
    assert!(!s1.has_illegal_modifications(), "{}", report.describe());
    assert!(s2.is_untouched(), "{}", report.describe());
}

#[test]
fn field_names_do_not_collide_with_earlier_signatures() {
    let env = TestEnv::new(Signer::Personal);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let pre = env.path().join("pyhanko-signed.pdf");
    make_pyhanko_signed(&input, &pre, &env.pki, Signer::Org, "Signature1");
    let output = env.path().join("signed.pdf");
    sign_ok(&env, &pre, &output, &[]);
    assert_valid(&env, &pre, &output, 2);
    let report = pyhanko_validate(&output, &env.pki);
    assert_eq!(
        report.signatures[1].field,
        "Signature2",
        "{}",
        report.describe()
    );
}

// --- Real-world inputs and every cross-reference layout ----------------------

/// Whether the newest cross-reference section of `pdf` is a stream.
fn newest_xref_is_stream(pdf: &[u8]) -> bool {
    let at = rfind_bytes(pdf, b"startxref").expect("startxref");
    let text = String::from_utf8_lossy(&pdf[at + 9..]);
    let offset: usize = text
        .split_whitespace()
        .next()
        .expect("offset")
        .parse()
        .expect("number");
    !pdf[offset..].starts_with(b"xref")
}

fn signs_cleanly(make: impl FnOnce(&Path, &Path)) -> (TestEnv, PathBuf, PathBuf) {
    let env = TestEnv::new(Signer::Personal);
    let input = env.path().join("input.pdf");
    make(env.path(), &input);
    let output = env.path().join("signed.pdf");
    sign_ok(&env, &input, &output, &[]);
    assert_is_prefix(&input, &output);
    assert_qpdf_ok(&output);
    assert_pdfsig_all_valid(&output, 1);
    let original = read(&input);
    assert_eq!(
        newest_xref_is_stream(&read(&output)),
        newest_xref_is_stream(&original),
        "the update must use the same xref form as the original"
    );
    (env, input, output)
}

fn signs_and_validates(make: impl FnOnce(&Path, &Path)) {
    let (env, _, output) = signs_cleanly(make);
    assert_pyhanko_all_valid(&output, &env.pki, 1);
}

fn copied(name: &'static str) -> impl FnOnce(&Path, &Path) {
    move |_, dst| {
        std::fs::copy(fixture(name), dst).expect("copy fixture");
    }
}

#[test]
fn libreoffice_document() {
    signs_and_validates(copied("libreoffice.pdf"));
}

#[test]
fn libreoffice_two_pages() {
    signs_and_validates(copied("libreoffice-2pages.pdf"));
}

#[test]
fn pdftex_document_with_xref_and_object_streams() {
    let (_env, input, _) = signs_cleanly(copied("pdftex.pdf"));
    assert!(
        newest_xref_is_stream(&read(&input)),
        "pdfTeX writes xref streams; the fixture changed"
    );
    signs_and_validates(copied("pdftex.pdf"));
}

#[test]
fn qpdf_object_streams() {
    signs_and_validates(|_, dst| make_objstm(&fixture("libreoffice.pdf"), dst));
}

#[test]
fn linearized_file() {
    signs_and_validates(|_, dst| make_linearized(&fixture("libreoffice.pdf"), dst));
}

#[test]
fn linearized_file_with_object_streams() {
    signs_and_validates(|_, dst| make_linearized(&fixture("pdftex.pdf"), dst));
}

#[test]
fn file_with_an_incremental_update() {
    signs_and_validates(|_, dst| make_incremental(&fixture("libreoffice.pdf"), dst));
}

#[test]
fn hybrid_reference_file() {
    let (env, _, output) = signs_cleanly(|_, dst| make_hybrid(dst));
    // pyHanko refuses hybrid files unless told to relax its syntax checks.
    let mut cmd = std::process::Command::new("pyhanko");
    cmd.args([
        "sign",
        "validate",
        "--no-strict-syntax",
        "--no-revocation-check",
        "--trust-replace",
        "--trust",
    ])
    .arg(&env.pki.root.cert_pem)
    .arg("--other-certs")
    .arg(&env.pki.intermediate.cert_pem)
    .arg(&output);
    let report = PyhankoReport::from_output(&run(&mut cmd));
    check_pyhanko_all_valid(&report, 1).unwrap_or_else(|e| panic!("{e}\n{}", report.describe()));
}

#[test]
fn trailing_bytes_after_eof() {
    signs_and_validates(|_, dst| make_trailing_garbage(&fixture("libreoffice.pdf"), dst));
}

#[test]
fn form_fields_are_kept() {
    let env = TestEnv::new(Signer::Personal);
    let input = copy_fixture("pdftex-form.pdf", env.path());
    let output = env.path().join("signed.pdf");
    sign_ok(&env, &input, &output, &[]);
    assert_valid(&env, &input, &output, 1);
    let fields = |p: &Path| {
        let out = run_ok(
            std::process::Command::new("qpdf")
                .args(["--json", "--json-key=acroform"])
                .arg(p),
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("qpdf json");
        json["acroform"]["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|f| f["fullname"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let before = fields(&input);
    let after = fields(&output);
    assert!(before.len() >= 2, "the fixture has text fields: {before:?}");
    for name in &before {
        assert!(after.contains(name), "field {name} lost: {after:?}");
    }
    assert!(after.contains(&"Signature1".to_owned()), "{after:?}");
}

// --- Refusals: exact code, nothing written ----------------------------------

fn refused(make: impl FnOnce(&TestEnv, &Path), code: &str) {
    let env = TestEnv::new(Signer::Personal);
    let input = env.path().join("input.pdf");
    make(&env, &input);
    let out_dir = env.path().join("out");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    let output = out_dir.join("signed.pdf");
    let out = sign(&env, &input, &output, USER_PIN, &[]);
    assert_refused(&out, code, 3);
    assert!(!output.exists(), "no output may appear for a refused file");
    no_partial_files(&out_dir);
}

#[test]
fn refuses_encrypted_pdf() {
    refused(
        |_, p| make_encrypted(&fixture("libreoffice.pdf"), p),
        "PDF_ENCRYPTED",
    );
}

#[test]
fn refuses_broken_xref() {
    refused(
        |_, p| make_broken_xref(&fixture("libreoffice.pdf"), p),
        "PDF_BROKEN_XREF",
    );
}

#[test]
fn refuses_non_pdf() {
    refused(|_, p| make_not_pdf(p), "PDF_NOT_PDF");
}

#[test]
fn refuses_truncated_pdf() {
    refused(
        |_, p| make_truncated(&fixture("libreoffice.pdf"), p),
        "PDF_TRUNCATED",
    );
}

#[test]
fn refuses_docmdp_no_changes() {
    refused(
        |env, p| make_certified_no_changes(&fixture("libreoffice.pdf"), p, &env.pki),
        "PDF_CERTIFIED_NO_CHANGES",
    );
}

#[test]
fn existing_output_is_untouched_when_signing_fails() {
    let env = TestEnv::new(Signer::Personal);
    let input = env.path().join("input.pdf");
    make_encrypted(&fixture("libreoffice.pdf"), &input);
    let output = env.path().join("signed.pdf");
    std::fs::write(&output, b"an earlier result").expect("write");
    let out = sign(&env, &input, &output, USER_PIN, &[]);
    assert_refused(&out, "PDF_ENCRYPTED", 3);
    assert_eq!(read(&output), b"an earlier result");
    no_partial_files(env.path());
}

// --- PIN handling -------------------------------------------------------------

#[test]
fn wrong_pin_is_reported_once_and_never_retried() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let output = env.path().join("signed.pdf");
    let out = sign(&env, &input, &output, "999999", &[]);
    assert_refused(&out, "PIN_INCORRECT", 5);
    assert!(
        stderr(&out).contains("Kyso did not retry it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        shim.login_calls(),
        1,
        "exactly one login attempt: {:?}",
        shim.login_log()
    );
    assert!(!output.exists());

    // The token's own failed-login state is readable afterwards.
    let mut tokens = env.kyso();
    tokens.args(["tokens", "--json"]);
    let listed: serde_json::Value =
        serde_json::from_slice(&run_ok(&mut tokens).stdout).expect("json");
    assert_eq!(listed[0]["pin"]["count_low"], true, "{listed}");

    // The right PIN then works and clears it.
    sign_ok(&env, &input, &output, &[]);
    assert_valid(&env, &input, &output, 1);
}

#[test]
fn locked_token_gets_no_login_attempt() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    shim.set_flags(&[PinFlag::Locked]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let output = env.path().join("signed.pdf");
    let out = sign(&env, &input, &output, USER_PIN, &[]);
    assert_refused(&out, "PIN_LOCKED", 5);
    assert_eq!(shim.login_calls(), 0, "{:?}", shim.login_log());
    assert!(!output.exists());
}

#[test]
fn final_try_and_count_low_are_shown_before_the_pin() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    let input = copy_fixture("libreoffice.pdf", env.path());
    shim.set_flags(&[PinFlag::FinalTry]);
    let out = sign(&env, &input, &env.path().join("a.pdf"), USER_PIN, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("one more wrong PIN will lock this token"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("sẽ khoá thiết bị ký"),
        "{}",
        stderr(&out)
    );

    shim.set_flags(&[PinFlag::CountLow]);
    let out = sign(&env, &input, &env.path().join("b.pdf"), USER_PIN, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("A wrong PIN was entered recently"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_pin_and_no_terminal_is_a_clear_error() {
    let env = TestEnv::new(Signer::Personal);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let mut cmd = env.kyso();
    cmd.arg("sign")
        .arg(&input)
        .arg("-o")
        .arg(env.path().join("x.pdf"));
    let out = run_with_stdin(&mut cmd, b"");
    assert_refused(&out, "PIN_NO_INPUT", 5);
}

// --- Batches -------------------------------------------------------------------

#[test]
fn batch_signs_every_file_with_one_pin() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    let names = ["libreoffice.pdf", "pdftex.pdf", "libreoffice-2pages.pdf"];
    let inputs: Vec<PathBuf> = names.iter().map(|n| copy_fixture(n, env.path())).collect();
    let out_dir = env.path().join("signed");
    let mut cmd = env.kyso();
    cmd.arg("sign")
        .args(&inputs)
        .arg("--out-dir")
        .arg(&out_dir)
        .arg("--pin-stdin");
    let out = run_with_stdin(&mut cmd, format!("{USER_PIN}\n").as_bytes());
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(shim.login_calls(), 1, "one PIN entry for the batch");
    for (input, name) in inputs.iter().zip(names) {
        assert_valid(&env, input, &out_dir.join(name), 1);
    }
}

#[test]
fn batch_reports_a_bad_file_and_signs_the_rest() {
    let env = TestEnv::new(Signer::Personal);
    let good = copy_fixture("libreoffice.pdf", env.path());
    let bad = env.path().join("encrypted.pdf");
    make_encrypted(&fixture("pdftex.pdf"), &bad);
    let out_dir = env.path().join("signed");
    let mut cmd = env.kyso();
    cmd.arg("sign")
        .arg(&bad)
        .arg(&good)
        .arg("--out-dir")
        .arg(&out_dir)
        .arg("--pin-stdin");
    let out = run_with_stdin(&mut cmd, format!("{USER_PIN}\n").as_bytes());
    assert_eq!(out.status.code(), Some(8), "{}", describe(&out));
    assert!(
        stderr(&out).contains("error [PDF_ENCRYPTED]: "),
        "{}",
        stderr(&out)
    );
    assert!(!out_dir.join("encrypted.pdf").exists());
    assert_valid(&env, &good, &out_dir.join("libreoffice.pdf"), 1);
    no_partial_files(&out_dir);
}

#[test]
fn out_dir_never_overwrites_the_originals() {
    let env = TestEnv::new(Signer::Personal);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let before = read(&input);
    let out = sign(&env, &input, &input, USER_PIN, &[]);
    // Signing into the same path with -o is allowed (atomic replace) …
    assert!(out.status.success(), "{}", describe(&out));
    assert!(read(&input).starts_with(&before));
    // … but --out-dir pointing at the inputs' own directory is refused.
    let mut cmd = env.kyso();
    cmd.arg("sign")
        .arg(&input)
        .arg("--out-dir")
        .arg(env.path())
        .arg("--pin-stdin");
    let out = run_with_stdin(&mut cmd, format!("{USER_PIN}\n").as_bytes());
    assert_refused(&out, "OPTION_OUTPUT", 2);
}

// --- Listing and selection -----------------------------------------------------

#[test]
fn tokens_and_certs_show_what_is_plugged_in() {
    let env = TestEnv::new(Signer::Personal);
    let out = run_ok(env.kyso().arg("tokens"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(TOKEN_LABEL), "{text}");

    let out = run_ok(env.kyso().arg("certs"));
    let text = String::from_utf8_lossy(&out.stdout);
    let personal = env.pki.signer(Signer::Personal);
    assert!(
        text.contains("Nguyễn Văn An (signing certificate)"),
        "{text}"
    );
    assert!(text.contains("(CA certificate)"), "{text}");
    assert!(text.contains("RSA 2048"), "{text}");
    assert!(
        text.contains(&serial_hex(personal)),
        "serial missing:\n{text}"
    );

    let out = run_ok(env.kyso().args(["certs", "--json"]));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let signing: Vec<_> = json
        .as_array()
        .expect("list")
        .iter()
        .filter(|c| c["signing"] == true)
        .collect();
    assert_eq!(signing.len(), 1, "{json}");
    assert_eq!(signing[0]["id"], SIGNER_ID.to_uppercase());
    assert_eq!(signing[0]["certificate"]["key"], "RSA 2048");
}

#[test]
fn certificate_selectors() {
    let env = TestEnv::new(Signer::Personal);
    env.hsm.import_key_and_cert(
        TOKEN_LABEL,
        USER_PIN,
        &env.pki.signer(Signer::Ec).key_der,
        &env.pki.signer(Signer::Ec).cert_der,
        "05",
        "ec",
    );
    let input = copy_fixture("libreoffice.pdf", env.path());
    // Two candidates: no silent choice.
    let out = sign(&env, &input, &env.path().join("a.pdf"), USER_PIN, &[]);
    assert_refused(&out, "CERT_AMBIGUOUS", 4);
    // By subject substring, by CKA_ID and by serial.
    let ec_serial = serial_hex(env.pki.signer(Signer::Ec));
    for (selector, which) in [
        ("Bích Ngọc", Signer::Ec),
        ("01", Signer::Personal),
        (ec_serial.as_str(), Signer::Ec),
    ] {
        let output = env.path().join(format!("sel-{}.pdf", which.name()));
        sign_ok(&env, &input, &output, &["--cert", selector]);
        let report = assert_pyhanko_all_valid(&output, &env.pki, 1);
        assert_eq!(
            report.signatures[0].signer_sha256,
            env.pki.signer(which).cert_sha256_hex(),
            "selector {selector}"
        );
    }
    let out = sign(
        &env,
        &input,
        &env.path().join("b.pdf"),
        USER_PIN,
        &["--cert", "nobody"],
    );
    assert_refused(&out, "CERT_NOT_FOUND", 4);
}

#[test]
fn expired_certificate_is_refused_before_the_pin() {
    let (env, shim) = TestEnv::with_shim(Signer::Expired);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let out = sign(&env, &input, &env.path().join("x.pdf"), USER_PIN, &[]);
    assert_refused(&out, "CERT_EXPIRED", 4);
    assert_eq!(shim.login_calls(), 0);
}

#[test]
fn certificate_without_signing_key_usage_is_not_a_candidate() {
    let env = TestEnv::new(Signer::NoSigningUsage);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let out = sign(&env, &input, &env.path().join("x.pdf"), USER_PIN, &[]);
    assert_refused(&out, "CERT_NONE", 4);
}

#[test]
fn unknown_token_selector_lists_what_is_there() {
    let env = TestEnv::new(Signer::Personal);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let out = sign(
        &env,
        &input,
        &env.path().join("x.pdf"),
        USER_PIN,
        &["--token", "NOPE"],
    );
    assert_refused(&out, "TOKEN_NOT_FOUND", 4);
    assert!(stderr(&out).contains(TOKEN_LABEL), "{}", stderr(&out));
}

// --- Module resolution -----------------------------------------------------------

#[test]
fn module_flag_beats_env_and_config() {
    let env = TestEnv::new(Signer::Personal);
    let config = env.path().join("kyso.toml");
    std::fs::write(&config, "module = \"/nonexistent/config-module.so\"\n").expect("write");

    // The config file is used when neither flag nor env names a module.
    let mut cmd = env.kyso();
    cmd.env_remove("KYSO_PKCS11_MODULE")
        .arg("--config")
        .arg(&config)
        .arg("tokens");
    let out = run(&mut cmd);
    assert_refused(&out, "TOKEN_MODULE_LOAD", 4);
    assert!(
        stderr(&out).contains("config-module.so"),
        "{}",
        stderr(&out)
    );

    // The env var beats the config file …
    let mut cmd = env.kyso();
    cmd.arg("--config").arg(&config).arg("tokens");
    assert!(run(&mut cmd).status.success());

    // … and --module beats the env var.
    let mut cmd = env.kyso();
    cmd.env("KYSO_PKCS11_MODULE", "/nonexistent/env-module.so")
        .arg("--module")
        .arg(env.hsm.module_path());
    cmd.arg("tokens");
    assert!(run(&mut cmd).status.success());
}

// --- The demo token -----------------------------------------------------------

#[test]
fn demo_token_signs_without_hardware() {
    let dir = temp_dir();
    let home = dir.path().join("home");
    let mut demo = std::process::Command::new(kyso_bin());
    demo.envs(home_env(&home))
        .env_remove("SOFTHSM2_CONF")
        .arg("demo-token");
    let out = run_ok(&mut demo);
    assert!(String::from_utf8_lossy(&out.stdout).contains("PIN 123456"));

    let input = dir.path().join("in.pdf");
    std::fs::copy(fixture("libreoffice.pdf"), &input).expect("copy");
    let output = dir.path().join("out.pdf");
    let mut cmd = std::process::Command::new(kyso_bin());
    cmd.envs(home_env(&home)).env_remove("SOFTHSM2_CONF");
    cmd.args(["--demo", "sign", "--pin-stdin"])
        .arg(&input)
        .arg("-o")
        .arg(&output);
    let out = run_with_stdin(&mut cmd, b"123456\n");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stderr(&out).contains("KYSO DEMO"), "{}", stderr(&out));
    assert_is_prefix(&input, &output);
    assert_qpdf_ok(&output);
    assert_pdfsig_all_valid(&output, 1);
}

#[cfg(unix)]
#[test]
fn output_gets_the_permissions_of_an_ordinary_new_file() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new(Signer::Personal);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let output = env.path().join("signed.pdf");
    sign_ok(&env, &input, &output, &[]);
    let reference = env.path().join("reference");
    std::fs::write(&reference, b"x").expect("write");
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(
        mode(&output),
        mode(&reference),
        "signed files must not be private-only"
    );
}

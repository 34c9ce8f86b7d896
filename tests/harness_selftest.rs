//! Proves the integration-test harness (tests/common) works on its own,
//! without the kyso binary.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn stdout_of(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&run_ok(cmd).stdout).into_owned()
}

fn openssl(args: &[&str]) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    cmd
}

// ---------- PKI ----------

#[test]
fn pki_chain_verifies_with_openssl() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path());
    for which in [
        Signer::Personal,
        Signer::Org,
        Signer::Ec,
        Signer::Ec384,
        Signer::NoSigningUsage,
    ] {
        let ee = pki.signer(which);
        let out = run(openssl(&["verify", "-CAfile"])
            .arg(&pki.root.cert_pem)
            .arg("-untrusted")
            .arg(&pki.intermediate.cert_pem)
            .arg(&ee.cert_pem));
        assert!(
            out.status.success(),
            "{which:?} does not verify\n{}",
            describe(&out)
        );
    }
    let out = run(openssl(&["verify", "-CAfile"])
        .arg(&pki.root.cert_pem)
        .arg("-untrusted")
        .arg(&pki.intermediate.cert_pem)
        .arg(&pki.expired.cert_pem));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("expired"),
        "expired cert verified?\n{text}"
    );
}

#[test]
fn pki_names_are_utf8_and_keys_match_certs() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path());
    for which in Signer::ALL {
        let ee = pki.signer(which);
        let subject = stdout_of(
            openssl(&[
                "x509",
                "-noout",
                "-subject",
                "-nameopt",
                "utf8,sep_comma_plus_space",
                "-in",
            ])
            .arg(&ee.cert_pem),
        );
        assert!(
            subject.contains(&format!("CN={}", which.common_name())),
            "{subject}"
        );
        let asn1 = stdout_of(openssl(&["asn1parse", "-in"]).arg(&ee.cert_pem));
        assert!(
            asn1.lines()
                .any(|l| l.contains("UTF8STRING") && l.contains(which.common_name())),
            "CN of {which:?} is not a UTF8String:\n{asn1}"
        );
        let from_key =
            stdout_of(openssl(&["pkey", "-pubout", "-inform", "DER", "-in"]).arg(&ee.key_der));
        let from_cert = stdout_of(
            openssl(&["x509", "-noout", "-pubkey", "-in"])
                .arg(&ee.cert_der)
                .args(["-inform", "DER"]),
        );
        assert_eq!(
            from_key, from_cert,
            "key of {which:?} does not match its certificate"
        );
    }
    let usage = stdout_of(
        openssl(&["x509", "-noout", "-ext", "keyUsage", "-in"]).arg(&pki.personal.cert_pem),
    );
    assert!(
        usage.contains("Digital Signature, Non Repudiation"),
        "{usage}"
    );
    let algo = stdout_of(openssl(&["x509", "-noout", "-text", "-in"]).arg(&pki.ec384.cert_pem));
    assert!(algo.contains("P-384"), "{algo}");
}

#[test]
fn pki_copies_are_private_but_identical() {
    let (a, b) = (temp_dir(), temp_dir());
    let (pa, pb) = (Pki::new(a.path()), Pki::new(b.path()));
    assert_ne!(pa.personal.cert_der, pb.personal.cert_der);
    assert_eq!(pa.personal.cert_der_bytes(), pb.personal.cert_der_bytes());
    assert!(pa.personal.cert_der.starts_with(a.path()));
    assert_eq!(pa.personal.cert_sha256_hex().len(), 64);
}

// ---------- SoftHSM ----------

#[test]
fn token_holds_key_certificate_and_ca() {
    for which in [Signer::Personal, Signer::Ec384] {
        let env = TestEnv::new(which);
        let slots = stdout_of(env.hsm.pkcs11_tool().arg("-L"));
        assert!(slots.contains(TOKEN_LABEL), "{slots}");
        let objects =
            stdout_of(
                env.hsm
                    .pkcs11_tool()
                    .args(["--login", "--pin", USER_PIN, "--list-objects"]),
            );
        for needle in [
            "Private Key Object",
            "Public Key Object",
            "Certificate Object",
            INTERMEDIATE_LABEL,
        ] {
            assert!(
                objects.contains(needle),
                "{which:?}: no {needle:?} in\n{objects}"
            );
        }
        assert!(
            objects.contains(&format!("label:      {}", which.name())),
            "{objects}"
        );
    }
}

/// Signs with the token's key and verifies with the certificate's public
/// key, proving key and certificate on the token belong together.
/// `prehash`: the mechanism signs a SHA-256 digest rather than the data
/// (SoftHSM has no CKM_ECDSA_SHA256, only raw CKM_ECDSA).
fn sign_on_token_and_verify(which: Signer, mechanism: &str, prehash: bool) {
    let env = TestEnv::new(which);
    let data = env.path().join("data.txt");
    let digest = env.path().join("data.sha256");
    let sig = env.path().join("data.sig");
    let pubkey = env.path().join("pub.pem");
    std::fs::write(&data, "Chữ ký số thử nghiệm").expect("write data");
    run_ok(
        openssl(&["dgst", "-sha256", "-binary", "-out"])
            .arg(&digest)
            .arg(&data),
    );
    run_ok(
        env.hsm
            .pkcs11_tool()
            .args([
                "--login", "--pin", USER_PIN, "--sign", "--id", SIGNER_ID, "-m", mechanism,
            ])
            .args(["--signature-format", "openssl", "-i"])
            .arg(if prehash { &digest } else { &data })
            .arg("-o")
            .arg(&sig),
    );
    run_ok(
        openssl(&["x509", "-noout", "-pubkey", "-in"])
            .arg(&env.pki.signer(which).cert_pem)
            .arg("-out")
            .arg(&pubkey),
    );
    run_ok(
        openssl(&["dgst", "-sha256", "-verify"])
            .arg(&pubkey)
            .arg("-signature")
            .arg(&sig)
            .arg(&data),
    );
}

#[test]
fn token_key_signs_for_its_certificate_rsa() {
    sign_on_token_and_verify(Signer::Personal, "SHA256-RSA-PKCS", false);
}

#[test]
fn token_key_signs_for_its_certificate_ec() {
    sign_on_token_and_verify(Signer::Ec, "ECDSA", true);
}

#[test]
fn one_softhsm_can_hold_two_tokens() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path());
    let hsm = SoftHsm::new(dir.path());
    hsm.add_token("Token Một", SO_PIN, USER_PIN);
    hsm.add_token("Token Hai", SO_PIN, "9999");
    hsm.import_key_and_cert(
        "Token Hai",
        "9999",
        &pki.org.key_pem,
        &pki.org.cert_der,
        "02",
        "org",
    );
    let slots = stdout_of(hsm.pkcs11_tool().arg("-L"));
    assert!(
        slots.contains("Token Một") && slots.contains("Token Hai"),
        "{slots}"
    );
    let env: Vec<_> = hsm.env();
    assert_eq!(env[0].0, "SOFTHSM2_CONF");
    assert!(hsm.conf_path().starts_with(dir.path()));
    assert_eq!(hsm.module_path(), Path::new(SOFTHSM_MODULE));
}

// ---------- shim ----------

#[test]
fn shim_passes_through_and_reports_pin_flags() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    assert_eq!(env.hsm.module_path(), build_shim());
    let plain = stdout_of(env.hsm.pkcs11_tool().arg("-L"));
    assert!(plain.contains(TOKEN_LABEL), "{plain}");
    assert!(!plain.contains("count low"), "{plain}");

    shim.set_flags(&[PinFlag::CountLow, PinFlag::FinalTry]);
    let flagged = stdout_of(env.hsm.pkcs11_tool().arg("-L"));
    assert!(
        flagged.contains("user PIN count low") && flagged.contains("final user PIN try"),
        "{flagged}"
    );

    shim.set_flags(&[]);
    let cleared = stdout_of(env.hsm.pkcs11_tool().arg("-L"));
    assert!(!cleared.contains("count low"), "{cleared}");

    let objects =
        stdout_of(
            env.hsm
                .pkcs11_tool()
                .args(["--login", "--pin", USER_PIN, "--list-objects"]),
        );
    assert!(objects.contains("Private Key Object"), "{objects}");
}

#[test]
fn shim_counts_logins_and_enforces_lock() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    assert_eq!(shim.login_calls(), 0);
    run_ok(
        env.hsm
            .pkcs11_tool()
            .args(["--login", "--pin", USER_PIN, "--list-objects"]),
    );
    assert_eq!(shim.login_pins(), [USER_PIN]);

    let wrong = run(env
        .hsm
        .pkcs11_tool()
        .args(["--login", "--pin", "0000", "--list-objects"]));
    assert!(!wrong.status.success());
    assert!(
        describe(&wrong).contains("CKR_PIN_INCORRECT"),
        "{}",
        describe(&wrong)
    );
    assert_eq!(shim.login_pins(), [USER_PIN, "0000"]);

    shim.set_flags(&[PinFlag::Locked]);
    let info = stdout_of(env.hsm.pkcs11_tool().arg("-L"));
    assert!(info.contains("user PIN locked"), "{info}");
    let locked = run(env
        .hsm
        .pkcs11_tool()
        .args(["--login", "--pin", USER_PIN, "--list-objects"]));
    assert!(
        describe(&locked).contains("CKR_PIN_LOCKED"),
        "{}",
        describe(&locked)
    );
    assert_eq!(shim.login_calls(), 3);

    shim.clear_logs();
    assert_eq!(shim.login_calls(), 0);
}

#[test]
fn shim_simulates_removed_token() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    shim.set_removed(true);
    let slots = stdout_of(env.hsm.pkcs11_tool().arg("-L"));
    assert!(!slots.contains(TOKEN_LABEL), "{slots}");
    let login = run(env.hsm.pkcs11_tool().args([
        "--token-label",
        TOKEN_LABEL,
        "--login",
        "--pin",
        USER_PIN,
        "-O",
    ]));
    assert!(!login.status.success(), "{}", describe(&login));

    shim.set_removed(false);
    let back = stdout_of(env.hsm.pkcs11_tool().arg("-L"));
    assert!(back.contains(TOKEN_LABEL), "{back}");
}

#[test]
fn shim_logs_sign_calls() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    let data = env.path().join("data");
    std::fs::write(&data, "x").expect("write data");
    run_ok(
        env.hsm
            .pkcs11_tool()
            .args([
                "--login",
                "--pin",
                USER_PIN,
                "--sign",
                "--id",
                SIGNER_ID,
                "-m",
                "SHA256-RSA-PKCS",
                "-i",
            ])
            .arg(&data)
            .arg("-o")
            .arg(env.path().join("sig")),
    );
    assert_eq!(shim.sign_calls(), 1);
}

// ---------- kyso command ----------

#[test]
fn kyso_cmd_is_confined_to_the_test_dir() {
    let env = TestEnv::new(Signer::Personal);
    let cmd = env.kyso();
    assert_eq!(Path::new(cmd.get_program()), kyso_bin());
    let get = |key: &str| {
        cmd.get_envs()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v)
            .unwrap_or_else(|| panic!("{key} not set"))
            .to_owned()
    };
    assert_eq!(get("KYSO_PKCS11_MODULE"), SOFTHSM_MODULE);
    assert_eq!(Path::new(&get("SOFTHSM2_CONF")), env.hsm.conf_path());
    for key in [
        "HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_RUNTIME_DIR",
    ] {
        assert!(
            Path::new(&get(key)).starts_with(env.path()),
            "{key} escapes the temp dir"
        );
        assert!(Path::new(&get(key)).is_dir(), "{key} dir not created");
    }
}

// ---------- fixtures ----------

#[test]
fn committed_fixtures_are_sound() {
    for name in FIXTURES {
        let path = fixture(name);
        assert_qpdf_ok(&path);
        let size = std::fs::metadata(&path).expect("stat fixture").len();
        assert!(size < 100 * 1024, "{name} is {size} bytes");
    }
    let text = stdout_of(
        Command::new("pdftotext")
            .arg(fixture("libreoffice.pdf"))
            .arg("-"),
    );
    for needle in [
        "QUYẾT ĐỊNH",
        "CHỦ TỊCH",
        "Nguyễn Văn An",
        "Độc lập - Tự do - Hạnh phúc",
    ] {
        assert!(
            text.contains(needle),
            "no {needle:?} in libreoffice.pdf:\n{text}"
        );
    }
    let pages = stdout_of(
        Command::new("qpdf")
            .arg("--show-npages")
            .arg(fixture("libreoffice-2pages.pdf")),
    );
    assert_eq!(pages.trim(), "2");
    let form = stdout_of(
        Command::new("qpdf")
            .args(["--json", "--json-key=acroform"])
            .arg(fixture("pdftex-form.pdf")),
    );
    assert_eq!(form.matches("\"fieldtype\": \"/Tx\"").count(), 2, "{form}");
}

#[test]
fn objstm_variant_has_object_streams() {
    let dir = temp_dir();
    let dst = dir.path().join("objstm.pdf");
    let src = fixture("libreoffice.pdf");
    assert!(find_bytes(&read(&src), b"/ObjStm").is_none());
    make_objstm(&src, &dst);
    assert_qpdf_ok(&dst);
    assert!(find_bytes(&read(&dst), b"/ObjStm").is_some());
    let xref = stdout_of(Command::new("qpdf").arg("--show-xref").arg(&dst));
    assert!(xref.contains("compressed; stream ="), "{xref}");
}

#[test]
fn linearized_and_encrypted_variants() {
    let dir = temp_dir();
    let src = fixture("libreoffice.pdf");
    let lin = dir.path().join("lin.pdf");
    make_linearized(&src, &lin);
    assert_qpdf_ok(&lin);
    let check = stdout_of(Command::new("qpdf").arg("--check").arg(&lin));
    assert!(check.contains("File is linearized"), "{check}");

    let enc = dir.path().join("enc.pdf");
    make_encrypted(&src, &enc);
    assert_qpdf_ok(&enc);
    assert!(run(Command::new("qpdf").arg("--is-encrypted").arg(&enc))
        .status
        .success());
    let check = stdout_of(Command::new("qpdf").arg("--show-encryption").arg(&enc));
    assert!(check.contains("AESv3"), "{check}");

    let locked = dir.path().join("locked.pdf");
    make_encrypted_with_password(&src, &locked, "mật khẩu");
    assert!(qpdf_check(&locked).is_err(), "opened without its password");
}

#[test]
fn incremental_variant_appends_a_real_update() {
    let dir = temp_dir();
    for name in ["libreoffice.pdf", "pdftex.pdf"] {
        let src = fixture(name);
        let dst = dir.path().join(format!("inc-{name}"));
        make_incremental(&src, &dst);
        assert_qpdf_ok(&dst);
        assert_is_prefix(&src, &dst);
        let trailer = stdout_of(Command::new("qpdf").arg("--show-object=trailer").arg(&dst));
        assert!(trailer.contains("/Prev"), "{name}: {trailer}");
        let info = stdout_of(Command::new("pdfinfo").arg(&dst));
        assert!(
            info.contains("Kyso incremental update fixture"),
            "{name}: {info}"
        );
    }
}

#[test]
fn hybrid_variant_resolves_objects_through_xrefstm() {
    let dir = temp_dir();
    let dst = dir.path().join("hybrid.pdf");
    make_hybrid(&dst);
    assert_qpdf_ok(&dst);
    let xref = stdout_of(Command::new("qpdf").arg("--show-xref").arg(&dst));
    assert!(
        xref.contains("5/0: compressed; stream = 7, index = 0"),
        "{xref}"
    );
    assert!(
        xref.contains("6/0: compressed; stream = 7, index = 1"),
        "{xref}"
    );
    let info = stdout_of(Command::new("qpdf").arg("--show-object=6").arg(&dst));
    assert!(info.contains(HYBRID_TITLE), "{info}");
    let trailer = stdout_of(Command::new("qpdf").arg("--show-object=trailer").arg(&dst));
    assert!(trailer.contains("/XRefStm"), "{trailer}");
    let text = stdout_of(Command::new("pdftotext").arg(&dst).arg("-"));
    assert!(text.contains("Hybrid-reference test file"), "{text}");
}

#[test]
fn damaged_variants_fail_qpdf_check() {
    let dir = temp_dir();
    let src = fixture("libreoffice.pdf");
    let garbage = dir.path().join("garbage.pdf");
    make_trailing_garbage(&src, &garbage);
    assert_qpdf_ok(&garbage);

    let truncated = dir.path().join("truncated.pdf");
    make_truncated(&src, &truncated);
    let err = qpdf_check(&truncated).expect_err("truncated file passed qpdf --check");
    assert!(err.contains("errors") || err.contains("warnings"), "{err}");

    for name in ["libreoffice.pdf", "pdftex.pdf"] {
        let broken = dir.path().join(format!("broken-{name}"));
        make_broken_xref(&fixture(name), &broken);
        let err = qpdf_check(&broken).expect_err("broken xref passed qpdf --check");
        assert!(
            err.contains("reconstruct") || err.contains("damaged"),
            "{err}"
        );
    }

    let not_pdf = dir.path().join("not.pdf");
    make_not_pdf(&not_pdf);
    assert!(qpdf_check(&not_pdf).is_err());
}

#[test]
fn certified_variant_forbids_further_signatures() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path());
    let certified = dir.path().join("certified.pdf");
    make_certified_no_changes(&fixture("libreoffice.pdf"), &certified, &pki);
    let report = assert_pyhanko_all_valid(&certified, &pki, 1);
    assert_eq!(report.signatures[0].field, "Cert1");
    // pyHanko itself refuses to add a signature: the DocMDP level is P=1.
    let again = run(Command::new("pyhanko")
        .args([
            "sign",
            "addsig",
            "--field",
            "Sig2",
            "pemder",
            "--no-pass",
            "--key",
        ])
        .arg(&pki.org.key_pem)
        .arg("--cert")
        .arg(&pki.org.cert_pem)
        .arg(&certified)
        .arg(dir.path().join("again.pdf")));
    assert!(
        describe(&again).contains("forbids all changes"),
        "{}",
        describe(&again)
    );
}

// ---------- validators ----------

#[test]
fn validators_accept_pyhanko_signatures() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path());
    let src = fixture("libreoffice.pdf");
    let one = dir.path().join("one.pdf");
    let two = dir.path().join("two.pdf");
    make_pyhanko_signed(&src, &one, &pki, Signer::Personal, "Sig1");
    make_pyhanko_signed(&one, &two, &pki, Signer::Ec, "Sig2");

    let r1 = assert_pyhanko_all_valid(&one, &pki, 1);
    assert_eq!(
        r1.signatures[0].signer_sha256,
        pki.personal.cert_sha256_hex()
    );
    assert!(r1.signatures[0].is_untouched());
    assert!(check_pyhanko_all_valid(&pyhanko_validate_embedded_chain(&one, &pki), 1).is_ok());
    assert_pdfsig_all_valid(&one, 1);
    assert_qpdf_ok(&one);
    assert_is_prefix(&src, &one);

    let r2 = assert_pyhanko_all_valid(&two, &pki, 2);
    assert_eq!(r2.signatures[0].modification_level(), Some("FORM_FILLING"));
    assert_eq!(r2.signatures[1].signer_sha256, pki.ec.cert_sha256_hex());
    let sigs = assert_pdfsig_all_valid(&two, 2).signatures;
    assert_eq!(sigs[1].signer_common_name, Signer::Ec.common_name());
    assert!(!sigs[0].total_document_signed);
    assert_is_prefix(&one, &two);
    assert!(pdfsig(&two).contains("Signature is Valid"));
}

#[test]
fn validators_reject_tampered_signature() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path());
    let signed = dir.path().join("signed.pdf");
    let tampered = dir.path().join("tampered.pdf");
    make_pyhanko_signed(
        &fixture("libreoffice.pdf"),
        &signed,
        &pki,
        Signer::Personal,
        "Sig1",
    );
    tamper(&signed, &tampered, b"/Producer");

    let report = pyhanko_validate(&tampered, &pki);
    assert!(!report.status.success(), "{}", report.describe());
    assert_eq!(report.signatures.len(), 1, "{}", report.describe());
    assert_eq!(report.signatures[0].status, "INVALID");
    assert!(check_pyhanko_all_valid(&report, 1).is_err());

    let pdfsig_report = pdfsig_report(&tampered);
    assert_eq!(
        pdfsig_report.signatures.len(),
        1,
        "{}",
        pdfsig_report.describe()
    );
    assert!(
        !pdfsig_report.signatures[0].is_valid(),
        "{}",
        pdfsig_report.describe()
    );
    let caught = std::panic::catch_unwind(|| assert_pdfsig_all_valid(&tampered, 1));
    assert!(
        caught.is_err(),
        "assert_pdfsig_all_valid accepted a tampered file"
    );

    let caught = std::panic::catch_unwind(|| assert_is_prefix(&signed, &tampered));
    assert!(caught.is_err(), "assert_is_prefix accepted a modified file");
}

#[test]
fn validators_flag_untrusted_and_unsigned_files() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path());
    let unsigned = fixture("pdftex.pdf");
    let report = pyhanko_validate(&unsigned, &pki);
    assert!(report.signatures.is_empty(), "{}", report.describe());
    assert!(check_pyhanko_all_valid(&report, 1).is_err());
    assert!(pdfsig_report(&unsigned).signatures.is_empty());

    // Signed with the expired certificate: intact but not trusted.
    let expired = dir.path().join("expired.pdf");
    make_pyhanko_signed(&unsigned, &expired, &pki, Signer::Expired, "Sig1");
    let report = pyhanko_validate(&expired, &pki);
    assert_eq!(report.signatures.len(), 1, "{}", report.describe());
    let sig = &report.signatures[0];
    assert!(
        sig.is_intact() && !sig.is_trusted() && !sig.is_valid(),
        "{}",
        report.describe()
    );
}

#[test]
fn pyhanko_needs_lenient_syntax_for_hybrid_files() {
    let dir = temp_dir();
    let pki = Pki::new(dir.path());
    let hybrid = dir.path().join("hybrid.pdf");
    let signed = dir.path().join("signed-hybrid.pdf");
    make_hybrid(&hybrid);
    let signer = &pki.personal;
    run_ok(
        Command::new("pyhanko")
            .args([
                "sign",
                "addsig",
                "--no-strict-syntax",
                "--field",
                "Sig1",
                "pemder",
                "--no-pass",
            ])
            .arg("--key")
            .arg(&signer.key_pem)
            .arg("--cert")
            .arg(&signer.cert_pem)
            .arg(&hybrid)
            .arg(&signed),
    );
    let strict = pyhanko_validate(&signed, &pki);
    assert_eq!(strict.signatures.len(), 1, "{}", strict.describe());
    assert_eq!(
        strict.signatures[0].status,
        "INVALID",
        "{}",
        strict.describe()
    );
    let lenient = pyhanko_validate_args(&signed, &pki, &["--no-strict-syntax"]);
    check_pyhanko_all_valid(&lenient, 1).unwrap_or_else(|e| panic!("{e}\n{}", lenient.describe()));
    assert_pdfsig_all_valid(&signed, 1);
}

#[test]
fn pyhanko_line_parser() {
    let fp = "c9bb07cee27965a19852d3fd88b71ede949284fc5340e672a28aeb8ba8cac7da";
    let parse = |status: &str| PyhankoSig::parse(&format!("Sig:1:{fp}:{status}")).expect("parses");
    let earlier = parse("INTACT:TRUSTED,EXTENDED_WITH_FORM_FILLING,ACCEPTABLE_MODIFICATIONS");
    assert_eq!(
        (earlier.field.as_str(), earlier.signer_sha256.as_str()),
        ("Sig:1", fp)
    );
    assert!(earlier.is_valid() && !earlier.is_untouched());
    assert_eq!(earlier.modification_level(), Some("FORM_FILLING"));
    assert!(parse("INTACT:TRUSTED,UNTOUCHED").is_valid());
    let illegal = parse("INTACT:TRUSTED,EXTENDED_WITH_OTHER,ILLEGAL_MODIFICATIONS");
    assert!(illegal.has_illegal_modifications() && !illegal.is_valid());
    assert!(!parse("INTACT:UNTRUSTED,UNTOUCHED").is_valid());
    assert!(!parse("INVALID").is_intact());
    assert!(PyhankoSig::parse("2026-01-01 12:00:00,000 - cli - WARNING - something").is_none());
}

#[test]
fn pdfsig_parser() {
    let text = "Digital Signature Info of: x.pdf\nSignature #1:\n  - Signature Field Name: Sig1\n  \
                - Signer Certificate Common Name: Nguyễn Văn An\n  - Not total document signed\n  \
                - Signature Validation: Signature is Valid.\nSignature #2:\n  - Signature Field Name: Sig2\n  \
                - Total document signed\n  - Signature Validation: Digest Mismatch.\n";
    let sigs = parse_pdfsig(text);
    assert_eq!(sigs.len(), 2);
    assert_eq!(sigs[0].signer_common_name, "Nguyễn Văn An");
    assert!(sigs[0].is_valid() && !sigs[0].total_document_signed);
    assert!(!sigs[1].is_valid() && sigs[1].total_document_signed);
}

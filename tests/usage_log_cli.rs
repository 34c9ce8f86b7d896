//! The usage log end to end (issue 4): real SoftHSM2 tokens, the real
//! binary, the database file read back with SQLite. Covers one entry per
//! token use, PINs never stored, tamper detection, crash safety, the report
//! in all three formats, `kyso pin change`, `kyso status` and every error
//! code these commands can show.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use kyso::usage_log::{CertRef, DocRef, NewEntry, Operation, Outcome, TokenRef, UsageLog};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Vietnam time as a POSIX TZ string, so no tzdata is needed.
const VN_TZ: &str = "<+07>-7";

fn home(env: &TestEnv) -> PathBuf {
    env.hsm.base_dir().join("home")
}

fn db_path(env: &TestEnv) -> PathBuf {
    home(env).join(".local/share/kyso/usage-log.sqlite3")
}

fn log_dir(env: &TestEnv) -> PathBuf {
    home(env).join(".local/state/kyso/logs")
}

fn write_config(env: &TestEnv, text: &str) {
    let dir = home(env).join(".config/kyso");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

fn kyso(env: &TestEnv, args: &[&str]) -> Command {
    let mut cmd = env.kyso();
    cmd.args(args).env("TZ", VN_TZ);
    cmd
}

fn run_kyso(env: &TestEnv, args: &[&str], stdin: &str) -> Output {
    run_with_stdin(&mut kyso(env, args), stdin.as_bytes())
}

fn sign(env: &TestEnv, inputs: &[&Path], out: &Path, pin: &str) -> Output {
    let mut cmd = kyso(env, &["sign"]);
    cmd.args(inputs);
    if inputs.len() == 1 {
        cmd.arg("-o").arg(out);
    } else {
        cmd.arg("--out-dir").arg(out);
    }
    cmd.arg("--pin-stdin");
    run_with_stdin(&mut cmd, format!("{pin}\n").as_bytes())
}

fn entries(env: &TestEnv) -> Vec<Value> {
    let out = run_ok(&mut kyso(env, &["log", "--json", "--limit", "0"]));
    serde_json::from_slice(&out.stdout).expect("kyso log --json prints JSON")
}

fn sha256_upper(path: &Path) -> String {
    hex::encode_upper(Sha256::digest(std::fs::read(path).unwrap()))
}

fn db(env: &TestEnv) -> rusqlite::Connection {
    rusqlite::Connection::open(db_path(env)).unwrap()
}

/// Checks the fields every entry of a CLI run carries.
fn assert_common(e: &Value, env: &TestEnv) {
    let utc = e["time_utc"].as_str().unwrap();
    let local = e["time_local"].as_str().unwrap();
    assert!(utc.ends_with('Z') && utc.len() == 27, "{utc}");
    assert!(local.ends_with("+07:00"), "{local}");
    let (u, l) = (
        chrono::DateTime::parse_from_rfc3339(utc).unwrap(),
        chrono::DateTime::parse_from_rfc3339(local).unwrap(),
    );
    assert!(
        (u - l).num_seconds().abs() <= 1,
        "{utc} and {local} are not the same instant"
    );
    assert_eq!(e["origin"], "cli");
    assert!(e["job_id"].as_str().unwrap().starts_with("cli-"));
    assert!(!e["os_user"].as_str().unwrap().is_empty());
    assert!(!e["host"].as_str().unwrap().is_empty());
    assert_eq!(e["token"]["label"], TOKEN_LABEL);
    assert!(!e["token"]["serial"].as_str().unwrap().is_empty());
    let signer = env.pki.signer(Signer::Personal);
    assert_eq!(e["cert"]["common_name"], signer.common_name);
    assert_eq!(e["cert"]["sha256"], signer.cert_sha256_hex().to_uppercase());
    assert!(e["cert"]["issuer"]
        .as_str()
        .unwrap()
        .contains("Kyso Test Issuing CA"));
    assert!(!e["cert"]["serial"].as_str().unwrap().is_empty());
    assert!(e["cert"]["not_after"].as_str().is_some());
}

#[test]
fn each_token_use_makes_exactly_one_entry_with_every_field() {
    let env = TestEnv::new(Signer::Personal);
    let a = copy_fixture("pdftex.pdf", env.path());
    let b = copy_fixture("libreoffice-2pages.pdf", env.path());

    // One document: a login and a sign entry.
    let out = env.path().join("a-signed.pdf");
    let o = sign(&env, &[&a], &out, USER_PIN);
    assert!(o.status.success(), "{}", describe(&o));
    let log = entries(&env);
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(
        (log[0]["operation"].as_str(), log[0]["outcome"].as_str()),
        (Some("login"), Some("ok"))
    );
    let s = &log[1];
    assert_eq!(
        (s["operation"].as_str(), s["outcome"].as_str()),
        (Some("sign"), Some("ok"))
    );
    assert_eq!(s["error_code"], Value::Null);
    for e in &log {
        assert_common(e, &env);
        assert_eq!(e["job_id"], log[0]["job_id"]);
    }
    let d = &s["document"];
    assert_eq!(d["name"], "pdftex.pdf");
    assert_eq!(d["input_sha256"], sha256_upper(&a));
    assert_eq!(d["output_sha256"], sha256_upper(&out));
    assert_eq!(d["input_size"], std::fs::metadata(&a).unwrap().len());
    assert_eq!(d["output_size"], std::fs::metadata(&out).unwrap().len());
    assert_eq!(d["pages"], 1);

    // A batch of two: one login, one batch_sign entry per document.
    let dir = env.path().join("batch");
    let o = sign(&env, &[&a, &b], &dir, USER_PIN);
    assert!(o.status.success(), "{}", describe(&o));
    let log = entries(&env);
    let new: Vec<&Value> = log[2..].iter().collect();
    let ops: Vec<&str> = new
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["login", "batch_sign", "batch_sign"]);
    assert_eq!(new[2]["document"]["pages"], 2);
    assert_eq!(
        new[2]["document"]["output_sha256"],
        sha256_upper(&dir.join("libreoffice-2pages.pdf"))
    );
    assert!(new.iter().all(|e| e["job_id"] == new[0]["job_id"]));
    assert_ne!(new[0]["job_id"], log[0]["job_id"]);

    // A document that is refused: one failed sign entry with its code and
    // the input identified by hash.
    let bad = env.path().join("not-a.pdf");
    make_not_pdf(&bad);
    let o = sign(&env, &[&bad], &env.path().join("x.pdf"), USER_PIN);
    assert!(!o.status.success());
    let log = entries(&env);
    let f = log.last().unwrap();
    assert_eq!(
        (f["operation"].as_str(), f["outcome"].as_str()),
        (Some("sign"), Some("failed"))
    );
    assert!(
        f["error_code"].as_str().unwrap().starts_with("PDF_"),
        "{f:#}"
    );
    assert_eq!(f["document"]["input_sha256"], sha256_upper(&bad));
    assert_eq!(f["document"]["output_sha256"], Value::Null);
    assert_common(f, &env);
    assert_eq!(log.len(), 7);

    // A wrong PIN: one failed-login entry, nothing else.
    let o = sign(&env, &[&a], &env.path().join("y.pdf"), "99999999");
    assert_refused(&o, "PIN_INCORRECT", 5);
    let log = entries(&env);
    assert_eq!(log.len(), 8);
    let f = log.last().unwrap();
    assert_eq!(
        (f["operation"].as_str(), f["error_code"].as_str()),
        (Some("login_failed"), Some("PIN_INCORRECT"))
    );
    assert_eq!(f["pin_locked"], false);
    assert_common(f, &env);

    // The whole chain verifies.
    let o = run_ok(&mut kyso(&env, &["log", "verify"]));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("intact: 8 entries"),
        "{}",
        describe(&o)
    );
}

#[test]
fn a_locked_token_makes_a_lock_entry_and_no_login() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    let a = copy_fixture("pdftex.pdf", env.path());
    shim.set_flags(&[PinFlag::Locked]);
    let o = sign(&env, &[&a], &env.path().join("out.pdf"), USER_PIN);
    assert_refused(&o, "PIN_LOCKED", 5);
    assert_eq!(shim.login_calls(), 0);
    let log = entries(&env);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["operation"], "login_failed");
    assert_eq!(log[0]["error_code"], "PIN_LOCKED");
    assert_eq!(log[0]["pin_locked"], true);

    // kyso pin change on a locked token: refused before any PIN is asked.
    let o = run_kyso(&env, &["pin", "change", "--pin-stdin"], "a\nb\nb\n");
    assert_refused(&o, "PIN_LOCKED", 5);
    assert!(String::from_utf8_lossy(&o.stderr).contains("PIN state: LOCKED"));
    let log = entries(&env);
    assert_eq!(
        (log[1]["operation"].as_str(), log[1]["pin_locked"].as_bool()),
        (Some("pin_change"), Some(true))
    );
}

/// Every file under `dir`, read as bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn pins_appear_nowhere_in_the_database_or_the_diagnostics() {
    let env = TestEnv::new(Signer::Personal);
    let a = copy_fixture("pdftex.pdf", env.path());
    let wrong = "wrongPIN7319";
    let new = "kysoNewPin4821";
    let o = sign(&env, &[&a], &env.path().join("w.pdf"), wrong);
    assert_refused(&o, "PIN_INCORRECT", 5);
    // Change the PIN to a distinctive one and sign with it, at the highest
    // diagnostics level, so the PIN that logs in is distinctive too.
    let o = run_with_stdin(
        &mut kyso(&env, &["-vv", "pin", "change", "--pin-stdin"]),
        format!("{USER_PIN}\n{new}\n{new}\n").as_bytes(),
    );
    assert!(o.status.success(), "{}", describe(&o));
    let mut cmd = kyso(&env, &["-vv", "sign", "--pin-stdin", "-o"]);
    cmd.arg(env.path().join("ok.pdf")).arg(&a);
    let o = run_with_stdin(&mut cmd, format!("{new}\n").as_bytes());
    assert!(o.status.success(), "{}", describe(&o));
    let ops: Vec<String> = entries(&env)
        .iter()
        .map(|e| e["operation"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ops, ["login_failed", "pin_change", "login", "sign"]);

    let db_files = files_under(db_path(&env).parent().unwrap());
    let diag_files = files_under(&log_dir(&env));
    assert!(db_files
        .iter()
        .any(|(p, _)| p.ends_with("usage-log.sqlite3")));
    assert!(
        !diag_files.is_empty(),
        "no diagnostics file in {}",
        log_dir(&env).display()
    );
    assert!(
        diag_files.iter().any(|(_, b)| contains(b, "PIN changed")),
        "diagnostics carry the run"
    );
    for (path, bytes) in db_files.iter().chain(&diag_files) {
        for pin in [wrong, new] {
            assert!(
                !contains(bytes, pin),
                "PIN {pin} found in {}",
                path.display()
            );
        }
    }
}

#[test]
fn log_verify_names_the_first_of_two_swapped_rows() {
    let env = TestEnv::new(Signer::Personal);
    let a = copy_fixture("pdftex.pdf", env.path());
    for i in 0..3 {
        let o = sign(&env, &[&a], &env.path().join(format!("s{i}.pdf")), USER_PIN);
        assert!(o.status.success(), "{}", describe(&o));
    }
    // Entries 1..6: login, sign, login, sign, login, sign. Swap 2 and 4.
    db(&env)
        .execute_batch(
            "UPDATE entries SET id = -2 WHERE id = 2; UPDATE entries SET id = 2 WHERE id = 4; \
             UPDATE entries SET id = 4 WHERE id = -2;",
        )
        .unwrap();
    let o = run_kyso(&env, &["log", "verify", "--json"], "");
    assert_refused(&o, "LOG_TAMPERED", 10);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["first_bad"]["id"], 2, "{v:#}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("entry #2 "));
}

#[test]
fn log_verify_names_the_entry_after_a_deleted_one() {
    let env = TestEnv::new(Signer::Personal);
    let a = copy_fixture("pdftex.pdf", env.path());
    for i in 0..2 {
        let o = sign(&env, &[&a], &env.path().join(format!("s{i}.pdf")), USER_PIN);
        assert!(o.status.success(), "{}", describe(&o));
    }
    db(&env)
        .execute("DELETE FROM entries WHERE id = 2", [])
        .unwrap();
    let o = run_kyso(&env, &["log", "verify"], "");
    assert_refused(&o, "LOG_TAMPERED", 10);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("entry #2 was deleted (found at entry #3)"),
        "{err}"
    );
    assert!(err.contains("bản ghi #2 đã bị xoá"), "{err}");
}

#[test]
fn log_verify_names_an_edited_field_exactly() {
    let env = TestEnv::new(Signer::Personal);
    let a = copy_fixture("pdftex.pdf", env.path());
    for i in 0..2 {
        let o = sign(&env, &[&a], &env.path().join(format!("s{i}.pdf")), USER_PIN);
        assert!(o.status.success(), "{}", describe(&o));
    }
    db(&env)
        .execute("UPDATE entries SET cert_cn = 'Người Khác' WHERE id = 2", [])
        .unwrap();
    let o = run_kyso(&env, &["log", "verify"], "");
    assert_refused(&o, "LOG_TAMPERED", 10);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("entry #2 was changed after it was written")
    );
    // A report over the tampered log is still made, but flagged.
    let o = run_kyso(
        &env,
        &[
            "report",
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
            "--format",
            "json",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(10), "{}", describe(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["integrity"]["first_bad"]["id"], 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("fails verification"));
}

#[test]
fn crash_mid_batch_every_released_file_has_its_entry() {
    let env = TestEnv::new(Signer::Personal);
    let a = copy_fixture("pdftex.pdf", env.path());
    let inputs: Vec<PathBuf> = (0..80)
        .map(|i| {
            let p = env.path().join(format!("in{i:03}.pdf"));
            std::fs::copy(&a, &p).unwrap();
            p
        })
        .collect();
    let out_dir = env.path().join("out");
    let mut cmd = kyso(&env, &["sign", "--pin-stdin", "--out-dir"]);
    cmd.arg(&out_dir).args(&inputs);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{USER_PIN}").unwrap();
    }
    let mut reported = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        let out = line
            .split(" -> ")
            .nth(1)
            .unwrap()
            .split(" (")
            .next()
            .unwrap()
            .to_owned();
        reported.push(PathBuf::from(out));
        if reported.len() == 12 {
            child.kill().unwrap(); // SIGKILL
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "the batch finished before the kill");
    assert_eq!(reported.len(), 12);

    // Every output that reached the caller: printed, or visible in the
    // output directory (a rename that happened before the kill).
    let released: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pdf"))
        .collect();
    assert!(
        released.len() >= 12 && released.len() < 80,
        "{} outputs",
        released.len()
    );
    for p in &reported {
        assert!(
            released.contains(p),
            "{} was reported but is missing",
            p.display()
        );
    }
    let conn = db(&env);
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    for p in &released {
        let hash = sha256_upper(p);
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM entries WHERE operation = 'batch_sign' AND outcome = 'ok' \
                 AND doc_output_sha256 = ?1 AND doc_name = ?2",
                [hash.as_str(), p.file_name().unwrap().to_str().unwrap()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "{} has no entry", p.display());
    }
    drop(conn);
    let o = run_ok(&mut kyso(&env, &["log", "verify"]));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("intact"),
        "{}",
        describe(&o)
    );
    // The log still takes entries after the crash.
    let o = sign(&env, &[&a], &env.path().join("after.pdf"), USER_PIN);
    assert!(o.status.success(), "{}", describe(&o));
    run_ok(&mut kyso(&env, &["log", "verify"]));
}

fn at(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap()
}

fn seeded(time: &str, op: Operation, outcome: Outcome) -> NewEntry {
    let mut e = NewEntry::now(op, outcome);
    e.time = at(time);
    e
}

fn seeded_sign(time: &str, holder: &str, serial: &str, origin: &str, outcome: Outcome) -> NewEntry {
    let mut e = seeded(time, Operation::Sign, outcome);
    e.cert = Some(CertRef {
        common_name: holder.into(),
        serial: serial.into(),
        issuer: "CN=Kyso Test Issuing CA".into(),
        sha256: serial.repeat(32),
        not_after: Some("2030-01-01T00:00:00Z".into()),
    });
    e.token = Some(TokenRef {
        label: "T".into(),
        serial: "S".into(),
    });
    e.origin = origin.into();
    e.document = Some(DocRef {
        name: "cv.pdf".into(),
        pages: Some(1),
        ..Default::default()
    });
    if outcome == Outcome::Failed {
        e.error_code = Some("PDF_ENCRYPTED".into());
    }
    e
}

/// Seeds a known set of entries straight through the library API.
fn seed(path: &Path) {
    let log = UsageLog::open(path).unwrap();
    let web = "https://vanban.example.gov.vn";
    let mut all = vec![
        seeded_sign(
            "2025-12-31T23:59:59+07:00",
            "Nguyễn Văn An",
            "0A",
            "cli",
            Outcome::Ok,
        ),
        seeded_sign(
            "2026-01-01T00:00:00+07:00",
            "Nguyễn Văn An",
            "0A",
            "cli",
            Outcome::Ok,
        ),
        seeded_sign(
            "2026-01-15T10:00:00+07:00",
            "Nguyễn Văn An",
            "0A",
            web,
            Outcome::Ok,
        ),
        seeded_sign(
            "2026-01-20T10:00:00+07:00",
            "Nguyễn Văn An",
            "0A",
            "cli",
            Outcome::Failed,
        ),
        seeded_sign(
            "2026-03-05T10:00:00+07:00",
            "UBND Tỉnh Thử Nghiệm",
            "0B",
            web,
            Outcome::Ok,
        ),
        seeded_sign(
            "2026-03-05T10:00:01+07:00",
            "UBND Tỉnh Thử Nghiệm",
            "0B",
            web,
            Outcome::Ok,
        ),
        seeded_sign(
            "2026-06-30T23:59:59+07:00",
            "UBND Tỉnh Thử Nghiệm",
            "0B",
            "cli",
            Outcome::Ok,
        ),
        seeded_sign(
            "2026-07-01T00:00:00+07:00",
            "UBND Tỉnh Thử Nghiệm",
            "0B",
            "cli",
            Outcome::Ok,
        ),
    ];
    let mut locked = seeded(
        "2026-04-01T08:00:00+07:00",
        Operation::LoginFailed,
        Outcome::Failed,
    );
    locked.error_code = Some("PIN_LOCKED".into());
    locked.pin_locked = true;
    locked.token = Some(TokenRef {
        label: "T".into(),
        serial: "S".into(),
    });
    all.push(locked);
    let mut wrong = seeded(
        "2026-04-01T07:59:00+07:00",
        Operation::LoginFailed,
        Outcome::Failed,
    );
    wrong.error_code = Some("PIN_INCORRECT".into());
    all.push(wrong);
    all.push(seeded(
        "2026-05-01T08:00:00+07:00",
        Operation::PinChange,
        Outcome::Ok,
    ));
    all.push(seeded(
        "2026-05-02T08:00:00+07:00",
        Operation::ConsentRefused,
        Outcome::Ok,
    ));
    for e in all {
        log.record(e).unwrap();
    }
}

#[test]
fn report_figures_equal_the_seeded_counts_in_all_three_formats() {
    let env = TestEnv::new(Signer::Personal);
    seed(&db_path(&env));
    let report = |format: &str, lang: &str| {
        let o = run_ok(&mut kyso(
            &env,
            &[
                "report",
                "--from",
                "2026-01-01",
                "--to",
                "2026-06-30",
                "--format",
                format,
                "--lang",
                lang,
            ],
        ));
        String::from_utf8(o.stdout).unwrap()
    };

    let json: Value = serde_json::from_str(&report("json", "vi")).unwrap();
    let t = &json["totals"];
    let figures = |k: &str| t[k].as_i64().unwrap();
    assert_eq!(
        [
            figures("signatures"),
            figures("signature_failures"),
            figures("failed_logins"),
            figures("pin_changes"),
            figures("pin_lock_incidents"),
            figures("consents_refused"),
            figures("entries")
        ],
        [5, 1, 2, 1, 1, 1, 10]
    );
    let certs: Vec<(String, i64, i64)> = json["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["common_name"].as_str().unwrap().into(),
                c["signatures"].as_i64().unwrap(),
                c["failures"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        certs,
        [
            ("Nguyễn Văn An".into(), 2, 1),
            ("UBND Tỉnh Thử Nghiệm".into(), 3, 0)
        ]
    );
    let months: Vec<(String, i64)> = json["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["key"].as_str().unwrap().into(),
                m["signatures"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        months,
        [
            ("2026-01".into(), 2),
            ("2026-03".into(), 2),
            ("2026-06".into(), 1)
        ]
    );
    let origins: Vec<(String, i64, i64)> = json["origins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["key"].as_str().unwrap().into(),
                m["signatures"].as_i64().unwrap(),
                m["failures"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        origins,
        [
            ("cli".into(), 2, 1),
            ("https://vanban.example.gov.vn".into(), 3, 0)
        ]
    );
    assert_eq!(json["pin_lock_incidents"].as_array().unwrap().len(), 1);
    assert_eq!(json["integrity"]["first_bad"], Value::Null);

    let csv = report("csv", "vi");
    assert!(csv.starts_with('\u{feff}'));
    let rows: Vec<Vec<String>> = csv
        .trim_start_matches('\u{feff}')
        .lines()
        .map(split_csv)
        .collect();
    assert_eq!(
        rows[0],
        [
            "section",
            "key",
            "name",
            "signatures",
            "failures",
            "count",
            "detail"
        ]
    );
    let find = |section: &str, key: &str| -> Vec<String> {
        rows.iter()
            .find(|r| r[0] == section && r[1] == key)
            .unwrap_or_else(|| panic!("no {section},{key} in\n{csv}"))
            .clone()
    };
    assert_eq!(find("summary", "signatures")[5], "5");
    assert_eq!(find("summary", "signature_failures")[5], "1");
    assert_eq!(find("summary", "pin_lock_incidents")[5], "1");
    assert_eq!(
        find("summary", "failed_logins")[2],
        "Số lần đăng nhập không thành công (sai PIN, thiết bị bị khoá)"
    );
    assert_eq!(find("certificate", &"0B".repeat(32))[3..5], ["3", "0"]);
    assert_eq!(find("month", "2026-01")[3..5], ["2", "1"]);
    assert_eq!(
        find("origin", "https://vanban.example.gov.vn")[3..5],
        ["3", "0"]
    );
    assert_eq!(find("failure", "PIN_LOCKED")[5], "1");
    assert_eq!(find("failure", "PDF_ENCRYPTED")[5], "1");
    assert_eq!(find("integrity", "12")[6], "intact");

    let html = report("html", "vi");
    assert!(html.contains("<html lang=\"vi\">"));
    assert!(html.contains("Báo cáo tình hình sử dụng chứng thư số"));
    assert!(html.contains("Kỳ báo cáo: từ ngày 01/01/2026 đến ngày 30/06/2026"));
    for (key, n) in [
        ("signatures", 5),
        ("signature_failures", 1),
        ("pin_lock_incidents", 1),
        ("entries", 10),
    ] {
        assert!(
            html.contains(&format!("data-key=\"{key}\">{n}</td>")),
            "{key} != {n}"
        );
    }
    assert!(html.contains("<td>UBND Tỉnh Thử Nghiệm</td>"));
    assert!(html.contains("<td>03/2026</td><td class=\"n\">2</td><td class=\"n\">0</td>"));
    let en = report("html", "en");
    assert!(en.contains("<html lang=\"en\">") && en.contains("Documents signed"));

    // The HTML renders in headless Chromium.
    let file = env.path().join("report.html");
    std::fs::write(&file, &html).unwrap();
    let png = env.path().join("report.png");
    screenshot(&file, &png);
    if let Ok(dest) = std::env::var("KYSO_REPORT_SCREENSHOT") {
        std::fs::copy(&png, dest).unwrap();
    }
}

fn screenshot(html: &Path, png: &Path) {
    let profile = html.with_extension("chromium");
    let o = run(Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1000,1500",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display())));
    assert!(o.status.success(), "chromium failed: {}", describe(&o));
    let bytes = std::fs::read(png).expect("chromium wrote the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{} bytes",
        bytes.len()
    );
}

/// Splits one CSV line (RFC 4180 quoting).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().unwrap().push(c),
        }
    }
    out
}

fn status(env: &TestEnv) -> Value {
    let o = run_ok(&mut kyso(env, &["status", "--json"]));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn pin_change_changes_the_pin_the_old_one_fails_and_the_reminder_clears() {
    let env = TestEnv::new(Signer::Personal);
    let a = copy_fixture("pdftex.pdf", env.path());
    let before = status(&env);
    assert_eq!(before["pin_change_due"], true);
    assert_eq!(before["tokens"][0]["last_pin_change"], Value::Null);
    let text = run_ok(&mut kyso(&env, &["status"]));
    assert!(String::from_utf8_lossy(&text.stderr).contains("change the PIN now"));

    let new = "24681357";
    let o = run_kyso(
        &env,
        &["pin", "change", "--pin-stdin"],
        &format!("{USER_PIN}\n{new}\n{new}\n"),
    );
    assert!(o.status.success(), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("PIN state: ok.") && err.contains("Trạng thái mã PIN: bình thường."),
        "{err}"
    );
    assert!(err.contains("The PIN was changed."), "{err}");

    let o = sign(&env, &[&a], &env.path().join("old.pdf"), USER_PIN);
    assert_refused(&o, "PIN_INCORRECT", 5);
    let o = sign(&env, &[&a], &env.path().join("new.pdf"), new);
    assert!(o.status.success(), "{}", describe(&o));

    let after = status(&env);
    assert_eq!(after["pin_change_due"], false);
    let t = &after["tokens"][0];
    assert!(t["last_pin_change"].as_str().is_some());
    assert!(t["pin_change_due_at"].as_str().unwrap() > t["last_pin_change"].as_str().unwrap());
    let ops: Vec<String> = entries(&env)
        .iter()
        .map(|e| e["operation"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ops, ["pin_change", "login_failed", "login", "sign"]);
}

#[test]
fn pin_change_error_codes() {
    let env = TestEnv::new(Signer::Personal);
    let change = |input: &str| run_kyso(&env, &["pin", "change", "--pin-stdin"], input);
    // Checks made before the token is touched: no entry.
    assert_refused(
        &change(&format!("{USER_PIN}\n11112222\n11113333\n")),
        "PIN_MISMATCH",
        5,
    );
    assert_refused(
        &change(&format!("{USER_PIN}\n{USER_PIN}\n{USER_PIN}\n")),
        "PIN_UNCHANGED",
        5,
    );
    assert_refused(&change(&format!("{USER_PIN}\n12\n12\n")), "PIN_LENGTH", 5);
    assert_refused(&change(""), "PIN_CANCELLED", 5);
    let o = run(kyso(&env, &["pin", "change"]).stdin(Stdio::null()));
    assert_refused(&o, "PIN_NO_INPUT", 5);
    assert!(entries(&env).is_empty());
    // A wrong current PIN: refused by the token, one failed entry.
    assert_refused(
        &change("00000000\n11112222\n11112222\n"),
        "PIN_INCORRECT",
        5,
    );
    let log = entries(&env);
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0]["operation"].as_str(), log[0]["error_code"].as_str()),
        (Some("pin_change"), Some("PIN_INCORRECT"))
    );
    assert_eq!(status(&env)["pin_change_due"], true);
    // The old PIN still works.
    let a = copy_fixture("pdftex.pdf", env.path());
    let o = sign(&env, &[&a], &env.path().join("o.pdf"), USER_PIN);
    assert!(o.status.success(), "{}", describe(&o));
}

#[test]
fn status_warns_about_certificates_close_to_expiry() {
    let env = TestEnv::new(Signer::Personal);
    let s = status(&env);
    assert_eq!(s["cert_expiring"], false);
    assert_eq!(s["cert_warning_days"], 30);
    let c = &s["tokens"][0]["certificates"][0];
    assert_eq!(c["common_name"], "Nguyễn Văn An");
    let days = c["days_left"].as_i64().unwrap();
    assert!(days > 30, "{days}");
    // Configure a warning period longer than the certificate has left.
    write_config(&env, &format!("cert_warning_days = {}\n", days + 1));
    let s = status(&env);
    assert_eq!(s["cert_expiring"], true);
    assert_eq!(s["tokens"][0]["certificates"][0]["expired"], false);
    let o = run_ok(&mut kyso(&env, &["status"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("this certificate expires in"));
}

#[test]
fn status_flags_an_expired_certificate() {
    let env = TestEnv::new(Signer::Expired);
    let s = status(&env);
    assert_eq!(s["cert_expiring"], true);
    assert_eq!(s["tokens"][0]["certificates"][0]["expired"], true);
    let o = run_ok(&mut kyso(&env, &["status"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has EXPIRED"));
}

#[test]
fn retention_prunes_old_entries_as_a_logged_event() {
    let env = TestEnv::new(Signer::Personal);
    seed(&db_path(&env));
    write_config(&env, "usage_log_retention_days = 30\n");
    let a = copy_fixture("pdftex.pdf", env.path());
    let o = sign(&env, &[&a], &env.path().join("p.pdf"), USER_PIN);
    assert!(o.status.success(), "{}", describe(&o));
    let log = entries(&env);
    let ops: Vec<&str> = log
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["prune", "login", "sign"]);
    assert_eq!(log[0]["anchor"]["through_id"], 12);
    assert!(log[0]["detail"]
        .as_str()
        .unwrap()
        .starts_with("removed 12 entries (#1 to #12)"));
    let o = run_ok(&mut kyso(&env, &["log", "verify"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("intact: 3 entries (#13 to #15)"));
}

#[test]
fn log_filters_select_entries() {
    let env = TestEnv::new(Signer::Personal);
    seed(&db_path(&env));
    let ids = |args: &[&str]| -> Vec<i64> {
        let mut all = vec!["log", "--json", "--limit", "0"];
        all.extend_from_slice(args);
        let o = run_ok(&mut kyso(&env, &all));
        let v: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
        v.iter().map(|e| e["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(
        ids(&["--since", "2026-06-30", "--until", "2026-06-30"]),
        [7]
    );
    assert_eq!(
        ids(&[
            "--since",
            "2026-03-05T10:00:01+07:00",
            "--until",
            "2026-04-01"
        ]),
        [6, 9, 10]
    );
    assert_eq!(ids(&["--cert", "ubnd", "--origin", "cli"]), [7, 8]);
    assert_eq!(ids(&["--result", "failed"]), [4, 9, 10]);
    assert_eq!(ids(&["--cert", "0a"]), [1, 2, 3, 4]);
    let o = run_ok(&mut kyso(&env, &["log", "--limit", "2"]));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("consent_refused"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the 2 most recent"));
}

#[test]
fn log_and_report_option_errors() {
    let env = TestEnv::new(Signer::Personal);
    assert_refused(
        &run_kyso(&env, &["log", "--since", "yesterday"], ""),
        "OPTION_DATE",
        2,
    );
    assert_refused(
        &run_kyso(&env, &["log", "--until", "2026-13-01"], ""),
        "OPTION_DATE",
        2,
    );
    assert_refused(
        &run_kyso(
            &env,
            &["report", "--from", "2026-06-30", "--to", "2026-01-01"],
            "",
        ),
        "OPTION_PERIOD",
        2,
    );
    let o = run_kyso(
        &env,
        &[
            "report",
            "--from",
            "2026-01-01",
            "--to",
            "2026-06-30",
            "-o",
            "/nonexistent/r.html",
        ],
        "",
    );
    assert_refused(&o, "FILE_ERROR", 7);
    let o = run_kyso(&env, &["log"], "");
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("No entries."));
    let o = run_kyso(&env, &["log", "verify"], "");
    assert!(String::from_utf8_lossy(&o.stderr).contains("The usage log is empty."));
}

#[test]
fn a_log_that_cannot_be_written_stops_signing_before_the_token_is_used() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    let a = copy_fixture("pdftex.pdf", env.path());
    let blocker = env.path().join("blocker");
    std::fs::write(&blocker, b"a file where a directory should be").unwrap();
    write_config(
        &env,
        &format!(
            "usage_log = \"{}\"\n",
            blocker.join("log.sqlite3").display()
        ),
    );
    let out = env.path().join("out.pdf");
    let o = sign(&env, &[&a], &out, USER_PIN);
    assert_refused(&o, "LOG_OPEN", 10);
    assert!(!out.exists());
    assert_eq!(shim.login_calls(), 0);
    assert_eq!(shim.sign_calls(), 0);
}

#[test]
fn a_damaged_or_newer_log_is_refused_with_its_code() {
    let env = TestEnv::new(Signer::Personal);
    let a = copy_fixture("pdftex.pdf", env.path());
    let path = db_path(&env);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let out = env.path().join("out.pdf");
    assert_refused(&sign(&env, &[&a], &out, USER_PIN), "LOG_CORRUPT", 10);
    assert!(!out.exists());
    assert_refused(&run_kyso(&env, &["log"], ""), "LOG_CORRUPT", 10);

    std::fs::remove_file(&path).unwrap();
    drop(UsageLog::open(&path).unwrap());
    db(&env).pragma_update(None, "user_version", 99).unwrap();
    assert_refused(&sign(&env, &[&a], &out, USER_PIN), "LOG_TOO_NEW", 10);
    assert!(!out.exists());
}

#[test]
fn a_log_that_fails_mid_batch_releases_nothing_more() {
    let env = TestEnv::new(Signer::Personal);
    let a = copy_fixture("pdftex.pdf", env.path());
    let inputs: Vec<PathBuf> = (0..2)
        .map(|i| {
            let p = env.path().join(format!("m{i}.pdf"));
            std::fs::copy(&a, &p).unwrap();
            p
        })
        .collect();
    // Make every later insert fail: a trigger that aborts on any sign entry.
    let o = sign(&env, &[&a], &env.path().join("first.pdf"), USER_PIN);
    assert!(o.status.success(), "{}", describe(&o));
    db(&env)
        .execute_batch(
            "CREATE TRIGGER no_sign BEFORE INSERT ON entries WHEN NEW.operation = 'batch_sign' \
             BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        )
        .unwrap();
    let refs: Vec<&Path> = inputs.iter().map(|p| p.as_path()).collect();
    let dir = env.path().join("out");
    let o = sign(&env, &refs, &dir, USER_PIN);
    assert_refused(&o, "LOG_WRITE", 8);
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 of 2 documents were not signed"));
    let released: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "pdf"))
        .collect();
    assert!(released.is_empty(), "{released:?}");
}

#[test]
fn a_login_followed_by_a_refusal_is_still_recorded() {
    // The successful login's entry is committed with the first document's;
    // when the run stops before any document, it is committed on the way out.
    let env = TestEnv::new(Signer::Ec);
    let a = copy_fixture("pdftex.pdf", env.path());
    let mut cmd = kyso(&env, &["sign", "--pss", "--pin-stdin", "-o"]);
    cmd.arg(env.path().join("o.pdf")).arg(&a);
    let o = run_with_stdin(&mut cmd, format!("{USER_PIN}\n").as_bytes());
    assert_refused(&o, "OPTION_PSS_NEEDS_RSA", 2);
    let log = entries(&env);
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(
        (log[0]["operation"].as_str(), log[0]["outcome"].as_str()),
        (Some("login"), Some("ok"))
    );
    run_ok(&mut kyso(&env, &["log", "verify"]));
}

//! The daemon's side of the usage log (issue 4): every token use through
//! `kyso serve` is recorded, and `GET /v1/log` is for the local user only.

mod common;

use serde_json::Value;

use common::*;

const SITE: &str = "https://vanban.example.gov.vn";
const WRONG_PIN: &str = "271828";

fn entries(env: &TestEnv) -> Vec<Value> {
    let out = run_ok(env.kyso().args(["log", "--json", "--limit", "0"]));
    serde_json::from_slice(&out.stdout).expect("kyso log --json prints JSON")
}

fn ops(log: &[Value]) -> Vec<(String, String)> {
    log.iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_token_use_through_the_daemon_is_recorded_before_release() {
    let env = TestEnv::new(Signer::Personal);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    let id = job["job_id"].as_str().unwrap().to_string();
    d.answer_consent(&job, "approve", Some(WRONG_PIN), &[]);
    let again = d
        .api("GET", &format!("/v1/jobs/{id}"), Some(SITE), None, b"")
        .json();
    let page = d.answer_consent(&again, "approve", Some(USER_PIN), &[]);
    assert!(page.text().contains("id=\"done\""), "{}", page.text());

    // The entry exists as soon as the page can see the job done.
    let done = d.wait_job(&id, Some(SITE));
    assert_eq!(done["state"], "done");
    let log = entries(&env);
    assert_eq!(
        ops(&log),
        vec![
            ("login_failed".into(), "failed".into()),
            ("login".into(), "ok".into()),
            ("sign".into(), "ok".into())
        ],
        "{log:#?}"
    );
    for e in &log {
        assert_eq!(e["origin"], SITE);
        assert_eq!(e["job_id"], id.as_str());
        assert_eq!(e["token"]["label"], TOKEN_LABEL);
        assert_eq!(e["cert"]["common_name"], "Nguyễn Văn An");
    }
    assert_eq!(log[0]["error_code"], "PIN_INCORRECT");
    let pdf = d.api(
        "GET",
        done["documents"][0]["result_url"].as_str().unwrap(),
        Some(SITE),
        None,
        b"",
    );
    let doc = &log[2]["document"];
    assert_eq!(doc["name"], "document.pdf");
    assert_eq!(doc["input_sha256"], done["documents"][0]["sha256"]);
    assert_eq!(doc["output_sha256"], done["documents"][0]["signed_sha256"]);
    assert_eq!(doc["output_size"], pdf.body.len());
    assert_eq!(doc["pages"], 1);

    // Refusals and pairings are recorded too.
    let job = d.submit(&input, Some(SITE)).json();
    d.answer_consent(&job, "deny", None, &[]);
    let pairing = d
        .api(
            "POST",
            "/v1/pair",
            Some("https://new.example.vn"),
            Some("application/json"),
            b"{}",
        )
        .json();
    let page = d.page(pairing["consent_url"].as_str().unwrap()).text();
    let t = hidden_field(&page, "t").unwrap();
    d.post_form(
        &format!("/pair/{}", pairing["pair_id"].as_str().unwrap()),
        format!("t={t}&decision=deny").as_bytes(),
    );
    let log = entries(&env);
    let tail: Vec<_> = ops(&log).into_iter().skip(3).collect();
    assert_eq!(
        tail,
        vec![
            ("consent_refused".into(), "ok".into()),
            ("pairing_denied".into(), "ok".into())
        ],
        "{log:#?}"
    );
    assert_eq!(log[4]["origin"], "https://new.example.vn");

    // The chain verifies, and no PIN was ever written.
    run_ok(env.kyso().args(["log", "verify"]));
    let data = env.path().join("home/.local/share/kyso");
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                find_bytes(&bytes, WRONG_PIN.as_bytes()).is_none(),
                "PIN found in {}",
                path.display()
            );
        }
    }
    assert!(!d.log_text().contains(WRONG_PIN));
}

#[test]
fn log_endpoint_is_for_the_local_user_only() {
    let env = TestEnv::new(Signer::Personal);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    let secret_file = env.path().join("home/.local/share/kyso/api-secret");
    let secret = std::fs::read_to_string(&secret_file)
        .expect("the daemon wrote its secret")
        .trim()
        .to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "only the user may read the secret");
    }
    let bearer = format!("Bearer {secret}");
    let get = |h: &[(&str, &str)]| {
        let mut all = vec![("X-Kyso-Request", "1")];
        all.extend_from_slice(h);
        d.request("GET", "/v1/log", &all, b"")
    };
    // A paired origin, even with the secret, is refused.
    let r = get(&[("Origin", SITE), ("Authorization", &bearer)]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.code(), "LOG_FORBIDDEN");
    // A no-cors request from a page carries no Origin but Sec-Fetch-Site.
    let r = get(&[("Sec-Fetch-Site", "cross-site"), ("Authorization", &bearer)]);
    assert_eq!(r.code(), "LOG_FORBIDDEN");
    // A local program without the secret.
    let r = get(&[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "LOG_UNAUTHORIZED");
    let r = get(&[("Authorization", "Bearer 0000")]);
    assert_eq!(r.code(), "LOG_UNAUTHORIZED");
    // The local user's program with the secret.
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    d.answer_consent(&job, "approve", Some(USER_PIN), &[]);
    let r = get(&[("Authorization", &bearer)]);
    assert_eq!(r.status, 200, "{}", r.text());
    let list = r.json()["entries"].as_array().cloned().unwrap();
    assert!(
        list.iter()
            .any(|e| e["operation"] == "sign" && e["origin"] == SITE),
        "{list:#?}"
    );
}

#[test]
fn status_carries_the_pin_and_certificate_reminders() {
    let env = TestEnv::new(Signer::Personal);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    let s = d.api("GET", "/v1/status", Some(SITE), None, b"").json();
    assert_eq!(s["pin_change_due"], true, "never changed through Kyso: {s}");
    assert_eq!(s["cert_expiring"], false, "{s}");
    drop(d);
    // Within 30 days of expiry with a wider warning window.
    let config = env.path().join("kyso.toml");
    std::fs::write(&config, "cert_warning_days = 100000\n").unwrap();
    let d = Daemon::start(
        &env.hsm,
        &["--allow-origin", SITE, "--config", config.to_str().unwrap()],
    );
    let s = d.api("GET", "/v1/status", Some(SITE), None, b"").json();
    assert_eq!(s["cert_expiring"], true, "{s}");
}

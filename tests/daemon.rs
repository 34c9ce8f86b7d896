//! `kyso serve` over real HTTP on loopback, with a SoftHSM2 token (through
//! the PKCS#11 shim where a test needs to pull the token out). See issue 3.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

const SITE: &str = "https://vanban.example.gov.vn";
const EVIL: &str = "https://evil.example";

fn setup(extra: &[&str]) -> (TestEnv, Daemon) {
    let env = TestEnv::new(Signer::Personal);
    let mut args = vec!["--allow-origin", SITE];
    args.extend_from_slice(extra);
    let d = Daemon::start(&env.hsm, &args);
    (env, d)
}

fn assert_error(r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.code(), code, "{}", r.text());
    let j = r.json();
    assert!(
        j["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{j}"
    );
    assert!(
        j["error"]["message_vi"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{j}"
    );
}

fn sign_via_consent(
    env: &TestEnv,
    d: &Daemon,
    origin: Option<&str>,
) -> (serde_json::Value, Vec<u8>) {
    let input = copy_fixture("libreoffice.pdf", env.path());
    let r = d.submit(&input, origin);
    assert_eq!(r.status, 202, "{}", r.text());
    let job = r.json();
    let page = d.answer_consent(&job, "approve", Some(USER_PIN), &[]);
    assert!(page.text().contains("id=\"done\""), "{}", page.text());
    let id = job["job_id"].as_str().unwrap().to_string();
    let done = d.wait_job(&id, origin);
    assert_eq!(done["state"], "done", "{done}");
    let pdf = d.api(
        "GET",
        done["documents"][0]["result_url"].as_str().unwrap(),
        origin,
        None,
        b"",
    );
    assert_eq!(pdf.status, 200, "{}", pdf.text());
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    (done, pdf.body)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn signs_through_the_consent_window_and_the_result_validates() {
    let (env, d) = setup(&[]);
    let (done, pdf) = sign_via_consent(&env, &d, Some(SITE));
    let out = write(env.path(), "api-signed.pdf", &pdf);
    assert_is_prefix(&fixture("libreoffice.pdf"), &out);
    assert_qpdf_ok(&out);
    assert_pdfsig_all_valid(&out, 1);
    assert_pyhanko_all_valid(&out, &env.pki, 1);
    let sha = done["documents"][0]["signed_sha256"].as_str().unwrap();
    assert_eq!(sha, hex_upper_sha256(&pdf));
}

fn hex_upper_sha256(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02X}"))
        .collect()
}

// --- Security rules ------------------------------------------------------------

#[test]
fn foreign_origin_is_refused_without_cors_headers() {
    let (env, d) = setup(&[]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let r = d.submit(&input, Some(EVIL));
    assert_error(&r, 403, "ORIGIN_NOT_PAIRED");
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = d.api("GET", "/v1/status", Some(EVIL), None, b"");
    assert_error(&r, 403, "ORIGIN_NOT_PAIRED");
    let r = d.request(
        "OPTIONS",
        "/v1/sign",
        &[("Origin", EVIL), ("Access-Control-Request-Method", "POST")],
        b"",
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), None);
    // The origin "null" (sandboxed frames, file://) is never trusted.
    let r = d.api("GET", "/v1/status", Some("null"), None, b"");
    assert_error(&r, 403, "ORIGIN_NOT_PAIRED");
}

#[test]
fn dns_rebinding_host_is_refused() {
    let (_env, d) = setup(&[]);
    for host in [
        "evil.example",
        &format!("evil.example:{}", d.port),
        "127.0.0.1:1",
        "localhost",
    ] {
        let r = d.request(
            "GET",
            "/v1/status",
            &[("Host", host), ("X-Kyso-Request", "1")],
            b"",
        );
        assert_error(&r, 403, "HOST_NOT_ALLOWED");
    }
    let r = d.request("GET", "/", &[("Host", "rebind.example")], b"");
    assert_error(&r, 403, "HOST_NOT_ALLOWED");
    let ok = d.request(
        "GET",
        "/v1/status",
        &[
            ("Host", &format!("localhost:{}", d.port)),
            ("X-Kyso-Request", "1"),
        ],
        b"",
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
}

#[test]
fn requests_a_form_could_send_are_refused() {
    let (env, d) = setup(&[]);
    let body = std::fs::read(copy_fixture("libreoffice.pdf", env.path())).unwrap();
    // No custom header: what a cross-site <form> or simple fetch sends.
    let r = d.request(
        "POST",
        "/v1/sign",
        &[("Origin", SITE), ("Content-Type", "application/pdf")],
        &body,
    );
    assert_error(&r, 400, "HEADER_MISSING");
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let r = d.api("POST", "/v1/sign", Some(SITE), Some(ct), &body);
        assert_error(&r, 415, "CONTENT_TYPE_NOT_ALLOWED");
    }
    // A form posted to Kyso's own consent endpoint from another site.
    let r = d.request(
        "POST",
        "/consent/x",
        &[
            ("Origin", SITE),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"t=x&decision=approve",
    );
    assert_error(&r, 403, "ORIGIN_NOT_ALLOWED");
}

#[test]
fn cors_and_private_network_preflight_for_allowed_origins() {
    let (_env, d) = setup(&[]);
    let r = d.request(
        "OPTIONS",
        "/v1/sign",
        &[
            ("Origin", SITE),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "content-type,x-kyso-request",
            ),
            ("Access-Control-Request-Private-Network", "true"),
            ("Access-Control-Request-Local-Network", "true"),
        ],
        b"",
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some(SITE));
    assert_eq!(
        r.header("access-control-allow-private-network"),
        Some("true")
    );
    assert_eq!(r.header("access-control-allow-local-network"), Some("true"));
    assert!(r
        .header("access-control-allow-headers")
        .unwrap()
        .contains("x-kyso-request"));
    let r = d.api("GET", "/v1/status", Some(SITE), None, b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(SITE));
    assert_eq!(r.header("vary"), Some("Origin"));
}

#[test]
fn oversize_bodies_are_refused_with_and_without_content_length() {
    let (_env, d) = setup(&["--max-body-mb", "1"]);
    let big = vec![b'%'; 1024 * 1024 + 1];
    let r = d.api(
        "POST",
        "/v1/sign",
        Some(SITE),
        Some("application/pdf"),
        &big,
    );
    assert_error(&r, 413, "BODY_TOO_LARGE");

    // Chunked, so the limit is enforced while streaming.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    let head = format!(
        "POST /v1/sign HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nOrigin: {SITE}\r\nX-Kyso-Request: 1\r\n\
         Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        d.port
    );
    s.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'%'; 64 * 1024];
    for _ in 0..20 {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
        {
            break;
        }
        if s.write_all(&chunk)
            .and_then(|_| s.write_all(b"\r\n"))
            .is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("BODY_TOO_LARGE"), "{text}");
}

#[test]
fn consent_tokens_are_one_time_bound_and_expire() {
    let (env, d) = setup(&["--consent-ttl-seconds", "2"]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let a = d.submit(&input, Some(SITE)).json();
    let b = d.submit(&input, Some(SITE)).json();
    let url_a = a["consent_url"].as_str().unwrap().to_string();
    let t_a = url_a.split("t=").nth(1).unwrap().to_string();
    let id_b = b["job_id"].as_str().unwrap();
    let post = |id: &str, t: &str| {
        d.post_form(
            &format!("/consent/{id}"),
            format!("t={t}&decision=approve&pin={USER_PIN}").as_bytes(),
        )
    };
    // A's token does not open B.
    let r = post(id_b, &t_a);
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("data-code=\"CONSENT_TOKEN_INVALID\""),
        "{}",
        r.text()
    );
    // A's token works once …
    let id_a = a["job_id"].as_str().unwrap();
    let r = post(id_a, &t_a);
    assert!(r.text().contains("id=\"done\""), "{}", r.text());
    // … and a replay is refused.
    let r = post(id_a, &t_a);
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("data-code=\"CONSENT_TOKEN_INVALID\""),
        "{}",
        r.text()
    );
    // B's own token expires.
    std::thread::sleep(Duration::from_millis(2500));
    let t_b = b["consent_url"]
        .as_str()
        .unwrap()
        .split("t=")
        .nth(1)
        .unwrap()
        .to_string();
    let r = d.request("GET", &format!("/consent/{id_b}?t={t_b}"), &[], b"");
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("data-code=\"CONSENT_TOKEN_EXPIRED\""),
        "{}",
        r.text()
    );
    // The job then ends as cancelled, and the page learns why.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let j = d.wait_job(id_b, Some(SITE));
        if j["state"] == "cancelled" {
            assert_eq!(j["error"]["code"], "CONSENT_EXPIRED");
            break;
        }
        assert!(Instant::now() < deadline, "{j}");
    }
}

#[test]
fn unknown_jobs_and_other_origins_jobs_are_not_found() {
    let (env, d) = setup(&["--allow-origin", "https://other.example.gov.vn"]);
    let r = d.api("GET", "/v1/jobs/0123456789abcdef", Some(SITE), None, b"");
    assert_error(&r, 404, "JOB_NOT_FOUND");
    let r = d.api("DELETE", "/v1/jobs/nope", Some(SITE), None, b"");
    assert_error(&r, 404, "JOB_NOT_FOUND");
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    let id = job["job_id"].as_str().unwrap();
    let r = d.api(
        "GET",
        &format!("/v1/jobs/{id}"),
        Some("https://other.example.gov.vn"),
        None,
        b"",
    );
    assert_error(&r, 404, "JOB_NOT_FOUND");
    let r = d.api(
        "GET",
        &format!("/v1/jobs/{id}/documents/0"),
        Some(SITE),
        None,
        b"",
    );
    assert_error(&r, 409, "JOB_NOT_DONE");
    // The page may cancel while the user has not answered.
    let r = d.api("DELETE", &format!("/v1/jobs/{id}"), Some(SITE), None, b"");
    assert_eq!(r.status, 204);
    assert_eq!(d.wait_job(id, Some(SITE))["state"], "cancelled");
}

#[test]
fn queue_limit_answers_503_with_retry_after() {
    let (env, d) = setup(&["--queue-limit", "2"]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    assert_eq!(d.submit(&input, Some(SITE)).status, 202);
    assert_eq!(d.submit(&input, Some(SITE)).status, 202);
    let r = d.submit(&input, Some(SITE));
    assert_error(&r, 503, "QUEUE_FULL");
    assert_eq!(r.header("retry-after"), Some("5"));
}

#[test]
fn refused_pdfs_get_their_code_over_http() {
    let (env, d) = setup(&[]);
    let enc = env.path().join("enc.pdf");
    make_encrypted(&fixture("libreoffice.pdf"), &enc);
    assert_error(&d.submit(&enc, Some(SITE)), 422, "PDF_ENCRYPTED");
    let notpdf = env.path().join("x.pdf");
    make_not_pdf(&notpdf);
    assert_error(&d.submit(&notpdf, Some(SITE)), 422, "PDF_NOT_PDF");
}

// --- PIN and token lifecycle -------------------------------------------------------

#[test]
fn wrong_pin_then_right_pin_with_no_automatic_retry() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    let page = d.answer_consent(&job, "approve", Some("000000"), &[]);
    let text = page.text();
    assert!(text.contains("data-code=\"PIN_INCORRECT\""), "{text}");
    assert!(text.contains("Kyso không tự thử lại"), "{text}");
    assert!(
        text.contains("name=\"pin\""),
        "the window asks again: {text}"
    );
    assert_eq!(shim.login_calls(), 1, "{:?}", shim.login_log());
    // The job waits again with a fresh link; the page sees it.
    let id = job["job_id"].as_str().unwrap();
    let again = d
        .api("GET", &format!("/v1/jobs/{id}"), Some(SITE), None, b"")
        .json();
    assert_eq!(again["state"], "awaiting_consent");
    assert_ne!(again["consent_url"], job["consent_url"]);
    let page = d.answer_consent(&again, "approve", Some(USER_PIN), &[]);
    assert!(page.text().contains("id=\"done\""), "{}", page.text());
    assert_eq!(
        shim.login_calls(),
        2,
        "one login per user submission: {:?}",
        shim.login_log()
    );
    assert_eq!(d.wait_job(id, Some(SITE))["state"], "done");
}

#[test]
fn locked_token_is_reported_and_never_logged_into() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    shim.set_flags(&[PinFlag::Locked]);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    let page = d.answer_consent(&job, "approve", Some(USER_PIN), &[]);
    assert!(
        page.text().contains("data-code=\"PIN_LOCKED\""),
        "{}",
        page.text()
    );
    assert_eq!(shim.login_calls(), 0);
    let j = d.wait_job(job["job_id"].as_str().unwrap(), Some(SITE));
    assert_eq!(j["error"]["code"], "PIN_LOCKED", "{j}");
}

#[test]
fn cached_login_skips_the_pin_until_ask_every_time() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    sign_via_consent(&env, &d, Some(SITE));
    assert_eq!(shim.login_calls(), 1);
    // Second job: a consent click but no PIN field.
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    let url = job["consent_url"].as_str().unwrap();
    let page = d.page(url).text();
    assert!(!page.contains("name=\"pin\""), "{page}");
    let done = d.answer_consent(&job, "approve", None, &[("ask_every_time", "1")]);
    assert!(done.text().contains("id=\"done\""), "{}", done.text());
    assert_eq!(shim.login_calls(), 1, "no second login while cached");
    // "Ask PIN every time" logged out after that job: the next one asks.
    let job = d.submit(&input, Some(SITE)).json();
    let url = job["consent_url"].as_str().unwrap();
    let page = d.page(url).text();
    assert!(page.contains("name=\"pin\""), "{page}");
    assert!(
        page.contains("name=\"ask_every_time\" value=\"1\" checked"),
        "{page}"
    );
    // The choice survives a restart of the daemon.
    drop(d);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    let job = d.submit(&input, Some(SITE)).json();
    let url = job["consent_url"].as_str().unwrap();
    let page = d.page(url).text();
    assert!(
        page.contains("name=\"ask_every_time\" value=\"1\" checked"),
        "{page}"
    );
}

#[test]
fn token_pulled_mid_job_fails_cleanly_and_is_reopened() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    shim.set_removed(true);
    let page = d.answer_consent(&job, "approve", Some(USER_PIN), &[]);
    assert!(
        page.text().contains("data-code=\"TOKEN_REMOVED\"")
            || page.text().contains("data-code=\"TOKEN_NOT_PRESENT\""),
        "{}",
        page.text()
    );
    let id = job["job_id"].as_str().unwrap();
    let j = d.wait_job(id, Some(SITE));
    assert_eq!(j["state"], "failed", "{j}");
    let r = d.api(
        "GET",
        &format!("/v1/jobs/{id}/documents/0"),
        Some(SITE),
        None,
        b"",
    );
    assert_error(&r, 409, "JOB_NOT_DONE");
    let status = d.api("GET", "/v1/status", Some(SITE), None, b"").json();
    assert_eq!(status["token_present"], false, "{status}");

    // Plug it back in: noticed without a restart.
    shim.set_removed(false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.api("GET", "/v1/status", Some(SITE), None, b"").json()["token_present"] != true {
        assert!(Instant::now() < deadline, "token not noticed again");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, pdf) = sign_via_consent(&env, &d, Some(SITE));
    let out = write(env.path(), "after.pdf", &pdf);
    assert_pdfsig_all_valid(&out, 1);
}

#[test]
fn token_pulled_during_signing_leaves_no_result() {
    // The token answers login, then disappears before C_Sign.
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    sign_via_consent(&env, &d, Some(SITE)); // logged in and cached
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    let url = job["consent_url"].as_str().unwrap().to_string();
    let page = d.page(&url).text();
    let t = hidden_field(&page, "t").unwrap();
    shim.set_removed(true);
    let id = job["job_id"].as_str().unwrap();
    let r = d.post_form(
        &format!("/consent/{id}"),
        format!("t={t}&decision=approve").as_bytes(),
    );
    assert!(r.text().contains("TOKEN_"), "{}", r.text());
    let j = d.wait_job(id, Some(SITE));
    assert_eq!(j["state"], "failed", "{j}");
    assert!(j["documents"][0]["result_url"].is_null());
}

// --- Batches, direct answers, pairing ----------------------------------------------------

#[test]
fn batch_job_one_consent_one_pin() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    let created = d.api(
        "POST",
        "/v1/jobs",
        Some(SITE),
        Some("application/json"),
        r#"{"documents":[{"name":"a.pdf"},{"name":"Quyết định.pdf"}],"options":{"reason":"Phê duyệt"}}"#.as_bytes(),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let urls: Vec<String> = created["upload_urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().into())
        .collect();
    let first = d.api(
        "PUT",
        &urls[0],
        Some(SITE),
        Some("application/pdf"),
        &read(&fixture("libreoffice.pdf")),
    );
    assert_eq!(first.status, 202, "{}", first.text());
    assert!(
        first.json()["consent_url"].is_null(),
        "no consent before the batch is complete"
    );
    let last = d.api(
        "PUT",
        &urls[1],
        Some(SITE),
        Some("application/pdf"),
        &read(&fixture("pdftex.pdf")),
    );
    assert_eq!(last.status, 202, "{}", last.text());
    let job = last.json();
    let page = d.answer_consent(&job, "approve", Some(USER_PIN), &[]);
    assert!(page.text().contains("id=\"done\""), "{}", page.text());
    assert_eq!(shim.login_calls(), 1);
    let done = d.wait_job(job["job_id"].as_str().unwrap(), Some(SITE));
    for (i, original) in ["libreoffice.pdf", "pdftex.pdf"].iter().enumerate() {
        let url = done["documents"][i]["result_url"].as_str().unwrap();
        let pdf = d.api("GET", url, Some(SITE), None, b"");
        let out = write(env.path(), &format!("batch-{i}.pdf"), &pdf.body);
        assert_is_prefix(&fixture(original), &out);
        assert_pyhanko_all_valid(&out, &env.pki, 1);
    }
}

/// The job folders in the daemon's work directory.
fn job_dirs(d: &Daemon) -> Vec<String> {
    let dir = d.home.join(".local/share/kyso/jobs");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("jobs dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Waits up to 5 s for the job folders to be exactly `want`.
fn wait_job_dirs(d: &Daemon, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while job_dirs(d) != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(job_dirs(d), want, "job folders");
}

/// `POST /v1/jobs` from SITE for documents named `names`; the job's id.
fn create_batch(d: &Daemon, names: &[&str]) -> String {
    let documents: Vec<_> = names
        .iter()
        .map(|n| serde_json::json!({ "name": n }))
        .collect();
    let body = serde_json::json!({ "documents": documents }).to_string();
    let created = d.api(
        "POST",
        "/v1/jobs",
        Some(SITE),
        Some("application/json"),
        body.as_bytes(),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    created.json()["job_id"]
        .as_str()
        .expect("job_id")
        .to_owned()
}

fn queue_length(d: &Daemon) -> u64 {
    let status = d.api("GET", "/v1/status", Some(SITE), None, b"");
    status.json()["queue_length"]
        .as_u64()
        .expect("queue_length")
}

#[test]
fn auto_sign_origin_gets_the_pdf_directly_once_logged_in() {
    let (env, d) = setup(&["--auto-sign-origin", SITE]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    // Not logged in yet: the user must give the PIN once.
    let r = d.submit(&input, Some(SITE));
    assert_eq!(r.status, 202, "{}", r.text());
    let first = r.json();
    let first_id = first["job_id"].as_str().unwrap().to_owned();
    d.answer_consent(&first, "approve", Some(USER_PIN), &[]);
    // Now the PDF comes back in the same response.
    let r = d.submit(&input, Some(SITE));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert_eq!(r.header("x-kyso-job"), None, "a direct answer names no job");
    let out = write(env.path(), "direct.pdf", &r.body);
    assert_pyhanko_all_valid(&out, &env.pki, 1);
    // That job's id was never given out, so no signed copy stays behind;
    // the first job, whose id the page has, keeps its result.
    wait_job_dirs(&d, &[first_id.as_str()]);
    let again = d.api(
        "GET",
        &format!("/v1/jobs/{first_id}/documents/0"),
        Some(SITE),
        None,
        b"",
    );
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(queue_length(&d), 0);
}

#[test]
fn auto_sign_batch_of_one_keeps_its_job() {
    let (env, d) = setup(&["--auto-sign-origin", SITE]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let r = d.submit(&input, Some(SITE));
    d.answer_consent(&r.json(), "approve", Some(USER_PIN), &[]);
    // A batch's id is known to the page from the start: even with one
    // document it answers with the finished job, whose result stays.
    let id = create_batch(&d, &["one.pdf"]);
    let put = d.api(
        "PUT",
        &format!("/v1/jobs/{id}/documents/0"),
        Some(SITE),
        Some("application/pdf"),
        &read(&input),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["state"], "done", "{}", put.text());
    let job = d.api("GET", &format!("/v1/jobs/{id}"), Some(SITE), None, b"");
    assert_eq!(job.json()["state"], "done", "{}", job.text());
    let pdf = d.api(
        "GET",
        &format!("/v1/jobs/{id}/documents/0"),
        Some(SITE),
        None,
        b"",
    );
    assert_eq!(pdf.status, 200, "{}", pdf.text());
    let out = write(env.path(), "batch-of-one.pdf", &pdf.body);
    assert_pyhanko_all_valid(&out, &env.pki, 1);
}

/// Sends the headers and the first half of a PDF upload that announces its
/// full length, then closes the connection.
fn abandon_upload(d: &Daemon, method: &str, path: &str, pdf: &[u8]) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", d.port)).expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nOrigin: {SITE}\r\n\
         X-Kyso-Request: 1\r\nContent-Type: application/pdf\r\nContent-Length: {}\r\n\r\n",
        d.port,
        pdf.len()
    );
    s.write_all(head.as_bytes()).expect("headers");
    s.write_all(&pdf[..pdf.len() / 2]).expect("half the body");
    s.flush().expect("flush");
    // Long enough for the daemon to have created the job and its file.
    std::thread::sleep(Duration::from_millis(300));
    drop(s);
}

#[test]
fn an_abandoned_upload_leaves_no_job_and_no_file() {
    let (_env, d) = setup(&[]);
    let pdf = read(&fixture("pdftex.pdf"));
    abandon_upload(&d, "POST", "/v1/sign", &pdf);
    wait_job_dirs(&d, &[]);
    assert_eq!(queue_length(&d), 0, "the abandoned job still counts");

    // In a batch the job stays (its id is the page's), the document does not.
    let id = create_batch(&d, &["a.pdf"]);
    let path = format!("/v1/jobs/{id}/documents/0");
    abandon_upload(&d, "PUT", &path, &pdf);
    let dir = d.home.join(".local/share/kyso/jobs").join(&id);
    let deadline = Instant::now() + Duration::from_secs(5);
    let files = || std::fs::read_dir(&dir).map_or(0, |e| e.count());
    while files() != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(files(), 0, "a part file is left in {}", dir.display());
    let job = d.api("GET", &format!("/v1/jobs/{id}"), Some(SITE), None, b"");
    assert_eq!(
        job.json()["documents"][0]["uploaded"],
        false,
        "{}",
        job.text()
    );
    // The page can still upload it.
    let put = d.api("PUT", &path, Some(SITE), Some("application/pdf"), &pdf);
    assert_eq!(put.status, 202, "{}", put.text());
}

#[test]
fn refusing_in_the_window_cancels_the_job() {
    let (env, d) = setup(&[]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    let page = d.answer_consent(&job, "deny", None, &[]);
    assert!(page.text().contains("Đã từ chối"), "{}", page.text());
    let j = d.wait_job(job["job_id"].as_str().unwrap(), Some(SITE));
    assert_eq!(j["state"], "cancelled");
    assert_eq!(j["error"]["code"], "CONSENT_REFUSED");
}

#[test]
fn pairing_persists_and_can_be_revoked() {
    let env = TestEnv::new(Signer::Personal);
    let d = Daemon::start(&env.hsm, &[]);
    let site = "https://egov.example.vn";
    assert_error(
        &d.api("GET", "/v1/status", Some(site), None, b""),
        403,
        "ORIGIN_NOT_PAIRED",
    );
    let hello = d.api("GET", "/v1/hello", Some(site), None, b"");
    assert_eq!(hello.json()["paired"], false);
    assert_eq!(hello.header("access-control-allow-origin"), Some(site));

    let r = d.api(
        "POST",
        "/v1/pair",
        Some(site),
        Some("application/json"),
        b"{}",
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(site));
    let pairing = r.json();
    let url = pairing["consent_url"].as_str().unwrap();
    let page = d.page(url).text();
    assert!(
        page.contains(site) && page.contains("muốn dùng thiết bị ký số của bạn"),
        "{page}"
    );
    let t = hidden_field(&page, "t").unwrap();
    let id = pairing["pair_id"].as_str().unwrap();
    let done = d.post_form(
        &format!("/pair/{id}"),
        format!("t={t}&decision=approve").as_bytes(),
    );
    assert!(done.text().contains("id=\"done\""), "{}", done.text());
    let st = d
        .api("GET", &format!("/v1/pair/{id}"), Some(site), None, b"")
        .json();
    assert_eq!(st["state"], "approved");
    assert_eq!(
        d.api("GET", "/v1/status", Some(site), None, b"").status,
        200
    );

    // Listed by the CLI, and revoked by it while the daemon runs.
    let list = run_ok(env.kyso().args(["origins", "list", "--json"]));
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed[0]["origin"], site, "{listed}");
    run_ok(env.kyso().args(["origins", "revoke", site]));
    assert_error(
        &d.api("GET", "/v1/status", Some(site), None, b""),
        403,
        "ORIGIN_NOT_PAIRED",
    );
    let out = run(env.kyso().args(["origins", "revoke", site]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[ORIGIN_NOT_PAIRED]"));
}

#[test]
fn pairing_denied_is_reported_to_the_page() {
    let (_env, d) = setup(&[]);
    let r = d
        .api(
            "POST",
            "/v1/pair",
            Some(EVIL),
            Some("application/json"),
            b"{}",
        )
        .json();
    let url = r["consent_url"].as_str().unwrap();
    let page = d.page(url).text();
    let t = hidden_field(&page, "t").unwrap();
    let id = r["pair_id"].as_str().unwrap();
    d.post_form(
        &format!("/pair/{id}"),
        format!("t={t}&decision=deny").as_bytes(),
    );
    let st = d
        .api("GET", &format!("/v1/pair/{id}"), Some(EVIL), None, b"")
        .json();
    assert_eq!(st["state"], "denied");
    assert_error(
        &d.api("GET", "/v1/status", Some(EVIL), None, b""),
        403,
        "ORIGIN_NOT_PAIRED",
    );
}

#[test]
fn consent_window_cannot_be_framed_and_has_a_strict_csp() {
    let (env, d) = setup(&[]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    let url = job["consent_url"].as_str().unwrap();
    let page = d.page(url);
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let text = page.text();
    // Everything the user must see before approving.
    assert!(text.contains(SITE), "origin");
    assert!(text.contains("document.pdf"), "name");
    assert!(
        text.contains(job["documents"][0]["sha256"].as_str().unwrap()),
        "fingerprint"
    );
    assert!(text.contains("Nguyễn Văn An"), "certificate");
    assert!(text.contains("hết hạn"), "expiry");
    let en = d
        .request(
            "GET",
            &format!("{}&lang=en", url.strip_prefix(&d.base()).unwrap()),
            &[],
            b"",
        )
        .text();
    assert!(en.contains("wants to sign with your signing token"), "{en}");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let env = TestEnv::new(Signer::Personal);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = run(env.kyso().args(["serve", "--port", &port]));
    assert_eq!(out.status.code(), Some(9), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[SERVE_PORT_IN_USE]"));
}

#[test]
fn serve_demo_gives_a_newcomer_the_whole_flow() {
    let dir = temp_dir();
    let home = dir.path().join("home");
    let port = free_port();
    let mut cmd = std::process::Command::new(kyso_bin());
    cmd.envs(home_env(&home))
        .env_remove("SOFTHSM2_CONF")
        .env_remove("KYSO_PKCS11_MODULE");
    cmd.args(["--demo", "serve", "--port", &port.to_string()]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _daemon = Kill(cmd.spawn().expect("spawn"));
    let host = [("Host".to_string(), format!("127.0.0.1:{port}"))];
    let deadline = Instant::now() + Duration::from_secs(30);
    let index = loop {
        if let Ok(r) = raw_request(port, "GET", "/", &host, b"") {
            break r;
        }
        assert!(Instant::now() < deadline, "kyso serve --demo did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = index.text();
    assert!(
        text.contains("KYSO DEMO"),
        "the demo token was created and is shown: {text}"
    );
    let demo_port = port + 1;
    assert!(
        text.contains(&format!("http://127.0.0.1:{demo_port}/")),
        "link to the demo site: {text}"
    );
    let site_host = [("Host".to_string(), format!("127.0.0.1:{demo_port}"))];
    let page = raw_request(demo_port, "GET", "/", &site_host, b"").expect("demo site");
    assert!(
        page.text().contains("Phần mềm quản lý văn bản"),
        "{}",
        page.text()
    );
    let sdk = raw_request(demo_port, "GET", "/kyso.js", &site_host, b"").expect("sdk");
    assert!(sdk.text().contains("export function createClient"));
}

#[test]
fn consent_window_shows_the_pin_state_from_the_token_flags() {
    let (env, shim) = TestEnv::with_shim(Signer::Personal);
    shim.set_flags(&[PinFlag::FinalTry]);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    let url = job["consent_url"].as_str().unwrap();
    let page = d.page(url).text();
    assert!(
        page.contains("<strong id=\"pin-state\">còn một lần thử</strong>"),
        "{page}"
    );
    assert!(page.contains("sẽ khoá thiết bị ký"), "{page}");
    shim.set_flags(&[]);
    let page = d.page(url).text();
    assert!(
        page.contains("<strong id=\"pin-state\">bình thường</strong>"),
        "{page}"
    );
}

#[test]
fn tls_on_loopback_with_a_generated_certificate() {
    let env = TestEnv::new(Signer::Personal);
    let d = Daemon::start_tls(&env.hsm, &["--allow-origin", SITE]);
    let cert = d.home.join(".local/share/kyso/tls/cert.pem");
    let out = run(std::process::Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&cert)
        .args([
            "-H",
            "X-Kyso-Request: 1",
            "-H",
            &format!("Origin: {SITE}"),
            &format!("https://127.0.0.1:{}/v1/hello", d.port),
        ]));
    assert!(out.status.success(), "{}", describe(&out));
    let hello: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(hello["service"], "kyso");
    assert_eq!(hello["paired"], true);
    // Plain HTTP to the TLS port gets nothing useful.
    let plain = raw_request(
        d.port,
        "GET",
        "/v1/hello",
        &[("Host".into(), format!("127.0.0.1:{}", d.port))],
        b"",
    );
    assert!(plain.map(|r| r.status != 200).unwrap_or(true));
}

#[test]
fn open_browser_opens_the_consent_window_for_local_programs() {
    let env = TestEnv::new(Signer::Personal);
    // A stand-in xdg-open records the URL it was asked to open.
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let record = env.path().join("opened.txt");
    let script = bin.join("xdg-open");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\n", record.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let d = Daemon::start_with_env(&env.hsm, &["--open-browser"], &[("PATH", &path)]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, None).json();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !record.exists() {
        assert!(Instant::now() < deadline, "xdg-open was not called");
        std::thread::sleep(Duration::from_millis(50));
    }
    let opened = std::fs::read_to_string(&record).unwrap();
    assert_eq!(opened.trim(), job["consent_url"].as_str().unwrap());
}

#[test]
fn expired_certificate_is_refused_in_the_window() {
    let env = TestEnv::new(Signer::Expired);
    let d = Daemon::start(&env.hsm, &["--allow-origin", SITE]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    let page = d.answer_consent(&job, "approve", Some(USER_PIN), &[]);
    assert!(
        page.text().contains("data-code=\"CERT_EXPIRED\""),
        "{}",
        page.text()
    );
    let j = d.wait_job(job["job_id"].as_str().unwrap(), Some(SITE));
    assert_eq!(j["error"]["code"], "CERT_EXPIRED", "{j}");
}

#[test]
fn visible_signature_options_over_the_api() {
    let (env, d) = setup(&[]);
    let input = copy_fixture("libreoffice.pdf", env.path());
    let options = serde_json::json!({
        "reason": "Ban hành",
        "appearance": {"profile": "appendix", "doc_number": "123/QĐ-UBND", "organization": "UBND Tỉnh Thử Nghiệm"}
    });
    let encoded: String = url_encode(&options.to_string());
    let body = std::fs::read(&input).unwrap();
    let r = d.request(
        "POST",
        "/v1/sign",
        &[
            ("Origin", SITE),
            ("X-Kyso-Request", "1"),
            ("Content-Type", "application/pdf"),
            ("X-Kyso-Options", &encoded),
        ],
        &body,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let job = r.json();
    let page = d.page(job["consent_url"].as_str().unwrap()).text();
    assert!(
        page.contains("<strong>appendix</strong>"),
        "the window says the signature is visible: {page}"
    );
    let done = d.answer_consent(&job, "approve", Some(USER_PIN), &[]);
    assert!(done.text().contains("id=\"done\""), "{}", done.text());
    let j = d.wait_job(job["job_id"].as_str().unwrap(), Some(SITE));
    let pdf = d.api(
        "GET",
        j["documents"][0]["result_url"].as_str().unwrap(),
        Some(SITE),
        None,
        b"",
    );
    let out = write(env.path(), "visible.pdf", &pdf.body);
    assert_pyhanko_all_valid(&out, &env.pki, 1);
    let text = run_ok(std::process::Command::new("pdftotext").arg(&out).arg("-"));
    assert!(String::from_utf8_lossy(&text.stdout).contains("123/QĐ-UBND"));

    // A page may not name files on this computer.
    let bad = serde_json::json!({"appearance": {"profile": "approved", "signature_image": {"path": "/etc/passwd"}}});
    let r = d.request(
        "POST",
        "/v1/sign",
        &[
            ("Origin", SITE),
            ("X-Kyso-Request", "1"),
            ("Content-Type", "application/pdf"),
            ("X-Kyso-Options", &url_encode(&bad.to_string())),
        ],
        &body,
    );
    assert_error(&r, 400, "APPEARANCE_LOCAL_FILE");
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn sigterm_stops_the_daemon_cleanly() {
    let (env, d) = setup(&[]);
    // With a logged-in session, so shutdown logs out and finalises the module.
    let input = copy_fixture("libreoffice.pdf", env.path());
    let job = d.submit(&input, Some(SITE)).json();
    d.answer_consent(&job, "approve", Some(USER_PIN), &[]);
    let log = d.log.clone();
    let status = d.terminate();
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

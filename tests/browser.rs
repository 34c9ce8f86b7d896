//! The browser end to end: Debian's chromium driven by playwright-core
//! (tests/browser/e2e.mjs) against a real `kyso serve` with a SoftHSM2 token.
//! The signed PDF the page received is then checked by the validators.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn npm_install(dir: &Path) {
    if dir.join("node_modules/playwright-core").exists() {
        return;
    }
    run_ok(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(dir),
    );
}

#[test]
fn demo_page_pairs_signs_and_an_unpaired_origin_is_refused() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("tests/browser");
    npm_install(&browser_dir);

    let env = TestEnv::new(Signer::Personal);
    // No allow-list: origin A must be paired by the user in Kyso's window.
    let d = Daemon::start(&env.hsm, &[]);
    let pdf = copy_fixture("libreoffice.pdf", env.path());
    let out = env.path().join("from-browser.pdf");
    // KYSO_SCREENSHOTS=docs/screenshots refreshes the pictures in the docs.
    let shots = match std::env::var("KYSO_SCREENSHOTS") {
        Ok(dir) => root.join(dir),
        Err(_) => env.path().join("shots"),
    };
    std::fs::create_dir_all(&shots).expect("mkdir");

    let mut node = Command::new("node");
    node.arg(browser_dir.join("e2e.mjs"))
        .current_dir(&browser_dir)
        .env("KYSO_BASE", d.base())
        .env("DOCSYS_DIR", root.join("examples/docsys"))
        .env("SDK_PATH", root.join("sdk/kyso.js"))
        .env("PDF_PATH", &pdf)
        .env("PIN", USER_PIN)
        .env("OUT_PATH", &out)
        .env("SCREENSHOT_DIR", &shots)
        .env("PORT_A", free_port().to_string())
        .env("PORT_B", free_port().to_string())
        .env("PORT_C", free_port().to_string());
    let result = run(&mut node);
    assert!(
        result.status.success(),
        "browser run failed:\n{}\n--- daemon ---\n{}",
        describe(&result),
        d.log_text()
    );

    assert_is_prefix(&pdf, &out);
    assert_qpdf_ok(&out);
    assert_pdfsig_all_valid(&out, 1);
    assert_pyhanko_all_valid(&out, &env.pki, 1);
    for shot in ["pairing.png", "consent.png"] {
        let len = std::fs::metadata(shots.join(shot))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 1000, "{shot} missing");
    }
    // The pairing persisted: `kyso origins list` shows origin A only.
    let list = run_ok(env.kyso().args(["origins", "list", "--json"]));
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
}

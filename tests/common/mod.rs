//! Shared harness for Kyso's integration tests: include with `mod common;`.
//!
//! Everything a test makes lives in its own temp dir, so tests can run in
//! parallel threads and processes. Read-only artefacts (the PKI, the compiled
//! PKCS#11 shim) are built once under `target/tmp` and shared.
//!
//! Tools used: openssl, softhsm2-util, pkcs11-tool, flock, cc + p11-kit
//! headers, qpdf, pdfsig, pyhanko (and python3 with pyhanko importable).
#![allow(dead_code, unused_imports)]

mod cache;
mod daemon;
mod fixtures;
mod pdfgen;
mod pki;
mod process;
mod shim;
mod softhsm;
mod validate;

use std::path::Path;

pub use daemon::*;
pub use fixtures::*;
pub use pdfgen::{find as find_bytes, rfind as rfind_bytes, HYBRID_TITLE};
pub use pki::{KeyAndCert, Pki, Signer};
pub use process::{
    assert_refused, describe, home_env, kyso_bin, kyso_cmd, run, run_ok, run_with_stdin,
};
pub use shim::{build_shim, PinFlag, ShimState};
pub use softhsm::{
    SoftHsm, INTERMEDIATE_ID, INTERMEDIATE_LABEL, SIGNER_ID, SOFTHSM_MODULE, SO_PIN, TOKEN_LABEL,
    USER_PIN,
};
pub use validate::*;

/// A fresh temp dir (deleted on drop) named after the harness.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("kyso-test-")
        .tempdir()
        .expect("create test temp dir")
}

/// The usual setup: a temp dir, the PKI copied into it, and a SoftHSM token
/// holding one signer (see [`SoftHsm::with_signer`]).
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub pki: Pki,
    pub hsm: SoftHsm,
}

impl TestEnv {
    pub fn new(which: Signer) -> TestEnv {
        let dir = temp_dir();
        let pki = Pki::new(dir.path());
        let hsm = SoftHsm::with_signer(dir.path(), &pki, which);
        TestEnv { dir, pki, hsm }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// As [`TestEnv::new`], with the token reached through the PKCS#11 shim.
    pub fn with_shim(which: Signer) -> (TestEnv, ShimState) {
        let mut env = TestEnv::new(which);
        let state = ShimState::new(env.path());
        env.hsm.use_shim(&state);
        (env, state)
    }

    /// A command for the `kyso` binary in this environment.
    pub fn kyso(&self) -> std::process::Command {
        kyso_cmd(&self.hsm)
    }

    /// `kyso sign INPUT -o OUTPUT --pin-stdin EXTRA…` with `pin` typed in.
    pub fn sign(
        &self,
        input: &Path,
        output: &Path,
        pin: &str,
        extra: &[&std::ffi::OsStr],
    ) -> std::process::Output {
        let mut cmd = self.kyso();
        cmd.arg("sign")
            .arg(input)
            .arg("-o")
            .arg(output)
            .arg("--pin-stdin")
            .args(extra);
        run_with_stdin(&mut cmd, format!("{pin}\n").as_bytes())
    }

    /// [`TestEnv::sign`] with the user PIN, which must succeed.
    pub fn sign_ok(&self, input: &Path, output: &Path, extra: &[&std::ffi::OsStr]) {
        let out = self.sign(input, output, USER_PIN, extra);
        assert!(
            out.status.success(),
            "kyso sign failed:\n{}",
            describe(&out)
        );
    }
}

//! A private SoftHSM2 instance (own config and token directory) per test.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::pki::{Pki, Signer};
use super::process::run_ok;
use super::shim::{build_shim, ShimState};

pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Token label used by [`SoftHsm::with_signer`].
pub const TOKEN_LABEL: &str = "Kyso Test Token";
pub const SO_PIN: &str = "87654321";
pub const USER_PIN: &str = "123456";
/// CKA_ID of the signing key and its certificate in [`SoftHsm::with_signer`].
pub const SIGNER_ID: &str = "01";
/// CKA_ID and label of the issuing CA certificate in [`SoftHsm::with_signer`].
pub const INTERMEDIATE_ID: &str = "ca01";
pub const INTERMEDIATE_LABEL: &str = "Kyso Test Issuing CA";

#[derive(Clone, Debug)]
pub struct SoftHsm {
    base: PathBuf,
    conf: PathBuf,
    module: PathBuf,
    shim_state: Option<PathBuf>,
}

impl SoftHsm {
    /// Creates `dir/softhsm/{softhsm2.conf,tokens}`; `dir` is also where
    /// [`super::kyso_cmd`] puts HOME.
    pub fn new(dir: &Path) -> SoftHsm {
        let root = dir.join("softhsm");
        let tokens = root.join("tokens");
        std::fs::create_dir_all(&tokens)
            .unwrap_or_else(|e| panic!("mkdir {}: {e}", tokens.display()));
        let conf = root.join("softhsm2.conf");
        let text = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        );
        std::fs::write(&conf, text).unwrap_or_else(|e| panic!("write {}: {e}", conf.display()));
        SoftHsm {
            base: dir.to_path_buf(),
            conf,
            module: PathBuf::from(SOFTHSM_MODULE),
            shim_state: None,
        }
    }

    /// One token [`TOKEN_LABEL`] (PINs [`SO_PIN`]/[`USER_PIN`]) holding the
    /// key and certificate of `which` (id [`SIGNER_ID`], label
    /// `which.name()`) and the issuing CA certificate.
    pub fn with_signer(dir: &Path, pki: &Pki, which: Signer) -> SoftHsm {
        let hsm = SoftHsm::new(dir);
        hsm.add_token(TOKEN_LABEL, SO_PIN, USER_PIN);
        let signer = pki.signer(which);
        hsm.import_key_and_cert(
            TOKEN_LABEL,
            USER_PIN,
            &signer.key_der,
            &signer.cert_der,
            SIGNER_ID,
            which.name(),
        );
        hsm.import_cert_only(
            TOKEN_LABEL,
            USER_PIN,
            &pki.intermediate.cert_der,
            INTERMEDIATE_ID,
            INTERMEDIATE_LABEL,
        );
        hsm
    }

    /// The test directory this instance was created in.
    pub fn base_dir(&self) -> &Path {
        &self.base
    }

    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// SoftHSM itself, or the shim after [`SoftHsm::use_shim`].
    pub fn module_path(&self) -> &Path {
        &self.module
    }

    /// Environment a child process needs to see this instance (and the
    /// shim's state directory when the shim is in use).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![("SOFTHSM2_CONF".to_string(), self.conf.display().to_string())];
        if let Some(state) = &self.shim_state {
            env.push((
                "KYSO_SHIM_STATE_DIR".to_string(),
                state.display().to_string(),
            ));
            env.push(("KYSO_SHIM_TARGET".to_string(), SOFTHSM_MODULE.to_string()));
        }
        env
    }

    /// Routes every later PKCS#11 use (module_path, env, kyso_cmd,
    /// pkcs11_tool) through the test shim steered by `state`.
    pub fn use_shim(&mut self, state: &ShimState) {
        self.module = build_shim().to_path_buf();
        self.shim_state = Some(state.dir().to_path_buf());
    }

    /// `pkcs11-tool --module <module_path>` with this instance's environment.
    pub fn pkcs11_tool(&self) -> Command {
        let mut cmd = Command::new("pkcs11-tool");
        cmd.envs(self.env()).arg("--module").arg(&self.module);
        cmd
    }

    fn softhsm_util(&self) -> Command {
        let mut cmd = Command::new("softhsm2-util");
        cmd.env("SOFTHSM2_CONF", &self.conf);
        cmd
    }

    /// Initialises a new token in the first free slot. Serialised across all
    /// test processes with `flock`, as concurrent C_InitToken calls can crash
    /// SoftHSM.
    pub fn add_token(&self, label: &str, so_pin: &str, user_pin: &str) {
        let mut cmd = Command::new("flock");
        cmd.env("SOFTHSM2_CONF", &self.conf)
            .arg(init_lock_path())
            .args(["softhsm2-util", "--init-token", "--free", "--label", label])
            .args(["--so-pin", so_pin, "--pin", user_pin]);
        run_ok(&mut cmd);
    }

    /// Imports a private key (PKCS#8, DER or PEM) and its certificate (DER)
    /// under the same CKA_ID `id_hex` and CKA_LABEL `label`.
    pub fn import_key_and_cert(
        &self,
        token_label: &str,
        user_pin: &str,
        key_pkcs8: &Path,
        cert_der: &Path,
        id_hex: &str,
        label: &str,
    ) {
        let key_pem = self.pkcs8_pem(key_pkcs8);
        let mut cmd = self.softhsm_util();
        cmd.arg("--import").arg(&key_pem).args([
            "--token",
            token_label,
            "--label",
            label,
            "--id",
            id_hex,
            "--pin",
            user_pin,
        ]);
        run_ok(&mut cmd);
        self.import_cert_only(token_label, user_pin, cert_der, id_hex, label);
    }

    /// Writes a certificate object (DER) to the token.
    pub fn import_cert_only(
        &self,
        token_label: &str,
        user_pin: &str,
        cert_der: &Path,
        id_hex: &str,
        label: &str,
    ) {
        let mut cmd = self.raw_pkcs11_tool();
        cmd.args(["--token-label", token_label, "--login", "--pin", user_pin])
            .arg("--write-object")
            .arg(cert_der)
            .args(["--type", "cert", "--id", id_hex, "--label", label]);
        run_ok(&mut cmd);
    }

    /// pkcs11-tool on SoftHSM itself, bypassing the shim, for setup.
    fn raw_pkcs11_tool(&self) -> Command {
        let mut cmd = Command::new("pkcs11-tool");
        cmd.env("SOFTHSM2_CONF", &self.conf)
            .args(["--module", SOFTHSM_MODULE]);
        cmd
    }

    /// softhsm2-util only reads PEM; converts a DER key next to the config.
    fn pkcs8_pem(&self, key: &Path) -> PathBuf {
        let bytes = std::fs::read(key).unwrap_or_else(|e| panic!("read {}: {e}", key.display()));
        if bytes.starts_with(b"-----BEGIN") {
            return key.to_path_buf();
        }
        let scratch = tempfile::Builder::new()
            .suffix(".pem")
            .tempfile_in(self.conf.parent().expect("conf has a parent"))
            .expect("create scratch PEM file");
        let pem = scratch
            .into_temp_path()
            .keep()
            .expect("keep scratch PEM file");
        let mut cmd = Command::new("openssl");
        cmd.args(["pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in"])
            .arg(key)
            .arg("-out")
            .arg(&pem);
        run_ok(&mut cmd);
        pem
    }
}

fn init_lock_path() -> PathBuf {
    std::env::temp_dir().join("kyso-test-softhsm-init.lock")
}

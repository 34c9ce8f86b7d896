//! The `kyso_test_p11` PKCS#11 shim (tests/shim/kyso_test_p11.c): SoftHSM
//! with steerable PIN flags, token removal and a log of C_Login calls.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::cache::{build_once, cache_root, content_hash};
use super::process::run_ok;

const SHIM_SOURCE: &str = include_str!("../shim/kyso_test_p11.c");

/// Compiles the shim once (per source version, shared across test
/// processes) and returns the path of the shared library.
pub fn build_shim() -> &'static Path {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    SO.get_or_init(|| {
        let hash = content_hash(&[SHIM_SOURCE.as_bytes()]);
        let so = cache_root().join(format!("libkyso_test_p11-{hash}.so"));
        build_once(&so, compile_shim);
        so
    })
}

fn compile_shim(out: &Path) {
    let source = out.with_extension("c");
    // Compile the exact text whose hash names the library.
    std::fs::write(&source, SHIM_SOURCE).expect("write shim source copy");
    let mut cmd = Command::new("cc");
    cmd.args([
        "-shared",
        "-fPIC",
        "-fvisibility=hidden",
        "-O2",
        "-Wall",
        "-Wextra",
    ])
    .arg("-I/usr/include/p11-kit-1")
    .arg("-o")
    .arg(out)
    .arg(&source)
    .args(["-ldl", "-lpthread"]);
    run_ok(&mut cmd);
}

/// PIN status flags the shim can add to CK_TOKEN_INFO.flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinFlag {
    /// CKF_USER_PIN_COUNT_LOW
    CountLow,
    /// CKF_USER_PIN_FINAL_TRY
    FinalTry,
    /// CKF_USER_PIN_LOCKED; also makes C_Login fail with CKR_PIN_LOCKED.
    Locked,
}

impl PinFlag {
    fn word(self) -> &'static str {
        match self {
            PinFlag::CountLow => "count_low",
            PinFlag::FinalTry => "final_try",
            PinFlag::Locked => "locked",
        }
    }
}

/// The state directory steering the shim (`KYSO_SHIM_STATE_DIR`). The shim
/// re-reads it on every call, so changes apply to running processes too.
#[derive(Clone, Debug)]
pub struct ShimState {
    dir: PathBuf,
}

impl ShimState {
    /// Creates `dir/shim-state`.
    pub fn new(dir: &Path) -> ShimState {
        let dir = dir.join("shim-state");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        ShimState { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Replaces the extra PIN flags (an empty slice clears them).
    pub fn set_flags(&self, flags: &[PinFlag]) {
        let words: Vec<&str> = flags.iter().map(|f| f.word()).collect();
        self.write_atomically("flags", &words.join(" "));
    }

    /// Simulates pulling the token out (`true`) or putting it back.
    pub fn set_removed(&self, removed: bool) {
        let path = self.dir.join("removed");
        if removed {
            self.write_atomically("removed", "");
        } else if path.exists() {
            std::fs::remove_file(&path).unwrap_or_else(|e| panic!("rm {}: {e}", path.display()));
        }
    }

    /// Number of C_Login calls so far, including refused ones.
    pub fn login_calls(&self) -> usize {
        self.login_log().len()
    }

    /// One entry per C_Login call: `user_type=<n> pin=<pin>` (bytes outside
    /// printable ASCII, and backslash, as `\xNN`; `<null>` for a NULL PIN).
    pub fn login_log(&self) -> Vec<String> {
        self.read_lines("login_calls")
    }

    /// The PINs passed to C_Login, in order (escaped as in `login_log`).
    pub fn login_pins(&self) -> Vec<String> {
        self.login_log()
            .iter()
            .map(|line| {
                let (_, pin) = line
                    .split_once(" pin=")
                    .unwrap_or_else(|| panic!("malformed login log line {line:?}"));
                pin.to_string()
            })
            .collect()
    }

    /// Number of C_Sign calls so far (log lines `data_len=<n>`).
    pub fn sign_calls(&self) -> usize {
        self.read_lines("sign_calls").len()
    }

    /// Forgets logged C_Login and C_Sign calls.
    pub fn clear_logs(&self) {
        for name in ["login_calls", "sign_calls"] {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
    }

    /// Environment for a process that loads the shim directly (not needed
    /// with [`super::SoftHsm::use_shim`], whose `env()` includes it).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![(
            "KYSO_SHIM_STATE_DIR".to_string(),
            self.dir.display().to_string(),
        )]
    }

    fn read_lines(&self, name: &str) -> Vec<String> {
        let path = self.dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => text.lines().map(str::to_string).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("read {}: {e}", path.display()),
        }
    }

    fn write_atomically(&self, name: &str, text: &str) {
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
        std::fs::rename(&tmp, self.dir.join(name))
            .unwrap_or_else(|e| panic!("rename {}: {e}", tmp.display()));
    }
}

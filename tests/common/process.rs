//! Running external tools and the `kyso` binary.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::softhsm::SoftHsm;

/// Runs `cmd`, panicking only if it cannot be started.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

/// Runs `cmd` and panics, with its full output, unless it exits with 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed\n{}", describe(&out));
    out
}

/// Runs `cmd` with `input` on its standard input (then closed).
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("child stdin is piped");
    // A child that exits without reading gives EPIPE; that is its business.
    let _ = stdin.write_all(input);
    drop(stdin);
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {cmd:?} failed: {e}"))
}

/// Exit status, stdout and stderr of a finished process, for panic messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Builds a `Command` for `program` with `args`.
pub fn command<I, S>(program: &str, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd
}

/// Path to the `kyso` binary built by cargo for this test run.
pub fn kyso_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_kyso"))
}

/// A `Command` for the `kyso` binary that only sees the test's world:
/// the SoftHSM configuration of `hsm` (and its shim, if enabled),
/// `KYSO_PKCS11_MODULE` set to `hsm.module_path()`, HOME and the XDG
/// directories inside `hsm.base_dir()/home`, no inherited `KYSO_*` variables,
/// and that directory's parent as working directory.
pub fn kyso_cmd(hsm: &SoftHsm) -> Command {
    let mut cmd = Command::new(kyso_bin());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("KYSO_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(hsm.env());
    cmd.env("KYSO_PKCS11_MODULE", hsm.module_path());
    cmd.envs(home_env(&hsm.base_dir().join("home")));
    cmd.current_dir(hsm.base_dir());
    cmd
}

/// HOME and XDG variables rooted at `home` (created, with mode 0700 for the
/// runtime directory as the XDG spec requires).
pub fn home_env(home: &Path) -> Vec<(String, String)> {
    let dirs = [
        ("HOME", home.to_path_buf()),
        ("XDG_CONFIG_HOME", home.join(".config")),
        ("XDG_DATA_HOME", home.join(".local/share")),
        ("XDG_STATE_HOME", home.join(".local/state")),
        ("XDG_CACHE_HOME", home.join(".cache")),
        ("XDG_RUNTIME_DIR", home.join(".run")),
    ];
    for (_, dir) in &dirs {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    set_mode_0700(&home.join(".run"));
    dirs.into_iter()
        .map(|(k, v)| (k.to_string(), v.display().to_string()))
        .collect()
}

fn set_mode_0700(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", dir.display()));
}

/// Asserts the exact error the user sees from the CLI: the exit code, and
/// the stable code on both the English and the Vietnamese line.
pub fn assert_refused(out: &Output, code: &str, exit: i32) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(exit),
        "wrong exit code:\n{}",
        describe(out)
    );
    assert!(
        err.contains(&format!("error [{code}]: ")),
        "no English line for {code}:\n{err}"
    );
    assert!(
        err.contains(&format!("lỗi   [{code}]: ")),
        "no Vietnamese line for {code}:\n{err}"
    );
}

//! The `kyso` command line: dispatch per subcommand, PIN prompting, and the
//! mapping from error codes to exit codes. No domain logic lives here.

mod appearance;
pub mod args;
mod log;
mod output;
mod pin;
mod report;
mod serve;
mod sign;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{self, Config};
use crate::describe::Describe;
use crate::token::{self, Module};
use args::{Cli, Command};
pub use output::report;

/// Exit codes, documented in `docs/cli.md`.
pub mod exit {
    /// Everything was signed.
    pub const OK: u8 = 0;
    /// An unexpected or internal error.
    pub const INTERNAL: u8 = 1;
    /// Bad command-line usage or config file.
    pub const USAGE: u8 = 2;
    /// An input PDF was refused (encrypted, damaged, not a PDF, certified…).
    pub const PDF_REFUSED: u8 = 3;
    /// No usable token, module or certificate.
    pub const TOKEN: u8 = 4;
    /// A PIN problem: wrong, locked, expired or not entered.
    pub const PIN: u8 = 5;
    /// The token was removed during signing.
    pub const REMOVED: u8 = 6;
    /// A file could not be read or written.
    pub const FILE: u8 = 7;
    /// In a batch, some files were signed and some were not.
    pub const PARTIAL: u8 = 8;
    /// The daemon could not start (port in use).
    pub const SERVE: u8 = 9;
    /// The usage log could not be opened, written or read, or it fails
    /// verification (`kyso log verify`).
    pub const LOG: u8 = 10;
}

/// The exit code for an error code.
pub fn exit_code_for(code: &str) -> u8 {
    match code {
        "TOKEN_REMOVED" => exit::REMOVED,
        c if c.starts_with("PDF_") => exit::PDF_REFUSED,
        c if c.starts_with("PIN_") => exit::PIN,
        c if c.starts_with("TOKEN_") || c.starts_with("CERT_") || c.starts_with("DEMO_") => {
            exit::TOKEN
        }
        c if c.starts_with("FILE_") || c == "IO_ERROR" => exit::FILE,
        c if c.starts_with("OPTION_") || c.starts_with("CONFIG_") || c.starts_with("ORIGIN_") => {
            exit::USAGE
        }
        c if c.starts_with("SERVE_") => exit::SERVE,
        c if c.starts_with("APPEARANCE_") => exit::USAGE,
        c if c.starts_with("LOG_") => exit::LOG,
        _ => exit::INTERNAL,
    }
}

/// A failure the CLI reports: a code and both messages.
#[derive(Debug)]
pub struct Failure {
    code: &'static str,
    en: String,
    vi: String,
}

impl Failure {
    fn new(code: &'static str, en: impl Into<String>, vi: impl Into<String>) -> Self {
        Failure {
            code,
            en: en.into(),
            vi: vi.into(),
        }
    }
}

impl<E: Describe> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: e.code(),
            en: e.en(),
            vi: e.vi(),
        }
    }
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            output::print_failure(&f, None);
            ExitCode::from(exit_code_for(f.code))
        }
    }
}

fn dispatch(cli: Cli) -> Result<u8, Failure> {
    let config_path = cli.config.clone().or_else(config::default_path);
    let config = match &config_path {
        Some(p) => Config::load(p).map_err(|e| {
            Failure::new(
                "CONFIG_INVALID",
                e.to_string(),
                format!("Tệp cấu hình không hợp lệ: {e}"),
            )
        })?,
        None => Config::default(),
    };
    let data_dir = config::data_dir();
    if let Command::DemoToken(a) = &cli.command {
        return demo_token(&data_dir, a.force);
    }
    // The usage log and its report need no token driver.
    if let Command::Log(a) = &cli.command {
        return log::run(&config, a);
    }
    if let Command::Report(a) = &cli.command {
        return report::run(&config, a);
    }
    if let Command::Origins(a) = &cli.command {
        return serve::origins(&data_dir, &a.action);
    }
    let module_path = resolve_module(&cli, &config, &data_dir)?;
    tracing::info!(module = %module_path.display(), "loading PKCS#11 module");
    if let Command::Serve(a) = cli.command {
        return serve::run(module_path, config, *a, &data_dir, cli.demo);
    }
    let module = Module::load(&module_path)?;
    match cli.command {
        Command::Sign(a) => sign::run(&module, &config, *a, cli.demo),
        Command::Tokens(a) => output::tokens(&module, a.json),
        Command::Certs(a) => output::certs(
            &module,
            a.token.as_deref().or(config.token.as_deref()),
            a.json,
        ),
        Command::Pin(a) => pin::run(&module, &config, &a, cli.demo),
        Command::Status(a) => status::run(&module, &config, &a),
        Command::DemoToken(_)
        | Command::Origins(_)
        | Command::Serve(_)
        | Command::Log(_)
        | Command::Report(_) => {
            unreachable!("handled above")
        }
    }
}

/// `--module`, then `KYSO_PKCS11_MODULE` (both through clap), then the
/// config file, then auto-detection.
fn resolve_module(
    cli: &Cli,
    config: &Config,
    data_dir: &std::path::Path,
) -> Result<PathBuf, Failure> {
    if cli.demo {
        // A newcomer's first command: make the demo token when it is missing.
        let demo = match crate::demo::activate(data_dir) {
            Err(crate::demo::Error::Missing) => {
                let demo = crate::demo::create(data_dir, false).map_err(demo_failure)?;
                eprintln!(
                    "Created the demo token \"{}\" (PIN {}).",
                    crate::demo::LABEL,
                    crate::demo::PIN
                );
                demo
            }
            other => other.map_err(demo_failure)?,
        };
        return Ok(demo.module);
    }
    if let Some(m) = cli.module.clone().or_else(|| config.module.clone()) {
        return Ok(m);
    }
    match token::modules::detect().first() {
        Some(m) => Ok(PathBuf::from(m.path)),
        None => Err(token::Error::NoModule(token::modules::searched_paths()).into()),
    }
}

fn demo_failure(e: crate::demo::Error) -> Failure {
    Failure::new(
        "DEMO_TOKEN",
        format!("Demo token: {e}."),
        format!("Thiết bị ký thử nghiệm: {e}."),
    )
}

fn demo_token(data_dir: &std::path::Path, force: bool) -> Result<u8, Failure> {
    let demo = crate::demo::create(data_dir, force).map_err(demo_failure)?;
    println!(
        "Demo token \"{}\" is ready (PIN {}).",
        crate::demo::LABEL,
        crate::demo::PIN
    );
    println!(
        "Thiết bị ký thử nghiệm \"{}\" đã sẵn sàng (PIN {}).",
        crate::demo::LABEL,
        crate::demo::PIN
    );
    println!("Its certificate says DEMO and is not valid for real use.");
    println!("SoftHSM2 config: {}", demo.conf.display());
    println!("Try: kyso sign --demo examples/sample.pdf -o signed.pdf");
    Ok(exit::OK)
}

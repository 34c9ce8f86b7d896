//! The command-line definition (clap derive structs only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::types::DigestAlg;

/// Kyso: PAdES signatures with the PKCS#11 token in your USB port.
#[derive(Debug, Parser)]
#[command(name = "kyso", version, about, long_about = None)]
pub struct Cli {
    /// The config file [default: the platform config dir's kyso/config.toml]
    #[arg(long, global = true, env = "KYSO_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The PKCS#11 module (token driver) to load; auto-detected by default
    #[arg(long, global = true, env = "KYSO_PKCS11_MODULE", value_name = "PATH")]
    pub module: Option<PathBuf>,

    /// Use the SoftHSM2 demo token made by `kyso demo-token`
    #[arg(long, global = true, conflicts_with = "module")]
    pub demo: bool,

    /// More diagnostics on stderr (-v info, -vv debug). Never shows PINs.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign one or more PDF files.
    Sign(Box<SignArgs>),
    /// List the tokens that are plugged in.
    Tokens(ListArgs),
    /// List the certificates on a token.
    Certs(CertsArgs),
    /// Create the SoftHSM2 demo token (a DEMO certificate, not valid for real use).
    DemoToken(DemoArgs),
    /// Show the usage log (every use of the token), or check it with `kyso log verify`.
    Log(LogArgs),
    /// Make the periodic report of certificate use (printable HTML, CSV or JSON).
    Report(ReportArgs),
    /// Manage the token PIN (`kyso pin change`).
    Pin(PinArgs),
    /// Show the tokens and certificates, with PIN-change and expiry reminders.
    Status(StatusArgs),
    /// Run the localhost signing API for web document systems (foreground).
    Serve(Box<ServeArgs>),
    /// List or revoke the websites paired with Kyso.
    Origins(OriginsArgs),
}

/// `kyso serve`. Each flag overrides the `[server]` key of the same name.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The loopback port [config: port; default 28770].
    #[arg(long)]
    pub port: Option<u16>,
    /// Serve HTTPS with a locally generated certificate [config: tls].
    #[arg(long)]
    pub tls: bool,
    /// Pre-approve a website origin, no pairing window (repeatable) [config: allowed_origins].
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// Sign without a consent click while the PIN is cached, for this origin (repeatable) [config: auto_sign_origins].
    #[arg(long = "auto-sign-origin", value_name = "ORIGIN")]
    pub auto_sign_origin: Vec<String>,
    /// The largest accepted document in MB [config: max_body_mb; default 512].
    #[arg(long)]
    pub max_body_mb: Option<u64>,
    /// Unfinished jobs allowed before new ones get 503 [config: queue_limit; default 8].
    #[arg(long)]
    pub queue_limit: Option<usize>,
    /// Minutes a login stays cached without use; 0 asks every time [config: pin_cache_minutes; default 15].
    #[arg(long)]
    pub pin_cache_minutes: Option<u64>,
    /// Seconds a consent or pairing link stays valid [config: consent_ttl_seconds; default 300].
    #[arg(long)]
    pub consent_ttl_seconds: Option<u64>,
    /// Open consent windows in the default browser [config: open_browser].
    #[arg(long)]
    pub open_browser: bool,
    /// The token, by label or serial [config: token].
    #[arg(long, value_name = "LABEL|SERIAL")]
    pub token: Option<String>,
    /// The certificate selector [config: cert].
    #[arg(long, value_name = "SELECTOR")]
    pub cert: Option<String>,
}

/// `kyso origins`.
#[derive(Debug, Args)]
pub struct OriginsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: OriginsAction,
}

/// `kyso origins list|revoke`.
#[derive(Debug, Subcommand)]
pub enum OriginsAction {
    /// List the paired websites.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Unpair a website.
    Revoke {
        /// The origin, e.g. https://vanban.example.gov.vn
        origin: String,
    },
}

/// `kyso sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The PDF files to sign.
    #[arg(required = true, value_name = "IN")]
    pub inputs: Vec<PathBuf>,

    /// The output file (one input only).
    #[arg(short, long, value_name = "OUT", conflicts_with = "out_dir")]
    pub output: Option<PathBuf>,

    /// The output directory; each output keeps its input's file name.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// The token, by label or serial.
    #[arg(long, value_name = "LABEL|SERIAL")]
    pub token: Option<String>,

    /// The certificate, by serial (hex), CKA_ID (hex) or part of the subject.
    #[arg(long, value_name = "SELECTOR")]
    pub cert: Option<String>,

    /// The reason for signing (/Reason).
    #[arg(long)]
    pub reason: Option<String>,

    /// Where the signing happens (/Location).
    #[arg(long)]
    pub location: Option<String>,

    /// How to contact the signer (/ContactInfo).
    #[arg(long)]
    pub contact: Option<String>,

    /// The signature field's name [default: Signature1, Signature2, …].
    #[arg(long, value_name = "NAME")]
    pub field: Option<String>,

    /// Read the PIN from the first line of standard input instead of the terminal.
    #[arg(long)]
    pub pin_stdin: bool,

    /// A PEM file of issuer certificates to embed besides those on the token.
    #[arg(long, value_name = "PEM")]
    pub chain: Option<PathBuf>,

    /// The digest algorithm.
    #[arg(long, value_name = "ALG")]
    pub digest: Option<DigestAlg>,

    /// Use RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys only).
    #[arg(long)]
    pub pss: bool,

    /// How PKCS#1 v1.5 signatures are made on the token.
    #[arg(long, value_enum, default_value_t = RsaMechanismArg::Auto)]
    pub rsa_mechanism: RsaMechanismArg,

    /// Visible signature options.
    #[command(flatten, next_help_heading = "Appearance (Decree 30/2020)")]
    pub appearance: super::appearance::AppearanceArgs,
}

/// `--rsa-mechanism`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RsaMechanismArg {
    /// CKM_SHA256_RSA_PKCS when the token has it, else CKM_RSA_PKCS.
    Auto,
    /// Always CKM_SHA256_RSA_PKCS (or SHA-384/512).
    Combined,
    /// Always CKM_RSA_PKCS over a DigestInfo made by Kyso.
    Raw,
}

/// `kyso tokens`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `kyso certs`.
#[derive(Debug, Args)]
pub struct CertsArgs {
    /// The token, by label or serial.
    #[arg(long, value_name = "LABEL|SERIAL")]
    pub token: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `kyso demo-token`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Delete and recreate the demo token if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `kyso log`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LogArgs {
    /// `verify`, or nothing to list entries.
    #[command(subcommand)]
    pub action: Option<LogAction>,

    /// Entries at or after this date (YYYY-MM-DD, local) or time (RFC 3339).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,

    /// Entries up to and including this date (YYYY-MM-DD), or before this time (RFC 3339).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,

    /// Entries for this certificate: serial, SHA-256 thumbprint, or part of the holder's name.
    #[arg(long, value_name = "SELECTOR")]
    pub cert: Option<String>,

    /// Entries from this calling origin (`cli` for the command line).
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Option<String>,

    /// Only successful or only failed entries.
    #[arg(long, value_enum)]
    pub result: Option<ResultArg>,

    /// Show at most this many of the most recent matching entries (0: all).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub limit: u32,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `kyso log` subcommands.
#[derive(Debug, Subcommand)]
pub enum LogAction {
    /// Check that no entry was edited, deleted or reordered.
    Verify(VerifyArgs),
}

/// `kyso log verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--result`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ResultArg {
    /// Successful entries.
    Ok,
    /// Failed entries.
    Failed,
}

/// `kyso report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The first day of the period (YYYY-MM-DD, local time).
    #[arg(long, value_name = "DATE")]
    pub from: chrono::NaiveDate,

    /// The last day of the period, included (YYYY-MM-DD, local time).
    #[arg(long, value_name = "DATE")]
    pub to: chrono::NaiveDate,

    /// The output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,

    /// The language of the CSV and HTML reports.
    #[arg(long, value_enum, default_value_t = LangArg::Vi)]
    pub lang: LangArg,

    /// Write the report to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    /// One row per figure, for spreadsheets.
    Csv,
    /// A printable page.
    Html,
    /// Machine-readable.
    Json,
}

/// `--lang`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LangArg {
    /// Tiếng Việt.
    Vi,
    /// English.
    En,
}

/// `kyso pin`.
#[derive(Debug, Args)]
pub struct PinArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: PinAction,
}

/// `kyso pin` subcommands.
#[derive(Debug, Subcommand)]
pub enum PinAction {
    /// Change the token's user PIN (asks for the old PIN and the new one twice).
    Change(PinChangeArgs),
}

/// `kyso pin change`.
#[derive(Debug, Args)]
pub struct PinChangeArgs {
    /// The token, by label or serial.
    #[arg(long, value_name = "LABEL|SERIAL")]
    pub token: Option<String>,

    /// Read the old PIN, the new PIN and the new PIN again from the first three
    /// lines of standard input instead of the terminal.
    #[arg(long)]
    pub pin_stdin: bool,
}

/// `kyso status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this token, by label or serial.
    #[arg(long, value_name = "LABEL|SERIAL")]
    pub token: Option<String>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

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

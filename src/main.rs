use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = kyso::cli::args::Cli::parse();
    let default = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // cryptoki logs every vendor mechanism it has no name for at ERROR level
    // while listing mechanisms; that is noise for a user.
    let filter = EnvFilter::try_from_env("KYSO_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{default},cryptoki::mechanism=off")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    kyso::cli::run(cli)
}

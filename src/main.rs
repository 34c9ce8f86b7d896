use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = kyso::cli::args::Cli::parse();
    let log_dir = kyso::diagnostics::init(cli.verbose);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), log_dir = ?log_dir, "kyso started");
    kyso::cli::run(cli)
}

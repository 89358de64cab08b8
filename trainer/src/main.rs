//! `ddsp`: the command line of ddsp-rs. Each subcommand lives in its own file under `cli/`.

mod cli;

use clap::{Parser, Subcommand};

/// Learn how a sound is built (harmonics + filtered noise), export it as open data, reshape
/// it and render it.
#[derive(Parser)]
#[command(name = "ddsp", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse a recording into a unified CSV (harmonics + noise bands), no training.
    Analyze(cli::analyze::Args),
    /// Score a render against its reference recording (multi-scale spectral distance, f0, loudness).
    Eval(cli::eval::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Analyze(args) => cli::analyze::run(args),
        Command::Eval(args) => cli::eval::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

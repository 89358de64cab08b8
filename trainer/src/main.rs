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
    /// Render a unified CSV to a WAV with pitch, stretch, bounce, level and playback controls.
    Render(cli::render::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Render(args) => cli::render::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

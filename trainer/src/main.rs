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
    /// Show the frames, timing, rates, f0 range and component counts of a unified CSV.
    Info(cli::info::Args),
    /// Analyse a recording into a unified CSV (harmonics + noise bands), no training.
    Analyze(cli::analyze::Args),
    /// Score a render against its reference recording (multi-scale spectral distance, f0, loudness).
    Eval(cli::eval::Args),
    /// Export .npz envelope archives to one unified CSV.
    Csv(cli::csv_export::Args),
    /// Shrink a unified CSV: fewer frames, harmonics or noise bands.
    Downsample(cli::downsample::Args),
    /// Join chunks (.npz or CSV) into one file with continuous frame indices.
    Combine(cli::combine::Args),
    /// Extend the learned 8 kHz bandwidth to the Nyquist of a higher sample rate.
    Enrich(cli::enrich::Args),
    /// Reshape envelopes: frequency range, duration, fixed pitch, partial remapping.
    Modify(cli::modify::Args),
    /// Map learned partials onto a target spectrum (ratios, tet:N or a file).
    Map(cli::map::Args),
    /// Render a unified CSV to a WAV with pitch, stretch, bounce, level and playback controls.
    Render(cli::render::Args),
    /// Play a MIDI file through a trained model (instrument.ddsp), as the plugin's Model mode.
    Play(cli::play::Args),
    /// Grow a timbre in stages: one note again and again, each stage with more harmonics.
    Grow(cli::grow::Args),
    /// Learn a DDSP model of an instrument from recordings, then export it.
    #[cfg(feature = "train")]
    Train(cli::train::Args),
    /// Export envelopes, previews, CSV and a report from a trained model.
    #[cfg(feature = "train")]
    Export(cli::export::Args),
    /// Drive a trained model with the pitch and loudness of another recording.
    #[cfg(feature = "train")]
    Transfer(cli::transfer::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    #[cfg(feature = "train")]
    let trains = matches!(cli.command, Command::Train(_));
    #[cfg(not(feature = "train"))]
    let trains = false;
    if !trains {
        cli::stop_cleanly_on_interrupt();
    }
    let result: anyhow::Result<()> = match cli.command {
        Command::Info(args) => cli::info::run(args),
        Command::Analyze(args) => cli::analyze::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Csv(args) => cli::csv_export::run(args),
        Command::Downsample(args) => cli::downsample::run(args),
        Command::Combine(args) => cli::combine::run(args),
        Command::Enrich(args) => cli::enrich::run(args),
        Command::Modify(args) => cli::modify::run(args),
        Command::Map(args) => cli::map::run(args),
        Command::Render(args) => cli::render::run(args),
        Command::Play(args) => cli::play::run(args),
        Command::Grow(args) => cli::grow::run(args),
        #[cfg(feature = "train")]
        Command::Train(args) => cli::train::run(args),
        #[cfg(feature = "train")]
        Command::Export(args) => cli::export::run(args),
        #[cfg(feature = "train")]
        Command::Transfer(args) => cli::transfer::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) if err.is::<cli::Interrupted>() => std::process::ExitCode::from(cli::INTERRUPTED_EXIT_STATUS),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! `ddsp transfer --run runs/NAME other.wav -o out.wav`: timbre transfer with a trained model.

use std::path::PathBuf;

use ddsp_trainer::tools::io::refuse_to_overwrite_inputs;
use ddsp_trainer::train::training::RunPaths;
use ddsp_trainer::train::transfer::{transfer, TransferOptions};

/// Drive a trained model with the pitch and loudness of another recording.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ddsp transfer --run runs/violin examples/flute_phrase_44k.wav -o flute_on_violin.wav
  ddsp transfer --run runs/violin voice.wav -o voice_as_violin.wav --pitch-shift 12 --loudness-shift -6")]
pub struct Args {
    /// Run folder of a trained model (from `ddsp train --out`).
    #[arg(long)]
    pub run: PathBuf,
    /// The recording whose melody and dynamics drive the model.
    pub input: PathBuf,
    /// WAV to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Unified CSV of the predicted envelopes (default: the output with `.csv`).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Semitones to transpose the melody by (e.g. -12).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub pitch_shift: f32,
    /// dB to add to the loudness.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub loudness_shift: f32,
}

/// Runs `ddsp transfer`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let csv = args.csv.clone().unwrap_or_else(|| args.output.with_extension("csv"));
    refuse_to_overwrite_inputs(&[&args.input], &args.output)?;
    refuse_to_overwrite_inputs(&[&args.input, &args.output], &csv)?;
    let options = TransferOptions { pitch_shift_st: args.pitch_shift, loudness_shift_db: args.loudness_shift };
    let summary = transfer(&RunPaths::new(&args.run), &args.input, &args.output, &csv, &options)?;
    eprintln!("wrote {} ({:.1} s) and {}", summary.wav.display(), summary.duration_s, summary.csv.display());
    Ok(())
}

//! `ddsp export --run runs/NAME [--audio file.wav]`: write a trained model's envelopes
//! (`.npz`), preview WAVs, unified CSVs and report (SPEC §3, §2).

use std::path::PathBuf;

use anyhow::Context;

use super::thinning::ThinningArgs;

use ddsp_trainer::train::export::{export_run, CsvOptions, ExportOptions};
use ddsp_trainer::train::inputs::read_inputs;
use ddsp_trainer::train::training::RunPaths;

/// The unified CSV options of the original exporter (`3-envelopes2csv.py`): the thinning
/// options every envelope tool shares, plus `--full-resolution`.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct CsvArgs {
    #[command(flatten)]
    pub thinning: ThinningArgs,
    /// One CSV frame per audio sample instead of per control frame (large files).
    #[arg(long)]
    pub full_resolution: bool,
}

impl CsvArgs {
    /// The library's options (no limit means every harmonic and noise band).
    pub fn to_options(self) -> CsvOptions {
        CsvOptions { thinning: self.thinning.to_options(), full_resolution: self.full_resolution }
    }
}

/// Export envelopes, previews, CSV and a report from a trained model.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ddsp export --run runs/violin
  ddsp export --run runs/violin --audio another_take.wav --frame-step 4 --max-harmonics 30")]
pub struct Args {
    /// Run folder of a trained model (from `ddsp train --out`).
    #[arg(long)]
    pub run: PathBuf,
    /// Recordings to export (default: the files the model was trained on).
    #[arg(long)]
    pub audio: Vec<PathBuf>,
    #[command(flatten)]
    pub csv: CsvArgs,
}

/// Runs `ddsp export`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let paths = RunPaths::new(&args.run);
    let inputs = if args.audio.is_empty() {
        read_inputs(&paths.inputs())
            .context("give the recordings with --audio")?
            .into_iter()
            .map(|input| input.path)
            .collect()
    } else {
        args.audio.clone()
    };
    let summary = export_run(&paths, &inputs, &ExportOptions { csv: args.csv.to_options() })?;
    eprintln!("{summary}");
    Ok(())
}

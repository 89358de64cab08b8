//! `ddsp downsample`: a lighter CSV for faster playback (the original `downsample_csv.py`).

use std::path::PathBuf;

use anyhow::{bail, Result};
use ddsp_trainer::tools::downsample::{downsample, DownsampleOptions};
use ddsp_trainer::tools::io::{
    describe, read_envelope, refuse_to_overwrite_inputs, write_envelope,
};

/// Shrink a unified CSV (or .npz archive): fewer frames, harmonics or noise bands.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Kept frames keep their frame_index and the frame_rate stays, so every frame plays at its
original time (index / frame_rate); players hold or interpolate across the gaps. The lowest
harmonics and noise bands are kept. A `frame_step` key in the metadata records the step.

Example:
  ddsp downsample violin.csv -o violin_light.csv --frame-step 4 --max-harmonics 20 --max-noise-bands 16")]
pub struct Args {
    /// Unified CSV (or .npz archive) to shrink.
    #[arg(value_name = "IN.csv")]
    pub input: PathBuf,
    /// Where to write the result (.csv, or .npz for an archive).
    #[arg(short, long, value_name = "OUT.csv")]
    pub output: PathBuf,
    /// Keep every N-th frame.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub frame_step: u64,
    /// Keep only the lowest N harmonics.
    #[arg(long, value_name = "N")]
    pub max_harmonics: Option<usize>,
    /// Keep only the lowest N noise bands.
    #[arg(long, value_name = "N")]
    pub max_noise_bands: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    if args.frame_step == 1 && args.max_harmonics.is_none() && args.max_noise_bands.is_none() {
        bail!("nothing to do: give --frame-step, --max-harmonics or --max-noise-bands");
    }
    refuse_to_overwrite_inputs(&[&args.input], &args.output)?;
    let envelope = read_envelope(&args.input)?;
    let options = DownsampleOptions {
        frame_step: args.frame_step as usize,
        max_harmonics: args.max_harmonics,
        max_noise_bands: args.max_noise_bands,
    };
    let out = downsample(&envelope, &options);
    write_envelope(&out, &args.output)?;
    println!("wrote {}: {}", args.output.display(), describe(&out));
    Ok(())
}

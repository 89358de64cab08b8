//! `ddsp downsample`: a lighter CSV for faster playback (the original `downsample_csv.py`).

use std::path::PathBuf;

use anyhow::{bail, Result};
use ddsp_trainer::tools::downsample::downsample;

use super::thinning::ThinningArgs;
use ddsp_trainer::tools::io::{describe, read_envelope, refuse_to_overwrite_inputs, write_envelope};

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
    #[command(flatten)]
    pub thinning: ThinningArgs,
}

pub fn run(args: Args) -> Result<()> {
    if args.thinning.keeps_everything() {
        bail!("nothing to do: give --frame-step, --max-harmonics or --max-noise-bands");
    }
    refuse_to_overwrite_inputs(&[&args.input], &args.output)?;
    let envelope = read_envelope(&args.input)?;
    let options = args.thinning.to_options();
    let out = downsample(&envelope, &options);
    write_envelope(&out, &args.output)?;
    println!("wrote {}: {}", args.output.display(), describe(&out));
    Ok(())
}

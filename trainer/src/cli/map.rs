//! `ddsp map`: learned partials onto a user-defined target spectrum (the original
//! `sc/spectral_mapping.scd`, offline).

use std::path::PathBuf;

use anyhow::Result;
use ddsp_trainer::tools::io::{describe, read_envelope, refuse_to_overwrite_inputs, write_envelope};
use ddsp_trainer::tools::map::{map_to_target, TargetSpectrum};

/// Map learned partials onto a target spectrum of frequency ratios.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The target ratios (to f0) are sorted; the k-th harmonic moves to the k-th lowest ratio at
f0 * ratio Hz, keeping its amplitude envelope. A target with fewer ratios keeps only that
many partials. TARGET is a list (`1,2.76,5.40,8.93`, fractions like `3/2` allowed), an
equal-tempered scale `tet:N` (ratios 2^(k/N), k = 0, 1, …), or a .csv/.txt file of ratios.

Examples:
  ddsp map violin.csv -o violin_bell.csv --target 1,2.76,5.40,8.93,13.34
  ddsp map violin.csv -o violin_19tet.csv --target tet:19
  ddsp map violin.csv -o violin_gamelan.csv --target my_ratios.txt")]
pub struct Args {
    /// Unified CSV or .npz archive to map.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Where to write the result (.csv, or .npz for an archive).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Ratio list, `tet:N`, or a file of ratios.
    #[arg(long, value_name = "TARGET")]
    pub target: String,
}

pub fn run(args: Args) -> Result<()> {
    let mut inputs = vec![args.input.clone()];
    if std::path::Path::new(args.target.trim()).is_file() {
        inputs.push(PathBuf::from(args.target.trim()));
    }
    refuse_to_overwrite_inputs(&inputs, &args.output)?;
    let target = TargetSpectrum::parse(&args.target)?;
    let envelope = read_envelope(&args.input)?;
    let out = map_to_target(&envelope, &target);
    write_envelope(&out, &args.output)?;
    println!("wrote {}: {}", args.output.display(), describe(&out));
    Ok(())
}

//! `ddsp enrich`: extend the learned bandwidth to a new Nyquist (the original
//! `enrich_spectrum.py`).

use std::path::PathBuf;

use anyhow::Result;
use ddsp_trainer::tools::enrich::{enrich, EnrichOptions, DEFAULT_MAX_HARMONICS};
use ddsp_trainer::tools::io::{describe, read_envelope, refuse_to_overwrite_inputs, write_envelope};

/// Extend the 8 kHz DDSP bandwidth to the Nyquist of a higher sample rate.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Harmonics above the learned band continue the spectral slope fitted on the upper learned
partials (never rising, at least 3 dB/octave of roll-off) and stop at the new Nyquist; noise
bands continue with their spacing up to the new Nyquist with a fitted (never rising) tilt.
Nothing below the learned bandwidth changes. The metadata states the new sample_rate and
keeps the old one as enriched_from_sample_rate.

Example:
  ddsp enrich violin.csv -o violin_44k.csv --sample-rate 44100")]
pub struct Args {
    /// Unified CSV or .npz archive to enrich.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Where to write the result (.csv, or .npz for an archive).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// The new sample rate, Hz; content is added up to half of it.
    #[arg(long, value_name = "HZ", default_value_t = 44100.0)]
    pub sample_rate: f64,
    /// Top of the learned band, Hz [default: half the input's sample_rate].
    #[arg(long, value_name = "HZ")]
    pub source_bandwidth: Option<f64>,
    /// At most this many harmonics per frame after enrichment (low voices stop below Nyquist).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_HARMONICS)]
    pub max_harmonics: usize,
}

pub fn run(args: Args) -> Result<()> {
    refuse_to_overwrite_inputs(&[&args.input], &args.output)?;
    let envelope = read_envelope(&args.input)?;
    let options = EnrichOptions {
        sample_rate_hz: args.sample_rate,
        source_bandwidth_hz: args.source_bandwidth,
        max_harmonics: args.max_harmonics,
    };
    let out = enrich(&envelope, &options).map_err(|e| e.context(format!("cannot enrich {}", args.input.display())))?;
    write_envelope(&out, &args.output)?;
    println!("wrote {}: {}", args.output.display(), describe(&out));
    Ok(())
}

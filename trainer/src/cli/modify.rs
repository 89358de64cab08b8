//! `ddsp modify`: rescale the frequency range, resample the duration, fix the pitch, remap
//! partials (the original `modify_envelopes.py`).

use std::path::PathBuf;

use anyhow::Result;
use ddsp_trainer::tools::io::{describe, read_envelope, refuse_to_overwrite_inputs, write_envelope};
use ddsp_trainer::tools::modify::{modify, ModifyOptions, PartialMap, TimeChange};

/// Reshape envelopes: frequency range, duration, fixed pitch, partial remapping.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Several changes apply in the order remap -> fix pitch -> frequency range -> time.
--freq-range spreads the audible harmonics log-linearly from their lowest to highest
frequency onto LO..HI (f0 and noise band centres follow the same map). --remap-partials moves
partial s to slot t (0-based; `odd` = 0:0,1:2,2:4,… the odd harmonics, `even` = 0:1,1:3,…).
Components that land at or above Nyquist are silenced.

Examples:
  ddsp modify violin.csv -o violin_low.csv --freq-range 60:2000
  ddsp modify violin.csv -o violin_slow.csv --time-scale 2
  ddsp modify violin.csv -o violin_drone.csv --fix-pitch 110 --duration 20
  ddsp modify violin.csv -o violin_hollow.csv --remap-partials odd")]
pub struct Args {
    /// Unified CSV or .npz archive to reshape.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Where to write the result (.csv, or .npz for an archive).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Rescale all frequencies log-linearly into LO:HI Hz.
    #[arg(long, value_name = "LO:HI", value_parser = parse_range)]
    pub freq_range: Option<(f64, f64)>,
    /// Resample the frames in time to last S seconds.
    #[arg(long, value_name = "S", conflicts_with = "time_scale")]
    pub duration: Option<f64>,
    /// Resample the frames in time by a factor (2 = twice as long).
    #[arg(long, value_name = "X")]
    pub time_scale: Option<f64>,
    /// Hold f0 at HZ; harmonics keep their ratio to f0.
    #[arg(long, value_name = "HZ")]
    pub fix_pitch: Option<f64>,
    /// Move partials: `0:0,1:2,2:4` (source:target, 0-based), `odd` or `even`.
    #[arg(long, value_name = "MAP", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<PartialMap>()))]
    pub remap_partials: Option<PartialMap>,
}

fn parse_range(s: &str) -> Result<(f64, f64), String> {
    let err = || format!("`{s}` is not a LO:HI range in Hz (e.g. 60:2000)");
    let (lo, hi) = s.split_once(':').ok_or_else(err)?;
    let lo: f64 = lo.trim().parse().map_err(|_| err())?;
    let hi: f64 = hi.trim().parse().map_err(|_| err())?;
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Err(format!("`{s}`: need 0 < LO < HI"));
    }
    Ok((lo, hi))
}

pub fn run(args: Args) -> Result<()> {
    let time = match (args.duration, args.time_scale) {
        (Some(s), _) => Some(TimeChange::DurationS(s)),
        (None, Some(x)) => Some(TimeChange::Scale(x)),
        (None, None) => None,
    };
    let options = ModifyOptions {
        remap: args.remap_partials,
        fix_pitch_hz: args.fix_pitch,
        freq_range_hz: args.freq_range,
        time,
    };
    refuse_to_overwrite_inputs(&[&args.input], &args.output)?;
    let envelope = read_envelope(&args.input)?;
    let out = modify(&envelope, &options).map_err(|e| e.context(format!("cannot modify {}", args.input.display())))?;
    write_envelope(&out, &args.output)?;
    println!("wrote {}: {}", args.output.display(), describe(&out));
    Ok(())
}

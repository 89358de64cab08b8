//! `ddsp eval`: how close a render is to its reference recording (DDSP multi-scale spectral
//! distance, f0 error, loudness error; see [`ddsp_trainer::spectral_distance`]).

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use ddsp_trainer::audio::decode::{read_audio_mono, require_min_len};
use ddsp_trainer::audio::resample::resample;
use ddsp_trainer::spectral_distance::{evaluate, EvalReport, FFT_SIZES_16K};

/// Compare a candidate (a render, a resynthesis) with a reference recording.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ddsp eval --reference examples/violin_phrase_44k.wav --candidate violin_resynth.wav
  ddsp eval --reference take.flac --candidate runs/take/export/take/take_mix.wav --json

Lower is closer: 0 is identical; the other recording or silence give the scale (see
examples/README.md).")]
pub struct Args {
    /// The original recording.
    #[arg(long)]
    pub reference: PathBuf,
    /// The sound to score against it (resampled to the reference's rate if needed).
    #[arg(long)]
    pub candidate: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The JSON `ddsp eval --json` prints.
#[derive(Serialize)]
struct JsonReport<'a> {
    reference: String,
    candidate: String,
    #[serde(flatten)]
    report: &'a EvalReport,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (reference, rate) = read_audio_mono(&args.reference)?;
    let (candidate, candidate_rate) = read_audio_mono(&args.candidate)?;
    let largest_fft = FFT_SIZES_16K[0];
    require_min_len(&args.reference, reference.len(), rate, largest_fft)?;
    require_min_len(
        &args.candidate,
        candidate.len(),
        candidate_rate,
        largest_fft * candidate_rate as usize / rate as usize,
    )?;
    let candidate = resample(&candidate, candidate_rate, rate).with_context(|| {
        format!("cannot resample {} from {candidate_rate} Hz to {rate} Hz", args.candidate.display())
    })?;
    let report = evaluate(&reference, &candidate, rate)?;
    if args.json {
        let json = JsonReport {
            reference: args.reference.display().to_string(),
            candidate: args.candidate.display().to_string(),
            report: &report,
        };
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_table(&args, &report, candidate_rate);
    }
    Ok(())
}

fn print_table(args: &Args, r: &EvalReport, candidate_rate: u32) {
    println!("reference   {} ({:.2} s, {} Hz)", args.reference.display(), r.reference_duration_s, r.sample_rate_hz);
    let resampled = if candidate_rate != r.sample_rate_hz {
        format!(", resampled from {candidate_rate} Hz")
    } else {
        String::new()
    };
    println!("candidate   {} ({:.2} s{resampled})", args.candidate.display(), r.candidate_duration_s);
    println!("compared    {:.2} s at {} Hz", r.compared_duration_s, r.sample_rate_hz);
    println!();
    println!("multi-scale spectral distance  {:>8.3}   (DDSP loss; 0 = identical)", r.spectral_distance);
    println!("  {:>8}  {:>12}  {:>16}", "fft size", "magnitude L1", "log-magnitude L1");
    for s in &r.scales {
        println!("  {:>8}  {:>12.4}  {:>16.4}", s.fft_size, s.magnitude_l1, s.log_magnitude_l1);
    }
    println!();
    match (r.f0_error_cents_mean, r.f0_error_cents_median) {
        (Some(mean), Some(median)) => println!(
            "f0 error                       {mean:>8.1} cents mean, {median:.1} median ({} frames voiced in both, {} in the reference)",
            r.voiced_frames_both, r.voiced_frames_reference
        ),
        _ => println!(
            "f0 error                            n/a   (no frame voiced in both; {} voiced in the reference)",
            r.voiced_frames_reference
        ),
    }
    println!("loudness error (A-weighted)    {:>8.2} dB mean", r.loudness_error_db_mean);
}

//! Timbre transfer (beyond the original, SPEC §6): drive a trained model with the f0 and
//! loudness of another recording, so a melody sung or whistled comes out in the trained
//! instrument's timbre. Writes the rendered audio and the unified CSV of the predicted
//! envelopes (which `ddsp render` and the plugin play).

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::inference::{render_at_model_rate, Instrument};
use super::training::RunPaths;
use crate::wav_io::{write_wav, WavSampleFormat};

/// How the driving recording's features are changed before the model sees them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TransferOptions {
    /// Semitones added to the f0 (e.g. -12 for an octave down).
    pub pitch_shift_st: f32,
    /// dB added to the loudness.
    pub loudness_shift_db: f32,
}

/// What [`transfer`] wrote.
#[derive(Clone, Debug)]
pub struct TransferSummary {
    /// The WAV.
    pub wav: PathBuf,
    /// The CSV.
    pub csv: PathBuf,
    /// Seconds of audio.
    pub duration_s: f64,
}

/// Renders `input`'s f0 and loudness through the model of `run` into `output` (WAV at the
/// model rate) and `csv`.
pub fn transfer(
    run: &RunPaths,
    input: &Path,
    output: &Path,
    csv: &Path,
    options: &TransferOptions,
) -> anyhow::Result<TransferSummary> {
    let instrument = Instrument::load(run)?;
    let source = instrument.analyse(input)?;
    let ratio = ddsp_shared::render::tet_ratio(options.pitch_shift_st, 12);
    let f0: Vec<f32> = source.f0_hz.iter().map(|f| f * ratio).collect();
    let loudness: Vec<f32> = source.loudness_db.iter().map(|l| l + options.loudness_shift_db).collect();
    let env = instrument.envelope(&f0, &loudness);
    let out = render_at_model_rate(&env, 1.0, 1.0);
    write_wav(output, &out, instrument.config.sample_rate_hz, WavSampleFormat::Float32)?;
    ddsp_shared::unified_csv::write_path(&env, csv).with_context(|| format!("cannot write {}", csv.display()))?;
    Ok(TransferSummary { wav: output.to_path_buf(), csv: csv.to_path_buf(), duration_s: env.duration_s() })
}

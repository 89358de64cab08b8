//! Timbre transfer (beyond the original, SPEC §6): drive a trained model with the f0 and
//! loudness of another recording, so a melody sung or whistled comes out in the trained
//! instrument's timbre. Writes the rendered audio and the unified CSV of the predicted
//! envelopes (which `ddsp render` and the plugin play).

use std::path::{Path, PathBuf};

use ddsp_shared::instrument::auto_adjust::{auto_adjust, AutoAdjust};
use ddsp_shared::instrument::{InstrumentFile, TrainingStats};

use super::inference::{render_at_model_rate, Instrument};
use super::training::RunPaths;
use crate::wav_io::{write_wav, WavSampleFormat};

/// How the driving recording's features are changed before the model sees them: first the
/// automatic adjustment into the trained range (when on), then the shifts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TransferOptions {
    /// The DDSP notebook's adjustment (notes, octave, loudness quantiles, quiet, autotune);
    /// `None` leaves the recording's features as they are.
    pub auto_adjust: Option<AutoAdjust>,
    /// Semitones added to the f0 (e.g. -12 for an octave down).
    pub pitch_shift_st: f32,
    /// dB added to the loudness.
    pub loudness_shift_db: f32,
}

/// What the automatic adjustment did, for the user to read.
#[derive(Clone, Debug, PartialEq)]
pub struct AdjustSummary {
    /// Share of the frames detected as notes, 0..1.
    pub note_share: f64,
    /// Octaves the melody moved.
    pub octaves: i32,
    /// The training's f0 range (5 %..95 % of its voiced frames), Hz.
    pub trained_f0_hz: (f32, f32),
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
    /// What auto-adjust did; `None` when it was off.
    pub adjusted: Option<AdjustSummary>,
    /// The features the model was driven with, after every adjustment: f0 (Hz) and loudness
    /// (dB) per frame, beside the recording's own.
    pub features: TransferFeatures,
}

/// The recording's features and the ones the model sang from.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferFeatures {
    pub frame_rate_hz: f64,
    pub original_f0_hz: Vec<f32>,
    pub original_loudness_db: Vec<f32>,
    pub confidence: Vec<f32>,
    pub f0_hz: Vec<f32>,
    pub loudness_db: Vec<f32>,
}

/// The training statistics auto-adjust maps into: from the run's `instrument.ddsp`.
pub fn training_stats(run: &RunPaths) -> anyhow::Result<TrainingStats> {
    let path = run.instrument();
    if !path.exists() {
        anyhow::bail!(
            "{} is missing, and auto-adjust needs the training statistics it holds: write it with `ddsp export \
             --run {}`, or transfer with --no-auto-adjust",
            path.display(),
            run.root.display()
        );
    }
    Ok(InstrumentFile::read_path(&path)?.stats)
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
    let stats = options.auto_adjust.map(|_| training_stats(run)).transpose()?;
    let instrument = Instrument::load(run)?;
    let source = instrument.analyse(input)?;
    let frame_rate_hz = f64::from(instrument.config.frame_rate_hz);
    let (mut f0, mut loudness, adjusted) = match (options.auto_adjust, &stats) {
        (Some(adjust), Some(stats)) => {
            let a = auto_adjust(&source.f0_hz, &source.confidence, &source.loudness_db, frame_rate_hz, stats, &adjust);
            let summary = AdjustSummary {
                note_share: a.note_share(),
                octaves: a.octaves,
                trained_f0_hz: stats.f0_hz_core_range(),
            };
            (a.f0_hz, a.loudness_db, Some(summary))
        }
        _ => (source.f0_hz.clone(), source.loudness_db.clone(), None),
    };
    let ratio = ddsp_shared::render::tet_ratio(options.pitch_shift_st, 12);
    f0.iter_mut().for_each(|f| *f *= ratio);
    loudness.iter_mut().for_each(|l| *l += options.loudness_shift_db);
    let env = instrument.envelope(&f0, &loudness);
    let out = render_at_model_rate(&env, 1.0, 1.0);
    write_wav(output, &out, instrument.config.sample_rate_hz, WavSampleFormat::Float32)?;
    ddsp_shared::unified_csv::write_path(&env, csv)?;
    let features = TransferFeatures {
        frame_rate_hz,
        original_f0_hz: source.f0_hz,
        original_loudness_db: source.loudness_db,
        confidence: source.confidence,
        f0_hz: f0,
        loudness_db: loudness,
    };
    Ok(TransferSummary {
        wav: output.to_path_buf(),
        csv: csv.to_path_buf(),
        duration_s: env.duration_s(),
        adjusted,
        features,
    })
}

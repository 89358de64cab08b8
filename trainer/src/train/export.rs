//! Export of a trained model's view of recordings (SPEC §3 and §2): per input file, the model
//! is run over the whole recording; its controls become an [`Envelope`] which is written as
//! - per 4-second chunk: `chunk_XX_envelopes.npz` (the original exporter's keys, sample
//!   resolution), the previews `chunk_XX_1oscbank.wav`, `chunk_XX_1noise.wav`,
//!   `chunk_XX_1oscbank_noise.wav` (rendered by the shared renderer that the plugin plays
//!   with) and `chunk_XX_unified.csv`,
//! - one `<name>_unified.csv` for the whole file,
//!
//! - `<name>_features.png` (the f0, loudness and f0 confidence the model was driven with) and
//!   `<name>_spectrogram.png` (the input above the resynthesis),
//!
//! under `export/<name>/` in the run folder, plus `report.md` and `report.json` with the
//! `ddsp eval` figures of each resynthesis against its input, and the playable
//! `instrument.ddsp` (SPEC §9). A run trained with `--reverb` also gets `room_ir.wav`, the
//! learned room's impulse response, and its report scores the resynthesis both dry and
//! through that room. Beside the model's figures, the report scores `ddsp analyze`'s
//! resynthesis of the same recording (no training) on the same grid, for scale.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::Tensor;
use ddsp_shared::Envelope;

use super::config::TrainConfig;
use super::data::{cached_sources, Source};
use super::inference::{render_at_model_rate, to_vec, Instrument};
use super::instrument_file::write_instrument_file;
use super::report::{write_reports, ExportSummary, FileReport};
use super::training::RunPaths;
use crate::analyze::{analyze, min_samples, AnalysisConfig};
use crate::envelope_archive::{EnvelopeArchive, EnvelopeResolution};
use crate::features::frames::FrameGrid;
use crate::plots::features::{write_features_plot, FeatureSeries};
use crate::plots::spectrogram::{write_spectrogram_plot, Signal};
use crate::spectral_distance::{evaluate, EvalReport};
use crate::tools::downsample::{downsample, DownsampleOptions};
use crate::wav_io::{write_wav, WavSampleFormat};

/// Length of one exported chunk, seconds (the original exporter's 4 s).
pub const CHUNK_S: f64 = 4.0;

/// How the unified CSVs are written (the original's `3-envelopes2csv.py` options): the
/// thinning every envelope tool shares, plus full resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CsvOptions {
    /// Frames, harmonics and noise bands to keep (as `ddsp downsample`).
    pub thinning: DownsampleOptions,
    /// One CSV frame per audio sample (harmonics interpolated between frames) instead of one
    /// per control frame.
    pub full_resolution: bool,
}

/// Options of [`export_run`].
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// CSV thinning.
    pub csv: CsvOptions,
}

/// Applies the thinning of `options` (the envelope tools' `ddsp downsample`, so exports and
/// later downsampling agree; an export keeps at least one harmonic).
pub fn thin(env: &Envelope, options: &CsvOptions) -> Envelope {
    let thinning = options.thinning;
    downsample(
        env,
        &DownsampleOptions {
            frame_step: thinning.frame_step.max(1),
            max_harmonics: thinning.max_harmonics.map(|m| m.max(1)),
            ..thinning
        },
    )
}

/// The CSV form of `env` under `options` (full resolution goes through the sample-resolution
/// archive, which interpolates harmonics per sample as the original exporter did).
pub fn csv_envelope(env: &Envelope, options: &CsvOptions) -> anyhow::Result<Envelope> {
    let base = if options.full_resolution {
        EnvelopeArchive::from_envelope(env, EnvelopeResolution::Sample)?.to_envelope_full_resolution()
    } else {
        env.clone()
    };
    Ok(thin(&base, options))
}

/// Exports every file of `inputs` with the run's model (see the module documentation). The
/// features come from the run's `features.cache` when it was made from these files, so the
/// training inputs are not decoded and analysed again.
pub fn export_run(paths: &RunPaths, inputs: &[PathBuf], options: &ExportOptions) -> anyhow::Result<ExportSummary> {
    let instrument = Instrument::load(paths)?;
    let sources = match cached_sources(inputs, &instrument.config, &paths.feature_cache()) {
        Some(sources) => sources,
        None => inputs.iter().map(|input| instrument.analyse(input)).collect::<anyhow::Result<Vec<_>>>()?,
    };
    let export_root = paths.root.join("export");
    let mut files = Vec::new();
    for source in &sources {
        files.push(export_file(&instrument, source, &export_root, options)?);
    }
    let instrument_path = write_instrument_file(paths, &instrument, &sources)?;
    let room_ir = match &instrument.model.reverb {
        Some(reverb) => {
            let path = paths.room_ir();
            let ir = to_vec(reverb.room());
            write_wav(&path, &ir, instrument.config.sample_rate_hz, WavSampleFormat::Float32)?;
            Some(path)
        }
        None => None,
    };
    let summary = ExportSummary {
        room_ir,
        files,
        report_md: paths.root.join("report.md"),
        report_json: paths.root.join("report.json"),
        instrument: instrument_path,
    };
    write_reports(paths, &instrument.config, &summary)?;
    Ok(summary)
}

fn stem(path: &Path) -> String {
    path.file_stem().map_or_else(|| "audio".to_string(), |s| s.to_string_lossy().into_owned())
}

/// Writes one file's chunks (archive, previews, CSV) and whole-file CSV.
fn export_file(
    instrument: &Instrument,
    source: &Source,
    export_root: &Path,
    options: &ExportOptions,
) -> anyhow::Result<FileReport> {
    let config = &instrument.config;
    let frames = source.frames();
    let env = instrument.envelope(&source.f0_hz, &source.loudness_db);

    let name = stem(&source.path);
    let folder = export_root.join(&name);
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let chunk_frames = (CHUNK_S * config.frame_rate_hz as f64).round() as usize;
    let chunks = frames.div_ceil(chunk_frames).max(1);
    for c in 0..chunks {
        let start = c * chunk_frames;
        let end = ((c + 1) * chunk_frames).min(frames);
        let prefix = folder.join(format!("chunk_{c:02}"));
        let npz = PathBuf::from(format!("{}_envelopes.npz", prefix.display()));
        // Frame indices restart at 0 inside a chunk's archive, as the original's did.
        let mut local = env.slice_frames(start..end);
        local.frame_indices = (0..local.frame_count() as u64).collect();
        EnvelopeArchive::from_envelope(&local, EnvelopeResolution::Sample)?.write(&npz)?;
        for (suffix, hv, nv) in [("1oscbank", 1.0, 0.0), ("1noise", 0.0, 1.0), ("1oscbank_noise", 1.0, 1.0)] {
            let wav = PathBuf::from(format!("{}_{suffix}.wav", prefix.display()));
            write_wav(&wav, &render_at_model_rate(&local, hv, nv), config.sample_rate_hz, WavSampleFormat::Float32)?;
        }
        let csv = PathBuf::from(format!("{}_unified.csv", prefix.display()));
        ddsp_shared::unified_csv::write_path(&csv_envelope(&local, &options.csv)?, &csv)?;
    }
    let whole_csv = folder.join(format!("{name}_unified.csv"));
    ddsp_shared::unified_csv::write_path(&csv_envelope(&env, &options.csv)?, &whole_csv)?;

    let resynthesis = render_at_model_rate(&env, 1.0, 1.0);
    let eval = evaluate(&source.audio, &resynthesis, config.sample_rate_hz)?;
    let eval_analysis = analysis_eval(&source.audio, &env, config)?;
    let features_png = folder.join(format!("{name}_features.png"));
    let input_label = format!("{name}: the features the model was driven with");
    let series = [FeatureSeries {
        label: "input",
        f0_hz: &source.f0_hz,
        loudness_db: &source.loudness_db,
        confidence: Some(&source.confidence),
    }];
    write_features_plot(&features_png, &input_label, f64::from(config.frame_rate_hz), &series)?;
    let spectrogram_png = folder.join(format!("{name}_spectrogram.png"));
    let signals = [
        Signal { label: "input", samples: &source.audio },
        Signal { label: "resynthesis (the exported envelopes, dry)", samples: &resynthesis },
    ];
    write_spectrogram_plot(
        &spectrogram_png,
        &format!("{name}: input and resynthesis"),
        config.sample_rate_hz,
        &signals,
    )?;
    // With a learned room, the resynthesis is scored a second time through it, as training
    // heard it; the exported envelopes are the dry part.
    let eval_with_room = match &instrument.model.reverb {
        Some(reverb) => {
            let dry =
                Tensor::<1>::from_floats(resynthesis.as_slice(), &instrument.device).reshape([1, resynthesis.len()]);
            let wet = to_vec(reverb.forward(dry));
            Some(evaluate(&source.audio, &wet, config.sample_rate_hz)?)
        }
        None => None,
    };
    Ok(FileReport {
        input: source.path.clone(),
        folder,
        duration_s: frames as f64 / config.frame_rate_hz as f64,
        chunks,
        eval,
        eval_with_room,
        eval_analysis,
        features_png,
        spectrogram_png,
    })
}

/// The recording through `ddsp analyze` (no training) on the model's grid, with the model's
/// harmonic and band counts, rendered and scored as the model's resynthesis is: the report's
/// yardstick for what training reached. `None` for a recording too short to analyse.
fn analysis_eval(audio: &[f32], model_env: &Envelope, config: &TrainConfig) -> anyhow::Result<Option<EvalReport>> {
    let analysis = AnalysisConfig {
        harmonic_count: model_env.harmonic_count,
        noise_band_count: model_env.noise_band_count,
        ..AnalysisConfig::default()
    };
    if audio.len() < min_samples(config.sample_rate_hz, &analysis) {
        return Ok(None);
    }
    let grid = FrameGrid::new(config.sample_rate_hz, f64::from(config.frame_rate_hz))?;
    let env = analyze(audio, &grid, &analysis, |_, _| {});
    Ok(Some(evaluate(audio, &render_at_model_rate(&env, 1.0, 1.0), config.sample_rate_hz)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_every_nth_frame_and_the_first_components() {
        let mut env = Envelope::silent(250.0, 16000.0, 10, 60, 65, 100.0);
        env.harmonic_amps.iter_mut().enumerate().for_each(|(i, a)| *a = i as f32);
        let thinning = DownsampleOptions { frame_step: 3, max_harmonics: Some(8), max_noise_bands: Some(5) };
        let t = thin(&env, &CsvOptions { thinning, full_resolution: false });
        t.validate().unwrap();
        assert_eq!(t.frame_indices, vec![0, 3, 6, 9]);
        assert_eq!((t.harmonic_count, t.noise_band_count), (8, 5));
        assert_eq!(t.harmonic_amps(1)[2], env.harmonic_amps(3)[2]);
    }
}

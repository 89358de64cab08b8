//! Export of a trained model's view of recordings (SPEC §3 and §2): per input file, the model
//! is run over the whole recording; its controls become an [`Envelope`] which is written as
//! - per 4-second chunk: `chunk_XX_envelopes.npz` (the original exporter's keys, sample
//!   resolution), the previews `chunk_XX_1oscbank.wav`, `chunk_XX_1noise.wav`,
//!   `chunk_XX_1oscbank_noise.wav` (rendered by the shared renderer that the plugin plays
//!   with) and `chunk_XX_unified.csv`,
//! - one `<name>_unified.csv` for the whole file,
//!
//! under `export/<name>/` in the run folder, plus `report.md` and `report.json` with the
//! `ddsp eval` figures of each resynthesis against its input.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::{Device, Tensor};
use ddsp_shared::envelope::linear_band_centre_hz;
use ddsp_shared::render::{RenderParams, Renderer};
use ddsp_shared::Envelope;

use super::config::{TrainConfig, HARMONIC_COUNT, NOISE_BAND_COUNT};
use super::data::{extract_features, load_audio};
use super::model::{DdspModel, ModelInputs};
use super::training::{load_model, read_loss_log, RunPaths};
use crate::envelope_archive::{EnvelopeArchive, EnvelopeResolution};
use crate::spectral_distance::{evaluate, EvalReport};
use crate::tools::downsample::{downsample, DownsampleOptions};
use crate::wav_io::{write_wav, WavSampleFormat};

/// Length of one exported chunk, seconds (the original exporter's 4 s).
pub const CHUNK_S: f64 = 4.0;

/// How the unified CSVs are thinned (the original's `3-envelopes2csv.py` options).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CsvOptions {
    /// Keep every n-th frame (1 = all).
    pub frame_step: usize,
    /// Keep the first n harmonics.
    pub max_harmonics: usize,
    /// Keep the first n noise bands.
    pub max_noise_bands: usize,
    /// One CSV frame per audio sample (harmonics interpolated between frames) instead of one
    /// per control frame.
    pub full_resolution: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self { frame_step: 1, max_harmonics: HARMONIC_COUNT, max_noise_bands: NOISE_BAND_COUNT, full_resolution: false }
    }
}

/// Options of [`export_run`].
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// CSV thinning.
    pub csv: CsvOptions,
}

/// Runs `model` over a whole signal's features and returns its controls as an envelope at
/// the model's frame rate: harmonic `k` at `(k+1)·f0`, noise bands linearly from 0 Hz to
/// Nyquist (DDSP's layout).
pub fn predict_envelope(
    model: &DdspModel,
    config: &TrainConfig,
    f0_hz: &[f32],
    loudness_db: &[f32],
    device: &Device,
) -> Envelope {
    let frames = f0_hz.len();
    let sr = config.sample_rate_hz as f64;
    let inputs = ModelInputs::from_features(f0_hz, loudness_db, 1, frames, sr as f32, device);
    let (controls, _) = model.forward(&inputs, false);
    let amps: Vec<f32> = to_vec(controls.harmonic_amps);
    let mags: Vec<f32> = to_vec(controls.noise_mags);
    let mut env = Envelope::silent(config.frame_rate_hz as f64, sr, frames, HARMONIC_COUNT, NOISE_BAND_COUNT, 0.0);
    for (i, &f0) in f0_hz.iter().enumerate() {
        env.f0_hz[i] = f0;
        for k in 0..HARMONIC_COUNT {
            env.harmonic_freqs_hz[i * HARMONIC_COUNT + k] = f0 * (k + 1) as f32;
        }
        for b in 0..NOISE_BAND_COUNT {
            env.band_centres_hz[i * NOISE_BAND_COUNT + b] = linear_band_centre_hz(b, NOISE_BAND_COUNT, sr);
        }
    }
    env.harmonic_amps = amps.into_iter().map(|a| a.max(0.0)).collect();
    env.band_mags = mags.into_iter().map(|m| m.max(0.0)).collect();
    env
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().expect("f32 tensor data")
}

/// Frames `[start, end)` of an envelope (array positions; the frame indices are kept, so a
/// chunk's CSV frame indices continue those of the whole file).
pub fn slice_frames(env: &Envelope, start: usize, end: usize) -> Envelope {
    let (h, b) = (env.harmonic_count, env.noise_band_count);
    Envelope {
        frame_rate_hz: env.frame_rate_hz,
        sample_rate_hz: env.sample_rate_hz,
        extra_metadata: env.extra_metadata.clone(),
        harmonic_count: h,
        noise_band_count: b,
        frame_indices: env.frame_indices[start..end].to_vec(),
        f0_hz: env.f0_hz[start..end].to_vec(),
        harmonic_freqs_hz: env.harmonic_freqs_hz[start * h..end * h].to_vec(),
        harmonic_amps: env.harmonic_amps[start * h..end * h].to_vec(),
        band_centres_hz: env.band_centres_hz[start * b..end * b].to_vec(),
        band_mags: env.band_mags[start * b..end * b].to_vec(),
    }
}

/// Applies `--frame-step`, `--max-harmonics` and `--max-noise-bands` (the envelope tools'
/// `ddsp downsample`, so exports and later downsampling agree).
pub fn thin(env: &Envelope, options: &CsvOptions) -> Envelope {
    downsample(
        env,
        &DownsampleOptions {
            frame_step: options.frame_step.max(1),
            max_harmonics: Some(options.max_harmonics.max(1)),
            max_noise_bands: Some(options.max_noise_bands),
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

/// Renders `env` with the shared renderer at its sample rate: harmonics and noise with
/// `harmonic_volume` / `noise_volume` as given, every transform neutral.
pub fn render(env: &Envelope, harmonic_volume: f32, noise_volume: f32) -> Vec<f32> {
    let sr = env.sample_rate_hz as f32;
    let samples = (env.duration_s() * env.sample_rate_hz).round() as usize;
    let mut renderer = Renderer::new();
    const BLOCK: usize = 4096;
    renderer.prepare(sr, BLOCK);
    let params = RenderParams { harmonic_volume, noise_volume, ..RenderParams::default() };
    let mut out = vec![0.0f32; samples];
    for block in out.chunks_mut(BLOCK) {
        renderer.process(env, &params, block);
    }
    out
}

/// One resynthesised file, for the report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileReport {
    /// The input file.
    pub input: PathBuf,
    /// Where its exports are.
    pub folder: PathBuf,
    /// Seconds of audio.
    pub duration_s: f64,
    /// Chunks written.
    pub chunks: usize,
    /// `ddsp eval` figures of the resynthesis (mix) against the input at the model rate.
    pub eval: EvalReport,
}

/// What [`export_run`] wrote; its `Display` is the summary printed for the user.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportSummary {
    /// Per input file.
    pub files: Vec<FileReport>,
    /// `report.md`.
    pub report_md: PathBuf,
    /// `report.json`.
    pub report_json: PathBuf,
}

impl std::fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for file in &self.files {
            writeln!(
                f,
                "exported {} -> {} ({} chunk(s): .npz, previews, CSV); spectral distance {:.3}",
                file.input.display(),
                file.folder.display(),
                file.chunks,
                file.eval.spectral_distance
            )?;
        }
        write!(f, "report: {} and {}", self.report_md.display(), self.report_json.display())
    }
}

/// Exports every file of `inputs` with the run's model (see the module documentation).
pub fn export_run(paths: &RunPaths, inputs: &[PathBuf], options: &ExportOptions) -> anyhow::Result<ExportSummary> {
    let device = Device::flex();
    let (config, model) = load_model(paths, &device)?;
    let export_root = paths.root.join("export");
    let mut files = Vec::new();
    for input in inputs {
        files.push(export_file(&model, &config, input, &export_root, options, &device)?);
    }
    let summary =
        ExportSummary { files, report_md: paths.root.join("report.md"), report_json: paths.root.join("report.json") };
    write_reports(paths, &config, &summary)?;
    Ok(summary)
}

fn stem(path: &Path) -> String {
    path.file_stem().map_or_else(|| "audio".to_string(), |s| s.to_string_lossy().into_owned())
}

fn export_file(
    model: &DdspModel,
    config: &TrainConfig,
    input: &Path,
    export_root: &Path,
    options: &ExportOptions,
    device: &Device,
) -> anyhow::Result<FileReport> {
    let hop = config.hop_samples();
    let audio = load_audio(input, config.sample_rate_hz, hop)?;
    let frames = audio.len() / hop;
    let (f0, _confidence, loudness) = extract_features(&audio, config.sample_rate_hz, config.frame_rate_hz, frames)
        .with_context(|| format!("cannot analyse {}", input.display()))?;
    let env = predict_envelope(model, config, &f0, &loudness, device);

    let name = stem(input);
    let folder = export_root.join(&name);
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let chunk_frames = (CHUNK_S * config.frame_rate_hz as f64).round() as usize;
    let chunks = frames.div_ceil(chunk_frames).max(1);
    for c in 0..chunks {
        let start = c * chunk_frames;
        let end = ((c + 1) * chunk_frames).min(frames);
        let chunk = slice_frames(&env, start, end);
        let prefix = folder.join(format!("chunk_{c:02}"));
        let npz = PathBuf::from(format!("{}_envelopes.npz", prefix.display()));
        // Frame indices restart at 0 inside a chunk's archive, as the original's did.
        let mut local = chunk.clone();
        local.frame_indices = (0..local.frame_count() as u64).collect();
        EnvelopeArchive::from_envelope(&local, EnvelopeResolution::Sample)?.write(&npz)?;
        for (suffix, hv, nv) in [("1oscbank", 1.0, 0.0), ("1noise", 0.0, 1.0), ("1oscbank_noise", 1.0, 1.0)] {
            let wav = PathBuf::from(format!("{}_{suffix}.wav", prefix.display()));
            write_wav(&wav, &render(&local, hv, nv), config.sample_rate_hz, WavSampleFormat::Float32)?;
        }
        let csv = PathBuf::from(format!("{}_unified.csv", prefix.display()));
        ddsp_shared::unified_csv::write_path(&csv_envelope(&local, &options.csv)?, &csv)
            .with_context(|| format!("cannot write {}", csv.display()))?;
    }
    let whole_csv = folder.join(format!("{name}_unified.csv"));
    ddsp_shared::unified_csv::write_path(&csv_envelope(&env, &options.csv)?, &whole_csv)
        .with_context(|| format!("cannot write {}", whole_csv.display()))?;

    let resynthesis = render(&env, 1.0, 1.0);
    let eval = evaluate(&audio, &resynthesis, config.sample_rate_hz)?;
    Ok(FileReport {
        input: input.to_path_buf(),
        folder,
        duration_s: frames as f64 / config.frame_rate_hz as f64,
        chunks,
        eval,
    })
}

fn write_reports(paths: &RunPaths, config: &TrainConfig, summary: &ExportSummary) -> anyhow::Result<()> {
    let log = read_loss_log(&paths.loss_log())?;
    let last = log.last();
    let mut md = String::new();
    let _ = writeln!(md, "# DDSP training report\n");
    let _ = writeln!(
        md,
        "Model: preset {:?}, GRU/MLP width {}, {} frames/s at {} Hz, batch {}, {} s examples{}.\n",
        config.preset,
        config.hidden,
        config.frame_rate_hz,
        config.sample_rate_hz,
        config.batch_size,
        config.example_s,
        if config.reverb { ", trainable reverb" } else { "" }
    );
    if let Some(e) = last {
        let _ = writeln!(
            md,
            "Training: {} steps in {:.0} s ({:.3} s/step), final loss {:.4} (multi-scale spectral loss; see loss.csv, loss.png).\n",
            e.step,
            e.elapsed_s,
            e.elapsed_s / e.step.max(1) as f64,
            e.loss
        );
    }
    let _ = writeln!(md, "## Resynthesis against the input (`ddsp eval` figures)\n");
    for f in &summary.files {
        let _ = writeln!(md, "### {}\n", f.input.display());
        let _ = writeln!(md, "{:.1} s, {} chunk(s) in `{}`.\n", f.duration_s, f.chunks, f.folder.display());
        let e = &f.eval;
        let _ = writeln!(md, "| measure | value |\n|---|---|");
        let _ = writeln!(md, "| multi-scale spectral distance (DDSP loss) | {:.4} |", e.spectral_distance);
        for s in &e.scales {
            let _ = writeln!(
                md,
                "| FFT {}: magnitude L1 / log-magnitude L1 | {:.5} / {:.4} |",
                s.fft_size, s.magnitude_l1, s.log_magnitude_l1
            );
        }
        let cents = |c: Option<f32>| c.map_or("n/a".to_string(), |c| format!("{c:.1} cents"));
        let _ = writeln!(
            md,
            "| f0 error, mean / median (frames voiced in both: {} of {}) | {} / {} |",
            e.voiced_frames_both,
            e.voiced_frames_reference,
            cents(e.f0_error_cents_mean),
            cents(e.f0_error_cents_median)
        );
        let _ = writeln!(md, "| loudness error, mean | {:.2} dB |\n", e.loudness_error_db_mean);
    }
    ddsp_shared::atomic_file::write_atomically(&summary.report_md, |w| -> std::io::Result<()> {
        std::io::Write::write_all(w, md.as_bytes())
    })
    .with_context(|| format!("cannot write {}", summary.report_md.display()))?;
    let json = serde_json::json!({
        "config": config,
        "training": last.map(|e| serde_json::json!({
            "steps": e.step, "seconds": e.elapsed_s, "final_loss": e.loss,
            "seconds_per_step": e.elapsed_s / e.step.max(1) as f64,
        })),
        "files": summary.files,
    });
    let text = serde_json::to_vec_pretty(&json)?;
    ddsp_shared::atomic_file::write_atomically(&summary.report_json, |w| -> std::io::Result<()> {
        std::io::Write::write_all(w, &text)
    })
    .with_context(|| format!("cannot write {}", summary.report_json.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_every_nth_frame_and_the_first_components() {
        let mut env = Envelope::silent(250.0, 16000.0, 10, 60, 65, 100.0);
        env.harmonic_amps.iter_mut().enumerate().for_each(|(i, a)| *a = i as f32);
        let t = thin(&env, &CsvOptions { frame_step: 3, max_harmonics: 8, max_noise_bands: 5, full_resolution: false });
        t.validate().unwrap();
        assert_eq!(t.frame_indices, vec![0, 3, 6, 9]);
        assert_eq!((t.harmonic_count, t.noise_band_count), (8, 5));
        assert_eq!(t.harmonic_amps(1)[2], env.harmonic_amps(3)[2]);
    }

    #[test]
    fn a_chunk_keeps_its_frames_values() {
        let mut env = Envelope::silent(50.0, 16000.0, 300, 60, 65, 100.0);
        env.f0_hz.iter_mut().enumerate().for_each(|(i, f)| *f = i as f32);
        let c = slice_frames(&env, 200, 300);
        c.validate().unwrap();
        assert_eq!(c.frame_count(), 100);
        assert_eq!(c.f0_hz[0], 200.0);
        assert_eq!(c.frame_indices[0], 200);
    }
}

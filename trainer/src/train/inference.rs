//! A trained instrument, loaded for use: the run's config, its model on a device, and the one
//! pipeline every command that plays a model goes through (features of a recording → the
//! model's envelope → audio). `ddsp export` and `ddsp transfer` call it; nothing else loads a
//! model or repeats the steps.

use std::path::Path;

use anyhow::Context;
use burn::config::Config;
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};
use ddsp_shared::envelope::linear_band_centre_hz;
use ddsp_shared::render::offline::{render_offline, OfflineLength};
use ddsp_shared::render::{RenderParams, DEFAULT_SEED};
use ddsp_shared::Envelope;

use super::config::{TrainConfig, HARMONIC_COUNT, NOISE_BAND_COUNT};
use super::data::{analyse_source, Source};
use super::model::{DdspModel, ModelInputs};
use super::training::RunPaths;

/// A run's trained model with the config that rebuilds it, on the device it runs on.
#[derive(Debug)]
pub struct Instrument {
    /// Rates, sizes and the preset the model was trained with.
    pub config: TrainConfig,
    /// The decoder (no autodiff).
    pub model: DdspModel,
    /// Where the model's tensors live (the CPU: inference of one recording is cheap).
    pub device: Device,
}

impl Instrument {
    /// Loads the trained model of `run` (`config.json` + `model.bpk`) onto the CPU.
    pub fn load(run: &RunPaths) -> anyhow::Result<Self> {
        let device = Device::flex();
        let (config, model) = load_model(run, &device)?;
        Ok(Self { config, model, device })
    }

    /// Decodes `input` at the model rate and extracts its f0, confidence and loudness at the
    /// model's frame rate: what training reads (and caches) for each file.
    pub fn analyse(&self, input: &Path) -> anyhow::Result<Source> {
        analyse_source(input, &self.config)
    }

    /// Runs the model over a whole signal's features and returns its controls as an envelope
    /// at the model's frame rate: harmonic `k` at `(k+1)·f0`, noise bands linearly from 0 Hz
    /// to Nyquist (DDSP's layout).
    pub fn envelope(&self, f0_hz: &[f32], loudness_db: &[f32]) -> Envelope {
        let config = &self.config;
        let frames = f0_hz.len();
        let sr = config.sample_rate_hz as f64;
        let inputs = ModelInputs::from_features(f0_hz, loudness_db, 1, frames, sr as f32, &self.device);
        let (controls, _) = self.model.forward(&inputs, false);
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
}

/// Loads the trained model of a run folder onto `device` (no autodiff), with its config.
pub fn load_model(paths: &RunPaths, device: &Device) -> anyhow::Result<(TrainConfig, DdspModel)> {
    let config = TrainConfig::load(paths.config())
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", paths.config().display()))?;
    let bytes = std::fs::read(paths.model()).with_context(|| format!("cannot read {}", paths.model().display()))?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| anyhow::anyhow!("{} is not a model record: {e}", paths.model().display()))?;
    let model = DdspModel::new(&config, device)
        .try_load_record(record)
        .map_err(|e| anyhow::anyhow!("{} does not fit {}: {e}", paths.model().display(), paths.config().display()))?;
    Ok((config, model))
}

/// Renders `env` with the shared offline render at its sample rate: harmonics and noise with
/// `harmonic_volume` / `noise_volume` as given, every transform neutral, the default seed, to
/// the end of the data plus the release tail (as `ddsp render` does). The previews, the
/// report's resynthesis and `ddsp transfer` all sound through this.
pub fn render_at_model_rate(env: &Envelope, harmonic_volume: f32, noise_volume: f32) -> Vec<f32> {
    let params = RenderParams { harmonic_volume, noise_volume, ..RenderParams::default() };
    render_offline(env, &params, env.sample_rate_hz as f32, DEFAULT_SEED, OfflineLength::Window)
}

/// A tensor's values, row-major.
pub(crate) fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().expect("f32 tensor data")
}

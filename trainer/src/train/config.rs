//! The training configuration: every size and rate the model, the data preparation and the
//! optimiser depend on, saved as `config.json` beside the model record so that `ddsp export`
//! and `ddsp transfer` rebuild exactly the model that was trained.

use burn::config::Config;

/// Harmonics and noise magnitudes the decoder predicts (DDSP solo instrument: 60 and 65),
/// defined once with the real-time decoder.
pub use ddsp_shared::instrument::{HARMONIC_COUNT, NOISE_BAND_COUNT};

/// Named starting points. `quick` fits a laptop CPU, `full` is DDSP's solo-instrument setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum Preset {
    /// Small model at 50 frames/s: learns a recognisable model of a half-minute recording
    /// within 10 minutes on 2 CPU cores (2500 steps at 0.17-0.20 s per step in a release build:
    /// 7 to 8.5 minutes). The steps fill that budget because the model keeps getting closer to
    /// the recording: 1000 steps score 1.71x `ddsp analyze`'s distance on the violin, 2500
    /// steps 1.57x (docs/TRAINING.md).
    Quick,
    /// DDSP solo instrument: GRU 512, 250 frames/s, batch 16, 30k steps (a GPU job).
    Full,
}

impl Preset {
    /// The name the command line spells.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Quick => "quick",
            Preset::Full => "full",
        }
    }

    /// How to choose the other preset, for the banner before training.
    pub fn other_choice(self) -> &'static str {
        match self {
            Preset::Quick => {
                "(--preset full trains DDSP's own solo-instrument model instead: GRU 512, 250 frames/s, 30000 \
                 steps; hours even on a GPU)"
            }
            Preset::Full => "(--preset quick trains a smaller model in minutes)",
        }
    }
}

/// Everything that defines a training run. Options given on the command line override the
/// preset's values; the result is written to `config.json` in the run folder.
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// Preset this configuration started from (informational).
    pub preset: Preset,
    /// Audio rate the model is trained at, Hz (16 kHz like DDSP; 44.1/48 kHz scale the loss).
    #[config(default = 16000)]
    pub sample_rate_hz: u32,
    /// Control frames per second; `sample_rate_hz` must be a multiple of it.
    #[config(default = 250)]
    pub frame_rate_hz: u32,
    /// Length of one training example, seconds.
    #[config(default = 4.0)]
    pub example_s: f64,
    /// Hop between example starts, seconds.
    #[config(default = 1.0)]
    pub example_hop_s: f64,
    /// Width of the MLP stacks and size of the GRU.
    #[config(default = 512)]
    pub hidden: usize,
    /// Examples per step.
    #[config(default = 16)]
    pub batch_size: usize,
    /// Optimiser steps in total (a resumed run continues up to this count).
    #[config(default = 30000)]
    pub steps: usize,
    /// Adam learning rate at step 0.
    #[config(default = 3e-4)]
    pub learning_rate: f64,
    /// The learning rate is multiplied by `lr_decay_rate` every `lr_decay_steps` steps
    /// (continuously, as DDSP's exponential decay).
    #[config(default = 10000)]
    pub lr_decay_steps: usize,
    /// See `lr_decay_steps`.
    #[config(default = 0.98)]
    pub lr_decay_rate: f64,
    /// Gradients are scaled down so that their global L2 norm is at most this (DDSP: 3).
    #[config(default = 3.0)]
    pub grad_clip_norm: f64,
    /// Steps between checkpoints.
    #[config(default = 500)]
    pub checkpoint_every: usize,
    /// Seed of the weight initialisation, the data order and the synthesiser noise.
    #[config(default = 0)]
    pub seed: u64,
    /// Learn a reverb impulse response (DDSP's trainable reverb). The exported envelopes
    /// never contain it: it only keeps room sound from leaking into the harmonics and noise.
    #[config(default = false)]
    pub reverb: bool,
    /// Length of the trainable reverb, seconds.
    #[config(default = 1.0)]
    pub reverb_s: f64,
    /// Examples whose loudness never rises above this (A-weighted dB, DDSP's scale where
    /// full-scale noise is near 0 dB) are skipped as silent.
    #[config(default = -60.0)]
    pub silence_db: f64,
}

impl TrainConfig {
    /// The configuration a preset stands for.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Full => TrainConfig::new(preset),
            Preset::Quick => TrainConfig::new(preset)
                .with_frame_rate_hz(50)
                .with_hidden(128)
                .with_batch_size(4)
                .with_example_s(2.0)
                .with_steps(2500)
                .with_learning_rate(2e-3)
                .with_lr_decay_steps(1000)
                .with_lr_decay_rate(0.7)
                .with_checkpoint_every(250),
        }
    }

    /// Audio samples per control frame.
    pub fn hop_samples(&self) -> usize {
        (self.sample_rate_hz / self.frame_rate_hz) as usize
    }

    /// Control frames per example.
    pub fn example_frames(&self) -> usize {
        (self.example_s * self.frame_rate_hz as f64).round() as usize
    }

    /// Audio samples per example (a whole number of frames).
    pub fn example_samples(&self) -> usize {
        self.example_frames() * self.hop_samples()
    }

    /// Learning rate at `step`: exponential decay as in DDSP
    /// (`lr * rate^(step / decay_steps)`).
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        self.learning_rate * self.lr_decay_rate.powf(step as f64 / self.lr_decay_steps.max(1) as f64)
    }

    /// Checks the relations the rest of the trainer relies on; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        if self.sample_rate_hz < 8000 || self.sample_rate_hz > 96000 {
            return Err(format!("--sample-rate must be within 8000..=96000 Hz, got {}", self.sample_rate_hz));
        }
        if self.frame_rate_hz == 0 || !self.sample_rate_hz.is_multiple_of(self.frame_rate_hz) {
            return Err(format!(
                "the sample rate ({} Hz) must be a multiple of the frame rate ({} Hz)",
                self.sample_rate_hz, self.frame_rate_hz
            ));
        }
        if self.hop_samples() < 16 {
            return Err(format!(
                "--frame-rate {} Hz leaves {} samples per frame at {} Hz; at least 16 are needed",
                self.frame_rate_hz,
                self.hop_samples(),
                self.sample_rate_hz
            ));
        }
        if !(self.example_s.is_finite() && self.example_s > 0.0) || self.example_frames() < 4 {
            return Err(format!("--example-s must give at least 4 frames, got {} s", self.example_s));
        }
        if !(self.example_hop_s.is_finite() && self.example_hop_s > 0.0) {
            return Err(format!("--example-hop-s must be positive, got {}", self.example_hop_s));
        }
        if self.hidden == 0 || self.batch_size == 0 || self.steps == 0 || self.checkpoint_every == 0 {
            return Err("--hidden, --batch-size, --steps and --checkpoint-every must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(format!("--learning-rate must be positive, got {}", self.learning_rate));
        }
        if self.reverb && !(self.reverb_s > 0.0 && self.reverb_s <= 4.0) {
            return Err(format!("--reverb-s must be within (0, 4] s, got {}", self.reverb_s));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_full_is_ddsp_solo_instrument() {
        let full = TrainConfig::preset(Preset::Full);
        full.validate().unwrap();
        assert_eq!((full.hidden, full.frame_rate_hz, full.batch_size), (512, 250, 16));
        assert_eq!(full.example_samples(), 64000);
        let quick = TrainConfig::preset(Preset::Quick);
        quick.validate().unwrap();
        assert!(quick.hidden < full.hidden);
    }

    #[test]
    fn frame_rate_must_divide_sample_rate() {
        let err = TrainConfig::preset(Preset::Full).with_frame_rate_hz(300).validate().unwrap_err();
        assert!(err.contains("multiple of the frame rate"), "{err}");
    }

    #[test]
    fn learning_rate_decays_exponentially() {
        let c = TrainConfig::preset(Preset::Full);
        assert!((c.learning_rate_at(10000) - 3e-4 * 0.98).abs() < 1e-12);
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = TrainConfig::preset(Preset::Quick).with_seed(7);
        let json = burn::config::config_to_json(&c);
        let back: TrainConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }
}

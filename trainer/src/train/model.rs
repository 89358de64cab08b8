//! The DDSP solo-instrument decoder (Engel et al. 2020, `RnnFcDecoder`): f0 and loudness in,
//! per-frame harmonic amplitudes and noise magnitudes out.
//!
//! ```text
//! f0_scaled ─ 3 x (Dense, LayerNorm, ReLU) ─┐
//!                                           ├─ concat ─ GRU ─ concat(stacks, GRU) ─ 3 x Fc ─ Dense(126)
//! ld_scaled ─ 3 x (Dense, LayerNorm, ReLU) ─┘
//! Dense(126) = 1 amplitude | 60 harmonic distribution | 65 noise magnitudes, each exp-sigmoid scaled
//! ```

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

use super::config::{TrainConfig, HARMONIC_COUNT, NOISE_BAND_COUNT};
use burn::optim::GradientsParams;
use burn::tensor::Gradients;
use ddsp_shared::instrument::weights::{DecoderWeights, Dense, DenseNorm};
use ddsp_shared::instrument::{below_nyquist, f0_scaled, loudness_scaled, LAYER_NORM_EPSILON};
pub use ddsp_shared::instrument::{hz_to_midi, LOUDNESS_RANGE_DB, NOISE_INITIAL_BIAS};

use super::gru::{merge_into, FastGru, GruTape};
use super::inference::to_vec;
use super::synth::Reverb;

/// One Dense + LayerNorm + ReLU layer.
#[derive(Module, Debug)]
pub struct Fc {
    linear: Linear,
    norm: LayerNorm,
}

impl Fc {
    fn new(input: usize, output: usize, device: &Device) -> Self {
        let norm = LayerNormConfig::new(output).with_epsilon(LAYER_NORM_EPSILON as f64);
        Self { linear: LinearConfig::new(input, output).init(device), norm: norm.init(device) }
    }

    /// The layer's parameters as plain arrays (for the real-time decoder).
    fn weights(&self) -> DenseNorm {
        DenseNorm {
            dense: dense_weights(&self.linear),
            gamma: to_vec(self.norm.gamma.val()),
            beta: self.norm.beta.as_ref().map_or_else(|| vec![0.0; self.norm.gamma.dims()[0]], |b| to_vec(b.val())),
        }
    }

    /// # Shapes
    /// - input: `[B, T, I]` → output `[B, T, O]`
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        relu(self.norm.forward(self.linear.forward(x)))
    }
}

/// Three [`Fc`] layers.
#[derive(Module, Debug)]
pub struct FcStack {
    layers: Vec<Fc>,
}

impl FcStack {
    fn new(input: usize, width: usize, device: &Device) -> Self {
        let layers = (0..3).map(|i| Fc::new(if i == 0 { input } else { width }, width, device)).collect();
        Self { layers }
    }

    fn forward(&self, mut x: Tensor<3>) -> Tensor<3> {
        for layer in &self.layers {
            x = layer.forward(x);
        }
        x
    }

    fn weights(&self) -> [DenseNorm; 3] {
        [self.layers[0].weights(), self.layers[1].weights(), self.layers[2].weights()]
    }
}

/// A linear layer's weight (`[input, output]`, as burn and the decoder store it) and bias.
fn dense_weights(linear: &Linear) -> Dense {
    let [input, output] = linear.weight.dims();
    Dense {
        input,
        output,
        weight: to_vec(linear.weight.val()),
        bias: linear.bias.as_ref().map_or_else(|| vec![0.0; output], |b| to_vec(b.val())),
    }
}

/// The decoder and the optional trainable reverb.
#[derive(Module, Debug)]
pub struct DdspModel {
    f0_stack: FcStack,
    loudness_stack: FcStack,
    /// The recurrent layer (public so the trainer can finish its gradient tape).
    pub gru: FastGru,
    out_stack: FcStack,
    dense_out: Linear,
    /// Room response learned alongside (DDSP's trainable reverb); never exported.
    pub reverb: Option<Reverb>,
}

/// Frame-rate inputs of the decoder, prepared on the CPU (no gradients flow into them).
#[derive(Clone, Debug)]
pub struct ModelInputs {
    /// `[B, T, 1]` MIDI pitch / 127 (0 where f0 is 0).
    pub f0_scaled: Tensor<3>,
    /// `[B, T, 1]` loudness dB / 80 + 1.
    pub loudness_scaled: Tensor<3>,
    /// `[B, T, 60]` 1 where harmonic `k` (frequency `(k+1) f0`) lies below Nyquist, else 0.
    pub below_nyquist: Tensor<3>,
}

impl ModelInputs {
    /// Builds the inputs of `batch` sequences of `frames` frames from row-major f0 (Hz) and
    /// loudness (dB) values, for a model running at `sample_rate_hz`.
    pub fn from_features(
        f0_hz: &[f32],
        loudness_db: &[f32],
        batch: usize,
        frames: usize,
        sample_rate_hz: f32,
        device: &Device,
    ) -> Self {
        assert_eq!(f0_hz.len(), batch * frames);
        assert_eq!(loudness_db.len(), batch * frames);
        let f0_scaled: Vec<f32> = f0_hz.iter().map(|&f| f0_scaled(f)).collect();
        let loudness_scaled: Vec<f32> = loudness_db.iter().map(|&l| loudness_scaled(l)).collect();
        let mut mask = Vec::with_capacity(batch * frames * HARMONIC_COUNT);
        for &f in f0_hz {
            mask.extend((0..HARMONIC_COUNT).map(|k| if below_nyquist(k, f, sample_rate_hz) { 1.0f32 } else { 0.0 }));
        }
        let make =
            |v: Vec<f32>, width: usize| Tensor::<1>::from_floats(v.as_slice(), device).reshape([batch, frames, width]);
        Self {
            f0_scaled: make(f0_scaled, 1),
            loudness_scaled: make(loudness_scaled, 1),
            below_nyquist: make(mask, HARMONIC_COUNT),
        }
    }
}

/// The synthesiser controls the decoder predicts.
#[derive(Clone, Debug)]
pub struct Controls {
    /// `[B, T, 60]` linear amplitude of each harmonic (overall amplitude × normalised
    /// distribution, zero at and above Nyquist).
    pub harmonic_amps: Tensor<3>,
    /// `[B, T, 65]` linear noise magnitudes, bands from 0 Hz to Nyquist.
    pub noise_mags: Tensor<3>,
}

/// DDSP's `exp_sigmoid`: `2 · sigmoid(x)^ln(10) + 1e-7`, a positive scale that spans many
/// decades and has useful gradients everywhere.
pub fn exp_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    sigmoid(x).powf_scalar(std::f32::consts::LN_10).mul_scalar(2.0).add_scalar(1e-7)
}

impl DdspModel {
    /// A freshly initialised model for `config` (seed the device first for repeatable weights).
    pub fn new(config: &TrainConfig, device: &Device) -> Self {
        let h = config.hidden;
        Self {
            f0_stack: FcStack::new(1, h, device),
            loudness_stack: FcStack::new(1, h, device),
            gru: FastGru::new(2 * h, h, device),
            out_stack: FcStack::new(3 * h, h, device),
            dense_out: LinearConfig::new(h, 1 + HARMONIC_COUNT + NOISE_BAND_COUNT).init(device),
            reverb: config
                .reverb
                .then(|| Reverb::new((config.reverb_s * config.sample_rate_hz as f64) as usize, device)),
        }
    }

    /// The decoder's parameters as plain arrays: what the instrument file stores and
    /// `ddsp_shared::instrument::Decoder` runs in real time (the reverb is not part of it).
    pub fn decoder_weights(&self) -> DecoderWeights {
        let gru = &self.gru;
        DecoderWeights {
            hidden: gru.hidden,
            f0_stack: self.f0_stack.weights(),
            loudness_stack: self.loudness_stack.weights(),
            gru_input: dense_weights(&gru.input),
            gru_recurrent: to_vec(gru.recurrent.val()),
            gru_recurrent_bias_n: to_vec(gru.recurrent_bias_n.val()),
            out_stack: self.out_stack.weights(),
            dense_out: dense_weights(&self.dense_out),
        }
    }

    /// Predicts the synthesiser controls. With `track`, also returns the GRU's gradient tape,
    /// which the training step finishes after the backward pass.
    ///
    /// # Shapes
    /// - inputs: `[B, T, 1]` twice, `[B, T, 60]` mask
    /// - controls: `[B, T, 60]` and `[B, T, 65]`
    pub fn forward(&self, inputs: &ModelInputs, track: bool) -> (Controls, Option<ModelTape>) {
        let f0 = self.f0_stack.forward(inputs.f0_scaled.clone());
        let loudness = self.loudness_stack.forward(inputs.loudness_scaled.clone());
        let stacks = Tensor::cat(vec![loudness, f0], 2);
        let (recurrent, gru_tape) = self.gru.forward(stacks.clone(), track);
        // The skip connection around the GRU reads the stacks through a leaf, so that the
        // loss's backward pass stops here and the stacks are differentiated once, together
        // with the GRU's input side (see `ModelTape::backward_upstream`).
        let (skip, tape) = match gru_tape {
            Some(gru) => {
                let leaf = stacks.clone().detach().require_grad();
                (leaf.clone(), Some(ModelTape { gru, stacks, stacks_leaf: leaf }))
            }
            None => (stacks, None),
        };
        let x = self.out_stack.forward(Tensor::cat(vec![skip, recurrent], 2));
        let out = self.dense_out.forward(x);
        let [b, t, _] = out.dims();
        let amplitude = exp_sigmoid(out.clone().slice([0..b, 0..t, 0..1]));
        let distribution =
            exp_sigmoid(out.clone().slice([0..b, 0..t, 1..1 + HARMONIC_COUNT])) * inputs.below_nyquist.clone();
        let distribution = distribution.clone() / (distribution.sum_dim(2) + 1e-7);
        let noise = out.slice([0..b, 0..t, 1 + HARMONIC_COUNT..1 + HARMONIC_COUNT + NOISE_BAND_COUNT]);
        let controls = Controls {
            harmonic_amps: amplitude * distribution,
            noise_mags: exp_sigmoid(noise.add_scalar(NOISE_INITIAL_BIAS)),
        };
        (controls, tape)
    }
}

/// The part of the training graph that the loss's backward pass leaves out (everything
/// before and inside the GRU), with what is needed to differentiate it afterwards.
#[derive(Debug)]
pub struct ModelTape {
    gru: GruTape,
    /// The MLP stacks' output, tracked `[B, T, 2H]`.
    stacks: Tensor<3>,
    /// The leaf standing for `stacks` in the skip connection.
    stacks_leaf: Tensor<3>,
}

impl ModelTape {
    /// Completes `params` (the gradients of the loss's backward pass, `grads`) with the
    /// gradients of the GRU and the layers before it: one more backward pass, of a surrogate
    /// whose gradient equals the loss's for those parameters.
    pub fn backward_upstream(self, grads: &Gradients, model: &DdspModel, params: &mut GradientsParams) {
        let mut surrogate = self.gru.surrogate(grads, &model.gru, params);
        if let Some(g) = self.stacks_leaf.grad(grads) {
            surrogate = surrogate + (self.stacks * g.autodiff()).sum();
        }
        let upstream = GradientsParams::from_grads(surrogate.backward(), model);
        merge_into(params, upstream, model);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::config::Preset;

    #[test]
    fn controls_have_the_documented_shapes_and_respect_nyquist() {
        let device = Device::flex();
        let config = TrainConfig::preset(Preset::Quick).with_hidden(16);
        let model = DdspModel::new(&config, &device);
        // 2 examples x 5 frames; the second example at 1000 Hz: harmonics 8.. are above 8 kHz.
        let f0 = [220.0f32, 220.0, 220.0, 220.0, 220.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0];
        let ld = [-30.0f32; 10];
        let inputs = ModelInputs::from_features(&f0, &ld, 2, 5, 16000.0, &device);
        let (controls, tape) = model.forward(&inputs, false);
        assert!(tape.is_none());
        assert_eq!(controls.harmonic_amps.dims(), [2, 5, HARMONIC_COUNT]);
        assert_eq!(controls.noise_mags.dims(), [2, 5, NOISE_BAND_COUNT]);
        let amps: Vec<f32> = controls.harmonic_amps.to_data().try_to_vec().unwrap();
        let frame = &amps[5 * HARMONIC_COUNT..6 * HARMONIC_COUNT];
        assert!(frame[..7].iter().all(|&a| a > 0.0));
        assert!(frame[8..].iter().all(|&a| a == 0.0), "partials above Nyquist must be silent");
        let mags: Vec<f32> = controls.noise_mags.to_data().try_to_vec().unwrap();
        assert!(mags.iter().all(|&m| m > 0.0 && m < 2.0));
    }

    #[test]
    fn decoder_weights_have_the_shapes_the_real_time_decoder_checks() {
        let device = Device::flex();
        let config = TrainConfig::preset(Preset::Quick).with_hidden(12);
        let weights = DdspModel::new(&config, &device).decoder_weights();
        weights.validate().unwrap();
        assert_eq!(weights.hidden, 12);
    }
}

//! The playable model (SPEC §9): a trained DDSP decoder that runs frame by frame in real time,
//! without burn, and the portable instrument file that carries it.
//!
//! - [`weights`]: the decoder's layers as plain `f32` arrays, checked for shape on load.
//! - [`decoder`]: the exact trained network, one frame at a time, with its GRU state; nothing
//!   allocates after [`decoder::Decoder::new`].
//! - [`stats`]: what the training data covered (f0 and loudness of its voiced frames), so a
//!   note can be mapped into what the model has heard.
//! - [`file`](mod@file): `instrument.ddsp`, a versioned safetensors file holding all of it.
//! - [`voice`]: one live model voice: decoder frames played through the §4 renderer.
//! - [`auto_adjust`]: the DDSP notebook's adjustment of a recording's f0 and loudness into
//!   what the training covered (`ddsp transfer`).
//!
//! The network is the trainer's (DDSP's `RnnFcDecoder`):
//!
//! ```text
//! f0_scaled ─ 3 x (Dense, LayerNorm, ReLU) ─┐
//!                                           ├─ concat ─ GRU ─ concat(stacks, GRU) ─ 3 x Fc ─ Dense
//! ld_scaled ─ 3 x (Dense, LayerNorm, ReLU) ─┘
//! Dense = 1 amplitude | 60 harmonic distribution | 65 noise magnitudes, each exp-sigmoid scaled
//! ```
//!
//! The constants below define that network's inputs and outputs; the trainer uses these same
//! definitions, so what plays is what was learned.

use crate::fast_math::{fast_exp2, fast_log2, fast_sigmoid};

pub mod auto_adjust;
pub mod decoder;
pub mod file;
pub mod stats;
pub mod voice;
pub mod weights;

pub use decoder::{DecodedFrame, Decoder};
pub use file::{InstrumentFile, InstrumentFileError, FORMAT_NAME, FORMAT_VERSION};
pub use stats::TrainingStats;
pub use voice::{ModelNote, ModelVoice};
pub use weights::DecoderWeights;

/// Harmonics the decoder predicts (DDSP solo instrument: 60).
pub const HARMONIC_COUNT: usize = 60;
/// Noise magnitudes the decoder predicts (DDSP solo instrument: 65, linearly spaced from 0 Hz
/// to the model's Nyquist).
pub const NOISE_BAND_COUNT: usize = 65;
/// DDSP's range of loudness in dB: `ld_scaled = loudness_db / 80 + 1`.
pub const LOUDNESS_RANGE_DB: f32 = 80.0;
/// DDSP's initial bias of the noise magnitudes: keeps the noise quiet at the start of training.
pub const NOISE_INITIAL_BIAS: f32 = -5.0;
/// burn's (and Keras') LayerNorm epsilon.
pub const LAYER_NORM_EPSILON: f32 = 1e-5;
/// Added to the harmonic distribution's sum before it is normalised (DDSP's safe divide).
pub const DISTRIBUTION_EPSILON: f32 = 1e-7;

/// MIDI note number of `hz` (0 for 0 Hz or below, as DDSP's `hz_to_midi`).
pub fn hz_to_midi(hz: f32) -> f32 {
    if hz <= 0.0 {
        0.0
    } else {
        12.0 * (hz / 440.0).log2() + 69.0
    }
}

/// Frequency of MIDI note `midi` (fractional notes allowed), Hz.
pub fn midi_to_hz(midi: f32) -> f32 {
    440.0 * ((midi - 69.0) / 12.0).exp2()
}

/// The decoder's f0 input: MIDI pitch / 127.
pub fn f0_scaled(f0_hz: f32) -> f32 {
    hz_to_midi(f0_hz) / 127.0
}

/// The decoder's loudness input: dB / 80 + 1.
pub fn loudness_scaled(loudness_db: f32) -> f32 {
    loudness_db / LOUDNESS_RANGE_DB + 1.0
}

/// DDSP's `exp_sigmoid`: `2 · sigmoid(x)^ln(10) + 1e-7`, a positive scale that spans many
/// decades and has useful gradients everywhere.
///
/// Computed as `2 · 2^(ln(10) · log2 sigmoid(x)) + 1e-7` with [`crate::fast_math`] (the decoder
/// calls it 126 times a frame per voice, where libm's `powf` and `exp` cost more than the
/// matrix products of a small model): within 3e-6 relative of the libm form.
#[inline]
pub fn exp_sigmoid(x: f32) -> f32 {
    2.0 * fast_exp2(std::f32::consts::LN_10 * fast_log2(sigmoid(x))) + 1e-7
}

/// The logistic function.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    fast_sigmoid(x)
}

/// Whether harmonic `k` (0-based; frequency `(k+1)·f0`) lies below the Nyquist frequency of a
/// model running at `sample_rate_hz`: the decoder silences the others before normalising.
pub fn below_nyquist(k: usize, f0_hz: f32, sample_rate_hz: f32) -> bool {
    (k as f32 + 1.0) * f0_hz < sample_rate_hz / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midi_conversions_meet_at_a440() {
        assert!((hz_to_midi(440.0) - 69.0).abs() < 1e-5);
        assert_eq!(hz_to_midi(0.0), 0.0);
        assert!((midi_to_hz(76.0) - 659.255).abs() < 0.01);
        assert!((hz_to_midi(midi_to_hz(42.3)) - 42.3).abs() < 1e-4);
    }

    #[test]
    fn exp_sigmoid_spans_zero_to_two_as_the_libm_form_does() {
        assert!((exp_sigmoid(0.0) - 2.0 * 0.5f32.powf(std::f32::consts::LN_10)).abs() < 1e-7);
        assert!(exp_sigmoid(-30.0) < 1e-6);
        assert!((exp_sigmoid(30.0) - 2.0).abs() < 1e-5);
        for i in -3000..3000 {
            let x = i as f32 * 0.01;
            let libm = 2.0 * (1.0 / (1.0 + (-x).exp())).powf(std::f32::consts::LN_10) + 1e-7;
            let tolerance = 3e-6 * libm;
            assert!((exp_sigmoid(x) - libm).abs() <= tolerance, "exp_sigmoid({x}): {} vs {libm}", exp_sigmoid(x));
        }
    }
}

//! The decoder's trained parameters as plain arrays: what the instrument file stores and the
//! real-time decoder reads. Layouts follow burn: a dense layer's weight is `[input, output]`
//! row-major (`y = x W + b`), the GRU's recurrent weight `[hidden, 3·hidden]` with gate columns
//! `z | r | n`.

use super::{HARMONIC_COUNT, NOISE_BAND_COUNT};

/// A dense (fully connected) layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    /// Input width.
    pub input: usize,
    /// Output width.
    pub output: usize,
    /// `[input, output]` row-major.
    pub weight: Vec<f32>,
    /// `[output]`.
    pub bias: Vec<f32>,
}

impl Dense {
    /// A layer of zeros (for building weights before filling them).
    pub fn zeros(input: usize, output: usize) -> Self {
        Self { input, output, weight: vec![0.0; input * output], bias: vec![0.0; output] }
    }
}

/// Dense, then LayerNorm (scale `gamma`, shift `beta`), then ReLU: one layer of an MLP stack.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseNorm {
    /// The dense part.
    pub dense: Dense,
    /// LayerNorm scale, `[output]`.
    pub gamma: Vec<f32>,
    /// LayerNorm shift, `[output]`.
    pub beta: Vec<f32>,
}

impl DenseNorm {
    /// A layer with zero weights and an identity LayerNorm.
    pub fn zeros(input: usize, output: usize) -> Self {
        Self { dense: Dense::zeros(input, output), gamma: vec![1.0; output], beta: vec![0.0; output] }
    }
}

/// Every parameter of the decoder. Build one by hand ([`DecoderWeights::zeros`] then fill),
/// from the trainer's model, or by reading an instrument file; [`DecoderWeights::validate`]
/// checks that the shapes fit together.
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderWeights {
    /// Width of the MLP stacks and size of the GRU (`H`).
    pub hidden: usize,
    /// f0 stack: `1 → H → H → H`.
    pub f0_stack: [DenseNorm; 3],
    /// Loudness stack: `1 → H → H → H`.
    pub loudness_stack: [DenseNorm; 3],
    /// GRU input projection `2H → 3H` (its bias serves all three gates).
    pub gru_input: Dense,
    /// GRU recurrent weight `[H, 3H]`.
    pub gru_recurrent: Vec<f32>,
    /// GRU recurrent bias of the candidate gate, `[H]`.
    pub gru_recurrent_bias_n: Vec<f32>,
    /// Output stack: `3H → H → H → H`.
    pub out_stack: [DenseNorm; 3],
    /// Final projection `H → 1 + 60 + 65`.
    pub dense_out: Dense,
}

/// Width of the final projection: overall amplitude, harmonic distribution, noise magnitudes.
pub const OUTPUT_WIDTH: usize = 1 + HARMONIC_COUNT + NOISE_BAND_COUNT;

/// A shape that does not fit: which parameter, what was expected, what was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{name} holds {found} values where hidden size {hidden} needs {expected}")]
pub struct ShapeError {
    /// The parameter's name (as in the instrument file).
    pub name: String,
    /// The hidden size the decoder was declared with.
    pub hidden: usize,
    /// Values expected.
    pub expected: usize,
    /// Values found.
    pub found: usize,
}

impl DecoderWeights {
    /// A decoder of hidden size `hidden` with all weights zero (LayerNorm scales one).
    pub fn zeros(hidden: usize) -> Self {
        let h = hidden;
        let stack = |input| [DenseNorm::zeros(input, h), DenseNorm::zeros(h, h), DenseNorm::zeros(h, h)];
        Self {
            hidden,
            f0_stack: stack(1),
            loudness_stack: stack(1),
            gru_input: Dense::zeros(2 * h, 3 * h),
            gru_recurrent: vec![0.0; h * 3 * h],
            gru_recurrent_bias_n: vec![0.0; h],
            out_stack: stack(3 * h),
            dense_out: Dense::zeros(h, OUTPUT_WIDTH),
        }
    }

    /// A decoder of hidden size `hidden` with deterministic pseudo-random weights at the scale
    /// of a fresh initialisation (uniform within ±1/√fan-in; identity LayerNorms): what the
    /// benchmarks time at the `quick` and `full` sizes without a trained model of each.
    pub fn seeded(hidden: usize, seed: u64) -> Self {
        let mut weights = Self::zeros(hidden);
        let mut random = crate::render::random::Random::new(seed);
        let mut fill = |weight: &mut [f32], bias: &mut [f32], fan_in: usize| {
            let scale = 1.0 / (fan_in.max(1) as f32).sqrt();
            weight.iter_mut().for_each(|w| *w = scale * random.bipolar());
            bias.iter_mut().for_each(|b| *b = 0.1 * scale * random.bipolar());
        };
        for stack in [&mut weights.f0_stack, &mut weights.loudness_stack, &mut weights.out_stack] {
            for layer in stack.iter_mut() {
                fill(&mut layer.dense.weight, &mut layer.dense.bias, layer.dense.input);
            }
        }
        fill(&mut weights.gru_input.weight, &mut weights.gru_input.bias, 2 * hidden);
        fill(&mut weights.gru_recurrent, &mut weights.gru_recurrent_bias_n, hidden);
        fill(&mut weights.dense_out.weight, &mut weights.dense_out.bias, hidden);
        weights
    }

    /// Every parameter with its name in the instrument file, read-only.
    pub fn named(&self) -> Vec<(String, &[f32])> {
        let mut out: Vec<(String, &[f32])> = Vec::new();
        for (stack_name, stack) in
            [("f0_stack", &self.f0_stack), ("loudness_stack", &self.loudness_stack), ("out_stack", &self.out_stack)]
        {
            for (i, layer) in stack.iter().enumerate() {
                out.push((format!("{stack_name}.{i}.weight"), &layer.dense.weight));
                out.push((format!("{stack_name}.{i}.bias"), &layer.dense.bias));
                out.push((format!("{stack_name}.{i}.gamma"), &layer.gamma));
                out.push((format!("{stack_name}.{i}.beta"), &layer.beta));
            }
        }
        out.push(("gru.input.weight".into(), &self.gru_input.weight));
        out.push(("gru.input.bias".into(), &self.gru_input.bias));
        out.push(("gru.recurrent".into(), &self.gru_recurrent));
        out.push(("gru.recurrent_bias_n".into(), &self.gru_recurrent_bias_n));
        out.push(("dense_out.weight".into(), &self.dense_out.weight));
        out.push(("dense_out.bias".into(), &self.dense_out.bias));
        out
    }

    /// Every parameter with its name, writable (same order as [`DecoderWeights::named`]).
    pub fn named_mut(&mut self) -> Vec<(String, &mut Vec<f32>)> {
        let mut out: Vec<(String, &mut Vec<f32>)> = Vec::new();
        for (stack_name, stack) in [
            ("f0_stack", &mut self.f0_stack),
            ("loudness_stack", &mut self.loudness_stack),
            ("out_stack", &mut self.out_stack),
        ] {
            for (i, layer) in stack.iter_mut().enumerate() {
                out.push((format!("{stack_name}.{i}.weight"), &mut layer.dense.weight));
                out.push((format!("{stack_name}.{i}.bias"), &mut layer.dense.bias));
                out.push((format!("{stack_name}.{i}.gamma"), &mut layer.gamma));
                out.push((format!("{stack_name}.{i}.beta"), &mut layer.beta));
            }
        }
        out.push(("gru.input.weight".into(), &mut self.gru_input.weight));
        out.push(("gru.input.bias".into(), &mut self.gru_input.bias));
        out.push(("gru.recurrent".into(), &mut self.gru_recurrent));
        out.push(("gru.recurrent_bias_n".into(), &mut self.gru_recurrent_bias_n));
        out.push(("dense_out.weight".into(), &mut self.dense_out.weight));
        out.push(("dense_out.bias".into(), &mut self.dense_out.bias));
        out
    }

    /// Number of `f32` parameters.
    pub fn parameter_count(&self) -> usize {
        self.named().iter().map(|(_, v)| v.len()).sum()
    }

    /// Checks every array against the sizes `hidden` implies.
    pub fn validate(&self) -> Result<(), ShapeError> {
        let expected = Self::zeros(self.hidden);
        for ((name, found), (_, want)) in self.named().into_iter().zip(expected.named()) {
            if found.len() != want.len() {
                return Err(ShapeError { name, hidden: self.hidden, expected: want.len(), found: found.len() });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_size_has_the_trainers_parameter_count() {
        // Stacks: 2 x (1·128+128 + 2·(128·128+128) + 3·2·128) + out stack (384·128+128 +
        // 2·(128·128+128) + 3·2·128); GRU 256·384+384 + 128·384 + 128; dense 128·126+126.
        let w = DecoderWeights::zeros(128);
        let stack_1 = 128 + 128 + 2 * (128 * 128 + 128) + 3 * 2 * 128;
        let stack_3h = 384 * 128 + 128 + 2 * (128 * 128 + 128) + 3 * 2 * 128;
        let gru = 256 * 384 + 384 + 128 * 384 + 128;
        let dense = 128 * 126 + 126;
        assert_eq!(w.parameter_count(), 2 * stack_1 + stack_3h + gru + dense);
        w.validate().unwrap();
    }

    #[test]
    fn seeded_weights_have_the_shapes_and_differ_by_seed() {
        let a = DecoderWeights::seeded(16, 1);
        a.validate().unwrap();
        assert_eq!(a, DecoderWeights::seeded(16, 1));
        assert_ne!(a, DecoderWeights::seeded(16, 2));
        assert!(a.gru_recurrent.iter().all(|w| w.abs() <= 0.25) && a.gru_recurrent.iter().any(|w| w.abs() > 0.2));
    }

    #[test]
    fn a_wrong_shape_is_named() {
        let mut w = DecoderWeights::zeros(8);
        w.gru_recurrent.pop();
        let err = w.validate().unwrap_err();
        assert_eq!(err.name, "gru.recurrent");
        assert_eq!((err.expected, err.found), (8 * 24, 8 * 24 - 1));
    }
}

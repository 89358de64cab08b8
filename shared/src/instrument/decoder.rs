//! The real-time decoder: the trained network evaluated one frame at a time, with the GRU's
//! state carried from frame to frame (one [`Decoder`] per voice).
//!
//! [`Decoder::new`] allocates every buffer, sized by [`MAX_HIDDEN`]; [`Decoder::decode`] never
//! allocates, locks or does I/O. The weights are borrowed per call (as the renderer borrows its
//! envelope), so a voice can move to a newly imported model between frames and the audio
//! thread never owns, and so never frees, a model.
//!
//! The two input stacks see only f0 and loudness, so each input's stack output and its shares
//! of the two layers that read the stacks (the GRU input projection and the output stack's
//! first layer) are kept with the input they came from: a held note (the same f0 and loudness
//! frame after frame) skips both stacks and those shares, with exactly the numbers a
//! recomputation would give.
//!
//! The dense layers are matrix-vector products, `y = x W + b` with `W` row-major
//! `[input, output]`: the kernel streams the rows of `W` and adds `x_i · row_i` into `y`, four
//! rows at a time. On x86-64 with AVX2 and FMA (checked once at run time) the same loop is
//! compiled for those instructions with fused multiply-adds; elsewhere it is the portable
//! loop. Both agree with burn's forward pass to float rounding (see the trainer's
//! `decoder_matches_burn` test for the figure).

use super::weights::{DecoderWeights, Dense, DenseNorm};
use super::{
    below_nyquist, exp_sigmoid, f0_scaled, loudness_scaled, sigmoid, DISTRIBUTION_EPSILON, HARMONIC_COUNT,
    LAYER_NORM_EPSILON, NOISE_BAND_COUNT, NOISE_INITIAL_BIAS,
};
use crate::fast_math::fast_tanh;

/// Largest hidden size a decoder serves (DDSP's full model is 512; the file reader refuses
/// more, so a voice's buffers never need to grow).
pub const MAX_HIDDEN: usize = 1024;

/// One frame of the model's controls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodedFrame {
    /// The f0 the frame was decoded for, Hz (harmonic `k` sits at `(k+1)·f0`).
    pub f0_hz: f32,
    /// Linear amplitude of each harmonic (overall amplitude × normalised distribution; zero at
    /// and above the model's Nyquist).
    pub harmonic_amps: [f32; HARMONIC_COUNT],
    /// Linear noise magnitudes, bands linearly from 0 Hz to the model's Nyquist.
    pub noise_mags: [f32; NOISE_BAND_COUNT],
}

impl Default for DecodedFrame {
    fn default() -> Self {
        Self { f0_hz: 0.0, harmonic_amps: [0.0; HARMONIC_COUNT], noise_mags: [0.0; NOISE_BAND_COUNT] }
    }
}

/// One voice's decoder: its GRU state and the scratch of one frame.
#[derive(Clone, Debug)]
pub struct Decoder {
    /// GRU hidden state (first `hidden` values used).
    state: Vec<f32>,
    /// Scratch of width `H` (the stacks' intermediate layers).
    layer_a: Vec<f32>,
    layer_b: Vec<f32>,
    /// `[loudness stack | f0 stack | GRU output]`, `3H`: the stacks feed the GRU, all three
    /// feed the output stack.
    concat: Vec<f32>,
    /// GRU input projection and recurrent term, `3H` each.
    projection: Vec<f32>,
    recurrent: Vec<f32>,
    /// The loudness stack's and the f0 stack's shares of the GRU input projection (`3H` each)
    /// and of the output stack's first layer (`H` each), without the biases.
    loudness_projection: Vec<f32>,
    f0_projection: Vec<f32>,
    loudness_out_share: Vec<f32>,
    f0_out_share: Vec<f32>,
    /// The loudness and f0 (bits) those shares and the stack outputs in `concat` were computed
    /// for, and the weights they were computed with (by address); `None` when unknown.
    cached_loudness_bits: Option<u32>,
    cached_f0_bits: Option<u32>,
    cached_weights_addr: usize,
    /// The final projection's output.
    out: Vec<f32>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with a zero state for models up to [`MAX_HIDDEN`]. Allocates (about 60 KB).
    pub fn new() -> Self {
        let h = MAX_HIDDEN;
        Self {
            state: vec![0.0; h],
            layer_a: vec![0.0; h],
            layer_b: vec![0.0; h],
            concat: vec![0.0; 3 * h],
            projection: vec![0.0; 3 * h],
            recurrent: vec![0.0; 3 * h],
            loudness_projection: vec![0.0; 3 * h],
            f0_projection: vec![0.0; 3 * h],
            loudness_out_share: vec![0.0; h],
            f0_out_share: vec![0.0; h],
            cached_loudness_bits: None,
            cached_f0_bits: None,
            cached_weights_addr: 0,
            out: vec![0.0; super::weights::OUTPUT_WIDTH],
        }
    }

    /// Zeroes the GRU state (a new note starts as a training example does). Never allocates.
    pub fn reset(&mut self) {
        self.state.fill(0.0);
        self.forget_inputs();
    }

    /// Drops what is kept per input, so the next frame computes both stacks afresh.
    fn forget_inputs(&mut self) {
        self.cached_loudness_bits = None;
        self.cached_f0_bits = None;
    }

    /// Decodes one frame: f0 (Hz) and loudness (dB) in, the frame's controls out, for a model
    /// trained at `model_sample_rate_hz` (which sets the Nyquist limit of the harmonics).
    /// Weights larger than [`MAX_HIDDEN`] or of inconsistent shape give a silent frame.
    pub fn decode(
        &mut self,
        weights: &DecoderWeights,
        model_sample_rate_hz: f32,
        f0_hz: f32,
        loudness_db: f32,
        frame: &mut DecodedFrame,
    ) {
        let h = weights.hidden;
        frame.f0_hz = f0_hz;
        if h == 0 || h > MAX_HIDDEN || weights.validate_cheap().is_err() {
            frame.harmonic_amps.fill(0.0);
            frame.noise_mags.fill(0.0);
            return;
        }
        let weights_addr = weights as *const DecoderWeights as usize;
        if weights_addr != self.cached_weights_addr {
            self.forget_inputs();
            self.cached_weights_addr = weights_addr;
        }
        // The two input stacks, written side by side (loudness first, as the trainer
        // concatenates them), each with its share of the GRU input projection: the weight's
        // first `H` rows read the loudness stack, the next `H` the f0 stack.
        let (stacks, gru_out) = self.concat[..3 * h].split_at_mut(2 * h);
        let (loudness_out, f0_out) = stacks.split_at_mut(h);
        let (loudness_rows, f0_rows) = weights.gru_input.weight.split_at(h * 3 * h);
        let (loudness_out_rows, rest) = weights.out_stack[0].dense.weight.split_at(h * h);
        let (f0_out_rows, gru_out_rows) = rest.split_at(h * h);
        for (input, bits, cached, stack, (rows, out_rows), out, (share, out_share)) in [
            (
                loudness_scaled(loudness_db),
                loudness_db.to_bits(),
                &mut self.cached_loudness_bits,
                &weights.loudness_stack,
                (loudness_rows, loudness_out_rows),
                loudness_out,
                (&mut self.loudness_projection[..3 * h], &mut self.loudness_out_share[..h]),
            ),
            (
                f0_scaled(f0_hz),
                f0_hz.to_bits(),
                &mut self.cached_f0_bits,
                &weights.f0_stack,
                (f0_rows, f0_out_rows),
                f0_out,
                (&mut self.f0_projection[..3 * h], &mut self.f0_out_share[..h]),
            ),
        ] {
            if *cached == Some(bits) {
                continue;
            }
            let a = &mut self.layer_a[..h];
            let b = &mut self.layer_b[..h];
            dense_norm_relu(&stack[0], &[input], a);
            dense_norm_relu(&stack[1], a, b);
            dense_norm_relu(&stack[2], b, out);
            share.fill(0.0);
            matvec_add(rows, out, share);
            out_share.fill(0.0);
            matvec_add(out_rows, out, out_share);
            *cached = Some(bits);
        }

        // GRU (Keras `reset_after`): z, r from input + recurrent terms; the candidate's
        // recurrent term carries its own bias inside the reset gate.
        let projection = &mut self.projection[..3 * h];
        let recurrent = &mut self.recurrent[..3 * h];
        let state = &mut self.state[..h];
        for (((p, &bias), &l), &f) in projection
            .iter_mut()
            .zip(&weights.gru_input.bias)
            .zip(&self.loudness_projection[..3 * h])
            .zip(&self.f0_projection[..3 * h])
        {
            *p = bias + l + f;
        }
        recurrent.fill(0.0);
        matvec_add(&weights.gru_recurrent, state, recurrent);
        for j in 0..h {
            let z = sigmoid(projection[j] + recurrent[j]);
            let r = sigmoid(projection[h + j] + recurrent[h + j]);
            let n = fast_tanh(projection[2 * h + j] + r * (recurrent[2 * h + j] + weights.gru_recurrent_bias_n[j]));
            state[j] = n + z * (state[j] - n);
        }
        gru_out.copy_from_slice(state);

        // Output stack over [stacks | GRU] (the stacks' shares kept above), then the final
        // projection.
        let a = &mut self.layer_a[..h];
        let b = &mut self.layer_b[..h];
        let first = &weights.out_stack[0];
        for (((v, &bias), &l), &f) in
            a.iter_mut().zip(&first.dense.bias).zip(&self.loudness_out_share[..h]).zip(&self.f0_out_share[..h])
        {
            *v = bias + l + f;
        }
        matvec_add(gru_out_rows, &self.concat[2 * h..3 * h], a);
        norm_relu(first, a);
        dense_norm_relu(&weights.out_stack[1], a, b);
        dense_norm_relu(&weights.out_stack[2], b, a);
        dense(&weights.dense_out, a, &mut self.out);

        let amplitude = exp_sigmoid(self.out[0]);
        let mut sum = 0.0f32;
        for (k, amp) in frame.harmonic_amps.iter_mut().enumerate() {
            let d = if below_nyquist(k, f0_hz, model_sample_rate_hz) { exp_sigmoid(self.out[1 + k]) } else { 0.0 };
            *amp = d;
            sum += d;
        }
        let scale = amplitude / (sum + DISTRIBUTION_EPSILON);
        frame.harmonic_amps.iter_mut().for_each(|a| *a *= scale);
        for (b, mag) in frame.noise_mags.iter_mut().enumerate() {
            *mag = exp_sigmoid(self.out[1 + HARMONIC_COUNT + b] + NOISE_INITIAL_BIAS);
        }
    }
}

impl DecoderWeights {
    /// The O(1) shape checks `decode` relies on to index safely (the full check,
    /// [`DecoderWeights::validate`], runs where a model is loaded).
    fn validate_cheap(&self) -> Result<(), ()> {
        let h = self.hidden;
        let stack_ok = |s: &[DenseNorm; 3], input: usize| {
            s.iter().enumerate().all(|(i, l)| {
                let inp = if i == 0 { input } else { h };
                dense_ok(&l.dense, inp, h) && l.gamma.len() == h && l.beta.len() == h
            })
        };
        let ok = stack_ok(&self.f0_stack, 1)
            && stack_ok(&self.loudness_stack, 1)
            && stack_ok(&self.out_stack, 3 * h)
            && dense_ok(&self.gru_input, 2 * h, 3 * h)
            && self.gru_recurrent.len() == h * 3 * h
            && self.gru_recurrent_bias_n.len() == h
            && dense_ok(&self.dense_out, h, super::weights::OUTPUT_WIDTH);
        if ok {
            Ok(())
        } else {
            Err(())
        }
    }
}

fn dense_ok(d: &Dense, input: usize, output: usize) -> bool {
    d.input == input && d.output == output && d.weight.len() == input * output && d.bias.len() == output
}

/// `out = LayerNorm(x W + b)` then ReLU.
fn dense_norm_relu(layer: &DenseNorm, input: &[f32], out: &mut [f32]) {
    dense(&layer.dense, input, out);
    norm_relu(layer, out);
}

/// `out = ReLU(LayerNorm(out))` with the layer's scale and shift.
fn norm_relu(layer: &DenseNorm, out: &mut [f32]) {
    let n = out.len() as f32;
    let mean = out.iter().sum::<f32>() / n;
    let variance = out.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv_std = 1.0 / (variance + LAYER_NORM_EPSILON).sqrt();
    for ((v, &g), &b) in out.iter_mut().zip(&layer.gamma).zip(&layer.beta) {
        *v = ((*v - mean) * inv_std * g + b).max(0.0);
    }
}

/// `out = x W + b`.
fn dense(layer: &Dense, input: &[f32], out: &mut [f32]) {
    out.copy_from_slice(&layer.bias);
    matvec_add(&layer.weight, input, out);
}

/// `y += x W` for `W` row-major `[x.len(), y.len()]`, on the fastest kernel this CPU has.
pub fn matvec_add(w: &[f32], x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(w.len(), x.len() * y.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { matvec_add_avx2_fma(w, x, y) };
            return;
        }
    }
    matvec_add_portable(w, x, y);
}

/// The portable kernel (separate multiply and add).
pub fn matvec_add_portable(w: &[f32], x: &[f32], y: &mut [f32]) {
    matvec_body(w, x, y, |a, b, c| a * b + c);
}

/// The kernel compiled for AVX2 with fused multiply-adds.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn matvec_add_avx2_fma(w: &[f32], x: &[f32], y: &mut [f32]) {
    matvec_body(w, x, y, f32::mul_add);
}

/// Four rows of `W` per pass over `y`, so `y` is loaded and stored a quarter as often.
#[inline(always)]
fn matvec_body(w: &[f32], x: &[f32], y: &mut [f32], fma: impl Fn(f32, f32, f32) -> f32 + Copy) {
    let n = y.len();
    if n == 0 {
        return;
    }
    let mut rows = w.chunks_exact(n).zip(x.iter());
    let mut quads = x.len() / 4;
    while quads > 0 {
        let (r0, &x0) = rows.next().expect("row");
        let (r1, &x1) = rows.next().expect("row");
        let (r2, &x2) = rows.next().expect("row");
        let (r3, &x3) = rows.next().expect("row");
        for j in 0..n {
            let acc = fma(x0, r0[j], y[j]);
            let acc = fma(x1, r1[j], acc);
            let acc = fma(x2, r2[j], acc);
            y[j] = fma(x3, r3[j], acc);
        }
        quads -= 1;
    }
    for (row, &xi) in rows {
        for (yj, &wj) in y.iter_mut().zip(row) {
            *yj = fma(xi, wj, *yj);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::random::Random;

    fn random_weights(hidden: usize, seed: u64) -> DecoderWeights {
        let mut w = DecoderWeights::zeros(hidden);
        let mut rng = Random::new(seed);
        for (name, values) in w.named_mut() {
            let scale = if name.ends_with("gamma") { 0.0 } else { 0.3 };
            let offset = if name.ends_with("gamma") { 1.0 } else { 0.0 };
            values.iter_mut().for_each(|v| *v = offset + scale * rng.bipolar());
        }
        w
    }

    #[test]
    fn the_fast_kernel_matches_the_portable_one() {
        let mut rng = Random::new(5);
        for (rows, cols) in [(1, 7), (5, 384), (256, 384), (131, 126)] {
            let w: Vec<f32> = (0..rows * cols).map(|_| rng.bipolar()).collect();
            let x: Vec<f32> = (0..rows).map(|_| rng.bipolar()).collect();
            let mut fast = vec![0.5f32; cols];
            let mut portable = fast.clone();
            matvec_add(&w, &x, &mut fast);
            matvec_add_portable(&w, &x, &mut portable);
            for (a, b) in fast.iter().zip(&portable) {
                // Fused and unfused rounding differ by a few ulps of the row sums.
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn harmonics_at_and_above_nyquist_are_silent_and_the_rest_sum_to_the_amplitude() {
        let w = random_weights(16, 1);
        let mut decoder = Decoder::new();
        let mut frame = DecodedFrame::default();
        // 1000 Hz at 16 kHz: harmonics 1..=7 lie below 8 kHz.
        decoder.decode(&w, 16_000.0, 1000.0, -30.0, &mut frame);
        assert!(frame.harmonic_amps[..7].iter().all(|&a| a > 0.0));
        assert!(frame.harmonic_amps[7..].iter().all(|&a| a == 0.0));
        assert!(frame.noise_mags.iter().all(|&m| m > 0.0 && m <= 2.0));
    }

    #[test]
    fn the_state_carries_between_frames_and_reset_repeats_a_run() {
        let w = random_weights(16, 2);
        let mut decoder = Decoder::new();
        let run = |d: &mut Decoder| {
            let mut frames = Vec::new();
            for i in 0..5 {
                let mut f = DecodedFrame::default();
                d.decode(&w, 16_000.0, 220.0, -40.0 + i as f32, &mut f);
                frames.push(f);
            }
            frames
        };
        let first = run(&mut decoder);
        let carried = run(&mut decoder);
        assert_ne!(first, carried, "the GRU state must carry over");
        decoder.reset();
        assert_eq!(run(&mut decoder), first);
    }

    #[test]
    fn held_inputs_decode_exactly_as_a_full_recomputation() {
        // Held f0 and loudness, then each changing alone, then both: the kept stack outputs
        // must give the very numbers a decoder that recomputes every frame gives.
        let w = random_weights(24, 3);
        let inputs = [(220.0, -30.0), (220.0, -30.0), (220.0, -31.0), (230.0, -31.0), (230.0, -31.0), (240.0, -20.0)];
        let (mut kept, mut fresh) = (Decoder::new(), Decoder::new());
        let other = random_weights(24, 4);
        for (i, &(f0_hz, loudness_db)) in inputs.iter().cycle().take(12).enumerate() {
            let (mut a, mut b) = (DecodedFrame::default(), DecodedFrame::default());
            kept.decode(&w, 16_000.0, f0_hz, loudness_db, &mut a);
            fresh.forget_inputs();
            fresh.decode(&w, 16_000.0, f0_hz, loudness_db, &mut b);
            assert_eq!(a, b, "frame {i}");
            assert!(a.harmonic_amps.iter().any(|&x| x > 0.0));
        }
        // Another model's weights (a swap between frames) are not answered from the cache.
        let (mut a, mut b) = (DecodedFrame::default(), DecodedFrame::default());
        kept.decode(&other, 16_000.0, 240.0, -20.0, &mut a);
        fresh.forget_inputs();
        fresh.decode(&other, 16_000.0, 240.0, -20.0, &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn inconsistent_weights_give_silence_not_a_panic() {
        let mut w = random_weights(8, 3);
        w.dense_out.bias.pop();
        let mut frame = DecodedFrame { harmonic_amps: [1.0; HARMONIC_COUNT], ..DecodedFrame::default() };
        Decoder::new().decode(&w, 16_000.0, 220.0, -20.0, &mut frame);
        assert!(frame.harmonic_amps.iter().all(|&a| a == 0.0));
    }
}

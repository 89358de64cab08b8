//! A GRU whose recurrence runs outside the autodiff graph, forward and backward.
//!
//! Why not `burn::nn::gru::Gru`: it slices time step `t` out of a large differentiable `[B, T, I]`
//! input and writes each hidden state into a large `[B, T, H]` output with `slice_assign`. In
//! burn's autodiff the backward of every such slice allocates, fills and adds a gradient of the
//! *whole* tensor, so a 1000-frame example costs 1000 full-size tensors per step (measured:
//! 21.5 s per step at GRU 512, 250 frames/s, batch 16 on 2 cores, against 3.75 s in PyTorch).
//! Running the loop on small per-step burn tensors fixes the square but still pays burn's cost
//! per operation, a dozen operations a step forward and as many backward, whatever their size:
//! at the `quick` preset's `[4, 128]` states that overhead is most of the GRU's time.
//!
//! So the recurrence is plain Rust on `f32` slices:
//! 1. The input projection of all time steps, `x W_ih + b` (`[B, T, 3H]`), is one large tracked
//!    matmul; its values are read out once.
//! 2. The loop runs each sequence through the gates with `ddsp_shared`'s `matvec_add` (the real-
//!    time decoder's kernel) and keeps what the backward pass needs: each step's entering state,
//!    gates and the candidate's recurrent term.
//! 3. The hidden states come back as one `[B, T, H]` tensor, a gradient leaf while training.
//!
//! After the loss's backward pass, [`GruTape::surrogate`] takes that leaf's gradient, runs
//! backpropagation through time by hand (the gate derivatives below), registers the recurrent
//! weights' gradient (`dW_hh = Σ_t h_{t-1}ᵀ g_t`, one `[H, T·B] x [T·B, 3H]` matmul) and returns
//! the surrogate `Σ (x W_ih + b) ⊙ G`, whose backward pass gives the gradients of the input
//! projection and of everything before it (the MLP stacks). The result is exactly the gradient
//! of the loss; a unit test checks it against plain autodiff of the same recurrence.
//!
//! The gate equations are Keras' `reset_after` GRU, as DDSP (TensorFlow 2) trains it:
//! `z = σ(x_z + h W_hz)`, `r = σ(x_r + h W_hr)`, `n = tanh(x_n + r ⊙ (h W_hn + b_hn))`,
//! `h' = z ⊙ h + (1 - z) ⊙ n`.

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Gradients, Tensor, TensorData};
use ddsp_shared::instrument::decoder::matvec_add;

use super::inference::to_vec;

/// The GRU layer. Build it with [`FastGru::new`].
#[derive(Module, Debug)]
pub struct FastGru {
    /// Input projection for the update, reset and candidate gates: `[I, 3H]` + bias `[3H]`.
    pub input: Linear,
    /// Recurrent weights for the three gates, `[H, 3H]` (columns: z, r, n).
    pub recurrent: Param<Tensor<2>>,
    /// Recurrent bias of the candidate gate, `[H]` (applied inside `r ⊙ (.)`).
    pub recurrent_bias_n: Param<Tensor<1>>,
    /// Hidden size `H`.
    pub hidden: usize,
}

/// What the training forward pass leaves for [`GruTape::surrogate`].
#[derive(Debug)]
pub struct GruTape {
    /// The tracked input projection `[B, T, 3H]` (graph into the layers before the GRU).
    projection: Tensor<3>,
    /// The hidden states `[B, T, H]` as a gradient leaf: its gradient is the loss's by `h_t`.
    output: Tensor<3>,
    /// The recurrent weights `[H, 3H]` the loop ran with, row-major.
    weights: Vec<f32>,
    /// Per sequence and step, `[B, T, H]`: the state entering the step.
    previous: Vec<f32>,
    /// Per sequence and step, `[B, T, 3H]`: the gates z, r and the candidate n.
    gates: Vec<f32>,
    /// Per sequence and step, `[B, T, H]`: the candidate's recurrent term `h W_hn + b_hn`.
    recurrent_n: Vec<f32>,
}

/// The exact logistic function: `ddsp_shared::instrument::sigmoid` is a fast approximation for
/// the audio thread, and the hand-written gradients below are the exact function's.
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl FastGru {
    /// A GRU from `input_size` features to `hidden` units, initialised like Keras (Glorot
    /// uniform input weights, orthogonal-like scaled recurrent weights, zero biases).
    pub fn new(input_size: usize, hidden: usize, device: &Device) -> Self {
        let input = LinearConfig::new(input_size, 3 * hidden)
            .with_initializer(Initializer::XavierUniform { gain: 1.0 })
            .init(device);
        let recurrent = Initializer::XavierUniform { gain: 1.0 }.init_with(
            [hidden, 3 * hidden],
            Some(hidden),
            Some(hidden),
            device,
        );
        let recurrent_bias_n = Initializer::Zeros.init([hidden], device);
        Self { input, recurrent, recurrent_bias_n, hidden }
    }

    /// Runs the GRU from a zero state.
    ///
    /// With `track` (an autodiff device during training) the returned [`GruTape`] must be
    /// turned into a surrogate (`GruTape::surrogate`) after the loss's backward pass.
    ///
    /// # Shapes
    /// - input: `[B, T, I]`
    /// - output: `[B, T, H]`
    pub fn forward(&self, input: Tensor<3>, track: bool) -> (Tensor<3>, Option<GruTape>) {
        let [batch, frames, _] = input.dims();
        let h = self.hidden;
        let device = input.device();
        let projection = self.input.forward(input);
        let x = to_vec(projection.clone().detach());
        let weights = to_vec(self.recurrent.val().detach());
        let bias_n = to_vec(self.recurrent_bias_n.val().detach());

        let steps = batch * frames;
        let mut output = vec![0.0f32; steps * h];
        let kept = if track { steps } else { 0 };
        let mut previous = vec![0.0f32; kept * h];
        let mut gates = vec![0.0f32; kept * 3 * h];
        let mut recurrent_n = vec![0.0f32; kept * h];
        let mut state = vec![0.0f32; h];
        let mut rec = vec![0.0f32; 3 * h];
        for b in 0..batch {
            state.fill(0.0);
            for t in 0..frames {
                let step = b * frames + t;
                let xs = &x[step * 3 * h..(step + 1) * 3 * h];
                rec.fill(0.0);
                matvec_add(&weights, &state, &mut rec);
                if track {
                    previous[step * h..(step + 1) * h].copy_from_slice(&state);
                }
                for j in 0..h {
                    let z = sigmoid(xs[j] + rec[j]);
                    let r = sigmoid(xs[h + j] + rec[h + j]);
                    let rn = rec[2 * h + j] + bias_n[j];
                    let n = (xs[2 * h + j] + r * rn).tanh();
                    state[j] = n + z * (state[j] - n);
                    if track {
                        let g = &mut gates[step * 3 * h..(step + 1) * 3 * h];
                        (g[j], g[h + j], g[2 * h + j]) = (z, r, n);
                        recurrent_n[step * h + j] = rn;
                    }
                }
                output[step * h..(step + 1) * h].copy_from_slice(&state);
            }
        }
        let output = Tensor::<3>::from_data(TensorData::new(output, [batch, frames, h]), &device);
        if !track {
            return (output, None);
        }
        let output = output.require_grad();
        let tape = GruTape { projection, output: output.clone(), weights, previous, gates, recurrent_n };
        (output, Some(tape))
    }
}

impl GruTape {
    /// Turns the gradient of the hidden states in the loss's backward pass (`grads`) into the
    /// gradients of the recurrent weights (registered in `params`) and returns the surrogate
    /// `Σ (x W_ih + b) ⊙ G` whose backward pass gives the gradients of the input projection and
    /// of every layer before it (add it to the caller's other surrogates, then call
    /// `backward` once).
    pub fn surrogate(self, grads: &Gradients, gru: &FastGru, params: &mut GradientsParams) -> Tensor<1> {
        let [batch, frames, width] = self.projection.dims();
        let h = width / 3;
        let device = self.projection.device();
        let d_output = match self.output.grad(grads) {
            Some(g) => to_vec(g),
            None => vec![0.0; batch * frames * h],
        };
        // Wᵀ `[3H, H]`, so that `dh_{t-1} += g_t Wᵀ` runs on the same kernel as the forward.
        let mut transposed = vec![0.0f32; 3 * h * h];
        for i in 0..h {
            for j in 0..3 * h {
                transposed[j * h + i] = self.weights[i * 3 * h + j];
            }
        }
        // Per step, the gradient of the gates' pre-activations: the input side `[B, T, 3H]`,
        // and the recurrent side `g_t` (the candidate's scaled by r), time-major `[T·B, 3H]`
        // for the weight gradient's matmul.
        let mut d_input = vec![0.0f32; batch * frames * width];
        let mut d_recurrent = vec![0.0f32; frames * batch * width];
        let mut dh = vec![0.0f32; h];
        for b in 0..batch {
            dh.fill(0.0);
            for t in (0..frames).rev() {
                let step = b * frames + t;
                let g = &self.gates[step * width..(step + 1) * width];
                let before = &self.previous[step * h..(step + 1) * h];
                let rn = &self.recurrent_n[step * h..(step + 1) * h];
                let incoming = &d_output[step * h..(step + 1) * h];
                let di = &mut d_input[step * width..(step + 1) * width];
                let dr = &mut d_recurrent[(t * batch + b) * width..(t * batch + b + 1) * width];
                for j in 0..h {
                    let (z, r, n) = (g[j], g[h + j], g[2 * h + j]);
                    let d = dh[j] + incoming[j];
                    // h' = n + z (h - n)
                    let dn = d * (1.0 - z);
                    let dz = d * (before[j] - n);
                    let da_n = dn * (1.0 - n * n);
                    let da_z = dz * z * (1.0 - z);
                    let da_r = da_n * rn[j] * r * (1.0 - r);
                    (di[j], di[h + j], di[2 * h + j]) = (da_z, da_r, da_n);
                    (dr[j], dr[h + j], dr[2 * h + j]) = (da_z, da_r, da_n * r);
                    dh[j] = d * z;
                }
                matvec_add(&transposed, dr, &mut dh);
            }
        }
        let previous: Tensor<2> = Tensor::<3>::from_data(TensorData::new(self.previous, [batch, frames, h]), &device)
            .swap_dims(0, 1)
            .reshape([frames * batch, h]);
        let g_recurrent = Tensor::<2>::from_data(TensorData::new(d_recurrent, [frames * batch, width]), &device);
        let d_weights = previous.transpose().matmul(g_recurrent.clone());
        let d_bias_n = g_recurrent.slice([0..frames * batch, 2 * h..3 * h]).sum_dim(0).reshape([h]);
        params.register(gru.recurrent.id, d_weights.inner());
        params.register(gru.recurrent_bias_n.id, d_bias_n.inner());

        let g_input = Tensor::<3>::from_data(TensorData::new(d_input, [batch, frames, width]), &device);
        (self.projection * g_input).sum()
    }
}

/// Adds every gradient of `from` into `into` (parameters found in both are summed).
pub fn merge_into<M: Module>(into: &mut GradientsParams, mut from: GradientsParams, model: &M) {
    struct Merge<'a> {
        into: &'a mut GradientsParams,
        from: &'a mut GradientsParams,
    }
    impl burn::module::ModuleVisitor for Merge<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.from.remove::<D>(param.id) {
                let sum = match self.into.remove::<D>(param.id) {
                    Some(existing) => existing + g,
                    None => g,
                };
                self.into.register(param.id, sum);
            }
        }
    }
    model.visit(&mut Merge { into, from: &mut from });
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// The reference recurrence written the plain way (autodiff through everything).
    fn reference_forward(gru: &FastGru, input: Tensor<3>) -> Tensor<3> {
        let [batch, frames, _] = input.dims();
        let h = gru.hidden;
        let projection = gru.input.forward(input);
        let w = gru.recurrent.val();
        let mut hidden = Tensor::<2>::zeros([batch, h], &projection.device());
        let mut outs = Vec::new();
        for t in 0..frames {
            let x: Tensor<2> = projection.clone().slice([0..batch, t..t + 1]).reshape([batch, 3 * h]);
            let hw = hidden.clone().matmul(w.clone());
            let z = burn::tensor::activation::sigmoid(
                x.clone().slice([0..batch, 0..h]) + hw.clone().slice([0..batch, 0..h]),
            );
            let r = burn::tensor::activation::sigmoid(
                x.clone().slice([0..batch, h..2 * h]) + hw.clone().slice([0..batch, h..2 * h]),
            );
            let hn = hw.slice([0..batch, 2 * h..3 * h]) + gru.recurrent_bias_n.val().reshape([1, h]);
            let n = (x.slice([0..batch, 2 * h..3 * h]) + r * hn).tanh();
            hidden = z.clone() * hidden + (z.neg() + 1.0) * n;
            outs.push(hidden.clone());
        }
        Tensor::stack(outs, 1)
    }

    #[test]
    fn gradients_equal_plain_autodiff_of_the_same_recurrence() {
        // A short sequence, and one as long as a `quick` example at 250 frames/s (the
        // hand-written backward carries the state's gradient through every step).
        for frames in [7, 500] {
            gradients_equal_plain_autodiff(frames);
        }
    }

    fn gradients_equal_plain_autodiff(frames: usize) {
        let device = Device::flex().autodiff();
        device.seed(3);
        let gru = FastGru::new(3, 5, &device);
        // Non-zero recurrent bias so its gradient path is exercised.
        let gru = FastGru {
            recurrent_bias_n: Param::from_tensor(Tensor::random([5], Distribution::Normal(0.0, 0.5), &device)),
            ..gru
        };
        let input = Tensor::<3>::random([2, frames, 3], Distribution::Normal(0.0, 1.0), &device);
        let target = Tensor::<3>::random([2, frames, 5], Distribution::Normal(0.0, 1.0), &device);

        let (out, tape) = gru.forward(input.clone(), true);
        let reference = reference_forward(&gru, input.clone());
        let out_values: Vec<f32> = out.to_data().try_to_vec().unwrap();
        let ref_values: Vec<f32> = reference.to_data().try_to_vec().unwrap();
        for (a, b) in out_values.iter().zip(&ref_values) {
            assert!((a - b).abs() < 1e-5, "forward differs: {a} vs {b}");
        }

        let loss = (out - target.clone()).powi_scalar(2).sum();
        let mut grads = loss.backward();
        let mut fast = GradientsParams::from_module(&mut grads, &gru);
        let surrogate = tape.unwrap().surrogate(&grads, &gru, &mut fast);
        let upstream = GradientsParams::from_grads(surrogate.backward(), &gru);
        merge_into(&mut fast, upstream, &gru);

        let ref_loss = (reference - target).powi_scalar(2).sum();
        let ref_grads = GradientsParams::from_grads(ref_loss.backward(), &gru);

        let check = |name: &str, a: Option<Tensor<2>>, b: Option<Tensor<2>>| {
            let a: Vec<f32> = a.expect(name).to_data().try_to_vec().unwrap();
            let b: Vec<f32> = b.expect(name).to_data().try_to_vec().unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-4 * (1.0 + y.abs()), "{name}: {x} vs {y}");
            }
        };
        check("recurrent", fast.get(gru.recurrent.id), ref_grads.get(gru.recurrent.id));
        check("input weight", fast.get(gru.input.weight.id), ref_grads.get(gru.input.weight.id));
        let fb: Option<Tensor<1>> = fast.get(gru.recurrent_bias_n.id);
        let rb: Option<Tensor<1>> = ref_grads.get(gru.recurrent_bias_n.id);
        check("recurrent bias", fb.map(|t| t.reshape([1, 5])), rb.map(|t| t.reshape([1, 5])));
        let fb: Option<Tensor<1>> = fast.get(gru.input.bias.as_ref().unwrap().id);
        let rb: Option<Tensor<1>> = ref_grads.get(gru.input.bias.as_ref().unwrap().id);
        check("input bias", fb.map(|t| t.reshape([1, 15])), rb.map(|t| t.reshape([1, 15])));
    }
}

//! DDSP's multi-scale spectral loss, differentiable through `burn::signal::stft`.
//!
//! For each FFT size (2048, 1024, 512, 256, 128, 64 at 16 kHz; scaled with the rate to the
//! nearest power of two, so that each scale keeps its length in milliseconds) the loss adds
//! the mean absolute difference of the STFT magnitudes and of their logarithms (Hann window,
//! 75 % overlap).

use burn::signal::{hann_window, rfft};
use burn::tensor::Tensor;

pub use crate::spectral_distance::FFT_SIZES_16K;

/// Keeps `log` finite and its gradient bounded where a spectrum is empty (DDSP's `safe_log`
/// floor is 1e-5 on the magnitude; this is that floor squared, under the square root).
const POWER_FLOOR: f32 = 1e-10;

/// The FFT sizes used at `sample_rate_hz`: the 16 kHz sizes scaled by `rate / 16 kHz` and
/// rounded to the nearest power of two.
pub fn fft_sizes(sample_rate_hz: u32) -> Vec<usize> {
    let ratio = sample_rate_hz as f64 / 16000.0;
    FFT_SIZES_16K
        .iter()
        .map(|&n| {
            let exponent = ((n as f64 * ratio).log2()).round().max(4.0) as u32;
            1usize << exponent
        })
        .collect()
}

/// STFT magnitudes: `burn::signal::stft`'s frames (no centring, one-sided), with the power
/// taken from the real and imaginary parts directly (`stft` stacks them into one tensor, a copy
/// that cost 7 % of a `quick` training step, only for the power to sum them again).
///
/// # Shapes
/// - audio `[B, N]` → `[B, frames, n_fft / 2 + 1]`
fn magnitudes(audio: Tensor<2>, n_fft: usize) -> Tensor<3> {
    let device = audio.device();
    let [b, n] = audio.dims();
    let hop = n_fft / 4;
    let frames = 1 + (n - n_fft) / hop;
    let framed: Tensor<3> = audio.unfold(1, n_fft, hop);
    let windowed = framed * hann_window(n_fft, true, &device).reshape([1, 1, n_fft]);
    let (re, im) = rfft(windowed.reshape([b * frames, n_fft]), 1, Some(n_fft));
    (re.powi_scalar(2) + im.powi_scalar(2)).add_scalar(POWER_FLOOR).sqrt().reshape([b, frames, n_fft / 2 + 1])
}

/// The loss of `predicted` against `target` (both `[B, N]`), summed over the scales whose FFT
/// fits in `N`. Returns a one-element tensor.
pub fn spectral_loss(predicted: Tensor<2>, target: Tensor<2>, fft_sizes: &[usize]) -> Tensor<1> {
    let n = predicted.dims()[1];
    let mut total: Option<Tensor<1>> = None;
    for &n_fft in fft_sizes.iter().filter(|&&f| f <= n) {
        let p = magnitudes(predicted.clone(), n_fft);
        let t = magnitudes(target.clone(), n_fft);
        let term = (p.clone() - t.clone()).abs().mean() + (p.log() - t.log()).abs().mean();
        total = Some(match total {
            Some(sum) => sum + term,
            None => term,
        });
    }
    total.unwrap_or_else(|| Tensor::zeros([1], &predicted.device()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn fft_sizes_scale_with_the_rate() {
        assert_eq!(fft_sizes(16000), FFT_SIZES_16K.to_vec());
        assert_eq!(fft_sizes(48000)[0], 8192);
        assert_eq!(fft_sizes(44100)[5], 128);
    }

    #[test]
    fn loss_is_zero_for_equal_signals_and_grows_with_a_detuned_sine() {
        let device = Device::flex();
        let sine = |hz: f32| {
            let v: Vec<f32> = (0..4096).map(|n| (std::f32::consts::TAU * hz * n as f32 / 16000.0).sin()).collect();
            Tensor::<1>::from_floats(v.as_slice(), &device).reshape([1, 4096])
        };
        let sizes = fft_sizes(16000);
        let same: f32 = spectral_loss(sine(440.0), sine(440.0), &sizes).into_scalar();
        let near: f32 = spectral_loss(sine(450.0), sine(440.0), &sizes).into_scalar();
        let far: f32 = spectral_loss(sine(880.0), sine(440.0), &sizes).into_scalar();
        assert!(same.abs() < 1e-6, "{same}");
        assert!(near > 0.0 && far > near, "near {near} far {far}");
    }

    #[test]
    fn magnitudes_are_those_of_burn_s_stft() {
        use burn::signal::{stft, StftOptions};
        let device = Device::flex();
        let x = Tensor::<2>::random([2, 3000], Distribution::Uniform(-1.0, 1.0), &device);
        for n_fft in [64, 256, 2048] {
            let ours: Vec<f32> = magnitudes(x.clone(), n_fft).to_data().try_to_vec().unwrap();
            let options = StftOptions { n_fft, hop_length: n_fft / 4, win_length: None, center: false, onesided: true };
            let spectrum = stft(x.clone(), Some(hann_window(n_fft, true, &device)), options);
            let [b, frames, bins, _] = spectrum.dims();
            let power = spectrum.powi_scalar(2).sum_dim(3).reshape([b, frames, bins]);
            let theirs: Vec<f32> = power.add_scalar(POWER_FLOOR).sqrt().to_data().try_to_vec().unwrap();
            assert_eq!(ours.len(), theirs.len(), "n_fft {n_fft}");
            for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "n_fft {n_fft}, value {k}: {a} against {b}");
            }
        }
    }

    #[test]
    fn gradient_is_finite_on_silence() {
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::zeros([1, 2048], &device).require_grad();
        let target = Tensor::<2>::random([1, 2048], Distribution::Uniform(-1.0, 1.0), &device);
        let loss = spectral_loss(x.clone(), target, &fft_sizes(16000));
        let grads = loss.backward();
        let g: Vec<f32> = x.grad(&grads).unwrap().to_data().try_to_vec().unwrap();
        assert!(g.iter().all(|v| v.is_finite()));
    }
}

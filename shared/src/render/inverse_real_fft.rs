//! The inverse real FFT of a noise frame, from a spectrum held as separate real and imaginary
//! parts.
//!
//! realfft's `ComplexToRealEven` turns the `n / 2 + 1` bins of a real signal's spectrum into
//! one complex FFT of `n / 2` points, after a pass that folds each bin with its mirror (bin
//! `k` with bin `n / 2 - k`, through a twiddle). That pass is written for any number type and
//! runs one complex number at a time; for the noise frames it cost as much as the complex FFT
//! (about 6 % of a moving voice's render). Here the same pass, with the same operations in the
//! same order, runs on separate real and imaginary arrays, so its loops are SIMD, and the
//! complex FFT is rustfft's, planned as realfft plans it: the output is realfft's bit for bit
//! (tested below).

use std::sync::Arc;

use realfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// An inverse real FFT of `n` points (`n` even, at least 4). Allocates only in
/// [`InverseRealFft::new`].
pub struct InverseRealFft {
    n: usize,
    fft: Arc<dyn Fft<f32>>,
    /// realfft's twiddles `e^{+2πi k / n}` for `k` in `1..n/4`, by part.
    twiddle_re: Vec<f32>,
    twiddle_im: Vec<f32>,
    /// The mirrored bins `n/2 - k` for `k` in `1..n/4`, by part (read in rising order).
    mirror_re: Vec<f32>,
    mirror_im: Vec<f32>,
    /// The folded pairs: bin `k` and bin `n/2 - k` after the pass, by part.
    low_re: Vec<f32>,
    low_im: Vec<f32>,
    high_re: Vec<f32>,
    high_im: Vec<f32>,
    /// The complex FFT's input (`n / 2` points; overwritten by it) and scratch.
    packed: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl std::fmt::Debug for InverseRealFft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InverseRealFft").field("n", &self.n).finish()
    }
}

impl InverseRealFft {
    /// Plans the FFT of `n` points (even, at least 4) and allocates every buffer.
    pub fn new(n: usize) -> Self {
        assert!(n >= 4 && n.is_multiple_of(2), "an inverse real FFT needs an even length of at least 4, not {n}");
        let fft = FftPlanner::<f32>::new().plan_fft_inverse(n / 2);
        // realfft's: (1..n/4, rounded up).map(compute_twiddle(k, n).conj()), from f64.
        let pairs = n.div_ceil(4) - 1;
        let angle = |k: usize| -2.0 * std::f64::consts::PI / n as f64 * k as f64;
        let twiddle_re = (1..=pairs).map(|k| angle(k).cos() as f32).collect();
        let twiddle_im = (1..=pairs).map(|k| -(angle(k).sin() as f32)).collect();
        let scratch = vec![Complex::new(0.0, 0.0); fft.get_outofplace_scratch_len()];
        let zeros = || vec![0.0; pairs];
        Self {
            n,
            fft,
            twiddle_re,
            twiddle_im,
            mirror_re: zeros(),
            mirror_im: zeros(),
            low_re: zeros(),
            low_im: zeros(),
            high_re: zeros(),
            high_im: zeros(),
            packed: vec![Complex::new(0.0, 0.0); n / 2],
            scratch,
        }
    }

    /// Bins of the spectrum this transform takes: `n / 2 + 1`.
    pub fn bins(&self) -> usize {
        self.n / 2 + 1
    }

    /// The real signal of `n` samples whose spectrum is `re + i im` (`n / 2 + 1` bins each;
    /// the imaginary parts of bin 0 and bin `n / 2` are taken as 0, as a real signal has
    /// them), unnormalised as realfft's inverse is. Panics if a length is wrong (the caller
    /// sizes its buffers from [`InverseRealFft::bins`] once).
    // Inlined into the renderer's tick, which is compiled for AVX2 where the CPU has it.
    #[inline(always)]
    pub fn process(&mut self, re: &[f32], im: &[f32], out: &mut [f32]) {
        let (n, half) = (self.n, self.n / 2);
        assert!(re.len() == half + 1 && im.len() == half + 1 && out.len() == n, "inverse real FFT sizes");
        let pairs = self.twiddle_re.len();
        // The mirrors, reversed so that the fold reads every array in rising order.
        let mirrors = re[half - pairs..half].iter().rev().zip(im[half - pairs..half].iter().rev());
        for ((mr, mi), (&r, &i)) in self.mirror_re.iter_mut().zip(&mut self.mirror_im).zip(mirrors) {
            (*mr, *mi) = (r, i);
        }
        // realfft's fold of bin k (x) with bin n/2 - k (y), operation for operation.
        let xs = re[1..=pairs].iter().zip(&im[1..=pairs]);
        let ys = self.mirror_re.iter().zip(&self.mirror_im);
        let twiddles = self.twiddle_re.iter().zip(&self.twiddle_im);
        let lows = self.low_re.iter_mut().zip(&mut self.low_im);
        let highs = self.high_re.iter_mut().zip(&mut self.high_im);
        for (((((&xr, &xi), (&yr, &yi)), (&tr, &ti)), (lr, li)), (hr, hi)) in
            xs.zip(ys).zip(twiddles).zip(lows).zip(highs)
        {
            let (sum_re, sum_im) = (xr + yr, xi + yi);
            let (diff_re, diff_im) = (xr - yr, xi - yi);
            let twiddled_real = sum_im * tr + diff_re * ti;
            let twiddled_im = sum_im * ti - diff_re * tr;
            (*lr, *li) = (sum_re - twiddled_real, diff_im - twiddled_im);
            (*hr, *hi) = (sum_re + twiddled_real, -twiddled_im - diff_im);
        }
        let packed = &mut self.packed;
        // Bin 0 with bin n/2 (both real).
        packed[0] = Complex::new(re[0] + re[half], re[0] - re[half]);
        for (p, (&r, &i)) in packed[1..=pairs].iter_mut().zip(self.low_re.iter().zip(&self.low_im)) {
            *p = Complex::new(r, i);
        }
        let highs = self.high_re.iter().zip(&self.high_im);
        for (p, (&r, &i)) in packed[half - pairs..half].iter_mut().rev().zip(highs) {
            *p = Complex::new(r, i);
        }
        // With n/2 + 1 odd, the middle bin pairs with itself: doubled and conjugated.
        if !(half + 1).is_multiple_of(2) {
            let m = half / 2;
            packed[m] = Complex::new(re[m] + re[m], -(im[m] + im[m]));
        }
        // SAFETY: `Complex<f32>` is `#[repr(C)]` (re then im), so `n` floats are `n / 2` of
        // them, aligned as `f32` is; `out` is borrowed mutably for as long as the view lives.
        let out = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<Complex<f32>>(), half) };
        self.fft.process_outofplace_with_scratch(packed, out, &mut self.scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::random::Random;
    use realfft::RealFftPlanner;

    #[test]
    fn the_output_is_realffts_bit_for_bit() {
        let mut rng = Random::new(7);
        for n in [8, 12, 128, 384, 768, 1536] {
            let mut ours = InverseRealFft::new(n);
            let theirs = RealFftPlanner::<f32>::new().plan_fft_inverse(n);
            for trial in 0..4 {
                let bins = n / 2 + 1;
                let (mut re, mut im) = (vec![0.0; bins], vec![0.0; bins]);
                rng.fill_bipolar_pairs(&mut re, &mut im);
                // A spectrum silent above a bin, as a noise frame's top is.
                let top = bins * (trial + 1) / 4;
                re[top..].fill(0.0);
                im[top..].fill(0.0);
                im[0] = 0.0;
                im[bins - 1] = 0.0;
                let mut spectrum: Vec<Complex<f32>> = re.iter().zip(&im).map(|(&r, &i)| Complex::new(r, i)).collect();
                let mut expected = vec![0.0; n];
                theirs.process(&mut spectrum, &mut expected).unwrap();
                let mut got = vec![0.0; n];
                ours.process(&re, &im, &mut got);
                let differ = got.iter().zip(&expected).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
                assert_eq!(differ, 0, "{differ} of {n} samples differ (trial {trial})");
            }
        }
    }

    #[test]
    fn a_single_bin_comes_back_as_its_cosine() {
        let n = 384;
        let mut fft = InverseRealFft::new(n);
        let (mut re, im) = (vec![0.0; fft.bins()], vec![0.0; fft.bins()]);
        re[5] = 1.0;
        let mut out = vec![0.0; n];
        fft.process(&re, &im, &mut out);
        for (t, &x) in out.iter().enumerate() {
            let expected = 2.0 * (std::f32::consts::TAU * 5.0 * t as f32 / n as f32).cos();
            assert!((x - expected).abs() < 1e-5, "sample {t}: {x} against {expected}");
        }
    }
}

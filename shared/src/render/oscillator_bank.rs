//! The harmonic oscillator bank: phase-continuous sinusoids with rotating phasors.
//!
//! Each partial is a unit phasor `p` multiplied every sample by a rotator `r = e^{i w}`
//! (`w` in radians per sample); its sample is `amp * Im(p)`. No `sin()` per sample: a complex
//! multiply per partial per sample. The renderer hands the bank new frequency and amplitude
//! targets once per control tick ([`CONTROL_TICK_SAMPLES`] samples); within the tick the
//! amplitude ramps linearly per sample and the frequency too (the rotator is itself rotated by
//! `e^{i dw}` every sample, an exact linear chirp), so both are interpolated per sample.
//!
//! Exactness over time: at every tick the rotator is recomputed from the target frequency (so
//! frequency error never accumulates) and each phasor is renormalised to unit length (so
//! amplitude never drifts).
//!
//! Layout: structure-of-arrays in chunks of [`LANES`] partials, so the inner loops work on
//! fixed-size arrays that the compiler turns into SIMD.

/// Samples per control tick: targets (frame interpolation, transforms, smoothing) are
/// computed this often and ramped per sample in between.
pub const CONTROL_TICK_SAMPLES: usize = 32;

/// Partials processed side by side: enough independent phasor chains to hide the latency of
/// each chain's multiply-adds (8 SIMD registers' worth with SSE), so the bank is throughput-
/// rather than latency-bound.
pub const LANES: usize = 32;

/// Most partials the bank plays; further harmonics of an envelope are ignored.
pub const MAX_HARMONICS: usize = 512;

type Lane = [f32; LANES];

/// The bank's state, sized once by [`OscillatorBank::new`].
#[derive(Clone, Debug)]
pub struct OscillatorBank {
    /// Phasor real parts, one per partial.
    phasor_re: Vec<f32>,
    /// Phasor imaginary parts (the output sine).
    phasor_im: Vec<f32>,
    /// Frequency at the end of the last tick, radians per sample.
    omega_now: Vec<f32>,
    /// Amplitude at the end of the last tick.
    amp_now: Vec<f32>,
    /// Frequency targets for the coming tick, radians per sample (0..=π).
    omega_target: Vec<f32>,
    /// Amplitude targets for the coming tick.
    amp_target: Vec<f32>,
    /// Partials that may sound (the rest are silent and skipped).
    active: usize,
    /// Per-sample, per-lane partial sums of one tick.
    lane_sums: Vec<Lane>,
}

impl Default for OscillatorBank {
    fn default() -> Self {
        Self::new()
    }
}

impl OscillatorBank {
    /// Allocates room for [`MAX_HARMONICS`] partials.
    pub fn new() -> Self {
        let zeros = || vec![0.0; MAX_HARMONICS];
        let mut bank = Self {
            phasor_re: zeros(),
            phasor_im: zeros(),
            omega_now: zeros(),
            amp_now: zeros(),
            omega_target: zeros(),
            amp_target: zeros(),
            active: 0,
            lane_sums: vec![[0.0; LANES]; CONTROL_TICK_SAMPLES],
        };
        bank.reset();
        bank
    }

    /// Silences every partial and resets every phase to 0 (sine phase).
    pub fn reset(&mut self) {
        self.phasor_re.fill(1.0);
        self.phasor_im.fill(0.0);
        self.omega_now.fill(0.0);
        self.amp_now.fill(0.0);
        self.omega_target.fill(0.0);
        self.amp_target.fill(0.0);
        self.active = 0;
    }

    /// Sets the targets of the coming tick: `count` partials (at most [`MAX_HARMONICS`]) with
    /// frequencies in radians per sample (clamped to 0..=π) and amplitudes; partials beyond
    /// `count` fade to silence. A silent partial, and every partial with `snap_frequency` (at
    /// note start), starts the tick at its target frequency: there is nothing to glide from.
    pub fn set_targets(&mut self, omegas: &[f32], amps: &[f32], snap_frequency: bool) {
        let count = omegas.len().min(amps.len()).min(MAX_HARMONICS);
        for k in 0..count {
            let omega = omegas[k].clamp(0.0, std::f32::consts::PI);
            self.omega_target[k] = omega;
            self.amp_target[k] = amps[k];
            if snap_frequency || self.amp_now[k] == 0.0 {
                self.omega_now[k] = omega;
            }
        }
        for k in count..self.active {
            self.amp_target[k] = 0.0;
        }
        self.active = self.active.max(count);
    }

    /// Renders one tick into `out` (overwriting it), ramping from the last targets to the new
    /// ones, and drops partials that have fallen silent.
    pub fn render_tick(&mut self, out: &mut [f32; CONTROL_TICK_SAMPLES]) {
        for sums in self.lane_sums.iter_mut() {
            *sums = [0.0; LANES];
        }
        #[cfg(target_arch = "x86_64")]
        {
            // The detection result is cached in an atomic: no allocation, lock or system call.
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                unsafe { self.render_chunks_avx2() };
            } else {
                self.render_chunks();
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.render_chunks();
        for (o, sums) in out.iter_mut().zip(self.lane_sums.iter()) {
            *o = sums.iter().sum();
        }
        while self.active > 0 && self.amp_now[self.active - 1] == 0.0 && self.amp_target[self.active - 1] == 0.0 {
            self.active -= 1;
        }
    }

    /// [`OscillatorBank::render_chunks`] compiled for AVX2: twice the SIMD width of the
    /// baseline SSE2 build. The same IEEE operations in the same order (no FMA contraction), so
    /// the output is bit-identical to the portable path.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn render_chunks_avx2(&mut self) {
        self.render_chunks();
    }

    /// Adds every active partial's samples of one tick into `lane_sums`, ramping frequency and
    /// amplitude from the last targets to the new ones.
    #[inline(always)]
    fn render_chunks(&mut self) {
        let chunks = self.active.div_ceil(LANES);
        let inv_tick = 1.0 / CONTROL_TICK_SAMPLES as f32;
        for c in 0..chunks {
            let range = c * LANES..(c + 1) * LANES;
            let mut re: Lane = self.phasor_re[range.clone()].try_into().unwrap();
            let mut im: Lane = self.phasor_im[range.clone()].try_into().unwrap();
            let omega_a: Lane = self.omega_now[range.clone()].try_into().unwrap();
            let omega_b: Lane = self.omega_target[range.clone()].try_into().unwrap();
            let amp_a: Lane = self.amp_now[range.clone()].try_into().unwrap();
            let amp_b: Lane = self.amp_target[range.clone()].try_into().unwrap();

            let mut rot_re = [0.0; LANES];
            let mut rot_im = [0.0; LANES];
            let mut chirp_re = [0.0; LANES];
            let mut chirp_im = [0.0; LANES];
            let mut amp = amp_a;
            let mut amp_step = [0.0; LANES];
            for l in 0..LANES {
                (rot_im[l], rot_re[l]) = sin_cos_0_to_pi(omega_a[l]);
                (chirp_im[l], chirp_re[l]) = sin_cos_small((omega_b[l] - omega_a[l]) * inv_tick);
                amp_step[l] = (amp_b[l] - amp_a[l]) * inv_tick;
            }
            for sums in self.lane_sums.iter_mut() {
                for l in 0..LANES {
                    sums[l] += amp[l] * im[l];
                    let next_re = re[l] * rot_re[l] - im[l] * rot_im[l];
                    let next_im = re[l] * rot_im[l] + im[l] * rot_re[l];
                    re[l] = next_re;
                    im[l] = next_im;
                    let next_rot_re = rot_re[l] * chirp_re[l] - rot_im[l] * chirp_im[l];
                    let next_rot_im = rot_re[l] * chirp_im[l] + rot_im[l] * chirp_re[l];
                    rot_re[l] = next_rot_re;
                    rot_im[l] = next_rot_im;
                    amp[l] += amp_step[l];
                }
            }
            // Renormalise: one Newton step towards |p| = 1 (the error per tick is ~1e-7).
            for l in 0..LANES {
                let norm2 = re[l] * re[l] + im[l] * im[l];
                let correction = 1.5 - 0.5 * norm2;
                re[l] *= correction;
                im[l] *= correction;
            }
            self.phasor_re[range.clone()].copy_from_slice(&re);
            self.phasor_im[range.clone()].copy_from_slice(&im);
            self.omega_now[range.clone()].copy_from_slice(&omega_b);
            self.amp_now[range].copy_from_slice(&amp_b);
        }
    }
}

/// `(sin x, cos x)` for `x` in `0..=π`, accurate to ~1e-7, without a libm call (Taylor series
/// around π/2, where the remaining argument is at most π/2).
#[inline]
fn sin_cos_0_to_pi(x: f32) -> (f32, f32) {
    // sin x = cos(y), cos x = -sin(y) with y = x - π/2 in -π/2..=π/2.
    let y = x - std::f32::consts::FRAC_PI_2;
    let y2 = y * y;
    let sin_y = y
        * (1.0
            + y2 * (-1.0 / 6.0
                + y2 * (1.0 / 120.0 + y2 * (-1.0 / 5040.0 + y2 * (1.0 / 362_880.0 + y2 * (-1.0 / 39_916_800.0))))));
    let cos_y = 1.0
        + y2 * (-0.5
            + y2 * (1.0 / 24.0
                + y2 * (-1.0 / 720.0
                    + y2 * (1.0 / 40_320.0 + y2 * (-1.0 / 3_628_800.0 + y2 * (1.0 / 479_001_600.0))))));
    (cos_y, -sin_y)
}

/// `(sin x, cos x)` for small `|x|` (at most π / [`CONTROL_TICK_SAMPLES`]).
#[inline]
fn sin_cos_small(x: f32) -> (f32, f32) {
    let x2 = x * x;
    let sin = x * (1.0 + x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0))));
    let cos = 1.0 + x2 * (-0.5 + x2 * (1.0 / 24.0 + x2 * (-1.0 / 720.0)));
    (sin, cos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_sin_cos_match_libm() {
        for i in 0..=1000 {
            let x = std::f32::consts::PI * i as f32 / 1000.0;
            let (s, c) = sin_cos_0_to_pi(x);
            assert!((s - x.sin()).abs() < 3e-7 && (c - x.cos()).abs() < 3e-7, "{x}");
            let small = (x - 1.5) / 16.0;
            let (s, c) = sin_cos_small(small);
            assert!((s - small.sin()).abs() < 1e-7 && (c - small.cos()).abs() < 1e-7, "{small}");
        }
    }

    #[test]
    fn a_steady_partial_keeps_its_amplitude_and_frequency_for_a_long_time() {
        let mut bank = OscillatorBank::new();
        let omega = std::f32::consts::TAU * 1000.0 / 48_000.0;
        let mut tick = [0.0; CONTROL_TICK_SAMPLES];
        let ticks = 60 * 48_000 / CONTROL_TICK_SAMPLES;
        let mut last = Vec::new();
        for t in 0..ticks {
            bank.set_targets(&[omega], &[0.5], t == 0);
            bank.render_tick(&mut tick);
            if t >= ticks - 150 {
                last.extend_from_slice(&tick);
            }
        }
        // 4800 samples = 100 whole cycles: project onto the expected sinusoid.
        let (mut a, mut b) = (0.0f64, 0.0f64);
        for (n, &y) in last.iter().enumerate() {
            let phase = n as f64 * omega as f64;
            a += y as f64 * phase.sin();
            b += y as f64 * phase.cos();
        }
        let amplitude = 2.0 * (a * a + b * b).sqrt() / last.len() as f64;
        assert!((amplitude - 0.5).abs() < 1e-3, "after 60 s: amplitude {amplitude}");
        let peak = last.iter().fold(0.0f32, |m, y| m.max(y.abs()));
        assert!((peak - 0.5).abs() < 2e-3, "peak {peak}");
    }
}

//! The harmonic oscillator bank: phase-continuous sinusoids with rotating phasors.
//!
//! Each partial is a unit phasor `p` multiplied every sample by a rotator `r = e^{i w}`
//! (`w` in radians per sample); its sample is `amp * Im(p)`. No `sin()` per sample: a complex
//! multiply per partial per sample. The renderer hands the bank new frequency and amplitude
//! targets once per control tick (a whole number of ramps of [`RAMP_SAMPLES`] samples); within
//! the tick the amplitude ramps linearly per sample and the frequency too (the rotator is itself
//! rotated by `e^{i dw}` every sample, an exact linear chirp), so both are interpolated per
//! sample. The bank takes the tick one ramp at a time, each to its share of the way.
//!
//! Steady partials skip the chirp: a chunk whose partials all move by at most
//! [`STEADY_OMEGA_STEP`] over a ramp holds each one at the constant frequency that reaches the
//! chirp's phase at the ramp's end exactly, which strays from the chirp's phase by at most
//! `STEADY_OMEGA_STEP * RAMP_SAMPLES / 8` radians within the ramp (1e-3 rad: the difference is
//! 60 dB below the partial). Vibrato and slow glides take this path; fast glides (bounce,
//! portamento) keep the exact chirp.
//!
//! Exactness over time: at every ramp the rotator is recomputed from the target frequency (so
//! frequency error never accumulates) and each phasor is renormalised to unit length (so
//! amplitude never drifts).
//!
//! Layout: structure-of-arrays in chunks of [`LANES`] partials, so the inner loops work on
//! fixed-size arrays that the compiler turns into SIMD.
//!
//! Kernels: the portable one (plain IEEE multiplies and adds, the reference) and, chosen at run
//! time on x86-64 CPUs that have them, AVX2 with fused multiply-adds. The choice is made once
//! per bank, so one machine always renders the same samples whatever the block size; the fused
//! kernel differs from the reference by rounding only (tested below).

/// Samples per ramp: the bank recomputes every partial's rotator this often (the steady path's
/// phase bound is per ramp), and a control tick is a whole number of ramps.
pub const RAMP_SAMPLES: usize = 32;

/// Partials processed side by side: enough independent phasor chains to hide the latency of
/// each chain's multiply-adds, so the bank is throughput- rather than latency-bound.
pub const LANES: usize = 32;

/// Width of the per-sample partial sums: each sample's [`LANES`] products are folded into this
/// many running sums (one AVX register) before the final horizontal sum.
const SUM_WIDTH: usize = 8;

/// Most partials the bank plays; further harmonics of an envelope are ignored.
pub const MAX_HARMONICS: usize = 512;

/// Largest change of frequency over one ramp, radians per sample, that a partial may make and
/// still be played at a constant frequency (see the module documentation): a phase error of at
/// most 1e-3 rad, 60 dB below the partial. At 48 kHz it is 2.9 kHz per second of glide.
pub const STEADY_OMEGA_STEP: f32 = 8.0e-3 / RAMP_SAMPLES as f32;

type Lane = [f32; LANES];

/// Which inner loops the bank runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Plain multiplies and adds, compiled for the build's baseline (SSE2 on x86-64).
    Portable,
    /// AVX2 with fused multiply-adds (x86-64 only).
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
}

impl Kernel {
    /// The fastest kernel this CPU runs. The detection result is cached by the standard
    /// library in an atomic: no allocation, lock or system call after the first call.
    pub fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Kernel::Avx2Fma;
        }
        Kernel::Portable
    }
}

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
    /// Per-sample partial sums of one ramp, [`SUM_WIDTH`] wide.
    sums: Vec<[f32; SUM_WIDTH]>,
    kernel: Kernel,
}

impl Default for OscillatorBank {
    fn default() -> Self {
        Self::new()
    }
}

impl OscillatorBank {
    /// Allocates room for [`MAX_HARMONICS`] partials; runs the fastest kernel of this CPU.
    pub fn new() -> Self {
        Self::with_kernel(Kernel::best())
    }

    /// As [`OscillatorBank::new`] with a chosen kernel (the tests compare them).
    pub fn with_kernel(kernel: Kernel) -> Self {
        let zeros = || vec![0.0; MAX_HARMONICS];
        let mut bank = Self {
            phasor_re: zeros(),
            phasor_im: zeros(),
            omega_now: zeros(),
            amp_now: zeros(),
            omega_target: zeros(),
            amp_target: zeros(),
            active: 0,
            sums: vec![[0.0; SUM_WIDTH]; RAMP_SAMPLES],
            kernel,
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
    // Inlined into the renderer's tick, which is compiled for AVX2 where the CPU has it.
    #[inline(always)]
    pub fn set_targets(&mut self, omegas: &[f32], amps: &[f32], snap_frequency: bool) {
        let count = omegas.len().min(amps.len()).min(MAX_HARMONICS);
        // Silent partials at the top (above a model's Nyquist, or faded out at the output's)
        // are not activated: a tick of them adds exact zeros, and their chunks cost as much
        // as sounding ones. Any that still sound fade out below, as partials beyond `count` do.
        let count = amps[..count].iter().rposition(|&a| a != 0.0).map_or(0, |last| last + 1);
        let targets = self.omega_target[..count].iter_mut().zip(&mut self.amp_target[..count]);
        let now = self.omega_now[..count].iter_mut().zip(&self.amp_now[..count]);
        for (((omega_target, amp_target), (omega_now, &amp_now)), (&omega, &amp)) in
            targets.zip(now).zip(omegas.iter().zip(amps))
        {
            let omega = omega.clamp(0.0, std::f32::consts::PI);
            *omega_target = omega;
            *amp_target = amp;
            if snap_frequency || amp_now == 0.0 {
                *omega_now = omega;
            }
        }
        if count < self.active {
            self.amp_target[count..self.active].fill(0.0);
        }
        self.active = self.active.max(count);
    }

    /// Renders one tick into `out` (overwriting it; a whole number of [`RAMP_SAMPLES`], any
    /// remainder is silent), ramping from the last targets to the new ones, and drops partials
    /// that have fallen silent.
    pub fn render_tick(&mut self, out: &mut [f32]) {
        if self.active == 0 {
            // Nothing sounds (a noise-only sound, a finished voice): no sums to add up.
            out.fill(0.0);
            return;
        }
        let ramps = out.len() / RAMP_SAMPLES;
        for (i, ramp) in out.chunks_exact_mut(RAMP_SAMPLES).enumerate() {
            // Each ramp goes its share of the rest of the way: 1/2 then all of it for two.
            let left = ramps - i;
            self.render_ramp(ramp, if left == 1 { 1.0 } else { 1.0 / left as f32 });
        }
        out[ramps * RAMP_SAMPLES..].fill(0.0);
        while self.active > 0 && self.amp_now[self.active - 1] == 0.0 && self.amp_target[self.active - 1] == 0.0 {
            self.active -= 1;
        }
    }

    /// One ramp into `out` ([`RAMP_SAMPLES`] long), `fraction` of the way from where the
    /// partials are to their targets (1: all the way, exactly).
    fn render_ramp(&mut self, out: &mut [f32], fraction: f32) {
        for sums in self.sums.iter_mut() {
            *sums = [0.0; SUM_WIDTH];
        }
        match self.kernel {
            Kernel::Portable => self.render_chunks(fraction, |chirp, vectors| -> ChunkKernel {
                macro_rules! pick {
                    ($($c:literal, $v:literal);*) => { match (chirp, vectors) { $(($c, $v) => portable::rotate::<$c, $v>,)* _ => portable::rotate::<true, 4> } };
                }
                pick!(false, 1; false, 2; false, 3; false, 4; true, 1; true, 2; true, 3)
            }),
            // SAFETY: `Kernel::Avx2Fma` is only chosen where the CPU has AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2Fma => unsafe { self.render_chunks_avx2_fma(fraction) },
        }
        for (o, sums) in out.iter_mut().zip(self.sums.iter()) {
            *o = crate::fast_math::sum_of_lanes(sums);
        }
    }

    /// [`OscillatorBank::render_chunks`] compiled for AVX2 with fused multiply-adds.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn render_chunks_avx2_fma(&mut self, fraction: f32) {
        // SAFETY (for the kernels): this function only runs where AVX2 and FMA are present.
        self.render_chunks(fraction, |chirp, vectors| -> ChunkKernel {
            macro_rules! pick {
                ($($c:literal, $v:literal);*) => {
                    match (chirp, vectors) {
                        $(($c, $v) => |re, im, rot, ch, amp, sums| unsafe { avx2_fma::rotate::<$c, $v>(re, im, rot, ch, amp, sums) },)*
                        _ => |re, im, rot, ch, amp, sums| unsafe { avx2_fma::rotate::<true, 4>(re, im, rot, ch, amp, sums) },
                    }
                };
            }
            pick!(false, 1; false, 2; false, 3; false, 4; true, 1; true, 2; true, 3)
        });
    }

    /// Adds every active partial's samples of one tick into `sums`, ramping frequency and
    /// amplitude from the last targets to the new ones. `kernel(chirp, vectors)` gives the
    /// kernel for a chunk that chirps or not, whose active partials fill `vectors` groups of
    /// [`SUM_WIDTH`] (the last chunk of 37 partials runs one group, not four).
    #[inline(always)]
    fn render_chunks(&mut self, fraction: f32, kernel: impl Fn(bool, usize) -> ChunkKernel) {
        let chunks = self.active.div_ceil(LANES);
        let inv_ramp = 1.0 / RAMP_SAMPLES as f32;
        for c in 0..chunks {
            let vectors = (self.active - c * LANES).min(LANES).div_ceil(SUM_WIDTH);
            let range = c * LANES..(c + 1) * LANES;
            let mut re: Lane = self.phasor_re[range.clone()].try_into().unwrap();
            let mut im: Lane = self.phasor_im[range.clone()].try_into().unwrap();
            let omega_a: Lane = self.omega_now[range.clone()].try_into().unwrap();
            let mut omega_b: Lane = self.omega_target[range.clone()].try_into().unwrap();
            let amp_a: Lane = self.amp_now[range.clone()].try_into().unwrap();
            let mut amp_b: Lane = self.amp_target[range.clone()].try_into().unwrap();
            if fraction < 1.0 {
                // A ramp short of the tick's end: its share of the way to the targets.
                for l in 0..LANES {
                    omega_b[l] = omega_a[l] + (omega_b[l] - omega_a[l]) * fraction;
                    amp_b[l] = amp_a[l] + (amp_b[l] - amp_a[l]) * fraction;
                }
            }
            // Counted rather than `all(..)`: a short-circuiting search is a branch per lane,
            // a count is a few SIMD compares.
            // (A NaN step counts as moving.)
            let steady_lanes: u32 =
                omega_a.iter().zip(&omega_b).map(|(a, b)| u32::from((b - a).abs() <= STEADY_OMEGA_STEP)).sum();
            let steady = steady_lanes == LANES as u32;
            let mut amp_step = [0.0; LANES];
            for l in 0..LANES {
                amp_step[l] = (amp_b[l] - amp_a[l]) * inv_ramp;
            }
            let mut rot_re = [0.0; LANES];
            let mut rot_im = [0.0; LANES];
            if steady {
                for l in 0..LANES {
                    // The constant frequency whose phase after the tick is the chirp's:
                    // N w_a + dw N (N - 1) / 2 = N (w_a + (w_b - w_a) (N - 1) / (2 N)).
                    let omega = omega_a[l] + (omega_b[l] - omega_a[l]) * (0.5 - 0.5 * inv_ramp);
                    (rot_im[l], rot_re[l]) = sin_cos_0_to_pi(omega);
                }
                let rot = (&rot_re, &rot_im);
                kernel(false, vectors)(&mut re, &mut im, rot, rot, (&amp_a, &amp_step), &mut self.sums);
            } else {
                let mut chirp_re = [0.0; LANES];
                let mut chirp_im = [0.0; LANES];
                for l in 0..LANES {
                    (rot_im[l], rot_re[l]) = sin_cos_0_to_pi(omega_a[l]);
                    (chirp_im[l], chirp_re[l]) = sin_cos_small((omega_b[l] - omega_a[l]) * inv_ramp);
                }
                let (rot, chirp) = ((&rot_re, &rot_im), (&chirp_re, &chirp_im));
                kernel(true, vectors)(&mut re, &mut im, rot, chirp, (&amp_a, &amp_step), &mut self.sums);
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

/// A chunk's rotator (real, imaginary parts), or its chirp.
type Rotation<'a> = (&'a Lane, &'a Lane);

/// A chunk's amplitude at the tick's start and its step per sample.
type AmpRamp<'a> = (&'a Lane, &'a Lane);

/// Renders one tick of a chunk into the per-sample sums, advancing the phasors `(re, im)` by the
/// rotator every sample; a chirp kernel also turns the rotator by the chirp every sample (a
/// steady one ignores the chirp). A kernel of `V` groups reads and advances the first
/// `V * SUM_WIDTH` partials of the chunk only (the rest are silent).
type ChunkKernel = fn(&mut Lane, &mut Lane, Rotation, Rotation, AmpRamp, &mut [[f32; SUM_WIDTH]]);

/// The reference kernels: plain IEEE multiplies and adds, in the order the fast kernels follow.
mod portable {
    use super::{AmpRamp, Lane, Rotation, SUM_WIDTH};

    /// Folds one sample's products `amp * im` of the first `V` groups into its [`SUM_WIDTH`]
    /// running sums.
    #[inline(always)]
    fn accumulate<const V: usize>(sums: &mut [f32; SUM_WIDTH], amp: &Lane, im: &Lane) {
        for (j, s) in sums.iter_mut().enumerate() {
            for q in 0..V {
                let l = q * SUM_WIDTH + j;
                *s += amp[l] * im[l];
            }
        }
    }

    /// Multiplies the complex number `(re, im)` by `(by_re, by_im)`.
    #[inline(always)]
    fn turn(re: &mut f32, im: &mut f32, by_re: f32, by_im: f32) {
        let next_re = *re * by_re - *im * by_im;
        let next_im = *re * by_im + *im * by_re;
        (*re, *im) = (next_re, next_im);
    }

    /// One complex multiply per partial per sample, two with `CHIRP` (the rotator itself turns
    /// by `chirp` every sample: an exact linear chirp).
    pub(super) fn rotate<const CHIRP: bool, const V: usize>(
        re: &mut Lane,
        im: &mut Lane,
        (rot_re, rot_im): Rotation,
        (chirp_re, chirp_im): Rotation,
        (amp_start, amp_step): AmpRamp,
        sums: &mut [[f32; SUM_WIDTH]],
    ) {
        let (mut rot_re, mut rot_im, mut amp) = (*rot_re, *rot_im, *amp_start);
        for sample_sums in sums.iter_mut() {
            accumulate::<V>(sample_sums, &amp, im);
            for l in 0..V * SUM_WIDTH {
                turn(&mut re[l], &mut im[l], rot_re[l], rot_im[l]);
                if CHIRP {
                    turn(&mut rot_re[l], &mut rot_im[l], chirp_re[l], chirp_im[l]);
                }
                amp[l] += amp_step[l];
            }
        }
    }
}

/// The same kernels in AVX2 registers with fused multiply-adds: a chunk's phasors and
/// amplitudes stay in 12 of the 16 registers for the whole tick.
#[cfg(target_arch = "x86_64")]
mod avx2_fma {
    use std::arch::x86_64::*;

    use super::{AmpRamp, Lane, Rotation, SUM_WIDTH};

    /// The first `V` groups of a chunk, one register each.
    type Vectors<const V: usize> = [__m256; V];

    #[inline(always)]
    unsafe fn load<const V: usize>(lane: &Lane) -> Vectors<V> {
        std::array::from_fn(|q| unsafe { _mm256_loadu_ps(lane.as_ptr().add(q * SUM_WIDTH)) })
    }

    #[inline(always)]
    unsafe fn store<const V: usize>(v: &Vectors<V>, lane: &mut Lane) {
        for (q, v) in v.iter().enumerate() {
            unsafe { _mm256_storeu_ps(lane.as_mut_ptr().add(q * SUM_WIDTH), *v) };
        }
    }

    /// `(re, im) * (by_re, by_im)`, lane by lane.
    #[inline(always)]
    unsafe fn turn(re: __m256, im: __m256, by_re: __m256, by_im: __m256) -> (__m256, __m256) {
        unsafe {
            let im_by_im = _mm256_mul_ps(im, by_im);
            let im_by_re = _mm256_mul_ps(im, by_re);
            (_mm256_fmsub_ps(re, by_re, im_by_im), _mm256_fmadd_ps(re, by_im, im_by_re))
        }
    }

    /// [`super::portable::rotate`] in AVX2 + FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn rotate<const CHIRP: bool, const V: usize>(
        re: &mut Lane,
        im: &mut Lane,
        (rot_re, rot_im): Rotation,
        (chirp_re, chirp_im): Rotation,
        (amp_start, amp_step): AmpRamp,
        sums: &mut [[f32; SUM_WIDTH]],
    ) {
        unsafe {
            let (mut re_v, mut im_v) = (load::<V>(re), load::<V>(im));
            let (mut rot_re, mut rot_im) = (load::<V>(rot_re), load::<V>(rot_im));
            let (chirp_re, chirp_im) = (load::<V>(chirp_re), load::<V>(chirp_im));
            let (mut amp, amp_step) = (load::<V>(amp_start), load::<V>(amp_step));
            for sample_sums in sums.iter_mut() {
                let mut s = _mm256_loadu_ps(sample_sums.as_ptr());
                for q in 0..V {
                    s = _mm256_fmadd_ps(amp[q], im_v[q], s);
                }
                _mm256_storeu_ps(sample_sums.as_mut_ptr(), s);
                for q in 0..V {
                    (re_v[q], im_v[q]) = turn(re_v[q], im_v[q], rot_re[q], rot_im[q]);
                    if CHIRP {
                        (rot_re[q], rot_im[q]) = turn(rot_re[q], rot_im[q], chirp_re[q], chirp_im[q]);
                    }
                    amp[q] = _mm256_add_ps(amp[q], amp_step[q]);
                }
            }
            store(&re_v, re);
            store(&im_v, im);
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

/// `(sin x, cos x)` for small `|x|` (at most π / [`RAMP_SAMPLES`]).
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

    /// Ten seconds of 60 partials under vibrato, glides fast enough to take the chirp path
    /// and amplitude steps, from `bank`.
    fn moving_partials(mut bank: OscillatorBank) -> Vec<f32> {
        let mut out = Vec::new();
        let mut tick = [0.0; RAMP_SAMPLES];
        let (mut omegas, mut amps) = (vec![0.0; 60], vec![0.0; 60]);
        for t in 0..15_000 {
            let time_s = (t * RAMP_SAMPLES) as f32 / 48_000.0;
            // Slow vibrato for 5 s, then a one-octave glide every 0.5 s.
            let f0_hz = if time_s < 5.0 {
                196.0 * (1.0 + 0.01 * (std::f32::consts::TAU * 5.0 * time_s).sin())
            } else {
                196.0 * (1.0 + (time_s * 2.0).fract())
            };
            for k in 0..60 {
                omegas[k] = std::f32::consts::TAU * f0_hz * (k + 1) as f32 / 48_000.0;
                amps[k] = if (t / 700) % 2 == 0 { 0.1 / (k + 1) as f32 } else { 0.05 };
            }
            bank.set_targets(&omegas, &amps, t == 0);
            bank.render_tick(&mut tick);
            out.extend_from_slice(&tick);
        }
        out
    }

    #[test]
    fn the_fast_kernel_matches_the_portable_reference() {
        let reference = moving_partials(OscillatorBank::with_kernel(Kernel::Portable));
        let fast = moving_partials(OscillatorBank::new());
        let peak = reference.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let worst = reference.iter().zip(&fast).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        // Rounding only: fused multiply-adds drift the phases by a few 1e-7 rad per tick,
        // undone by nothing but bounded by the per-tick rotator recomputation.
        assert!(worst < 1e-4 * peak, "worst difference {worst} against a peak of {peak}");
        assert!(peak > 0.5, "the test signal sounds: peak {peak}");
    }

    #[test]
    fn a_tick_of_two_ramps_is_two_ticks_with_the_targets_halfway() {
        // One tick of 64 samples towards new targets against ticks of 32 towards the midpoint and
        // then the end: the same linear ramps of frequency and amplitude, the same samples.
        let (omega_a, omega_b) = (0.2f32, 0.2 + 40.0 * STEADY_OMEGA_STEP);
        let mut long = OscillatorBank::with_kernel(Kernel::Portable);
        let mut short = OscillatorBank::with_kernel(Kernel::Portable);
        let mut first = [0.0; RAMP_SAMPLES];
        for bank in [&mut long, &mut short] {
            bank.set_targets(&[omega_a, 2.0 * omega_a], &[0.2, 0.1], true);
            bank.render_tick(&mut first);
        }
        let mut tick = [0.0; 2 * RAMP_SAMPLES];
        long.set_targets(&[omega_b, 2.0 * omega_b], &[0.6, 0.02], false);
        long.render_tick(&mut tick);
        let mut halves = [0.0; 2 * RAMP_SAMPLES];
        let mid = |a: f32, b: f32| a + (b - a) * 0.5;
        short.set_targets(
            &[mid(omega_a, omega_b), 2.0 * mid(omega_a, omega_b)],
            &[mid(0.2, 0.6), mid(0.1, 0.02)],
            false,
        );
        short.render_tick(&mut halves[..RAMP_SAMPLES]);
        short.set_targets(&[omega_b, 2.0 * omega_b], &[0.6, 0.02], false);
        short.render_tick(&mut halves[RAMP_SAMPLES..]);
        let worst = tick.iter().zip(&halves).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst < 1e-6, "worst difference {worst}");
        assert!(tick[RAMP_SAMPLES..].iter().any(|&x| x.abs() > 0.3), "the tick sounds");
    }

    #[test]
    fn the_steady_path_stays_within_its_phase_bound_of_the_chirp() {
        // A partial gliding at just under the steady limit, rendered by the steady path and,
        // one tick at a time, as the exact chirp the limit is measured against.
        let omega_a = 0.3f32;
        let omega_b = omega_a + 0.99 * STEADY_OMEGA_STEP;
        let mut bank = OscillatorBank::with_kernel(Kernel::Portable);
        let mut tick = [0.0; RAMP_SAMPLES];
        bank.set_targets(&[omega_a], &[1.0], true);
        bank.render_tick(&mut tick);
        bank.set_targets(&[omega_b], &[1.0], false);
        bank.render_tick(&mut tick);
        let start_phase = omega_a as f64 * RAMP_SAMPLES as f64;
        let dw = (omega_b - omega_a) as f64 / RAMP_SAMPLES as f64;
        let worst = tick.iter().enumerate().fold(0.0f64, |m, (n, &y)| {
            let n = n as f64;
            let chirp = (start_phase + n * omega_a as f64 + dw * n * (n - 1.0) / 2.0).sin();
            m.max((y as f64 - chirp).abs())
        });
        let bound = (STEADY_OMEGA_STEP * RAMP_SAMPLES as f32 / 8.0) as f64;
        assert!(worst < bound + 1e-5, "worst {worst} against the bound {bound}");
        assert!(worst > 0.3 * bound, "the steady path was taken: worst {worst}");
    }

    #[test]
    fn a_steady_partial_keeps_its_amplitude_and_frequency_for_a_long_time() {
        let mut bank = OscillatorBank::new();
        let omega = std::f32::consts::TAU * 1000.0 / 48_000.0;
        let mut tick = [0.0; RAMP_SAMPLES];
        let ticks = 60 * 48_000 / RAMP_SAMPLES;
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

//! The harmonic oscillator bank: phase-continuous sinusoids with rotating phasors.
//!
//! Each partial is a unit phasor `p` multiplied every sample by a rotator `r = e^{i w}`
//! (`w` in radians per sample); its sample is `amp * Im(p)`. No `sin()` per sample: a complex
//! multiply per partial per sample. The renderer hands the bank new frequency and amplitude
//! targets once per control tick (a whole number of ramps of [`RAMP_SAMPLES`] samples); within
//! the tick the amplitude ramps linearly per sample and the frequency too (the rotator is itself
//! rotated by `e^{i dw}` every sample, an exact linear chirp), so both are interpolated per
//! sample.
//!
//! Steady partials skip the chirp: a span of `N` samples over which a chunk's partials all move
//! by at most [`steady_omega_step`]`(N)` holds each one at the constant frequency that reaches
//! the chirp's phase at the span's end exactly, which strays from the chirp's phase by at most
//! [`STEADY_PHASE_ERROR_RAD`] within the span (the difference is 60 dB below the partial). A
//! chunk that is steady across the whole tick plays it as one span: one rotator per partial per
//! tick, the common case of held notes and slow vibrato. Otherwise the bank takes the chunk's
//! tick one steady ramp at a time, each to its share of the way, where a ramp's own step
//! allows; a chunk too fast even for that (bounce, portamento) plays the tick as one exact
//! chirp, which needs no more than one rotator set-up however long the tick.
//!
//! A steady span whose sounding partials all lie at least about 60 Hz from 0 and from Nyquist
//! (at 48 kHz; [`recurrence_min_sin`]) is played by the second-order recurrence
//! `y[n+1] = 2 cos w y[n] - y[n-1]`, one fused multiply-add per partial per sample instead of
//! a complex multiply, started from the phasor; the phasor itself moves on by the exact
//! rotator (squared up to the span's length), so the recurrence's rounded coefficient strays
//! within a span (by at most [`RECURRENCE_PHASE_ERROR_RAD`]) but never drifts across spans.
//!
//! Exactness over time: at every span the rotator is recomputed from the target frequency (so
//! frequency error never accumulates) and each phasor is renormalised to unit length (so
//! amplitude never drifts).
//!
//! Layout: structure-of-arrays in chunks of [`LANES`] partials, so the inner loops work on
//! fixed-size arrays that the compiler turns into SIMD.
//!
//! Kernels: the portable one (plain IEEE multiplies and adds, the reference) and, chosen at run
//! time on x86-64 CPUs that have them, AVX2 with fused multiply-adds, compiled once more for
//! CPUs with AVX-512VL (the same 256-bit operations with 32 registers instead of 16, so a
//! chirping chunk's phasors, rotators and amplitudes stay in registers). The choice is made
//! once per bank, so one machine always renders the same samples whatever the block size; the
//! fused kernels differ from the reference by rounding only, and from each other not at all
//! (tested below).

use crate::fast_math::multiply_add;

/// Samples per ramp: a chunk that is not steady across a whole tick but steady across a ramp
/// recomputes its rotators this often, and a control tick is a whole number of ramps.
pub const RAMP_SAMPLES: usize = 32;

/// Most samples the bank renders at once (a control tick's longest, see
/// `render::MAX_CONTROL_TICK_SAMPLES`).
pub const MAX_TICK_SAMPLES: usize = 8 * RAMP_SAMPLES;

/// Partials processed side by side: enough independent phasor chains to hide the latency of
/// each chain's multiply-adds, so the bank is throughput- rather than latency-bound.
pub const LANES: usize = 32;

/// Width of the per-sample partial sums: each sample's [`LANES`] products are folded into this
/// many running sums (one AVX register) before the final horizontal sum.
const SUM_WIDTH: usize = 8;

/// Most partials the bank plays; further harmonics of an envelope are ignored.
pub const MAX_HARMONICS: usize = 512;

/// Most phase, radians, by which a partial played at a constant frequency over a span may stray
/// from the linear chirp it stands for: the difference is 60 dB below the partial.
pub const STEADY_PHASE_ERROR_RAD: f32 = 1.0e-3;

/// Largest change of frequency over a span of `samples`, radians per sample, that a partial may
/// make and still be played at a constant frequency (see the module documentation): a chirp
/// that moves by `d` over `N` samples strays from the constant frequency that meets it at the
/// end by at most `d N / 8`. Over a 32-sample ramp at 48 kHz that allows 2.9 kHz per second of
/// glide, over a 64-sample tick 0.7 kHz per second.
#[inline(always)]
pub const fn steady_omega_step(samples: usize) -> f32 {
    8.0 * STEADY_PHASE_ERROR_RAD / samples as f32
}

/// [`steady_omega_step`] of one ramp.
pub const STEADY_OMEGA_STEP: f32 = steady_omega_step(RAMP_SAMPLES);

type Lane = [f32; LANES];

/// Which inner loops the bank runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Plain multiplies and adds, compiled for the build's baseline (SSE2 on x86-64).
    Portable,
    /// AVX2 with fused multiply-adds (x86-64 only).
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
    /// [`Kernel::Avx2Fma`] where the CPU has AVX-512VL: the same operations and bits with
    /// twice the registers (x86-64 only; the bench's bounce, where every partial chirps, takes
    /// 15 % less time).
    #[cfg(target_arch = "x86_64")]
    Avx512Vl,
}

impl Kernel {
    /// The fastest kernel this CPU runs. The detection result is cached by the standard
    /// library in an atomic: no allocation, lock or system call after the first call.
    pub fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vl") {
                return Kernel::Avx512Vl;
            }
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
    /// Sine phase, radians, of each partial at or above `active`: it runs on at the partial's
    /// frequency while the partial is silent and skipped, so a partial that sounds again
    /// starts where its frequency took it (a partial's phase is the integral of its frequency
    /// from the start, sounding or not: docs/CSV_FORMAT.md). Read into the phasor when the
    /// partial sounds again; f64, as a silent partial may run on for hours.
    silent_phase_rad: Vec<f64>,
    /// Partials whose frequencies the last [`OscillatorBank::set_targets`] gave.
    given: usize,
    /// Per-sample partial sums of one tick, [`SUM_WIDTH`] wide.
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
            silent_phase_rad: vec![0.0; MAX_HARMONICS],
            given: 0,
            sums: vec![[0.0; SUM_WIDTH]; MAX_TICK_SAMPLES],
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
        self.silent_phase_rad.fill(0.0);
        self.given = 0;
    }

    /// Sets the targets of the coming tick: `count` partials (at most [`MAX_HARMONICS`]) with
    /// frequencies in radians per sample (clamped to 0..=π) and amplitudes; partials beyond
    /// `count` fade to silence. Every partial glides from its last frequency, silent or not (a
    /// silent one keeps its phase running, see `silent_phase_rad`), except with
    /// `snap_frequency` (at note start) and for a partial given no frequency the tick before:
    /// those start the tick at their target frequency, as there is nothing to glide from.
    // Inlined into the renderer's tick, which is compiled for AVX2 where the CPU has it.
    #[inline(always)]
    pub fn set_targets(&mut self, omegas: &[f32], amps: &[f32], snap_frequency: bool) {
        let given = omegas.len().min(amps.len()).min(MAX_HARMONICS);
        // Silent partials at the top (above a model's Nyquist, or faded out at the output's)
        // are not activated: a tick of them adds exact zeros, and their chunks cost as much
        // as sounding ones. Any that still sound fade out below, as partials beyond `count` do.
        // Their frequencies are kept all the same, for their phases.
        let count = amps[..given].iter().rposition(|&a| a != 0.0).map_or(0, |last| last + 1);
        for (omega_target, &omega) in self.omega_target[..given].iter_mut().zip(omegas) {
            *omega_target = omega.clamp(0.0, std::f32::consts::PI);
        }
        for (amp_target, &amp) in self.amp_target[..count].iter_mut().zip(amps) {
            *amp_target = amp;
        }
        if snap_frequency {
            self.omega_now[..given].copy_from_slice(&self.omega_target[..given]);
        } else if given > self.given {
            for k in self.given..given {
                if self.amp_now[k] == 0.0 {
                    self.omega_now[k] = self.omega_target[k];
                }
            }
        }
        self.given = given;
        if count < self.active {
            self.amp_target[count..self.active].fill(0.0);
        }
        // Partials that sound again start at the phase their silence ran on to.
        for k in self.active..count {
            let (sin, cos) = self.silent_phase_rad[k].sin_cos();
            self.phasor_re[k] = cos as f32;
            self.phasor_im[k] = sin as f32;
        }
        self.active = self.active.max(count);
    }

    /// Renders one tick into `out` (overwriting it; a whole number of [`RAMP_SAMPLES`] up to
    /// [`MAX_TICK_SAMPLES`], any remainder is silent), ramping from the last targets to the new
    /// ones, and drops partials that have fallen silent.
    pub fn render_tick(&mut self, out: &mut [f32]) {
        let ramps = (out.len() / RAMP_SAMPLES).min(MAX_TICK_SAMPLES / RAMP_SAMPLES);
        let samples = ramps * RAMP_SAMPLES;
        // The skipped partials' phases run on as the kernels' chirp would have taken them:
        // `N w_a + (w_b - w_a) (N - 1) / 2` over a tick of `N` samples.
        let (n, half_steps) = (samples as f64, 0.5 * samples.saturating_sub(1) as f64);
        for k in self.active..self.given {
            let (omega_a, omega_b) = (f64::from(self.omega_now[k]), f64::from(self.omega_target[k]));
            self.silent_phase_rad[k] += n * omega_a + (omega_b - omega_a) * half_steps;
            self.omega_now[k] = self.omega_target[k];
        }
        if self.active == 0 {
            // Nothing sounds (a noise-only sound, a finished voice): no sums to add up.
            out.fill(0.0);
            return;
        }
        for sums in self.sums[..samples].iter_mut() {
            *sums = [0.0; SUM_WIDTH];
        }
        let out_sums = &mut out[..samples];
        match self.kernel {
            Kernel::Portable => {
                self.render_chunks::<false>(ramps, |mode, vectors| -> ChunkKernel {
                    macro_rules! pick {
                        ($($m:ident, $v:literal);*) => { match (mode, vectors) { $(($m, $v) => portable::rotate::<$m, $v>,)* _ => portable::rotate::<CHIRP, 4> } };
                    }
                    pick!(STEADY, 1; STEADY, 2; STEADY, 3; STEADY, 4; RECURRENCE, 1; RECURRENCE, 2; RECURRENCE, 3; RECURRENCE, 4; CHIRP, 1; CHIRP, 2; CHIRP, 3; SLOW_CHIRP, 1; SLOW_CHIRP, 2; SLOW_CHIRP, 3; SLOW_CHIRP, 4)
                });
                for (o, sums) in out_sums.iter_mut().zip(&self.sums) {
                    *o = crate::fast_math::sum_of_lanes(sums);
                }
            }
            // SAFETY: `Kernel::Avx2Fma` and `Kernel::Avx512Vl` are only chosen where the CPU
            // has AVX2 and FMA (and AVX-512VL).
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2Fma | Kernel::Avx512Vl => unsafe {
                self.render_chunks_avx2_fma(ramps);
                avx2_fma::sum_rows(&self.sums[..samples], out_sums);
            },
        }
        out[samples..].fill(0.0);
        while self.active > 0 && self.amp_now[self.active - 1] == 0.0 && self.amp_target[self.active - 1] == 0.0 {
            self.active -= 1;
            let k = self.active;
            self.silent_phase_rad[k] = f64::from(self.phasor_im[k]).atan2(f64::from(self.phasor_re[k]));
        }
    }

    /// [`OscillatorBank::render_chunks`] compiled for AVX2 with fused multiply-adds, running
    /// the kernels compiled for AVX-512VL where the bank's kernel is [`Kernel::Avx512Vl`].
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn render_chunks_avx2_fma(&mut self, ramps: usize) {
        let wide_registers = self.kernel == Kernel::Avx512Vl;
        // SAFETY (for the kernels): this function only runs where AVX2 and FMA are present,
        // and with `wide_registers` where AVX-512VL is.
        self.render_chunks::<true>(ramps, |mode, vectors| -> ChunkKernel {
            macro_rules! pick {
                ($f:ident) => {
                    pick!(@ $f; STEADY, 1; STEADY, 2; STEADY, 3; STEADY, 4; RECURRENCE, 1; RECURRENCE, 2; RECURRENCE, 3; RECURRENCE, 4; CHIRP, 1; CHIRP, 2; CHIRP, 3; SLOW_CHIRP, 1; SLOW_CHIRP, 2; SLOW_CHIRP, 3; SLOW_CHIRP, 4)
                };
                (@ $f:ident; $($m:ident, $v:literal);*) => {
                    match (mode, vectors) {
                        $(($m, $v) => |re, im, rot, ch, amp, sums| unsafe { avx2_fma::$f::<$m, $v>(re, im, rot, ch, amp, sums) },)*
                        _ => |re, im, rot, ch, amp, sums| unsafe { avx2_fma::$f::<CHIRP, 4>(re, im, rot, ch, amp, sums) },
                    }
                };
            }
            if wide_registers {
                pick!(rotate_wide_registers)
            } else {
                pick!(rotate)
            }
        });
    }

    /// Adds every active partial's samples of a tick of `ramps` ramps into `sums`, ramping
    /// frequency and amplitude from the last targets to the new ones, chunk by chunk: a chunk
    /// steady across the tick in one span, a chunk steady across a ramp one ramp at a time, each
    /// ramp its share of the rest of the way (1/2, then all of it, for two), any other as one
    /// chirp across the tick. `kernel(mode, vectors)` gives the kernel of a [`Mode`] for a span
    /// whose active partials fill `vectors` groups of [`SUM_WIDTH`] (the last chunk of 37
    /// partials runs one group, not four). The spans' set-up uses fused multiply-adds where
    /// `FUSED` (only in code compiled for FMA).
    #[inline(always)]
    fn render_chunks<const FUSED: bool>(&mut self, ramps: usize, kernel: impl Fn(Mode, usize) -> ChunkKernel) {
        let chunks = self.active.div_ceil(LANES);
        let tick_samples = ramps * RAMP_SAMPLES;
        let tick_step = steady_omega_step(tick_samples);
        for c in 0..chunks {
            let vectors = (self.active - c * LANES).min(LANES).div_ceil(SUM_WIDTH);
            let kernel = |mode| kernel(mode, vectors);
            let range = c * LANES..(c + 1) * LANES;
            let mut phasor = Phasors {
                re: self.phasor_re[range.clone()].try_into().unwrap(),
                im: self.phasor_im[range.clone()].try_into().unwrap(),
            };
            let mut omega_a: Lane = self.omega_now[range.clone()].try_into().unwrap();
            let omega_target: Lane = self.omega_target[range.clone()].try_into().unwrap();
            let mut amp_a: Lane = self.amp_now[range.clone()].try_into().unwrap();
            let amp_target: Lane = self.amp_target[range.clone()].try_into().unwrap();
            if ramps > 1 && all_within(&omega_a, &omega_target, tick_step) {
                phasor.span::<FUSED>(
                    &omega_a,
                    &omega_target,
                    (&amp_a, &amp_target),
                    false,
                    &mut self.sums[..tick_samples],
                    &kernel,
                );
            } else {
                for i in 0..ramps {
                    let left = ramps - i;
                    let (mut omega_b, mut amp_b) = (omega_target, amp_target);
                    if left > 1 {
                        // A ramp short of the tick's end: its share of the way to the targets.
                        let fraction = 1.0 / left as f32;
                        for l in 0..LANES {
                            omega_b[l] = omega_a[l] + (omega_b[l] - omega_a[l]) * fraction;
                            amp_b[l] = amp_a[l] + (amp_b[l] - amp_a[l]) * fraction;
                        }
                    }
                    if !all_within(&omega_a, &omega_b, STEADY_OMEGA_STEP) {
                        // Too fast for a steady ramp (every ramp moves as far as the first):
                        // the rest of the tick is one chirp, the same line of frequency as
                        // its ramps, with one rotator set-up instead of one per ramp.
                        let rest = &mut self.sums[i * RAMP_SAMPLES..tick_samples];
                        phasor.span::<FUSED>(&omega_a, &omega_target, (&amp_a, &amp_target), true, rest, &kernel);
                        break;
                    }
                    let sums = &mut self.sums[i * RAMP_SAMPLES..(i + 1) * RAMP_SAMPLES];
                    phasor.span::<FUSED>(&omega_a, &omega_b, (&amp_a, &amp_b), false, sums, &kernel);
                    (omega_a, amp_a) = (omega_b, amp_b);
                }
            }
            self.phasor_re[range.clone()].copy_from_slice(&phasor.re);
            self.phasor_im[range.clone()].copy_from_slice(&phasor.im);
            self.omega_now[range.clone()].copy_from_slice(&omega_target);
            self.amp_now[range].copy_from_slice(&amp_target);
        }
    }
}

/// Whether every lane moves from `a` to `b` by at most `step` (a NaN step counts as moving).
#[inline(always)]
fn all_within(a: &Lane, b: &Lane, step: f32) -> bool {
    // Counted rather than `all(..)`: a short-circuiting search is a branch per lane, a count
    // is a few SIMD compares.
    let within: u32 = a.iter().zip(b).map(|(a, b)| u32::from((b - a).abs() <= step)).sum();
    within == LANES as u32
}

/// One chunk's phasors.
struct Phasors {
    re: Lane,
    im: Lane,
}

impl Phasors {
    /// Adds one span of `sums.len()` samples, frequency from `omega_a` to `omega_b` (as a chirp,
    /// or steady at the frequency that meets the chirp's phase at the span's end) and amplitude
    /// linearly from `amps.0` to `amps.1`; then renormalises the phasors.
    #[inline(always)]
    fn span<const FUSED: bool>(
        &mut self,
        omega_a: &Lane,
        omega_b: &Lane,
        (amp_a, amp_b): (&Lane, &Lane),
        chirp: bool,
        sums: &mut [[f32; SUM_WIDTH]],
        kernel: &impl Fn(Mode) -> ChunkKernel,
    ) {
        let inv_samples = 1.0 / sums.len() as f32;
        let mut amp_step = [0.0; LANES];
        for l in 0..LANES {
            amp_step[l] = (amp_b[l] - amp_a[l]) * inv_samples;
        }
        let amps = (amp_a, &amp_step);
        let mut rot_re = [0.0; LANES];
        let mut rot_im = [0.0; LANES];
        if chirp {
            let mut chirp_re = [0.0; LANES];
            let mut chirp_im = [0.0; LANES];
            for l in 0..LANES {
                (rot_im[l], rot_re[l]) = sin_cos_0_to_pi::<FUSED>(omega_a[l]);
                (chirp_im[l], chirp_re[l]) = sin_cos_small::<FUSED>((omega_b[l] - omega_a[l]) * inv_samples);
            }
            // A chirp of under 2.4e-4 rad per sample per sample (88 kHz per second at 48 kHz:
            // vibrato, bounce, slow glides) turns by an angle whose cosine rounds to 1 exactly,
            // so its rotator turns by two multiply-adds instead of a complex multiply.
            let unit: u32 = chirp_re.iter().map(|&c| u32::from(c == 1.0)).sum();
            let mode = if unit == LANES as u32 { SLOW_CHIRP } else { CHIRP };
            let (rot, chirp) = ((&rot_re, &rot_im), (&chirp_re, &chirp_im));
            kernel(mode)(&mut self.re, &mut self.im, rot, chirp, amps, sums);
        } else {
            for l in 0..LANES {
                // The constant frequency whose phase after the span is the chirp's:
                // N w_a + dw N (N - 1) / 2 = N (w_a + (w_b - w_a) (N - 1) / (2 N)).
                let omega = omega_a[l] + (omega_b[l] - omega_a[l]) * (0.5 - 0.5 * inv_samples);
                (rot_im[l], rot_re[l]) = sin_cos_0_to_pi::<FUSED>(omega);
            }
            let rot = (&rot_re, &rot_im);
            // The recurrence where every sounding partial is far enough from 0 and Nyquist
            // for its coefficient (see `recurrence_min_sin`); counted, not searched (SIMD).
            let min_sin = recurrence_min_sin(sums.len());
            let fits: u32 =
                (0..LANES).map(|l| u32::from(rot_im[l] >= min_sin || (amp_a[l] == 0.0 && amp_b[l] == 0.0))).sum();
            if fits == LANES as u32 && sums.len().is_power_of_two() {
                // y[n+1] = 2 c y[n] - y[n-1] plays sin(phase + w' n) for w' = acos(c), started
                // from the phasor one sample back along w'. `c` is the rotator's angle's cosine
                // to half an ulp, from its sine (the rotator's cosine is good to an ulp only
                // away from 0 and π, where the recurrence is most sensitive to it), and the
                // start's sine comes from (1 - c)(1 + c), exact to an ulp at both ends.
                let mut coefficient = [0.0; LANES];
                let (mut before, mut now) = ([0.0; LANES], self.im);
                for l in 0..LANES {
                    let (rc, rs) = (rot_re[l], rot_im[l]);
                    let c = if rc >= 0.0 { 1.0 - rs * rs / (1.0 + rc) } else { rs * rs / (1.0 - rc) - 1.0 };
                    let s = ((1.0 - c) * (1.0 + c)).sqrt();
                    coefficient[l] = 2.0 * c;
                    before[l] = self.im[l] * c - self.re[l] * s;
                }
                let k = (&coefficient, &coefficient);
                kernel(RECURRENCE)(&mut before, &mut now, k, k, amps, sums);
                // The phasor moves on by the exact rotator to the span's length: squared
                // log2(N) times, so the frequency is the rotator's, not the coefficient's.
                let (mut by_re, mut by_im) = (rot_re, rot_im);
                for _ in 0..sums.len().trailing_zeros() {
                    for l in 0..LANES {
                        (by_re[l], by_im[l]) = (by_re[l] * by_re[l] - by_im[l] * by_im[l], 2.0 * by_re[l] * by_im[l]);
                    }
                }
                for l in 0..LANES {
                    let (re, im) = (self.re[l], self.im[l]);
                    self.re[l] = re * by_re[l] - im * by_im[l];
                    self.im[l] = re * by_im[l] + im * by_re[l];
                }
            } else {
                kernel(STEADY)(&mut self.re, &mut self.im, rot, rot, amps, sums);
            }
        }
        // Renormalise: one Newton step towards |p| = 1 (the error per span is ~1e-7).
        for l in 0..LANES {
            let norm2 = self.re[l] * self.re[l] + self.im[l] * self.im[l];
            let correction = 1.5 - 0.5 * norm2;
            self.re[l] *= correction;
            self.im[l] *= correction;
        }
    }
}

/// How a kernel moves a chunk's partials (a const parameter of the kernels).
type Mode = u8;
/// Phasors turned by a fixed rotator every sample.
const STEADY: Mode = 0;
/// Phasors turned by a rotator that itself turns by the chirp every sample.
const CHIRP: Mode = 1;
/// [`CHIRP`] where every lane's chirp has a cosine of exactly 1: the rotator turns by
/// `(1, chirp_im)` (the same bits in the portable kernel, two fused multiply-adds in the fast
/// one).
const SLOW_CHIRP: Mode = 3;
/// A steady span as the second-order recurrence `y[n+1] = k y[n] - y[n-1]`: one fused
/// multiply-add per partial per sample instead of a complex multiply. The kernel's phasor
/// arguments are then `(y[n-1], y[n])` and the rotator's real part is `k`.
const RECURRENCE: Mode = 2;

/// Most phase, radians, by which the recurrence's sine may stray within a span from the
/// rotator's: its frequency is `acos(c)` of the rounded cosine `c`, off by up to
/// `3e-8 / sin w` per sample (half an ulp of `c` near 1), while the phasor moves on by the
/// exact rotator. Added to [`STEADY_PHASE_ERROR_RAD`], a steady partial stays within
/// 1.25e-3 rad of the chirp.
pub const RECURRENCE_PHASE_ERROR_RAD: f32 = 2.5e-4;

/// Smallest `sin w` of a sounding partial that the recurrence plays over a span of
/// `samples` within [`RECURRENCE_PHASE_ERROR_RAD`]: about 60 Hz (and as far below Nyquist) at
/// 48 kHz over a 64-sample tick. Spans with a partial closer to 0 or Nyquist keep the rotator.
#[inline(always)]
pub fn recurrence_min_sin(samples: usize) -> f32 {
    3.0e-8 * samples as f32 / RECURRENCE_PHASE_ERROR_RAD
}

/// A chunk's rotator (real, imaginary parts), or its chirp.
type Rotation<'a> = (&'a Lane, &'a Lane);

/// A chunk's amplitude at the tick's start and its step per sample.
type AmpRamp<'a> = (&'a Lane, &'a Lane);

/// Renders one span of a chunk into the per-sample sums, advancing the phasors `(re, im)` by
/// the rotator every sample; a chirp kernel also turns the rotator by the chirp every sample (a
/// steady one ignores the chirp; a recurrence one reads `(re, im)` as `(y[n-1], y[n])` and the
/// rotator's real part as the coefficient). A kernel of `V` groups reads and advances the first
/// `V * SUM_WIDTH` partials of the chunk only (the rest are silent).
type ChunkKernel = fn(&mut Lane, &mut Lane, Rotation, Rotation, AmpRamp, &mut [[f32; SUM_WIDTH]]);

/// The reference kernels: plain IEEE multiplies and adds, in the order the fast kernels follow.
mod portable {
    use super::{AmpRamp, Lane, Mode, Rotation, CHIRP, RECURRENCE, SLOW_CHIRP, SUM_WIDTH};

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

    /// One complex multiply per partial per sample, two for a chirp (the rotator itself turns
    /// by `chirp` every sample: an exact linear chirp), one multiply-add for the recurrence.
    pub(super) fn rotate<const MODE: Mode, const V: usize>(
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
                if MODE == RECURRENCE {
                    (re[l], im[l]) = (im[l], rot_re[l] * im[l] - re[l]);
                } else {
                    turn(&mut re[l], &mut im[l], rot_re[l], rot_im[l]);
                }
                if MODE == CHIRP || MODE == SLOW_CHIRP {
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

    use super::{AmpRamp, Lane, Mode, Rotation, CHIRP, RECURRENCE, SLOW_CHIRP, SUM_WIDTH};

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
    pub(super) unsafe fn rotate<const MODE: Mode, const V: usize>(
        re: &mut Lane,
        im: &mut Lane,
        rot: Rotation,
        chirp: Rotation,
        amps: AmpRamp,
        sums: &mut [[f32; SUM_WIDTH]],
    ) {
        unsafe { rotate_body::<MODE, V>(re, im, rot, chirp, amps, sums) }
    }

    /// [`rotate`] compiled for AVX-512VL: the same 256-bit operations in the same order (so
    /// the same bits), with 32 vector registers, where a chirping chunk of four groups holds
    /// 28 vectors (with 16 it spills to the stack every sample).
    #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
    pub(super) unsafe fn rotate_wide_registers<const MODE: Mode, const V: usize>(
        re: &mut Lane,
        im: &mut Lane,
        rot: Rotation,
        chirp: Rotation,
        amps: AmpRamp,
        sums: &mut [[f32; SUM_WIDTH]],
    ) {
        unsafe { rotate_body::<MODE, V>(re, im, rot, chirp, amps, sums) }
    }

    #[inline(always)]
    unsafe fn rotate_body<const MODE: Mode, const V: usize>(
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
                    if MODE == RECURRENCE {
                        (re_v[q], im_v[q]) = (im_v[q], _mm256_fmsub_ps(rot_re[q], im_v[q], re_v[q]));
                    } else {
                        (re_v[q], im_v[q]) = turn(re_v[q], im_v[q], rot_re[q], rot_im[q]);
                    }
                    if MODE == CHIRP {
                        (rot_re[q], rot_im[q]) = turn(rot_re[q], rot_im[q], chirp_re[q], chirp_im[q]);
                    }
                    if MODE == SLOW_CHIRP {
                        (rot_re[q], rot_im[q]) = (
                            _mm256_fnmadd_ps(rot_im[q], chirp_im[q], rot_re[q]),
                            _mm256_fmadd_ps(rot_re[q], chirp_im[q], rot_im[q]),
                        );
                    }
                    amp[q] = _mm256_add_ps(amp[q], amp_step[q]);
                }
            }
            store(&re_v, re);
            store(&im_v, im);
        }
    }
    /// Each row's [`crate::fast_math::sum_of_lanes`] into `out` (as many as the shorter
    /// holds), eight rows at a time: the 8 x 8 block is transposed so that the lanes add up
    /// in whole registers, in the same pairs, to the same bits.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sum_rows(rows: &[[f32; SUM_WIDTH]], out: &mut [f32]) {
        let n = rows.len().min(out.len());
        let blocks = rows[..n].chunks_exact(8).zip(out[..n].chunks_exact_mut(8));
        for (block, out) in blocks {
            unsafe {
                let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(block[i].as_ptr()));
                // Rows in pairs: [r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5]], ...
                let lo01 = _mm256_unpacklo_ps(r[0], r[1]);
                let hi01 = _mm256_unpackhi_ps(r[0], r[1]);
                let lo23 = _mm256_unpacklo_ps(r[2], r[3]);
                let hi23 = _mm256_unpackhi_ps(r[2], r[3]);
                let lo45 = _mm256_unpacklo_ps(r[4], r[5]);
                let hi45 = _mm256_unpackhi_ps(r[4], r[5]);
                let lo67 = _mm256_unpacklo_ps(r[6], r[7]);
                let hi67 = _mm256_unpackhi_ps(r[6], r[7]);
                // Lane j of rows 0-3 beside lane j + 4: [r0[0] r1[0] r2[0] r3[0] | r0[4] ... r3[4]].
                let l0_0123 = _mm256_shuffle_ps::<0x44>(lo01, lo23);
                let l1_0123 = _mm256_shuffle_ps::<0xEE>(lo01, lo23);
                let l2_0123 = _mm256_shuffle_ps::<0x44>(hi01, hi23);
                let l3_0123 = _mm256_shuffle_ps::<0xEE>(hi01, hi23);
                let l0_4567 = _mm256_shuffle_ps::<0x44>(lo45, lo67);
                let l1_4567 = _mm256_shuffle_ps::<0xEE>(lo45, lo67);
                let l2_4567 = _mm256_shuffle_ps::<0x44>(hi45, hi67);
                let l3_4567 = _mm256_shuffle_ps::<0xEE>(hi45, hi67);
                // Lane j of all eight rows.
                let lane = |a: __m256, b: __m256, upper: bool| {
                    if upper {
                        _mm256_permute2f128_ps::<0x31>(a, b)
                    } else {
                        _mm256_permute2f128_ps::<0x20>(a, b)
                    }
                };
                let l: [__m256; 8] = [
                    lane(l0_0123, l0_4567, false),
                    lane(l1_0123, l1_4567, false),
                    lane(l2_0123, l2_4567, false),
                    lane(l3_0123, l3_4567, false),
                    lane(l0_0123, l0_4567, true),
                    lane(l1_0123, l1_4567, true),
                    lane(l2_0123, l2_4567, true),
                    lane(l3_0123, l3_4567, true),
                ];
                let sum = _mm256_add_ps(
                    _mm256_add_ps(_mm256_add_ps(l[0], l[4]), _mm256_add_ps(l[1], l[5])),
                    _mm256_add_ps(_mm256_add_ps(l[2], l[6]), _mm256_add_ps(l[3], l[7])),
                );
                _mm256_storeu_ps(out.as_mut_ptr(), sum);
            }
        }
        let whole = n / 8 * 8;
        for (o, row) in out[whole..n].iter_mut().zip(&rows[whole..n]) {
            *o = crate::fast_math::sum_of_lanes(row);
        }
    }
}

/// `(sin x, cos x)` for `x` in `0..=π`, accurate to ~1e-7, without a libm call (Taylor series
/// around π/2, where the remaining argument is at most π/2); with fused multiply-adds where
/// `FUSED` (only in code compiled for FMA).
#[inline(always)]
fn sin_cos_0_to_pi<const FUSED: bool>(x: f32) -> (f32, f32) {
    let madd = multiply_add::<FUSED>;
    // sin x = cos(y), cos x = -sin(y) with y = x - π/2 in -π/2..=π/2.
    let y = x - std::f32::consts::FRAC_PI_2;
    let y2 = y * y;
    let sin_series = madd(y2, -1.0 / 39_916_800.0, 1.0 / 362_880.0);
    let sin_series = madd(y2, madd(y2, madd(y2, sin_series, -1.0 / 5040.0), 1.0 / 120.0), -1.0 / 6.0);
    let sin_y = y * madd(y2, sin_series, 1.0);
    let cos_series = madd(y2, madd(y2, 1.0 / 479_001_600.0, -1.0 / 3_628_800.0), 1.0 / 40_320.0);
    let cos_series = madd(y2, madd(y2, madd(y2, cos_series, -1.0 / 720.0), 1.0 / 24.0), -0.5);
    let cos_y = madd(y2, cos_series, 1.0);
    (cos_y, -sin_y)
}

/// `(sin x, cos x)` for small `|x|` (at most π / [`RAMP_SAMPLES`]); with fused multiply-adds
/// where `FUSED`.
#[inline(always)]
fn sin_cos_small<const FUSED: bool>(x: f32) -> (f32, f32) {
    let madd = multiply_add::<FUSED>;
    let x2 = x * x;
    let sin = x * madd(x2, madd(x2, madd(x2, -1.0 / 5040.0, 1.0 / 120.0), -1.0 / 6.0), 1.0);
    let cos = madd(x2, madd(x2, madd(x2, -1.0 / 720.0, 1.0 / 24.0), -0.5), 1.0);
    (sin, cos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_sin_cos_match_libm() {
        for i in 0..=1000 {
            let x = std::f32::consts::PI * i as f32 / 1000.0;
            // Plain and fused (`mul_add`, a libm call where the CPU has no FMA).
            for (s, c) in [sin_cos_0_to_pi::<false>(x), sin_cos_0_to_pi::<true>(x)] {
                assert!((s - x.sin()).abs() < 3e-7 && (c - x.cos()).abs() < 3e-7, "{x}");
            }
            let small = (x - 1.5) / 16.0;
            for (s, c) in [sin_cos_small::<false>(small), sin_cos_small::<true>(small)] {
                assert!((s - small.sin()).abs() < 1e-7 && (c - small.cos()).abs() < 1e-7, "{small}");
            }
        }
    }

    /// Ten seconds of 60 partials under vibrato (steady across whole ticks low down, ramp by
    /// ramp higher up), glides fast enough to take the chirp path and amplitude steps, from
    /// `bank`, in the 64-sample ticks of 48 kHz.
    fn moving_partials(mut bank: OscillatorBank) -> Vec<f32> {
        let mut out = Vec::new();
        let mut tick = [0.0; 2 * RAMP_SAMPLES];
        let (mut omegas, mut amps) = (vec![0.0; 60], vec![0.0; 60]);
        for t in 0..7_500 {
            let time_s = (t * tick.len()) as f32 / 48_000.0;
            // Slow vibrato for 5 s, then a one-octave glide every 0.5 s.
            let f0_hz = if time_s < 5.0 {
                196.0 * (1.0 + 0.01 * (std::f32::consts::TAU * 5.0 * time_s).sin())
            } else {
                196.0 * (1.0 + (time_s * 2.0).fract())
            };
            for k in 0..60 {
                omegas[k] = std::f32::consts::TAU * f0_hz * (k + 1) as f32 / 48_000.0;
                amps[k] = if (t / 350) % 2 == 0 { 0.1 / (k + 1) as f32 } else { 0.05 };
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
        // Rounding only: the fused rotators (and their sines and cosines) differ from the
        // reference's by an ulp or so, so the two phases part by a few 1e-6 rad per tick, a
        // random walk that nothing undoes: 1.5e-4 of the peak after these 10 s (measured).
        // A wrong sign or chirp rate would differ by the peak itself.
        assert!(worst < 3e-4 * peak, "worst difference {worst} against a peak of {peak}");
        assert!(peak > 0.5, "the test signal sounds: peak {peak}");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_wide_register_kernel_gives_the_avx2_kernel_s_bits() {
        if Kernel::best() != Kernel::Avx512Vl {
            return;
        }
        let avx2 = moving_partials(OscillatorBank::with_kernel(Kernel::Avx2Fma));
        let wide = moving_partials(OscillatorBank::with_kernel(Kernel::Avx512Vl));
        let differing = avx2.iter().zip(&wide).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(differing, 0, "samples differing out of {}", avx2.len());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn rows_summed_eight_at_a_time_are_the_bits_of_one_at_a_time() {
        if Kernel::best() == Kernel::Portable {
            return;
        }
        // 19 rows: two blocks of eight and a remainder; values of mixed sign and size, so the
        // order of the additions shows in the bits.
        let rows: Vec<[f32; SUM_WIDTH]> = (0..19)
            .map(|r| std::array::from_fn(|l| ((r * 8 + l) as f32 * 0.737).sin() * 10f32.powi(l as i32 % 4 - 2)))
            .collect();
        let mut out = vec![f32::NAN; 19];
        unsafe { avx2_fma::sum_rows(&rows, &mut out) };
        for (r, (row, &o)) in rows.iter().zip(&out).enumerate() {
            assert_eq!(o.to_bits(), crate::fast_math::sum_of_lanes(row).to_bits(), "row {r}");
        }
    }

    #[test]
    fn a_tick_of_two_ramps_is_two_ticks_with_the_targets_halfway() {
        // One tick of 64 samples towards new targets against ticks of 32 towards the midpoint and
        // then the end: the same linear ramps of frequency and amplitude, the same samples to
        // rounding: the tick's one chirp turns its rotator 64 times without a fresh set-up,
        // some 1e-5 rad of phase by the end (measured 6.5e-6 of amplitude), where a chirp that
        // missed the midpoint by a hundredth of the glide would be 1e-3 rad off.
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
        assert!(worst < 2e-5, "worst difference {worst}");
        assert!(tick[RAMP_SAMPLES..].iter().any(|&x| x.abs() > 0.3), "the tick sounds");
    }

    /// A partial at 0.3 rad per sample for a tick of `samples`, then gliding by `glide` rad per
    /// sample over the next: how far that tick strays from the exact linear chirp.
    fn error_against_the_chirp(samples: usize, glide: f32) -> f64 {
        let (omega_a, omega_b) = (0.3f32, 0.3 + glide);
        let mut bank = OscillatorBank::with_kernel(Kernel::Portable);
        let mut tick = vec![0.0; samples];
        bank.set_targets(&[omega_a], &[1.0], true);
        bank.render_tick(&mut tick);
        bank.set_targets(&[omega_b], &[1.0], false);
        bank.render_tick(&mut tick);
        let start_phase = omega_a as f64 * samples as f64;
        let dw = (omega_b - omega_a) as f64 / samples as f64;
        tick.iter().enumerate().fold(0.0f64, |m, (n, &y)| {
            let n = n as f64;
            let chirp = (start_phase + n * omega_a as f64 + dw * n * (n - 1.0) / 2.0).sin();
            m.max((y as f64 - chirp).abs())
        })
    }

    #[test]
    fn the_steady_path_stays_within_its_phase_bound_of_the_chirp() {
        // Gliding at just under the steady limit of a ramp, and of whole ticks of two and four
        // ramps (played as one span, by the recurrence at this frequency).
        let bound = (STEADY_PHASE_ERROR_RAD + RECURRENCE_PHASE_ERROR_RAD) as f64;
        for samples in [RAMP_SAMPLES, 2 * RAMP_SAMPLES, 4 * RAMP_SAMPLES] {
            let worst = error_against_the_chirp(samples, 0.99 * steady_omega_step(samples));
            assert!(worst < bound + 1e-5, "{samples} samples: worst {worst} against the bound {bound}");
            assert!(worst > 0.3 * bound, "{samples} samples: the steady path was taken: worst {worst}");
        }
    }

    #[test]
    fn a_tick_too_fast_to_be_steady_whole_is_played_ramp_by_ramp() {
        // Gliding by twice the whole tick's steady limit (within each ramp's): the tick is two
        // steady ramps, each its half of the way, within the phase bound of the chirp; one
        // steady span over the tick would stray by twice the bound.
        let samples = 2 * RAMP_SAMPLES;
        let worst = error_against_the_chirp(samples, 2.0 * steady_omega_step(samples));
        assert!(worst < (STEADY_PHASE_ERROR_RAD + RECURRENCE_PHASE_ERROR_RAD) as f64 + 1e-5, "worst {worst}");
    }

    #[test]
    fn held_partials_keep_their_phase_near_and_beyond_the_recurrences_limits() {
        // Held partials inside the recurrence's range, at its edges near 0 and Nyquist, and
        // below it (where the rotator plays them), for twenty 64-sample ticks against the exact
        // sinusoid: within the recurrence's bound plus the rotator's rounding over the run.
        let samples = 2 * RAMP_SAMPLES;
        let edge = recurrence_min_sin(samples).asin();
        let omegas =
            [1.001 * edge, 0.999 * edge, 0.25 * edge, 0.05 * edge, 0.3, 1.3, std::f32::consts::PI - 1.001 * edge];
        for kernel in [Kernel::Portable, Kernel::best()] {
            for omega in omegas {
                let mut bank = OscillatorBank::with_kernel(kernel);
                let mut tick = vec![0.0; samples];
                let mut worst = 0.0f64;
                for t in 0..20 {
                    bank.set_targets(&[omega], &[1.0], t == 0);
                    bank.render_tick(&mut tick);
                    // (The first tick fades the partial in.)
                    for (n, &y) in tick.iter().enumerate().filter(|_| t > 0) {
                        let exact = ((t * samples + n) as f64 * omega as f64).sin();
                        worst = worst.max((y as f64 - exact).abs());
                    }
                }
                assert!(worst < (RECURRENCE_PHASE_ERROR_RAD + 2.0e-4) as f64, "{kernel:?}, w {omega}: worst {worst}");
            }
        }
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

    /// A partial's phase is the integral of its frequency from the start, silent or not: one
    /// that falls silent for a second while gliding comes back where its glide took it, both
    /// when it is the top partial (skipped while silent) and when a higher one still sounds.
    #[test]
    fn a_silent_partial_comes_back_at_the_phase_its_frequency_took_it_to() {
        const RATE: f64 = 48_000.0;
        for top_sounds in [false, true] {
            let mut bank = OscillatorBank::new();
            let mut tick = [0.0f32; 2 * RAMP_SAMPLES];
            let ticks = 2 * 48_000 / tick.len();
            let omega_of = |hz: f64| (std::f64::consts::TAU * hz / RATE) as f32;
            let glide_hz = |t: usize| 500.0 + 200.0 * t as f64 / ticks as f64;
            // The exact phase of the gliding partial: per sample, its frequency ramps linearly
            // across each tick from the last tick's target to this tick's.
            let (mut phase, mut omega_before) = (0.0f64, f64::from(omega_of(glide_hz(0))));
            let mut worst = 0.0f64;
            for t in 0..ticks {
                let time_s = (t * tick.len()) as f64 / RATE;
                let gliding_amp = if (0.5..1.5).contains(&time_s) { 0.0 } else { 0.3 };
                let omegas = [omega_of(300.0), omega_of(glide_hz(t)), omega_of(900.0)];
                let amps = [0.3, gliding_amp, if top_sounds { 0.2 } else { 0.0 }];
                bank.set_targets(&omegas, &amps, t == 0);
                bank.render_tick(&mut tick);
                let omega_after = f64::from(omegas[1]);
                let step = (omega_after - omega_before) / tick.len() as f64;
                for (n, &y) in tick.iter().enumerate() {
                    let i = (t * tick.len() + n) as f64;
                    let others =
                        0.3 * (i * f64::from(omegas[0])).sin() + f64::from(amps[2]) * (i * f64::from(omegas[2])).sin();
                    let gliding = f64::from(gliding_amp) * phase.sin();
                    // Checked once it has faded back in (the tick it returns in ramps up).
                    if time_s > 1.51 {
                        worst = worst.max((f64::from(y) - others - gliding).abs());
                    }
                    phase += omega_before + step * n as f64;
                }
                omega_before = omega_after;
            }
            // A partial whose phase had stopped while silent (or started afresh) would miss by
            // up to twice its amplitude, 0.6.
            assert!(worst < 2e-3, "top partial sounding: {top_sounds}: worst difference {worst}");
        }
    }
}

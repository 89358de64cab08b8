//! Spectral stretch: log-frequency scaling around an anchor, `f' = A * (f / A)^stretch`
//! (SPEC §4). Stretch 1 is the identity, 2 doubles every interval measured from `A` on a log
//! axis (harmonic k of an f0 anchor lands on `f0 * k^2`), 0.5 squeezes the spectrum towards `A`.

use crate::fast_math::{exp2_with, log2_with, multiply_add};

/// Which frequency stays put when the spectrum is stretched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AnchorMode {
    /// The middle harmonic of the current frame (index `(H - 1) / 2`, 0-based), after pitch.
    CentrePartial,
    /// The current frame's f0, after pitch.
    #[default]
    FixedF0,
    /// A frequency the user sets ([`super::RenderParams::anchor_hz`]); pitch does not move it.
    ManualHz,
}

impl AnchorMode {
    /// Every mode, in the order menus list them.
    pub const ALL: [AnchorMode; 3] = [AnchorMode::CentrePartial, AnchorMode::FixedF0, AnchorMode::ManualHz];
    /// What users read for each mode of [`AnchorMode::ALL`] (the plugin's menu).
    pub const NAMES: [&'static str; 3] = ["Centre partial", "Fixed f0", "Manual Hz"];
    /// Short permanent ids of each mode of [`AnchorMode::ALL`]: saved in plugin projects, so
    /// never renamed.
    pub const IDS: [&'static str; 3] = ["centre", "f0", "manual"];

    /// Position in [`AnchorMode::ALL`].
    pub fn index(self) -> usize {
        match self {
            AnchorMode::CentrePartial => 0,
            AnchorMode::FixedF0 => 1,
            AnchorMode::ManualHz => 2,
        }
    }

    /// The mode at `index` of [`AnchorMode::ALL`]; the first for an index out of range.
    pub fn from_index(index: usize) -> Self {
        Self::ALL.get(index).copied().unwrap_or(Self::ALL[0])
    }
}

/// Index of the centre partial of a frame with `harmonic_count` harmonics.
pub fn centre_partial_index(harmonic_count: usize) -> usize {
    harmonic_count.saturating_sub(1) / 2
}

/// `f` stretched by `stretch` around `anchor_hz`. Frequencies of 0 Hz and a non-positive
/// anchor are returned unchanged (there is no log-frequency distance to scale).
#[inline]
pub fn stretch_hz(f_hz: f32, anchor_hz: f32, stretch: f32) -> f32 {
    if f_hz <= 0.0 || anchor_hz <= 0.0 || stretch == 1.0 {
        return f_hz;
    }
    anchor_hz * (f_hz / anchor_hz).powf(stretch)
}

/// Stretches every frequency of `freqs_hz` in place around `anchor_hz` (as [`stretch_hz`], to
/// within a relative error of about 1e-6), without a libm call per element: the branch-free
/// `log2` and `exp2` of [`crate::fast_math`], so the loop runs in SIMD. The renderer calls this for
/// every partial on every control tick, where `powf` would cost more than the oscillators.
///
/// On x86-64 CPUs with AVX2 and FMA the same loop runs eight wide with fused multiply-adds
/// (chosen at run time; the standard library caches the detection in an atomic), a third
/// faster than without them; it differs from the portable loop by rounding only (tested below).
/// One machine always takes the same path, so its renders are the same at any block size.
pub fn stretch_all_hz(freqs_hz: &mut [f32], anchor_hz: f32, stretch: f32) {
    if stretch == 1.0 || anchor_hz <= 0.0 || !anchor_hz.is_finite() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if fused_available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { stretch_all_hz_avx2_fma(freqs_hz, anchor_hz, stretch) };
        return;
    }
    stretch_all_body::<false>(freqs_hz, anchor_hz, stretch);
}

/// [`stretch_all_body`] compiled for AVX2 with fused multiply-adds.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn stretch_all_hz_avx2_fma(freqs_hz: &mut [f32], anchor_hz: f32, stretch: f32) {
    stretch_all_body::<true>(freqs_hz, anchor_hz, stretch);
}

/// The stretch loop, with fused multiply-adds where `FUSED` (only in code compiled for FMA).
#[inline(always)]
fn stretch_all_body<const FUSED: bool>(freqs_hz: &mut [f32], anchor_hz: f32, stretch: f32) {
    let inv_anchor = 1.0 / anchor_hz;
    let stretch_8 = |freqs: &mut [f32; 8]| {
        for f in freqs.iter_mut() {
            // 0 Hz stays 0: a tiny ratio maps to 2^-126 * A, i.e. 0 for any purpose.
            let ratio = (*f * inv_anchor).max(1e-30);
            *f = anchor_hz * exp2_with::<FUSED>(stretch * log2_with::<FUSED>(ratio));
        }
    };
    let mut whole = freqs_hz.chunks_exact_mut(8);
    for freqs in &mut whole {
        stretch_8(freqs.try_into().expect("chunks of 8"));
    }
    // The rest (60 harmonics leave 4, 65 bands 1) padded to eight, so it runs in the same SIMD
    // registers instead of one at a time (the same operations, so the same bits).
    let rest = whole.into_remainder();
    if !rest.is_empty() {
        let mut padded = padded_to_8(rest, anchor_hz);
        stretch_8(&mut padded);
        rest.copy_from_slice(&padded[..rest.len()]);
    }
}

/// Largest relative move of a partial from one frame to the next that [`FrameStretch`] follows
/// by its series: `log2(1 + u)` to `u^4` is within `u^5 / 5` (6e-10 here) of the truth.
/// Vibrato moves partials by a fraction of this per frame; a larger move (a new note in a CSV)
/// is stretched as interpolated.
pub const MAX_FRAME_RISE: f32 = 0.02;

/// The stretch of partials interpolated between two frames of an envelope, from the frames'
/// logarithms. `log2` is the dearest step of [`stretch_all_hz`] (its division and the
/// exponent's unpacking), and a frame's frequencies are the same for every tick it lasts, so
/// each frame's `log2` is taken once, when the frame comes in: between frames `a` and `b` at
/// fraction `t`, `log2(lerp(a, b, t)) = log2(a) + log2(1 + t r)` with `r = (b - a) / a`, the
/// second term a short series while every partial moves by at most [`MAX_FRAME_RISE`]. A tick
/// then costs one `exp2` per partial. The result is [`stretch_all_hz`]'s to rounding (tested
/// below); frames further apart take [`stretch_all_hz`] itself. The last call's frequencies
/// and result are kept as well while the anchor and stretch hold: a held note asks for the
/// same stretch tick after tick and gets a copy. Sized once by [`FrameStretch::new`]; never
/// allocates after.
#[derive(Clone, Debug)]
pub struct FrameStretch {
    /// The two frames last seen (their bits are the logarithms' key).
    frame_a: Vec<f32>,
    frame_b: Vec<f32>,
    log2_a: Vec<f32>,
    log2_b: Vec<f32>,
    /// `(b - a) / a` per partial.
    rise: Vec<f32>,
    /// Partials in the frames last seen (`usize::MAX`: none seen).
    frames_len: usize,
    /// Every partial of the frames moves by at most [`MAX_FRAME_RISE`].
    smooth: bool,
    /// The last call's frequencies, anchor and stretch (bits), and its result.
    input: Vec<f32>,
    input_len: usize,
    anchor_and_stretch: [u32; 2],
    output: Vec<f32>,
}

impl FrameStretch {
    /// A stretch for frames of up to `capacity` partials (more are stretched without it).
    /// Allocates.
    pub fn new(capacity: usize) -> Self {
        let zeros = || vec![0.0; capacity];
        Self {
            frame_a: zeros(),
            frame_b: zeros(),
            log2_a: zeros(),
            log2_b: zeros(),
            rise: zeros(),
            frames_len: usize::MAX,
            smooth: false,
            input: zeros(),
            input_len: usize::MAX,
            anchor_and_stretch: [0; 2],
            output: zeros(),
        }
    }

    /// Stretches `freqs_hz` in place as [`stretch_all_hz`] does, where `freqs_hz[k]` holds
    /// `lerp(a[k], b[k], t) * 2^octaves` (the renderer's interpolated partials after pitch).
    pub fn stretch(
        &mut self,
        (a, b, t): (&[f32], &[f32], f32),
        octaves: f32,
        anchor_hz: f32,
        stretch: f32,
        freqs_hz: &mut [f32],
    ) {
        let n = freqs_hz.len();
        if stretch == 1.0 || anchor_hz <= 0.0 || !anchor_hz.is_finite() {
            return;
        }
        if n > self.rise.len() || a.len() < n || b.len() < n {
            stretch_all_hz(freqs_hz, anchor_hz, stretch);
            return;
        }
        let anchor_and_stretch = [anchor_hz.to_bits(), stretch.to_bits()];
        // A held note's input is kept only once the anchor and stretch hold: while they move
        // (a bounce, a gliding anchor) no call repeats the last, and the copies cost more than
        // the exponentials they would save.
        let holding = self.anchor_and_stretch == anchor_and_stretch;
        if holding && self.input_len == n && super::same_bits(&self.input[..n], freqs_hz) {
            freqs_hz.copy_from_slice(&self.output[..n]);
            return;
        }
        self.anchor_and_stretch = anchor_and_stretch;
        self.input_len = if holding { n } else { usize::MAX };
        if holding {
            self.input[..n].copy_from_slice(freqs_hz);
        }
        let (a, b) = (&a[..n], &b[..n]);
        if !(self.frames_len == n && super::same_bits(&self.frame_a[..n], a) && super::same_bits(&self.frame_b[..n], b))
        {
            self.take_frames(a, b);
        }
        if self.smooth {
            // log2(f / A) = log2(lerp) + octaves - log2(A).
            let offset = octaves - log2_with::<false>(anchor_hz);
            stretch_from_logs((&self.log2_a[..n], &self.rise[..n]), t, offset, anchor_hz, stretch, freqs_hz);
        } else {
            stretch_all_hz(freqs_hz, anchor_hz, stretch);
        }
        if holding {
            self.output[..n].copy_from_slice(freqs_hz);
        }
    }

    /// Takes new frames: their logarithms (frame `a`'s from the last frame `b` where the
    /// envelope moved on by one frame), rises, and whether they are smooth.
    fn take_frames(&mut self, a: &[f32], b: &[f32]) {
        let n = a.len();
        if self.frames_len == n && super::same_bits(&self.frame_b[..n], a) {
            self.log2_a[..n].copy_from_slice(&self.log2_b[..n]);
        } else {
            log2_all(a, &mut self.log2_a[..n]);
        }
        log2_all(b, &mut self.log2_b[..n]);
        // Counted rather than searched, and with `&` and `|` rather than `&&` and `||` (no
        // branch per partial), so in SIMD. Silent partials at 0 Hz in both frames stay at 0 Hz
        // (their log2 is that of the least ratio, as in `stretch_all_hz`).
        let mut rough = 0u32;
        for ((r, &a), &b) in self.rise[..n].iter_mut().zip(a).zip(b) {
            let both_zero = (a == 0.0) & (b == 0.0);
            let rise = (b - a) / a;
            *r = if both_zero { 0.0 } else { rise };
            rough += u32::from(!(both_zero | ((a > 0.0) & (rise.abs() <= MAX_FRAME_RISE))));
        }
        self.smooth = rough == 0;
        self.frame_a[..n].copy_from_slice(a);
        self.frame_b[..n].copy_from_slice(b);
        self.frames_len = n;
    }
}

/// Whether this CPU runs the fused (AVX2 + FMA) loops; the standard library caches the
/// detection in an atomic.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn fused_available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// `log2` of every value of `values` into `out`, with fused multiply-adds where the CPU has
/// them.
fn log2_all(values: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if fused_available() {
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fused(values: &[f32], out: &mut [f32]) {
            log2_all_body::<true>(values, out);
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { fused(values, out) };
        return;
    }
    log2_all_body::<false>(values, out);
}

#[inline(always)]
fn log2_all_body<const FUSED: bool>(values: &[f32], out: &mut [f32]) {
    let n = values.len().min(out.len());
    let whole = n / 8 * 8;
    for (out, values) in out[..whole].chunks_exact_mut(8).zip(values[..whole].chunks_exact(8)) {
        for (l, &v) in out.iter_mut().zip(values) {
            // 0 Hz as the least ratio of `stretch_all_body`.
            *l = log2_with::<FUSED>(v.max(1e-30));
        }
    }
    // The rest padded to eight (see `padded_to_8`).
    if whole < n {
        let (values, mut logs) = (padded_to_8(&values[whole..n], 1.0), [0.0; 8]);
        for (l, &v) in logs.iter_mut().zip(&values) {
            *l = log2_with::<FUSED>(v.max(1e-30));
        }
        out[whole..n].copy_from_slice(&logs[..n - whole]);
    }
}

/// The last few values of a loop (after whole vectors of eight, 60 harmonics leave four and 65
/// bands one) padded with `pad` to eight, so they run in the same SIMD registers as the rest
/// instead of one at a time, each of which costs as much as eight (the same operations, so the
/// same bits).
#[inline(always)]
fn padded_to_8(rest: &[f32], pad: f32) -> [f32; 8] {
    let mut padded = [pad; 8];
    padded[..rest.len()].copy_from_slice(rest);
    padded
}

/// Each `freqs_hz[k] = A * 2^(stretch * (log2_a[k] + log2(1 + t rise[k]) + offset))` for
/// `(log2_a, rise) = logs`: the stretch of the interpolated partial, whose `log2(f / A)` is
/// `log2(lerp) + offset`. With fused multiply-adds where the CPU has them.
fn stretch_from_logs(logs: (&[f32], &[f32]), t: f32, offset: f32, anchor_hz: f32, stretch: f32, freqs_hz: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if fused_available() {
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fused(logs: (&[f32], &[f32]), t: f32, offset: f32, anchor_hz: f32, stretch: f32, out: &mut [f32]) {
            stretch_from_logs_body::<true>(logs, t, offset, anchor_hz, stretch, out);
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { fused(logs, t, offset, anchor_hz, stretch, freqs_hz) };
        return;
    }
    stretch_from_logs_body::<false>(logs, t, offset, anchor_hz, stretch, freqs_hz);
}

#[inline(always)]
fn stretch_from_logs_body<const FUSED: bool>(
    (log2_a, rise): (&[f32], &[f32]),
    t: f32,
    offset: f32,
    anchor_hz: f32,
    stretch: f32,
    freqs_hz: &mut [f32],
) {
    let madd = multiply_add::<FUSED>;
    let n = freqs_hz.len().min(log2_a.len()).min(rise.len());
    let whole = n / 8 * 8;
    let stretch_8 = |f: &mut [f32], log2_a: &[f32], rise: &[f32]| {
        for ((f, &log2_a), &rise) in f.iter_mut().zip(log2_a).zip(rise) {
            // ln(1 + u) = u (1 - u/2 + u^2/3 - u^3/4) to within u^5/5.
            let u = t * rise;
            let ln_1_u = u * madd(u, madd(u, madd(u, -0.25, 1.0 / 3.0), -0.5), 1.0);
            let log2_ratio = madd(ln_1_u, std::f32::consts::LOG2_E, log2_a) + offset;
            *f = anchor_hz * exp2_with::<FUSED>(stretch * log2_ratio);
        }
    };
    let blocks = freqs_hz[..whole].chunks_exact_mut(8).zip(log2_a[..whole].chunks_exact(8));
    for ((f, log2_a), rise) in blocks.zip(rise[..whole].chunks_exact(8)) {
        stretch_8(f, log2_a, rise);
    }
    if whole < n {
        let mut f = [0.0; 8];
        stretch_8(&mut f, &padded_to_8(&log2_a[whole..n], 0.0), &padded_to_8(&rise[whole..n], 0.0));
        freqs_hz[whole..n].copy_from_slice(&f[..n - whole]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn every_anchor_mode_has_a_name_an_id_and_its_index() {
        for (index, mode) in AnchorMode::ALL.into_iter().enumerate() {
            assert_eq!((mode.index(), AnchorMode::from_index(index)), (index, mode));
        }
        assert_eq!(AnchorMode::from_index(99), AnchorMode::CentrePartial);
        assert_eq!(AnchorMode::IDS, ["centre", "f0", "manual"], "ids are a save format: never change them");
    }

    #[test]
    fn stretch_two_around_f0_squares_the_harmonic_number() {
        for k in 1..=10 {
            assert_relative_eq!(stretch_hz(110.0 * k as f32, 110.0, 2.0), 110.0 * (k * k) as f32, max_relative = 1e-5);
        }
    }

    #[test]
    fn the_fast_path_matches_powf() {
        for &stretch in &[0.25f32, 0.5, 0.9, 1.3, 2.0, 4.0] {
            for &anchor in &[55.0f32, 440.0, 3000.0] {
                let mut freqs: Vec<f32> = (1..400).map(|k| k as f32 * 37.3).collect();
                let want: Vec<f32> = freqs.iter().map(|&f| stretch_hz(f, anchor, stretch)).collect();
                stretch_all_hz(&mut freqs, anchor, stretch);
                for (g, w) in freqs.iter().zip(&want) {
                    let tolerance = 3e-6 * w.max(1e-20) + 1e-30;
                    assert!((g - w).abs() <= tolerance || (*w > 1e30 && *g > 1e30), "{stretch} {anchor}: {g} vs {w}");
                }
            }
        }
        let mut zero = [0.0f32];
        stretch_all_hz(&mut zero, 440.0, 2.0);
        assert!(zero[0] < 1e-20);
    }

    #[test]
    fn the_frame_stretch_gives_what_stretching_the_interpolated_partials_gives() {
        // 60 harmonics of a vibrato (smooth frames), with a silent partial at 0 Hz; a held
        // frame; a jump of a fifth (a new note, stretched as interpolated).
        let frame = |f0: f32| -> Vec<f32> { (1..=60).map(|k| if k == 7 { 0.0 } else { f0 * k as f32 }).collect() };
        let frames = [frame(196.0), frame(197.1), frame(195.4), frame(195.4), frame(293.7), frame(294.0)];
        let mut memo = FrameStretch::new(64);
        let mut calls = 0;
        for pair in 0..frames.len() - 1 {
            let (a, b) = (&frames[pair], &frames[pair + 1]);
            for (t, octaves, anchor_hz, stretch) in [
                (0.0f32, 0.0f32, 196.0, 1.5),
                (0.33, 0.0, 196.0, 1.5),
                (0.33, 0.0, 196.0, 1.5),
                (0.66, 0.41, 250.0, 0.6),
                (0.9, -0.2, 3000.0, 2.7),
            ] {
                let want: Vec<f32> = a
                    .iter()
                    .zip(b)
                    .map(|(&a, &b)| stretch_hz((a + t * (b - a)) * octaves.exp2(), anchor_hz, stretch))
                    .collect();
                let mut got: Vec<f32> = a.iter().zip(b).map(|(&a, &b)| (a + t * (b - a)) * octaves.exp2()).collect();
                memo.stretch((a, b, t), octaves, anchor_hz, stretch, &mut got);
                for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!((g - w).abs() <= 3e-6 * w + 1e-6, "pair {pair}, t {t}, partial {k}: {g} against {w}");
                }
                calls += 1;
            }
            // The series follows the vibrato and the held frame; the fifth is a jump.
            assert_eq!(memo.smooth, pair != 3, "pair {pair}");
        }
        assert_eq!(calls, 25);
    }

    #[test]
    fn the_dispatched_path_is_the_portable_path_to_rounding() {
        let freqs: Vec<f32> = (1..=131).map(|k| k as f32 * 97.7 + 0.3).collect();
        for stretch in [0.25f32, 0.77, 1.3, 4.0] {
            let (mut dispatched, mut portable) = (freqs.clone(), freqs.clone());
            stretch_all_hz(&mut dispatched, 196.0, stretch);
            stretch_all_body::<false>(&mut portable, 196.0, stretch);
            // A few units in the last place of the exponent's argument (up to 2^24 here).
            for (d, p) in dispatched.iter().zip(&portable) {
                assert!((d - p).abs() <= 2e-6 * p, "stretch {stretch}: {d} against {p}");
            }
            // The padded rest (131 = 16 x 8 + 3) gives what whole vectors give.
            let one_at_a_time: Vec<f32> = freqs
                .iter()
                .map(|&f| {
                    let mut one = [f];
                    stretch_all_hz(&mut one, 196.0, stretch);
                    one[0]
                })
                .collect();
            assert_eq!(dispatched, one_at_a_time, "stretch {stretch}");
        }
    }

    #[test]
    fn the_anchor_and_zero_stay_put() {
        assert_eq!(stretch_hz(600.0, 600.0, 3.0), 600.0);
        assert_eq!(stretch_hz(0.0, 600.0, 3.0), 0.0);
        assert_eq!(centre_partial_index(5), 2);
        assert_eq!(centre_partial_index(60), 29);
        assert_eq!(centre_partial_index(0), 0);
    }
}

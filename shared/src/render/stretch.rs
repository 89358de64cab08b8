//! Spectral stretch: log-frequency scaling around an anchor, `f' = A * (f / A)^stretch`
//! (SPEC §4). Stretch 1 is the identity, 2 doubles every interval measured from `A` on a log
//! axis (harmonic k of an f0 anchor lands on `f0 * k^2`), 0.5 squeezes the spectrum towards `A`.

use crate::fast_math::{exp2_with, log2_with};

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
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
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
        let mut padded = [anchor_hz; 8];
        padded[..rest.len()].copy_from_slice(rest);
        stretch_8(&mut padded);
        rest.copy_from_slice(&padded[..rest.len()]);
    }
}

/// [`stretch_all_hz`] with a memory of its last call: when the frequencies, anchor and stretch
/// are bit for bit those of the last call, the last result is copied instead of computed. A
/// held note (a model voice's harmonics sit at exact multiples of a steady f0; a noise frame's
/// band centres are fixed) asks for the same stretch tick after tick, and the stretch is the
/// dearest per-partial step of a tick. Sized once by [`StretchMemo::new`]; never allocates after.
#[derive(Clone, Debug)]
pub struct StretchMemo {
    input: Vec<f32>,
    output: Vec<f32>,
    len: usize,
    anchor_hz: f32,
    stretch: f32,
}

impl StretchMemo {
    /// A memo for up to `capacity` frequencies (more are stretched without it). Allocates.
    pub fn new(capacity: usize) -> Self {
        Self { input: vec![0.0; capacity], output: vec![0.0; capacity], len: usize::MAX, anchor_hz: 0.0, stretch: 1.0 }
    }

    /// Stretches `freqs_hz` in place exactly as [`stretch_all_hz`] does.
    pub fn stretch_all_hz(&mut self, freqs_hz: &mut [f32], anchor_hz: f32, stretch: f32) {
        let n = freqs_hz.len();
        if stretch == 1.0 || n > self.input.len() {
            stretch_all_hz(freqs_hz, anchor_hz, stretch);
            return;
        }
        if self.len == n
            && self.anchor_hz.to_bits() == anchor_hz.to_bits()
            && self.stretch.to_bits() == stretch.to_bits()
            && super::same_bits(&self.input[..n], freqs_hz)
        {
            freqs_hz.copy_from_slice(&self.output[..n]);
            return;
        }
        self.input[..n].copy_from_slice(freqs_hz);
        stretch_all_hz(freqs_hz, anchor_hz, stretch);
        self.output[..n].copy_from_slice(freqs_hz);
        (self.len, self.anchor_hz, self.stretch) = (n, anchor_hz, stretch);
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
    fn the_memo_gives_what_a_fresh_stretch_gives() {
        let mut memo = StretchMemo::new(8);
        let calls: [(&[f32], f32, f32); 6] = [
            (&[100.0, 200.0, 300.0], 100.0, 1.5),
            (&[100.0, 200.0, 300.0], 100.0, 1.5),
            (&[100.0, 200.0, 301.0], 100.0, 1.5),
            (&[100.0, 200.0, 301.0], 110.0, 1.5),
            (&[100.0, 200.0, 301.0], 110.0, 0.5),
            (&[100.0, 200.0], 110.0, 0.5),
        ];
        for (freqs, anchor, stretch) in calls.into_iter().chain(calls) {
            let (mut memo_out, mut fresh) = (freqs.to_vec(), freqs.to_vec());
            memo.stretch_all_hz(&mut memo_out, anchor, stretch);
            stretch_all_hz(&mut fresh, anchor, stretch);
            assert_eq!(memo_out, fresh, "{freqs:?} {anchor} {stretch}");
        }
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

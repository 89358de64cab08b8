//! Spectral stretch: log-frequency scaling around an anchor, `f' = A * (f / A)^stretch`
//! (SPEC §4). Stretch 1 is the identity, 2 doubles every interval measured from `A` on a log
//! axis (harmonic k of an f0 anchor lands on `f0 * k^2`), 0.5 squeezes the spectrum towards `A`.

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
/// within a relative error of about 1e-6), without a libm call per element: `log2` from the
/// float's exponent plus an atanh series for the mantissa, `exp2` from the exponent bits plus
/// a Taylor series, all branch-free so the loop runs in SIMD. The renderer calls this for
/// every partial on every control tick, where `powf` would cost more than the oscillators.
pub fn stretch_all_hz(freqs_hz: &mut [f32], anchor_hz: f32, stretch: f32) {
    if stretch == 1.0 || anchor_hz <= 0.0 || !anchor_hz.is_finite() {
        return;
    }
    let inv_anchor = 1.0 / anchor_hz;
    for f in freqs_hz.iter_mut() {
        // 0 Hz stays 0: a tiny ratio maps to 2^-126 * A, i.e. 0 for any purpose.
        let ratio = (*f * inv_anchor).max(1e-30);
        *f = anchor_hz * fast_exp2(stretch * fast_log2(ratio));
    }
}

/// `log2(x)` for positive normal `x`.
#[inline]
fn fast_log2(x: f32) -> f32 {
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    // The mantissa in 1..2; ln(m) = 2 atanh(t), t = (m - 1) / (m + 1) in 0..1/3.
    let mantissa = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let t = (mantissa - 1.0) / (mantissa + 1.0);
    let t2 = t * t;
    let series =
        t * (1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0 + t2 * (1.0 / 9.0 + t2 * (1.0 / 11.0))))));
    exponent as f32 + series * (2.0 * std::f32::consts::LOG2_E)
}

/// `2^y`, clamped to the normal range.
#[inline]
fn fast_exp2(y: f32) -> f32 {
    let y = y.clamp(-126.0, 126.0);
    // Nearest integer without `round` (not in baseline SSE2): y + 128.5 is positive.
    let n = (y + 128.5) as i32 - 128;
    let f = (y - n as f32) * std::f32::consts::LN_2; // |f| <= ln2 / 2
    let e_f = 1.0
        + f * (1.0
            + f * (0.5
                + f * (1.0 / 6.0 + f * (1.0 / 24.0 + f * (1.0 / 120.0 + f * (1.0 / 720.0 + f * (1.0 / 5040.0)))))));
    e_f * f32::from_bits(((n + 127) as u32) << 23)
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
    fn the_anchor_and_zero_stay_put() {
        assert_eq!(stretch_hz(600.0, 600.0, 3.0), 600.0);
        assert_eq!(stretch_hz(0.0, 600.0, 3.0), 0.0);
        assert_eq!(centre_partial_index(5), 2);
        assert_eq!(centre_partial_index(60), 29);
        assert_eq!(centre_partial_index(0), 0);
    }
}

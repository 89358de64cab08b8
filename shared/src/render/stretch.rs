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

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn stretch_two_around_f0_squares_the_harmonic_number() {
        for k in 1..=10 {
            assert_relative_eq!(stretch_hz(110.0 * k as f32, 110.0, 2.0), 110.0 * (k * k) as f32, max_relative = 1e-5);
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

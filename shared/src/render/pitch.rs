//! Equal-temperament pitch: `steps` steps of an octave divided into `tet_size` equal parts.

/// Octaves moved by `steps` steps of `tet_size`-TET (`steps / tet_size`). The renderer smooths
/// pitch in octaves, so a glide between two pitches is even on a musical scale.
pub fn tet_octaves(steps: f32, tet_size: u32) -> f32 {
    steps / tet_size.max(1) as f32
}

/// Frequency ratio of `steps` steps of `tet_size`-TET: `2^(steps / tet_size)`.
pub fn tet_ratio(steps: f32, tet_size: u32) -> f32 {
    tet_octaves(steps, tet_size).exp2()
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn twelve_semitones_is_an_octave_and_one_quarter_tone_is_half_a_semitone() {
        assert_relative_eq!(tet_ratio(12.0, 12), 2.0, max_relative = 1e-6);
        assert_relative_eq!(tet_ratio(1.0, 24), 2f32.powf(1.0 / 24.0), max_relative = 1e-6);
        assert_relative_eq!(tet_ratio(-53.0, 53), 0.5, max_relative = 1e-6);
    }
}

//! How a note drives the model (SPEC §9): the key gives f0, velocity and the ADSR give loudness
//! inside what the training data covered.
//!
//! - **f0**: the root note sounds at its equal-tempered MIDI pitch (A4 = 440 Hz); every key
//!   step from it is one step of the key mode (a semitone, or one step of the TET size), then
//!   pitch bend and the master pitch (`pitch_steps` of `tet_size`) multiply in. The decoder
//!   is asked for exactly the pitch that sounds, so the timbre follows the note.
//! - **Loudness**: velocity (after the sensitivity curve, 0..1) picks the note's peak loudness
//!   from the training data's voiced loudness quantiles, from the 5th percentile (softest) to
//!   the 95th (loudest). The ADSR level `e` (0..1) then moves the model between the quietest
//!   voiced loudness it heard and that peak, linearly in dB: `floor + e·(peak − floor)`.
//! - **Output fade**: the model never heard silence as a voiced note, so in the last
//!   [`MODEL_FADE_LEVEL`] of the envelope (the start of the attack and the end of the release)
//!   the voice's output also fades linearly to zero.

use crate::instrument::midi_to_hz;
use crate::instrument::stats::TrainingStats;
use crate::render::tet_ratio;

/// Below this ADSR level the model voice's output fades to silence as well (see the module
/// documentation).
pub const MODEL_FADE_LEVEL: f32 = 0.1;

/// Quantile of the training loudness a note of the softest velocity peaks at.
pub const SOFTEST_QUANTILE: f32 = 0.05;
/// Quantile a note of full velocity peaks at.
pub const LOUDEST_QUANTILE: f32 = 0.95;

/// The f0 of a key `offset_steps + bend_steps` steps from the root note, in a key mode of
/// `divisions_per_octave`, with the master pitch applied.
pub fn note_f0_hz(root_note: i32, steps_from_root: f32, divisions_per_octave: u32, master_ratio: f32) -> f32 {
    midi_to_hz(root_note as f32) * tet_ratio(steps_from_root, divisions_per_octave) * master_ratio
}

/// The loudness (dB) a note of velocity level `velocity_level` (0..1) sings at ADSR level
/// `envelope_level` (0..1).
pub fn note_loudness_db(stats: &TrainingStats, velocity_level: f32, envelope_level: f32) -> f32 {
    let v = velocity_level.clamp(0.0, 1.0);
    let peak = stats.loudness_db_at(SOFTEST_QUANTILE + v * (LOUDEST_QUANTILE - SOFTEST_QUANTILE));
    let floor = stats.loudness_db_at(0.0).min(peak);
    floor + envelope_level.clamp(0.0, 1.0) * (peak - floor)
}

/// The output gain of a model voice at ADSR level `envelope_level`.
pub fn model_output_gain(envelope_level: f32) -> f32 {
    (envelope_level / MODEL_FADE_LEVEL).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> TrainingStats {
        let loudness: Vec<f32> = (0..=100).map(|i| -60.0 + 0.4 * i as f32).collect();
        let f0 = vec![300.0; 101];
        TrainingStats::from_frames(&f0, &[1.0; 101], &loudness, -70.0).unwrap()
    }

    #[test]
    fn velocity_spans_the_trained_loudness_and_the_envelope_scales_from_its_floor() {
        let s = stats();
        assert!((note_loudness_db(&s, 1.0, 1.0) - -22.0).abs() < 1e-4, "95th percentile");
        assert!((note_loudness_db(&s, 0.0, 1.0) - -58.0).abs() < 1e-4, "5th percentile");
        assert!((note_loudness_db(&s, 1.0, 0.0) - -60.0).abs() < 1e-4, "the quietest voiced frame");
        assert!((note_loudness_db(&s, 1.0, 0.5) - -41.0).abs() < 1e-4);
        assert_eq!(model_output_gain(0.05), 0.5);
        assert_eq!(model_output_gain(0.6), 1.0);
    }

    #[test]
    fn the_root_note_sounds_at_its_midi_pitch() {
        assert!((note_f0_hz(69, 0.0, 12, 1.0) - 440.0).abs() < 1e-3);
        assert!((note_f0_hz(60, 7.0, 12, 1.0) - 392.0).abs() < 0.01);
        assert!((note_f0_hz(69, 12.0, 24, 1.0) - 622.25).abs() < 0.01, "12 steps of 24-TET = a tritone");
        assert!((note_f0_hz(69, 0.0, 12, 2.0) - 880.0).abs() < 1e-3);
    }
}

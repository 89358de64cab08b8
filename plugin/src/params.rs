//! The host-automatable parameters of the DDSP Spectral Player (SPEC §4 controls plus the note
//! controls of SPEC §5), and the persisted sound slot.
//!
//! Parameter ids are the save format of every project that uses the plugin: they are short and
//! must never be renamed or reused. Ranges match SPEC §4; the GUI reads the same ranges from here.

use std::sync::Arc;

use nice_plug::prelude::*;

use crate::state::SoundSlot;

/// Which frequency the stretch transform keeps fixed (SPEC §4 "anchor modes").
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorMode {
    /// The middle harmonic of the current frame.
    #[id = "centre"]
    #[name = "Centre partial"]
    CentrePartial,
    /// The frame's f0 after pitch.
    #[id = "f0"]
    #[name = "Fixed f0"]
    FixedF0,
    /// The "Anchor" parameter in Hz.
    #[id = "manual"]
    #[name = "Manual Hz"]
    Manual,
}

/// How far one MIDI key moves the pitch.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// One key = one step of the current TET (a 24-TET keyboard plays quarter tones).
    #[id = "tet"]
    #[name = "TET step"]
    TetStep,
    /// One key = one equal-tempered semitone, whatever the TET size.
    #[id = "semi"]
    #[name = "Semitone"]
    Semitone,
}

/// Most MIDI voices a user can ask for (SPEC §5 "up to 16"); the voice slots are a fixed array
/// of this size so `process` never allocates.
pub const MAX_VOICES: usize = 16;

/// Every parameter of the plugin. Field order is the order hosts list them in.
#[derive(Params)]
pub struct PlayerParams {
    /// The file path and the compressed CSV data of the loaded sound, saved with the project so
    /// that it plays the same on a machine without the file.
    #[persist = "sound"]
    pub sound: SoundSlot,

    // Temperament.
    /// Steps per octave: 12 = semitones, 24 = quarter tones, 53 = Turkish/Arabic comma.
    #[id = "tet"]
    pub tet_size: IntParam,
    /// Master transposition in steps of the current TET.
    #[id = "pitch"]
    pub master_pitch_steps: FloatParam,

    // Sonification (the spectral transforms).
    /// Log-frequency stretch around the anchor: `f' = A * (f / A)^stretch`.
    #[id = "stretch"]
    pub stretch: FloatParam,
    #[id = "anchmode"]
    pub anchor_mode: EnumParam<AnchorMode>,
    /// The anchor used by [`AnchorMode::Manual`].
    #[id = "anchhz"]
    pub anchor_hz: FloatParam,

    // Bouncing.
    #[id = "bounce"]
    pub bounce_on: BoolParam,
    /// Lowest stretch the bounce swings to.
    #[id = "bncmin"]
    pub bounce_min: FloatParam,
    /// Highest stretch the bounce swings to.
    #[id = "bncmax"]
    pub bounce_max: FloatParam,
    #[id = "bnchz"]
    pub bounce_speed_hz: FloatParam,
    /// Random deviation of bounce speed and depth, 0..1 (seeded, so repeatable).
    #[id = "bncjit"]
    pub bounce_jitter: FloatParam,
    /// How long a bounce lasts before stretch glides back; 0 = until switched off.
    #[id = "bncdur"]
    pub bounce_duration_s: FloatParam,

    // Volume & mix.
    #[id = "harmvol"]
    pub harmonic_volume: FloatParam,
    /// Multiplies every harmonic amplitude (before the harmonic volume).
    #[id = "partgain"]
    pub partial_gain: FloatParam,
    #[id = "noisevol"]
    pub noise_volume: FloatParam,
    /// Multiplies every noise band magnitude.
    #[id = "noisemag"]
    pub noise_magnitude_scale: FloatParam,
    /// Smoothing time of all continuous controls inside the renderer.
    #[id = "smooth"]
    pub smoothing_ms: FloatParam,
    #[id = "gain"]
    pub output_gain: FloatParam,

    // Conductor.
    #[id = "start"]
    pub start_frame: IntParam,
    /// Frames to play from the start frame; 0 = to the end of the file.
    #[id = "frames"]
    pub frame_count: IntParam,
    #[id = "loop"]
    pub loop_on: BoolParam,
    /// Frames advance at this multiple of real time; 0 freezes the current frame, negative
    /// plays backwards.
    #[id = "rate"]
    pub playback_rate: FloatParam,
    /// Frames advance in steps at this rate, like the original's clock; 0 = continuous.
    #[id = "updhz"]
    pub update_rate_hz: FloatParam,
    /// Free-runs one voice without MIDI, like the original's Start/Stop.
    #[id = "play"]
    pub play: BoolParam,
    /// The free-running voice starts when the host's transport starts, releases when it
    /// stops, and reads the file at the host's song position (times the playback rate).
    #[id = "sync"]
    pub host_sync: BoolParam,

    // Notes.
    /// The key that plays the data at its own pitch.
    #[id = "root"]
    pub root_note: IntParam,
    #[id = "keymode"]
    pub key_mode: EnumParam<KeyMode>,
    /// 0 = every note at full level, 1 = level follows velocity fully.
    #[id = "velsens"]
    pub velocity_sensitivity: FloatParam,
    #[id = "attack"]
    pub attack_ms: FloatParam,
    #[id = "decay"]
    pub decay_ms: FloatParam,
    #[id = "sustain"]
    pub sustain: FloatParam,
    #[id = "release"]
    pub release_ms: FloatParam,
    /// Pitch bend at full deflection, in steps of the key mode's unit.
    #[id = "bendrng"]
    pub bend_range_steps: FloatParam,
    /// Most notes that sound at once; a further note steals the oldest.
    #[id = "voices"]
    pub voice_count: IntParam,
}

/// Stretch range of SPEC §4, shared by stretch and the bounce limits. Skewed so that 1.0 sits
/// in the middle of a slider (0.25 and 4 are equally far from 1 in log terms).
pub fn stretch_range() -> FloatRange {
    // normalized = ((s - 0.25) / 3.75)^factor; this factor maps s = 1 to exactly 0.5.
    FloatRange::Skewed { min: 0.25, max: 4.0, factor: STRETCH_SKEW }
}

/// `ln(0.5) / ln(0.75 / 3.75)`: puts stretch 1.0 at the middle of the normalised range.
const STRETCH_SKEW: f32 = 0.430_676_56;

/// A time in milliseconds from 0 to `max_ms`, skewed towards short times.
fn time_ms_range(max_ms: f32) -> FloatRange {
    FloatRange::Skewed { min: 0.0, max: max_ms, factor: FloatRange::skew_factor(-2.0) }
}

/// A linear level 0..=`max` shown as a percentage.
fn level_param(name: &str, default: f32, max: f32) -> FloatParam {
    FloatParam::new(name, default, FloatRange::Linear { min: 0.0, max })
        .with_unit(" %")
        .with_value_to_string(formatters::v2s_f32_percentage(0))
        .with_string_to_value(formatters::s2v_f32_percentage())
}

/// Highest frame index the start frame and frame count parameters accept: one hour at the
/// original's 250 frames per second.
pub const MAX_FRAME_PARAM: i32 = 900_000;

impl PlayerParams {
    /// Parameters at their defaults, with `sound` as the persisted sound slot.
    pub fn new(sound: SoundSlot) -> Self {
        Self {
            sound,
            tet_size: IntParam::new("TET size", 12, IntRange::Linear { min: 1, max: 96 }).with_unit(" steps/oct"),
            master_pitch_steps: FloatParam::new("Master pitch", 0.0, FloatRange::Linear { min: -48.0, max: 48.0 })
                .with_unit(" steps")
                .with_step_size(0.01),
            stretch: FloatParam::new("Stretch", 1.0, stretch_range())
                .with_unit(" x")
                .with_value_to_string(formatters::v2s_f32_rounded(3)),
            anchor_mode: EnumParam::new("Anchor mode", AnchorMode::FixedF0),
            anchor_hz: FloatParam::new(
                "Anchor",
                440.0,
                FloatRange::Skewed { min: 1.0, max: 20_000.0, factor: FloatRange::skew_factor(-2.5) },
            )
            .with_unit(" Hz")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            bounce_on: BoolParam::new("Bounce", false),
            bounce_min: FloatParam::new("Bounce min", 0.5, stretch_range())
                .with_unit(" x")
                .with_value_to_string(formatters::v2s_f32_rounded(3)),
            bounce_max: FloatParam::new("Bounce max", 2.0, stretch_range())
                .with_unit(" x")
                .with_value_to_string(formatters::v2s_f32_rounded(3)),
            bounce_speed_hz: FloatParam::new(
                "Bounce speed",
                1.0,
                FloatRange::Skewed { min: 0.01, max: 50.0, factor: FloatRange::skew_factor(-2.5) },
            )
            .with_unit(" Hz")
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            bounce_jitter: level_param("Bounce jitter", 0.0, 1.0),
            bounce_duration_s: FloatParam::new(
                "Bounce duration",
                0.0,
                FloatRange::Skewed { min: 0.0, max: 3600.0, factor: FloatRange::skew_factor(-3.0) },
            )
            .with_unit(" s")
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            harmonic_volume: level_param("Harmonic volume", 1.0, 4.0),
            partial_gain: level_param("Partial gain", 1.0, 16.0),
            noise_volume: level_param("Noise volume", 1.0, 4.0),
            noise_magnitude_scale: level_param("Noise magnitude", 1.0, 16.0),
            smoothing_ms: FloatParam::new("Smoothing", 20.0, time_ms_range(2000.0))
                .with_unit(" ms")
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            output_gain: FloatParam::new(
                "Output gain",
                util::db_to_gain(0.0),
                FloatRange::Skewed {
                    min: util::db_to_gain(-60.0),
                    max: util::db_to_gain(12.0),
                    factor: FloatRange::gain_skew_factor(-60.0, 12.0),
                },
            )
            .with_smoother(SmoothingStyle::Logarithmic(20.0))
            .with_unit(" dB")
            .with_value_to_string(formatters::v2s_f32_gain_to_db(1))
            .with_string_to_value(formatters::s2v_f32_gain_to_db()),
            start_frame: IntParam::new("Start frame", 0, IntRange::Linear { min: 0, max: MAX_FRAME_PARAM }),
            frame_count: IntParam::new("Frame count", 0, IntRange::Linear { min: 0, max: MAX_FRAME_PARAM }),
            loop_on: BoolParam::new("Loop", true),
            playback_rate: FloatParam::new(
                "Playback rate",
                1.0,
                FloatRange::SymmetricalSkewed {
                    min: -8.0,
                    max: 8.0,
                    factor: FloatRange::skew_factor(-1.5),
                    center: 0.0,
                },
            )
            .with_unit(" x")
            .with_value_to_string(formatters::v2s_f32_rounded(3)),
            update_rate_hz: FloatParam::new(
                "Update rate",
                0.0,
                FloatRange::Skewed { min: 0.0, max: 2000.0, factor: FloatRange::skew_factor(-2.5) },
            )
            .with_unit(" Hz")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            play: BoolParam::new("Play", false),
            host_sync: BoolParam::new("Host sync", false),
            root_note: IntParam::new("Root note", 60, IntRange::Linear { min: 0, max: 127 })
                .with_value_to_string(Arc::new(note_name))
                .with_string_to_value(Arc::new(parse_note_name)),
            key_mode: EnumParam::new("Key mode", KeyMode::TetStep),
            velocity_sensitivity: level_param("Velocity sensitivity", 1.0, 1.0),
            attack_ms: FloatParam::new("Attack", 5.0, time_ms_range(10_000.0))
                .with_unit(" ms")
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            decay_ms: FloatParam::new("Decay", 200.0, time_ms_range(10_000.0))
                .with_unit(" ms")
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            sustain: level_param("Sustain", 1.0, 1.0),
            release_ms: FloatParam::new("Release", 150.0, time_ms_range(10_000.0))
                .with_unit(" ms")
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            bend_range_steps: FloatParam::new("Bend range", 2.0, FloatRange::Linear { min: 0.0, max: 48.0 })
                .with_unit(" steps")
                .with_step_size(0.01),
            voice_count: IntParam::new("Voices", 8, IntRange::Linear { min: 1, max: MAX_VOICES as i32 }),
        }
    }
}

/// Note names as musicians read them: 60 = "C4", 69 = "A4".
pub fn note_name(note: i32) -> String {
    const NAMES: [&str; 12] = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
    format!("{}{}", NAMES[note.rem_euclid(12) as usize], note.div_euclid(12) - 1)
}

/// Reads "C4", "f#3", "Bb2" or a plain MIDI number.
pub fn parse_note_name(text: &str) -> Option<i32> {
    let text = text.trim();
    if let Ok(number) = text.parse::<i32>() {
        return (0..=127).contains(&number).then_some(number);
    }
    let mut chars = text.chars();
    let base = match chars.next()?.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let rest: String = chars.collect();
    let (accidental, octave_text) = match rest.chars().next() {
        Some('#') => (1, &rest[1..]),
        Some('b') => (-1, &rest[1..]),
        _ => (0, rest.as_str()),
    };
    let octave: i32 = octave_text.parse().ok()?;
    let note = (octave + 1) * 12 + base + accidental;
    (0..=127).contains(&note).then_some(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_names_round_trip() {
        for note in 0..=127 {
            assert_eq!(parse_note_name(&note_name(note)), Some(note), "{}", note_name(note));
        }
        assert_eq!(note_name(69), "A4");
        assert_eq!(parse_note_name("Bb3"), Some(58));
        assert_eq!(parse_note_name("H4"), None);
    }

    #[test]
    fn stretch_range_puts_one_in_the_middle() {
        let range = stretch_range();
        assert!((range.normalize(1.0) - 0.5).abs() < 1e-3);
        assert!((range.unnormalize(0.0) - 0.25).abs() < 1e-6);
        assert!((range.unnormalize(1.0) - 4.0).abs() < 1e-4);
    }
}

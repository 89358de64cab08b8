//! The host-automatable parameters of the DDSP Spectral Player (SPEC §4 controls plus the note
//! controls of SPEC §5, the Source of SPEC §9), and the persisted sound and model slots.
//!
//! Parameter ids are the save format of every project that uses the plugin: they are short and
//! must never be renamed or reused. The ranges and defaults of the SPEC §4 controls are built
//! from `ddsp-shared`'s range constants and `RenderParams::default()` (one fact, one place); the
//! GUI reads them from here.

use std::ops::RangeInclusive;
use std::sync::Arc;

use ddsp_shared::render::{
    AnchorMode, BounceParams, RenderParams, ANCHOR_HZ_RANGE, BOUNCE_DURATION_S_RANGE, BOUNCE_JITTER_RANGE,
    BOUNCE_SPEED_HZ_RANGE, HARMONIC_VOLUME_RANGE, NOISE_MAGNITUDE_SCALE_RANGE, NOISE_VOLUME_RANGE, PARTIAL_GAIN_RANGE,
    PITCH_STEPS_RANGE, PLAYBACK_RATE_RANGE, SMOOTHING_MS_RANGE, STRETCH_RANGE, TET_SIZE_RANGE, UPDATE_RATE_HZ_RANGE,
};
use nice_plug::prelude::*;

use crate::state::{ModelSlot, SoundSlot};

/// What the voices play (SPEC §9 "Source").
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceMode {
    /// The loaded CSV's timeline, transposed by each note.
    #[id = "csv"]
    #[name = "CSV"]
    Csv,
    /// The loaded model, singing each note's pitch and loudness live.
    #[id = "model"]
    #[name = "Model"]
    Model,
}

/// The "Anchor mode" parameter's value: the renderer's [`AnchorMode`] (SPEC §4 "anchor modes"),
/// whose names and permanent ids live beside it in `ddsp-shared`. A newtype only because
/// nice-plug's [`Enum`] must be implemented in this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorChoice(pub AnchorMode);

impl Enum for AnchorChoice {
    fn variants() -> &'static [&'static str] {
        &AnchorMode::NAMES
    }

    fn ids() -> Option<&'static [&'static str]> {
        Some(&AnchorMode::IDS)
    }

    fn to_index(self) -> usize {
        self.0.index()
    }

    fn from_index(index: usize) -> Self {
        Self(AnchorMode::from_index(index))
    }
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

/// Most MIDI voices a user can ask for (SPEC §5 "up to 16"), defined with the shared voices.
pub use ddsp_shared::voices::MAX_VOICES;

/// Every parameter of the plugin. Field order is the order hosts list them in.
#[derive(Params)]
pub struct PlayerParams {
    /// The file path and the compressed CSV data of the loaded sound, saved with the project so
    /// that it plays the same on a machine without the file.
    #[persist = "sound"]
    pub sound: SoundSlot,
    /// The path and the instrument file of the imported model, saved with the project.
    #[persist = "model"]
    pub model: ModelSlot,
    /// The editor window's size, so it reopens as it was left.
    #[persist = "window"]
    pub window: crate::window_size::WindowSizeSlot,

    /// CSV timeline or live model.
    #[id = "source"]
    pub source: EnumParam<SourceMode>,

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
    pub anchor_mode: EnumParam<AnchorChoice>,
    /// The anchor used by [`AnchorMode::ManualHz`].
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
    let (min, max) = (*STRETCH_RANGE.start(), *STRETCH_RANGE.end());
    // normalized = ((s - min) / (max - min))^factor; this factor maps s = 1 to exactly 0.5.
    let factor = 0.5f32.ln() / ((1.0 - min) / (max - min)).ln();
    FloatRange::Skewed { min, max, factor }
}

/// A linear range over `range`.
fn linear(range: &RangeInclusive<f32>) -> FloatRange {
    FloatRange::Linear { min: *range.start(), max: *range.end() }
}

/// A range over `range`, skewed by `skew` (negative: more of the slider for small values).
fn skewed(range: &RangeInclusive<f32>, skew: f32) -> FloatRange {
    FloatRange::Skewed { min: *range.start(), max: *range.end(), factor: FloatRange::skew_factor(skew) }
}

/// A time in milliseconds from 0 to `max_ms`, skewed towards short times.
fn time_ms_range(max_ms: f32) -> FloatRange {
    skewed(&(0.0..=max_ms), -2.0)
}

/// A linear level over `range` shown as a percentage.
fn level_param(name: &str, default: f32, range: &RangeInclusive<f32>) -> FloatParam {
    FloatParam::new(name, default, linear(range))
        .with_unit(" %")
        .with_value_to_string(formatters::v2s_f32_percentage(0))
        .with_string_to_value(formatters::s2v_f32_percentage())
}

/// A stretch factor (stretch itself and the bounce limits).
fn stretch_param(name: &str, default: f32) -> FloatParam {
    FloatParam::new(name, default, stretch_range()).with_unit(" x").with_value_to_string(formatters::v2s_f32_rounded(3))
}

/// A plugin voice loops its playback window by default, so a held note keeps sounding however
/// short the file (`ddsp render` plays a file once: `RenderParams::default()` does not loop).
const LOOP_DEFAULT: bool = true;

/// Highest frame index the start frame and frame count parameters accept: one hour at the
/// original's 250 frames per second.
pub const MAX_FRAME_PARAM: i32 = 900_000;

impl PlayerParams {
    /// Parameters at their defaults, with `exchange` behind the persisted sound and model
    /// slots.
    pub fn new(exchange: Arc<crate::state::SoundExchange>) -> Self {
        let sound = SoundSlot(exchange.clone());
        let model = ModelSlot(exchange);
        let d = RenderParams::default();
        let db = d.bounce;
        let adsr = ddsp_shared::voices::AdsrSettings::default();
        let (tet_min, tet_max) = (*TET_SIZE_RANGE.start() as i32, *TET_SIZE_RANGE.end() as i32);
        Self {
            sound,
            model,
            window: Default::default(),
            source: EnumParam::new("Source", SourceMode::Csv),
            tet_size: IntParam::new("TET size", d.tet_size as i32, IntRange::Linear { min: tet_min, max: tet_max })
                .with_unit(" steps/oct"),
            master_pitch_steps: FloatParam::new("Master pitch", d.pitch_steps, linear(&PITCH_STEPS_RANGE))
                .with_unit(" steps")
                .with_step_size(0.01),
            stretch: stretch_param("Stretch", d.stretch),
            anchor_mode: EnumParam::new("Anchor mode", AnchorChoice(d.anchor)),
            anchor_hz: FloatParam::new("Anchor", d.anchor_hz, skewed(&ANCHOR_HZ_RANGE, -2.5))
                .with_unit(" Hz")
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            bounce_on: BoolParam::new("Bounce", db.enabled),
            bounce_min: stretch_param("Bounce min", db.min),
            bounce_max: stretch_param("Bounce max", db.max),
            bounce_speed_hz: FloatParam::new("Bounce speed", db.speed_hz, skewed(&BOUNCE_SPEED_HZ_RANGE, -2.5))
                .with_unit(" Hz")
                .with_value_to_string(formatters::v2s_f32_rounded(2)),
            bounce_jitter: level_param("Bounce jitter", db.jitter, &BOUNCE_JITTER_RANGE),
            bounce_duration_s: FloatParam::new(
                "Bounce duration",
                db.duration_s,
                skewed(&BOUNCE_DURATION_S_RANGE, -3.0),
            )
            .with_unit(" s")
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            harmonic_volume: level_param("Harmonic volume", d.harmonic_volume, &HARMONIC_VOLUME_RANGE),
            partial_gain: level_param("Partial gain", d.partial_gain, &PARTIAL_GAIN_RANGE),
            noise_volume: level_param("Noise volume", d.noise_volume, &NOISE_VOLUME_RANGE),
            noise_magnitude_scale: level_param(
                "Noise magnitude",
                d.noise_magnitude_scale,
                &NOISE_MAGNITUDE_SCALE_RANGE,
            ),
            smoothing_ms: FloatParam::new("Smoothing", d.smoothing_ms, skewed(&SMOOTHING_MS_RANGE, -2.0))
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
            loop_on: BoolParam::new("Loop", LOOP_DEFAULT),
            playback_rate: FloatParam::new(
                "Playback rate",
                d.playback_rate,
                FloatRange::SymmetricalSkewed {
                    min: *PLAYBACK_RATE_RANGE.start(),
                    max: *PLAYBACK_RATE_RANGE.end(),
                    factor: FloatRange::skew_factor(-1.5),
                    center: 0.0,
                },
            )
            .with_unit(" x")
            .with_value_to_string(formatters::v2s_f32_rounded(3)),
            update_rate_hz: FloatParam::new("Update rate", d.update_rate_hz, skewed(&UPDATE_RATE_HZ_RANGE, -2.5))
                .with_unit(" Hz")
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            play: BoolParam::new("Play", false),
            host_sync: BoolParam::new("Host sync", false),
            root_note: IntParam::new("Root note", 60, IntRange::Linear { min: 0, max: 127 })
                .with_value_to_string(Arc::new(note_name))
                .with_string_to_value(Arc::new(parse_note_name)),
            key_mode: EnumParam::new("Key mode", KeyMode::TetStep),
            velocity_sensitivity: level_param("Velocity sensitivity", 1.0, &(0.0..=1.0)),
            attack_ms: FloatParam::new("Attack", adsr.attack_ms, time_ms_range(ddsp_shared::voices::MAX_ADSR_TIME_MS))
                .with_unit(" ms")
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            decay_ms: FloatParam::new("Decay", adsr.decay_ms, time_ms_range(ddsp_shared::voices::MAX_ADSR_TIME_MS))
                .with_unit(" ms")
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            sustain: level_param("Sustain", adsr.sustain, &(0.0..=1.0)),
            release_ms: FloatParam::new(
                "Release",
                adsr.release_ms,
                time_ms_range(ddsp_shared::voices::MAX_ADSR_TIME_MS),
            )
            .with_unit(" ms")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            bend_range_steps: FloatParam::new("Bend range", 2.0, FloatRange::Linear { min: 0.0, max: 48.0 })
                .with_unit(" steps")
                .with_step_size(0.01),
            voice_count: IntParam::new("Voices", 8, IntRange::Linear { min: 1, max: MAX_VOICES as i32 }),
        }
    }
}

impl PlayerParams {
    /// The renderer's controls from the current parameter values.
    pub fn render_params(&self) -> RenderParams {
        RenderParams {
            pitch_steps: self.master_pitch_steps.value(),
            tet_size: self.tet_size.value().max(1) as u32,
            stretch: self.stretch.value(),
            anchor: self.anchor_mode.value().0,
            anchor_hz: self.anchor_hz.value(),
            bounce: BounceParams {
                enabled: self.bounce_on.value(),
                min: self.bounce_min.value(),
                max: self.bounce_max.value(),
                speed_hz: self.bounce_speed_hz.value(),
                jitter: self.bounce_jitter.value(),
                duration_s: self.bounce_duration_s.value(),
            },
            harmonic_volume: self.harmonic_volume.value(),
            partial_gain: self.partial_gain.value(),
            noise_volume: self.noise_volume.value(),
            noise_magnitude_scale: self.noise_magnitude_scale.value(),
            smoothing_ms: self.smoothing_ms.value(),
            start_frame: self.start_frame.value().max(0) as usize,
            frame_count: self.frame_count.value().max(0) as usize,
            looping: self.loop_on.value(),
            playback_rate: self.playback_rate.value(),
            update_rate_hz: self.update_rate_hz.value(),
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

    /// The parameters at their defaults are the renderer's defaults (but for looping, see
    /// [`LOOP_DEFAULT`]), and each SPEC §4 parameter spans exactly the renderer's range.
    #[test]
    fn defaults_and_ranges_are_the_renderers() {
        let params = PlayerParams::new(crate::state::SoundExchange::with_builtin_sound());
        assert_eq!(params.render_params(), RenderParams { looping: LOOP_DEFAULT, ..RenderParams::default() });
        let spans = [
            (&params.master_pitch_steps, PITCH_STEPS_RANGE),
            (&params.stretch, STRETCH_RANGE),
            (&params.anchor_hz, ANCHOR_HZ_RANGE),
            (&params.bounce_min, STRETCH_RANGE),
            (&params.bounce_max, STRETCH_RANGE),
            (&params.bounce_speed_hz, BOUNCE_SPEED_HZ_RANGE),
            (&params.bounce_jitter, BOUNCE_JITTER_RANGE),
            (&params.bounce_duration_s, BOUNCE_DURATION_S_RANGE),
            (&params.harmonic_volume, HARMONIC_VOLUME_RANGE),
            (&params.partial_gain, PARTIAL_GAIN_RANGE),
            (&params.noise_volume, NOISE_VOLUME_RANGE),
            (&params.noise_magnitude_scale, NOISE_MAGNITUDE_SCALE_RANGE),
            (&params.smoothing_ms, SMOOTHING_MS_RANGE),
            (&params.playback_rate, PLAYBACK_RATE_RANGE),
            (&params.update_rate_hz, UPDATE_RATE_HZ_RANGE),
        ];
        for (param, range) in spans {
            let (low, high) = (param.preview_plain(0.0), param.preview_plain(1.0));
            assert!((low - range.start()).abs() <= 1e-4 * range.end().abs(), "{}: {low} vs {range:?}", param.name());
            assert!((high - range.end()).abs() <= 1e-4 * range.end().abs(), "{}: {high} vs {range:?}", param.name());
        }
        assert_eq!(params.tet_size.preview_plain(0.0) as u32, *TET_SIZE_RANGE.start());
        assert_eq!(params.tet_size.preview_plain(1.0) as u32, *TET_SIZE_RANGE.end());
        for (index, mode) in AnchorMode::ALL.into_iter().enumerate() {
            assert_eq!(AnchorChoice::from_index(index), AnchorChoice(mode));
            assert_eq!(AnchorChoice(mode).to_index(), index);
        }
    }

    #[test]
    fn stretch_range_puts_one_in_the_middle() {
        let range = stretch_range();
        assert!((range.normalize(1.0) - 0.5).abs() < 1e-3);
        assert!((range.unnormalize(0.0) - 0.25).abs() < 1e-6);
        assert!((range.unnormalize(1.0) - 4.0).abs() < 1e-4);
    }
}

//! [`RenderParams`]: every control of SPEC §4 in one plain `Copy` struct, with the allowed
//! range of each control as a constant so that the plugin's parameters, the CLI's flags and
//! the renderer's own clamping all agree.
//!
//! The defaults are the identity: rendering with `RenderParams::default()` plays the envelope
//! once, as it was analysed, at its own pitch and level.

use std::ops::RangeInclusive;

use super::stretch::AnchorMode;

/// Master pitch, in steps of the current TET (SPEC §4: ±48).
pub const PITCH_STEPS_RANGE: RangeInclusive<f32> = -48.0..=48.0;
/// Equal divisions of the octave (12 = semitones, 24 = quarter tones, 53 = comma steps).
pub const TET_SIZE_RANGE: RangeInclusive<u32> = 1..=96;
/// Log-frequency stretch factor around the anchor (also the range of the bounce bounds).
pub const STRETCH_RANGE: RangeInclusive<f32> = 0.25..=4.0;
/// Manual anchor frequency, Hz.
pub const ANCHOR_HZ_RANGE: RangeInclusive<f32> = 1.0..=20_000.0;
/// Bounce oscillation speed, Hz (one full min→max→min cycle per period).
pub const BOUNCE_SPEED_HZ_RANGE: RangeInclusive<f32> = 0.01..=50.0;
/// Bounce jitter: 0 = a steady oscillation, 1 = speed varies up to an octave either way and
/// depth down to nothing, per cycle.
pub const BOUNCE_JITTER_RANGE: RangeInclusive<f32> = 0.0..=1.0;
/// Bounce duration, seconds; 0 = until stopped.
pub const BOUNCE_DURATION_S_RANGE: RangeInclusive<f32> = 0.0..=3600.0;
/// Linear gain of the whole harmonic bank.
pub const HARMONIC_VOLUME_RANGE: RangeInclusive<f32> = 0.0..=4.0;
/// Linear gain multiplying every harmonic amplitude (the original's "partial gain"; the
/// learned amplitudes are often small, so it reaches further than the volumes).
pub const PARTIAL_GAIN_RANGE: RangeInclusive<f32> = 0.0..=16.0;
/// Linear gain of the noise.
pub const NOISE_VOLUME_RANGE: RangeInclusive<f32> = 0.0..=4.0;
/// Multiplies every noise band magnitude.
pub const NOISE_MAGNITUDE_SCALE_RANGE: RangeInclusive<f32> = 0.0..=16.0;
/// One-pole time constant of every continuous control, ms.
pub const SMOOTHING_MS_RANGE: RangeInclusive<f32> = 0.0..=2000.0;
/// Playback rate: 1 = as recorded, 0 = freeze on the current frame, negative = backwards.
pub const PLAYBACK_RATE_RANGE: RangeInclusive<f32> = -8.0..=8.0;
/// Stepped frame update rate, Hz; 0 = continuous (frames interpolated per sample).
pub const UPDATE_RATE_HZ_RANGE: RangeInclusive<f32> = 0.0..=2000.0;

/// The timed oscillation of the stretch (SPEC §4 "bounce").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BounceParams {
    /// A bounce starts when this turns on (and on [`super::Renderer::restart`] or
    /// [`super::Renderer::trigger_bounce`] while it is on); turning it off glides the stretch
    /// back to its static value.
    pub enabled: bool,
    /// Lower stretch bound of the oscillation.
    pub min: f32,
    /// Upper stretch bound of the oscillation.
    pub max: f32,
    /// Oscillation speed, Hz.
    pub speed_hz: f32,
    /// Seeded random deviation of speed and depth, drawn once per cycle (0..=1).
    pub jitter: f32,
    /// How long the bounce runs, seconds (0 = until disabled); then the stretch glides back.
    pub duration_s: f32,
}

impl Default for BounceParams {
    fn default() -> Self {
        Self { enabled: false, min: 0.5, max: 2.0, speed_hz: 1.0, jitter: 0.0, duration_s: 0.0 }
    }
}

/// Every control of the renderer (SPEC §4). Plain data: the plugin builds one per block from
/// its parameters, the CLI from its flags. Values outside the ranges above are clamped by the
/// renderer (NaN falls back to the default).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenderParams {
    /// Master pitch in steps of `tet_size` equal divisions of the octave.
    pub pitch_steps: f32,
    /// Equal divisions of the octave that `pitch_steps` counts in.
    pub tet_size: u32,
    /// Static stretch: `f' = A * (f / A)^stretch`.
    pub stretch: f32,
    /// Which frequency `A` stays put under stretch.
    pub anchor: AnchorMode,
    /// `A` for [`AnchorMode::ManualHz`], Hz.
    pub anchor_hz: f32,
    /// Timed oscillation of the stretch.
    pub bounce: BounceParams,
    /// Linear gain of the harmonic bank.
    pub harmonic_volume: f32,
    /// Linear gain on every harmonic amplitude.
    pub partial_gain: f32,
    /// Linear gain of the noise.
    pub noise_volume: f32,
    /// Multiplies every noise band magnitude.
    pub noise_magnitude_scale: f32,
    /// Time constant of the one-pole smoothing of every continuous control, ms; makes host
    /// automation click-free at any block size.
    pub smoothing_ms: f32,
    /// First frame of the playback window: a position in the envelope's arrays (the n-th frame
    /// present, counting from 0), not a file frame index.
    pub start_frame: usize,
    /// Frames in the playback window; 0 = to the end of the envelope.
    pub frame_count: usize,
    /// Repeat the window instead of finishing at its end.
    pub looping: bool,
    /// 1 = as recorded, 0 = freeze, negative = backwards (starts at the window's end).
    pub playback_rate: f32,
    /// 0 = continuous; otherwise the read position moves in steps, N times a second, like the
    /// original's clock.
    pub update_rate_hz: f32,
}

impl Default for RenderParams {
    fn default() -> Self {
        Self {
            pitch_steps: 0.0,
            tet_size: 12,
            stretch: 1.0,
            anchor: AnchorMode::FixedF0,
            anchor_hz: 440.0,
            bounce: BounceParams::default(),
            harmonic_volume: 1.0,
            partial_gain: 1.0,
            noise_volume: 1.0,
            noise_magnitude_scale: 1.0,
            smoothing_ms: 20.0,
            start_frame: 0,
            frame_count: 0,
            looping: false,
            playback_rate: 1.0,
            update_rate_hz: 0.0,
        }
    }
}

/// `value` clamped into `range`; NaN becomes `fallback`.
pub(crate) fn clamp_or(value: f32, range: &RangeInclusive<f32>, fallback: f32) -> f32 {
    if value.is_nan() {
        fallback
    } else {
        value.clamp(*range.start(), *range.end())
    }
}

impl RenderParams {
    /// A copy with every value clamped into its range (NaN → default). The renderer calls
    /// this on every block, so a host sending wild values cannot make it blow up.
    pub fn sanitized(&self) -> Self {
        let d = Self::default();
        let db = BounceParams::default();
        let (bmin, bmax) = {
            let a = clamp_or(self.bounce.min, &STRETCH_RANGE, db.min);
            let b = clamp_or(self.bounce.max, &STRETCH_RANGE, db.max);
            (a.min(b), a.max(b))
        };
        Self {
            pitch_steps: clamp_or(self.pitch_steps, &PITCH_STEPS_RANGE, d.pitch_steps),
            tet_size: self.tet_size.clamp(*TET_SIZE_RANGE.start(), *TET_SIZE_RANGE.end()),
            stretch: clamp_or(self.stretch, &STRETCH_RANGE, d.stretch),
            anchor: self.anchor,
            anchor_hz: clamp_or(self.anchor_hz, &ANCHOR_HZ_RANGE, d.anchor_hz),
            bounce: BounceParams {
                enabled: self.bounce.enabled,
                min: bmin,
                max: bmax,
                speed_hz: clamp_or(self.bounce.speed_hz, &BOUNCE_SPEED_HZ_RANGE, db.speed_hz),
                jitter: clamp_or(self.bounce.jitter, &BOUNCE_JITTER_RANGE, db.jitter),
                duration_s: clamp_or(self.bounce.duration_s, &BOUNCE_DURATION_S_RANGE, db.duration_s),
            },
            harmonic_volume: clamp_or(self.harmonic_volume, &HARMONIC_VOLUME_RANGE, d.harmonic_volume),
            partial_gain: clamp_or(self.partial_gain, &PARTIAL_GAIN_RANGE, d.partial_gain),
            noise_volume: clamp_or(self.noise_volume, &NOISE_VOLUME_RANGE, d.noise_volume),
            noise_magnitude_scale: clamp_or(
                self.noise_magnitude_scale,
                &NOISE_MAGNITUDE_SCALE_RANGE,
                d.noise_magnitude_scale,
            ),
            smoothing_ms: clamp_or(self.smoothing_ms, &SMOOTHING_MS_RANGE, d.smoothing_ms),
            start_frame: self.start_frame,
            frame_count: self.frame_count,
            looping: self.looping,
            playback_rate: clamp_or(self.playback_rate, &PLAYBACK_RATE_RANGE, d.playback_rate),
            update_rate_hz: clamp_or(self.update_rate_hz, &UPDATE_RATE_HZ_RANGE, d.update_rate_hz),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitized_clamps_wild_values_and_replaces_nan() {
        let p = RenderParams {
            pitch_steps: 100.0,
            tet_size: 0,
            stretch: f32::NAN,
            bounce: BounceParams { min: 3.0, max: 0.1, ..BounceParams::default() },
            playback_rate: -100.0,
            ..RenderParams::default()
        }
        .sanitized();
        assert_eq!(p.pitch_steps, 48.0);
        assert_eq!(p.tet_size, 1);
        assert_eq!(p.stretch, 1.0);
        assert_eq!((p.bounce.min, p.bounce.max), (0.25, 3.0));
        assert_eq!(p.playback_rate, -8.0);
    }

    #[test]
    fn defaults_are_inside_their_ranges() {
        let d = RenderParams::default();
        assert_eq!(d, d.sanitized());
    }
}

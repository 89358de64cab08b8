//! The envelope model: what a learned (or analysed) sound is, frame by frame, laid out for
//! playback.
//!
//! The unified CSV (SPEC §2) is one row per component; playback wants contiguous arrays it can
//! index without searching. An [`Envelope`] holds, for each frame `i`:
//! - `frame_indices[i]`: the frame's index in the file; its time is `frame_index / frame_rate_hz`
//!   (a downsampled file skips indices, so `i` and `frame_indices[i]` differ),
//! - `f0_hz[i]`,
//! - `harmonic_count` harmonic frequencies (Hz) and linear amplitudes,
//! - `noise_band_count` noise band centres (Hz) and linear magnitudes,
//!
//! stored row-major: component `k` of frame `i` is at `i * count + k`.
//!
//! A component that a frame of the file does not carry is silent: a missing harmonic `k` has
//! amplitude 0 and frequency `(k + 1) * f0`; a missing noise band has magnitude 0 and the
//! centre that band has in the nearest frame that carries it.

use std::ops::RangeInclusive;

/// The longest stretch of time an envelope may cover, seconds (24 hours, also the longest
/// render `ddsp render --seconds` makes): a frame index or frame rate that puts a frame later
/// than this is refused where the file is read, so a tiny file cannot ask for a render that
/// never ends or an allocation that cannot succeed.
pub const MAX_DURATION_S: f64 = 86_400.0;

/// The `sample_rate` an envelope may declare, Hz: from telephone-band data to 8x 96 kHz.
pub const SAMPLE_RATE_RANGE_HZ: RangeInclusive<f64> = 1_000.0..=768_000.0;

/// The `frame_rate` an envelope may declare, Hz: one frame per 100 s at the slowest (a drone
/// written by hand), one frame per sample at the fastest rate allowed.
pub const FRAME_RATE_RANGE_HZ: RangeInclusive<f64> = 0.01..=768_000.0;

/// Per-frame harmonic and noise-band envelopes, with the metadata of the unified CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// Frames per second (may be fractional, e.g. 250.57).
    pub frame_rate_hz: f64,
    /// The audio rate the data was made at (metadata only; rendering may use any rate).
    pub sample_rate_hz: f64,
    /// Metadata keys other than `frame_rate` and `sample_rate`, kept in file order so that a
    /// round trip through the CSV writer preserves them.
    pub extra_metadata: Vec<(String, String)>,
    /// Number of harmonics per frame (`H`).
    pub harmonic_count: usize,
    /// Number of noise bands per frame (`B`).
    pub noise_band_count: usize,
    /// Frame index of each frame as written in the file; strictly rising.
    pub frame_indices: Vec<u64>,
    /// Fundamental of each frame, Hz.
    pub f0_hz: Vec<f32>,
    /// `[frames * H]` instantaneous harmonic frequencies, Hz.
    pub harmonic_freqs_hz: Vec<f32>,
    /// `[frames * H]` linear harmonic amplitudes.
    pub harmonic_amps: Vec<f32>,
    /// `[frames * B]` noise band centre frequencies, Hz.
    pub band_centres_hz: Vec<f32>,
    /// `[frames * B]` linear noise band magnitudes.
    pub band_mags: Vec<f32>,
}

impl Envelope {
    /// An envelope with `frame_count` frames (indices 0..frame_count), all silent, harmonics at
    /// multiples of `f0_hz`, and bands spread linearly from 0 to the Nyquist of `sample_rate_hz`.
    pub fn silent(
        frame_rate_hz: f64,
        sample_rate_hz: f64,
        frame_count: usize,
        harmonic_count: usize,
        noise_band_count: usize,
        f0_hz: f32,
    ) -> Self {
        let mut harmonic_freqs_hz = Vec::with_capacity(frame_count * harmonic_count);
        let mut band_centres_hz = Vec::with_capacity(frame_count * noise_band_count);
        for _ in 0..frame_count {
            harmonic_freqs_hz.extend((0..harmonic_count).map(|k| f0_hz * (k + 1) as f32));
            band_centres_hz
                .extend((0..noise_band_count).map(|b| linear_band_centre_hz(b, noise_band_count, sample_rate_hz)));
        }
        Self {
            frame_rate_hz,
            sample_rate_hz,
            extra_metadata: Vec::new(),
            harmonic_count,
            noise_band_count,
            frame_indices: (0..frame_count as u64).collect(),
            f0_hz: vec![f0_hz; frame_count],
            harmonic_amps: vec![0.0; frame_count * harmonic_count],
            harmonic_freqs_hz,
            band_mags: vec![0.0; frame_count * noise_band_count],
            band_centres_hz,
        }
    }

    /// Number of frames.
    pub fn frame_count(&self) -> usize {
        self.frame_indices.len()
    }

    /// Time of frame `i` (a position in the arrays, not a file index), seconds.
    pub fn frame_time_s(&self, i: usize) -> f64 {
        self.frame_indices[i] as f64 / self.frame_rate_hz
    }

    /// Whether frame `i` is voiced: a fundamental above 0 Hz with at least one harmonic that
    /// sounds. Trackers (and DDSP's exporter) keep an f0 in unvoiced frames and silence the
    /// harmonics instead, so f0 alone does not say (docs/CSV_FORMAT.md).
    pub fn is_voiced(&self, i: usize) -> bool {
        self.f0_hz[i] > 0.0 && self.harmonic_amps(i).iter().any(|&a| a > 0.0)
    }

    /// Duration from time 0 to one frame period after the last frame, seconds.
    pub fn duration_s(&self) -> f64 {
        match self.frame_indices.last() {
            Some(&last) => (last + 1) as f64 / self.frame_rate_hz,
            None => 0.0,
        }
    }

    /// Harmonic frequencies of frame `i`, Hz.
    pub fn harmonic_freqs(&self, i: usize) -> &[f32] {
        &self.harmonic_freqs_hz[i * self.harmonic_count..(i + 1) * self.harmonic_count]
    }

    /// Harmonic amplitudes of frame `i`.
    pub fn harmonic_amps(&self, i: usize) -> &[f32] {
        &self.harmonic_amps[i * self.harmonic_count..(i + 1) * self.harmonic_count]
    }

    /// Noise band centres of frame `i`, Hz.
    pub fn band_centres(&self, i: usize) -> &[f32] {
        &self.band_centres_hz[i * self.noise_band_count..(i + 1) * self.noise_band_count]
    }

    /// Noise band magnitudes of frame `i`.
    pub fn band_mags(&self, i: usize) -> &[f32] {
        &self.band_mags[i * self.noise_band_count..(i + 1) * self.noise_band_count]
    }

    /// Checks the invariants every consumer relies on: array lengths agree with the counts,
    /// frame indices rise strictly, rates are positive and finite, and every number is finite
    /// and non-negative. Returns the first violation.
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        let n = self.frame_count();
        for (key, value, range) in [
            ("frame_rate", self.frame_rate_hz, FRAME_RATE_RANGE_HZ),
            ("sample_rate", self.sample_rate_hz, SAMPLE_RATE_RANGE_HZ),
        ] {
            if !range.contains(&value) {
                return Err(EnvelopeError::BadRate { key, value, min: *range.start(), max: *range.end() });
            }
        }
        if let Some(&last) = self.frame_indices.last() {
            let seconds = last as f64 / self.frame_rate_hz;
            if seconds > MAX_DURATION_S {
                return Err(EnvelopeError::TooLong { frame: last, seconds, max_s: MAX_DURATION_S });
            }
        }
        let checks = [
            ("f0_hz", self.f0_hz.len(), n),
            ("harmonic_freqs_hz", self.harmonic_freqs_hz.len(), n * self.harmonic_count),
            ("harmonic_amps", self.harmonic_amps.len(), n * self.harmonic_count),
            ("band_centres_hz", self.band_centres_hz.len(), n * self.noise_band_count),
            ("band_mags", self.band_mags.len(), n * self.noise_band_count),
        ];
        for (array, got, expected) in checks {
            if got != expected {
                return Err(EnvelopeError::WrongLength { array, got, expected });
            }
        }
        if let Some(w) = self.frame_indices.windows(2).position(|w| w[1] <= w[0]) {
            return Err(EnvelopeError::FramesNotRising {
                earlier: self.frame_indices[w],
                later: self.frame_indices[w + 1],
            });
        }
        for (quantity, values) in [
            ("f0_hz", &self.f0_hz),
            ("harmonic frequency", &self.harmonic_freqs_hz),
            ("harmonic amplitude", &self.harmonic_amps),
            ("noise band centre", &self.band_centres_hz),
            ("noise band magnitude", &self.band_mags),
        ] {
            if let Some(&value) = values.iter().find(|v| !v.is_finite() || **v < 0.0) {
                return Err(EnvelopeError::BadValue { quantity, value });
            }
        }
        Ok(())
    }

    /// An envelope with no frames, with this one's rates, metadata and component counts, with
    /// room for `frame_capacity` frames: the start of every tool that builds a new envelope
    /// frame by frame with [`Envelope::push_frame`].
    pub fn empty_like(&self, harmonic_count: usize, noise_band_count: usize, frame_capacity: usize) -> Self {
        Self {
            frame_rate_hz: self.frame_rate_hz,
            sample_rate_hz: self.sample_rate_hz,
            extra_metadata: self.extra_metadata.clone(),
            harmonic_count,
            noise_band_count,
            frame_indices: Vec::with_capacity(frame_capacity),
            f0_hz: Vec::with_capacity(frame_capacity),
            harmonic_freqs_hz: Vec::with_capacity(frame_capacity * harmonic_count),
            harmonic_amps: Vec::with_capacity(frame_capacity * harmonic_count),
            band_centres_hz: Vec::with_capacity(frame_capacity * noise_band_count),
            band_mags: Vec::with_capacity(frame_capacity * noise_band_count),
        }
    }

    /// Appends one frame.
    ///
    /// # Panics
    /// If a slice's length is not the envelope's component count (a programming error: every
    /// caller builds its slices from the counts it gave [`Envelope::empty_like`]).
    pub fn push_frame(
        &mut self,
        frame_index: u64,
        f0_hz: f32,
        harmonics: FrameComponents<'_>,
        bands: FrameComponents<'_>,
    ) {
        assert_eq!(harmonics.freqs_hz.len(), self.harmonic_count, "harmonic frequencies of one frame");
        assert_eq!(harmonics.values.len(), self.harmonic_count, "harmonic amplitudes of one frame");
        assert_eq!(bands.freqs_hz.len(), self.noise_band_count, "band centres of one frame");
        assert_eq!(bands.values.len(), self.noise_band_count, "band magnitudes of one frame");
        self.frame_indices.push(frame_index);
        self.f0_hz.push(f0_hz);
        self.harmonic_freqs_hz.extend_from_slice(harmonics.freqs_hz);
        self.harmonic_amps.extend_from_slice(harmonics.values);
        self.band_centres_hz.extend_from_slice(bands.freqs_hz);
        self.band_mags.extend_from_slice(bands.values);
    }

    /// Frames `range` (array positions) as a new envelope. The frame indices are kept, so a
    /// slice's frames keep their times in the whole.
    pub fn slice_frames(&self, range: std::ops::Range<usize>) -> Self {
        let (h, b) = (self.harmonic_count, self.noise_band_count);
        let (start, end) = (range.start, range.end);
        Self {
            frame_rate_hz: self.frame_rate_hz,
            sample_rate_hz: self.sample_rate_hz,
            extra_metadata: self.extra_metadata.clone(),
            harmonic_count: h,
            noise_band_count: b,
            frame_indices: self.frame_indices[start..end].to_vec(),
            f0_hz: self.f0_hz[start..end].to_vec(),
            harmonic_freqs_hz: self.harmonic_freqs_hz[start * h..end * h].to_vec(),
            harmonic_amps: self.harmonic_amps[start * h..end * h].to_vec(),
            band_centres_hz: self.band_centres_hz[start * b..end * b].to_vec(),
            band_mags: self.band_mags[start * b..end * b].to_vec(),
        }
    }

    /// An envelope with no frames and no components; `const`, so the renderer can fall back
    /// to it on the audio thread without allocating.
    pub const EMPTY: Envelope = Envelope {
        frame_rate_hz: 1.0,
        sample_rate_hz: 16_000.0,
        extra_metadata: Vec::new(),
        harmonic_count: 0,
        noise_band_count: 0,
        frame_indices: Vec::new(),
        f0_hz: Vec::new(),
        harmonic_freqs_hz: Vec::new(),
        harmonic_amps: Vec::new(),
        band_centres_hz: Vec::new(),
        band_mags: Vec::new(),
    };
}

/// One frame's harmonics (frequencies and amplitudes) or noise bands (centres and magnitudes),
/// as [`Envelope::push_frame`] takes them.
#[derive(Clone, Copy, Debug)]
pub struct FrameComponents<'a> {
    /// Frequencies (harmonics) or band centres, Hz.
    pub freqs_hz: &'a [f32],
    /// Linear amplitudes (harmonics) or magnitudes (bands).
    pub values: &'a [f32],
}

/// Why an [`Envelope`] breaks an invariant ([`Envelope::validate`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EnvelopeError {
    /// A rate outside [`FRAME_RATE_RANGE_HZ`] or [`SAMPLE_RATE_RANGE_HZ`].
    #[error("{key} must be between {min} and {max} Hz, got {value}")]
    BadRate {
        /// `frame_rate` or `sample_rate`.
        key: &'static str,
        /// What it is.
        value: f64,
        /// The range allowed.
        min: f64,
        max: f64,
    },
    /// The last frame lies later than [`MAX_DURATION_S`].
    #[error("frame {frame} lies at {seconds:.0} s, past the longest an envelope may last ({max_s} s)")]
    TooLong {
        /// The last frame's index.
        frame: u64,
        /// Its time.
        seconds: f64,
        /// The limit.
        max_s: f64,
    },
    /// An array's length does not match the frame count times its component count.
    #[error("{array} has {got} values, expected {expected}")]
    WrongLength {
        /// The field.
        array: &'static str,
        /// Its length.
        got: usize,
        /// What the counts ask for.
        expected: usize,
    },
    /// Frame indices do not rise strictly.
    #[error("frame indices must rise: frame {later} follows frame {earlier}")]
    FramesNotRising {
        /// The earlier frame's index.
        earlier: u64,
        /// The index that follows it.
        later: u64,
    },
    /// A value is negative, NaN or infinite.
    #[error("{quantity} must be finite and non-negative, got {value}")]
    BadValue {
        /// What kind of value.
        quantity: &'static str,
        /// The first offending value.
        value: f32,
    },
}
/// Centre of band `b` of `count` bands spread linearly from 0 Hz to Nyquist, as DDSP's
/// filtered-noise synthesiser places its magnitudes (band 0 at 0 Hz, the last at Nyquist).
pub fn linear_band_centre_hz(b: usize, count: usize, sample_rate_hz: f64) -> f32 {
    if count <= 1 {
        return 0.0;
    }
    (b as f64 * (sample_rate_hz / 2.0) / (count - 1) as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_envelope_is_valid_and_places_harmonics_at_multiples() {
        let e = Envelope::silent(250.0, 16000.0, 3, 4, 5, 220.0);
        e.validate().unwrap();
        assert_eq!(e.harmonic_freqs(2), &[220.0, 440.0, 660.0, 880.0]);
        assert_eq!(e.band_centres(0), &[0.0, 2000.0, 4000.0, 6000.0, 8000.0]);
        assert!((e.duration_s() - 3.0 / 250.0).abs() < 1e-12);
    }

    #[test]
    fn validate_names_a_frame_index_going_backwards() {
        let mut e = Envelope::silent(250.0, 16000.0, 3, 1, 1, 100.0);
        e.frame_indices = vec![0, 5, 4];
        let err = e.validate().unwrap_err();
        assert_eq!(err, EnvelopeError::FramesNotRising { earlier: 5, later: 4 });
        assert!(err.to_string().contains("frame 4 follows frame 5"), "{err}");
    }

    #[test]
    fn frames_pushed_into_an_empty_like_envelope_and_slices_keep_their_values() {
        let mut whole = Envelope::silent(50.0, 16000.0, 30, 2, 3, 100.0);
        whole.f0_hz.iter_mut().enumerate().for_each(|(i, f)| *f = i as f32);
        let slice = whole.slice_frames(20..30);
        slice.validate().unwrap();
        assert_eq!((slice.frame_count(), slice.f0_hz[0], slice.frame_indices[0]), (10, 20.0, 20));
        let mut rebuilt = whole.empty_like(2, 3, 10);
        for i in 20..30 {
            let harmonics = FrameComponents { freqs_hz: whole.harmonic_freqs(i), values: whole.harmonic_amps(i) };
            let bands = FrameComponents { freqs_hz: whole.band_centres(i), values: whole.band_mags(i) };
            rebuilt.push_frame(whole.frame_indices[i], whole.f0_hz[i], harmonics, bands);
        }
        assert_eq!(rebuilt, slice);
        assert_eq!(Envelope::EMPTY.validate(), Ok(()));
    }
}

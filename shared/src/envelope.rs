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
    /// and non-negative. Returns a description of the first violation.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.frame_count();
        if !(self.frame_rate_hz.is_finite() && self.frame_rate_hz > 0.0) {
            return Err(format!("frame_rate must be a positive number, got {}", self.frame_rate_hz));
        }
        if !(self.sample_rate_hz.is_finite() && self.sample_rate_hz > 0.0) {
            return Err(format!("sample_rate must be a positive number, got {}", self.sample_rate_hz));
        }
        let checks = [
            ("f0_hz", self.f0_hz.len(), n),
            ("harmonic_freqs_hz", self.harmonic_freqs_hz.len(), n * self.harmonic_count),
            ("harmonic_amps", self.harmonic_amps.len(), n * self.harmonic_count),
            ("band_centres_hz", self.band_centres_hz.len(), n * self.noise_band_count),
            ("band_mags", self.band_mags.len(), n * self.noise_band_count),
        ];
        for (name, got, want) in checks {
            if got != want {
                return Err(format!("{name} has {got} values, expected {want}"));
            }
        }
        if let Some(w) = self.frame_indices.windows(2).position(|w| w[1] <= w[0]) {
            return Err(format!(
                "frame indices must rise: frame {} follows frame {}",
                self.frame_indices[w + 1],
                self.frame_indices[w]
            ));
        }
        for (name, values) in [
            ("f0_hz", &self.f0_hz),
            ("harmonic frequency", &self.harmonic_freqs_hz),
            ("harmonic amplitude", &self.harmonic_amps),
            ("noise band centre", &self.band_centres_hz),
            ("noise band magnitude", &self.band_mags),
        ] {
            if let Some(v) = values.iter().find(|v| !v.is_finite() || **v < 0.0) {
                return Err(format!("{name} must be finite and non-negative, got {v}"));
            }
        }
        Ok(())
    }
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
        assert!(err.contains("frame 4 follows frame 5"), "{err}");
    }
}

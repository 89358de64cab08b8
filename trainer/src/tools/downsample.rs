//! `ddsp downsample`: a lighter envelope for faster playback, still placing every frame at its
//! original time.
//!
//! Like the original `downsample_csv.py`: keep every `frame_step`-th frame, the first
//! `max_harmonics` harmonics and the first `max_noise_bands` noise bands (component indices
//! below the limit, so the lowest partials and bands survive). Kept frames keep their frame
//! index and the frame rate stays the same, so `frame_index / frame_rate` is still each frame's
//! time in the original; players hold or interpolate across the skipped indices (SPEC §2).

use ddsp_shared::{Envelope, FrameComponents};

/// Metadata key recording the total frame step applied so far (multiplied when downsampling
/// twice). Readers ignore unknown keys; `ddsp combine` uses it to know a chunk's true length.
pub const FRAME_STEP_KEY: &str = "frame_step";

/// What to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownsampleOptions {
    /// Keep frames 0, N, 2N, … (positions in the file, not frame indices). At least 1.
    pub frame_step: usize,
    /// Keep harmonics `0..max` (all when `None`).
    pub max_harmonics: Option<usize>,
    /// Keep noise bands `0..max` (all when `None`).
    pub max_noise_bands: Option<usize>,
}

impl Default for DownsampleOptions {
    fn default() -> Self {
        Self { frame_step: 1, max_harmonics: None, max_noise_bands: None }
    }
}

/// The frame step a file already carries in its metadata (1 when absent or unreadable).
pub fn recorded_frame_step(env: &Envelope) -> u64 {
    env.extra_metadata
        .iter()
        .find(|(k, _)| k == FRAME_STEP_KEY)
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        .filter(|&s| s >= 1)
        .unwrap_or(1)
}

/// Keeps every `frame_step`-th frame and the lowest harmonics and bands.
///
/// # Panics
/// If `options.frame_step` is 0 (the CLI refuses it before calling).
pub fn downsample(env: &Envelope, options: &DownsampleOptions) -> Envelope {
    assert!(options.frame_step >= 1, "frame_step must be at least 1");
    let h_in = env.harmonic_count;
    let b_in = env.noise_band_count;
    let h = options.max_harmonics.map_or(h_in, |m| m.min(h_in));
    let b = options.max_noise_bands.map_or(b_in, |m| m.min(b_in));
    let kept: Vec<usize> = (0..env.frame_count()).step_by(options.frame_step).collect();
    let mut out = env.empty_like(h, b, kept.len());
    for &i in &kept {
        let harmonics = FrameComponents { freqs_hz: &env.harmonic_freqs(i)[..h], values: &env.harmonic_amps(i)[..h] };
        let bands = FrameComponents { freqs_hz: &env.band_centres(i)[..b], values: &env.band_mags(i)[..b] };
        out.push_frame(env.frame_indices[i], env.f0_hz[i], harmonics, bands);
    }
    if options.frame_step > 1 {
        let step = recorded_frame_step(env) * options.frame_step as u64;
        out.extra_metadata.retain(|(k, _)| k != FRAME_STEP_KEY);
        out.extra_metadata.push((FRAME_STEP_KEY.to_owned(), step.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(frames: usize) -> Envelope {
        let mut env = Envelope::silent(250.0, 16000.0, frames, 6, 5, 100.0);
        for i in 0..frames {
            env.f0_hz[i] = 100.0 + i as f32;
            for k in 0..6 {
                env.harmonic_amps[i * 6 + k] = (i * 10 + k) as f32;
            }
        }
        env
    }

    #[test]
    fn kept_frames_keep_their_time_and_values() {
        let env = ramp(10);
        let out =
            downsample(&env, &DownsampleOptions { frame_step: 4, max_harmonics: Some(3), max_noise_bands: Some(2) });
        out.validate().unwrap();
        assert_eq!(out.frame_indices, vec![0, 4, 8]);
        for (j, &i) in [0usize, 4, 8].iter().enumerate() {
            assert_eq!(out.frame_time_s(j), env.frame_time_s(i));
            assert_eq!(out.f0_hz[j], env.f0_hz[i]);
            assert_eq!(out.harmonic_amps(j), &env.harmonic_amps(i)[..3]);
            assert_eq!(out.band_centres(j), &env.band_centres(i)[..2]);
        }
        assert_eq!(recorded_frame_step(&out), 4);
    }

    #[test]
    fn downsampling_twice_multiplies_the_recorded_step_and_keeps_times() {
        let env = ramp(20);
        let once = downsample(&env, &DownsampleOptions { frame_step: 2, ..Default::default() });
        let twice = downsample(&once, &DownsampleOptions { frame_step: 3, ..Default::default() });
        assert_eq!(twice.frame_indices, vec![0, 6, 12, 18]);
        assert_eq!(recorded_frame_step(&twice), 6);
        assert_eq!(twice.frame_rate_hz, 250.0);
    }

    #[test]
    fn limits_above_the_counts_keep_everything() {
        let env = ramp(3);
        let out = downsample(
            &env,
            &DownsampleOptions { frame_step: 1, max_harmonics: Some(100), max_noise_bands: Some(100) },
        );
        assert_eq!(out, env);
    }
}

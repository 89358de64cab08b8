//! How far a rendered or resynthesised sound is from its reference: DDSP's multi-scale spectral
//! distance, plus f0 and loudness errors.
//!
//! The spectral distance is the loss DDSP trains with (Engel et al. 2020, §B.5): for FFT sizes
//! 2048, 1024, 512, 256, 128 and 64 with 75 % overlap, the mean absolute difference of STFT
//! magnitudes plus the mean absolute difference of their natural logs (floored at 1e-5), summed
//! over sizes. `ddsp eval` and the trainer's fidelity report both call this module, so their
//! numbers are comparable. The value depends on level and sample rate (the FFT sizes are in
//! samples), so compare scores made at the same rate.

use anyhow::ensure;
use realfft::RealFftPlanner;
use serde::Serialize;

use crate::features::f0::{estimate_f0_on_grid, F0Config};
use crate::features::frames::FrameGrid;
use crate::features::loudness::{hann_periodic, loudness_on_grid};

/// FFT sizes of the multi-scale distance, samples: DDSP's defaults, made for 16 kHz audio. The
/// training loss scales them with the model rate (`train::loss::fft_sizes`); the distance
/// uses them as they are, so its figures compare with DDSP's papers.
pub const FFT_SIZES_16K: [usize; 6] = [2048, 1024, 512, 256, 128, 64];
/// Floor of the magnitudes before the log (DDSP's `safe_log` epsilon).
const LOG_FLOOR: f32 = 1e-5;
/// Frame rate of the f0 and loudness comparisons (about 250 Hz, a whole hop at any rate).
const FEATURE_FRAME_RATE_HZ: f64 = 250.0;

/// The distance at one FFT size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScaleDistance {
    /// FFT size, samples (hop = size / 4).
    pub fft_size: usize,
    /// Mean |magnitude difference|.
    pub magnitude_l1: f32,
    /// Mean |log magnitude difference|.
    pub log_magnitude_l1: f32,
}

/// Everything `ddsp eval` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    /// Rate both signals were compared at, Hz.
    pub sample_rate_hz: u32,
    /// Lengths of the inputs and of the stretch compared (the shorter one), seconds.
    pub reference_duration_s: f64,
    pub candidate_duration_s: f64,
    pub compared_duration_s: f64,
    /// DDSP multi-scale spectral distance: sum over scales of both L1 terms (0 = identical).
    pub spectral_distance: f32,
    /// The terms of each scale.
    pub scales: Vec<ScaleDistance>,
    /// Mean absolute f0 difference on frames voiced in both, cents (`None` when no frame is).
    pub f0_error_cents_mean: Option<f32>,
    /// Median absolute f0 difference on frames voiced in both, cents.
    pub f0_error_cents_median: Option<f32>,
    /// Frames voiced in both signals, and frames voiced in the reference.
    pub voiced_frames_both: usize,
    pub voiced_frames_reference: usize,
    /// Mean absolute A-weighted loudness difference over all frames, dB.
    pub loudness_error_db_mean: f32,
}

/// The multi-scale spectral distance between two signals at the same rate, compared over the
/// shorter one's length.
pub fn multiscale_spectral_distance(reference: &[f32], candidate: &[f32], _sample_rate_hz: u32) -> f32 {
    scale_distances(reference, candidate).iter().map(|s| s.magnitude_l1 + s.log_magnitude_l1).sum()
}

/// Each scale's terms.
pub fn scale_distances(reference: &[f32], candidate: &[f32]) -> Vec<ScaleDistance> {
    let n = reference.len().min(candidate.len());
    let (reference, candidate) = (&reference[..n], &candidate[..n]);
    let mut planner = RealFftPlanner::<f32>::new();
    FFT_SIZES_16K
        .iter()
        .map(|&size| {
            let fft = planner.plan_fft_forward(size);
            let window = hann_periodic(size);
            let hop = size / 4;
            let mut buf_a = fft.make_input_vec();
            let mut buf_b = fft.make_input_vec();
            let mut spec_a = fft.make_output_vec();
            let mut spec_b = fft.make_output_vec();
            let mut scratch = fft.make_scratch_vec();
            let (mut mag_sum, mut log_sum, mut count) = (0.0f64, 0.0f64, 0usize);
            // tf.signal.stft(pad_end=True): frames start at 0, hop, ..., zero padded at the end.
            let frames = n.div_ceil(hop).max(1);
            for f in 0..frames {
                let start = f * hop;
                for (j, (a, b)) in buf_a.iter_mut().zip(buf_b.iter_mut()).enumerate() {
                    let idx = start + j;
                    let (x, y) = if idx < n { (reference[idx], candidate[idx]) } else { (0.0, 0.0) };
                    *a = x * window[j];
                    *b = y * window[j];
                }
                fft.process_with_scratch(&mut buf_a, &mut spec_a, &mut scratch).expect("planned sizes");
                fft.process_with_scratch(&mut buf_b, &mut spec_b, &mut scratch).expect("planned sizes");
                for (x, y) in spec_a.iter().zip(&spec_b) {
                    let (ma, mb) = (x.norm(), y.norm());
                    mag_sum += f64::from((ma - mb).abs());
                    log_sum += f64::from((ma.max(LOG_FLOOR).ln() - mb.max(LOG_FLOOR).ln()).abs());
                }
                count += spec_a.len();
            }
            ScaleDistance {
                fft_size: size,
                magnitude_l1: (mag_sum / count as f64) as f32,
                log_magnitude_l1: (log_sum / count as f64) as f32,
            }
        })
        .collect()
}

/// Spectral distance, f0 error and loudness error of `candidate` against `reference`, both at
/// `sample_rate_hz`.
pub fn evaluate(reference: &[f32], candidate: &[f32], sample_rate_hz: u32) -> anyhow::Result<EvalReport> {
    ensure!(sample_rate_hz > 0, "sample rate must be positive");
    ensure!(!reference.is_empty() && !candidate.is_empty(), "both signals must hold samples");
    let n = reference.len().min(candidate.len());
    let (r, c) = (&reference[..n], &candidate[..n]);
    let scales = scale_distances(r, c);
    let grid = FrameGrid::nearest(sample_rate_hz, FEATURE_FRAME_RATE_HZ)?;
    let f0_config = F0Config::default();
    let f0_r = estimate_f0_on_grid(r, &grid, &f0_config);
    let f0_c = estimate_f0_on_grid(c, &grid, &f0_config);
    let mut cents: Vec<f32> = (0..f0_r.f0_hz.len())
        .filter(|&i| f0_r.voiced[i] && f0_c.voiced[i])
        .map(|i| (1200.0 * (f0_c.f0_hz[i] / f0_r.f0_hz[i]).log2()).abs())
        .collect();
    cents.sort_by(f32::total_cmp);
    let n_fft = ((0.032 * f64::from(sample_rate_hz)) as usize).next_power_of_two();
    let loud_r = loudness_on_grid(r, &grid, n_fft);
    let loud_c = loudness_on_grid(c, &grid, n_fft);
    let loudness_error_db_mean =
        loud_r.iter().zip(&loud_c).map(|(a, b)| (a - b).abs()).sum::<f32>() / loud_r.len() as f32;
    let rate = f64::from(sample_rate_hz);
    Ok(EvalReport {
        sample_rate_hz,
        reference_duration_s: reference.len() as f64 / rate,
        candidate_duration_s: candidate.len() as f64 / rate,
        compared_duration_s: n as f64 / rate,
        spectral_distance: scales.iter().map(|s| s.magnitude_l1 + s.log_magnitude_l1).sum(),
        scales,
        f0_error_cents_mean: (!cents.is_empty()).then(|| cents.iter().sum::<f32>() / cents.len() as f32),
        f0_error_cents_median: cents.get(cents.len() / 2).copied(),
        voiced_frames_both: cents.len(),
        voiced_frames_reference: f0_r.voiced.iter().filter(|v| **v).count(),
        loudness_error_db_mean,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    fn tone(freq_hz: f64, amp: f64, sr: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(sr);
                (amp * ((TAU * freq_hz * t).sin() + 0.5 * (2.0 * TAU * freq_hz * t).sin())) as f32
            })
            .collect()
    }

    #[test]
    fn identical_signals_score_zero_and_worse_candidates_score_higher() {
        let sr = 16000;
        let reference = tone(220.0, 0.3, sr, sr as usize);
        assert_eq!(multiscale_spectral_distance(&reference, &reference, sr), 0.0);
        let slightly_off = tone(221.0, 0.3, sr, sr as usize);
        let other_note = tone(330.0, 0.3, sr, sr as usize);
        let silence = vec![0.0; sr as usize];
        let d_close = multiscale_spectral_distance(&reference, &slightly_off, sr);
        let d_far = multiscale_spectral_distance(&reference, &other_note, sr);
        let d_silent = multiscale_spectral_distance(&reference, &silence, sr);
        assert!(0.0 < d_close && d_close < d_far && d_far < d_silent, "{d_close} {d_far} {d_silent}");
    }

    #[test]
    fn the_report_measures_pitch_and_level_differences() {
        let sr = 16000;
        let reference = tone(220.0, 0.3, sr, sr as usize);
        // 50 cents sharp and 6 dB quieter.
        let candidate = tone(220.0 * 2f64.powf(50.0 / 1200.0), 0.15, sr, sr as usize);
        let report = evaluate(&reference, &candidate, sr).unwrap();
        let median = report.f0_error_cents_median.unwrap();
        assert!((median - 50.0).abs() < 3.0, "f0 error {median}");
        assert!((report.loudness_error_db_mean - 6.0).abs() < 0.7, "loudness {}", report.loudness_error_db_mean);
        assert_eq!(report.scales.len(), 6);
        let silent = evaluate(&reference, &vec![0.0; 8000], sr).unwrap();
        assert_eq!(silent.f0_error_cents_mean, None);
        assert!((silent.compared_duration_s - 0.5).abs() < 1e-9);
    }
}

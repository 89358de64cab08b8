//! A-weighted loudness per frame, in dB, computed exactly as DDSP's `compute_loudness`.
//!
//! DDSP conditions its decoder on this feature, so a model trained here must see the same
//! numbers for the same audio: power spectrum of a Hann-windowed STFT (unnormalised, frames
//! centred on `i * hop`, zero padded at the ends), weighted by librosa's A-weighting curve
//! (in power, floored at -80 dB), averaged over frequency bins, converted to dB and floored at
//! -120 dB. Doubling the amplitude adds 6.02 dB.

use std::f64::consts::PI;

use realfft::RealFftPlanner;

use super::frames::{centred_window_into, FrameGrid};

/// Lowest value the loudness takes, dB (DDSP's `range_db` with `ref_db = 0`).
pub const LOUDNESS_FLOOR_DB: f32 = -120.0;
/// librosa's `A_weighting(min_db=-80)`: the weighting of very low frequencies is clamped here.
const A_WEIGHTING_MIN_DB: f64 = -80.0;

/// The loudness FFT size at `sample_rate_hz`: DDSP's 512 points at 16 kHz, scaled with the
/// rate to the nearest power of two (2048 at 44.1 and 48 kHz).
pub fn loudness_fft_size(sample_rate_hz: u32) -> usize {
    (512.0 * f64::from(sample_rate_hz) / 16000.0).log2().round().exp2() as usize
}

/// Loudness of every frame at exactly `frame_rate_hz` (the sample rate must be a whole multiple
/// of it; the error says which rates work), with an `n_fft`-point STFT (DDSP uses 512 at
/// 16 kHz; 2048 suits 44.1/48 kHz).
pub fn a_weighted_loudness_db(
    samples: &[f32],
    sample_rate_hz: u32,
    frame_rate_hz: f64,
    n_fft: usize,
) -> anyhow::Result<Vec<f32>> {
    let grid = FrameGrid::new(sample_rate_hz, frame_rate_hz)?;
    anyhow::ensure!(n_fft >= 2, "the loudness FFT size must be at least 2, got {n_fft}");
    Ok(loudness_on_grid(samples, &grid, n_fft))
}

/// Loudness on `grid`, one value per frame ([`FrameGrid::frame_count`]).
pub fn loudness_on_grid(samples: &[f32], grid: &FrameGrid, n_fft: usize) -> Vec<f32> {
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(n_fft);
    let mut frame = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let window = hann_periodic(n_fft);
    let weights = a_weighting_power(n_fft, grid.sample_rate_hz);
    let bins = weights.len() as f64;
    (0..grid.frame_count(samples.len()))
        .map(|i| {
            centred_window_into(samples, grid.centre_sample(i), &mut frame);
            for (x, w) in frame.iter_mut().zip(&window) {
                *x *= w;
            }
            fft.process_with_scratch(&mut frame, &mut spectrum, &mut scratch).expect("buffer sizes come from the plan");
            let weighted: f64 = spectrum.iter().zip(&weights).map(|(x, w)| f64::from(x.norm_sqr()) * w).sum();
            power_to_db(weighted / bins)
        })
        .collect()
}

/// `10 log10(power)`, floored at [`LOUDNESS_FLOOR_DB`] (and at a power of 1e-20 first).
fn power_to_db(power: f64) -> f32 {
    ((10.0 * power.max(1e-20).log10()) as f32).max(LOUDNESS_FLOOR_DB)
}

/// Periodic Hann window (as `tf.signal.hann_window(periodic=True)`).
pub(crate) fn hann_periodic(len: usize) -> Vec<f32> {
    (0..len).map(|i| (0.5 - 0.5 * (2.0 * PI * i as f64 / len as f64).cos()) as f32).collect()
}

/// A-weighting of each rfft bin as a power ratio (librosa's formula, in dB floored at -80).
fn a_weighting_power(n_fft: usize, sample_rate_hz: u32) -> Vec<f64> {
    (0..=n_fft / 2)
        .map(|k| {
            let f = k as f64 * f64::from(sample_rate_hz) / n_fft as f64;
            10f64.powf(a_weighting_db(f) / 10.0)
        })
        .collect()
}

/// librosa's `A_weighting` of one frequency, dB (0 Hz reads the -80 dB floor).
pub fn a_weighting_db(freq_hz: f64) -> f64 {
    if freq_hz <= 0.0 {
        return A_WEIGHTING_MIN_DB;
    }
    let f_sq = freq_hz * freq_hz;
    let c = [12194.217f64.powi(2), 20.598997f64.powi(2), 107.65265f64.powi(2), 737.86223f64.powi(2)];
    let db = 2.0
        + 20.0
            * (c[0].log10() + 2.0 * f_sq.log10()
                - (f_sq + c[0]).log10()
                - (f_sq + c[1]).log10()
                - 0.5 * (f_sq + c[2]).log10()
                - 0.5 * (f_sq + c[3]).log10());
    db.max(A_WEIGHTING_MIN_DB)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    fn tone(freq_hz: f64, amp: f64, sr: u32, n: usize) -> Vec<f32> {
        (0..n).map(|i| (amp * (2.0 * PI * freq_hz * i as f64 / f64::from(sr)).sin()) as f32).collect()
    }

    #[test]
    fn a_weighting_matches_the_standard_curve() {
        // IEC 61672 A-weighting: 0 dB at 1 kHz, -19.1 dB at 100 Hz, +1.2 dB at 2.5 kHz.
        assert_abs_diff_eq!(a_weighting_db(1000.0), 0.0, epsilon = 0.05);
        assert_abs_diff_eq!(a_weighting_db(100.0), -19.1, epsilon = 0.1);
        assert_abs_diff_eq!(a_weighting_db(2500.0), 1.3, epsilon = 0.1);
        assert_eq!(a_weighting_db(0.0), -80.0);
    }

    #[test]
    fn a_6_db_louder_input_reads_6_db_higher() {
        let sr = 16000;
        let quiet = tone(440.0, 0.1, sr, 16000);
        let loud: Vec<f32> = quiet.iter().map(|v| v * 2.0).collect();
        let lq = a_weighted_loudness_db(&quiet, sr, 250.0, 512).unwrap();
        let ll = a_weighted_loudness_db(&loud, sr, 250.0, 512).unwrap();
        assert_eq!(lq.len(), 250);
        for i in 5..245 {
            assert_abs_diff_eq!(ll[i] - lq[i], 6.0206, epsilon = 0.01);
        }
    }

    #[test]
    fn low_tones_read_quieter_and_silence_reads_the_floor() {
        let sr = 16000;
        let n = 8000;
        let mid = a_weighted_loudness_db(&tone(1000.0, 0.5, sr, n), sr, 250.0, 512).unwrap();
        let low = a_weighted_loudness_db(&tone(62.5, 0.5, sr, n), sr, 250.0, 512).unwrap();
        let gap = mid[60] - low[60];
        assert!((gap - 26.2).abs() < 1.5, "A-weighting 1 kHz vs 62.5 Hz: {gap} dB");
        let silent = a_weighted_loudness_db(&vec![0.0; n], sr, 250.0, 512).unwrap();
        assert!(silent.iter().all(|v| *v == LOUDNESS_FLOOR_DB));
    }
}

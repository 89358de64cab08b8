//! Band-limited sample-rate conversion of a whole clip.
//!
//! The model runs at 16 kHz and recordings come at 44.1 or 48 kHz; analysis may pick any rate.
//! Linear interpolation would fold everything above the new Nyquist back into the audible band
//! and dull the top octave, so this uses rubato's synchronous FFT resampler (a windowed,
//! band-limited conversion at a fixed ratio), which also trims its own delay so the output
//! lines up with the input sample for sample.

use anyhow::{bail, Context};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Input frames per processing chunk: the FFT resampler rounds this to a block size that fits
/// the ratio exactly; around a thousand frames balances its cutoff against its memory.
const CHUNK_FRAMES: usize = 1024;

/// Resamples mono `samples` from `from_hz` to `to_hz`. Returns the input unchanged when the
/// rates are equal. The output has `round(len * to_hz / from_hz)` samples, aligned with the
/// input (no added delay).
pub fn resample(samples: &[f32], from_hz: u32, to_hz: u32) -> anyhow::Result<Vec<f32>> {
    if from_hz == 0 || to_hz == 0 {
        bail!("cannot resample from {from_hz} Hz to {to_hz} Hz: sample rates must be positive");
    }
    if from_hz == to_hz || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let mut resampler = Fft::<f32>::new(from_hz as usize, to_hz as usize, CHUNK_FRAMES, 1, FixedSync::Both)
        .with_context(|| format!("cannot set up a resampler from {from_hz} Hz to {to_hz} Hz"))?;
    let input = InterleavedSlice::new(samples, 1, samples.len())
        .map_err(|e| anyhow::anyhow!("cannot wrap {} samples for resampling: {e}", samples.len()))?;
    let output = resampler
        .process_all(&input, samples.len(), None)
        .with_context(|| format!("resampling from {from_hz} Hz to {to_hz} Hz failed"))?;
    let mut data = output.take_data();
    let expected = (samples.len() as f64 * f64::from(to_hz) / f64::from(from_hz)).round() as usize;
    data.resize(expected, 0.0);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    fn sine(freq_hz: f64, rate_hz: u32, seconds: f64) -> Vec<f32> {
        let n = (seconds * f64::from(rate_hz)) as usize;
        (0..n).map(|i| (TAU * freq_hz * i as f64 / f64::from(rate_hz)).sin() as f32 * 0.5).collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn a_tone_keeps_its_pitch_level_and_timing() {
        let input = sine(1000.0, 44100, 0.5);
        let output = resample(&input, 44100, 16000).unwrap();
        assert_eq!(output.len(), 8000);
        // Aligned with the input to within half an input sample (rubato's FFT resampler lags
        // by about that much, 11 us): the best-matching delay of the ideal tone is that small,
        // and at that delay the output is the ideal tone.
        let (best_delay_s, worst) = (-20..=20)
            .map(|step| {
                let delay_s = f64::from(step) * 1e-6;
                let worst = (500..7500)
                    .map(|i| {
                        let t = i as f64 / 16000.0 - delay_s;
                        (f64::from(output[i]) - 0.5 * (TAU * 1000.0 * t).sin()).abs()
                    })
                    .fold(0.0, f64::max);
                (delay_s, worst)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!(best_delay_s.abs() <= 12e-6, "delay {best_delay_s} s");
        assert!(worst < 2e-3, "worst deviation {worst} at delay {best_delay_s} s");
    }

    #[test]
    fn content_above_the_new_nyquist_is_removed_not_folded() {
        // 10 kHz is above the 8 kHz Nyquist of 16 kHz: a band-limited resampler removes it;
        // linear interpolation would fold it to 6 kHz at nearly full level.
        let input = sine(10_000.0, 48000, 0.5);
        let output = resample(&input, 48000, 16000).unwrap();
        let level = rms(&output[400..7600]) / rms(&input);
        assert!(level < 1e-3, "aliased level {level}");
    }

    #[test]
    fn equal_rates_return_the_input() {
        let input = sine(440.0, 16000, 0.1);
        assert_eq!(resample(&input, 16000, 16000).unwrap(), input);
        assert!(resample(&input, 0, 16000).is_err());
    }
}

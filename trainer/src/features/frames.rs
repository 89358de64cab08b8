//! The frame grid every feature is measured on: frame `i` is centred on sample `i * hop`.
//!
//! DDSP's models and the unified CSV assume a whole number of samples per frame (16 kHz / 250 Hz
//! = 64). A frame rate that does not divide the sample rate would make frame times drift against
//! the audio, so [`FrameGrid::new`] rejects it and says which rates would work.

use anyhow::bail;

/// A hop size in samples at a sample rate: the frame rate is `sample_rate_hz / hop_samples`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameGrid {
    /// Audio samples per second.
    pub sample_rate_hz: u32,
    /// Samples between the centres of consecutive frames.
    pub hop_samples: usize,
}

/// Sample rates users commonly have or resample to, offered when a frame rate does not fit.
const COMMON_SAMPLE_RATES_HZ: [u32; 7] = [8000, 16000, 22050, 24000, 32000, 44100, 48000];

impl FrameGrid {
    /// The grid with exactly `frame_rate_hz` frames per second at `sample_rate_hz`. Fails,
    /// listing sample rates and frame rates that work, when the sample rate is not a whole
    /// multiple of the frame rate.
    pub fn new(sample_rate_hz: u32, frame_rate_hz: f64) -> anyhow::Result<Self> {
        if !(frame_rate_hz.is_finite() && frame_rate_hz > 0.0) {
            bail!("frame rate must be a positive number of frames per second, got {frame_rate_hz}");
        }
        if sample_rate_hz == 0 {
            bail!("sample rate must be positive, got 0 Hz");
        }
        let hop = f64::from(sample_rate_hz) / frame_rate_hz;
        let whole = hop.round();
        if whole < 1.0 || (hop - whole).abs() > 1e-9 * hop {
            bail!(
                "sample rate {sample_rate_hz} Hz is not a whole multiple of frame rate {frame_rate_hz} Hz \
                 ({sample_rate_hz} / {frame_rate_hz} = {hop:.3} samples per frame); sample rates that \
                 work with {frame_rate_hz} Hz: {}; frame rates near {frame_rate_hz} Hz that work with \
                 {sample_rate_hz} Hz: {}",
                list_or_none(&sample_rates_for(frame_rate_hz)),
                list_or_none(&frame_rates_near(sample_rate_hz, frame_rate_hz)),
            );
        }
        Ok(Self { sample_rate_hz, hop_samples: whole as usize })
    }

    /// The grid whose frame rate is closest to `frame_rate_hz` (a whole hop, rounded), as the
    /// original exporter did for 44.1 kHz (hop 176, 250.57 frames per second).
    pub fn nearest(sample_rate_hz: u32, frame_rate_hz: f64) -> anyhow::Result<Self> {
        if !(frame_rate_hz.is_finite() && frame_rate_hz > 0.0) {
            bail!("frame rate must be a positive number of frames per second, got {frame_rate_hz}");
        }
        let hop = (f64::from(sample_rate_hz) / frame_rate_hz).round().max(1.0) as usize;
        Ok(Self { sample_rate_hz, hop_samples: hop })
    }

    /// Frames per second (exact, may be fractional).
    pub fn frame_rate_hz(&self) -> f64 {
        f64::from(self.sample_rate_hz) / self.hop_samples as f64
    }

    /// Number of frames for `sample_count` samples: one per whole hop, at least one.
    pub fn frame_count(&self, sample_count: usize) -> usize {
        (sample_count / self.hop_samples).max(1)
    }

    /// The centre sample of frame `i`.
    pub fn centre_sample(&self, i: usize) -> usize {
        i * self.hop_samples
    }
}

/// Copies `samples[centre - len/2 ..][..len]` into `out`, with zeros outside the signal.
pub fn centred_window_into(samples: &[f32], centre: usize, out: &mut [f32]) {
    let start = centre as isize - (out.len() / 2) as isize;
    for (j, slot) in out.iter_mut().enumerate() {
        let idx = start + j as isize;
        *slot = if idx >= 0 && (idx as usize) < samples.len() { samples[idx as usize] } else { 0.0 };
    }
}

fn sample_rates_for(frame_rate_hz: f64) -> Vec<String> {
    COMMON_SAMPLE_RATES_HZ
        .iter()
        .filter(|&&sr| {
            let hop = f64::from(sr) / frame_rate_hz;
            (hop - hop.round()).abs() < 1e-9 * hop && hop >= 1.0
        })
        .map(|sr| format!("{sr}"))
        .collect()
}

fn frame_rates_near(sample_rate_hz: u32, frame_rate_hz: f64) -> Vec<String> {
    let target_hop = f64::from(sample_rate_hz) / frame_rate_hz;
    let mut hops: Vec<u32> = (1..=sample_rate_hz).filter(|h| sample_rate_hz.is_multiple_of(*h)).collect();
    hops.sort_by(|a, b| (f64::from(*a) - target_hop).abs().total_cmp(&(f64::from(*b) - target_hop).abs()));
    let mut rates: Vec<u32> = hops.iter().take(4).map(|h| sample_rate_hz / h).collect();
    rates.sort_unstable();
    rates.iter().map(|r| format!("{r}")).collect()
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none of the common ones".to_owned()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_multiples_give_their_hop() {
        assert_eq!(FrameGrid::new(16000, 250.0).unwrap().hop_samples, 64);
        assert_eq!(FrameGrid::new(44100, 100.0).unwrap().hop_samples, 441);
        assert_eq!(FrameGrid::new(16000, 250.0).unwrap().frame_count(16000), 250);
    }

    #[test]
    fn a_rate_that_does_not_fit_says_which_rates_work() {
        let err = FrameGrid::new(44100, 250.0).unwrap_err().to_string();
        assert!(err.contains("44100 Hz is not a whole multiple of frame rate 250 Hz"), "{err}");
        assert!(err.contains("8000, 16000, 24000, 32000, 48000"), "{err}");
        assert!(err.contains("245") && err.contains("252"), "{err}");
        assert!(FrameGrid::new(16000, 0.0).is_err());
    }

    #[test]
    fn nearest_matches_the_original_exporter_at_44k() {
        let grid = FrameGrid::nearest(44100, 250.0).unwrap();
        assert_eq!(grid.hop_samples, 176);
        assert!((grid.frame_rate_hz() - 250.568).abs() < 1e-3);
    }
}

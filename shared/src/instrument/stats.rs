//! What the training data covered: the f0 and loudness of its voiced frames, as quantiles.
//! Playing maps a note's velocity into the loudness the model has heard (a model asked for a
//! loudness it never saw sings something it never learned), and the GUI marks the f0 range.

/// Quantiles stored per feature: 0 %, 5 %, …, 100 %.
pub const QUANTILE_COUNT: usize = 21;

/// Frames whose f0 confidence is at least this count as voiced (the f0 tracker's voicing
/// probability: above one half it judged the frame periodic).
pub const VOICED_CONFIDENCE: f32 = 0.5;

/// f0 and loudness statistics of the voiced training frames.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingStats {
    /// Number of voiced frames the statistics come from.
    pub voiced_frames: usize,
    /// f0 quantiles, Hz, at 0 %, 5 %, …, 100 %.
    pub f0_hz_quantiles: [f32; QUANTILE_COUNT],
    /// Loudness quantiles, dB (the trainer's A-weighted scale), at 0 %, 5 %, …, 100 %.
    pub loudness_db_quantiles: [f32; QUANTILE_COUNT],
}

impl TrainingStats {
    /// The statistics of the frames whose `confidence` reaches [`VOICED_CONFIDENCE`] and whose
    /// loudness is above `silence_db`. `None` when no frame is voiced.
    pub fn from_frames(f0_hz: &[f32], confidence: &[f32], loudness_db: &[f32], silence_db: f32) -> Option<Self> {
        let mut f0 = Vec::new();
        let mut loudness = Vec::new();
        for ((&f, &c), &l) in f0_hz.iter().zip(confidence).zip(loudness_db) {
            if c >= VOICED_CONFIDENCE && l > silence_db && f.is_finite() && f > 0.0 && l.is_finite() {
                f0.push(f);
                loudness.push(l);
            }
        }
        if f0.is_empty() {
            return None;
        }
        Some(Self {
            voiced_frames: f0.len(),
            f0_hz_quantiles: quantiles(&mut f0),
            loudness_db_quantiles: quantiles(&mut loudness),
        })
    }

    /// The loudness at quantile `p` (0..1, clamped), interpolated between the stored ones.
    pub fn loudness_db_at(&self, p: f32) -> f32 {
        interpolate(&self.loudness_db_quantiles, p)
    }

    /// The f0 at quantile `p` (0..1, clamped), Hz.
    pub fn f0_hz_at(&self, p: f32) -> f32 {
        interpolate(&self.f0_hz_quantiles, p)
    }

    /// The range most of the training sat in: 5 % to 95 % of the voiced frames' f0, Hz.
    pub fn f0_hz_core_range(&self) -> (f32, f32) {
        (self.f0_hz_quantiles[1], self.f0_hz_quantiles[QUANTILE_COUNT - 2])
    }

    /// Checks what a file reader cannot trust: finite, rising quantiles, positive f0.
    pub fn validate(&self) -> Result<(), String> {
        for (name, q) in
            [("f0_hz_quantiles", &self.f0_hz_quantiles), ("loudness_db_quantiles", &self.loudness_db_quantiles)]
        {
            if q.iter().any(|v| !v.is_finite()) || q.windows(2).any(|w| w[1] < w[0]) {
                return Err(format!("{name} must be finite and rising, got {q:?}"));
            }
        }
        if self.f0_hz_quantiles[0] <= 0.0 {
            return Err(format!("f0_hz_quantiles must be above 0 Hz, got {}", self.f0_hz_quantiles[0]));
        }
        Ok(())
    }
}

/// Quantiles at 0, 5, …, 100 % of `values` (sorted in place), linearly interpolated.
fn quantiles(values: &mut [f32]) -> [f32; QUANTILE_COUNT] {
    values.sort_by(f32::total_cmp);
    let last = values.len() - 1;
    std::array::from_fn(|i| {
        let position = i as f64 / (QUANTILE_COUNT - 1) as f64 * last as f64;
        let lower = position.floor() as usize;
        let upper = (lower + 1).min(last);
        let t = (position - lower as f64) as f32;
        values[lower] + t * (values[upper] - values[lower])
    })
}

fn interpolate(q: &[f32; QUANTILE_COUNT], p: f32) -> f32 {
    let position = p.clamp(0.0, 1.0) * (QUANTILE_COUNT - 1) as f32;
    let lower = (position.floor() as usize).min(QUANTILE_COUNT - 1);
    let upper = (lower + 1).min(QUANTILE_COUNT - 1);
    let t = position - lower as f32;
    q[lower] + t * (q[upper] - q[lower])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_voiced_loud_frames_count() {
        let f0 = [100.0, 200.0, 300.0, 400.0, 500.0];
        let confidence = [0.9, 0.9, 0.2, 0.9, 0.9];
        let loudness = [-20.0, -30.0, -10.0, -90.0, -40.0];
        let s = TrainingStats::from_frames(&f0, &confidence, &loudness, -60.0).unwrap();
        assert_eq!(s.voiced_frames, 3);
        assert_eq!((s.f0_hz_quantiles[0], s.f0_hz_quantiles[20]), (100.0, 500.0));
        assert_eq!(s.f0_hz_at(0.5), 200.0);
        assert_eq!((s.loudness_db_at(0.0), s.loudness_db_at(1.0)), (-40.0, -20.0));
        assert_eq!(s.loudness_db_at(0.25), -35.0);
        s.validate().unwrap();
        assert!(TrainingStats::from_frames(&f0, &[0.0; 5], &loudness, -60.0).is_none());
    }
}

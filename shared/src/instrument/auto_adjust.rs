//! The DDSP timbre-transfer notebook's automatic adjustment, so a melody from any recording
//! lands in what the model has heard: the notes are found from loudness and f0 confidence,
//! the melody is moved by whole octaves into the trained f0 range, the notes' loudness is
//! mapped onto the training data's loudness distribution (a quantile transform), the parts
//! between notes are turned down by a "quiet" amount, and "autotune" pulls f0 toward the
//! nearest step of an equal temperament.
//!
//! It works on plain per-frame features and [`TrainingStats`], with no model and no burn, so
//! `ddsp transfer` and the plugin's Model mode can share it. The steps follow DDSP's
//! `detect_notes`, `fit_quantile_transform`, `get_tuning_factor` and `auto_tune`
//! (ddsp/training/postprocessing.py); where this differs it says so.

use super::stats::TrainingStats;
use super::{hz_to_midi, midi_to_hz};

/// DDSP's `detect_notes` constants: f0 confidence is squared, smoothed over 40 frames at its
/// 250 frames per second (0.16 s here, at any frame rate), and compared with the mean
/// loudness above a floor of -120 dB, scaled by 0.7².
const CONFIDENCE_EXPONENT: f32 = 2.0;
const CONFIDENCE_SMOOTHING_S: f64 = 0.16;
const CONFIDENCE_THRESHOLD: f32 = 0.7;
const FLOOR_DB: f32 = -120.0;

/// Candidate tuning offsets searched, per step (the search's resolution is 1/100 step).
const TUNING_CANDIDATES: usize = 100;

/// How to adjust (the notebook's sliders).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoAdjust {
    /// Note-detection threshold (the notebook's `threshold`, 0..2; higher finds fewer notes).
    pub threshold: f32,
    /// dB the parts between notes are turned down by (the notebook's `quiet`, 0..60).
    pub quiet_db: f32,
    /// How far f0 is pulled toward the nearest step, 0 (not at all) ..1 (onto it).
    pub autotune: f32,
    /// Steps per octave autotune pulls toward (12 = semitones).
    pub tet: u32,
}

impl Default for AutoAdjust {
    /// The notebook's defaults: threshold 1, quiet 20 dB, no autotune, semitones.
    fn default() -> Self {
        Self { threshold: 1.0, quiet_db: 20.0, autotune: 0.0, tet: 12 }
    }
}

/// The adjusted features and what was done to them.
#[derive(Clone, Debug, PartialEq)]
pub struct Adjusted {
    pub f0_hz: Vec<f32>,
    pub loudness_db: Vec<f32>,
    /// Frames detected as notes.
    pub note_on: Vec<bool>,
    /// Octaves the melody moved (positive = up).
    pub octaves: i32,
}

impl Adjusted {
    /// Share of the frames detected as notes, 0..1.
    pub fn note_share(&self) -> f64 {
        self.note_on.iter().filter(|&&on| on).count() as f64 / self.note_on.len().max(1) as f64
    }
}

/// Frames that are notes, and each frame's note-on ratio (1 = at the threshold), as DDSP's
/// `detect_notes`: smoothed squared confidence times loudness above the floor, against the mean
/// loudness above the floor times 0.7².
pub fn detect_notes(
    loudness_db: &[f32],
    confidence: &[f32],
    frame_rate_hz: f64,
    threshold: f32,
) -> (Vec<bool>, Vec<f32>) {
    let n = loudness_db.len().min(confidence.len());
    if n == 0 {
        return (Vec::new(), Vec::new());
    }
    let mean_db = loudness_db[..n].iter().map(|&l| f64::from(l)).sum::<f64>() / n as f64;
    let squared: Vec<f32> = confidence[..n].iter().map(|c| c.clamp(0.0, 1.0).powf(CONFIDENCE_EXPONENT)).collect();
    let window = ((CONFIDENCE_SMOOTHING_S * frame_rate_hz).round() as usize).max(1);
    let smoothed = moving_average_same(&squared, window);
    let db_threshold = (mean_db as f32 - FLOOR_DB) * CONFIDENCE_THRESHOLD.powf(CONFIDENCE_EXPONENT);
    let ratio: Vec<f32> = smoothed
        .iter()
        .zip(&loudness_db[..n])
        .map(|(&c, &l)| if db_threshold > 0.0 { c * (l - FLOOR_DB) / db_threshold } else { 0.0 })
        .collect();
    let on = ratio.iter().map(|&r| r >= threshold).collect();
    (on, ratio)
}

/// `np.convolve(x, ones(w) / w, mode="same")`: zeros beyond the ends, as numpy pads.
fn moving_average_same(x: &[f32], window: usize) -> Vec<f32> {
    let n = x.len();
    let mut prefix = vec![0.0f64; n + 1];
    for (i, &v) in x.iter().enumerate() {
        prefix[i + 1] = prefix[i] + f64::from(v);
    }
    // numpy centres a window of w on index i as i - (w-1)/2 ..= i + w/2 (for "same").
    let before = (window - 1) / 2;
    (0..n)
        .map(|i| {
            let lo = i.saturating_sub(before);
            let hi = (i + window - before).min(n);
            ((prefix[hi] - prefix[lo]) / window as f64) as f32
        })
        .collect()
}

/// Adjusts a recording's features (f0 in Hz, its confidence 0..1 and loudness in dB, one value
/// per frame at `frame_rate_hz`) into the training data's range. With no frame detected as a
/// note, the features come back unchanged.
pub fn auto_adjust(
    f0_hz: &[f32],
    confidence: &[f32],
    loudness_db: &[f32],
    frame_rate_hz: f64,
    stats: &TrainingStats,
    options: &AutoAdjust,
) -> Adjusted {
    let n = f0_hz.len().min(confidence.len()).min(loudness_db.len());
    let (note_on, ratio) = detect_notes(&loudness_db[..n], &confidence[..n], frame_rate_hz, options.threshold);
    let mut adjusted =
        Adjusted { f0_hz: f0_hz[..n].to_vec(), loudness_db: loudness_db[..n].to_vec(), note_on, octaves: 0 };
    let on_frames: Vec<usize> = (0..n).filter(|&i| adjusted.note_on[i] && f0_hz[i] > 0.0).collect();
    if on_frames.is_empty() {
        return adjusted;
    }

    // The register: whole octaves from the notes' median pitch to the training's. (DDSP
    // compares means and rounds with a floor/ceil rule; the median is robust to octave errors
    // of the f0 tracker, and rounding to the nearest octave lands closest.)
    let mut pitches: Vec<f32> = on_frames.iter().map(|&i| hz_to_midi(f0_hz[i])).collect();
    pitches.sort_by(f32::total_cmp);
    let melody_midi = pitches[pitches.len() / 2];
    let trained_midi = hz_to_midi(stats.f0_hz_at(0.5));
    adjusted.octaves = ((trained_midi - melody_midi) / 12.0).round() as i32;
    let ratio_octaves = (adjusted.octaves as f32).exp2();
    adjusted.f0_hz.iter_mut().for_each(|f| *f *= ratio_octaves);

    // Loudness: the notes' own distribution mapped onto the training's, quantile to quantile
    // (every frame goes through the same map, as DDSP's transform does); then the frames
    // between notes turned down by up to `quiet_db`.
    let mut on_loudness: Vec<f32> = on_frames.iter().map(|&i| loudness_db[i]).collect();
    on_loudness.sort_by(f32::total_cmp);
    for (i, l) in adjusted.loudness_db.iter_mut().enumerate() {
        *l = stats.loudness_db_at(empirical_cdf(&on_loudness, loudness_db[i]));
        if !adjusted.note_on[i] {
            *l -= options.quiet_db * (1.0 - ratio[i]).clamp(0.0, 1.0);
        }
    }

    // Autotune toward the nearest step, after finding how the melody is tuned against the
    // steps (a choir a quarter-tone flat is pulled to its own nearest steps, not A440's).
    let amount = options.autotune.clamp(0.0, 1.0);
    if amount > 0.0 {
        let steps_per_semitone = options.tet.max(1) as f32 / 12.0;
        let steps = |f: f32| hz_to_midi(f) * steps_per_semitone;
        let on_steps: Vec<(f32, f32)> =
            on_frames.iter().map(|&i| (steps(adjusted.f0_hz[i]), confidence[i].clamp(0.0, 1.0))).collect();
        let offset = tuning_offset(&on_steps);
        for &i in &on_frames {
            let s = steps(adjusted.f0_hz[i]);
            let target = (s - offset).round() + offset;
            let tuned = s + amount * (target - s);
            adjusted.f0_hz[i] = midi_to_hz(tuned / steps_per_semitone);
        }
    }
    adjusted
}

/// Share of `sorted` at or below `x`, interpolated linearly between neighbouring values (the
/// quantile a value has among the notes).
fn empirical_cdf(sorted: &[f32], x: f32) -> f32 {
    let n = sorted.len();
    if n == 1 || x <= sorted[0] {
        return 0.0;
    }
    if x >= sorted[n - 1] {
        return 1.0;
    }
    let upper = sorted.partition_point(|&v| v <= x);
    let (a, b) = (sorted[upper - 1], sorted[upper]);
    let within = if b > a { (x - a) / (b - a) } else { 0.0 };
    ((upper - 1) as f32 + within) / (n - 1) as f32
}

/// The offset (in steps, -0.5..0.5) that puts the weighted `(steps, weight)` closest to whole
/// steps (DDSP's `get_tuning_factor`, on a grid of 1/100 step).
fn tuning_offset(steps: &[(f32, f32)]) -> f32 {
    let cost =
        |offset: f32| -> f32 { steps.iter().map(|&(s, w)| w * ((s - offset) - (s - offset).round()).abs()).sum() };
    (0..TUNING_CANDIDATES)
        .map(|k| k as f32 / TUNING_CANDIDATES as f32 - 0.5)
        .min_by(|&a, &b| cost(a).total_cmp(&cost(b)))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Training data: f0 around 440 Hz (A4), loudness evenly over -50..-10 dB.
    fn stats() -> TrainingStats {
        let f0: Vec<f32> = (0..=100).map(|i| 392.0 + i as f32).collect();
        let loudness: Vec<f32> = (0..=100).map(|i| -50.0 + 0.4 * i as f32).collect();
        TrainingStats::from_frames(&f0, &[1.0; 101], &loudness, -70.0).unwrap()
    }

    /// A melody two octaves below the training (A2, 110 Hz, slightly sharp), notes at -30..-20
    /// dB with confident f0, and gaps between them at -70 dB with no confidence.
    fn melody() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let (mut f0, mut conf, mut loud) = (Vec::new(), Vec::new(), Vec::new());
        for _note in 0..4 {
            for i in 0..100 {
                f0.push(110.0 * 1.01);
                conf.push(0.95);
                loud.push(-30.0 + 10.0 * i as f32 / 99.0);
            }
            for _ in 0..60 {
                f0.push(0.0);
                conf.push(0.05);
                loud.push(-70.0);
            }
        }
        (f0, conf, loud)
    }

    #[test]
    fn notes_are_found_where_the_sound_is_confident_and_loud() {
        let (_, conf, loud) = melody();
        let (on, _) = detect_notes(&loud, &conf, 250.0, 1.0);
        // The middle of every note is on, the middle of every gap off.
        for note in 0..4 {
            assert!(on[note * 160 + 50], "note {note}");
            assert!(!on[note * 160 + 130], "gap after note {note}");
        }
        let (fewer, _) = detect_notes(&loud, &conf, 250.0, 1.5);
        assert!(fewer.iter().filter(|&&o| o).count() < on.iter().filter(|&&o| o).count());
    }

    #[test]
    fn the_melody_moves_into_the_trained_octave_and_loudness() {
        let (f0, conf, loud) = melody();
        let adjusted = auto_adjust(&f0, &conf, &loud, 250.0, &stats(), &AutoAdjust::default());
        assert_eq!(adjusted.octaves, 2);
        assert!((adjusted.f0_hz[50] - 440.0 * 1.01).abs() < 0.01, "{}", adjusted.f0_hz[50]);
        // The notes' quietest and loudest frames map onto the training's range.
        let in_notes: Vec<f32> =
            (0..160 * 4).filter(|&i| adjusted.note_on[i]).map(|i| adjusted.loudness_db[i]).collect();
        let lo = in_notes.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = in_notes.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert!((lo + 50.0).abs() < 1.0 && (hi + 10.0).abs() < 0.5, "notes span {lo}..{hi} dB");
        // The gaps: the training's quietest, turned down by up to 20 dB.
        let gap = adjusted.loudness_db[130];
        assert!((-70.5..=-65.0).contains(&gap), "a gap at {gap} dB");
    }

    #[test]
    fn autotune_pulls_toward_the_nearest_step_by_its_amount() {
        let (mut f0, conf, loud) = melody();
        // One note a third of a semitone sharp of its neighbours' tuning: with everything else
        // at +17 cents, the tuning is +17 cents and this note is pulled to its own step.
        for v in &mut f0[160..260] {
            *v = 110.0 * (1.0f32 / 3.0 / 12.0).exp2() * 1.01;
        }
        let stats = stats();
        let cents = |a: f32, b: f32| 1200.0 * (a / b).log2();
        let full = auto_adjust(&f0, &conf, &loud, 250.0, &stats, &AutoAdjust { autotune: 1.0, ..Default::default() });
        assert!(cents(full.f0_hz[200], full.f0_hz[50]).abs() < 1.0, "{} vs {}", full.f0_hz[200], full.f0_hz[50]);
        let half = auto_adjust(&f0, &conf, &loud, 250.0, &stats, &AutoAdjust { autotune: 0.5, ..Default::default() });
        let moved = cents(half.f0_hz[200], half.f0_hz[50]);
        assert!((moved - 100.0 / 6.0).abs() < 1.0, "half way: {moved} cents");
        // In 24-TET the note a third of a semitone sharp is nearer a quarter-tone step.
        let quarter =
            auto_adjust(&f0, &conf, &loud, 250.0, &stats, &AutoAdjust { autotune: 1.0, tet: 24, ..Default::default() });
        assert!((cents(quarter.f0_hz[200], quarter.f0_hz[50]) - 50.0).abs() < 1.0);
    }

    #[test]
    fn silence_comes_back_unchanged() {
        let loud = vec![-90.0; 50];
        let adjusted = auto_adjust(&[0.0; 50], &[0.0; 50], &loud, 250.0, &stats(), &AutoAdjust::default());
        assert_eq!((adjusted.octaves, adjusted.loudness_db.clone()), (0, loud));
        assert_eq!(adjusted.note_share(), 0.0);
    }
}

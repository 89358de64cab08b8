//! Fundamental frequency (f0) per frame with a confidence, by YIN with pYIN-style candidate
//! weights and a Viterbi pass over frames.
//!
//! Plain YIN picks one period per frame and is prone to octave jumps when a frame's second
//! period dip happens to be deeper than the first. Here each frame keeps several candidate
//! periods (the dips of YIN's cumulative-mean-normalised difference), weighted as pYIN does
//! (the probability that a dip is the first one under a threshold drawn from a Beta
//! distribution), plus an "unvoiced" state; a Viterbi pass then picks the path that explains the
//! frames best while paying for every cent of pitch change and for every voicing switch. Octave
//! errors cost a whole octave of jump twice and rarely win.
//!
//! The difference function is computed through an FFT cross-correlation, so a frame costs three
//! real FFTs instead of `window * max_lag` multiplications.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::frames::{centred_window_into, FrameGrid};

/// Per-frame f0 estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct F0Track {
    /// Frames per second of the track (exact).
    pub frame_rate_hz: f64,
    /// f0 of every frame, Hz. Unvoiced frames carry the f0 of the nearest voiced frame (earlier
    /// if there is one), so the contour stays continuous for models that read it everywhere;
    /// a file with no voiced frame at all reads [`F0Config::min_hz`].
    pub f0_hz: Vec<f32>,
    /// Periodicity of every frame in `[0, 1]`: one minus YIN's normalised difference at the
    /// best period (1 = perfectly periodic, 0 = noise or silence). Comparable to CREPE's
    /// confidence: frames above about 0.65 are voiced.
    pub confidence: Vec<f32>,
    /// The Viterbi pass's voicing decision per frame.
    pub voiced: Vec<bool>,
}

/// Search range of the estimator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct F0Config {
    /// Lowest f0 searched, Hz. Also sets the analysis window (one period of it).
    pub min_hz: f32,
    /// Highest f0 searched, Hz.
    pub max_hz: f32,
}

impl Default for F0Config {
    /// 50 Hz (below the cello's and the bass voice's lowest notes) to 2 kHz (above the violin's
    /// and flute's usual range).
    fn default() -> Self {
        Self { min_hz: 50.0, max_hz: 2000.0 }
    }
}

/// Below this normalised difference a dip counts as periodic; the voicing probability falls off
/// around it (breathy flute notes sit near 0.2, noise above 0.5).
const VOICING_THRESHOLD: f32 = 0.35;
/// Width of the logistic around [`VOICING_THRESHOLD`].
const VOICING_SOFTNESS: f32 = 0.05;
/// Viterbi cost of one cent of pitch change between consecutive frames, in nats per cent
/// (a semitone step costs 1 nat, an octave jump 12).
const PITCH_CHANGE_COST_PER_CENT: f32 = 0.01;
/// Viterbi cost of switching between voiced and unvoiced, nats.
const VOICING_SWITCH_COST: f32 = 4.0;
/// Most candidate periods kept per frame.
const MAX_CANDIDATES: usize = 6;
/// Frames quieter than this many dB below the loudest frame are treated as silence (unvoiced).
const SILENCE_BELOW_PEAK_DB: f32 = 60.0;
/// Absolute floor: frames with a mean square below this (about -90 dBFS) are silence.
const SILENCE_MEAN_SQUARE: f32 = 1e-9;

/// Estimates f0 at exactly `frame_rate_hz` frames per second (`sample_rate_hz` must be a whole
/// multiple of it; the error says which rates work) with the default search range.
pub fn estimate_f0(samples: &[f32], sample_rate_hz: u32, frame_rate_hz: f64) -> anyhow::Result<F0Track> {
    let grid = FrameGrid::new(sample_rate_hz, frame_rate_hz)?;
    Ok(estimate_f0_on_grid(samples, &grid, &F0Config::default()))
}

/// Estimates f0 on `grid` (one frame per hop, frame `i` centred on sample `i * hop`).
pub fn estimate_f0_on_grid(samples: &[f32], grid: &FrameGrid, config: &F0Config) -> F0Track {
    let mut yin = Yin::new(grid.sample_rate_hz, config);
    let frame_count = grid.frame_count(samples.len());
    let mut frames: Vec<FrameCandidates> =
        (0..frame_count).map(|i| yin.frame_candidates(samples, grid.centre_sample(i))).collect();
    let loudest = frames.iter().map(|f| f.mean_square).fold(0.0f32, f32::max);
    let floor = (loudest * 10f32.powf(-SILENCE_BELOW_PEAK_DB / 10.0)).max(SILENCE_MEAN_SQUARE);
    for frame in &mut frames {
        if frame.mean_square < floor {
            frame.candidates.clear();
            frame.best_difference = 1.0;
        }
    }
    let path = viterbi(&frames);
    let sample_rate = grid.sample_rate_hz as f32;
    let mut f0_hz: Vec<Option<f32>> = path
        .iter()
        .zip(&frames)
        .map(|(state, frame)| state.map(|c| sample_rate / frame.candidates[c].period_samples))
        .collect();
    let voiced: Vec<bool> = f0_hz.iter().map(Option::is_some).collect();
    fill_unvoiced(&mut f0_hz, config.min_hz);
    F0Track {
        frame_rate_hz: grid.frame_rate_hz(),
        f0_hz: f0_hz.into_iter().map(|f| f.unwrap_or(config.min_hz)).collect(),
        confidence: frames.iter().map(|f| (1.0 - f.best_difference).clamp(0.0, 1.0)).collect(),
        voiced,
    }
}

/// Unvoiced frames take the previous voiced f0 (or the next one before the first voiced frame).
fn fill_unvoiced(f0_hz: &mut [Option<f32>], fallback_hz: f32) {
    let first = f0_hz.iter().flatten().next().copied().unwrap_or(fallback_hz);
    let mut last = first;
    for f in f0_hz.iter_mut() {
        match f {
            Some(v) => last = *v,
            None => *f = Some(last),
        }
    }
}

/// One candidate period of a frame.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    /// Period in samples (fractional, parabola-interpolated).
    period_samples: f32,
    /// Relative weight among the frame's candidates (sums to 1 over the frame).
    weight: f32,
}

/// What the Viterbi pass needs to know about a frame.
#[derive(Clone, Debug)]
struct FrameCandidates {
    candidates: Vec<Candidate>,
    /// Lowest normalised difference among the candidates (1 when there are none).
    best_difference: f32,
    /// Mean square of the frame's integration window.
    mean_square: f32,
}

/// Chooses one state per frame: `Some(candidate)` or `None` (unvoiced).
fn viterbi(frames: &[FrameCandidates]) -> Vec<Option<usize>> {
    // State 0 is unvoiced; state c + 1 is candidate c.
    let emissions = |frame: &FrameCandidates| -> Vec<f32> {
        let x = (VOICING_THRESHOLD - frame.best_difference) / VOICING_SOFTNESS;
        let voicing = if frame.candidates.is_empty() { 0.0 } else { 1.0 / (1.0 + (-x).exp()) };
        let mut e = Vec::with_capacity(frame.candidates.len() + 1);
        e.push((1.0 - voicing).max(1e-9).ln());
        e.extend(frame.candidates.iter().map(|c| (voicing * c.weight).max(1e-9).ln()));
        e
    };
    let mut scores: Vec<f32> = Vec::new();
    let mut back: Vec<Vec<usize>> = Vec::with_capacity(frames.len());
    for (t, frame) in frames.iter().enumerate() {
        let e = emissions(frame);
        if t == 0 {
            scores = e;
            back.push(vec![0; scores.len()]);
            continue;
        }
        let prev = &frames[t - 1];
        let mut next = vec![f32::NEG_INFINITY; e.len()];
        let mut from = vec![0usize; e.len()];
        for (s, slot) in next.iter_mut().enumerate() {
            for (p, &score) in scores.iter().enumerate() {
                let transition = match (p, s) {
                    (0, 0) => 0.0,
                    (0, _) | (_, 0) => -VOICING_SWITCH_COST,
                    (p, s) => {
                        let cents = 1200.0
                            * (prev.candidates[p - 1].period_samples / frame.candidates[s - 1].period_samples).log2();
                        -PITCH_CHANGE_COST_PER_CENT * cents.abs()
                    }
                };
                if score + transition > *slot {
                    *slot = score + transition;
                    from[s] = p;
                }
            }
            *slot += e[s];
        }
        scores = next;
        back.push(from);
    }
    let mut state = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0);
    let mut path = vec![None; frames.len()];
    for t in (0..frames.len()).rev() {
        path[t] = state.checked_sub(1);
        state = back[t][state];
    }
    path
}

/// YIN's difference function on one frame, computed by FFT, and the candidate periods it yields.
struct Yin {
    /// Integration window, samples.
    window: usize,
    /// Shortest and longest period searched, samples.
    min_lag: usize,
    max_lag: usize,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    segment: Vec<f32>,
    head: Vec<f32>,
    spectrum_head: Vec<Complex32>,
    spectrum_segment: Vec<Complex32>,
    correlation: Vec<f32>,
    scratch: Vec<Complex32>,
    energy_prefix: Vec<f64>,
    normalised: Vec<f32>,
    /// Raw difference d(tau), for interpolating the period.
    raw: Vec<f32>,
    threshold_cdf: Vec<f32>,
}

/// Number of thresholds of the pYIN Beta prior (0.01 ..= 1.0).
const THRESHOLD_STEPS: usize = 100;

impl Yin {
    fn new(sample_rate_hz: u32, config: &F0Config) -> Self {
        let sr = sample_rate_hz as f32;
        let max_lag = (sr / config.min_hz).ceil() as usize + 1;
        let min_lag = ((sr / config.max_hz).floor() as usize).max(2);
        let window = max_lag;
        let fft_len = (window + max_lag + 1).next_power_of_two();
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(fft_len);
        let inverse = planner.plan_fft_inverse(fft_len);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        Self {
            window,
            min_lag,
            max_lag,
            segment: forward.make_input_vec(),
            head: forward.make_input_vec(),
            spectrum_head: forward.make_output_vec(),
            spectrum_segment: forward.make_output_vec(),
            correlation: inverse.make_output_vec(),
            scratch: vec![Complex32::default(); scratch_len],
            energy_prefix: vec![0.0; window + max_lag + 2],
            normalised: vec![1.0; max_lag + 2],
            raw: vec![0.0; max_lag + 2],
            threshold_cdf: beta_threshold_cdf(2.0, 18.0),
            forward,
            inverse,
        }
    }

    fn frame_candidates(&mut self, samples: &[f32], centre: usize) -> FrameCandidates {
        let span = self.window + self.max_lag + 1;
        let fft_len = self.segment.len();
        self.segment.fill(0.0);
        // Centre the first integration window on the frame: YIN compares x[0..W] with
        // x[tau..tau + W], so the measurement sits at about `centre + tau / 2`.
        centred_window_into(samples, centre + span / 2 - self.window / 2, &mut self.segment[..span]);
        self.head.fill(0.0);
        self.head[..self.window].copy_from_slice(&self.segment[..self.window]);
        // Energies first: the forward FFT uses its input as scratch space.
        self.energy_prefix[0] = 0.0;
        for j in 0..span {
            self.energy_prefix[j + 1] = self.energy_prefix[j] + f64::from(self.segment[j]).powi(2);
        }
        self.forward
            .process_with_scratch(&mut self.segment, &mut self.spectrum_segment, &mut self.scratch)
            .expect("buffer sizes come from the plan");
        self.forward
            .process_with_scratch(&mut self.head, &mut self.spectrum_head, &mut self.scratch)
            .expect("buffer sizes come from the plan");
        for (h, s) in self.spectrum_head.iter_mut().zip(&self.spectrum_segment) {
            *h = h.conj() * s;
        }
        self.inverse
            .process_with_scratch(&mut self.spectrum_head, &mut self.correlation, &mut self.scratch)
            .expect("buffer sizes come from the plan");
        let scale = 1.0 / fft_len as f64;
        let energy = |start: usize, len: usize, prefix: &[f64]| prefix[start + len] - prefix[start];
        let e0 = energy(0, self.window, &self.energy_prefix);
        let mean_square = (e0 / self.window as f64) as f32;

        // Cumulative-mean-normalised difference d'(tau).
        self.normalised[0] = 1.0;
        let mut running = 0.0f64;
        for tau in 1..=self.max_lag + 1 {
            let et = energy(tau, self.window, &self.energy_prefix);
            let d = (e0 + et - 2.0 * f64::from(self.correlation[tau]) * scale).max(0.0);
            running += d;
            self.raw[tau] = d as f32;
            self.normalised[tau] = if running > 0.0 { (d * tau as f64 / running) as f32 } else { 1.0 };
        }

        let mut candidates: Vec<(f32, f32)> = Vec::new(); // (period, d')
        let d = &self.normalised;
        for tau in self.min_lag.max(2)..=self.max_lag {
            if d[tau] < d[tau - 1] && d[tau] <= d[tau + 1] {
                // The period is interpolated on the raw difference (as the YIN paper does: the
                // normalisation bends the parabola at short lags), the depth on d'.
                let r = &self.raw;
                let (offset, _) = parabola_vertex(r[tau - 1], r[tau], r[tau + 1]);
                let (_, value) = parabola_vertex(d[tau - 1], d[tau], d[tau + 1]);
                candidates.push((tau as f32 + offset, value.max(0.0)));
            }
        }
        let best_difference = candidates.iter().map(|c| c.1).fold(1.0f32, f32::min);
        let weights = self.pyin_weights(&candidates);
        let mut kept: Vec<Candidate> = candidates
            .iter()
            .zip(weights)
            .filter(|(_, w)| *w > 0.0)
            .map(|(c, w)| Candidate { period_samples: c.0, weight: w })
            .collect();
        kept.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        kept.truncate(MAX_CANDIDATES);
        let total: f32 = kept.iter().map(|c| c.weight).sum();
        if total > 0.0 {
            for c in &mut kept {
                c.weight /= total;
            }
        }
        FrameCandidates { candidates: kept, best_difference, mean_square }
    }

    /// pYIN's candidate weights: for a threshold `s` drawn from the Beta prior, the chosen dip is
    /// the first one below `s` (or, with a small probability, the global minimum when none is).
    fn pyin_weights(&self, candidates: &[(f32, f32)]) -> Vec<f32> {
        let cdf = |x: f32| -> f32 {
            let k = ((x * THRESHOLD_STEPS as f32).floor() as isize).clamp(0, THRESHOLD_STEPS as isize) as usize;
            self.threshold_cdf[k]
        };
        let mut weights = vec![0.0f32; candidates.len()];
        let mut earlier_min = f32::INFINITY;
        let mut global = None::<usize>;
        for (i, &(_, value)) in candidates.iter().enumerate() {
            let upper = cdf(earlier_min.min(1.0));
            let lower = cdf(value);
            if upper > lower {
                weights[i] = upper - lower;
            }
            if value < earlier_min {
                earlier_min = value;
                global = Some(i);
            }
        }
        if let Some(g) = global {
            // Thresholds below every dip: pYIN gives the global minimum a small share.
            weights[g] += 0.01 * cdf(candidates[g].1);
        }
        weights
    }
}

/// Cumulative Beta(`a`, `b`) mass on thresholds 0.01..=1.0: entry `k` is the mass at or below
/// `k / THRESHOLD_STEPS`.
fn beta_threshold_cdf(a: f64, b: f64) -> Vec<f32> {
    let pdf: Vec<f64> = (1..=THRESHOLD_STEPS)
        .map(|k| {
            let x = (k as f64 - 0.5) / THRESHOLD_STEPS as f64;
            x.powf(a - 1.0) * (1.0 - x).powf(b - 1.0)
        })
        .collect();
    let total: f64 = pdf.iter().sum();
    let mut cdf = vec![0.0f32; THRESHOLD_STEPS + 1];
    let mut acc = 0.0;
    for (k, p) in pdf.iter().enumerate() {
        acc += p / total;
        cdf[k + 1] = acc as f32;
    }
    cdf
}

/// Vertex of the parabola through `(-1, a)`, `(0, b)`, `(1, c)`: (offset, value).
pub(crate) fn parabola_vertex(a: f32, b: f32, c: f32) -> (f32, f32) {
    let denom = a - 2.0 * b + c;
    if denom.abs() < 1e-12 {
        return (0.0, b);
    }
    let offset = (0.5 * (a - c) / denom).clamp(-0.5, 0.5);
    (offset, b - 0.25 * (a - c) * offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    /// A harmonic tone (1/k amplitudes, up to 10 partials) with sinusoidal vibrato.
    pub(super) fn vibrato_tone(
        f0_hz: f64,
        depth_cents: f64,
        rate_hz: f64,
        sr: u32,
        seconds: f64,
    ) -> (Vec<f32>, Vec<f64>) {
        let n = (seconds * f64::from(sr)) as usize;
        let mut phase = 0.0f64;
        let mut out = Vec::with_capacity(n);
        let mut truth = Vec::with_capacity(n);
        for i in 0..n {
            let t = i as f64 / f64::from(sr);
            let f = f0_hz * 2f64.powf(depth_cents / 1200.0 * (TAU * rate_hz * t).sin());
            truth.push(f);
            // Partials below Nyquist only (aliased ones would not be harmonic).
            let partials = (1..=10).filter(|&k| f64::from(k) * f0_hz * 1.03 < f64::from(sr) / 2.0);
            let v: f64 = partials.map(|k| (f64::from(k) * phase).sin() / f64::from(k)).sum();
            out.push((0.3 * v) as f32);
            phase += TAU * f / f64::from(sr);
        }
        (out, truth)
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    #[test]
    fn vibrato_tones_are_tracked_within_a_few_cents() {
        for (f0, sr) in [(110.0, 16000), (293.66, 48000), (880.0, 48000), (1318.5, 16000)] {
            let (signal, truth) = vibrato_tone(f0, 50.0, 5.5, sr, 1.5);
            let track = estimate_f0(&signal, sr, 250.0).unwrap();
            let hop = (sr / 250) as usize;
            let errors: Vec<f64> = (5..track.f0_hz.len() - 5)
                .map(|i| (1200.0 * (f64::from(track.f0_hz[i]) / truth[i * hop]).log2()).abs())
                .collect();
            let voiced = track.voiced[5..track.voiced.len() - 5].iter().filter(|v| **v).count();
            assert_eq!(voiced, errors.len(), "{f0} Hz: every inner frame is voiced");
            let med = median(errors.clone());
            let worst = errors.iter().copied().fold(0.0, f64::max);
            assert!(med < 10.0, "{f0} Hz at {sr}: median error {med:.2} cents");
            assert!(worst < 60.0, "{f0} Hz at {sr}: worst error {worst:.1} cents (octave error?)");
        }
    }

    #[test]
    fn noise_and_silence_are_unvoiced_and_tones_confident() {
        let sr = 16000;
        let mut state = 12345u32;
        let mut noise = Vec::new();
        for _ in 0..sr {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            noise.push((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5);
        }
        let (tone, _) = vibrato_tone(220.0, 0.0, 1.0, sr, 1.0);
        let signal: Vec<f32> = noise.iter().chain(&vec![0.0; sr as usize]).chain(&tone).copied().collect();
        let track = estimate_f0(&signal, sr, 250.0).unwrap();
        let voiced_share =
            |r: std::ops::Range<usize>| track.voiced[r.clone()].iter().filter(|v| **v).count() as f32 / r.len() as f32;
        assert!(voiced_share(10..240) < 0.05, "noise voiced {}", voiced_share(10..240));
        assert!(voiced_share(260..490) == 0.0, "silence voiced");
        assert!(voiced_share(510..740) == 1.0, "tone voiced {}", voiced_share(510..740));
        let tone_conf = track.confidence[510..740].iter().sum::<f32>() / 230.0;
        let noise_conf = track.confidence[10..240].iter().sum::<f32>() / 230.0;
        assert!(tone_conf > 0.9 && noise_conf < 0.6, "tone {tone_conf}, noise {noise_conf}");
        // Unvoiced frames after the tone's onset hold a continuous f0.
        assert!((track.f0_hz[600] - 220.0).abs() < 1.0, "{}", track.f0_hz[600]);
    }

    #[test]
    fn a_frame_rate_that_does_not_divide_the_sample_rate_is_refused() {
        let err = estimate_f0(&[0.0; 4000], 44100, 250.0).unwrap_err().to_string();
        assert!(err.contains("not a whole multiple"), "{err}");
    }
}

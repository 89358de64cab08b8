//! Non-neural, SMS-style analysis of a recording into harmonic and noise envelopes.
//!
//! Users want a unified CSV from a recording in seconds, before (or instead of) training. Per
//! frame (Serra's Spectral Modelling Synthesis, without the neural network):
//! 1. f0 and voicing come from [`crate::features::f0`];
//! 2. a Blackman-Harris STFT (sidelobes below -92 dB, so a strong partial does not leak into the
//!    noise measured beside it) is searched near `k * f0` for each harmonic's peak; the peak's
//!    exact frequency and amplitude come from a parabola through the log magnitudes of the
//!    three top bins; the search follows the partials upward (each target is `k` times the f0
//!    implied by the last strong partial), so slightly inharmonic or mistuned partials are found;
//! 3. the bins under every harmonic's main lobe are removed and each noise band's magnitude is
//!    the mean power of the remaining bins around its centre (bands with no bin left are
//!    interpolated from their neighbours), scaled so the renderer's filtered noise reproduces
//!    that power;
//! 4. unvoiced frames carry noise only (harmonic amplitudes 0).
//!
//! The window length adapts to the recording: about ten periods of its lowest notes, so that
//! neighbouring harmonics' main lobes never overlap.

use ddsp_shared::envelope::linear_band_centre_hz;
use ddsp_shared::Envelope;
use realfft::RealFftPlanner;

use crate::audio::resample::resample;
use crate::features::f0::{estimate_f0_on_grid, F0Config, F0Track};
use crate::features::frames::{centred_window_into, FrameGrid};

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnalysisConfig {
    /// Harmonics per frame (the CSV's `harmonic` rows), DDSP's 60 by default.
    pub harmonic_count: usize,
    /// Noise bands per frame, spread linearly from 0 Hz to Nyquist (DDSP's 65 by default).
    pub noise_band_count: usize,
    /// f0 search range.
    pub f0: F0Config,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self { harmonic_count: 60, noise_band_count: 65, f0: F0Config::default() }
    }
}

/// Periods of the lowest note that one analysis window spans: Blackman-Harris's main lobe is
/// 8 bins wide, so 10 periods keep neighbouring harmonics apart with bins to spare between them.
const PERIODS_PER_WINDOW: f64 = 10.0;
/// Shortest and longest analysis window, seconds (time resolution vs. low notes).
const MIN_WINDOW_S: f64 = 0.02;
const MAX_WINDOW_S: f64 = 0.1;
/// Half-width, in bins, of the region around a harmonic peak removed before measuring noise:
/// Blackman-Harris's main lobe ends at 4 bins and is 60 dB down by 3.
const LOBE_HALF_WIDTH_BINS: isize = 3;
/// Harmonics this far (relative to f0) from their target are searched for: wide enough for
/// vibrato and mistuning, narrow enough never to reach the next harmonic.
const SEARCH_HALF_WIDTH_F0: f32 = 0.3;
/// How far (relative) the f0 implied by a found partial may move the search for the next ones.
const MAX_PARTIAL_DRIFT: f32 = 0.01;

/// Shortest signal worth analysing, samples: one f0 analysis window (a period of the lowest f0
/// searched, plus one) or the minimum STFT window, whichever is longer.
pub fn min_samples(sample_rate_hz: u32, config: &AnalysisConfig) -> usize {
    let sr = f64::from(sample_rate_hz);
    let f0_window = (sr / f64::from(config.f0.min_hz)).ceil() as usize + 1;
    f0_window.max((MIN_WINDOW_S * sr) as usize)
}

/// Analyses mono `samples` on `grid`. `progress(done, total)` is called now and then with the
/// number of frames finished.
pub fn analyze(
    samples: &[f32],
    grid: &FrameGrid,
    config: &AnalysisConfig,
    mut progress: impl FnMut(usize, usize),
) -> Envelope {
    let track = f0_track(samples, grid, &config.f0);
    let frame_count = track.f0_hz.len();
    progress(frame_count / 3, frame_count);
    let sr = grid.sample_rate_hz;
    let mut envelope = Envelope::silent(
        grid.frame_rate_hz(),
        f64::from(sr),
        frame_count,
        config.harmonic_count,
        config.noise_band_count,
        0.0,
    );
    let window_len = window_length(&track, sr, config.f0.min_hz);
    let mut analyser = FrameAnalyser::new(window_len, sr, config);
    for i in 0..frame_count {
        analyser.analyse_frame(samples, grid.centre_sample(i), &track, i, &mut envelope);
        if i % 256 == 255 {
            progress(frame_count / 3 + (i + 1) * 2 / 3, frame_count);
        }
    }
    progress(frame_count, frame_count);
    envelope
}

/// f0 of every frame of `grid`. Above 32 kHz the signal is first decimated (band-limited) by the
/// largest factor that keeps at least 16 kHz and divides the hop: f0 lives far below 8 kHz, and
/// the YIN FFTs then shrink by that factor. The analysis refines f0 from the partials anyway.
fn f0_track(samples: &[f32], grid: &FrameGrid, config: &F0Config) -> F0Track {
    let sr = grid.sample_rate_hz;
    let factor = [4u32, 3, 2]
        .into_iter()
        .find(|&d| sr.is_multiple_of(d) && sr / d >= F0_MIN_RATE_HZ && grid.hop_samples.is_multiple_of(d as usize));
    if let Some(d) = factor {
        if let Ok(decimated) = resample(samples, sr, sr / d) {
            let coarse = FrameGrid { sample_rate_hz: sr / d, hop_samples: grid.hop_samples / d as usize };
            let mut track = estimate_f0_on_grid(&decimated, &coarse, config);
            // Same frame count as the full-rate grid (the decimated length may round down).
            let n = grid.frame_count(samples.len());
            let last = track.f0_hz.len() - 1;
            track.f0_hz.resize(n, track.f0_hz[last]);
            track.confidence.resize(n, track.confidence[last]);
            track.voiced.resize(n, track.voiced[last]);
            return track;
        }
    }
    estimate_f0_on_grid(samples, grid, config)
}

/// Lowest rate f0 is estimated at when decimating for speed, Hz.
const F0_MIN_RATE_HZ: u32 = 16000;

/// Window length for a track: [`PERIODS_PER_WINDOW`] periods of its low notes (5th percentile of
/// voiced f0), rounded up to a power of two, within [`MIN_WINDOW_S`]..[`MAX_WINDOW_S`].
fn window_length(track: &F0Track, sample_rate_hz: u32, min_hz: f32) -> usize {
    let mut voiced: Vec<f32> = track.f0_hz.iter().zip(&track.voiced).filter(|(_, v)| **v).map(|(f, _)| *f).collect();
    voiced.sort_by(f32::total_cmp);
    let low_hz = voiced.get(voiced.len() / 20).copied().unwrap_or(min_hz.max(100.0));
    let sr = f64::from(sample_rate_hz);
    let wanted = (PERIODS_PER_WINDOW * sr / f64::from(low_hz)).ceil() as usize;
    let min = ((MIN_WINDOW_S * sr) as usize).next_power_of_two();
    let max = ((MAX_WINDOW_S * sr) as usize).next_power_of_two();
    wanted.next_power_of_two().clamp(min, max)
}

/// FFT plan and buffers for analysing frames one at a time.
struct FrameAnalyser {
    sample_rate_hz: f32,
    fft: std::sync::Arc<dyn realfft::RealToComplex<f32>>,
    window: Vec<f32>,
    /// Sum of the window (sinusoid amplitude calibration).
    window_sum: f32,
    /// Sum of the squared window (noise power calibration).
    window_power: f64,
    frame: Vec<f32>,
    spectrum: Vec<realfft::num_complex::Complex32>,
    scratch: Vec<realfft::num_complex::Complex32>,
    log_mag: Vec<f32>,
    power: Vec<f64>,
    masked: Vec<bool>,
    band_power: Vec<Option<f64>>,
    harmonic_count: usize,
    noise_band_count: usize,
}

impl FrameAnalyser {
    fn new(window_len: usize, sample_rate_hz: u32, config: &AnalysisConfig) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(window_len);
        let window = blackman_harris(window_len);
        let bins = window_len / 2 + 1;
        Self {
            sample_rate_hz: sample_rate_hz as f32,
            window_sum: window.iter().sum(),
            window_power: window.iter().map(|w| f64::from(*w).powi(2)).sum(),
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            log_mag: vec![0.0; bins],
            power: vec![0.0; bins],
            masked: vec![false; bins],
            band_power: vec![None; config.noise_band_count],
            harmonic_count: config.harmonic_count,
            noise_band_count: config.noise_band_count,
            window,
            fft,
        }
    }

    fn bin_hz(&self) -> f32 {
        self.sample_rate_hz / self.window.len() as f32
    }

    fn analyse_frame(&mut self, samples: &[f32], centre: usize, track: &F0Track, i: usize, out: &mut Envelope) {
        centred_window_into(samples, centre, &mut self.frame);
        for (x, w) in self.frame.iter_mut().zip(&self.window) {
            *x *= w;
        }
        self.fft
            .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
            .expect("buffer sizes come from the plan");
        for (k, x) in self.spectrum.iter().enumerate() {
            let p = x.norm_sqr();
            self.power[k] = f64::from(p);
            self.log_mag[k] = 0.5 * p.max(1e-30).ln();
        }
        self.masked.fill(false);

        let f0 = track.f0_hz[i];
        let h = self.harmonic_count;
        let nyquist = 0.5 * self.sample_rate_hz;
        let mut f0_estimate = f0;
        if track.voiced[i] {
            f0_estimate = self.measure_harmonics(
                f0,
                nyquist,
                &mut out.harmonic_freqs_hz[i * h..(i + 1) * h],
                &mut out.harmonic_amps[i * h..(i + 1) * h],
            );
        } else {
            for (k, f) in out.harmonic_freqs_hz[i * h..(i + 1) * h].iter_mut().enumerate() {
                *f = f0 * (k + 1) as f32;
            }
        }
        out.f0_hz[i] = f0_estimate;
        let b = self.noise_band_count;
        self.measure_noise(&mut out.band_centres_hz[i * b..(i + 1) * b], &mut out.band_mags[i * b..(i + 1) * b]);
    }

    /// Finds each harmonic's peak, writes its frequency and amplitude, masks its main lobe.
    /// Returns the frame's f0 refined from the partials (amplitude-weighted `freq / k` of the
    /// first ten found), or `f0` when none was found.
    fn measure_harmonics(&mut self, f0: f32, nyquist: f32, freqs: &mut [f32], amps: &mut [f32]) -> f32 {
        let bin_hz = self.bin_hz();
        let last_bin = self.log_mag.len() as isize - 1;
        let mut local_f0 = f0;
        let (mut weighted, mut weight) = (0.0f64, 0.0f64);
        let mut strongest = 0.0f32;
        for (k, (freq, amp)) in freqs.iter_mut().zip(amps.iter_mut()).enumerate() {
            let n = (k + 1) as f32;
            let target = n * local_f0;
            *freq = target;
            *amp = 0.0;
            if target >= nyquist * 0.995 {
                continue;
            }
            let half = (SEARCH_HALF_WIDTH_F0 * f0 / bin_hz).max(1.0);
            let lo = ((target / bin_hz - half).floor() as isize).max(1);
            let hi = ((target / bin_hz + half).ceil() as isize).min(last_bin - 1);
            if lo > hi {
                continue;
            }
            let peak = (lo..=hi).max_by(|a, b| self.log_mag[*a as usize].total_cmp(&self.log_mag[*b as usize]));
            let Some(p) = peak else { continue };
            let pu = p as usize;
            let (a, b, c) = (self.log_mag[pu - 1], self.log_mag[pu], self.log_mag[pu + 1]);
            if !(b >= a && b >= c) {
                // No peak in range (an edge maximum): the partial is absent or buried in noise.
                continue;
            }
            let (offset, log_peak) = crate::features::f0::parabola_vertex(a, b, c);
            let peak_freq = (p as f32 + offset) * bin_hz;
            if peak_freq >= nyquist || (peak_freq - target).abs() > SEARCH_HALF_WIDTH_F0 * f0 {
                continue;
            }
            *freq = peak_freq;
            *amp = 2.0 * log_peak.exp() / self.window_sum;
            for m in (p - LOBE_HALF_WIDTH_BINS).max(0)..=(p + LOBE_HALF_WIDTH_BINS).min(last_bin) {
                self.masked[m as usize] = true;
            }
            strongest = strongest.max(*amp);
            // Follow the partials upward only from clear peaks (within 40 dB of the strongest).
            if *amp > strongest * 0.01 {
                // Within 1 % of the frame's f0: a stray noise peak must not drag the search
                // off the harmonic series.
                local_f0 = (peak_freq / n).clamp(f0 * (1.0 - MAX_PARTIAL_DRIFT), f0 * (1.0 + MAX_PARTIAL_DRIFT));
                if k < 10 {
                    weighted += f64::from(*amp) * f64::from(local_f0);
                    weight += f64::from(*amp);
                }
            }
        }
        if weight > 0.0 {
            (weighted / weight) as f32
        } else {
            f0
        }
    }

    /// Noise band magnitudes from the power of the unmasked bins around each band centre.
    fn measure_noise(&mut self, centres: &mut [f32], mags: &mut [f32]) {
        let count = centres.len();
        let bin_hz = f64::from(self.bin_hz());
        let sr = f64::from(self.sample_rate_hz);
        let spacing = if count > 1 { sr / 2.0 / (count - 1) as f64 } else { sr / 2.0 };
        let last_bin = self.power.len() - 1;
        for (b, centre) in centres.iter_mut().enumerate() {
            *centre = linear_band_centre_hz(b, count, sr);
            let lo = ((f64::from(*centre) - spacing / 2.0) / bin_hz).ceil().max(0.0) as usize;
            let hi = (((f64::from(*centre) + spacing / 2.0) / bin_hz).floor() as usize).min(last_bin);
            let (mut sum, mut n) = (0.0f64, 0usize);
            for k in lo..=hi.max(lo) {
                if k <= last_bin && !self.masked[k] {
                    sum += self.power[k];
                    n += 1;
                }
            }
            self.band_power[b] = (n > 0).then(|| sum / n as f64);
        }
        fill_gaps(&mut self.band_power);
        let scale = 1.0 / (self.window_power * ddsp_shared::render::NOISE_VARIANCE);
        for (m, p) in mags.iter_mut().zip(&self.band_power) {
            *m = (p.unwrap_or(0.0) * scale).sqrt() as f32;
        }
    }
}

/// Replaces `None` entries by linear interpolation between their known neighbours (holding the
/// nearest one at the ends).
fn fill_gaps(values: &mut [Option<f64>]) {
    let known: Vec<usize> = values.iter().enumerate().filter(|(_, v)| v.is_some()).map(|(i, _)| i).collect();
    if known.is_empty() {
        return;
    }
    for i in 0..values.len() {
        if values[i].is_some() {
            continue;
        }
        let next = known.iter().position(|&k| k > i);
        let v = match next {
            Some(0) => values[known[0]],
            None => values[*known.last().expect("not empty")],
            Some(j) => {
                let (a, b) = (known[j - 1], known[j]);
                let t = (i - a) as f64 / (b - a) as f64;
                Some(values[a].unwrap_or(0.0) * (1.0 - t) + values[b].unwrap_or(0.0) * t)
            }
        };
        values[i] = v;
    }
}

/// 4-term Blackman-Harris window (periodic), sidelobes at -92 dB.
fn blackman_harris(len: usize) -> Vec<f32> {
    let a = [0.35875, 0.48829, 0.14128, 0.01168];
    (0..len)
        .map(|i| {
            let x = 2.0 * std::f64::consts::PI * i as f64 / len as f64;
            (a[0] - a[1] * x.cos() + a[2] * (2.0 * x).cos() - a[3] * (3.0 * x).cos()) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    fn lcg_noise(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1664525).wrapping_add(1013904223);
                (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    #[test]
    fn harmonic_amplitudes_and_frequencies_are_measured() {
        let sr = 44100u32;
        let f0 = 293.66f64;
        let amps = [0.3, 0.15, 0.1, 0.05, 0.02];
        let n = sr as usize;
        let signal: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(sr);
                // The 3rd partial is 10 cents sharp: the analysis must find it where it is.
                amps.iter()
                    .enumerate()
                    .map(|(k, a)| {
                        let detune = if k == 2 { 2f64.powf(10.0 / 1200.0) } else { 1.0 };
                        a * (TAU * f0 * (k + 1) as f64 * detune * t).sin()
                    })
                    .sum::<f64>() as f32
            })
            .collect();
        let grid = FrameGrid::nearest(sr, 250.0).unwrap();
        let config = AnalysisConfig { harmonic_count: 8, noise_band_count: 65, ..Default::default() };
        let env = analyze(&signal, &grid, &config, |_, _| {});
        env.validate().unwrap();
        let i = env.frame_count() / 2;
        for (k, a) in amps.iter().enumerate() {
            let want_hz = f0 * (k + 1) as f64 * if k == 2 { 2f64.powf(10.0 / 1200.0) } else { 1.0 };
            let got_hz = f64::from(env.harmonic_freqs(i)[k]);
            let cents = 1200.0 * (got_hz / want_hz).log2();
            assert!(cents.abs() < 1.0, "harmonic {k}: {got_hz} Hz vs {want_hz} ({cents:.2} cents)");
            let db = 20.0 * (f64::from(env.harmonic_amps(i)[k]) / a).log10();
            assert!(db.abs() < 0.2, "harmonic {k}: amplitude off by {db:.2} dB");
        }
        assert!(env.harmonic_amps(i)[6] < 1e-3, "absent partial reads {}", env.harmonic_amps(i)[6]);
        // The refined f0 is the amplitude-weighted mean of freq / k; the sharp 3rd partial
        // pulls it up by 1.6 cents.
        let f0_cents = 1200.0 * (f64::from(env.f0_hz[i]) / f0).log2();
        assert!(f0_cents.abs() < 2.0, "f0 {} ({f0_cents:.2} cents)", env.f0_hz[i]);
        // A pure harmonic signal leaves almost no noise: every band at least 40 dB below the
        // strongest partial (per bin, the residual is more than 70 dB below the peaks).
        let noise = env.band_mags(i).iter().copied().fold(0.0f32, f32::max);
        assert!(noise < 0.3 * 0.01, "noise {noise}");
    }

    #[test]
    fn white_noise_is_unvoiced_and_measured_at_the_renderer_scale() {
        let sr = 16000u32;
        let magnitude = 0.2f32;
        // Uniform noise in [-1, 1] scaled by the magnitude: what the renderer makes of a flat
        // band magnitude of 0.2.
        let noise: Vec<f32> = lcg_noise(sr as usize, 7).iter().map(|v| v * magnitude).collect();
        let grid = FrameGrid::new(sr, 250.0).unwrap();
        let env = analyze(&noise, &grid, &AnalysisConfig::default(), |_, _| {});
        let voiced_frames = (0..env.frame_count()).filter(|&i| env.harmonic_amps(i).iter().any(|a| *a > 0.0)).count();
        assert!(voiced_frames < env.frame_count() / 20, "{voiced_frames} voiced frames in noise");
        let mean: f32 = env.band_mags.iter().sum::<f32>() / env.band_mags.len() as f32;
        assert!((mean / magnitude - 1.0).abs() < 0.15, "mean band magnitude {mean}, want {magnitude}");
    }

    #[test]
    fn gaps_are_interpolated() {
        let mut v = vec![None, Some(1.0), None, None, Some(4.0), None];
        fill_gaps(&mut v);
        assert_eq!(v, vec![Some(1.0), Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(4.0)]);
    }
}

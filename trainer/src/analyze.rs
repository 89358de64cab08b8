//! Non-neural, SMS-style analysis of a recording into harmonic and noise envelopes.
//!
//! Users want a unified CSV from a recording in seconds, before (or instead of) training. Per
//! frame (Serra's Spectral Modelling Synthesis, without the neural network):
//! 1. f0 and voicing come from [`crate::features::f0`];
//! 2. a Blackman-Harris window five periods of the frame's own f0 long (sidelobes below -92 dB,
//!    so a strong partial does not leak into a weak one; short enough to follow speech, attacks
//!    and vibrato) is searched near `k * f0` for each harmonic's peak; the peak's exact
//!    frequency and amplitude come from a parabola through the log magnitudes of the three top
//!    bins; the search follows the partials upward (each target is `k` times the f0 implied by
//!    the last strong partial), so slightly inharmonic or mistuned partials are found;
//! 3. a second, longer window (ten periods, so bins remain between the partials; 12.5 ms in
//!    unvoiced frames, so consonants and onsets keep their timing) measures the noise: the bins
//!    under every harmonic's main lobe are removed and each noise band's magnitude is the
//!    median power of the remaining bins around its centre, a noise floor that unresolved
//!    partials standing out of it do not raise (bands with no bin left are interpolated from
//!    their neighbours), scaled so the renderer's filtered noise reproduces that power. Above
//!    the last harmonic a band is the mean power of its bins instead: the partials that go on
//!    up there have no harmonic row, and are kept as noise of their power;
//! 4. unvoiced frames carry noise only (harmonic amplitudes 0);
//! 5. each partial's phase is read at its peak, and once every frame is measured its
//!    frequencies are nudged so that the renderer, which plays a partial at the phase its
//!    frequency integrates to, meets those phases (`analyze/phase_lock.rs`): the resynthesis
//!    keeps the recording's waveform, not only its spectrum.
//!
//! Window lengths follow each frame's f0 (the harmonic window of a cello's low C is 76 ms; above
//! 500 Hz it stays at its 10 ms floor), rounded to eighth-octave steps so that only a few
//! windows and FFT plans are made per recording. How close this comes, against a plain SMS
//! analysis on real recordings of seven kinds of sound: examples/README.md.

mod phase_lock;

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

/// Periods of the frame's own f0 that the window measuring its harmonics spans. Blackman-Harris's
/// main lobe is 8 bins wide (4 each side), so at 5 periods a neighbouring partial's lobe ends
/// a bin short of the peak being read: amplitudes stay exact while the window is short enough
/// to follow speech and fast attacks. On the varied set 6 beat 4, 5, 7, 8 and 10 until the
/// partials kept their phases (`phase_lock`); since then 5 is closer on six of its eight
/// recordings (the clarinet is 4 % further, still half the baseline's distance).
const HARMONIC_WINDOW_PERIODS: f64 = 5.0;
/// Periods of the frame's f0 that the window measuring its noise spans: 10 leave 4 bins
/// between neighbouring lobes' masks, where the noise between partials is read.
const NOISE_WINDOW_PERIODS: f64 = 10.0;
/// Window of unvoiced frames, seconds: short, so consonants and onsets keep their timing.
const UNVOICED_WINDOW_S: f64 = 0.0125;
/// Shortest and longest noise window, seconds (time resolution vs. low notes); the harmonic
/// window may be down to half the shortest.
const MIN_WINDOW_S: f64 = 0.02;
const MAX_WINDOW_S: f64 = 0.1;
/// Window lengths are rounded to this many steps per octave, so only a few windows and FFT
/// plans are ever made for a recording.
const WINDOW_STEPS_PER_OCTAVE: f64 = 8.0;
/// Half-width, in bins of the window's own length, of the region around a harmonic peak removed
/// before measuring noise: Blackman-Harris's main lobe ends at 4 bins and is 60 dB down by 3.
const LOBE_HALF_WIDTH_BINS: f32 = 3.0;
/// Harmonics this far (relative to f0) from their target are searched for: wide enough for
/// vibrato and mistuning, narrow enough never to reach the next harmonic.
const SEARCH_HALF_WIDTH_F0: f32 = 0.3;
/// How far (relative) the f0 implied by a found partial may move the search for the next ones.
const MAX_PARTIAL_DRIFT: f32 = 0.01;
/// A band's noise is the median power of its unmasked bins over ln 2 (the median of white
/// noise's exponentially distributed bin powers is ln 2 of their mean), so the unresolved
/// partials and sidelobes that stand out of it do not raise it (above the last harmonic the
/// mean is taken instead, see `FrameAnalyser::measure_noise`). In voiced frames the bins
/// between partials still carry some of their energy (vibrato, bow and breath modulation, and
/// the partials' own phase and frequency movement, which the resynthesis now reproduces): the
/// floor there is taken 4.6 dB lower (chosen on the varied set of examples/varied once the
/// partials kept their phases: 0.5 and 0.7 in magnitude, against 1.0, were 1-2 % and 2-8 %
/// closer to the recordings; before, 1.5 dB lower was best).
const VOICED_NOISE_FLOOR_SCALE: f64 = 0.35;

/// Harmonics are searched for up to this fraction of Nyquist.
const NYQUIST_MARGIN: f32 = 0.995;

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
    let mut analyser = FrameAnalyser::new(sr, config);
    let mut sine_phases_rad = vec![0.0f32; frame_count * config.harmonic_count];
    for i in 0..frame_count {
        analyser.analyse_frame(samples, grid.centre_sample(i), &track, i, &mut envelope, &mut sine_phases_rad);
        if i % 256 == 255 {
            progress(frame_count / 3 + (i + 1) * 2 / 3, frame_count);
        }
    }
    phase_lock::lock_phases(&mut envelope, &sine_phases_rad, 0.5 * sr as f32 * NYQUIST_MARGIN);
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

/// One analysis window length with its FFT plan (zero-padded to a power of two) and buffers.
struct WindowedFft {
    window: Vec<f32>,
    /// Sum of the window (sinusoid amplitude calibration).
    window_sum: f32,
    /// Sum of the squared window (noise power calibration).
    window_power: f64,
    fft: std::sync::Arc<dyn realfft::RealToComplex<f32>>,
    frame: Vec<f32>,
    spectrum: Vec<realfft::num_complex::Complex32>,
    scratch: Vec<realfft::num_complex::Complex32>,
}

/// FFT plans and buffers for analysing frames one at a time, each with windows sized to its own
/// f0.
struct FrameAnalyser {
    sample_rate_hz: f32,
    planner: RealFftPlanner<f32>,
    /// The windows made so far, by length.
    windows: std::collections::BTreeMap<usize, WindowedFft>,
    min_len: usize,
    max_len: usize,
    /// FFT size and window length of the spectrum in `power` and `log_mag`.
    fft_len: usize,
    window_len: usize,
    log_mag: Vec<f32>,
    power: Vec<f64>,
    masked: Vec<bool>,
    band_power: Vec<Option<f64>>,
    /// Powers of one band's unmasked bins (for their median).
    band_bins: Vec<f64>,
    harmonic_count: usize,
    noise_band_count: usize,
}

impl FrameAnalyser {
    fn new(sample_rate_hz: u32, config: &AnalysisConfig) -> Self {
        let sr = f64::from(sample_rate_hz);
        let max_len = (MAX_WINDOW_S * sr) as usize;
        let bins = max_len.next_power_of_two() / 2 + 1;
        Self {
            sample_rate_hz: sample_rate_hz as f32,
            planner: RealFftPlanner::new(),
            windows: Default::default(),
            min_len: (MIN_WINDOW_S * sr) as usize,
            max_len,
            fft_len: 0,
            window_len: 0,
            log_mag: vec![0.0; bins],
            power: vec![0.0; bins],
            masked: vec![false; bins],
            band_power: vec![None; config.noise_band_count],
            band_bins: Vec::with_capacity(bins),
            harmonic_count: config.harmonic_count,
            noise_band_count: config.noise_band_count,
        }
    }

    fn bin_hz(&self) -> f32 {
        self.sample_rate_hz / self.fft_len as f32
    }

    /// `periods` periods of `f0_hz`, rounded to [`WINDOW_STEPS_PER_OCTAVE`], within `min_len..=max_len`.
    fn window_len(&self, periods: f64, f0_hz: f32, min_len: usize) -> usize {
        let len = periods * f64::from(self.sample_rate_hz) / f64::from(f0_hz);
        let rounded = 2f64.powf((len.log2() * WINDOW_STEPS_PER_OCTAVE).round() / WINDOW_STEPS_PER_OCTAVE).round();
        (rounded as usize).clamp(min_len, self.max_len)
    }

    /// Windows the frame around `centre` with a Blackman-Harris window of `len` samples, takes its
    /// spectrum into `power` and `log_mag`, and returns the window's sum and power.
    fn spectrum(&mut self, samples: &[f32], centre: usize, len: usize) -> (f32, f64) {
        let planner = &mut self.planner;
        let w = self.windows.entry(len).or_insert_with(|| {
            let fft = planner.plan_fft_forward(len.next_power_of_two());
            let window = blackman_harris(len);
            WindowedFft {
                window_sum: window.iter().sum(),
                window_power: window.iter().map(|w| f64::from(*w).powi(2)).sum(),
                frame: fft.make_input_vec(),
                spectrum: fft.make_output_vec(),
                scratch: fft.make_scratch_vec(),
                window,
                fft,
            }
        });
        centred_window_into(samples, centre, &mut w.frame[..len]);
        for (x, win) in w.frame.iter_mut().zip(&w.window) {
            *x *= win;
        }
        w.frame[len..].fill(0.0);
        w.fft
            .process_with_scratch(&mut w.frame, &mut w.spectrum, &mut w.scratch)
            .expect("buffer sizes come from the plan");
        for (k, x) in w.spectrum.iter().enumerate() {
            let p = x.norm_sqr();
            self.power[k] = f64::from(p);
            self.log_mag[k] = 0.5 * p.max(1e-30).ln();
        }
        self.fft_len = w.frame.len();
        self.window_len = len;
        (w.window_sum, w.window_power)
    }

    /// Harmonics from a short window ([`HARMONIC_WINDOW_PERIODS`]), then noise from a longer
    /// one ([`NOISE_WINDOW_PERIODS`], or [`UNVOICED_WINDOW_S`] in unvoiced frames) with the
    /// harmonics found masked out.
    /// Writes frame `i` into `out`, and its harmonics' sine phases at the frame's centre into
    /// `sine_phases_rad` (laid out as `out`'s harmonics).
    fn analyse_frame(
        &mut self,
        samples: &[f32],
        centre: usize,
        track: &F0Track,
        i: usize,
        out: &mut Envelope,
        sine_phases_rad: &mut [f32],
    ) {
        let (f0, voiced) = (track.f0_hz[i], track.voiced[i]);
        let h = self.harmonic_count;
        let nyquist = 0.5 * self.sample_rate_hz;
        let freqs = &mut out.harmonic_freqs_hz[i * h..(i + 1) * h];
        let amps = &mut out.harmonic_amps[i * h..(i + 1) * h];
        out.f0_hz[i] = if voiced {
            let len = self.window_len(HARMONIC_WINDOW_PERIODS, f0, self.min_len / 2);
            let (window_sum, _) = self.spectrum(samples, centre, len);
            let found_f0 = self.measure_harmonics(f0, nyquist, window_sum, freqs, amps);
            self.measure_phases(freqs, amps, &mut sine_phases_rad[i * h..(i + 1) * h]);
            found_f0
        } else {
            for (k, f) in freqs.iter_mut().enumerate() {
                *f = f0 * (k + 1) as f32;
            }
            f0
        };
        let len = if voiced {
            self.window_len(NOISE_WINDOW_PERIODS, f0, self.min_len)
        } else {
            (UNVOICED_WINDOW_S * f64::from(self.sample_rate_hz)) as usize
        };
        let (_, window_power) = self.spectrum(samples, centre, len);
        self.mask_harmonics(freqs, amps);
        let b = self.noise_band_count;
        let floor_scale = if voiced { VOICED_NOISE_FLOOR_SCALE } else { 1.0 };
        // Above the last harmonic (voiced frames only: unvoiced ones have no partials).
        let partials_end_hz = if voiced { freqs.last().copied().unwrap_or(0.0) } else { f32::INFINITY };
        self.measure_noise(
            window_power,
            floor_scale,
            partials_end_hz,
            &mut out.band_centres_hz[i * b..(i + 1) * b],
            &mut out.band_mags[i * b..(i + 1) * b],
        );
    }

    /// The sine phase, at the window's centre, of each harmonic found (amplitude above 0) in
    /// the current spectrum. The window is symmetric about its centre (`len / 2`), so within a
    /// partial's main lobe every bin has the partial's phase less the centre's delay: read at
    /// the bin nearest the peak.
    fn measure_phases(&self, freqs: &[f32], amps: &[f32], sine_phases_rad: &mut [f32]) {
        use std::f64::consts::{FRAC_PI_2, TAU};
        let bin_hz = self.bin_hz();
        let delay_rad_per_bin = TAU * (self.window_len / 2) as f64 / self.fft_len as f64;
        let spectrum = &self.windows[&self.window_len].spectrum;
        for ((phase, &f), _) in sine_phases_rad.iter_mut().zip(freqs).zip(amps).filter(|(_, a)| **a > 0.0) {
            let bin = ((f / bin_hz).round() as usize).min(self.fft_len / 2);
            let x = spectrum[bin];
            let cosine_phase = f64::from(x.im).atan2(f64::from(x.re)) + delay_rad_per_bin * bin as f64;
            *phase = (cosine_phase + FRAC_PI_2).rem_euclid(TAU) as f32;
        }
    }

    /// Marks the main lobe of every harmonic found (amplitude above 0) in the current spectrum.
    fn mask_harmonics(&mut self, freqs: &[f32], amps: &[f32]) {
        let bins = self.fft_len / 2 + 1;
        self.masked[..bins].fill(false);
        let bin_hz = self.bin_hz();
        let half = LOBE_HALF_WIDTH_BINS * self.fft_len as f32 / self.window_len as f32;
        for (f, _) in freqs.iter().zip(amps).filter(|(_, a)| **a > 0.0) {
            let lo = (f / bin_hz - half).floor().max(0.0) as usize;
            let hi = ((f / bin_hz + half).ceil() as usize).min(bins - 1);
            if lo <= hi {
                self.masked[lo..=hi].fill(true);
            }
        }
    }

    /// Finds each harmonic's peak in the current spectrum and writes its frequency and amplitude.
    /// Returns the frame's f0 refined from the partials (amplitude-weighted `freq / k` of the
    /// first ten found), or `f0` when none was found.
    fn measure_harmonics(
        &mut self,
        f0: f32,
        nyquist: f32,
        window_sum: f32,
        freqs: &mut [f32],
        amps: &mut [f32],
    ) -> f32 {
        let bin_hz = self.bin_hz();
        let last_bin = (self.fft_len / 2) as isize;
        let mut local_f0 = f0;
        let (mut weighted, mut weight) = (0.0f64, 0.0f64);
        let mut strongest = 0.0f32;
        for (k, (freq, amp)) in freqs.iter_mut().zip(amps.iter_mut()).enumerate() {
            let n = (k + 1) as f32;
            let target = n * local_f0;
            *freq = target;
            *amp = 0.0;
            if target >= nyquist * NYQUIST_MARGIN {
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
            *amp = 2.0 * log_peak.exp() / window_sum;
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

    /// Noise band magnitudes from the unmasked bins around each band centre: their median
    /// power over ln 2 times `floor_scale` (see [`VOICED_NOISE_FLOOR_SCALE`]), or their mean
    /// when a band holds fewer than 3 of them. A band wholly above `partials_end_hz` (the last
    /// harmonic's frequency) takes the mean power of its bins: the partials that go on above
    /// the last harmonic are measured by no harmonic row, so they are kept as noise of their
    /// power rather than dropped with the peaks a median ignores.
    fn measure_noise(
        &mut self,
        window_power: f64,
        floor_scale: f64,
        partials_end_hz: f32,
        centres: &mut [f32],
        mags: &mut [f32],
    ) {
        let count = centres.len();
        let bin_hz = f64::from(self.bin_hz());
        let sr = f64::from(self.sample_rate_hz);
        let spacing = if count > 1 { sr / 2.0 / (count - 1) as f64 } else { sr / 2.0 };
        let last_bin = self.fft_len / 2;
        for (b, centre) in centres.iter_mut().enumerate() {
            *centre = linear_band_centre_hz(b, count, sr);
            let lo = ((f64::from(*centre) - spacing / 2.0) / bin_hz).ceil().max(0.0) as usize;
            let hi = (((f64::from(*centre) + spacing / 2.0) / bin_hz).floor() as usize).min(last_bin);
            self.band_bins.clear();
            self.band_bins
                .extend((lo..=hi.max(lo)).filter(|&k| k <= last_bin && !self.masked[k]).map(|k| self.power[k]));
            let n = self.band_bins.len();
            let above_partials = lo as f64 * bin_hz > f64::from(partials_end_hz);
            self.band_power[b] = match n {
                0 => None,
                _ if above_partials || n < 3 => Some(self.band_bins.iter().sum::<f64>() / n as f64),
                _ => {
                    let (_, median, _) = self.band_bins.select_nth_unstable_by(n / 2, f64::total_cmp);
                    Some(*median / std::f64::consts::LN_2 * floor_scale)
                }
            };
        }
        fill_gaps(&mut self.band_power);
        let scale = 1.0 / (window_power * ddsp_shared::render::NOISE_VARIANCE);
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
    fn partials_above_the_last_harmonic_are_kept_as_noise_of_their_power() {
        // 35 equal partials of a 200 Hz tone, read with 10 harmonic rows (up to 2 kHz), over a
        // faint noise floor 50 dB down.
        let (sr, f0, amp) = (16000u32, 200.0f64, 0.02f64);
        let floor = lcg_noise(sr as usize, 3);
        let signal: Vec<f32> = (0..sr as usize)
            .map(|i| {
                let t = i as f64 / f64::from(sr);
                let tone: f64 = (1..=35).map(|k| amp * (TAU * f0 * f64::from(k) * t).sin()).sum();
                (tone + 0.001 * f64::from(floor[i])) as f32
            })
            .collect();
        let grid = FrameGrid::new(sr, 250.0).unwrap();
        let config = AnalysisConfig { harmonic_count: 10, noise_band_count: 65, ..Default::default() };
        let env = analyze(&signal, &grid, &config, |_, _| {});
        let i = env.frame_count() / 2;
        // The partials' power density there (amp^2 / 2 every 200 Hz), as the band magnitude of
        // white noise of that density (uniform noise of magnitude m has variance m^2 / 3 over
        // 0..Nyquist, the white-noise test's scale).
        let density_per_hz = amp * amp / 2.0 / f0;
        let want_sq = 3.0 * density_per_hz * f64::from(sr) / 2.0;
        let bands: Vec<f64> = (0..65)
            .filter(|&b| (2500.0..6500.0).contains(&env.band_centres(i)[b]))
            .map(|b| f64::from(env.band_mags(i)[b]).powi(2))
            .collect();
        let got_sq = bands.iter().sum::<f64>() / bands.len() as f64;
        let db = 10.0 * (got_sq / want_sq).log10();
        // The median of the bins, which the bands below the last harmonic take, reads 7.4 dB low.
        assert!(db.abs() < 1.5, "noise above the last harmonic is {db:.1} dB from the partials' power");
    }

    #[test]
    fn gaps_are_interpolated() {
        let mut v = vec![None, Some(1.0), None, None, Some(4.0), None];
        fill_gaps(&mut v);
        assert_eq!(v, vec![Some(1.0), Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(4.0)]);
    }
}

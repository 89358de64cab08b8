//! Filtered noise: white noise from a seeded generator, shaped by the noise band magnitudes
//! placed at the (transformed) band centres.
//!
//! Method: short-time overlap-add in the frequency domain. Every hop a frame of white noise
//! is made directly as a spectrum (independent uniform real and imaginary parts per bin: the
//! spectrum of white noise), each bin is multiplied by the magnitude response at its
//! frequency, an inverse real FFT brings it back, and a sine window (the square root of a
//! periodic Hann window, whose squares sum to a constant at any whole overlap) cross-fades
//! the frames, so the noise level stays steady while its colour follows the envelope.
//!
//! Timing (SPEC §4: the noise follows the data as closely as the harmonics do):
//! - frames of about 8 ms (fine enough in frequency for 65 bands over 8 kHz) start every hop
//!   of at most [`NOISE_HOP_MAX_S`] (2.7 ms at 48 and 96 kHz, 2.9 ms at 44.1 kHz), three or
//!   four of them sounding at once,
//! - each frame's colour is read from the envelope at the frame's centre, where its window
//!   peaks, not at its start: the renderer looks half a frame ahead, so the colour is not late,
//! - the level follows the data per control tick (at most 1.5 ms): every tick the renderer gives
//!   the data's current level, and the frames' mix is scaled by the ratio of that level to the
//!   level the sounding frames were made at (1 in steady state). A noise onset or a cut is
//!   heard at its time within a tick, whatever the frame length.
//!
//! Level: the output has the power that DDSP's filtered noise has for the same magnitudes
//! (white noise uniform in -1..1, variance [`NOISE_VARIANCE`], through a filter whose gain at
//! each frequency is the interpolated magnitude). The renderer scales the magnitudes by
//! [`noise_density_gain`] so that they are a spectral density (SPEC §4): the same power per
//! hertz at any output rate as at the envelope's own `sample_rate`.
//!
//! Magnitude response: [`NoiseResponse`], the one definition of the noise filter (DDSP's
//! Hann-windowed filter, docs/CSV_FORMAT.md), evaluated at every bin of the frame.

use super::control_tick_samples;
use super::inverse_real_fft::InverseRealFft;
use super::noise_response::NoiseResponse;
use super::random::Random;

/// Most noise bands used; further bands of an envelope are ignored.
pub const MAX_NOISE_BANDS: usize = 256;

/// Variance per sample of the noise for a flat band magnitude of 1 (white noise uniform in
/// -1..1, as DDSP's filtered noise shapes it). `ddsp analyze` divides measured noise power by
/// it, so the band magnitudes it writes play back at the level it measured.
pub const NOISE_VARIANCE: f64 = 1.0 / 3.0;

/// Longest hop between noise frames, seconds: the colour of the noise is updated at least this
/// often (SPEC §4 "a hop of a few ms at most").
pub const NOISE_HOP_MAX_S: f32 = 0.003;

/// The FFT frame spans at least this many seconds: the length of DDSP's noise filter (an
/// impulse response of 2·(65 - 1) taps at 16 kHz), so the frame resolves frequency as finely
/// as the trainer's filter does (125 Hz bins, the spacing of DDSP's 65 bands over 8 kHz).
const NOISE_FRAME_S: f32 = 0.008;

/// Most frames sounding at once (frame length over hop).
const MAX_OVERLAP: usize = 8;

/// The per-tick level correction never boosts the frames' mix by more than this (at a voice's
/// very first samples only a frame's faint window edge sounds).
const MAX_LEVEL_CORRECTION: f32 = 4.0;

/// Seed of the noise generator; the renderer mixes in its voice seed.
const NOISE_SEED: u64 = 0x005E_ED0F_D05E;

/// The factor on noise band magnitudes that makes them a spectral density (SPEC §4): they
/// shape white noise at `envelope_rate_hz` (the envelope's `sample_rate`), whose power per
/// hertz is `NOISE_VARIANCE / (envelope_rate_hz / 2)`; at `output_rate_hz` the same power per
/// hertz needs the per-sample variance scaled by `output / envelope`. 1 at the envelope's own
/// rate, so a file plays there exactly as its exporter meant; 1 for an unusable rate.
pub fn noise_density_gain(output_rate_hz: f32, envelope_rate_hz: f64) -> f32 {
    if envelope_rate_hz.is_finite() && envelope_rate_hz > 0.0 && output_rate_hz > 0.0 {
        (f64::from(output_rate_hz) / envelope_rate_hz).sqrt() as f32
    } else {
        1.0
    }
}

/// Noise generator of one voice.
pub struct NoiseSynth {
    fft_size: usize,
    hop: usize,
    bin_hz: f32,
    /// `sqrt(2 hop / fft_size)`: the windows' squares overlap `fft_size / (2 hop)` times.
    overlap_scale: f32,
    inverse: InverseRealFft,
    /// The frame's spectrum, by part (`fft_size / 2 + 1` bins).
    spectrum_re: Vec<f32>,
    spectrum_im: Vec<f32>,
    frame: Vec<f32>,
    window: Vec<f32>,
    /// The overlap-add of every frame still sounding, from the read position of the newest
    /// frame's start on (`fft_size` samples; the first `hop` are played before the next frame).
    mix: Vec<f32>,
    /// Next sample of `mix` to play; `hop` means a new frame is due.
    read: usize,
    /// The level (sum of squared band magnitudes) each sounding frame was made at, newest
    /// first.
    frame_levels_sq: [f32; MAX_OVERLAP],
    /// The level correction applied at the end of the last tick.
    correction: f32,
    /// Silent frames made since the last sounding one (saturating): from `fft_size / hop` on,
    /// nothing sounds and the mix is all zeros.
    silent_frames: usize,
    /// The response of the frame being made.
    response: NoiseResponse,
    /// Its power at each bin, then the bins' gains after [`sharpen`].
    bin_power: Vec<f32>,
    bin_gain: Vec<f32>,
    /// The frame's random real and imaginary parts per bin (white noise's spectrum).
    noise_re: Vec<f32>,
    noise_im: Vec<f32>,
    rng: Random,
    seed: u64,
}

impl std::fmt::Debug for NoiseSynth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseSynth").field("fft_size", &self.fft_size).field("hop", &self.hop).finish()
    }
}

/// Frame length and hop at `sample_rate_hz`: the hop the longest power of two of samples
/// within [`NOISE_HOP_MAX_S`] (at least a control tick, so frames start on tick boundaries;
/// ticks are powers of two too, so a hop is a whole number of them), the frame the smallest
/// whole number of hops that spans [`NOISE_FRAME_S`].
fn frame_and_hop(sample_rate_hz: f32) -> (usize, usize) {
    let hop_max = (sample_rate_hz * NOISE_HOP_MAX_S).max(1.0) as usize;
    let hop = (1usize << hop_max.ilog2()).max(control_tick_samples(sample_rate_hz));
    // (A frame of exactly a whole number of hops, give or take rounding, needs no extra hop.)
    let hops = (sample_rate_hz * NOISE_FRAME_S) / hop as f32;
    let overlap = (hops - 1e-3).ceil().clamp(2.0, MAX_OVERLAP as f32) as usize;
    (hop * overlap, hop)
}

impl NoiseSynth {
    /// Plans the FFT and allocates every buffer for `sample_rate_hz`.
    pub fn new(sample_rate_hz: f32, seed: u64) -> Self {
        let (fft_size, hop) = frame_and_hop(sample_rate_hz);
        let inverse = InverseRealFft::new(fft_size);
        let bins = inverse.bins();
        let window = (0..fft_size).map(|n| (std::f32::consts::PI * n as f32 / fft_size as f32).sin()).collect();
        let mut synth = Self {
            fft_size,
            hop,
            bin_hz: sample_rate_hz / fft_size as f32,
            overlap_scale: (2.0 * hop as f32 / fft_size as f32).sqrt(),
            spectrum_re: vec![0.0; bins],
            spectrum_im: vec![0.0; bins],
            frame: vec![0.0; fft_size],
            inverse,
            window,
            mix: vec![0.0; fft_size],
            read: hop,
            frame_levels_sq: [0.0; MAX_OVERLAP],
            correction: 0.0,
            silent_frames: usize::MAX,
            response: NoiseResponse::default(),
            bin_power: vec![0.0; fft_size / 2 + 1],
            bin_gain: vec![0.0; fft_size / 2 + 1],
            noise_re: vec![0.0; fft_size / 2 + 1],
            noise_im: vec![0.0; fft_size / 2 + 1],
            rng: Random::new(seed ^ NOISE_SEED),
            seed,
        };
        synth.reset();
        synth
    }

    /// Silence, and the noise stream starts again from its seed.
    pub fn reset(&mut self) {
        self.mix.fill(0.0);
        self.read = self.hop;
        self.frame_levels_sq = [0.0; MAX_OVERLAP];
        self.correction = 0.0;
        self.silent_frames = usize::MAX;
        self.rng = Random::new(self.seed ^ NOISE_SEED);
    }

    /// Uses another seed from the next [`NoiseSynth::reset`] on (voices of a plugin differ).
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// A new frame must be made (with [`NoiseSynth::start_frame`]) before the next tick.
    pub fn needs_frame(&self) -> bool {
        self.read >= self.hop
    }

    /// Seconds from a frame's start to its centre: how far ahead of the current tick the
    /// renderer reads the envelope for a frame's colour.
    pub fn frame_centre_delay_s(&self) -> f64 {
        // Half a frame: (fft_size / 2) / sample rate, and bin_hz = sample rate / fft_size.
        0.5 / f64::from(self.bin_hz)
    }

    /// Spacing of the frame's FFT bins, Hz: the finest detail of a noise spectrum it resolves.
    pub fn bin_hz(&self) -> f32 {
        self.bin_hz
    }

    /// Makes the next frame with magnitude response given by bands at `centres_hz` (rising)
    /// with linear magnitudes `mags` (read at the frame's centre), all multiplied by `gain`.
    // Inlined into the renderer's tick, which is compiled for AVX2 where the CPU has it.
    #[inline(always)]
    pub fn start_frame(&mut self, centres_hz: &[f32], mags: &[f32], gain: f32) {
        let bands = centres_hz.len().min(mags.len()).min(MAX_NOISE_BANDS);
        let (centres_hz, mags) = (&centres_hz[..bands], &mags[..bands]);
        // Uniform parts in -c..c have variance c²/3; a bin pair then carries 2c²/3 and the
        // unnormalised inverse FFT sums fft_size of them: c² = 1 / (2 * fft_size) gives
        // variance 1/3 per sample for a flat magnitude of 1, and the overlap scale keeps it
        // so once the windowed frames are added up.
        let c = gain * self.overlap_scale * (1.0 / (2.0 * self.fft_size as f32)).sqrt();
        let level_sq = level_sq(mags) * gain * gain;
        let silent = bands == 0 || level_sq == 0.0;
        if silent {
            // Nothing to shape or transform; the stream moves on as if every bin had drawn.
            self.rng.skip(self.spectrum_re.len());
            self.silent_frames = self.silent_frames.saturating_add(1);
        } else {
            self.make_frame(centres_hz, mags, c);
            self.silent_frames = 0;
        }
        let (hop, n) = (self.hop, self.fft_size);
        // Once every frame still sounding is silent the mix is all zeros: nothing to move.
        if self.silent_frames <= n / hop {
            self.mix.copy_within(hop.., 0);
            self.mix[n - hop..].fill(0.0);
            if !silent {
                for ((m, &x), &w) in self.mix.iter_mut().zip(&self.frame).zip(&self.window) {
                    *m += x * w;
                }
            }
        }
        self.frame_levels_sq.copy_within(..MAX_OVERLAP - 1, 1);
        self.frame_levels_sq[0] = if silent { 0.0 } else { level_sq };
        self.read = 0;
    }

    /// Fills `frame` with white noise shaped by the bands (not all silent) and scaled by `c`.
    // Inlined into the renderer's tick, which is compiled for AVX2 where the CPU has it.
    #[inline(always)]
    fn make_frame(&mut self, centres_hz: &[f32], mags: &[f32], c: f32) {
        let last_bin = self.spectrum_re.len() - 1;
        self.response.set(centres_hz, mags);
        // Bins above the response's top are silent: their draws are skipped, not made, so the
        // bins that sound get the same random values as if every bin had drawn.
        let sounding = (self.response.top_hz() / self.bin_hz).floor().min(last_bin as f32) as usize + 1;
        self.spectrum_re[sounding..].fill(0.0);
        self.spectrum_im[sounding..].fill(0.0);
        let powers = &mut self.bin_power[..sounding];
        self.response.fill_bins(self.bin_hz, powers);
        for p in powers.iter_mut() {
            *p *= *p;
        }
        let gains = &mut self.bin_gain[..sounding];
        sharpen(powers, gains);
        let (noise_re, noise_im) = (&mut self.noise_re[..sounding], &mut self.noise_im[..sounding]);
        self.rng.fill_bipolar_pairs(noise_re, noise_im);
        let spectrum = self.spectrum_re[..sounding].iter_mut().zip(&mut self.spectrum_im[..sounding]);
        for ((bin, &magnitude), (&re, &im)) in spectrum.zip(&*gains).zip(noise_re.iter().zip(&*noise_im)) {
            (*bin.0, *bin.1) = (re * magnitude * c, im * magnitude * c);
        }
        // DC and Nyquist bins of a real signal are real (the transform reads only their real
        // parts).
        for k in [0, last_bin] {
            if k < sounding {
                self.spectrum_re[k] = noise_re[k] * gains[k] * c * std::f32::consts::SQRT_2;
            }
        }
        self.rng.skip(self.spectrum_re.len() - sounding);
        self.inverse.process(&self.spectrum_re, &self.spectrum_im, &mut self.frame);
    }

    /// Adds the next tick of noise to `out` (one control tick long), at the level
    /// `data_level_sq` (the sum of squared band magnitudes, [`level_sq`], of the data at the
    /// tick's end).
    // Inlined into the renderer's tick, which is compiled for AVX2 where the CPU has it.
    #[inline(always)]
    pub fn add_tick(&mut self, out: &mut [f32], data_level_sq: f32) {
        let tick = out.len().min(self.hop - self.read.min(self.hop));
        // The level the sounding frames make at the middle of this tick: each frame's level
        // weighted by its window's square there (the weights of a full overlap sum to 1).
        let norm = self.overlap_scale * self.overlap_scale;
        let mut mix_level_sq = 0.0f32;
        for (age, &frame_level_sq) in self.frame_levels_sq.iter().enumerate() {
            let offset = age * self.hop + self.read + tick / 2;
            if offset < self.fft_size {
                let w = self.window[offset];
                mix_level_sq += w * w * norm * frame_level_sq;
            }
        }
        let target = if data_level_sq > 0.0 && mix_level_sq > 0.0 {
            (data_level_sq / mix_level_sq).sqrt().min(MAX_LEVEL_CORRECTION)
        } else {
            0.0
        };
        let start = self.correction;
        let step = (target - start) / tick as f32;
        if self.silent_frames < self.fft_size / self.hop {
            let samples = &self.mix[self.read..self.read + tick];
            // (Counted in `i32`, which converts to `f32` in SIMD; `usize` does not.)
            for ((o, &s), n) in out.iter_mut().zip(samples).zip(1i32..) {
                *o += s * (start + step * n as f32);
            }
        }
        self.correction = target;
        self.read += tick;
    }
}

/// How much of a bin's power the frames' sine window spreads into each neighbouring bin:
/// the window's spectrum at whole bins is proportional to `1 / (1 - 4k²)` (1, -1/3, -1/15,
/// -1/35, ...), so its power `(1, 1/9, 1/225, ...)` puts `(1/9) / (1 + 2/9 + 2/225 + ...)`
/// = 0.090 next door. Without correction a band alone would sound 0.7 dB too soft and its
/// neighbours too loud.
const WINDOW_LEAK: f32 = 0.0902;

/// Undoes, to first order, the window's spreading of power to the neighbouring bins: each
/// bin's power gains `α (2 p[k] - p[k-1] - p[k+1])` with `α = leak / (1 - 2 leak)`, never
/// below 0, and `gains` gets the square root. A flat spectrum is unchanged. Against the exact
/// filter a band alone then sounds within 0.2 dB at its centre and neighbours.
// Inlined into the renderer's tick, which is compiled for AVX2 where the CPU has it.
#[inline(always)]
fn sharpen(powers: &[f32], gains: &mut [f32]) {
    const ALPHA: f32 = WINDOW_LEAK / (1.0 - 2.0 * WINDOW_LEAK);
    let sharpened = |p: f32, below: f32, above: f32| (p + ALPHA * (2.0 * p - below - above)).max(0.0).sqrt();
    let n = powers.len().min(gains.len());
    if n < 3 {
        for k in 0..n {
            // Beyond the ends the spectrum mirrors (a real signal's spectrum at 0 Hz) or stops.
            let p = powers[k];
            let below = if k > 0 { powers[k - 1] } else { powers[(k + 1).min(n - 1)] };
            let above = if k + 1 < n { powers[k + 1] } else { p };
            gains[k] = sharpened(p, below, above);
        }
        return;
    }
    // The ends as above; the bins between from three shifted slices, so the loop runs in SIMD.
    gains[0] = sharpened(powers[0], powers[1], powers[1]);
    gains[n - 1] = sharpened(powers[n - 1], powers[n - 2], powers[n - 1]);
    let (below, centre, above) = (&powers[..n - 2], &powers[1..n - 1], &powers[2..n]);
    for (g, ((&b, &p), &a)) in gains[1..n - 1].iter_mut().zip(below.iter().zip(centre).zip(above)) {
        *g = sharpened(p, b, a);
    }
}

/// The level measure of a set of band magnitudes that frames and ticks are compared by: the
/// sum of their squares. Summed in eight running sums (one AVX register), so the loop runs in
/// SIMD rather than as one chain of dependent adds.
// Inlined into the renderer's tick, which is compiled for AVX2 where the CPU has it.
#[inline(always)]
pub fn level_sq(mags: &[f32]) -> f32 {
    const WIDTH: usize = 8;
    let mut sums = [0.0f32; WIDTH];
    let chunks = mags.chunks_exact(WIDTH);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (s, &m) in sums.iter_mut().zip(chunk) {
            *s += m * m;
        }
    }
    for (s, &m) in sums.iter_mut().zip(rest) {
        *s += m * m;
    }
    crate::fast_math::sum_of_lanes(&sums)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_fine_enough_and_hops_short_enough_at_every_rate() {
        for (rate, frame, hop) in [
            (16_000.0, 128, 32),
            (44_100.0, 384, 128),
            (48_000.0, 384, 128),
            (96_000.0, 768, 256),
            (192_000.0, 1536, 512),
        ] {
            assert_eq!(frame_and_hop(rate), (frame, hop), "at {rate} Hz");
            assert!(hop as f32 / rate <= NOISE_HOP_MAX_S, "hop at {rate} Hz");
            assert!(rate / frame as f32 <= 125.0, "bins at {rate} Hz");
        }
    }

    #[test]
    fn magnitudes_are_a_density_of_the_envelopes_rate() {
        assert_eq!(noise_density_gain(16_000.0, 16_000.0), 1.0);
        assert!((noise_density_gain(48_000.0, 16_000.0) - 3f32.sqrt()).abs() < 1e-6);
        assert_eq!(noise_density_gain(48_000.0, f64::NAN), 1.0);
    }

    #[test]
    fn flat_unit_magnitude_gives_the_power_of_uniform_white_noise() {
        let mut noise = NoiseSynth::new(48_000.0, 1);
        let mut power = 0.0f64;
        let tick_len = control_tick_samples(48_000.0);
        let ticks = 48_000 / tick_len;
        for _ in 0..ticks {
            if noise.needs_frame() {
                noise.start_frame(&[0.0, 24_000.0], &[1.0, 1.0], 1.0);
            }
            let mut tick = vec![0.0; tick_len];
            noise.add_tick(&mut tick, 2.0);
            power += tick.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        }
        let variance = power / (ticks * tick_len) as f64;
        assert!((variance - NOISE_VARIANCE).abs() < 0.02, "variance {variance}");
    }
}

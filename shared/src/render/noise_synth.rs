//! Filtered noise: white noise from a seeded generator, shaped by the noise band magnitudes
//! placed at the (transformed) band centres.
//!
//! Method: short-time overlap-add in the frequency domain. Every hop (half an FFT frame) a
//! frame of white noise is made directly as a spectrum (independent uniform real and imaginary
//! parts per bin: the spectrum of white noise), each bin is multiplied by the magnitude
//! response at its frequency, an inverse real FFT brings it back, and a sine window (the square
//! root of a periodic Hann window, whose squares sum to one at 50 % overlap) cross-fades the
//! frames, so the noise level stays steady while its colour follows the envelope.
//!
//! Level: the output has the power that DDSP's filtered noise has for the same magnitudes
//! (white noise uniform in -1..1, variance 1/3, through a filter whose gain at each
//! frequency is the interpolated magnitude).
//!
//! Magnitude response: linear interpolation over frequency between band centres (assumed
//! rising, as every exporter writes them); below the first centre it holds the first
//! magnitude; above the last it falls linearly to zero over one band spacing, so a spectrum
//! pitched down does not leave a hiss above its top band. A single band is flat.
//!
//! The frame's spectrum is taken when the frame starts, so the noise colour lags the envelope
//! by up to one hop (about 5 ms at 48 kHz).

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner};

use super::oscillator_bank::CONTROL_TICK_SAMPLES;
use super::random::Random;

/// Most noise bands used; further bands of an envelope are ignored.
pub const MAX_NOISE_BANDS: usize = 256;

/// Variance per sample of the noise for a flat band magnitude of 1 (white noise uniform in
/// -1..1, as DDSP's filtered noise shapes it). `ddsp analyze` divides measured noise power by
/// it, so the band magnitudes it writes play back at the level it measured.
pub const NOISE_VARIANCE: f64 = 1.0 / 3.0;

/// The FFT frame spans about this many seconds (rounded up to a power of two of samples):
/// fine enough in frequency for 65 bands over 8 kHz, short enough to follow the envelope.
const NOISE_FRAME_S: f32 = 0.0107;

/// Seed of the noise generator; the renderer mixes in its voice seed.
const NOISE_SEED: u64 = 0x005E_ED0F_D05E;

/// Noise generator of one voice.
pub struct NoiseSynth {
    fft_size: usize,
    hop: usize,
    bin_hz: f32,
    inverse: Arc<dyn ComplexToReal<f32>>,
    spectrum: Vec<Complex<f32>>,
    frame: Vec<f32>,
    scratch: Vec<Complex<f32>>,
    window: Vec<f32>,
    /// Samples being played out: first half of the newest frame plus the tail of the last.
    current: Vec<f32>,
    /// Second half of the newest frame, waiting for the next one to overlap it.
    tail: Vec<f32>,
    /// Next sample of `current` to play; `hop` means a new frame is due.
    read: usize,
    rng: Random,
    seed: u64,
}

impl std::fmt::Debug for NoiseSynth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseSynth").field("fft_size", &self.fft_size).field("read", &self.read).finish()
    }
}

impl NoiseSynth {
    /// Plans the FFT and allocates every buffer for `sample_rate_hz`.
    pub fn new(sample_rate_hz: f32, seed: u64) -> Self {
        let wanted = (sample_rate_hz * NOISE_FRAME_S).max(1.0) as usize;
        // At least 4 ticks per hop so frames always start on a tick boundary.
        let fft_size = wanted.next_power_of_two().max(8 * CONTROL_TICK_SAMPLES);
        let hop = fft_size / 2;
        let inverse = RealFftPlanner::<f32>::new().plan_fft_inverse(fft_size);
        let window = (0..fft_size).map(|n| (std::f32::consts::PI * n as f32 / fft_size as f32).sin()).collect();
        let mut synth = Self {
            fft_size,
            hop,
            bin_hz: sample_rate_hz / fft_size as f32,
            spectrum: inverse.make_input_vec(),
            frame: inverse.make_output_vec(),
            scratch: inverse.make_scratch_vec(),
            inverse,
            window,
            current: vec![0.0; hop],
            tail: vec![0.0; hop],
            read: hop,
            rng: Random::new(seed ^ NOISE_SEED),
            seed,
        };
        synth.reset();
        synth
    }

    /// Silence, and the noise stream starts again from its seed.
    pub fn reset(&mut self) {
        self.current.fill(0.0);
        self.tail.fill(0.0);
        self.read = self.hop;
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

    /// Makes the next frame with magnitude response given by bands at `centres_hz` (rising)
    /// with linear magnitudes `mags`, all multiplied by `gain`.
    pub fn start_frame(&mut self, centres_hz: &[f32], mags: &[f32], gain: f32) {
        let bands = centres_hz.len().min(mags.len()).min(MAX_NOISE_BANDS);
        let (centres_hz, mags) = (&centres_hz[..bands], &mags[..bands]);
        // Uniform parts in -c..c have variance c²/3; a bin pair then carries 2c²/3 and the
        // unnormalised inverse FFT sums fft_size of them: c² = 1 / (2 * fft_size) gives
        // variance 1/3 per sample for a flat magnitude of 1.
        let c = gain * (1.0 / (2.0 * self.fft_size as f32)).sqrt();
        let silent = bands == 0 || c == 0.0 || mags.iter().all(|&m| m == 0.0);
        let last_bin = self.spectrum.len() - 1;
        let mut band = 0;
        for (k, bin) in self.spectrum.iter_mut().enumerate() {
            let magnitude =
                if silent { 0.0 } else { magnitude_at(k as f32 * self.bin_hz, centres_hz, mags, &mut band) };
            let (re, im) = self.rng.bipolar_pair();
            *bin = if k == 0 || k == last_bin {
                // DC and Nyquist bins of a real signal are real.
                Complex::new(re * magnitude * c * std::f32::consts::SQRT_2, 0.0)
            } else {
                Complex::new(re * magnitude * c, im * magnitude * c)
            };
        }
        if silent {
            self.frame.fill(0.0);
        } else {
            // Sizes come from the plan itself and the DC/Nyquist parts are real, so this cannot
            // fail; on the impossible error the frame stays silent rather than panicking.
            if self.inverse.process_with_scratch(&mut self.spectrum, &mut self.frame, &mut self.scratch).is_err() {
                self.frame.fill(0.0);
            }
        }
        let hop = self.hop;
        for n in 0..hop {
            self.current[n] = self.tail[n] + self.frame[n] * self.window[n];
            self.tail[n] = self.frame[hop + n] * self.window[hop + n];
        }
        self.read = 0;
    }

    /// Adds the next tick of noise to `out`.
    pub fn add_tick(&mut self, out: &mut [f32; CONTROL_TICK_SAMPLES]) {
        let samples = &self.current[self.read..self.read + CONTROL_TICK_SAMPLES];
        for (o, &s) in out.iter_mut().zip(samples) {
            *o += s;
        }
        self.read += CONTROL_TICK_SAMPLES;
    }
}

/// Magnitude at `f_hz` interpolated between bands; `band` is a cursor that only moves up, as
/// the caller walks the bins in rising order.
#[inline]
fn magnitude_at(f_hz: f32, centres_hz: &[f32], mags: &[f32], band: &mut usize) -> f32 {
    let last = centres_hz.len() - 1;
    if last == 0 {
        return mags[0];
    }
    while *band < last && centres_hz[*band + 1] <= f_hz {
        *band += 1;
    }
    let b = *band;
    if f_hz < centres_hz[0] {
        mags[0]
    } else if b < last {
        let span = centres_hz[b + 1] - centres_hz[b];
        let t = if span > 0.0 { (f_hz - centres_hz[b]) / span } else { 0.0 };
        mags[b] + t * (mags[b + 1] - mags[b])
    } else {
        let spacing = (centres_hz[last] - centres_hz[last - 1]).max(1e-3);
        mags[last] * (1.0 - (f_hz - centres_hz[last]) / spacing).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitude_interpolates_between_centres_and_falls_off_above_the_last() {
        let centres = [0.0, 1000.0, 2000.0];
        let mags = [1.0, 3.0, 2.0];
        let mut band = 0;
        let at = |f: f32, band: &mut usize| magnitude_at(f, &centres, &mags, band);
        assert_eq!(at(0.0, &mut band), 1.0);
        assert_eq!(at(500.0, &mut band), 2.0);
        assert_eq!(at(1500.0, &mut band), 2.5);
        assert_eq!(at(2500.0, &mut band), 1.0);
        assert_eq!(at(3500.0, &mut band), 0.0);
    }

    #[test]
    fn flat_unit_magnitude_gives_the_power_of_uniform_white_noise() {
        let mut noise = NoiseSynth::new(48_000.0, 1);
        let mut power = 0.0f64;
        let ticks = 48_000 / CONTROL_TICK_SAMPLES;
        for _ in 0..ticks {
            if noise.needs_frame() {
                noise.start_frame(&[0.0, 24_000.0], &[1.0, 1.0], 1.0);
            }
            let mut tick = [0.0; CONTROL_TICK_SAMPLES];
            noise.add_tick(&mut tick);
            power += tick.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        }
        let variance = power / (ticks * CONTROL_TICK_SAMPLES) as f64;
        assert!((variance - NOISE_VARIANCE).abs() < 0.02, "variance {variance}");
    }
}

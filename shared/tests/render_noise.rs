//! The noise as a listener hears it (SPEC §4): band magnitudes are a spectral density, so a
//! 16 kHz envelope (a DDSP export) keeps its noise level at every output rate, and the noise
//! follows the data in time: an onset or a cut in the data is heard within 1 ms of its time.
//! Pitch and stretch move the noise bands and keep the noise's power, as transposed audio does.

use ddsp_shared::render::{RenderParams, Renderer};
use ddsp_shared::Envelope;
use realfft::RealFftPlanner;

/// DDSP's layout at 16 kHz and 250 frames/s: 65 bands from 0 Hz to 8 kHz, no harmonics;
/// `mag(frame, band)` gives each magnitude.
fn noise_envelope(frames: usize, mag: impl Fn(usize, usize) -> f32) -> Envelope {
    let mut e = Envelope::silent(250.0, 16_000.0, frames, 0, 65, 200.0);
    for i in 0..frames {
        for b in 0..65 {
            e.band_mags[i * 65 + b] = mag(i, b);
        }
    }
    e
}

fn render(envelope: &Envelope, sample_rate_hz: f32, seconds: f32, seed: u64) -> Vec<f32> {
    render_with(envelope, &RenderParams::default(), sample_rate_hz, seconds, seed)
}

fn render_with(envelope: &Envelope, params: &RenderParams, sample_rate_hz: f32, seconds: f32, seed: u64) -> Vec<f32> {
    let mut r = Renderer::new();
    r.set_seed(seed);
    r.prepare(sample_rate_hz, 512);
    let mut out = vec![0.0; (seconds * sample_rate_hz) as usize];
    for block in out.chunks_mut(512) {
        r.process(envelope, params, block);
    }
    out
}

/// Power of `x` between `lo_hz` and `hi_hz` (Hann-windowed 100 ms segments, averaged): the
/// same figure at any sample rate for the same power per hertz.
fn band_power(x: &[f32], sample_rate_hz: f32, lo_hz: f32, hi_hz: f32) -> f64 {
    let n = (0.1 * sample_rate_hz) as usize;
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let window: Vec<f64> = (0..n).map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos()).collect();
    let window_power: f64 = window.iter().map(|w| w * w).sum();
    let bin_hz = sample_rate_hz / n as f32;
    let (mut total, mut segments) = (0.0, 0);
    for segment in x.chunks_exact(n) {
        let mut input: Vec<f64> = segment.iter().zip(&window).map(|(&s, w)| f64::from(s) * w).collect();
        let mut spectrum = fft.make_output_vec();
        fft.process(&mut input, &mut spectrum).unwrap();
        let in_band: f64 = spectrum
            .iter()
            .enumerate()
            .filter(|(k, _)| (lo_hz..hi_hz).contains(&(*k as f32 * bin_hz)))
            .map(|(_, c)| c.norm_sqr())
            .sum();
        total += 2.0 * in_band / (n as f64 * window_power);
        segments += 1;
    }
    total / segments as f64
}

#[test]
fn a_16_khz_envelope_keeps_its_noise_level_at_every_output_rate() {
    // A noise spectrum falling with frequency, as DDSP learns for bowed and blown sounds.
    let envelope = noise_envelope(500, |_, b| 0.02 / (1.0 + b as f32 / 8.0));
    let level_db = |rate: f32| 10.0 * band_power(&render(&envelope, rate, 2.0, 1), rate, 200.0, 7800.0).log10();
    let at_16k = level_db(16_000.0);
    for rate in [44_100.0, 48_000.0, 96_000.0] {
        let at_rate = level_db(rate);
        assert!(
            (at_rate - at_16k).abs() < 0.5,
            "0.2-7.8 kHz noise at {rate} Hz: {at_rate:.2} dB, at the envelope's 16 kHz: {at_16k:.2} dB"
        );
    }
}

/// Power envelope of the noise over many voices (seeds), in steps of about 0.25 ms, so that
/// the level is measured, not one noise sequence's fluctuations.
struct PowerEnvelope {
    /// Summed power of each step.
    power: Vec<f64>,
    /// Length of a step, seconds.
    step_s: f64,
}

impl PowerEnvelope {
    fn measure(envelope: &Envelope, sample_rate_hz: f32, seconds: f32) -> Self {
        let step = (0.000_25 * sample_rate_hz) as usize;
        let mut power = vec![0.0f64; (seconds * sample_rate_hz) as usize / step];
        for seed in 0..48 {
            let x = render(envelope, sample_rate_hz, seconds, seed);
            for (p, chunk) in power.iter_mut().zip(x.chunks_exact(step)) {
                *p += chunk.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>();
            }
        }
        Self { power, step_s: step as f64 / f64::from(sample_rate_hz) }
    }

    fn index(&self, time_s: f64) -> usize {
        (time_s / self.step_s) as usize
    }

    /// Mean power of the steps between two times.
    fn mean(&self, from_s: f64, to_s: f64) -> f64 {
        let steps = &self.power[self.index(from_s)..self.index(to_s)];
        steps.iter().sum::<f64>() / steps.len() as f64
    }

    /// First time (seconds) after `from_s` at which the power crosses half of `reference`,
    /// rising or falling: the middle of the step where it does.
    fn half_level_crossing_s(&self, from_s: f64, reference: f64, rising: bool) -> f64 {
        let p = &self.power;
        let i = (self.index(from_s)..p.len())
            .find(|&i| if rising { p[i] >= 0.5 * reference } else { p[i] <= 0.5 * reference })
            .expect("the level crosses half");
        (i as f64 + 0.5) * self.step_s
    }
}

#[test]
fn a_band_switched_on_and_off_is_heard_at_its_time() {
    // One band (around 2 kHz) on from frame 250 (1.000 s) to frame 374, off from frame 375
    // (1.500 s). Frames are interpolated linearly, so the data's power is half way up at
    // 0.9988 s (amplitude 0.71 of the way from frame 249 to 250) and half way down at 1.4962 s.
    let band = 16;
    let envelope = noise_envelope(500, |i, b| if b == band && (250..375).contains(&i) { 0.05 } else { 0.0 });
    let onset_s = 0.996 + 0.004 * 0.5f64.sqrt();
    let cut_s = 1.496 + 0.004 * (1.0 - 0.5f64.sqrt());
    for rate in [44_100.0, 48_000.0, 96_000.0] {
        let power = PowerEnvelope::measure(&envelope, rate, 1.7);
        let steady = power.mean(1.1, 1.4);
        let heard_on = power.half_level_crossing_s(0.9, steady, true);
        let heard_off = power.half_level_crossing_s(1.4, steady, false);
        assert!((heard_on - onset_s).abs() < 0.001, "{rate} Hz: onset at {onset_s:.4} s heard at {heard_on:.4} s");
        assert!((heard_off - cut_s).abs() < 0.001, "{rate} Hz: cut at {cut_s:.4} s heard at {heard_off:.4} s");
    }
}

#[test]
fn pitch_and_stretch_move_the_noise_but_keep_its_power() {
    // Loud at the bottom, as bowed and blown sounds are: band 0 alone spread over the whole
    // range (the old behaviour far above hearing) is 20 dB over the spectrum's total.
    let envelope = noise_envelope(500, |_, b| 0.02 / (1.0 + b as f32 / 2.0));
    let rate = 48_000.0;
    let power_db = |pitch_steps: f32, tet_size: u32, stretch: f32| {
        let params = RenderParams { pitch_steps, tet_size, stretch, ..RenderParams::default() };
        10.0 * band_power(&render_with(&envelope, &params, rate, 2.0, 1), rate, 0.0, rate / 2.0).log10()
    };
    let unmoved = power_db(0.0, 12, 1.0);
    // Moved within hearing (an octave either way; a stretch squeezing the bands toward the
    // anchor): the power stays. Moving bands used to keep their density: +3 dB an octave up.
    for (what, pitch_steps, tet_size, stretch) in
        [("an octave up", 12.0, 12, 1.0), ("an octave down", -12.0, 12, 1.0), ("stretch 0.8", 0.0, 12, 0.8)]
    {
        let moved = power_db(pitch_steps, tet_size, stretch);
        assert!((moved - unmoved).abs() < 0.5, "{what}: {moved:.2} dB, unmoved {unmoved:.2} dB");
    }
    // Far above hearing the noise falls silent with the harmonics, and far below it is no
    // louder than unmoved (it used to be 4.5x louder at 48 steps of 1-TET).
    let far_up = power_db(48.0, 1, 1.0);
    assert!(far_up < unmoved - 40.0, "48 octaves up: {far_up:.2} dB, unmoved {unmoved:.2} dB");
    let far_down = power_db(-48.0, 1, 1.0);
    assert!(far_down < unmoved + 0.5, "48 octaves down: {far_down:.2} dB, unmoved {unmoved:.2} dB");
}

//! What a listener hears: properties of the renderer measured on rendered audio with an FFT
//! (pitch, temperament, stretch and its anchors, bounce, noise colour, Nyquist, block sizes).

use ddsp_shared::render::{AnchorMode, BounceParams, RenderParams, Renderer};
use ddsp_shared::Envelope;
use realfft::RealFftPlanner;

const SAMPLE_RATE_HZ: f32 = 48_000.0;

/// A steady sound: `frames` identical frames at 250 frames/s with harmonics k·f0 of the given
/// amplitudes and 65 silent noise bands over 0..8 kHz.
fn steady(f0_hz: f32, amps: &[f32], frames: usize) -> Envelope {
    let mut e = Envelope::silent(250.0, 16_000.0, frames, amps.len(), 65, f0_hz);
    for i in 0..frames {
        e.harmonic_amps[i * amps.len()..(i + 1) * amps.len()].copy_from_slice(amps);
    }
    e
}

fn render(envelope: &Envelope, params: &RenderParams, sample_rate_hz: f32, samples: usize, block: usize) -> Vec<f32> {
    let mut r = Renderer::new();
    r.prepare(sample_rate_hz, block);
    let mut out = vec![0.0; samples];
    for chunk in out.chunks_mut(block) {
        r.process(envelope, params, chunk);
    }
    out
}

/// Magnitude spectrum of `x` (Hann window, zero-padded to a power of two); returns it and the
/// bin width in Hz.
fn spectrum(x: &[f32], sample_rate_hz: f32) -> (Vec<f32>, f32) {
    let n = x.len().next_power_of_two() * 2;
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let mut input = fft.make_input_vec();
    for (i, (dst, &s)) in input.iter_mut().zip(x).enumerate() {
        let w = 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / x.len() as f32).cos();
        *dst = s * w;
    }
    let mut out = fft.make_output_vec();
    fft.process(&mut input, &mut out).unwrap();
    (out.iter().map(|c| c.norm()).collect(), sample_rate_hz / n as f32)
}

/// Frequencies of the spectral peaks above `relative_threshold` times the highest that are
/// the largest within `separation_hz` either side (so the window's side lobes do not count),
/// rising, refined by parabolic interpolation on log magnitude.
fn peaks_hz(x: &[f32], sample_rate_hz: f32, relative_threshold: f32, separation_hz: f32) -> Vec<f32> {
    let (mag, bin_hz) = spectrum(x, sample_rate_hz);
    let max = mag.iter().cloned().fold(0.0, f32::max);
    let reach = (separation_hz / bin_hz) as usize;
    let mut peaks = Vec::new();
    for k in 1..mag.len() - 1 {
        let neighbourhood = &mag[k.saturating_sub(reach)..(k + reach + 1).min(mag.len())];
        let is_largest = neighbourhood.iter().all(|&m| m <= mag[k]);
        if mag[k] > relative_threshold * max && is_largest && mag[k] > mag[k - 1] {
            let (a, b, c) = (mag[k - 1].ln(), mag[k].ln(), mag[k + 1].ln());
            let offset = 0.5 * (a - c) / (a - 2.0 * b + c);
            peaks.push((k as f32 + offset) * bin_hz);
        }
    }
    peaks
}

/// The strongest peak's frequency.
fn strongest_hz(x: &[f32], sample_rate_hz: f32) -> f32 {
    let (mag, bin_hz) = spectrum(x, sample_rate_hz);
    let k = (1..mag.len() - 1).max_by(|&a, &b| mag[a].total_cmp(&mag[b])).unwrap();
    let (a, b, c) = (mag[k - 1].ln(), mag[k].ln(), mag[k + 1].ln());
    (k as f32 + 0.5 * (a - c) / (a - 2.0 * b + c)) * bin_hz
}

fn assert_peaks(got: &[f32], want: &[f32], tolerance_hz: f32) {
    assert_eq!(got.len(), want.len(), "peaks {got:?}, expected {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < tolerance_hz, "peak at {g} Hz, expected {w} Hz (all: {got:?})");
    }
}

/// Five harmonics of 220 Hz, amplitudes falling as 1/k.
fn five_harmonics() -> Envelope {
    steady(220.0, &[0.2, 0.1, 0.066, 0.05, 0.04], 500)
}

/// Skips the first 0.1 s (the controls settle, the amplitude ramps in).
fn steady_part(x: &[f32]) -> &[f32] {
    &x[4800..]
}

#[test]
fn a_steady_frame_at_220_hz_peaks_at_220_hz() {
    let out = render(&five_harmonics(), &RenderParams::default(), SAMPLE_RATE_HZ, 48_000, 512);
    assert!((strongest_hz(steady_part(&out), SAMPLE_RATE_HZ) - 220.0).abs() < 0.2);
    assert_peaks(&peaks_hz(steady_part(&out), SAMPLE_RATE_HZ, 0.01, 20.0), &[220.0, 440.0, 660.0, 880.0, 1100.0], 0.3);
}

#[test]
fn twelve_steps_of_12_tet_move_every_peak_up_an_octave() {
    let params = RenderParams { pitch_steps: 12.0, tet_size: 12, ..RenderParams::default() };
    let out = render(&five_harmonics(), &params, SAMPLE_RATE_HZ, 48_000, 512);
    assert_peaks(
        &peaks_hz(steady_part(&out), SAMPLE_RATE_HZ, 0.01, 20.0),
        &[440.0, 880.0, 1320.0, 1760.0, 2200.0],
        0.5,
    );
}

#[test]
fn one_step_of_24_tet_is_a_quarter_tone() {
    let params = RenderParams { pitch_steps: 1.0, tet_size: 24, ..RenderParams::default() };
    let out = render(&steady(220.0, &[0.2], 500), &params, SAMPLE_RATE_HZ, 48_000, 512);
    let want = 220.0 * 2f32.powf(1.0 / 24.0); // 226.45 Hz, 6.4 Hz above 220
    let got = strongest_hz(steady_part(&out), SAMPLE_RATE_HZ);
    assert!((got - want).abs() < 0.2, "{got} Hz, expected {want} Hz");
}

#[test]
fn stretch_two_around_f0_puts_harmonic_k_at_f0_k_squared() {
    let params = RenderParams { stretch: 2.0, anchor: AnchorMode::FixedF0, ..RenderParams::default() };
    let out = render(&five_harmonics(), &params, SAMPLE_RATE_HZ, 48_000, 512);
    let want: Vec<f32> = (1..=5).map(|k| 220.0 * (k * k) as f32).collect();
    assert_peaks(&peaks_hz(steady_part(&out), SAMPLE_RATE_HZ, 0.01, 20.0), &want, 0.5);
}

#[test]
fn stretch_around_the_centre_partial_keeps_the_middle_harmonic() {
    // Five harmonics: the centre partial is the third, 660 Hz.
    let params = RenderParams { stretch: 2.0, anchor: AnchorMode::CentrePartial, ..RenderParams::default() };
    let out = render(&five_harmonics(), &params, SAMPLE_RATE_HZ, 48_000, 512);
    let want: Vec<f32> = (1..=5).map(|k| 660.0 * (k as f32 / 3.0).powi(2)).collect();
    assert_peaks(&peaks_hz(steady_part(&out), SAMPLE_RATE_HZ, 0.01, 20.0), &want, 0.5);
}

#[test]
fn stretch_around_a_manual_anchor_keeps_that_frequency() {
    let params = RenderParams {
        stretch: 0.5,
        anchor: AnchorMode::ManualHz,
        anchor_hz: 440.0,
        pitch_steps: 12.0,
        ..RenderParams::default()
    };
    let out = render(&five_harmonics(), &params, SAMPLE_RATE_HZ, 48_000, 512);
    // Pitch first (an octave up: 440, 880, ...), then stretch 0.5 around 440 Hz.
    let want: Vec<f32> = (1..=5).map(|k| 440.0 * (k as f32).sqrt()).collect();
    assert_peaks(&peaks_hz(steady_part(&out), SAMPLE_RATE_HZ, 0.01, 20.0), &want, 0.5);
}

/// Stretch measured over time from the 4th harmonic of a 200 Hz tone, anchor f0:
/// `f4 = 200 * 4^s`, so `s = log4(f4 / 200)`; one value per 2048-sample hop.
fn stretch_track(out: &[f32]) -> Vec<(f32, f32)> {
    out.windows(4096)
        .step_by(2048)
        .enumerate()
        .map(|(i, w)| {
            let (mag, bin_hz) = spectrum(w, SAMPLE_RATE_HZ);
            // The 4th harmonic is the only partial above 300 Hz.
            let lo = (300.0 / bin_hz) as usize;
            let k = (lo..mag.len()).max_by(|&a, &b| mag[a].total_cmp(&mag[b])).unwrap();
            let f4 = k as f32 * bin_hz;
            let t = (i * 2048 + 2048) as f32 / SAMPLE_RATE_HZ;
            (t, (f4 / 200.0).ln() / 4f32.ln())
        })
        .collect()
}

#[test]
fn a_bounce_sweeps_the_stretch_between_its_bounds_for_its_duration_then_returns() {
    let envelope = steady(200.0, &[0.2, 0.0, 0.0, 0.1], 250);
    let params = RenderParams {
        looping: true,
        bounce: BounceParams { enabled: true, min: 0.5, max: 1.5, speed_hz: 0.5, jitter: 0.0, duration_s: 4.0 },
        ..RenderParams::default()
    };
    let out = render(&envelope, &params, SAMPLE_RATE_HZ, 48_000 * 5, 256);
    let track = stretch_track(&out);
    let during: Vec<f32> = track.iter().filter(|(t, _)| (0.3..3.9).contains(t)).map(|&(_, s)| s).collect();
    let lo = during.iter().cloned().fold(f32::MAX, f32::min);
    let hi = during.iter().cloned().fold(f32::MIN, f32::max);
    assert!((lo - 0.5).abs() < 0.05 && (hi - 1.5).abs() < 0.05, "stretch swept {lo}..{hi}, expected 0.5..1.5");
    // Two whole cycles: the sweep crosses the middle going up and down more than once.
    let crossings = during.windows(2).filter(|w| (w[0] - 1.0) * (w[1] - 1.0) < 0.0).count();
    assert!(crossings >= 3, "{crossings} crossings of the static stretch");
    let after: Vec<f32> = track.iter().filter(|(t, _)| *t > 4.35).map(|&(_, s)| s).collect();
    assert!(!after.is_empty() && after.iter().all(|s| (s - 1.0).abs() < 0.02), "after the bounce: {after:?}");
}

/// Fraction of the energy of `x` between `lo_hz` and `hi_hz`.
fn energy_fraction(x: &[f32], lo_hz: f32, hi_hz: f32) -> f32 {
    let (mag, bin_hz) = spectrum(x, SAMPLE_RATE_HZ);
    let total: f32 = mag.iter().map(|m| m * m).sum();
    let inside: f32 = mag
        .iter()
        .enumerate()
        .filter(|(k, _)| (lo_hz..hi_hz).contains(&(*k as f32 * bin_hz)))
        .map(|(_, m)| m * m)
        .sum();
    inside / total
}

#[test]
fn noise_energy_lands_in_the_bands_that_carry_magnitude_and_follows_pitch() {
    // 65 bands over 0..8 kHz (125 Hz apart); bands 16..=24 (2000..3000 Hz) carry magnitude.
    let mut envelope = steady(220.0, &[0.0], 250);
    for i in 0..envelope.frame_count() {
        for b in 16..=24 {
            envelope.band_mags[i * 65 + b] = 0.5;
        }
    }
    let out = render(&envelope, &RenderParams::default(), SAMPLE_RATE_HZ, 48_000, 333);
    let rms = (out.iter().map(|x| x * x).sum::<f32>() / out.len() as f32).sqrt();
    assert!(rms > 0.01, "noise is audible: rms {rms}");
    let inside = energy_fraction(steady_part(&out), 1875.0, 3125.0);
    assert!(inside > 0.97, "{inside} of the noise energy in 1.9..3.1 kHz");

    let up = RenderParams { pitch_steps: 12.0, ..RenderParams::default() };
    let out = render(&envelope, &up, SAMPLE_RATE_HZ, 48_000, 333);
    let inside = energy_fraction(steady_part(&out), 3750.0, 6250.0);
    assert!(inside > 0.97, "an octave up: {inside} of the energy in 3.75..6.25 kHz");
}

#[test]
fn partials_at_or_above_nyquist_make_no_sound() {
    // At 16 kHz (Nyquist 8 kHz): 1 kHz sounds; 9 and 12 kHz would alias to 7 and 4 kHz.
    let mut envelope = Envelope::silent(250.0, 16_000.0, 250, 3, 0, 1000.0);
    for i in 0..250 {
        envelope.harmonic_freqs_hz[i * 3..i * 3 + 3].copy_from_slice(&[1000.0, 9000.0, 12_000.0]);
        envelope.harmonic_amps[i * 3..i * 3 + 3].copy_from_slice(&[0.2, 0.2, 0.2]);
    }
    let out = render(&envelope, &RenderParams::default(), 16_000.0, 16_000, 64);
    assert_peaks(&peaks_hz(&out[1600..], 16_000.0, 1e-4, 60.0), &[1000.0], 0.5);

    // Only partials above Nyquist (here pushed there by pitch): exact silence.
    for i in 0..250 {
        envelope.harmonic_freqs_hz[i * 3] = 5000.0;
    }
    let up = RenderParams { pitch_steps: 12.0, ..RenderParams::default() };
    let out = render(&envelope, &up, 16_000.0, 16_000, 64);
    assert!(out.iter().all(|&x| x == 0.0), "energy above Nyquist leaked into the output");
}

/// A sound that exercises every moving part: changing frames, skipped indices, noise, bounce
/// with jitter, stretch, looping over a window, slow playback.
fn busy_envelope() -> Envelope {
    let frames = 120;
    let mut e = Envelope::silent(250.0, 16_000.0, frames, 40, 65, 150.0);
    e.frame_indices = (0..frames as u64).map(|i| i * 2).collect();
    for i in 0..frames {
        let f0 = 150.0 + i as f32;
        e.f0_hz[i] = f0;
        for k in 0..40 {
            e.harmonic_freqs_hz[i * 40 + k] = f0 * (k + 1) as f32 * (1.0 + 0.001 * k as f32);
            e.harmonic_amps[i * 40 + k] = 0.05 / (k + 1) as f32 * (1.0 + (i as f32 * 0.1).sin() * 0.5);
        }
        for b in 0..65 {
            e.band_mags[i * 65 + b] = 0.01 * (1.0 + ((i + b) as f32 * 0.2).cos());
        }
    }
    e
}

fn busy_params() -> RenderParams {
    RenderParams {
        pitch_steps: 3.0,
        stretch: 1.3,
        anchor: AnchorMode::CentrePartial,
        looping: true,
        start_frame: 10,
        frame_count: 80,
        playback_rate: 0.7,
        bounce: BounceParams { enabled: true, min: 0.8, max: 1.6, speed_hz: 3.0, jitter: 0.7, duration_s: 0.5 },
        ..RenderParams::default()
    }
}

#[test]
fn blocks_of_any_size_give_identical_output() {
    let (envelope, params) = (busy_envelope(), busy_params());
    let reference = render(&envelope, &params, SAMPLE_RATE_HZ, 48_000, 48_000);
    assert!(reference.iter().any(|&x| x.abs() > 0.01));
    for block in [1, 7, 64, 4096] {
        let out = render(&envelope, &params, SAMPLE_RATE_HZ, 48_000, block);
        let first_difference = out.iter().zip(&reference).position(|(a, b)| a != b);
        assert_eq!(first_difference, None, "block size {block} differs");
    }
}

#[test]
fn restart_renders_the_same_sound_again() {
    let (envelope, params) = (busy_envelope(), busy_params());
    let mut r = Renderer::new();
    r.prepare(SAMPLE_RATE_HZ, 512);
    let mut first = vec![0.0; 24_000];
    r.process(&envelope, &params, &mut first);
    r.restart();
    let mut second = vec![0.0; 24_000];
    r.process(&envelope, &params, &mut second);
    assert_eq!(first, second);
}

#[test]
fn a_non_looping_window_finishes_and_falls_silent() {
    // 50 frames at 250 frames/s = 0.2 s.
    let envelope = steady(220.0, &[0.2], 50);
    let mut r = Renderer::new();
    r.prepare(SAMPLE_RATE_HZ, 480);
    let mut block = vec![0.0; 480];
    let mut blocks = 0;
    while !r.is_finished() {
        r.process(&envelope, &RenderParams::default(), &mut block);
        blocks += 1;
        assert!(blocks < 100);
    }
    // 0.2 s is 20 blocks of 10 ms; the end may land one control tick later (rounding).
    assert!((20..=21).contains(&blocks), "finished after {blocks} blocks of 10 ms, expected 0.2 s");
    r.process(&envelope, &RenderParams::default(), &mut block);
    r.process(&envelope, &RenderParams::default(), &mut block);
    assert!(block.iter().all(|&x| x == 0.0));
}

#[test]
fn a_volume_change_between_blocks_is_smoothed_not_a_click() {
    let envelope = steady(220.0, &[0.5], 500);
    let mut r = Renderer::new();
    r.prepare(SAMPLE_RATE_HZ, 4800);
    let loud = RenderParams { looping: true, smoothing_ms: 20.0, ..RenderParams::default() };
    let mut before = vec![0.0; 4800];
    r.process(&envelope, &loud, &mut before);
    let mut after = vec![0.0; 480];
    r.process(&envelope, &RenderParams { harmonic_volume: 0.0, ..loud }, &mut after);
    let peak = |x: &[f32]| x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    // One 220 Hz cycle (4.5 ms) right after the change still carries most of the level, and
    // the level then decays with a 20 ms time constant.
    assert!(peak(&after[..220]) > 0.4, "{}", peak(&after[..220]));
    assert!(peak(&after[220..]) < peak(&after[..220]));
}

#[test]
fn the_gui_can_read_the_transformed_partials_and_bands() {
    let mut envelope = five_harmonics();
    envelope.band_mags.fill(0.1);
    let params = RenderParams { pitch_steps: 12.0, noise_volume: 2.0, ..RenderParams::default() };
    let mut r = Renderer::new();
    r.prepare(SAMPLE_RATE_HZ, 256);
    let mut block = vec![0.0; 256];
    r.process(&envelope, &params, &mut block);
    let (mut freqs, mut amps) = ([0.0; 8], [0.0; 8]);
    assert_eq!(r.current_partials(&mut freqs, &mut amps), 5);
    assert!((freqs[0] - 440.0).abs() < 1e-3 && (freqs[4] - 2200.0).abs() < 1e-2, "{freqs:?}");
    assert!((amps[0] - 0.2).abs() < 1e-6);
    let (mut centres, mut mags) = ([0.0; 100], [0.0; 100]);
    assert_eq!(r.current_noise_bands(&mut centres, &mut mags), 65);
    // An octave up spreads the bands twice as wide: half the power per hertz.
    assert!((centres[1] - 250.0).abs() < 1e-3 && (mags[1] - 0.2 / 2f32.sqrt()).abs() < 1e-6, "{mags:?}");
    assert!(r.playhead_frame() > 0.0);
}

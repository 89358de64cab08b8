//! `ddsp enrich`: extend the bandwidth DDSP learned (8 kHz at the 16 kHz model rate) to the
//! Nyquist of a new sample rate (22.05 kHz at 44.1 kHz), as the original
//! `enrich_spectrum.py` did by harmonic extrapolation and shaped noise.
//!
//! Per frame:
//! - **Harmonics.** The partials below the source bandwidth with an amplitude (DDSP zeroes
//!   those above its Nyquist) are the learned spectrum. A line is fitted through the upper
//!   half of them on log-log axes ([`SpectralSlope`]); it is continued over new partials
//!   `k = last+1, last+2, …` at `(k+1)·f_last/(last+1)` Hz (the harmonic series of the last
//!   learned partial, so a slightly stretched series stays stretched) from the source
//!   bandwidth up to the new Nyquist (slots of a series that ended below the bandwidth stay
//!   silent there: the learned band is not touched).
//!   A fitted slope is never allowed to rise: it is limited to at most
//!   [`HARMONIC_MAX_SLOPE_DB_PER_OCTAVE`], pivoting at the last learned partial, so the added
//!   top is always quieter than what was learned.
//! - **Noise.** The bands keep their spacing and are continued up to the new Nyquist; their
//!   magnitudes follow a tilt fitted through the upper half of the learned bands below the
//!   bandwidth (the band at Nyquist itself is an edge value and left out), limited to
//!   [`NOISE_MAX_SLOPE_DB_PER_OCTAVE`] (never rising).
//! - The harmonic count of the result is what [`COUNT_COVERAGE`] (99 %) of the frames need to
//!   reach the new Nyquist (capped by `max_harmonics`); the lowest 1 % (typically sub-octave
//!   f0 errors at onsets) are continued only that far, rather than tripling the size of every
//!   frame.
//! - Everything below the source bandwidth is kept: harmonics whose frequency is below it are
//!   copied bit for bit, and bands whose centre is at or below it keep their centre and their
//!   power per hertz. Noise magnitudes are a spectral density at the file's `sample_rate`
//!   (SPEC §4), so with the new rate every magnitude is scaled by `sqrt(new rate / old rate)`
//!   ([`noise_density_gain`]): the enriched file's noise sounds as loud below the old Nyquist
//!   as the original's did.
//!
//! The metadata's `sample_rate` becomes the new rate, and `enriched_from_sample_rate` records
//! the old one.

use anyhow::{bail, Result};
use ddsp_shared::render::noise_density_gain;
use ddsp_shared::Envelope;

use super::spectral_slope::SpectralSlope;

/// The added harmonics roll off at least this fast (dB per octave).
pub const HARMONIC_MAX_SLOPE_DB_PER_OCTAVE: f64 = -3.0;
/// The added noise bands never rise (dB per octave).
pub const NOISE_MAX_SLOPE_DB_PER_OCTAVE: f64 = 0.0;
/// Default cap on the harmonic count after enrichment: a 86 Hz f0 reaches 22.05 kHz with 256
/// partials; lower voices stop below Nyquist rather than make every frame huge.
pub const DEFAULT_MAX_HARMONICS: usize = 256;
/// Share of the frames whose harmonic series the result's harmonic count carries up to the
/// new Nyquist; see [`enrich`].
pub const COUNT_COVERAGE: f64 = 0.99;
/// Metadata key recording the sample rate before enrichment.
pub const ENRICHED_FROM_KEY: &str = "enriched_from_sample_rate";

/// What to extend to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EnrichOptions {
    /// New sample rate, Hz; content is added up to its Nyquist.
    pub sample_rate_hz: f64,
    /// Top of the learned band, Hz; `None` means the input's Nyquist (`sample_rate / 2`).
    pub source_bandwidth_hz: Option<f64>,
    /// Upper limit on harmonics per frame after enrichment (never fewer than the input has).
    pub max_harmonics: usize,
}

impl Default for EnrichOptions {
    fn default() -> Self {
        Self { sample_rate_hz: 44100.0, source_bandwidth_hz: None, max_harmonics: DEFAULT_MAX_HARMONICS }
    }
}

/// Where frame `i`'s learned harmonics end and how the series continues.
struct HarmonicPlan {
    /// Index of the highest learned partial.
    last: usize,
    /// `f_last / (last + 1)`: the spacing of the continued series, Hz.
    spacing_hz: f64,
    slope: SpectralSlope,
}

/// The slope fitted on the upper half of the components of one frame that carry sound strictly
/// below `bandwidth_hz` (non-zero frequency and value), and the index of the highest of them;
/// `None` with fewer than two. Harmonics and noise bands are fitted the same way.
fn fit_upper_components(freqs_hz: &[f32], values: &[f32], bandwidth_hz: f64) -> Option<(SpectralSlope, usize)> {
    let learned: Vec<usize> = (0..freqs_hz.len().min(values.len()))
        .filter(|&k| freqs_hz[k] > 0.0 && f64::from(freqs_hz[k]) < bandwidth_hz && values[k] > 0.0)
        .collect();
    if learned.len() < 2 {
        return None;
    }
    let upper = &learned[(learned.len() / 2).min(learned.len() - 2)..];
    let slope = SpectralSlope::fit(upper.iter().map(|&k| (f64::from(freqs_hz[k]), f64::from(values[k]))))?;
    Some((slope, *learned.last().expect("at least two")))
}

fn plan_harmonics(env: &Envelope, i: usize, bandwidth_hz: f64) -> Option<HarmonicPlan> {
    let (slope, last) = fit_upper_components(env.harmonic_freqs(i), env.harmonic_amps(i), bandwidth_hz)?;
    let f_last = f64::from(env.harmonic_freqs(i)[last]);
    Some(HarmonicPlan {
        last,
        spacing_hz: f_last / (last + 1) as f64,
        slope: slope.with_slope_at_most(HARMONIC_MAX_SLOPE_DB_PER_OCTAVE, f_last),
    })
}

/// The tilt of frame `i`'s noise, fitted on the upper half of the bands strictly below the
/// bandwidth: DDSP's last band sits exactly at Nyquist, where analysis and the model both
/// leave a near-zero edge value that would otherwise drag the whole continuation down.
fn plan_noise(env: &Envelope, i: usize, bandwidth_hz: f64) -> Option<SpectralSlope> {
    let (slope, last) = fit_upper_components(env.band_centres(i), env.band_mags(i), bandwidth_hz)?;
    let pivot = f64::from(env.band_centres(i)[last]);
    Some(slope.with_slope_at_most(NOISE_MAX_SLOPE_DB_PER_OCTAVE, pivot))
}

/// Spacing of the top two bands of frame `i`, when they rise.
fn band_spacing_hz(env: &Envelope, i: usize) -> Option<f64> {
    let c = env.band_centres(i);
    match c {
        [.., a, b] if b > a => Some(f64::from(*b) - f64::from(*a)),
        _ => None,
    }
}

/// Extends `env` to the Nyquist of `options.sample_rate_hz`; see the module docs.
pub fn enrich(env: &Envelope, options: &EnrichOptions) -> Result<Envelope> {
    let new_nyquist_hz = options.sample_rate_hz / 2.0;
    let bandwidth_hz = options.source_bandwidth_hz.unwrap_or(env.sample_rate_hz / 2.0);
    if !(options.sample_rate_hz.is_finite() && options.sample_rate_hz > 0.0) {
        bail!("the new sample rate must be a positive number of Hz, got {}", options.sample_rate_hz);
    }
    if !(bandwidth_hz.is_finite() && bandwidth_hz > 0.0) {
        bail!("the source bandwidth must be a positive number of Hz, got {bandwidth_hz}");
    }
    if new_nyquist_hz <= bandwidth_hz {
        bail!(
            "nothing to add: a sample rate of {} Hz has its Nyquist at {new_nyquist_hz} Hz, not above the learned bandwidth of {bandwidth_hz} Hz",
            options.sample_rate_hz
        );
    }
    let n = env.frame_count();
    let h_in = env.harmonic_count;
    let b_in = env.noise_band_count;

    let harmonic_plans: Vec<Option<HarmonicPlan>> = (0..n).map(|i| plan_harmonics(env, i, bandwidth_hz)).collect();
    // The harmonic count reaches Nyquist for COUNT_COVERAGE of the frames with a learned
    // series: the few frames of a tracking error (a sub-octave f0 at an onset) would otherwise
    // triple every frame of the file; they are continued as far as the count reaches.
    let mut counts: Vec<usize> = harmonic_plans
        .iter()
        .flatten()
        .map(|p| ((new_nyquist_hz / p.spacing_hz).ceil() as usize).saturating_sub(1))
        .collect();
    counts.sort_unstable();
    let needed = match counts.len() {
        0 => 0,
        len => counts[((len as f64 * COUNT_COVERAGE).ceil() as usize).clamp(1, len) - 1],
    };
    let h = needed.min(options.max_harmonics).max(h_in);

    let fallback_spacing = (0..n).find_map(|i| band_spacing_hz(env, i));
    // Per frame: the last band's centre, the spacing new bands continue with (the frame's own,
    // else the first frame's that has one, else 1 Hz so centres still rise), and how many of
    // them fit below the new Nyquist.
    let added_bands = |i: usize| -> (f64, f64, usize) {
        let last_centre = env.band_centres(i).last().map_or(0.0, |&c| f64::from(c));
        let spacing = band_spacing_hz(env, i).or(fallback_spacing);
        let count = match spacing {
            Some(s) if last_centre < new_nyquist_hz => ((new_nyquist_hz - last_centre) / s + 1e-9).floor() as usize,
            _ => 0,
        };
        (last_centre, spacing.unwrap_or(1.0), count)
    };
    let b = b_in + (0..n).map(|i| added_bands(i).2).max().unwrap_or(0);

    // The same power per hertz at the new rate (see the module documentation).
    let density = noise_density_gain(options.sample_rate_hz as f32, env.sample_rate_hz);
    let mut out = env.empty_like(h, b, n);
    out.sample_rate_hz = options.sample_rate_hz;
    out.frame_indices = env.frame_indices.clone();
    out.f0_hz = env.f0_hz.clone();
    if !out.extra_metadata.iter().any(|(k, _)| k == ENRICHED_FROM_KEY) {
        out.extra_metadata.push((ENRICHED_FROM_KEY.to_owned(), env.sample_rate_hz.to_string()));
    }

    for (i, plan) in harmonic_plans.iter().enumerate() {
        let freqs = env.harmonic_freqs(i);
        let amps = env.harmonic_amps(i);
        let f0 = env.f0_hz[i];
        for k in 0..h {
            let learned = k < h_in && f64::from(freqs[k]) < bandwidth_hz;
            let extended = plan.as_ref().filter(|p| k > p.last && !learned);
            match extended {
                Some(p) => {
                    let f = (k + 1) as f64 * p.spacing_hz;
                    // Only the new band gets partials: a series that ended below the learned
                    // bandwidth (60 harmonics of a low voice) keeps its silence there.
                    let amp = if f >= bandwidth_hz && f < new_nyquist_hz { p.slope.amp_at(f) } else { 0.0 };
                    out.harmonic_freqs_hz.push(f as f32);
                    out.harmonic_amps.push(amp as f32);
                }
                None if k < h_in => {
                    out.harmonic_freqs_hz.push(freqs[k]);
                    out.harmonic_amps.push(amps[k]);
                }
                None => {
                    out.harmonic_freqs_hz.push(f0 * (k + 1) as f32);
                    out.harmonic_amps.push(0.0);
                }
            }
        }

        let tilt = plan_noise(env, i, bandwidth_hz);
        let level =
            |centre_hz: f64| tilt.map_or(0.0, |t| if centre_hz <= new_nyquist_hz { t.amp_at(centre_hz) } else { 0.0 });
        for (k, (&c, &m)) in env.band_centres(i).iter().zip(env.band_mags(i)).enumerate() {
            out.band_centres_hz.push(c);
            let above = f64::from(c) > bandwidth_hz;
            out.band_mags.push(density * if above && k > 0 { level(f64::from(c)) as f32 } else { m });
        }
        let (last_centre, spacing, count) = added_bands(i);
        for j in 1..=(b - b_in) {
            let c = last_centre + j as f64 * spacing;
            out.band_centres_hz.push(c as f32);
            out.band_mags.push(if j <= count { density * level(c) as f32 } else { 0.0 });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// A DDSP-like frame at 16 kHz: 60 harmonics of 200 Hz with 1/k amplitudes below 8 kHz
    /// (-6 dB/octave) and zero above, 65 noise bands falling 3 dB per octave.
    fn ddsp_like() -> Envelope {
        let mut env = Envelope::silent(250.0, 16000.0, 2, 60, 65, 200.0);
        for i in 0..2 {
            for k in 0..60 {
                let f = env.harmonic_freqs(i)[k];
                env.harmonic_amps[i * 60 + k] = if f < 8000.0 { 0.2 / (k + 1) as f32 } else { 0.0 };
            }
            for k in 1..65 {
                let c = f64::from(env.band_centres(i)[k]);
                env.band_mags[i * 65 + k] = (0.01 * (c / 125.0).powf(-0.5)) as f32;
            }
        }
        env
    }

    #[test]
    fn harmonics_continue_the_slope_up_to_nyquist_and_below_is_untouched() {
        let env = ddsp_like();
        let out = enrich(&env, &EnrichOptions::default()).unwrap();
        out.validate().unwrap();
        assert_eq!(out.sample_rate_hz, 44100.0);
        // 200 Hz harmonics below 22.05 kHz: 110 of them.
        assert_eq!(out.harmonic_count, 110);
        for i in 0..2 {
            for k in 0..39 {
                assert_eq!(out.harmonic_freqs(i)[k], env.harmonic_freqs(i)[k]);
                assert_eq!(out.harmonic_amps(i)[k], env.harmonic_amps(i)[k]);
            }
            // Partial 80 (16.2 kHz) continues 1/k.
            assert_relative_eq!(out.harmonic_freqs(i)[80], 16200.0, max_relative = 1e-6);
            assert_relative_eq!(out.harmonic_amps(i)[80], 0.2 / 81.0, max_relative = 1e-3);
            assert!(out.harmonic_freqs(i).iter().zip(out.harmonic_amps(i)).all(|(&f, &a)| a == 0.0 || f < 22050.0));
        }
    }

    #[test]
    fn noise_bands_reach_the_new_nyquist_with_the_fitted_tilt() {
        let env = ddsp_like();
        let out = enrich(&env, &EnrichOptions::default()).unwrap();
        // 125 Hz spacing from 8000 Hz up to 22050 Hz: 112 more bands.
        assert_eq!(out.noise_band_count, 65 + 112);
        let centres = out.band_centres(0);
        assert_eq!(&centres[..65], env.band_centres(0));
        assert_relative_eq!(centres[65 + 111], 22000.0);
        // The learned bands keep their power per hertz at the new rate.
        let density = (44100.0f32 / 16000.0).sqrt();
        for (&enriched, &learned) in out.band_mags(0)[..65].iter().zip(env.band_mags(0)) {
            assert_relative_eq!(enriched, learned * density, max_relative = 1e-6);
        }
        // -3 dB/octave: at 16 kHz the magnitude is 1/sqrt(2) of that at 8 kHz.
        let at_16k = out.band_mags(0)[64 + 64];
        assert_relative_eq!(f64::from(at_16k), f64::from(out.band_mags(0)[64]) / 2f64.sqrt(), max_relative = 1e-3);
    }

    #[test]
    fn a_rising_fit_is_not_continued_upwards() {
        let mut env = ddsp_like();
        for k in 0..39 {
            env.harmonic_amps[k] = 0.001 * (k + 1) as f32;
        }
        let out = enrich(&env, &EnrichOptions::default()).unwrap();
        let last_learned = out.harmonic_amps(0)[38];
        assert!(out.harmonic_amps(0)[39..].iter().all(|&a| a < last_learned));
    }

    #[test]
    fn silent_frames_stay_silent() {
        let env = Envelope::silent(250.0, 16000.0, 1, 60, 65, 0.0);
        let out = enrich(&env, &EnrichOptions::default()).unwrap();
        assert!(out.harmonic_amps.iter().chain(&out.band_mags).all(|&a| a == 0.0));
    }

    #[test]
    fn a_rare_low_frame_does_not_set_the_harmonic_count() {
        // 200 frames at 200 Hz; frame 1 an octave error at 50 Hz.
        let one = ddsp_like();
        let mut env = Envelope::silent(250.0, 16000.0, 200, 60, 65, 200.0);
        for i in 0..200 {
            env.harmonic_amps[i * 60..(i + 1) * 60].copy_from_slice(one.harmonic_amps(0));
        }
        for k in 0..60 {
            env.harmonic_freqs_hz[60 + k] = 50.0 * (k + 1) as f32;
            env.harmonic_amps[60 + k] = 0.2 / (k + 1) as f32;
        }
        let out = enrich(&env, &EnrichOptions::default()).unwrap();
        assert_eq!(out.harmonic_count, 110, "set by the 200 Hz frames, not the one at 50 Hz");
        // Its series ended at 3 kHz; the slots up to 5.5 kHz stay silent (nothing below the
        // learned 8 kHz changes).
        assert_eq!(out.harmonic_amps(1)[..60], env.harmonic_amps(1)[..60]);
        assert!(out.harmonic_amps(1)[60..].iter().all(|&a| a == 0.0));
    }

    #[test]
    fn a_rate_without_new_bandwidth_is_refused() {
        let err = enrich(&ddsp_like(), &EnrichOptions { sample_rate_hz: 16000.0, ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("nothing to add"), "{err}");
    }
}

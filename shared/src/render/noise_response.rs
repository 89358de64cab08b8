//! The noise filter: the gain that band magnitudes give white noise at each frequency
//! (docs/CSV_FORMAT.md, "The noise filter"). One definition for the trainer and the renderer.
//!
//! The definition is DDSP's filtered noise, which the trainer runs: the `B` magnitudes are the
//! DFT of a zero-phase impulse response of `2(B - 1)` taps, and the response is Hann-windowed
//! before it filters the noise. The window smooths the band spectrum: the gain at band `b`'s
//! centre is `(m[b-1] + 2 m[b] + m[b+1]) / 4`, and between centres the gain follows the
//! windowed filter's smooth response, so one band alone is a bump three bands wide, not a spike.
//! Beyond the first and last band the magnitudes mirror (band -1 is band 1, band `B` is band
//! `B - 2`), as a real filter's spectrum does at 0 Hz and Nyquist.
//!
//! The renderer evaluates that response at every band centre (exactly) and halfway between
//! neighbours (from the three nearest pairs of bands, with the window's kernel in its
//! large-`B` limit), and interpolates linearly in between. Against the exact response of 65
//! bands this is within 0.02 of the largest magnitude at any frequency and within 0.3 dB in
//! every band's power, for one band alone as for random spectra. Band positions are read
//! between the (possibly transformed) centres the caller gives, so pitch and stretch move the
//! response with the bands. Above the last centre the gain falls linearly to zero over one band
//! spacing, so a spectrum pitched down leaves no hiss above its top band.

use super::noise_synth::MAX_NOISE_BANDS;

/// Points of the response: every centre and every midpoint between neighbours.
const MAX_POINTS: usize = 2 * MAX_NOISE_BANDS - 1;

/// The windowed filter's kernel halfway between bands, at distances 0.5, 1.5 and 2.5 bands:
/// `K(x) = sinc(x)/2 + (sinc(x-1) + sinc(x+1))/4` (the Hann window's spectrum applied to the
/// band samples) gives `4/(3π)`, `4/(15π)`, `-4/(105π)`. Scaled so that the three pairs sum
/// to 1: a flat spectrum stays exactly flat (the terms left out sum to 0.6 %).
const MIDPOINT_KERNEL: [f32; 3] = {
    let (a, b, c) = (4.0 / 3.0, 4.0 / 15.0, -4.0 / 105.0);
    let sum = 2.0 * (a + b + c);
    [(a / sum) as f32, (b / sum) as f32, (c / sum) as f32]
};

/// How far beyond the ends the midpoint kernel reaches, bands.
const PAD: usize = 3;

/// The response of one set of bands, as points to interpolate between.
#[derive(Clone)]
pub struct NoiseResponse {
    point_hz: [f32; MAX_POINTS],
    gain: [f32; MAX_POINTS],
    /// Gain per hertz from each point to the next (0 after the last and where points meet),
    /// so that reading the response takes no division.
    slope: [f32; MAX_POINTS],
    points: usize,
    /// The magnitudes with `PAD` mirrored bands on either side.
    padded: [f32; MAX_NOISE_BANDS + 2 * PAD],
    /// Where the gain has fallen to 0 (infinite for one flat band).
    top_hz: f32,
    /// The last band spacing, Hz (the length of the fall above the last centre).
    last_spacing_hz: f32,
    /// `1 / (next point - point)`, 0 where the points meet (or are out of order).
    inv_span: [f32; MAX_POINTS],
    /// The centres the points were placed for, and how many (`usize::MAX`: none kept). The
    /// points depend on the centres only, which a CSV's fixed bands and a held note repeat
    /// frame after frame: the same centres, bit for bit, keep them.
    geometry: ([f32; MAX_NOISE_BANDS], usize),
    /// The first bin at or above each point, for the bin spacing and count in the key (bits
    /// of `bin_hz`, bins); `None` once the points move.
    first_bins: ([i32; MAX_POINTS], Option<(u32, usize)>),
}

impl std::fmt::Debug for NoiseResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseResponse").field("points", &self.points).field("top_hz", &self.top_hz).finish()
    }
}

impl Default for NoiseResponse {
    fn default() -> Self {
        Self {
            point_hz: [0.0; MAX_POINTS],
            gain: [0.0; MAX_POINTS],
            slope: [0.0; MAX_POINTS],
            points: 0,
            padded: [0.0; MAX_NOISE_BANDS + 2 * PAD],
            top_hz: 0.0,
            last_spacing_hz: 1e-3,
            inv_span: [0.0; MAX_POINTS],
            geometry: ([0.0; MAX_NOISE_BANDS], usize::MAX),
            first_bins: ([0; MAX_POINTS], None),
        }
    }
}

impl NoiseResponse {
    /// Sets the response of bands at `centres_hz` (rising) with linear magnitudes `mags`
    /// (the first [`MAX_NOISE_BANDS`] of the shorter). Never allocates.
    // Inlined into the renderer's tick, which is compiled for AVX2 where the CPU has it.
    #[inline(always)]
    pub fn set(&mut self, centres_hz: &[f32], mags: &[f32]) {
        let bands = centres_hz.len().min(mags.len()).min(MAX_NOISE_BANDS);
        let (centres_hz, mags) = (&centres_hz[..bands], &mags[..bands]);
        match bands {
            0 => {
                self.points = 0;
                self.top_hz = 0.0;
                self.geometry.1 = usize::MAX;
            }
            1 => {
                // One band is flat (there is no filter to window).
                self.point_hz[0] = centres_hz[0];
                self.gain[0] = mags[0];
                self.points = 1;
                self.top_hz = f32::INFINITY;
                self.geometry.1 = usize::MAX;
            }
            _ => self.set_bands(centres_hz, mags),
        }
    }

    // Inlined into the renderer's tick, which is compiled for AVX2 where the CPU has it.
    #[inline(always)]
    fn set_bands(&mut self, centres_hz: &[f32], mags: &[f32]) {
        let bands = mags.len();
        // Mirror at both ends; the period of the mirrored sequence is 2(B - 1).
        if bands > PAD {
            // Each pad reflects once: band -j is band j, band B - 1 + j is band B - 1 - j.
            self.padded[PAD..PAD + bands].copy_from_slice(mags);
            for j in 1..=PAD {
                self.padded[PAD - j] = mags[j];
                self.padded[PAD + bands - 1 + j] = mags[bands - 1 - j];
            }
        } else {
            let period = 2 * (bands - 1);
            for i in 0..bands + 2 * PAD {
                let mut k = (i + period * PAD - PAD) % period;
                if k >= bands {
                    k = period - k;
                }
                self.padded[i] = mags[k];
            }
        }
        self.points = 2 * bands - 1;
        let last_point = self.points - 1;
        let (kept, kept_bands) = (&self.geometry.0, self.geometry.1);
        let same = kept_bands == bands && super::same_bits(&kept[..bands], centres_hz);
        if !same {
            // Each centre and the midpoint after it, as pairs with no branch (so in SIMD); the
            // last centre has no midpoint after it.
            let pairs = self.point_hz[..2 * (bands - 1)].chunks_exact_mut(2).enumerate();
            for (b, hz) in pairs {
                hz[0] = centres_hz[b];
                hz[1] = 0.5 * (centres_hz[b] + centres_hz[b + 1]);
            }
            self.point_hz[last_point] = centres_hz[bands - 1];
            let hz = &self.point_hz[..=last_point];
            for (inv, h) in self.inv_span[..last_point].iter_mut().zip(hz.windows(2)) {
                let span = h[1] - h[0];
                *inv = if span > 0.0 { 1.0 / span } else { 0.0 };
            }
            self.inv_span[last_point] = 0.0;
            let (before, last) = (centres_hz[bands - 2], centres_hz[bands - 1]);
            self.last_spacing_hz = (last - before).max(1e-3);
            self.top_hz = last + self.last_spacing_hz;
            self.geometry.0[..bands].copy_from_slice(centres_hz);
            self.geometry.1 = bands;
            self.first_bins.1 = None;
        }
        let m = &self.padded;
        let [k0, k1, k2] = MIDPOINT_KERNEL;
        let centre_gain = |i: usize| 0.25 * (m[i - 1] + m[i + 1]) + 0.5 * m[i];
        // Each centre's gain and the midpoint's after it, as pairs (so in SIMD).
        for (b, gain) in self.gain[..2 * (bands - 1)].chunks_exact_mut(2).enumerate() {
            let i = b + PAD;
            gain[0] = centre_gain(i);
            gain[1] = k0 * (m[i] + m[i + 1]) + k1 * (m[i - 1] + m[i + 2]) + k2 * (m[i - 2] + m[i + 3]);
        }
        self.gain[last_point] = centre_gain(bands - 1 + PAD);
        // Gain per hertz to the next point (0 after the last, and where points meet).
        let gain = &self.gain[..=last_point];
        let segments = gain.windows(2).zip(&self.inv_span[..last_point]);
        for (s, (g, &inv)) in self.slope[..last_point].iter_mut().zip(segments) {
            *s = (g[1] - g[0]) * inv;
        }
        self.slope[last_point] = 0.0;
    }

    /// The gain at every bin of `gains`, bin `k` at `k * bin_hz`, filled segment by segment
    /// between the points so the loops carry no search per bin (the tests check it against
    /// reading one frequency at a time).
    // Inlined into the renderer's tick, which is compiled for AVX2 where the CPU has it.
    #[inline(always)]
    pub fn fill_bins(&mut self, bin_hz: f32, gains: &mut [f32]) {
        let n = gains.len();
        if self.points <= 1 {
            gains.fill(if self.points == 1 { self.gain[0] } else { 0.0 });
            return;
        }
        let last = self.points - 1;
        // The first bin at or above each point (`n` if none), all points at once in SIMD, for
        // as long as the points stay where they are.
        let key = Some((bin_hz.to_bits(), n));
        if self.first_bins.1 != key {
            let inv_bin_hz = 1.0 / bin_hz;
            let top = n as f32;
            // (Through `i32`, which converts in SIMD; `u32` does not before AVX-512.)
            for (first, &h) in self.first_bins.0[..=last].iter_mut().zip(&self.point_hz[..=last]) {
                // `max` then `min` (not `clamp`): NaN becomes 0, so every value is in range.
                #[allow(clippy::manual_clamp)]
                let bin = (h * inv_bin_hz).ceil().max(0.0).min(top);
                // SAFETY: `bin` is finite and in 0..=n, far inside `i32`. The unchecked
                // conversion is one SIMD instruction; `as` (saturating, NaN to 0) is scalar.
                *first = unsafe { bin.to_int_unchecked::<i32>() };
            }
            self.first_bins.1 = key;
        }
        let first_bins = &self.first_bins.0;
        let (hz, gain, slope) = (&self.point_hz[..=last], &self.gain[..=last], &self.slope[..=last]);
        // Bins are counted in `i32` for the same reason (a frame has far fewer than 2^31).
        let mut k = first_bins[0] as usize;
        gains[..k].fill(gain[0]);
        for p in 0..last {
            let end = (first_bins[p + 1] as usize).max(k);
            for (g, bin) in gains[k..end].iter_mut().zip(k as i32..) {
                *g = gain[p] + (bin as f32 * bin_hz - hz[p]) * slope[p];
            }
            k = end;
        }
        let inv_spacing = 1.0 / self.last_spacing_hz;
        for (g, bin) in gains[k..].iter_mut().zip(k as i32..) {
            *g = gain[last] * (1.0 - (bin as f32 * bin_hz - hz[last]) * inv_spacing).max(0.0);
        }
    }

    /// The frequency from which the gain is 0 (infinite for a single, flat band; 0 with no
    /// bands).
    pub fn top_hz(&self) -> f32 {
        self.top_hz
    }

    /// The gain at `f_hz` (the definition [`NoiseResponse::fill_bins`] is tested against);
    /// `cursor` only moves up, so the caller walks frequencies in rising order from a cursor
    /// of 0. 0 with no bands.
    #[cfg(test)]
    pub fn at(&self, f_hz: f32, cursor: &mut usize) -> f32 {
        if self.points == 0 {
            return 0.0;
        }
        let (hz, gain) = (&self.point_hz[..self.points], &self.gain[..self.points]);
        let last = self.points - 1;
        if last == 0 {
            return gain[0];
        }
        while *cursor < last && hz[*cursor + 1] <= f_hz {
            *cursor += 1;
        }
        let p = *cursor;
        if f_hz < hz[0] {
            gain[0]
        } else if p < last {
            gain[p] + (f_hz - hz[p]) * self.slope[p]
        } else {
            gain[last] * (1.0 - (f_hz - hz[last]) / self.last_spacing_hz).max(0.0)
        }
    }
}

/// The factor on each band's magnitude that keeps the noise's power where pitch and stretch
/// move the bands (docs/CSV_FORMAT.md, "The noise filter"): a band moved to where it is `k`
/// times as wide is `1/k` as dense in power, so `gains[b] = sqrt(source spacing / moved
/// spacing)`, as transposed audio keeps its power (an octave up no longer adds 3 dB of noise;
/// bands pitched far above hearing fall silent with the harmonics instead of spreading band 0
/// over the whole range). A band's spacing is half the distance between its neighbours (one
/// neighbour at the ends). Bands squeezed together grow denser, but never as if narrower than
/// `min_spacing_hz` (a quarter of a noise FFT bin), which a frame cannot resolve: a spectrum
/// squeezed below a bin would otherwise pile its whole density into one bin. Where the source
/// spacing is not rising, or the moved one is not, the factor is 1. Never allocates.
#[inline(always)]
pub fn spread_gains(source_hz: &[f32], moved_hz: &[f32], min_spacing_hz: f32, gains: &mut [f32]) {
    let n = source_hz.len().min(moved_hz.len()).min(gains.len());
    let gains = &mut gains[..n];
    if n < 2 {
        gains.fill(1.0);
        return;
    }
    let factor = |source: f32, moved: f32| {
        // Computed for every band and then chosen (no branch per band, so in SIMD).
        let spread = (source / moved.max(min_spacing_hz)).sqrt();
        let usable = (source > 0.0) & (moved > 0.0) & source.is_finite() & moved.is_finite();
        if usable {
            spread
        } else {
            1.0
        }
    };
    // The ends from their one neighbour; the bands between from shifted slices, so the loop
    // runs in SIMD.
    gains[0] = factor(source_hz[1] - source_hz[0], moved_hz[1] - moved_hz[0]);
    gains[n - 1] = factor(source_hz[n - 1] - source_hz[n - 2], moved_hz[n - 1] - moved_hz[n - 2]);
    let source = source_hz[..n - 2].iter().zip(&source_hz[2..n]);
    let moved = moved_hz[..n - 2].iter().zip(&moved_hz[2..n]);
    for (g, ((&source_lo, &source_hi), (&moved_lo, &moved_hi))) in gains[1..n - 1].iter_mut().zip(source.zip(moved)) {
        *g = factor((source_hi - source_lo) / 2.0, (moved_hi - moved_lo) / 2.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact response of DDSP's filter (zero-phase IR of 2(B-1) taps from the magnitudes,
    /// Hann-windowed, delay removed) at frequencies in band units, by its DTFT in f64.
    fn exact_response(mags: &[f32]) -> impl Fn(f64) -> f64 {
        let bands = mags.len();
        let n = 2 * (bands - 1);
        let tau = std::f64::consts::TAU;
        // ir[t] = (1/n) Σ_k H_k cos(τ k t / n) over the full (mirrored) spectrum, centred.
        let h = |k: usize| mags[if k < bands { k } else { n - k }] as f64;
        let windowed: Vec<(f64, f64)> = (0..n)
            .map(|t| {
                let lag = t as f64 - (n / 2) as f64;
                let ir = (0..n).map(|k| h(k) * (tau * k as f64 * lag / n as f64).cos()).sum::<f64>() / n as f64;
                (lag, ir * (0.5 - 0.5 * (tau * t as f64 / n as f64).cos()))
            })
            .collect();
        move |f_bands| windowed.iter().map(|&(lag, w)| w * (tau * f_bands * lag / n as f64).cos()).sum()
    }

    #[test]
    fn the_response_is_ddsps_windowed_filter_within_its_stated_bound() {
        let bands = 65;
        let centres: Vec<f32> = (0..bands).map(|b| b as f32 * 125.0).collect();
        let mut single = vec![0.0f32; bands];
        single[20] = 1.0;
        // A rough spectrum: a fixed pseudo-random pattern in 0..1.
        let rough: Vec<f32> = (0..bands).map(|b| ((b * 7919 + 13) % 97) as f32 / 96.0).collect();
        let smooth: Vec<f32> = (0..bands).map(|b| (-(b as f32) / 20.0).exp()).collect();
        for (name, mags) in [("single band", &single), ("rough", &rough), ("smooth", &smooth)] {
            let mut response = NoiseResponse::default();
            response.set(&centres, mags);
            let exact = exact_response(mags);
            let mut cursor = 0;
            let mut worst = 0.0f64;
            for step in 0..(bands - 1) * 16 {
                let f_bands = step as f64 / 16.0;
                let ours = response.at(f_bands as f32 * 125.0, &mut cursor) as f64;
                worst = worst.max((ours - exact(f_bands)).abs());
            }
            assert!(worst < 0.02, "{name}: off the exact response by {worst}");
        }
        // One band alone: the bump of the Hann window, exact at the centres.
        let mut response = NoiseResponse::default();
        response.set(&centres, &single);
        let mut cursor = 0;
        let at = |f: f32, cursor: &mut usize| response.at(f, cursor);
        assert_eq!(at(19.0 * 125.0, &mut cursor), 0.25);
        assert_eq!(at(20.0 * 125.0, &mut cursor), 0.5);
        assert_eq!(at(21.0 * 125.0, &mut cursor), 0.25);
        assert_eq!(at(22.0 * 125.0, &mut cursor), 0.0);
    }

    #[test]
    fn a_flat_spectrum_stays_flat_and_falls_off_above_the_last_band() {
        let centres = [0.0, 1000.0, 2000.0, 3000.0];
        let mut response = NoiseResponse::default();
        response.set(&centres, &[2.0; 4]);
        let mut cursor = 0;
        for f in [0.0, 250.0, 500.0, 1500.0, 2999.0, 3000.0] {
            assert!((response.at(f, &mut cursor) - 2.0).abs() < 1e-6, "at {f} Hz");
        }
        assert!((response.at(3500.0, &mut cursor) - 1.0).abs() < 1e-6);
        assert_eq!(response.at(4000.0, &mut cursor), 0.0);
        assert_eq!(response.top_hz(), 4000.0);
    }

    #[test]
    fn filling_bins_gives_what_reading_each_bin_gives() {
        // Bands as pitch and stretch leave them (uneven, beyond the bins' top) and plain ones.
        let even: Vec<f32> = (0..65).map(|b| b as f32 * 125.0).collect();
        let stretched: Vec<f32> = (0..65).map(|b| 260.0 * ((b as f32 * 125.0 + 60.0) / 260.0).powf(1.3)).collect();
        let mags: Vec<f32> = (0..65).map(|b| ((b * 7919 + 13) % 97) as f32 / 96.0).collect();
        // One response through every case in turn, as a voice's frames go (the points of the
        // last frame are kept while the centres hold), against a fresh one for each.
        let mut reused = NoiseResponse::default();
        let cases =
            [("even", &even, 193), ("stretched", &stretched, 193), ("few bins", &even, 20), ("even", &even, 193)];
        for (name, centres, bins) in cases {
            let mut response = NoiseResponse::default();
            response.set(centres, &mags);
            let mut filled = vec![f32::NAN; bins];
            response.fill_bins(125.0, &mut filled);
            let mut cursor = 0;
            for (k, &g) in filled.iter().enumerate() {
                let want = response.at(k as f32 * 125.0, &mut cursor);
                assert!((g - want).abs() <= 1e-6, "{name}: bin {k}: {g} vs {want}");
            }
            reused.set(centres, &mags);
            let mut again = vec![f32::NAN; bins];
            reused.fill_bins(125.0, &mut again);
            assert_eq!(again, filled, "{name}: a reused response");
        }
        let mut response = NoiseResponse::default();
        response.set(&[500.0], &[0.3]);
        let mut filled = [0.0; 4];
        response.fill_bins(125.0, &mut filled);
        assert_eq!(filled, [0.3; 4]);
    }

    #[test]
    fn one_band_is_flat_and_no_bands_are_silent() {
        let mut response = NoiseResponse::default();
        response.set(&[500.0], &[0.3]);
        assert_eq!(response.at(10.0, &mut 0), 0.3);
        assert_eq!(response.at(20_000.0, &mut 0), 0.3);
        assert_eq!(response.top_hz(), f32::INFINITY);
        response.set(&[], &[]);
        assert_eq!(response.at(10.0, &mut 0), 0.0);
        // Two bands mirror into each other: the window averages them.
        response.set(&[0.0, 100.0], &[1.0, 3.0]);
        assert_eq!(response.at(0.0, &mut 0), 2.0);
    }

    #[test]
    fn moved_bands_keep_their_power_and_unusable_spacings_keep_their_level() {
        let source = [100.0, 200.0, 300.0, 400.0];
        let mut gains = [0.0; 4];
        // An octave up: every band twice as wide, half as dense in power.
        let octave_up = source.map(|f| 2.0 * f);
        spread_gains(&source, &octave_up, 1.0, &mut gains);
        for g in gains {
            assert!((g - 0.5f32.sqrt()).abs() < 1e-6, "{gains:?}");
        }
        // Squeezed to 1 Hz apart: no denser than at the smallest spacing a frame resolves.
        let squeezed = [100.0, 101.0, 102.0, 103.0];
        spread_gains(&source, &squeezed, 25.0, &mut gains);
        for g in gains {
            assert!((g - 2.0).abs() < 1e-6, "{gains:?}");
        }
        // Moved spacings that do not rise (reversed, equal, NaN) leave the band's level as it was.
        let unusable = [400.0, 300.0, 300.0, f32::NAN];
        spread_gains(&source, &unusable, 1.0, &mut gains);
        assert_eq!(gains, [1.0; 4]);
    }
}

//! `ddsp modify`: the original `modify_envelopes.py` reshapes (rescale the frequency range,
//! resample the duration, fix the pitch, remap partials), each a function `Envelope ->
//! Envelope`, applied by [`modify`] in the order remap → fix pitch → frequency range → time.
//!
//! After any change of frequencies, components at or above the Nyquist of the file's sample
//! rate are silenced (amplitude 0): DDSP drops such partials too, and a player should not have
//! to guess what to do with them.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};
use ddsp_shared::Envelope;

/// Which source partial goes to which target partial (0-based harmonic indices).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartialMap {
    /// Explicit `source:target` pairs; partials not named are dropped.
    Pairs(Vec<(usize, usize)>),
    /// Partial `k` moves to `2k`: the learned spectrum spread over the odd harmonics
    /// (1st, 3rd, 5th… counting from 1), a hollow, clarinet-like sound.
    Odd,
    /// Partial `k` moves to `2k + 1`: the spectrum spread over the even harmonics (2nd, 4th…).
    Even,
}

impl FromStr for PartialMap {
    type Err = String;

    /// `odd`, `even`, or comma-separated `source:target` pairs such as `0:0,1:2,2:4`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "odd" => return Ok(PartialMap::Odd),
            "even" => return Ok(PartialMap::Even),
            _ => {}
        }
        let mut pairs = Vec::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let parsed =
                entry.split_once(':').and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
            let Some((source, target)) = parsed else {
                return Err(format!(
                    "`{entry}` is not a `source:target` pair of partial indices (expected e.g. `0:0,1:2,2:4`, `odd` or `even`)"
                ));
            };
            if let Some(&(other, _)) = pairs.iter().find(|&&(_, t)| t == target) {
                return Err(format!("target partial {target} is given twice (from {other} and from {source})"));
            }
            pairs.push((source, target));
        }
        if pairs.is_empty() {
            return Err("empty mapping (expected e.g. `0:0,1:2,2:4`, `odd` or `even`)".to_owned());
        }
        Ok(PartialMap::Pairs(pairs))
    }
}

impl fmt::Display for PartialMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartialMap::Odd => write!(f, "odd"),
            PartialMap::Even => write!(f, "even"),
            PartialMap::Pairs(p) => {
                let parts: Vec<String> = p.iter().map(|(s, t)| format!("{s}:{t}")).collect();
                write!(f, "{}", parts.join(","))
            }
        }
    }
}

impl PartialMap {
    /// The `(source, target)` pairs for a file with `harmonic_count` harmonics.
    pub fn pairs(&self, harmonic_count: usize) -> Vec<(usize, usize)> {
        match self {
            PartialMap::Pairs(p) => p.clone(),
            PartialMap::Odd => (0..harmonic_count).map(|k| (k, 2 * k)).collect(),
            PartialMap::Even => (0..harmonic_count).map(|k| (k, 2 * k + 1)).collect(),
        }
    }
}

/// How to change the length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimeChange {
    /// Make the file this long, seconds.
    DurationS(f64),
    /// Multiply the length by this factor (2 = twice as long, half as fast).
    Scale(f64),
}

/// Which reshapes to apply; `None` leaves that aspect alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModifyOptions {
    /// Move partials (applied first).
    pub remap: Option<PartialMap>,
    /// Constant f0, Hz; harmonics keep their ratio to f0.
    pub fix_pitch_hz: Option<f64>,
    /// `(lo, hi)` Hz: the audible harmonics are spread log-linearly over this range.
    pub freq_range_hz: Option<(f64, f64)>,
    /// New length (applied last).
    pub time: Option<TimeChange>,
}

/// Applies the requested reshapes in the order remap → fix pitch → frequency range → time.
pub fn modify(env: &Envelope, options: &ModifyOptions) -> Result<Envelope> {
    if options.remap.is_none()
        && options.fix_pitch_hz.is_none()
        && options.freq_range_hz.is_none()
        && options.time.is_none()
    {
        bail!(
            "nothing to do: give at least one of --freq-range, --duration, --time-scale, --fix-pitch, --remap-partials"
        );
    }
    let mut out = env.clone();
    if let Some(map) = &options.remap {
        out = remap_partials(&out, map)?;
    }
    if let Some(hz) = options.fix_pitch_hz {
        out = fix_pitch(&out, hz)?;
    }
    if let Some((lo, hi)) = options.freq_range_hz {
        out = rescale_frequency_range(&out, lo, hi)?;
    }
    if let Some(change) = options.time {
        out = resample_time(&out, change)?;
    }
    Ok(out)
}

/// Silences harmonics at or above Nyquist and bands whose centre is above it.
pub fn silence_above_nyquist(env: &mut Envelope) {
    let nyquist = (env.sample_rate_hz / 2.0) as f32;
    for (a, f) in env.harmonic_amps.iter_mut().zip(&env.harmonic_freqs_hz) {
        if *f >= nyquist {
            *a = 0.0;
        }
    }
    for (m, c) in env.band_mags.iter_mut().zip(&env.band_centres_hz) {
        if *c > nyquist {
            *m = 0.0;
        }
    }
}

/// Moves each source partial's amplitude envelope to its target partial, at the target's
/// place in the source's series: `f_t = f_s · (t+1)/(s+1)` (a vibrato or a slight
/// inharmonicity of the source comes along). Target slots nobody maps to are silent.
pub fn remap_partials(env: &Envelope, map: &PartialMap) -> Result<Envelope> {
    let h_in = env.harmonic_count;
    let pairs = map.pairs(h_in);
    if let Some(&(s, _)) = pairs.iter().find(|&&(s, _)| s >= h_in) {
        bail!(
            "--remap-partials names partial {s}, but the file has only {h_in} harmonics (0..={})",
            h_in.saturating_sub(1)
        );
    }
    let h = pairs.iter().map(|&(_, t)| t + 1).max().unwrap_or(0);
    let n = env.frame_count();
    let mut out = env.clone();
    out.harmonic_count = h;
    out.harmonic_freqs_hz = Vec::with_capacity(n * h);
    out.harmonic_amps = vec![0.0; n * h];
    for i in 0..n {
        let f0 = env.f0_hz[i];
        out.harmonic_freqs_hz.extend((0..h).map(|k| f0 * (k + 1) as f32));
        for &(s, t) in &pairs {
            out.harmonic_freqs_hz[i * h + t] = env.harmonic_freqs(i)[s] * (t + 1) as f32 / (s + 1) as f32;
            out.harmonic_amps[i * h + t] = env.harmonic_amps(i)[s];
        }
    }
    silence_above_nyquist(&mut out);
    Ok(out)
}

/// Holds f0 at `f0_hz` in every frame; each harmonic keeps its ratio to the frame's f0 (frames
/// without an f0 get an exact harmonic series). Noise is not pitched and stays.
pub fn fix_pitch(env: &Envelope, f0_hz: f64) -> Result<Envelope> {
    if !(f0_hz.is_finite() && f0_hz > 0.0) {
        bail!("--fix-pitch must be a positive frequency in Hz, got {f0_hz}");
    }
    let target = f0_hz as f32;
    let h = env.harmonic_count;
    let mut out = env.clone();
    for i in 0..env.frame_count() {
        let f0 = env.f0_hz[i];
        for k in 0..h {
            out.harmonic_freqs_hz[i * h + k] =
                if f0 > 0.0 { env.harmonic_freqs(i)[k] * target / f0 } else { target * (k + 1) as f32 };
        }
        out.f0_hz[i] = target;
    }
    silence_above_nyquist(&mut out);
    Ok(out)
}

/// Lowest and highest frequency of the audible harmonics (amplitude above 0).
pub fn audible_harmonic_range_hz(env: &Envelope) -> Option<(f32, f32)> {
    env.harmonic_freqs_hz.iter().zip(&env.harmonic_amps).filter(|&(&f, &a)| a > 0.0 && f > 0.0).fold(
        None,
        |acc, (&f, _)| match acc {
            None => Some((f, f)),
            Some((lo, hi)) => Some((lo.min(f), hi.max(f))),
        },
    )
}

/// Spreads the audible harmonics log-linearly from their range onto `lo_hz..=hi_hz`: a
/// frequency `f` goes to `lo · (hi/lo)^((ln f − ln f_min) / (ln f_max − ln f_min))`. The same
/// map moves f0, the silent harmonics and the noise band centres (0 Hz stays 0 Hz), so the
/// whole sound is squeezed or widened together. A file whose audible harmonics sit at one
/// frequency lands at the geometric centre of the range.
pub fn rescale_frequency_range(env: &Envelope, lo_hz: f64, hi_hz: f64) -> Result<Envelope> {
    let nyquist = env.sample_rate_hz / 2.0;
    if !(lo_hz.is_finite() && hi_hz.is_finite() && lo_hz > 0.0 && lo_hz < hi_hz) {
        bail!("--freq-range needs 0 < LO < HI, got {lo_hz}:{hi_hz}");
    }
    if hi_hz > nyquist {
        bail!(
            "--freq-range HI {hi_hz} Hz is above the Nyquist frequency of the file ({nyquist} Hz at sample_rate={}); enrich it first or pick a lower HI",
            env.sample_rate_hz
        );
    }
    let Some((f_min, f_max)) = audible_harmonic_range_hz(env) else {
        bail!("the file has no audible harmonics (every amplitude is 0): no frequency range to rescale");
    };
    let (ln_lo, ln_hi) = (lo_hz.ln(), hi_hz.ln());
    let (ln_min, ln_max) = (f64::from(f_min).ln(), f64::from(f_max).ln());
    let map = |f: f32| -> f32 {
        if f <= 0.0 {
            return 0.0;
        }
        let t = if ln_max > ln_min { (f64::from(f).ln() - ln_min) / (ln_max - ln_min) } else { 0.5 };
        (ln_lo + t * (ln_hi - ln_lo)).exp() as f32
    };
    let mut out = env.clone();
    out.f0_hz.iter_mut().for_each(|f| *f = map(*f));
    out.harmonic_freqs_hz.iter_mut().for_each(|f| *f = map(*f));
    out.band_centres_hz.iter_mut().for_each(|f| *f = map(*f));
    // The audible extremes map onto LO and HI exactly, up to f32 rounding: pin them.
    for (f, &a) in out.harmonic_freqs_hz.iter_mut().zip(&env.harmonic_amps) {
        if a > 0.0 {
            *f = f.clamp(lo_hz as f32, hi_hz as f32);
        }
    }
    silence_above_nyquist(&mut out);
    Ok(out)
}

/// Resamples the frames in time (linear interpolation between neighbouring frames). The frame
/// rate and the index spacing stay (a downsampled file stays downsampled); the number of
/// frames changes so the file lasts `DurationS` seconds or `Scale` times as long.
pub fn resample_time(env: &Envelope, change: TimeChange) -> Result<Envelope> {
    let n = env.frame_count();
    if n == 0 {
        bail!("the file has no frames to resample");
    }
    let step = env.frame_indices.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(1);
    let first = env.frame_indices[0];
    let span_frames = (env.frame_indices[n - 1] - first + step) as f64;
    let scale = match change {
        TimeChange::Scale(x) if x.is_finite() && x > 0.0 => x,
        TimeChange::Scale(x) => bail!("--time-scale must be a positive factor, got {x}"),
        TimeChange::DurationS(s) if s.is_finite() && s > 0.0 => s * env.frame_rate_hz / span_frames,
        TimeChange::DurationS(s) => {
            bail!("--duration must be a positive number of seconds, got {s}")
        }
    };
    let count = ((span_frames * scale / step as f64).round() as usize).max(1);
    if count > 100_000_000 {
        bail!("the result would hold {count} frames; pick a smaller --duration or --time-scale");
    }
    let h = env.harmonic_count;
    let b = env.noise_band_count;
    let mut out = env.empty_like(h, b, count);
    out.frame_indices = (0..count as u64).map(|j| first + j * step).collect();
    let mut src = 0;
    for j in 0..count {
        // Position in the source, in frame indices.
        let pos = first as f64 + (j as u64 * step) as f64 / scale;
        while src + 1 < n && env.frame_indices[src + 1] as f64 <= pos {
            src += 1;
        }
        let (i0, i1, t) = if src + 1 < n && pos > env.frame_indices[src] as f64 {
            let a = env.frame_indices[src] as f64;
            let c = env.frame_indices[src + 1] as f64;
            (src, src + 1, ((pos - a) / (c - a)) as f32)
        } else {
            (src, src, 0.0)
        };
        let lerp = |v: &[f32], w: usize, k: usize| v[i0 * w + k] + (v[i1 * w + k] - v[i0 * w + k]) * t;
        out.f0_hz.push(lerp(&env.f0_hz, 1, 0));
        for k in 0..h {
            out.harmonic_freqs_hz.push(lerp(&env.harmonic_freqs_hz, h, k));
            out.harmonic_amps.push(lerp(&env.harmonic_amps, h, k));
        }
        for k in 0..b {
            out.band_centres_hz.push(lerp(&env.band_centres_hz, b, k));
            out.band_mags.push(lerp(&env.band_mags, b, k));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// 100 frames, f0 gliding 200 → 299 Hz, 10 harmonics of amplitude 1/(k+1), 5 bands.
    fn glide() -> Envelope {
        let mut env = Envelope::silent(250.0, 16000.0, 100, 10, 5, 0.0);
        for i in 0..100 {
            let f0 = 200.0 + i as f32;
            env.f0_hz[i] = f0;
            for k in 0..10 {
                env.harmonic_freqs_hz[i * 10 + k] = f0 * (k + 1) as f32;
                env.harmonic_amps[i * 10 + k] = 1.0 / (k + 1) as f32;
            }
            for k in 0..5 {
                env.band_mags[i * 5 + k] = 0.01;
            }
        }
        env
    }

    #[test]
    fn partial_maps_parse_and_reject_bad_entries() {
        assert_eq!("0:0, 1:2,2:4".parse::<PartialMap>().unwrap(), PartialMap::Pairs(vec![(0, 0), (1, 2), (2, 4)]));
        assert_eq!("ODD".parse::<PartialMap>().unwrap(), PartialMap::Odd);
        let err = "0:0,1-2".parse::<PartialMap>().unwrap_err();
        assert!(err.contains("`1-2`"), "{err}");
        let err = "0:3,1:3".parse::<PartialMap>().unwrap_err();
        assert!(err.contains("target partial 3 is given twice"), "{err}");
    }

    #[test]
    fn remap_moves_amplitude_envelopes_to_the_target_slots() {
        let env = glide();
        let out = remap_partials(&env, &"0:0,1:2,2:4".parse().unwrap()).unwrap();
        out.validate().unwrap();
        assert_eq!(out.harmonic_count, 5);
        for i in [0, 50, 99] {
            let f0 = env.f0_hz[i];
            assert_eq!(out.harmonic_amps(i), &[1.0, 0.0, 0.5, 0.0, 1.0 / 3.0]);
            assert_relative_eq!(out.harmonic_freqs(i)[2], 3.0 * f0);
            assert_relative_eq!(out.harmonic_freqs(i)[4], 5.0 * f0);
        }
        let odd = remap_partials(&env, &PartialMap::Odd).unwrap();
        assert_eq!(odd.harmonic_count, 19);
        assert_eq!(odd.harmonic_amps(0)[18], 0.1);
        assert_eq!(odd.harmonic_amps(0)[17], 0.0);
        let err = remap_partials(&env, &"12:0".parse().unwrap()).unwrap_err().to_string();
        assert!(err.contains("partial 12") && err.contains("only 10 harmonics"), "{err}");
    }

    #[test]
    fn fixed_pitch_holds_f0_and_harmonics_follow() {
        let out = fix_pitch(&glide(), 440.0).unwrap();
        for i in 0..100 {
            assert_eq!(out.f0_hz[i], 440.0);
            for k in 0..10 {
                assert_relative_eq!(out.harmonic_freqs(i)[k], 440.0 * (k + 1) as f32, max_relative = 1e-6);
            }
        }
        // 440 * 10 = 4400 Hz, below the 8 kHz Nyquist: nothing silenced.
        assert_eq!(out.harmonic_amps, glide().harmonic_amps);
    }

    #[test]
    fn frequency_range_is_hit_exactly_and_order_is_kept() {
        let out = rescale_frequency_range(&glide(), 100.0, 1000.0).unwrap();
        let (lo, hi) = audible_harmonic_range_hz(&out).unwrap();
        assert_relative_eq!(lo, 100.0, max_relative = 1e-5);
        assert_relative_eq!(hi, 1000.0, max_relative = 1e-5);
        for i in 0..100 {
            assert!(out.harmonic_freqs(i).windows(2).all(|w| w[0] < w[1]));
        }
        let err = rescale_frequency_range(&glide(), 100.0, 9000.0).unwrap_err().to_string();
        assert!(err.contains("Nyquist"), "{err}");
    }

    #[test]
    fn time_scale_and_duration_give_the_requested_length() {
        let env = glide();
        let twice = resample_time(&env, TimeChange::Scale(2.0)).unwrap();
        assert_eq!(twice.frame_count(), 200);
        assert_relative_eq!(twice.duration_s(), 2.0 * env.duration_s());
        // Frame 100 of the slow file is frame 50 of the original.
        assert_relative_eq!(twice.f0_hz[100], env.f0_hz[50]);
        let three_s = resample_time(&env, TimeChange::DurationS(3.0)).unwrap();
        assert_relative_eq!(three_s.duration_s(), 3.0, epsilon = 1.0 / 250.0);
        assert_relative_eq!(three_s.f0_hz[three_s.frame_count() / 2], 250.0, epsilon = 1.0);
    }

    #[test]
    fn operations_combine_in_order() {
        let options =
            ModifyOptions { fix_pitch_hz: Some(100.0), time: Some(TimeChange::Scale(0.5)), ..Default::default() };
        let out = modify(&glide(), &options).unwrap();
        assert_eq!(out.frame_count(), 50);
        assert!(out.f0_hz.iter().all(|&f| f == 100.0));
        assert!(modify(&glide(), &ModifyOptions::default()).is_err());
    }
}

//! `ddsp map`: spectral mapping (the original's `sc/spectral_mapping.scd`) — learned partials
//! moved onto a user-defined target spectrum, given as frequency ratios to f0.
//!
//! The target ratios are sorted ascending; harmonic `k` (the k-th lowest learned partial) goes
//! to the k-th lowest target ratio, at `f0 · ratio` Hz, keeping its amplitude envelope. The
//! f0 contour (vibrato, glides) therefore carries over, while the learned series' own ratios
//! are replaced. A target with fewer ratios than the file has harmonics keeps only that many
//! partials (the highest are dropped); a longer one uses as many ratios as there are
//! harmonics. Partials landing at or above Nyquist are silenced.
//!
//! Targets:
//! - a list of ratios: `1,2.76,5.40,8.93` (a bell) — each a decimal or a fraction `3/2`;
//! - an equal-tempered scale: `tet:19` gives the ratios `2^(k/19)`, k = 0, 1, 2, … — the
//!   partials are packed onto successive scale steps above f0;
//! - a file (`.csv` or text) of ratios separated by commas, semicolons, spaces or new lines;
//!   `#` starts a comment, and a first line that is not numbers is taken as a header.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ddsp_shared::Envelope;

use super::modify::silence_above_nyquist;

/// Steps per octave allowed for `tet:N`, as the renderer's TET size (SPEC §4).
pub const TET_RANGE: std::ops::RangeInclusive<u32> = 1..=96;

/// A target spectrum.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetSpectrum {
    /// Explicit ratios to f0, ascending.
    Ratios(Vec<f64>),
    /// `N` equal steps per octave; ratio `k` is `2^(k/N)`.
    Tet(u32),
}

impl TargetSpectrum {
    /// Parses a `--target` value: `tet:N`, a path to an existing file, or a ratio list.
    pub fn parse(spec: &str) -> Result<Self> {
        let trimmed = spec.trim();
        if let Some(n) = trimmed.strip_prefix("tet:") {
            let steps: u32 = n
                .trim()
                .parse()
                .with_context(|| format!("`{trimmed}`: expected tet:N with N a whole number of steps per octave"))?;
            if !TET_RANGE.contains(&steps) {
                bail!("`{trimmed}`: steps per octave must be in {}..={}", TET_RANGE.start(), TET_RANGE.end());
            }
            return Ok(TargetSpectrum::Tet(steps));
        }
        let path = Path::new(trimmed);
        if path.is_file() {
            return Self::read_file(path);
        }
        let parsed: Result<Vec<f64>> = split_tokens(trimmed).map(parse_ratio).collect();
        match parsed {
            Ok(ratios) => Self::from_ratios(ratios).with_context(|| format!("--target `{trimmed}`")),
            Err(_) if trimmed.contains(['/', '\\']) || [".csv", ".txt"].iter().any(|e| trimmed.ends_with(e)) => {
                bail!("target file {trimmed} does not exist")
            }
            Err(e) => Err(e.context(format!(
                "--target `{trimmed}`: expected ratios such as `1,2.76,5.40`, `tet:19` or a file of ratios"
            ))),
        }
    }

    /// Reads ratios from a CSV or text file; errors name the file and line.
    pub fn read_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read target file {}", path.display()))?;
        let mut ratios = Vec::new();
        let mut seen_line = false;
        for (number, line) in text.lines().enumerate() {
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let tokens: Vec<&str> = split_tokens(content).collect();
            let is_first = !seen_line;
            seen_line = true;
            if is_first && tokens.iter().all(|t| parse_ratio(t).is_err()) {
                continue; // a header such as `ratio`
            }
            for t in tokens {
                let r = parse_ratio(t).with_context(|| format!("{} line {}", path.display(), number + 1))?;
                ratios.push(r);
            }
        }
        Self::from_ratios(ratios).with_context(|| format!("target file {}", path.display()))
    }

    /// Validates and sorts explicit ratios.
    pub fn from_ratios(mut ratios: Vec<f64>) -> Result<Self> {
        if ratios.is_empty() {
            bail!("no ratios given");
        }
        if let Some(r) = ratios.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
            bail!("ratios must be positive numbers, got {r}");
        }
        ratios.sort_by(f64::total_cmp);
        Ok(TargetSpectrum::Ratios(ratios))
    }

    /// The first `count` ratios (fewer when a list is shorter).
    pub fn ratios(&self, count: usize) -> Vec<f64> {
        match self {
            TargetSpectrum::Ratios(r) => r.iter().copied().take(count).collect(),
            TargetSpectrum::Tet(n) => (0..count).map(|k| 2f64.powf(k as f64 / f64::from(*n))).collect(),
        }
    }
}

fn split_tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c == ',' || c == ';' || c.is_whitespace()).filter(|t| !t.is_empty())
}

/// A decimal (`2.76`) or a fraction (`3/2`).
fn parse_ratio(token: &str) -> Result<f64> {
    let value = match token.split_once('/') {
        Some((a, b)) => {
            let (a, b): (f64, f64) = (a.trim().parse()?, b.trim().parse()?);
            a / b
        }
        None => token.parse()?,
    };
    if !(value.is_finite() && value > 0.0) {
        bail!("`{token}` is not a positive ratio");
    }
    Ok(value)
}

/// Moves harmonic `k` of every frame to `f0 · ratio_k` with its amplitude; see the module
/// docs.
pub fn map_to_target(env: &Envelope, target: &TargetSpectrum) -> Envelope {
    let ratios = target.ratios(env.harmonic_count);
    let h = ratios.len();
    let n = env.frame_count();
    let mut out = env.clone();
    out.harmonic_count = h;
    out.harmonic_freqs_hz = Vec::with_capacity(n * h);
    out.harmonic_amps = Vec::with_capacity(n * h);
    for i in 0..n {
        let f0 = f64::from(env.f0_hz[i]);
        out.harmonic_freqs_hz.extend(ratios.iter().map(|r| (f0 * r) as f32));
        out.harmonic_amps.extend_from_slice(&env.harmonic_amps(i)[..h]);
    }
    silence_above_nyquist(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn harmonic(frames: usize, h: usize) -> Envelope {
        let mut env = Envelope::silent(250.0, 16000.0, frames, h, 3, 220.0);
        for (j, a) in env.harmonic_amps.iter_mut().enumerate() {
            *a = 1.0 / ((j % h) + 1) as f32;
        }
        env
    }

    #[test]
    fn ratio_lists_parse_with_fractions_and_sort() {
        assert_eq!(TargetSpectrum::parse("1, 3/2,2.76").unwrap(), TargetSpectrum::Ratios(vec![1.0, 1.5, 2.76]));
        assert_eq!(TargetSpectrum::parse("2,1").unwrap(), TargetSpectrum::Ratios(vec![1.0, 2.0]));
        let err = format!("{:#}", TargetSpectrum::parse("1,x,3").unwrap_err());
        assert!(err.contains("1,x,3"), "{err}");
        assert!(TargetSpectrum::parse("1,-2").is_err());
        assert!(TargetSpectrum::parse("tet:0").is_err());
        assert!(format!("{:#}", TargetSpectrum::parse("nope/targets.csv").unwrap_err()).contains("does not exist"));
    }

    #[test]
    fn target_files_skip_headers_and_comments_and_name_bad_lines() {
        let dir = std::env::temp_dir().join(format!("ddsp-map-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("bell.csv");
        std::fs::write(&good, "ratio\n1.0\n2.76 # second mode\n5.40,8.93\n").unwrap();
        assert_eq!(
            TargetSpectrum::parse(good.to_str().unwrap()).unwrap(),
            TargetSpectrum::Ratios(vec![1.0, 2.76, 5.4, 8.93])
        );
        let bad = dir.join("bad.txt");
        std::fs::write(&bad, "1\n2\nthree\n").unwrap();
        let err = format!("{:#}", TargetSpectrum::parse(bad.to_str().unwrap()).unwrap_err());
        assert!(err.contains("bad.txt line 3"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn partials_land_on_the_target_ratios_with_their_amplitudes() {
        let env = harmonic(4, 6);
        let out = map_to_target(&env, &TargetSpectrum::parse("1,2.76,5.40,8.93").unwrap());
        out.validate().unwrap();
        assert_eq!(out.harmonic_count, 4);
        for i in 0..4 {
            for (k, r) in [1.0f32, 2.76, 5.40, 8.93].iter().enumerate() {
                assert_relative_eq!(out.harmonic_freqs(i)[k], 220.0 * r, max_relative = 1e-6);
                assert_eq!(out.harmonic_amps(i)[k], env.harmonic_amps(i)[k]);
            }
        }
    }

    #[test]
    fn tet_packs_partials_on_scale_steps() {
        let out = map_to_target(&harmonic(1, 20), &TargetSpectrum::Tet(19));
        assert_eq!(out.harmonic_count, 20);
        assert_relative_eq!(out.harmonic_freqs(0)[19], 440.0, max_relative = 1e-6);
        assert_relative_eq!(
            out.harmonic_freqs(0)[1] / out.harmonic_freqs(0)[0],
            2f32.powf(1.0 / 19.0),
            max_relative = 1e-6
        );
    }
}

//! `ddsp combine`: chunks (4 s each in the original) glued into one envelope with continuous
//! frame indices, in the order the caller gives (the CLI sorts names naturally first).
//!
//! Chunk `c` is shifted so its first frame follows the previous chunk's last frame by that
//! chunk's frame step (the `frame_step` metadata a downsampled file carries, else the spacing
//! of its last two frames, else 1): a chunk of 1000 frames downsampled by 4 (indices 0..=996)
//! is followed at index 1000, where its next frame would have been.

use anyhow::{bail, Result};
use ddsp_shared::Envelope;

use super::downsample::recorded_frame_step;

/// One input: a name for error messages (the file) and its envelope.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// Shown in errors, usually the file path.
    pub name: String,
    /// The chunk's frames.
    pub envelope: Envelope,
}

/// Whether two rates read from files are the same rate (CSV text gives exact values; npz may
/// carry float32 rounding).
pub fn same_rate(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

/// The index step after the last frame of `env`.
fn trailing_step(env: &Envelope) -> u64 {
    let recorded = recorded_frame_step(env);
    if recorded > 1 {
        return recorded;
    }
    match env.frame_indices.as_slice() {
        [.., a, b] => b - a,
        _ => 1,
    }
}

/// Concatenates the chunks in the given order. Refuses chunks whose frame or sample rate
/// differs from the first one's, naming both files. Chunks with fewer harmonics or bands than
/// the widest are padded with silent components (harmonic `k` at `(k+1)·f0`, a missing band at
/// the centre the widest chunk gives it). Metadata other than the rates comes from the first
/// chunk (without its `frame_step`, which no longer describes the whole).
pub fn combine(chunks: &[Chunk]) -> Result<Envelope> {
    let Some(first) = chunks.first() else { bail!("no chunks to combine") };
    for c in chunks {
        if c.envelope.frame_count() == 0 {
            bail!("{} holds no frames", c.name);
        }
        if !same_rate(c.envelope.frame_rate_hz, first.envelope.frame_rate_hz) {
            bail!(
                "frame rates differ: {} has frame_rate={} but {} has frame_rate={}; combine only chunks of one run",
                c.name,
                c.envelope.frame_rate_hz,
                first.name,
                first.envelope.frame_rate_hz
            );
        }
        if !same_rate(c.envelope.sample_rate_hz, first.envelope.sample_rate_hz) {
            bail!(
                "sample rates differ: {} has sample_rate={} but {} has sample_rate={}; combine only chunks of one run",
                c.name,
                c.envelope.sample_rate_hz,
                first.name,
                first.envelope.sample_rate_hz
            );
        }
    }
    let h = chunks.iter().map(|c| c.envelope.harmonic_count).max().unwrap_or(0);
    let widest = chunks.iter().max_by_key(|c| c.envelope.noise_band_count).expect("non-empty");
    let b = widest.envelope.noise_band_count;
    let total: usize = chunks.iter().map(|c| c.envelope.frame_count()).sum();
    let mut out = first.envelope.empty_like(h, b, total);
    out.extra_metadata.retain(|(k, _)| k != super::downsample::FRAME_STEP_KEY);
    let mut offset = 0u64;
    for c in chunks {
        let env = &c.envelope;
        let start = env.frame_indices[0];
        for i in 0..env.frame_count() {
            out.frame_indices.push(offset + env.frame_indices[i] - start);
            let f0 = env.f0_hz[i];
            out.f0_hz.push(f0);
            out.harmonic_freqs_hz.extend_from_slice(env.harmonic_freqs(i));
            out.harmonic_amps.extend_from_slice(env.harmonic_amps(i));
            for k in env.harmonic_count..h {
                out.harmonic_freqs_hz.push(f0 * (k + 1) as f32);
                out.harmonic_amps.push(0.0);
            }
            out.band_centres_hz.extend_from_slice(env.band_centres(i));
            out.band_mags.extend_from_slice(env.band_mags(i));
            for k in env.noise_band_count..b {
                out.band_centres_hz.push(widest.envelope.band_centres(0)[k]);
                out.band_mags.push(0.0);
            }
        }
        offset += env.frame_indices[env.frame_count() - 1] - start + trailing_step(env);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::downsample::{downsample, DownsampleOptions};

    fn chunk(name: &str, frames: usize, f0: f32) -> Chunk {
        Chunk { name: name.into(), envelope: Envelope::silent(250.0, 16000.0, frames, 3, 4, f0) }
    }

    #[test]
    fn indices_continue_across_chunks_in_the_given_order() {
        let out = combine(&[chunk("a", 3, 100.0), chunk("b", 2, 200.0)]).unwrap();
        out.validate().unwrap();
        assert_eq!(out.frame_indices, vec![0, 1, 2, 3, 4]);
        assert_eq!(out.f0_hz, vec![100.0, 100.0, 100.0, 200.0, 200.0]);
    }

    #[test]
    fn downsampled_chunks_keep_their_true_length() {
        let opts = DownsampleOptions { frame_step: 4, ..Default::default() };
        let a =
            Chunk { name: "a".into(), envelope: downsample(&Envelope::silent(250.0, 16000.0, 10, 2, 2, 1.0), &opts) };
        let b =
            Chunk { name: "b".into(), envelope: downsample(&Envelope::silent(250.0, 16000.0, 10, 2, 2, 2.0), &opts) };
        let out = combine(&[a, b]).unwrap();
        // Chunk a: indices 0,4,8 of 10 frames → chunk b starts at 12 (8 + step 4).
        assert_eq!(out.frame_indices, vec![0, 4, 8, 12, 16, 20]);
    }

    #[test]
    fn differing_rates_are_refused_naming_both_files() {
        let mut b = chunk("chunk_2.csv", 2, 100.0);
        b.envelope.sample_rate_hz = 44100.0;
        let err = combine(&[chunk("chunk_1.csv", 2, 100.0), b]).unwrap_err().to_string();
        assert!(
            err.contains("chunk_2.csv") && err.contains("chunk_1.csv") && err.contains("sample_rate=44100"),
            "{err}"
        );
        let mut c = chunk("chunk_3.csv", 2, 100.0);
        c.envelope.frame_rate_hz = 200.0;
        let err = combine(&[chunk("chunk_1.csv", 2, 100.0), c]).unwrap_err().to_string();
        assert!(err.contains("chunk_3.csv") && err.contains("frame_rate=200"), "{err}");
    }

    #[test]
    fn narrower_chunks_are_padded_with_silence() {
        let wide = chunk("wide", 1, 100.0);
        let narrow = Chunk { name: "narrow".into(), envelope: Envelope::silent(250.0, 16000.0, 1, 1, 2, 50.0) };
        let out = combine(&[narrow, wide]).unwrap();
        out.validate().unwrap();
        assert_eq!(out.harmonic_freqs(0), &[50.0, 100.0, 150.0]);
        assert_eq!(out.band_centres(0)[3], out.band_centres(1)[3]);
    }
}

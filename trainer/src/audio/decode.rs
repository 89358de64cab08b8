//! Reading WAV files of every common kind into one mono `f32` signal.
//!
//! Users bring whatever their recorder or DAW wrote: 8-bit unsigned, 16/24/32-bit signed PCM or
//! 32-bit float, mono, stereo or more channels. Analysis and training work on one channel, so
//! every kind is converted to `f32` in `[-1, 1]` and the channels are averaged (a plain mean, so
//! a signal present identically on every channel keeps its level).

use std::path::Path;

use anyhow::{bail, Context};

/// Reads `path` and returns its samples mixed down to mono, as `f32` in `[-1, 1]`, with the
/// file's sample rate in Hz.
///
/// Errors name the file and say what was wrong: not a WAV (or a kind of WAV hound cannot read),
/// no samples at all, a truncated data chunk, or non-finite float samples.
pub fn read_wav_mono(path: &Path) -> anyhow::Result<(Vec<f32>, u32)> {
    let name = path.display();
    let reader = hound::WavReader::open(path).map_err(|err| match err {
        hound::Error::IoError(io) => anyhow::Error::new(io).context(format!("cannot open {name}")),
        other => anyhow::anyhow!(
            "{name} is not a WAV file hound can read ({other}); expected RIFF/WAVE audio with \
             8/16/24/32-bit PCM or 32-bit float samples"
        ),
    })?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    if channels == 0 {
        bail!("{name}: the WAV header declares 0 channels");
    }
    if spec.sample_rate == 0 {
        bail!("{name}: the WAV header declares a sample rate of 0 Hz");
    }
    let interleaved = read_interleaved_f32(reader).with_context(|| format!("cannot decode {name}"))?;
    if interleaved.is_empty() {
        bail!("{name} is empty: it holds no audio samples");
    }
    if let Some(pos) = interleaved.iter().position(|v| !v.is_finite()) {
        bail!(
            "{name}: sample {} (channel {}) is {}, expected a finite number",
            pos / channels,
            pos % channels,
            interleaved[pos]
        );
    }
    let mono = mix_to_mono(&interleaved, channels);
    Ok((mono, spec.sample_rate))
}

/// Fails with a message naming `path` when `sample_count` samples at `sample_rate_hz` are fewer
/// than `min_samples` (one analysis window): such a file has nothing to measure.
pub fn require_min_len(
    path: &Path,
    sample_count: usize,
    sample_rate_hz: u32,
    min_samples: usize,
) -> anyhow::Result<()> {
    if sample_count < min_samples {
        bail!(
            "{} is too short: {} samples ({:.1} ms at {} Hz), but one analysis window needs at \
             least {} samples ({:.1} ms)",
            path.display(),
            sample_count,
            sample_count as f64 * 1000.0 / f64::from(sample_rate_hz),
            sample_rate_hz,
            min_samples,
            min_samples as f64 * 1000.0 / f64::from(sample_rate_hz),
        );
    }
    Ok(())
}

/// Decodes every sample of the file as `f32` in `[-1, 1]`, channels interleaved.
fn read_interleaved_f32<R: std::io::Read>(mut reader: hound::WavReader<R>) -> anyhow::Result<Vec<f32>> {
    let spec = reader.spec();
    let samples: Result<Vec<f32>, hound::Error> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader.samples::<f32>().collect(),
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            // hound sign-extends every integer kind (8-bit unsigned included) into i32.
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            reader.samples::<i32>().map(|s| s.map(|v| (f64::from(v) * scale) as f32)).collect()
        }
        (format, bits) => {
            bail!("unsupported sample format {format:?} with {bits} bits; expected 8/16/24/32-bit PCM or 32-bit float")
        }
    };
    samples.map_err(|err| match err {
        hound::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            anyhow::anyhow!("the data chunk is truncated (the file ends before its declared length)")
        }
        other => anyhow::Error::new(other),
    })
}

/// Averages interleaved channels into one.
fn mix_to_mono(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels == 1 {
        return interleaved.to_vec();
    }
    let scale = 1.0 / channels as f32;
    interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() * scale).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, spec: hound::WavSpec, frames: &[Vec<f64>]) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for frame in frames {
            for &v in frame {
                match spec.sample_format {
                    hound::SampleFormat::Float => w.write_sample(v as f32).unwrap(),
                    hound::SampleFormat::Int => {
                        let full = (1i64 << (spec.bits_per_sample - 1)) as f64;
                        let q = (v * full).round().clamp(-full, full - 1.0) as i32;
                        if spec.bits_per_sample == 8 {
                            w.write_sample(q as i8).unwrap();
                        } else {
                            w.write_sample(q).unwrap();
                        }
                    }
                }
            }
        }
        w.finalize().unwrap();
    }

    fn spec(channels: u16, bits: u16, format: hound::SampleFormat) -> hound::WavSpec {
        hound::WavSpec { channels, sample_rate: 22050, bits_per_sample: bits, sample_format: format }
    }

    #[test]
    fn every_sample_kind_decodes_to_the_same_signal() {
        let dir = tempfile::tempdir().unwrap();
        let signal: Vec<f64> = (0..500).map(|i| 0.5 * (i as f64 * 0.05).sin()).collect();
        let kinds = [
            (8, hound::SampleFormat::Int, 1.0 / 128.0),
            (16, hound::SampleFormat::Int, 1.0 / 32768.0),
            (24, hound::SampleFormat::Int, 1e-6),
            (32, hound::SampleFormat::Int, 1e-7),
            (32, hound::SampleFormat::Float, 1e-7),
        ];
        for (bits, format, tolerance) in kinds {
            let path = dir.path().join(format!("{bits}_{format:?}.wav"));
            let frames: Vec<Vec<f64>> = signal.iter().map(|&v| vec![v]).collect();
            write_wav(&path, spec(1, bits, format), &frames);
            let (decoded, rate) = read_wav_mono(&path).unwrap();
            assert_eq!(rate, 22050);
            assert_eq!(decoded.len(), signal.len());
            let worst = decoded.iter().zip(&signal).map(|(d, s)| (f64::from(*d) - s).abs()).fold(0.0, f64::max);
            assert!(worst <= tolerance, "{bits}-bit {format:?}: worst error {worst}");
        }
    }

    #[test]
    fn channels_are_averaged_into_mono() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quad.wav");
        let frames: Vec<Vec<f64>> = (0..100).map(|_| vec![0.5, -0.5, 0.25, 0.75]).collect();
        write_wav(&path, spec(4, 16, hound::SampleFormat::Int), &frames);
        let (decoded, _) = read_wav_mono(&path).unwrap();
        assert_eq!(decoded.len(), 100);
        assert!(decoded.iter().all(|v| (v - 0.25).abs() < 1e-4), "{}", decoded[0]);
    }

    #[test]
    fn bad_files_get_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.wav");
        std::fs::write(&text, "frame_index,f0_hz\n0,220\n").unwrap();
        let err = format!("{:#}", read_wav_mono(&text).unwrap_err());
        assert!(err.contains("notes.wav") && err.contains("not a WAV"), "{err}");

        let empty = dir.path().join("empty.wav");
        write_wav(&empty, spec(1, 16, hound::SampleFormat::Int), &[]);
        let err = format!("{:#}", read_wav_mono(&empty).unwrap_err());
        assert!(err.contains("empty.wav") && err.contains("empty"), "{err}");

        let missing = dir.path().join("missing.wav");
        let err = format!("{:#}", read_wav_mono(&missing).unwrap_err());
        assert!(err.contains("missing.wav"), "{err}");

        let err = format!("{:#}", require_min_len(&empty, 10, 16000, 1024).unwrap_err());
        assert!(err.contains("too short") && err.contains("1024"), "{err}");
    }
}

//! WAV files for the whole `ddsp` command line: every WAV the CLI writes goes through
//! [`write_wav`], atomically (a failed write leaves no file and keeps what was there).

use std::path::Path;

use anyhow::{bail, Context};
use ddsp_shared::atomic_file::write_atomically;

/// Sample format of a written WAV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WavSampleFormat {
    /// 32-bit IEEE float: keeps everything, including peaks above full scale.
    #[value(name = "float")]
    Float32,
    /// 24-bit integer PCM: read by every tool; samples beyond ±1 are clipped.
    #[value(name = "int24")]
    Int24,
}

/// Writes mono `samples` at `sample_rate_hz` to `path` in `format`, atomically. Fails (leaving
/// no file) on a non-finite sample, naming its position, or on any I/O error, naming the path.
pub fn write_wav(path: &Path, samples: &[f32], sample_rate_hz: u32, format: WavSampleFormat) -> anyhow::Result<()> {
    if sample_rate_hz == 0 {
        bail!("cannot write {}: sample rate must be positive", path.display());
    }
    if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
        bail!("cannot write {}: sample {i} is {} (not a finite number)", path.display(), samples[i]);
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: sample_rate_hz,
        bits_per_sample: match format {
            WavSampleFormat::Float32 => 32,
            WavSampleFormat::Int24 => 24,
        },
        sample_format: match format {
            WavSampleFormat::Float32 => hound::SampleFormat::Float,
            WavSampleFormat::Int24 => hound::SampleFormat::Int,
        },
    };
    write_atomically(path, |file| -> anyhow::Result<()> {
        let mut writer = hound::WavWriter::new(file, spec)?;
        match format {
            WavSampleFormat::Float32 => {
                for &s in samples {
                    writer.write_sample(s)?;
                }
            }
            WavSampleFormat::Int24 => {
                const FULL_SCALE: f32 = 8_388_607.0;
                for &s in samples {
                    writer.write_sample((s.clamp(-1.0, 1.0) * FULL_SCALE).round() as i32)?;
                }
            }
        }
        writer.finalize()?;
        Ok(())
    })
    .with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a WAV as `f32` samples in -1..1 (channels interleaved as stored) with its sample rate
/// and channel count. For checking what the CLI wrote; decoding user audio for training lives
/// in the audio front end.
pub fn read_wav_f32(path: &Path) -> anyhow::Result<(Vec<f32>, u32, u16)> {
    let mut reader = hound::WavReader::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let spec = reader.spec();
    let samples: Result<Vec<f32>, _> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect()
        }
    };
    let samples = samples.with_context(|| format!("cannot read samples of {}", path.display()))?;
    Ok((samples, spec.sample_rate, spec.channels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ddsp-wav-io-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn float_and_int24_round_trip() {
        let dir = scratch("round-trip");
        let samples: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin() * 0.9).collect();
        for format in [WavSampleFormat::Float32, WavSampleFormat::Int24] {
            let path = dir.join("out.wav");
            write_wav(&path, &samples, 44_100, format).unwrap();
            let (back, rate, channels) = read_wav_f32(&path).unwrap();
            assert_eq!((rate, channels, back.len()), (44_100, 1, samples.len()));
            let worst = back.iter().zip(&samples).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-6, "{format:?}: error {worst}");
        }
    }

    #[test]
    fn a_nan_sample_leaves_no_file_and_names_its_position() {
        let dir = scratch("nan");
        let path = dir.join("out.wav");
        let err = write_wav(&path, &[0.0, f32::NAN], 48_000, WavSampleFormat::Float32).unwrap_err();
        assert!(format!("{err:#}").contains("sample 1"), "{err:#}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    }
}

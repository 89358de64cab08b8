//! WAV files for tests (written with hound, independently of the `ddsp` writer under test).

use std::path::Path;

/// Writes `samples` (-1..1) as a 16-bit PCM WAV with every sample repeated on `channels`.
pub fn write_wav_i16(path: &Path, samples: &[f32], sample_rate_hz: u32, channels: u16) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: sample_rate_hz,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    for s in samples {
        for _ in 0..channels {
            w.write_sample((s * 32767.0).round() as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Writes `samples` as a mono 32-bit float WAV.
pub fn write_wav_f32(path: &Path, samples: &[f32], sample_rate_hz: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: sample_rate_hz,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// The first channel of a WAV (16/24/32-bit PCM or float) as -1..1 samples, and its rate.
pub fn read_wav_first_channel(path: &Path) -> (Vec<f32>, u32) {
    let mut reader = hound::WavReader::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let spec = reader.spec();
    let channels = spec.channels as usize;
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader.samples::<i32>().map(|s| s.unwrap() as f32 * scale).collect()
        }
    };
    (samples.into_iter().step_by(channels).collect(), spec.sample_rate)
}

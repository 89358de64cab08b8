//! WAV files for the whole `ddsp` command line: every WAV the CLI writes goes through
//! [`write_wav`], atomically (a failed write leaves no file and keeps what was there).

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
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

/// Bytes of the header [`WavStream`] writes before the samples: `RIFF`/`WAVE`, a `JUNK` chunk
/// that holds the room of an RF64 `ds64` chunk (EBU Tech 3306), `fmt `, and the `data` chunk's
/// header.
pub const WAV_HEADER_BYTES: usize = 12 + (8 + DS64_BYTES) + (8 + 16) + 8;

/// Body of the `ds64` chunk: RIFF size, data size, sample count (u64 each) and an empty table.
const DS64_BYTES: usize = 28;

/// The largest size a plain RIFF header can state; a longer file becomes RF64.
const RIFF_SIZE_MAX: u64 = u32::MAX as u64;

impl WavSampleFormat {
    fn bytes_per_sample(self) -> u16 {
        match self {
            WavSampleFormat::Float32 => 4,
            WavSampleFormat::Int24 => 3,
        }
    }
}

/// The WAV header for `data_bytes` bytes of mono samples (`None`: not known yet, written as the
/// streaming convention's 0xFFFFFFFF sizes). Up to 4 GiB it is a plain RIFF/WAVE header whose
/// `JUNK` chunk readers skip; beyond that it is RF64: the 32-bit sizes read 0xFFFFFFFF and the
/// `JUNK` chunk becomes the `ds64` chunk that carries the 64-bit sizes, as EBU Tech 3306 and
/// every RF64 reader (sox, ffmpeg, Audacity, Reaper, Ardour) expect.
pub fn wav_header(format: WavSampleFormat, sample_rate_hz: u32, data_bytes: Option<u64>) -> [u8; WAV_HEADER_BYTES] {
    let bytes_per_sample = format.bytes_per_sample();
    let riff_bytes = data_bytes.map(|d| (WAV_HEADER_BYTES as u64 - 8) + d + d % 2);
    let rf64 = riff_bytes.is_some_and(|r| r > RIFF_SIZE_MAX);
    let size32 = |v: Option<u64>| if rf64 { u32::MAX } else { v.map_or(u32::MAX, |v| v.min(RIFF_SIZE_MAX) as u32) };
    let mut h = Vec::with_capacity(WAV_HEADER_BYTES);
    h.extend_from_slice(if rf64 { b"RF64" } else { b"RIFF" });
    h.extend_from_slice(&size32(riff_bytes).to_le_bytes());
    h.extend_from_slice(b"WAVE");
    h.extend_from_slice(if rf64 { b"ds64" } else { b"JUNK" });
    h.extend_from_slice(&(DS64_BYTES as u32).to_le_bytes());
    if let (true, Some(riff), Some(data)) = (rf64, riff_bytes, data_bytes) {
        h.extend_from_slice(&riff.to_le_bytes());
        h.extend_from_slice(&data.to_le_bytes());
        h.extend_from_slice(&(data / u64::from(bytes_per_sample)).to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
    } else {
        h.extend_from_slice(&[0; DS64_BYTES]);
    }
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    let format_tag: u16 = match format {
        WavSampleFormat::Float32 => 3, // WAVE_FORMAT_IEEE_FLOAT
        WavSampleFormat::Int24 => 1,   // WAVE_FORMAT_PCM
    };
    h.extend_from_slice(&format_tag.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // mono
    h.extend_from_slice(&sample_rate_hz.to_le_bytes());
    h.extend_from_slice(&(sample_rate_hz * u32::from(bytes_per_sample)).to_le_bytes());
    h.extend_from_slice(&bytes_per_sample.to_le_bytes()); // block align
    h.extend_from_slice(&(bytes_per_sample * 8).to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&size32(data_bytes).to_le_bytes());
    h.try_into().expect("the header layout adds up to WAV_HEADER_BYTES")
}

/// A mono WAV written as its samples come, in bounded memory whatever its length: the header
/// goes first with unknown sizes, the samples follow, and [`WavStream::finish`] goes back to
/// state the sizes (RF64 past 4 GiB). A writer that cannot seek (a FIFO) keeps the streaming
/// sizes, which readers of pipes accept.
pub struct WavStream<W: Write + Seek> {
    out: W,
    format: WavSampleFormat,
    sample_rate_hz: u32,
    samples: u64,
    peak: f32,
    /// Encoded bytes of the current batch of samples (reused).
    bytes: Vec<u8>,
}

impl<W: Write + Seek> WavStream<W> {
    /// Starts a WAV at `sample_rate_hz` (must be positive) in `format` on `out`.
    pub fn new(mut out: W, sample_rate_hz: u32, format: WavSampleFormat) -> anyhow::Result<Self> {
        if sample_rate_hz == 0 {
            bail!("sample rate must be positive");
        }
        out.write_all(&wav_header(format, sample_rate_hz, None))?;
        Ok(Self { out, format, sample_rate_hz, samples: 0, peak: 0.0, bytes: Vec::new() })
    }

    /// Appends `samples`. Fails on a non-finite sample, naming its position in the file.
    pub fn write(&mut self, samples: &[f32]) -> anyhow::Result<()> {
        if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
            bail!("sample {} is {} (not a finite number)", self.samples + i as u64, samples[i]);
        }
        // Every sample is finite: the peak is a plain maximum, kept in eight running lanes so
        // the loop runs in SIMD.
        let mut peaks = [self.peak; 8];
        for chunk in samples.chunks(8) {
            for (p, &s) in peaks.iter_mut().zip(chunk) {
                let magnitude = s.abs();
                *p = if magnitude > *p { magnitude } else { *p };
            }
        }
        self.peak = peaks.into_iter().fold(self.peak, f32::max);
        let width = self.format.bytes_per_sample() as usize;
        self.bytes.clear();
        self.bytes.resize(samples.len() * width, 0);
        match self.format {
            WavSampleFormat::Float32 => {
                for (bytes, &s) in self.bytes.chunks_exact_mut(4).zip(samples) {
                    bytes.copy_from_slice(&s.to_le_bytes());
                }
            }
            WavSampleFormat::Int24 => {
                const FULL_SCALE: f32 = 8_388_607.0;
                for (bytes, &s) in self.bytes.chunks_exact_mut(3).zip(samples) {
                    let v = (s.clamp(-1.0, 1.0) * FULL_SCALE).round() as i32;
                    bytes.copy_from_slice(&v.to_le_bytes()[..3]);
                }
            }
        }
        self.out.write_all(&self.bytes)?;
        self.samples += samples.len() as u64;
        Ok(())
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Pads the data to an even length, writes the final sizes into the header (when the
    /// writer can seek) and returns the peak absolute sample.
    pub fn finish(mut self) -> anyhow::Result<f32> {
        let data_bytes = self.samples * u64::from(self.format.bytes_per_sample());
        if data_bytes % 2 == 1 {
            self.out.write_all(&[0])?;
        }
        let end = self.out.stream_position();
        if let Ok(end) = end {
            self.out.seek(SeekFrom::Start(0))?;
            self.out.write_all(&wav_header(self.format, self.sample_rate_hz, Some(data_bytes)))?;
            self.out.seek(SeekFrom::Start(end))?;
        }
        self.out.flush()?;
        Ok(self.peak)
    }
}

/// What a render's peak means for the file it went into, when the user should hear of it:
/// clipped in a 24-bit file, or above full scale in a float one (kept, but most players and a
/// DAW's master bus will clip it).
pub fn peak_warning(path: &Path, peak: f32, format: WavSampleFormat) -> Option<String> {
    if peak <= 1.0 {
        return None;
    }
    let dbfs = 20.0 * peak.log10();
    Some(match format {
        WavSampleFormat::Int24 => format!(
            "warning: {} peaks at +{dbfs:.1} dBFS and was clipped in the 24-bit file; lower the volumes or use --format float",
            path.display()
        ),
        WavSampleFormat::Float32 => format!(
            "warning: {} peaks at +{dbfs:.1} dBFS, above full scale: the float file keeps it, but players clip it; lower the volumes",
            path.display()
        ),
    })
}

/// Writes a WAV to `path` atomically, streaming: `fill` receives the [`WavStream`] and writes
/// the samples as they are made. A failure leaves no file and keeps what was there; the error
/// names the path. Prints [`peak_warning`] and returns the samples written and the peak.
pub fn write_wav_streaming(
    path: &Path,
    sample_rate_hz: u32,
    format: WavSampleFormat,
    fill: impl FnOnce(&mut WavStream<&mut BufWriter<File>>) -> anyhow::Result<()>,
) -> anyhow::Result<(u64, f32)> {
    let mut written = (0, 0.0);
    write_atomically(path, |file| -> anyhow::Result<()> {
        let mut stream = WavStream::new(file, sample_rate_hz, format)?;
        fill(&mut stream)?;
        let samples = stream.samples();
        written = (samples, stream.finish()?);
        Ok(())
    })
    .with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(warning) = peak_warning(path, written.1, format) {
        eprintln!("{warning}");
    }
    Ok(written)
}

/// Writes mono `samples` at `sample_rate_hz` to `path` in `format`, atomically. Fails (leaving
/// no file) on a non-finite sample, naming its position, or on any I/O error, naming the path.
pub fn write_wav(path: &Path, samples: &[f32], sample_rate_hz: u32, format: WavSampleFormat) -> anyhow::Result<()> {
    write_wav_streaming(path, sample_rate_hz, format, |stream| stream.write(samples)).map(|_| ())
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

    /// An empty folder of its own, removed when the test ends.
    fn scratch(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new().prefix(&format!("ddsp-wav-io-{name}-")).tempdir().unwrap()
    }

    #[test]
    fn float_and_int24_round_trip() {
        let scratch = scratch("round-trip");
        let dir = scratch.path();
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

    fn u32_at(h: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(h[at..at + 4].try_into().unwrap())
    }

    fn u64_at(h: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(h[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn a_header_past_4_gib_is_rf64_with_its_sizes_in_ds64() {
        // 22 400 s of 48 kHz float (the render that used to wrap its sizes at 2^32).
        let data_bytes = 22_400u64 * 48_000 * 4;
        let h = wav_header(WavSampleFormat::Float32, 48_000, Some(data_bytes));
        assert_eq!(&h[0..4], b"RF64");
        assert_eq!(u32_at(&h, 4), u32::MAX);
        assert_eq!(&h[8..16], b"WAVEds64");
        assert_eq!(u32_at(&h, 16), 28);
        assert_eq!(u64_at(&h, 20), WAV_HEADER_BYTES as u64 - 8 + data_bytes, "RIFF size");
        assert_eq!(u64_at(&h, 28), data_bytes, "data size");
        assert_eq!(u64_at(&h, 36), 22_400 * 48_000, "sample count");
        assert_eq!(&h[48..52], b"fmt ");
        assert_eq!(&h[WAV_HEADER_BYTES - 8..WAV_HEADER_BYTES - 4], b"data");
        assert_eq!(u32_at(&h, WAV_HEADER_BYTES - 4), u32::MAX);
        // Just under the limit it stays a plain RIFF file with exact 32-bit sizes.
        let fits = u64::from(u32::MAX) - (WAV_HEADER_BYTES as u64 - 8) - 1;
        let h = wav_header(WavSampleFormat::Int24, 48_000, Some(fits - fits % 3));
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(&h[12..16], b"JUNK");
        assert_eq!(u64::from(u32_at(&h, WAV_HEADER_BYTES - 4)), fits - fits % 3);
    }

    #[test]
    fn a_streamed_file_reads_back_with_its_sizes_and_peak() {
        let scratch = scratch("stream");
        let dir = scratch.path();
        let path = dir.join("out.wav");
        // An odd number of 24-bit samples: the data chunk is padded to an even length.
        let samples: Vec<f32> = (0..4097).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        let (count, peak) = write_wav_streaming(&path, 22_050, WavSampleFormat::Int24, |stream| {
            samples.chunks(1000).try_for_each(|c| stream.write(c))
        })
        .unwrap();
        assert_eq!(count, 4097);
        assert!((peak - 0.5).abs() < 1e-3, "{peak}");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), WAV_HEADER_BYTES + 4097 * 3 + 1);
        assert_eq!(u32_at(&bytes, 4) as usize, bytes.len() - 8);
        let (back, rate, channels) = read_wav_f32(&path).unwrap();
        assert_eq!((rate, channels, back.len()), (22_050, 1, 4097));
        assert!(back.iter().zip(&samples).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn peaks_above_full_scale_are_reported_for_both_formats() {
        let path = Path::new("x.wav");
        assert!(peak_warning(path, 1.0, WavSampleFormat::Float32).is_none());
        let float = peak_warning(path, 2.0, WavSampleFormat::Float32).unwrap();
        assert!(
            float.contains("x.wav") && float.contains("+6.0 dBFS") && float.contains("float file keeps it"),
            "{float}"
        );
        let int = peak_warning(path, 2.0, WavSampleFormat::Int24).unwrap();
        assert!(int.contains("clipped in the 24-bit file"), "{int}");
    }

    #[test]
    fn a_nan_sample_leaves_no_file_and_names_its_position() {
        let scratch = scratch("nan");
        let dir = scratch.path();
        let path = dir.join("out.wav");
        let err = write_wav(&path, &[0.0, f32::NAN], 48_000, WavSampleFormat::Float32).unwrap_err();
        assert!(format!("{err:#}").contains("sample 1"), "{err:#}");
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
    }
}

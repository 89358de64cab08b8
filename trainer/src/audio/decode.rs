//! Reading audio files of every common kind into one mono `f32` signal.
//!
//! Users bring whatever their recorder, DAW or phone wrote: WAV (8-bit unsigned, 16/24/32-bit
//! PCM, 32/64-bit float), AIFF, CAF, FLAC, ALAC, MP3, Ogg Vorbis, AAC in MP4/M4A, Matroska,
//! mono, stereo or more channels, at any rate. symphonia decodes them all in pure Rust (no system
//! library to install). Analysis and training work on one channel, so every kind is converted to
//! `f32` in `[-1, 1]` and the channels are averaged (a plain mean, so a signal present
//! identically on every channel keeps its level). MP3 files are read gaplessly (the encoder's delay
//! and padding that the LAME header records are removed) and AAC's encoder delay is removed,
//! so an analysis lines up in time with the original take.

use std::fs::File;
use std::path::Path;

use anyhow::{bail, Context};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_AAC, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// File name endings that a folder search picks up as audio (compared without case). The
/// decoder itself goes by the file's contents, so a file given by name is read whatever it is
/// called.
pub const AUDIO_EXTENSIONS: &[&str] =
    &["wav", "wave", "aif", "aiff", "aifc", "caf", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "mka"];

/// Samples of encoder delay at the start of an AAC stream whose container does not say (MP4
/// files keep it in an edit list, which symphonia does not read): the 1024 that FFmpeg and FDK
/// put before the first sample (Apple's encoder puts 2112 and says so, in a tag).
const AAC_PRIMING_SAMPLES: usize = 1024;

/// The kinds of audio named in errors, so a user knows what to convert to.
const READABLE_KINDS: &str = "WAV, AIFF, CAF, FLAC, ALAC, MP3, Ogg Vorbis, AAC (.m4a/.mp4) or Matroska audio";

/// Whether a folder search should read `path` as audio (by its name's ending).
pub fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|known| known.eq_ignore_ascii_case(e)))
}

/// Reads `path` and returns its samples mixed down to mono, as `f32` in `[-1, 1]`, with the
/// file's sample rate in Hz.
///
/// Errors name the file and say what was wrong: not audio (or a kind that cannot be decoded),
/// no samples at all, a stream that breaks off undecodable, or non-finite float samples.
pub fn read_audio_mono(path: &Path) -> anyhow::Result<(Vec<f32>, u32)> {
    let name = path.display();
    let file = File::open(path).with_context(|| format!("cannot open {name}"))?;
    if file.metadata().with_context(|| format!("cannot read {name}"))?.len() == 0 {
        bail!("{name} is empty: it holds no audio samples (0 bytes)");
    }
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    // Gapless: MP3/AAC encoder delay and padding are trimmed where the file records them.
    let format_options = FormatOptions { enable_gapless: true, ..Default::default() };
    let probed =
        symphonia::default::get_probe().format(&hint, stream, &format_options, &MetadataOptions::default()).map_err(
            |err| anyhow::anyhow!("{name} is not an audio file ddsp can read ({err}); expected {READABLE_KINDS}"),
        )?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .with_context(|| format!("{name} holds no audio track"))?;
    let track_id = track.id;
    let declared_rate = track.codec_params.sample_rate;
    let undeclared_aac_delay = track.codec_params.codec == CODEC_TYPE_AAC && track.codec_params.delay.is_none();
    let mut decoder =
        symphonia::default::get_codecs().make(&track.codec_params, &DecoderOptions::default()).map_err(|err| {
            anyhow::anyhow!("{name}: its audio codec cannot be decoded ({err}); expected {READABLE_KINDS}")
        })?;

    let mut mono = Vec::new();
    let mut rate = declared_rate;
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            // The normal end of a stream (and the end of a data chunk cut short by a crash:
            // what was recorded is kept).
            Err(SymphoniaError::IoError(err)) if err.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(err) => return Err(anyhow::anyhow!("{name}: cannot read its audio stream ({err})")),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            // One damaged frame of a lossy stream: skip it as players do.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(err) => return Err(anyhow::anyhow!("{name}: cannot decode its audio ({err})")),
        };
        let spec = *decoded.spec();
        rate = rate.or(Some(spec.rate));
        let channels = spec.channels.count();
        if channels == 0 {
            bail!("{name}: the stream declares 0 channels");
        }
        let needed = decoded.capacity() as u64 * channels as u64;
        let buf = match &mut buffer {
            Some(buf) if buf.capacity() as u64 >= needed => buf,
            _ => buffer.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        let start = mono.len();
        mix_to_mono_into(buf.samples(), channels, &mut mono);
        if let Some(pos) = mono[start..].iter().position(|v| !v.is_finite()) {
            bail!("{name}: sample {} is not a finite number, expected audio in [-1, 1]", start + pos);
        }
    }
    let rate = match rate {
        Some(0) => bail!("{name}: the file declares a sample rate of 0 Hz"),
        Some(rate) => rate,
        None => bail!("{name}: the file declares no sample rate"),
    };
    if undeclared_aac_delay {
        mono.drain(..AAC_PRIMING_SAMPLES.min(mono.len()));
    }
    if mono.is_empty() {
        bail!("{name} is empty: it holds no audio samples");
    }
    Ok((mono, rate))
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

/// Appends the average of each frame's interleaved channels to `out`.
fn mix_to_mono_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels == 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() * scale));
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
            let (decoded, rate) = read_audio_mono(&path).unwrap();
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
        let (decoded, _) = read_audio_mono(&path).unwrap();
        assert_eq!(decoded.len(), 100);
        assert!(decoded.iter().all(|v| (v - 0.25).abs() < 1e-4), "{}", decoded[0]);
    }

    #[test]
    fn bad_files_get_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.wav");
        std::fs::write(&text, "frame_index,f0_hz\n0,220\n").unwrap();
        let err = format!("{:#}", read_audio_mono(&text).unwrap_err());
        assert!(err.contains("notes.wav") && err.contains("not an audio file"), "{err}");

        let empty = dir.path().join("empty.wav");
        write_wav(&empty, spec(1, 16, hound::SampleFormat::Int), &[]);
        let err = format!("{:#}", read_audio_mono(&empty).unwrap_err());
        assert!(err.contains("empty.wav") && err.contains("empty"), "{err}");

        let missing = dir.path().join("missing.wav");
        let err = format!("{:#}", read_audio_mono(&missing).unwrap_err());
        assert!(err.contains("missing.wav"), "{err}");

        let err = format!("{:#}", require_min_len(&empty, 10, 16000, 1024).unwrap_err());
        assert!(err.contains("too short") && err.contains("1024"), "{err}");
    }

    /// The committed one-second excerpts (examples/formats/README.md says how ffmpeg made them)
    /// start 3 s into the violin recording.
    fn violin_excerpt(len: usize) -> (Vec<f32>, u32) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let (violin, rate) = read_audio_mono(&root.join("violin_phrase_44k.wav")).unwrap();
        let start = 3 * rate as usize;
        (violin[start..start + len].to_vec(), rate)
    }

    fn formats(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/formats").join(name)
    }

    #[test]
    fn lossless_files_decode_to_the_recordings_samples() {
        for name in ["violin_1s.flac", "violin_1s.aiff"] {
            let (decoded, rate) = read_audio_mono(&formats(name)).unwrap();
            assert_eq!((rate, decoded.len()), (44100, 44100), "{name}");
            let (reference, _) = violin_excerpt(decoded.len());
            let worst = decoded.iter().zip(&reference).map(|(d, r)| (d - r).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-6, "{name}: worst difference {worst}");
        }
    }

    /// Lossy files: the right length and rate, in time with the recording (the encoder's delay
    /// removed: a lag of even a few samples would show), and close to it in level and shape.
    #[test]
    fn lossy_files_decode_in_time_with_the_recording() {
        for (name, rate_hz) in [("violin_1s.mp3", 44100), ("violin_1s.m4a", 44100), ("violin_1s_48k_stereo.ogg", 48000)]
        {
            let (decoded, rate) = read_audio_mono(&formats(name)).unwrap();
            assert_eq!(rate, rate_hz, "{name}");
            // AAC ends on a whole 1024-sample frame.
            assert!(
                (rate_hz as usize - 64..rate_hz as usize + 1024).contains(&decoded.len()),
                "{name}: {} samples",
                decoded.len()
            );
            let decoded =
                if rate == 44100 { decoded } else { crate::audio::resample::resample(&decoded, rate, 44100).unwrap() };
            let (reference, _) = violin_excerpt(44100);
            let window = 4000..40000;
            let correlation = |lag: isize| -> f64 {
                window.clone().map(|i| f64::from(decoded[i]) * f64::from(reference[(i as isize + lag) as usize])).sum()
            };
            let best_lag = (-2000..=2000).max_by(|&a, &b| correlation(a).total_cmp(&correlation(b))).unwrap();
            assert!(best_lag.abs() <= 1, "{name}: decoded audio is {best_lag} samples off the recording");
            let energy = |x: &[f32]| window.clone().map(|i| f64::from(x[i]).powi(2)).sum::<f64>();
            let error: f64 = window.clone().map(|i| f64::from(decoded[i] - reference[i]).powi(2)).sum();
            let snr_db = 10.0 * (energy(&reference) / error).log10();
            let level_db = 10.0 * (energy(&decoded) / energy(&reference)).log10();
            println!("{name}: lag {best_lag}, SNR {snr_db:.1} dB, level {level_db:+.2} dB");
            assert!(snr_db > 12.0 && level_db.abs() < 0.5, "{name}: SNR {snr_db:.1} dB, level {level_db:+.2} dB");
        }
    }

    #[test]
    fn folder_searches_pick_up_every_readable_kind() {
        for name in ["a.wav", "b.WAV", "c.flac", "d.mp3", "e.ogg", "f.aiff", "g.aif", "h.m4a"] {
            assert!(has_audio_extension(Path::new(name)), "{name}");
        }
        for name in ["a.csv", "b.npz", "notes.txt", "noext", "report.md"] {
            assert!(!has_audio_extension(Path::new(name)), "{name}");
        }
    }
}

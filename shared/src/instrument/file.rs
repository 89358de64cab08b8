//! `instrument.ddsp`: one self-contained, versioned file per trained run (SPEC §9), read by the
//! plugin and `ddsp play` without burn.
//!
//! The container is safetensors (a JSON header with names, dtypes and shapes, then raw
//! little-endian data; readable from Python with `safetensors.numpy.load_file`). The header's
//! metadata holds the format name and version, the model's rates and sizes; the tensors are
//! the decoder's parameters (named as [`DecoderWeights::named`] lists them, all `f32`) and the
//! training statistics (`stats.f0_hz_quantiles`, `stats.loudness_db_quantiles`).
//!
//! Reading never panics: a file that is not safetensors, is truncated, comes from another
//! program, is of a newer version, or holds shapes or values that do not fit gives an
//! [`InstrumentFileError`] naming the file and the problem.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::decoder::MAX_HIDDEN;
use super::stats::{TrainingStats, QUANTILE_COUNT};
use super::weights::DecoderWeights;
use super::{HARMONIC_COUNT, NOISE_BAND_COUNT};

/// The `format` metadata value that marks an instrument file.
pub const FORMAT_NAME: &str = "ddsp-rs instrument";
/// The version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Files larger than this are refused before reading (a model of [`MAX_HIDDEN`] is about
/// 50 MB).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Longest `name` kept (the GUI shows it on one line).
const MAX_NAME_CHARS: usize = 200;

/// A trained instrument: the decoder, the rates it runs at and what its training covered.
#[derive(Clone, Debug, PartialEq)]
pub struct InstrumentFile {
    /// Shown in the plugin (the run folder's name, say).
    pub name: String,
    /// Audio rate the model was trained at, Hz: its noise magnitudes are a density at this
    /// rate and its harmonics stop at this rate's Nyquist.
    pub sample_rate_hz: u32,
    /// Decoder frames per second.
    pub frame_rate_hz: u32,
    /// The network.
    pub weights: DecoderWeights,
    /// The training data's f0 and loudness.
    pub stats: TrainingStats,
}

/// Why an instrument file could not be read or written. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum InstrumentFileError {
    /// The file could not be opened, read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Not a safetensors file, or one that another program wrote.
    #[error("{path} is not a ddsp-rs instrument file: {reason}")]
    NotInstrument {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Written by a newer ddsp-rs.
    #[error(
        "{path} is instrument format version {found}; this build reads up to version {FORMAT_VERSION}: update ddsp-rs"
    )]
    NewerVersion {
        /// The file.
        path: String,
        /// Its version.
        found: u32,
    },
    /// An instrument file whose contents do not fit together (truncated, edited, corrupt).
    #[error("{path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: String,
        /// What does not fit.
        reason: String,
    },
}

impl InstrumentFile {
    /// Reads and checks `path`.
    pub fn read_path(path: &Path) -> Result<Self, InstrumentFileError> {
        let shown = path.display().to_string();
        let io = |source| InstrumentFileError::Io { path: shown.clone(), source };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_FILE_BYTES {
            return Err(InstrumentFileError::NotInstrument {
                path: shown,
                reason: format!("it is {size} bytes; instrument files are at most {MAX_FILE_BYTES}"),
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        Self::from_bytes(&bytes, &shown)
    }

    /// Parses and checks the bytes of a file; `origin` names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self, InstrumentFileError> {
        let not_instrument = |reason: String| InstrumentFileError::NotInstrument { path: origin.to_string(), reason };
        let damaged = |reason: String| InstrumentFileError::Damaged { path: origin.to_string(), reason };
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| not_instrument(format!("not a safetensors file ({e:?})")))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        match metadata.get("format") {
            Some(f) if f == FORMAT_NAME => {}
            Some(f) => return Err(not_instrument(format!("its format is \"{f}\", not \"{FORMAT_NAME}\""))),
            None => return Err(not_instrument("a safetensors file without the instrument metadata".into())),
        }
        let version: u32 = metadata
            .get("version")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| damaged("the version is missing or not a number".into()))?;
        if version > FORMAT_VERSION {
            return Err(InstrumentFileError::NewerVersion { path: origin.to_string(), found: version });
        }
        let number = |key: &str| -> Result<u64, InstrumentFileError> {
            metadata
                .get(key)
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| damaged(format!("metadata \"{key}\" is missing or not a whole number")))
        };
        let sample_rate_hz = number("sample_rate_hz")?;
        let frame_rate_hz = number("frame_rate_hz")?;
        let hidden = number("hidden")?;
        if !(8000..=96000).contains(&sample_rate_hz) {
            return Err(damaged(format!("sample_rate_hz {sample_rate_hz} is outside 8000..=96000")));
        }
        if frame_rate_hz == 0 || sample_rate_hz % frame_rate_hz != 0 || sample_rate_hz / frame_rate_hz < 16 {
            return Err(damaged(format!(
                "frame_rate_hz {frame_rate_hz} must divide sample_rate_hz {sample_rate_hz} into hops of at least 16 samples"
            )));
        }
        if hidden == 0 || hidden > MAX_HIDDEN as u64 {
            return Err(damaged(format!("hidden size {hidden} is outside 1..={MAX_HIDDEN}")));
        }
        for (key, want) in [("harmonic_count", HARMONIC_COUNT), ("noise_band_count", NOISE_BAND_COUNT)] {
            let found = number(key)?;
            if found != want as u64 {
                return Err(damaged(format!("{key} is {found}; this decoder has {want}")));
            }
        }
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| damaged(format!("{e:?}")))?;
        let read = |name: &str, len: usize, into: &mut Vec<f32>| -> Result<(), InstrumentFileError> {
            let view = tensors.tensor(name).map_err(|_| damaged(format!("tensor \"{name}\" is missing")))?;
            if view.dtype() != Dtype::F32 {
                return Err(damaged(format!("tensor \"{name}\" is {:?}, not F32", view.dtype())));
            }
            let count: usize = view.shape().iter().product();
            if count != len || view.data().len() != 4 * len {
                return Err(damaged(format!("tensor \"{name}\" holds {count} values where {len} are needed")));
            }
            into.clear();
            into.extend(view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
            if let Some(i) = into.iter().position(|v| !v.is_finite()) {
                return Err(damaged(format!("tensor \"{name}\" holds a non-finite value at {i}")));
            }
            Ok(())
        };
        let mut weights = DecoderWeights::zeros(hidden as usize);
        for (name, values) in weights.named_mut() {
            let len = values.len();
            read(&name, len, values)?;
        }
        let mut f0 = Vec::new();
        let mut loudness = Vec::new();
        read("stats.f0_hz_quantiles", QUANTILE_COUNT, &mut f0)?;
        read("stats.loudness_db_quantiles", QUANTILE_COUNT, &mut loudness)?;
        let stats = TrainingStats {
            voiced_frames: number("voiced_frames")? as usize,
            f0_hz_quantiles: f0.try_into().expect("length checked"),
            loudness_db_quantiles: loudness.try_into().expect("length checked"),
        };
        stats.validate().map_err(damaged)?;
        let name: String = metadata.get("name").cloned().unwrap_or_default().chars().take(MAX_NAME_CHARS).collect();
        Ok(Self { name, sample_rate_hz: sample_rate_hz as u32, frame_rate_hz: frame_rate_hz as u32, weights, stats })
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut metadata = HashMap::new();
        for (key, value) in [
            ("format", FORMAT_NAME.to_string()),
            ("version", FORMAT_VERSION.to_string()),
            ("name", self.name.clone()),
            ("sample_rate_hz", self.sample_rate_hz.to_string()),
            ("frame_rate_hz", self.frame_rate_hz.to_string()),
            ("hidden", self.weights.hidden.to_string()),
            ("harmonic_count", HARMONIC_COUNT.to_string()),
            ("noise_band_count", NOISE_BAND_COUNT.to_string()),
            ("voiced_frames", self.stats.voiced_frames.to_string()),
        ] {
            metadata.insert(key.to_string(), value);
        }
        let mut arrays: Vec<(String, Vec<u8>, usize)> =
            self.weights.named().into_iter().map(|(name, values)| (name, le_bytes(values), values.len())).collect();
        arrays.push(("stats.f0_hz_quantiles".into(), le_bytes(&self.stats.f0_hz_quantiles), QUANTILE_COUNT));
        arrays.push((
            "stats.loudness_db_quantiles".into(),
            le_bytes(&self.stats.loudness_db_quantiles),
            QUANTILE_COUNT,
        ));
        let views: Vec<(String, TensorView<'_>)> = arrays
            .iter()
            .map(|(name, bytes, len)| {
                (name.clone(), TensorView::new(Dtype::F32, vec![*len], bytes).expect("the length matches the bytes"))
            })
            .collect();
        safetensors::serialize(views, Some(metadata)).expect("f32 tensors of matching sizes always serialise")
    }

    /// Writes the file atomically (a failed write leaves an existing file as it was).
    pub fn write_path(&self, path: &Path) -> Result<(), InstrumentFileError> {
        let bytes = self.to_bytes();
        crate::atomic_file::write_atomically(path, |w| std::io::Write::write_all(w, &bytes))
            .map_err(|source| InstrumentFileError::Io { path: path.display().to_string(), source })
    }
}

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::random::Random;

    pub(crate) fn sample_file(hidden: usize) -> InstrumentFile {
        let mut weights = DecoderWeights::zeros(hidden);
        let mut rng = Random::new(9);
        for (_, values) in weights.named_mut() {
            values.iter_mut().for_each(|v| *v = 0.2 * rng.bipolar());
        }
        let f0: Vec<f32> = (0..100).map(|i| 200.0 + i as f32).collect();
        let loudness: Vec<f32> = (0..100).map(|i| -50.0 + 0.3 * i as f32).collect();
        let stats = TrainingStats::from_frames(&f0, &[1.0; 100], &loudness, -60.0).unwrap();
        InstrumentFile { name: "test".into(), sample_rate_hz: 16000, frame_rate_hz: 50, weights, stats }
    }

    #[test]
    fn a_file_round_trips_exactly() {
        let file = sample_file(8);
        let back = InstrumentFile::from_bytes(&file.to_bytes(), "mem").unwrap();
        assert_eq!(back, file);
    }

    #[test]
    fn truncated_or_flipped_files_give_errors_not_panics() {
        let bytes = sample_file(4).to_bytes();
        for cut in (0..bytes.len()).step_by(7) {
            assert!(InstrumentFile::from_bytes(&bytes[..cut], "cut").is_err(), "cut at {cut} accepted");
        }
        let mut rng = Random::new(4);
        for _ in 0..300 {
            let mut damaged = bytes.clone();
            let i = (rng.next_u64() % damaged.len() as u64) as usize;
            damaged[i] ^= 1 << (rng.next_u64() % 8);
            // Either refused with a message or, for a flip inside a weight, read with that weight.
            if let Err(e) = InstrumentFile::from_bytes(&damaged, "flip") {
                assert!(e.to_string().contains("flip"), "{e}");
            }
        }
    }

    /// `bytes` with the first `from` (in the JSON header) replaced by `to` of the same length.
    fn replace_same_length(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let at = bytes.windows(from.len()).position(|w| w == from.as_bytes()).expect("present in the header");
        let mut out = bytes.to_vec();
        out[at..at + to.len()].copy_from_slice(to.as_bytes());
        out
    }

    #[test]
    fn foreign_newer_and_misshapen_files_are_named() {
        let err = InstrumentFile::from_bytes(b"RIFF....WAVEfmt ", "take.wav").unwrap_err();
        assert!(matches!(err, InstrumentFileError::NotInstrument { .. }), "{err}");
        assert!(err.to_string().starts_with("take.wav is not a ddsp-rs instrument file"), "{err}");

        let foreign = safetensors::serialize(Vec::<(String, TensorView<'_>)>::new(), None).unwrap();
        let err = InstrumentFile::from_bytes(&foreign, "model.safetensors").unwrap_err();
        assert!(err.to_string().contains("without the instrument metadata"), "{err}");

        let file = sample_file(4);
        let newer = replace_same_length(&file.to_bytes(), "\"version\":\"1\"", "\"version\":\"7\"");
        let err = InstrumentFile::from_bytes(&newer, "new.ddsp").unwrap_err();
        assert!(err.to_string().contains("version 7") && err.to_string().contains("update ddsp-rs"), "{err}");

        let wrong_hidden = replace_same_length(&file.to_bytes(), "\"hidden\":\"4\"", "\"hidden\":\"5\"");
        let err = InstrumentFile::from_bytes(&wrong_hidden, "x.ddsp").unwrap_err();
        assert!(err.to_string().contains("x.ddsp is damaged") && err.to_string().contains("values where"), "{err}");
    }

    #[test]
    fn write_and_read_through_the_disk() {
        let dir = std::env::temp_dir().join(format!("ddsp-instrument-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("instrument.ddsp");
        let file = sample_file(4);
        file.write_path(&path).unwrap();
        assert_eq!(InstrumentFile::read_path(&path).unwrap(), file);
        let err = InstrumentFile::read_path(&dir.join("missing.ddsp")).unwrap_err();
        assert!(err.to_string().contains("missing.ddsp"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

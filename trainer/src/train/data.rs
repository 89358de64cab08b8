//! Training data: decode, mix down, resample to the model rate, extract f0 (+ confidence) and
//! A-weighted loudness at the frame rate, and cut examples (4 s, 1 s hop by default), skipping
//! silent ones. The prepared features are cached in the run folder (`features.cache`) so that a
//! second run (or `--resume`) starts at once.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::config::TrainConfig;
use ddsp_shared::render::random::Random;

/// One decoded input file at the model rate, with its frame-rate features.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// Where it came from.
    pub path: PathBuf,
    /// Mono audio at the model rate, padded with silence to a whole number of frames.
    pub audio: Vec<f32>,
    /// f0 per frame, Hz.
    pub f0_hz: Vec<f32>,
    /// f0 confidence per frame, 0..1.
    pub confidence: Vec<f32>,
    /// A-weighted loudness per frame, dB.
    pub loudness_db: Vec<f32>,
}

impl Source {
    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.f0_hz.len()
    }
}

/// Where an example lies in a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExampleRef {
    /// Index into [`Dataset::sources`].
    pub source: usize,
    /// First frame.
    pub start_frame: usize,
}

/// The prepared sources and the examples cut from them.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Model audio rate, Hz.
    pub sample_rate_hz: u32,
    /// Frames per second.
    pub frame_rate_hz: u32,
    /// Frames per example.
    pub example_frames: usize,
    /// Samples per frame.
    pub hop: usize,
    /// The input files.
    pub sources: Vec<Source>,
    /// The non-silent examples.
    pub examples: Vec<ExampleRef>,
}

/// A batch on the CPU, row-major.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Examples in the batch.
    pub size: usize,
    /// `[B·T]` f0, Hz.
    pub f0_hz: Vec<f32>,
    /// `[B·T]` loudness, dB.
    pub loudness_db: Vec<f32>,
    /// `[B·N]` target audio.
    pub audio: Vec<f32>,
}

/// Frame-rate features of a signal: `(f0_hz, confidence, loudness_db)`, one value per frame.
pub type Features = (Vec<f32>, Vec<f32>, Vec<f32>);

/// Extracts f0, confidence and loudness of `audio` (at `sample_rate_hz`) at `frame_rate_hz`,
/// exactly `frames` values each (shorter tracks are extended with their last value, longer ones
/// cut).
pub fn extract_features(
    audio: &[f32],
    sample_rate_hz: u32,
    frame_rate_hz: u32,
    frames: usize,
) -> anyhow::Result<Features> {
    let track = crate::features::f0::estimate_f0(audio, sample_rate_hz, frame_rate_hz as f64)?;
    let n_fft = crate::features::loudness::loudness_fft_size(sample_rate_hz);
    let loudness =
        crate::features::loudness::a_weighted_loudness_db(audio, sample_rate_hz, frame_rate_hz as f64, n_fft)?;
    Ok((fit(track.f0_hz, frames), fit(track.confidence, frames), fit(loudness, frames)))
}

fn fit(mut v: Vec<f32>, frames: usize) -> Vec<f32> {
    let last = v.last().copied().unwrap_or(0.0);
    v.resize(frames, last);
    v
}

/// Decodes one file to mono at `sample_rate_hz`, padded with silence to whole frames.
pub fn load_audio(path: &Path, sample_rate_hz: u32, hop: usize) -> anyhow::Result<Vec<f32>> {
    let (audio, rate) = crate::audio::decode::read_audio_mono(path)?;
    let mut audio = if rate == sample_rate_hz {
        audio
    } else {
        crate::audio::resample::resample(&audio, rate, sample_rate_hz)
            .with_context(|| format!("cannot resample {} from {rate} Hz to {sample_rate_hz} Hz", path.display()))?
    };
    let frames = audio.len().div_ceil(hop);
    audio.resize(frames * hop, 0.0);
    Ok(audio)
}

/// The audio files named by `inputs`: files as given, folders searched (recursively) for the
/// names in [`AUDIO_EXTENSIONS`](crate::audio::decode::AUDIO_EXTENSIONS), sorted so that the data order does not depend on the file system.
pub fn collect_audio_files(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let entries = fs::read_dir(dir).with_context(|| format!("cannot read folder {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if crate::audio::decode::has_audio_extension(&path) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found)?;
            found.sort();
            files.extend(found);
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            bail!("{} does not exist", input.display());
        }
    }
    if files.is_empty() {
        bail!(
            "no audio found: {} holds no audio files (.wav, .aiff, .flac, .mp3, .ogg, .m4a, ...)",
            inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(files)
}

impl Dataset {
    /// Cuts examples from `sources`: every `example_hop_s` from the start, plus one ending at
    /// each file's end so its tail is used; a file shorter than one example is padded with
    /// silence. Examples whose loudness never exceeds `silence_db` are skipped.
    pub fn from_sources(config: &TrainConfig, sources: Vec<Source>) -> anyhow::Result<Self> {
        let example_frames = config.example_frames();
        let hop_frames = ((config.example_hop_s * config.frame_rate_hz as f64).round() as usize).max(1);
        let total_frames: usize = sources.iter().map(Source::frames).sum();
        if total_frames < example_frames {
            bail!(
                "the audio is too short: {:.2} s in total, but one training example is {} s (use --example-s to shorten it)",
                total_frames as f64 / config.frame_rate_hz as f64,
                config.example_s
            );
        }
        let hop = config.hop_samples();
        let mut sources = sources;
        let mut examples = Vec::new();
        for (index, source) in sources.iter_mut().enumerate() {
            if source.frames() < example_frames {
                let pad = example_frames - source.frames();
                let last_f0 = source.f0_hz.last().copied().unwrap_or(0.0);
                source.f0_hz.extend(std::iter::repeat_n(last_f0, pad));
                source.confidence.extend(std::iter::repeat_n(0.0, pad));
                source.loudness_db.extend(std::iter::repeat_n(crate::features::loudness::LOUDNESS_FLOOR_DB, pad));
                source.audio.resize(example_frames * hop, 0.0);
            }
            let frames = source.frames();
            let mut starts: Vec<usize> = (0..=frames - example_frames).step_by(hop_frames).collect();
            if starts.last() != Some(&(frames - example_frames)) {
                starts.push(frames - example_frames);
            }
            for start in starts {
                let loudest =
                    source.loudness_db[start..start + example_frames].iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                if loudest as f64 > config.silence_db {
                    examples.push(ExampleRef { source: index, start_frame: start });
                }
            }
        }
        if examples.is_empty() {
            bail!(
                "all of the audio is silent: no {} s stretch gets louder than {} dB (A-weighted); check the files or lower --silence-db",
                config.example_s,
                config.silence_db
            );
        }
        Ok(Self {
            sample_rate_hz: config.sample_rate_hz,
            frame_rate_hz: config.frame_rate_hz,
            example_frames,
            hop,
            sources,
            examples,
        })
    }

    /// Example indices of `step`'s batch: consecutive positions of a stream of per-epoch
    /// shuffles seeded by `seed`, so the data order depends on the step alone (a resumed run
    /// continues it exactly).
    pub fn batch_indices(&self, seed: u64, step: usize, batch_size: usize) -> Vec<usize> {
        let n = self.examples.len();
        let mut cached: Option<(usize, Vec<usize>)> = None;
        (0..batch_size)
            .map(|j| {
                let position = step * batch_size + j;
                let epoch = position / n;
                if cached.as_ref().map(|c| c.0) != Some(epoch) {
                    cached = Some((epoch, shuffle(n, seed ^ (epoch as u64).wrapping_mul(0xA24B_AED4_963E_E407))));
                }
                cached.as_ref().expect("filled above").1[position % n]
            })
            .collect()
    }

    /// Gathers the examples `indices` into a batch.
    pub fn batch(&self, indices: &[usize]) -> Batch {
        let t = self.example_frames;
        let n = t * self.hop;
        let mut batch = Batch {
            size: indices.len(),
            f0_hz: Vec::with_capacity(indices.len() * t),
            loudness_db: Vec::with_capacity(indices.len() * t),
            audio: Vec::with_capacity(indices.len() * n),
        };
        for &i in indices {
            let e = self.examples[i];
            let s = &self.sources[e.source];
            batch.f0_hz.extend_from_slice(&s.f0_hz[e.start_frame..e.start_frame + t]);
            batch.loudness_db.extend_from_slice(&s.loudness_db[e.start_frame..e.start_frame + t]);
            let a = e.start_frame * self.hop;
            batch.audio.extend_from_slice(&s.audio[a..a + n]);
        }
        batch
    }
}

fn shuffle(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Random::new(seed);
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// What a cache entry was made from: a source file's path, length and modification time, and
/// the rates. A cache is reused only when all of these match.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct CacheKey {
    path: PathBuf,
    file_bytes: u64,
    modified_ns: u128,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CacheHeader {
    version: u32,
    sample_rate_hz: u32,
    frame_rate_hz: u32,
    keys: Vec<CacheKey>,
    /// (samples, frames) per source, in the order of `keys`.
    lengths: Vec<(usize, usize)>,
}

const CACHE_VERSION: u32 = 1;

fn cache_key(path: &Path) -> anyhow::Result<CacheKey> {
    let meta = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let modified_ns =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok(CacheKey { path: path.to_path_buf(), file_bytes: meta.len(), modified_ns })
}

/// Decodes `path` at the model rate and extracts its f0, confidence and loudness at the
/// model's frame rate: what training reads (and caches) for each file.
pub fn analyse_source(path: &Path, config: &TrainConfig) -> anyhow::Result<Source> {
    let hop = config.hop_samples();
    let audio = load_audio(path, config.sample_rate_hz, hop)?;
    let frames = audio.len() / hop;
    let (f0_hz, confidence, loudness_db) =
        extract_features(&audio, config.sample_rate_hz, config.frame_rate_hz, frames)
            .with_context(|| format!("cannot analyse {}", path.display()))?;
    Ok(Source { path: path.to_path_buf(), audio, f0_hz, confidence, loudness_db })
}

/// The sources of `files` from `cache_path`, when it was made from exactly these files (same
/// paths, sizes and modification times) at the config's rates; `None` otherwise.
pub fn cached_sources(files: &[PathBuf], config: &TrainConfig, cache_path: &Path) -> Option<Vec<Source>> {
    let keys = files.iter().map(|f| cache_key(f)).collect::<anyhow::Result<Vec<_>>>().ok()?;
    read_cache(cache_path, &keys, config)
}

/// Loads the sources of `files`, from `cache_path` when it was made from the same files at the
/// same rates, else by decoding and analysing them (`on_file` is told each file's name) and
/// writing the cache.
pub fn load_sources(
    files: &[PathBuf],
    config: &TrainConfig,
    cache_path: &Path,
    mut on_file: impl FnMut(&Path),
) -> anyhow::Result<Vec<Source>> {
    let keys = files.iter().map(|f| cache_key(f)).collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(sources) = read_cache(cache_path, &keys, config) {
        return Ok(sources);
    }
    let mut sources = Vec::with_capacity(files.len());
    for path in files {
        on_file(path);
        sources.push(analyse_source(path, config)?);
    }
    write_cache(cache_path, &keys, config, &sources)?;
    Ok(sources)
}

fn write_cache(path: &Path, keys: &[CacheKey], config: &TrainConfig, sources: &[Source]) -> anyhow::Result<()> {
    let header = CacheHeader {
        version: CACHE_VERSION,
        sample_rate_hz: config.sample_rate_hz,
        frame_rate_hz: config.frame_rate_hz,
        keys: keys.to_vec(),
        lengths: sources.iter().map(|s| (s.audio.len(), s.frames())).collect(),
    };
    ddsp_shared::atomic_file::write_atomically(path, |w| -> anyhow::Result<()> {
        let json = serde_json::to_vec(&header)?;
        w.write_all(&(json.len() as u64).to_le_bytes())?;
        w.write_all(&json)?;
        for s in sources {
            for values in [&s.audio, &s.f0_hz, &s.confidence, &s.loudness_db] {
                for v in values.iter() {
                    w.write_all(&v.to_le_bytes())?;
                }
            }
        }
        Ok(())
    })
    .with_context(|| format!("cannot write the feature cache {}", path.display()))
}

fn read_cache(path: &Path, keys: &[CacheKey], config: &TrainConfig) -> Option<Vec<Source>> {
    let mut file = fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    let header_len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let header: CacheHeader = serde_json::from_slice(bytes.get(8..8 + header_len)?).ok()?;
    if header.version != CACHE_VERSION
        || header.sample_rate_hz != config.sample_rate_hz
        || header.frame_rate_hz != config.frame_rate_hz
        || header.keys != keys
    {
        return None;
    }
    let mut offset = 8 + header_len;
    let mut take = |count: usize| -> Option<Vec<f32>> {
        let raw = bytes.get(offset..offset + 4 * count)?;
        offset += 4 * count;
        Some(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    };
    let mut sources = Vec::with_capacity(keys.len());
    for (key, &(samples, frames)) in keys.iter().zip(&header.lengths) {
        sources.push(Source {
            path: key.path.clone(),
            audio: take(samples)?,
            f0_hz: take(frames)?,
            confidence: take(frames)?,
            loudness_db: take(frames)?,
        });
    }
    Some(sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::config::Preset;

    fn source(frames: usize, hop: usize, loud_db: f32) -> Source {
        Source {
            path: PathBuf::from("x.wav"),
            audio: vec![0.1; frames * hop],
            f0_hz: vec![220.0; frames],
            confidence: vec![0.9; frames],
            loudness_db: vec![loud_db; frames],
        }
    }

    #[test]
    fn examples_hop_through_the_file_and_cover_its_tail() {
        let config = TrainConfig::preset(Preset::Quick).with_example_s(2.0).with_example_hop_s(1.0);
        let fr = config.frame_rate_hz as usize;
        let d = Dataset::from_sources(&config, vec![source(fr * 5 + 10, config.hop_samples(), -20.0)]).unwrap();
        let starts: Vec<usize> = d.examples.iter().map(|e| e.start_frame).collect();
        assert_eq!(starts, vec![0, fr, 2 * fr, 3 * fr, 3 * fr + 10]);
    }

    #[test]
    fn silent_examples_are_skipped_and_all_silent_is_an_error() {
        let config = TrainConfig::preset(Preset::Quick);
        let hop = config.hop_samples();
        let frames = config.example_frames();
        let mut s = source(frames * 2, hop, -20.0);
        for v in &mut s.loudness_db[frames..] {
            *v = -100.0;
        }
        let d = Dataset::from_sources(&config, vec![s, source(frames, hop, -20.0)]).unwrap();
        // Source 0: the windows at frames 0 and 50 reach the loud half; the one at 100 is silent.
        let starts: Vec<(usize, usize)> = d.examples.iter().map(|e| (e.source, e.start_frame)).collect();
        assert_eq!(starts, vec![(0, 0), (0, frames / 2), (1, 0)]);
        let err = Dataset::from_sources(&config, vec![source(frames * 2, hop, -100.0)]).unwrap_err();
        assert!(err.to_string().contains("silent"), "{err}");
    }

    #[test]
    fn too_short_audio_is_an_error_naming_the_lengths() {
        let config = TrainConfig::preset(Preset::Quick);
        let err = Dataset::from_sources(&config, vec![source(5, config.hop_samples(), -20.0)]).unwrap_err();
        assert!(err.to_string().contains("too short"), "{err}");
    }

    #[test]
    fn batch_order_depends_on_seed_and_step_only_and_visits_every_example() {
        let config = TrainConfig::preset(Preset::Quick);
        let d = Dataset::from_sources(&config, vec![source(config.example_frames() * 7, config.hop_samples(), -20.0)])
            .unwrap();
        let n = d.examples.len();
        let mut seen: Vec<usize> = (0..n).flat_map(|s| d.batch_indices(3, s, 1)).collect();
        seen.sort();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());
        assert_eq!(d.batch_indices(3, 5, 4), d.batch_indices(3, 5, 4));
        assert_ne!(
            (0..4).flat_map(|s| d.batch_indices(3, s, 4)).collect::<Vec<_>>(),
            (0..4).flat_map(|s| d.batch_indices(4, s, 4)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn cache_round_trips_and_is_rejected_for_other_rates() {
        let dir = std::env::temp_dir().join(format!("ddsp-cache-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let wav = dir.join("a.wav");
        fs::write(&wav, b"not really audio").unwrap();
        let config = TrainConfig::preset(Preset::Quick);
        let keys = vec![cache_key(&wav).unwrap()];
        let mut s = source(10, config.hop_samples(), -20.0);
        s.path = wav.clone();
        let cache = dir.join("features.cache");
        write_cache(&cache, &keys, &config, std::slice::from_ref(&s)).unwrap();
        assert_eq!(read_cache(&cache, &keys, &config), Some(vec![s]));
        assert_eq!(read_cache(&cache, &keys, &config.clone().with_frame_rate_hz(100)), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}

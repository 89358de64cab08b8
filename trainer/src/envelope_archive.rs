//! Per-chunk `.npz` envelope archives (SPEC §3), readable and writable by numpy.
//!
//! The original exporter (`2-chunks2envelopes.py`) wrote one `np.savez` archive per 4 s chunk,
//! and users have numpy scripts that read them, so the keys, shapes and meanings are kept:
//!
//! | key | shape | meaning |
//! |---|---|---|
//! | `frequency_envelopes` | `[rows, H]` float32 | instantaneous frequency of each harmonic, Hz |
//! | `amplitude_envelopes` | `[rows, H]` float32 | linear amplitude of each harmonic |
//! | `noise_magnitudes_frames` | `[1, n_frames, B]` float32 | filtered-noise band magnitudes |
//! | `f0_hz_frames` | `[n_frames]` float32 | fundamental per frame, Hz |
//! | `sample_rate` | scalar | audio rate the data was made at (int64 when whole, else float64) |
//! | `frame_rate` | scalar float64 | control frames per second |
//!
//! The original stores `rows` at **sample resolution** (`rows = n_frames * sample_rate /
//! frame_rate`). Archives written here may instead store one row per frame; they then say so
//! with an extra key, and may carry two more optional keys:
//!
//! | extra key | shape | meaning | when absent |
//! |---|---|---|---|
//! | `envelope_row_rate` | scalar float64 | rows of `frequency_envelopes`/`amplitude_envelopes` per second: equal to `sample_rate` (sample resolution) or to `frame_rate` (frame resolution) | sample resolution, as the original |
//! | `noise_band_centres_hz_frames` | `[1, n_frames, B]` float32 | centre of each noise band, Hz (tools such as `ddsp enrich` or `ddsp modify` move them) | DDSP's layout: `B` bands spread linearly from 0 Hz to Nyquist |
//! | `first_frame_index` | scalar int64 | unified-CSV frame index of frame 0 (time = index / frame_rate) | 0 |
//!
//! numpy ignores keys it is not asked for, so old scripts keep working on the new files as long
//! as they read sample-resolution archives; archives written by the trainer's export are at
//! sample resolution like the original's, the reshaping tools write frame resolution to keep
//! the files small.
//!
//! # Between rows and frames
//!
//! - [`EnvelopeArchive::to_envelope`] gives one [`Envelope`] frame per control frame. A
//!   sample-resolution archive is reduced by **averaging** the rows of each frame's period,
//!   centred on the frame's row `c = round(i·hop)` (rows `c − ⌊hop/2⌋ ..= c + ⌊hop/2⌋`, `hop =
//!   sample_rate / frame_rate`, narrowed symmetrically at the archive's ends, so frame 0 is
//!   row 0 alone): a box filter, so vibrato and tremolo faster than the frame rate do not
//!   alias into the frames the way picking every `hop`-th sample would, and a steady glide
//!   averages to exactly its value at the frame.
//! - [`EnvelopeArchive::to_envelope_full_resolution`] gives one frame per row (the
//!   `--full-resolution` export of the original): `frame_rate` becomes the row rate, f0 and the
//!   noise bands are linearly interpolated between control frames.
//! - [`EnvelopeArchive::from_envelope`] goes back: frames are placed at their times (index /
//!   frame rate; skipped indices of a downsampled file are filled by linear interpolation), and
//!   at sample resolution every row is the linear interpolation of the two frames around it.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use ddsp_shared::envelope::linear_band_centre_hz;
use ddsp_shared::Envelope;
use ndarray::{arr0, ArrayD, ArrayView1, ArrayView2, ArrayView3, IxDyn};
use ndarray_npy::{NpzReader, NpzWriter, ReadNpyError, ReadNpzError};

/// Keys of the original exporter.
pub const KEY_FREQUENCY_ENVELOPES: &str = "frequency_envelopes";
/// Per-harmonic linear amplitudes, `[rows, H]`.
pub const KEY_AMPLITUDE_ENVELOPES: &str = "amplitude_envelopes";
/// Noise band magnitudes, `[1, n_frames, B]`.
pub const KEY_NOISE_MAGNITUDES_FRAMES: &str = "noise_magnitudes_frames";
/// Fundamental per frame, `[n_frames]`.
pub const KEY_F0_HZ_FRAMES: &str = "f0_hz_frames";
/// Audio rate, scalar.
pub const KEY_SAMPLE_RATE: &str = "sample_rate";
/// Control frame rate, scalar.
pub const KEY_FRAME_RATE: &str = "frame_rate";
/// Extra key of this project: rows per second of the harmonic envelopes.
pub const KEY_ENVELOPE_ROW_RATE: &str = "envelope_row_rate";
/// Extra key of this project: noise band centres, `[1, n_frames, B]`.
pub const KEY_NOISE_BAND_CENTRES_HZ_FRAMES: &str = "noise_band_centres_hz_frames";
/// Extra key of this project: unified-CSV frame index of the archive's frame 0.
pub const KEY_FIRST_FRAME_INDEX: &str = "first_frame_index";

/// How many rows `frequency_envelopes` / `amplitude_envelopes` hold per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvelopeResolution {
    /// One row per audio sample (`rows ≈ n_frames * sample_rate / frame_rate`), as the
    /// original exporter wrote.
    Sample,
    /// One row per control frame (`rows = n_frames`).
    Frame,
}

/// The contents of one `.npz` envelope archive. Arrays are flat and row-major; their shapes
/// are given by the counts.
///
/// # Shapes
/// - `frequency_envelopes`, `amplitude_envelopes`: `[row_count(), harmonic_count]`
/// - `noise_magnitudes_frames`, `noise_band_centres_hz_frames`: `[1, frame_count(), noise_band_count]`
/// - `f0_hz_frames`: `[frame_count()]`
#[derive(Clone, Debug, PartialEq)]
pub struct EnvelopeArchive {
    /// Audio rate the data was made at, Hz.
    pub sample_rate_hz: f64,
    /// Control frames per second.
    pub frame_rate_hz: f64,
    /// Rows per sample or per frame in the harmonic envelopes.
    pub resolution: EnvelopeResolution,
    /// Harmonics per row (`H`).
    pub harmonic_count: usize,
    /// Noise bands per frame (`B`).
    pub noise_band_count: usize,
    /// `[rows, H]` instantaneous harmonic frequencies, Hz.
    pub frequency_envelopes: Vec<f32>,
    /// `[rows, H]` linear harmonic amplitudes.
    pub amplitude_envelopes: Vec<f32>,
    /// `[1, n_frames, B]` linear noise band magnitudes.
    pub noise_magnitudes_frames: Vec<f32>,
    /// `[1, n_frames, B]` noise band centres, Hz; `None` means DDSP's linear layout from 0 Hz
    /// to Nyquist (and the key is not written).
    pub noise_band_centres_hz_frames: Option<Vec<f32>>,
    /// `[n_frames]` fundamental per frame, Hz.
    pub f0_hz_frames: Vec<f32>,
    /// Unified-CSV frame index of frame 0 (chunks of a longer file may start later).
    pub first_frame_index: u64,
}

impl EnvelopeArchive {
    /// Number of control frames.
    pub fn frame_count(&self) -> usize {
        self.f0_hz_frames.len()
    }

    /// Number of rows in the harmonic envelopes.
    pub fn row_count(&self) -> usize {
        self.frequency_envelopes.len().checked_div(self.harmonic_count).unwrap_or(0)
    }

    /// Rows per second of the harmonic envelopes.
    pub fn row_rate_hz(&self) -> f64 {
        match self.resolution {
            EnvelopeResolution::Sample => self.sample_rate_hz,
            EnvelopeResolution::Frame => self.frame_rate_hz,
        }
    }

    /// Rows per control frame (`hop`): `sample_rate / frame_rate` at sample resolution, 1 at
    /// frame resolution.
    pub fn rows_per_frame(&self) -> f64 {
        self.row_rate_hz() / self.frame_rate_hz
    }

    /// Checks that shapes agree and every value is finite and non-negative; the message names
    /// the key at fault.
    pub fn validate(&self) -> Result<(), String> {
        for (key, rate) in [(KEY_SAMPLE_RATE, self.sample_rate_hz), (KEY_FRAME_RATE, self.frame_rate_hz)] {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(format!("`{key}` must be a positive number, got {rate}"));
            }
        }
        let n = self.frame_count();
        let b = self.noise_band_count;
        if self.harmonic_count == 0 && !self.frequency_envelopes.is_empty() {
            return Err(format!("`{KEY_FREQUENCY_ENVELOPES}` has values but 0 harmonics"));
        }
        let rows = self.row_count();
        let mut checks = vec![
            (KEY_FREQUENCY_ENVELOPES, self.frequency_envelopes.len(), rows * self.harmonic_count),
            (KEY_AMPLITUDE_ENVELOPES, self.amplitude_envelopes.len(), rows * self.harmonic_count),
            (KEY_NOISE_MAGNITUDES_FRAMES, self.noise_magnitudes_frames.len(), n * b),
        ];
        if let Some(centres) = &self.noise_band_centres_hz_frames {
            checks.push((KEY_NOISE_BAND_CENTRES_HZ_FRAMES, centres.len(), n * b));
        }
        for (key, got, want) in checks {
            if got != want {
                return Err(format!("`{key}` has {got} values, expected {want}"));
            }
        }
        if self.resolution == EnvelopeResolution::Frame && rows != n {
            return Err(format!(
                "frame-resolution archive has {rows} envelope rows but {n} frames in `{KEY_F0_HZ_FRAMES}`"
            ));
        }
        if n == 0 {
            return Err(format!("`{KEY_F0_HZ_FRAMES}` is empty: the archive holds no frames"));
        }
        if rows == 0 && self.harmonic_count > 0 {
            return Err(format!("`{KEY_FREQUENCY_ENVELOPES}` has no rows"));
        }
        let mut arrays: Vec<(&str, &[f32])> = vec![
            (KEY_FREQUENCY_ENVELOPES, &self.frequency_envelopes),
            (KEY_AMPLITUDE_ENVELOPES, &self.amplitude_envelopes),
            (KEY_NOISE_MAGNITUDES_FRAMES, &self.noise_magnitudes_frames),
            (KEY_F0_HZ_FRAMES, &self.f0_hz_frames),
        ];
        if let Some(centres) = &self.noise_band_centres_hz_frames {
            arrays.push((KEY_NOISE_BAND_CENTRES_HZ_FRAMES, centres));
        }
        for (key, values) in arrays {
            if let Some(pos) = values.iter().position(|v| !v.is_finite() || *v < 0.0) {
                return Err(format!(
                    "`{key}` must hold finite, non-negative numbers; element {pos} (row-major) is {}",
                    values[pos]
                ));
            }
        }
        Ok(())
    }

    /// Reads an archive written by numpy (`np.savez` or `np.savez_compressed`) or by
    /// [`EnvelopeArchive::write`]. Accepts any real numeric dtype in either byte order and C or
    /// Fortran order. Errors name the file and the key at fault.
    pub fn read(path: &Path) -> Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        Self::read_from(BufReader::new(file))
            .with_context(|| format!("{} is not a readable envelope archive", path.display()))
    }

    /// Reads an archive from any seekable reader; see [`EnvelopeArchive::read`].
    pub fn read_from<R: Read + Seek>(reader: R) -> Result<Self> {
        let mut npz = NpzReader::new(reader).map_err(|e| anyhow!("not an .npz (zip) archive: {e}"))?;
        let names = npz.names().map_err(|e| anyhow!("cannot list the archive: {e}"))?;
        let mut require = |key: &str| -> Result<Numeric> {
            if !names.iter().any(|n| n == key) {
                bail!("missing key `{key}` (the archive holds: {})", names.join(", "));
            }
            Numeric::read(&mut npz, key)
        };
        let freqs = require(KEY_FREQUENCY_ENVELOPES)?;
        let amps = require(KEY_AMPLITUDE_ENVELOPES)?;
        let noise = require(KEY_NOISE_MAGNITUDES_FRAMES)?;
        let f0 = require(KEY_F0_HZ_FRAMES)?;
        let sample_rate_hz = require(KEY_SAMPLE_RATE)?.scalar(KEY_SAMPLE_RATE)?;
        let frame_rate_hz = require(KEY_FRAME_RATE)?.scalar(KEY_FRAME_RATE)?;
        let has = |key: &str| names.iter().any(|n| n == key);
        let row_rate = if has(KEY_ENVELOPE_ROW_RATE) {
            Some(Numeric::read(&mut npz, KEY_ENVELOPE_ROW_RATE)?.scalar(KEY_ENVELOPE_ROW_RATE)?)
        } else {
            None
        };
        let centres = if has(KEY_NOISE_BAND_CENTRES_HZ_FRAMES) {
            Some(Numeric::read(&mut npz, KEY_NOISE_BAND_CENTRES_HZ_FRAMES)?)
        } else {
            None
        };
        let first_frame_index = if has(KEY_FIRST_FRAME_INDEX) {
            let v = Numeric::read(&mut npz, KEY_FIRST_FRAME_INDEX)?.scalar(KEY_FIRST_FRAME_INDEX)?;
            if !(v >= 0.0 && v.fract() == 0.0 && v < 1e15) {
                bail!("`{KEY_FIRST_FRAME_INDEX}` must be a non-negative whole number, got {v}");
            }
            v as u64
        } else {
            0
        };

        let resolution = match row_rate {
            None => EnvelopeResolution::Sample,
            Some(r) if rates_equal(r, frame_rate_hz) => EnvelopeResolution::Frame,
            Some(r) if rates_equal(r, sample_rate_hz) => EnvelopeResolution::Sample,
            Some(r) => bail!(
                "`{KEY_ENVELOPE_ROW_RATE}` is {r}, expected the frame rate ({frame_rate_hz}) or the sample rate ({sample_rate_hz})"
            ),
        };

        let (rows, harmonic_count) = freqs.matrix_shape(KEY_FREQUENCY_ENVELOPES)?;
        let amp_shape = amps.matrix_shape(KEY_AMPLITUDE_ENVELOPES)?;
        if amp_shape != (rows, harmonic_count) {
            bail!(
                "`{KEY_AMPLITUDE_ENVELOPES}` is {:?} but `{KEY_FREQUENCY_ENVELOPES}` is {:?}; they must match",
                amp_shape,
                (rows, harmonic_count)
            );
        }
        let (n_frames, noise_band_count) = noise.frames_shape(KEY_NOISE_MAGNITUDES_FRAMES)?;
        let f0_len = f0.vector_len(KEY_F0_HZ_FRAMES)?;
        if f0_len != n_frames {
            bail!("`{KEY_F0_HZ_FRAMES}` has {f0_len} frames but `{KEY_NOISE_MAGNITUDES_FRAMES}` has {n_frames}");
        }
        let noise_band_centres_hz_frames = match centres {
            None => None,
            Some(c) => {
                let shape = c.frames_shape(KEY_NOISE_BAND_CENTRES_HZ_FRAMES)?;
                if shape != (n_frames, noise_band_count) {
                    bail!(
                        "`{KEY_NOISE_BAND_CENTRES_HZ_FRAMES}` is {shape:?}, expected {:?} like `{KEY_NOISE_MAGNITUDES_FRAMES}`",
                        (n_frames, noise_band_count)
                    );
                }
                Some(c.into_f32())
            }
        };
        let archive = Self {
            sample_rate_hz,
            frame_rate_hz,
            resolution,
            harmonic_count,
            noise_band_count,
            frequency_envelopes: freqs.into_f32(),
            amplitude_envelopes: amps.into_f32(),
            noise_magnitudes_frames: noise.into_f32(),
            noise_band_centres_hz_frames,
            f0_hz_frames: f0.into_f32(),
            first_frame_index,
        };
        archive.validate().map_err(|e| anyhow!(e))?;
        Ok(archive)
    }

    /// Writes the archive atomically (temporary file, then rename), uncompressed as `np.savez`
    /// does. The extra keys are written only when they carry information the original keys do
    /// not: `envelope_row_rate` for frame resolution, the band centres when present,
    /// `first_frame_index` when not 0.
    pub fn write(&self, path: &Path) -> Result<()> {
        self.validate().map_err(|e| anyhow!("refusing to write {}: {e}", path.display()))?;
        ddsp_shared::atomic_file::write_atomically::<anyhow::Error, _>(path, |w| {
            let mut npz = NpzWriter::new(w);
            let rows = self.row_count();
            let h = self.harmonic_count;
            let n = self.frame_count();
            let b = self.noise_band_count;
            npz.add_array(KEY_FREQUENCY_ENVELOPES, &ArrayView2::from_shape((rows, h), &self.frequency_envelopes)?)?;
            npz.add_array(KEY_AMPLITUDE_ENVELOPES, &ArrayView2::from_shape((rows, h), &self.amplitude_envelopes)?)?;
            npz.add_array(
                KEY_NOISE_MAGNITUDES_FRAMES,
                &ArrayView3::from_shape((1, n, b), &self.noise_magnitudes_frames)?,
            )?;
            npz.add_array(KEY_F0_HZ_FRAMES, &ArrayView1::from(&self.f0_hz_frames[..]))?;
            if self.sample_rate_hz.fract() == 0.0 && self.sample_rate_hz < 1e15 {
                npz.add_array(KEY_SAMPLE_RATE, &arr0(self.sample_rate_hz as i64))?;
            } else {
                npz.add_array(KEY_SAMPLE_RATE, &arr0(self.sample_rate_hz))?;
            }
            npz.add_array(KEY_FRAME_RATE, &arr0(self.frame_rate_hz))?;
            if self.resolution == EnvelopeResolution::Frame {
                npz.add_array(KEY_ENVELOPE_ROW_RATE, &arr0(self.frame_rate_hz))?;
            }
            if let Some(centres) = &self.noise_band_centres_hz_frames {
                npz.add_array(KEY_NOISE_BAND_CENTRES_HZ_FRAMES, &ArrayView3::from_shape((1, n, b), centres)?)?;
            }
            if self.first_frame_index != 0 {
                npz.add_array(KEY_FIRST_FRAME_INDEX, &arr0(self.first_frame_index as i64))?;
            }
            npz.finish()?;
            Ok(())
        })
        .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Band centres of frame `i`: the stored ones, or DDSP's linear layout.
    fn band_centre_hz(&self, frame: usize, band: usize) -> f32 {
        match &self.noise_band_centres_hz_frames {
            Some(c) => c[frame * self.noise_band_count + band],
            None => linear_band_centre_hz(band, self.noise_band_count, self.sample_rate_hz),
        }
    }

    /// One [`Envelope`] frame per control frame; sample-resolution rows are averaged over each
    /// frame's period (see the module docs). Frame indices start at `first_frame_index`.
    pub fn to_envelope(&self) -> Envelope {
        let n = self.frame_count();
        let h = self.harmonic_count;
        let b = self.noise_band_count;
        let rows = self.row_count();
        let hop = self.rows_per_frame();
        let mut env = Envelope::silent(self.frame_rate_hz, self.sample_rate_hz, n, h, b, 0.0);
        env.frame_indices = (0..n as u64).map(|i| i + self.first_frame_index).collect();
        env.f0_hz.copy_from_slice(&self.f0_hz_frames);
        for i in 0..n {
            let (start, end) =
                if self.resolution == EnvelopeResolution::Frame { (i, i + 1) } else { frame_row_span(i, hop, rows) };
            let count = (end - start) as f64;
            for k in 0..h {
                let mut f_sum = 0.0f64;
                let mut a_sum = 0.0f64;
                for r in start..end {
                    f_sum += f64::from(self.frequency_envelopes[r * h + k]);
                    a_sum += f64::from(self.amplitude_envelopes[r * h + k]);
                }
                env.harmonic_freqs_hz[i * h + k] = (f_sum / count) as f32;
                env.harmonic_amps[i * h + k] = (a_sum / count) as f32;
            }
            for band in 0..b {
                env.band_centres_hz[i * b + band] = self.band_centre_hz(i, band);
                env.band_mags[i * b + band] = self.noise_magnitudes_frames[i * b + band];
            }
        }
        env
    }

    /// One [`Envelope`] frame per row: the original's `--full-resolution` export. The frame
    /// rate becomes the row rate (so `frame_index / frame_rate` is still the time); f0 and the
    /// noise bands are linearly interpolated between control frames.
    pub fn to_envelope_full_resolution(&self) -> Envelope {
        if self.resolution == EnvelopeResolution::Frame {
            return self.to_envelope();
        }
        let rows = self.row_count();
        let h = self.harmonic_count;
        let b = self.noise_band_count;
        let hop = self.rows_per_frame();
        let mut env = Envelope::silent(self.sample_rate_hz, self.sample_rate_hz, rows, h, b, 0.0);
        let first_row = (self.first_frame_index as f64 * hop).round() as u64;
        env.frame_indices = (0..rows as u64).map(|r| r + first_row).collect();
        env.harmonic_freqs_hz.copy_from_slice(&self.frequency_envelopes);
        env.harmonic_amps.copy_from_slice(&self.amplitude_envelopes);
        let last_frame = self.frame_count() - 1;
        for r in 0..rows {
            let (i0, i1, t) = interpolation_point(r as f64 / hop, last_frame);
            env.f0_hz[r] = lerp(self.f0_hz_frames[i0], self.f0_hz_frames[i1], t);
            for band in 0..b {
                env.band_mags[r * b + band] =
                    lerp(self.noise_magnitudes_frames[i0 * b + band], self.noise_magnitudes_frames[i1 * b + band], t);
                env.band_centres_hz[r * b + band] =
                    lerp(self.band_centre_hz(i0, band), self.band_centre_hz(i1, band), t);
            }
        }
        env
    }

    /// Builds an archive from an envelope. Frames are laid on a continuous grid from the
    /// envelope's first frame index to its last (skipped indices of a downsampled file are
    /// filled by linear interpolation in time); at [`EnvelopeResolution::Sample`] each row
    /// (one per `1 / sample_rate` s) interpolates linearly between the frames around it.
    /// Band centres are stored only when they differ from DDSP's linear layout.
    pub fn from_envelope(env: &Envelope, resolution: EnvelopeResolution) -> Result<Self> {
        env.validate().map_err(|e| anyhow!("cannot archive an invalid envelope: {e}"))?;
        if env.frame_count() == 0 {
            bail!("cannot archive an envelope with no frames");
        }
        let dense = densify(env);
        let n = dense.frame_count();
        let h = dense.harmonic_count;
        let b = dense.noise_band_count;
        let linear_centres = (0..n)
            .all(|i| (0..b).all(|k| dense.band_centres(i)[k] == linear_band_centre_hz(k, b, dense.sample_rate_hz)));
        let (frequency_envelopes, amplitude_envelopes) = match resolution {
            EnvelopeResolution::Frame => (dense.harmonic_freqs_hz.clone(), dense.harmonic_amps.clone()),
            EnvelopeResolution::Sample => {
                let hop = dense.sample_rate_hz / dense.frame_rate_hz;
                let rows = (n as f64 * hop).round().max(1.0) as usize;
                let mut freqs = Vec::with_capacity(rows * h);
                let mut amps = Vec::with_capacity(rows * h);
                for r in 0..rows {
                    let (i0, i1, t) = interpolation_point(r as f64 / hop, n - 1);
                    for k in 0..h {
                        freqs.push(lerp(dense.harmonic_freqs_hz[i0 * h + k], dense.harmonic_freqs_hz[i1 * h + k], t));
                        amps.push(lerp(dense.harmonic_amps[i0 * h + k], dense.harmonic_amps[i1 * h + k], t));
                    }
                }
                (freqs, amps)
            }
        };
        Ok(Self {
            sample_rate_hz: dense.sample_rate_hz,
            frame_rate_hz: dense.frame_rate_hz,
            resolution,
            harmonic_count: h,
            noise_band_count: b,
            frequency_envelopes,
            amplitude_envelopes,
            noise_magnitudes_frames: dense.band_mags.clone(),
            noise_band_centres_hz_frames: if linear_centres { None } else { Some(dense.band_centres_hz.clone()) },
            f0_hz_frames: dense.f0_hz.clone(),
            first_frame_index: dense.frame_indices[0],
        })
    }
}

/// Rows `[start, end)` averaged into frame `i`: a window centred on the frame's row
/// `round(i * hop)`, `hop + 1` rows wide inside the archive and narrowed symmetrically at its
/// ends (frame 0 is row 0 alone), so a steady glide averages to exactly the frame's value.
fn frame_row_span(i: usize, hop: f64, rows: usize) -> (usize, usize) {
    let centre = ((i as f64 * hop).round() as usize).min(rows - 1);
    let half = ((hop / 2.0).floor() as usize).min(centre).min(rows - 1 - centre);
    (centre - half, centre + half + 1)
}

/// The two frames around fractional frame position `pos` and the weight of the second,
/// clamped to frames `0..=last`.
fn interpolation_point(pos: f64, last: usize) -> (usize, usize, f32) {
    if pos <= 0.0 || last == 0 {
        return (0, 0, 0.0);
    }
    let i0 = pos.floor() as usize;
    if i0 >= last {
        return (last, last, 0.0);
    }
    (i0, i0 + 1, (pos - i0 as f64) as f32)
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

fn rates_equal(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// The envelope with every frame index from its first to its last present, missing frames
/// linearly interpolated between their neighbours.
fn densify(env: &Envelope) -> Envelope {
    let first = env.frame_indices[0];
    let last = *env.frame_indices.last().expect("non-empty");
    let n = (last - first + 1) as usize;
    if n == env.frame_count() {
        return env.clone();
    }
    let h = env.harmonic_count;
    let b = env.noise_band_count;
    let mut out = Envelope::silent(env.frame_rate_hz, env.sample_rate_hz, n, h, b, 0.0);
    out.extra_metadata = env.extra_metadata.clone();
    out.frame_indices = (first..=last).collect();
    let mut src = 0;
    for (j, &index) in out.frame_indices.iter().enumerate() {
        while src + 1 < env.frame_count() && env.frame_indices[src + 1] <= index {
            src += 1;
        }
        let (i0, i1, t) = if src + 1 < env.frame_count() {
            let a = env.frame_indices[src];
            let c = env.frame_indices[src + 1];
            (src, src + 1, ((index - a) as f64 / (c - a) as f64) as f32)
        } else {
            (src, src, 0.0)
        };
        out.f0_hz[j] = lerp(env.f0_hz[i0], env.f0_hz[i1], t);
        for k in 0..h {
            out.harmonic_freqs_hz[j * h + k] =
                lerp(env.harmonic_freqs_hz[i0 * h + k], env.harmonic_freqs_hz[i1 * h + k], t);
            out.harmonic_amps[j * h + k] = lerp(env.harmonic_amps[i0 * h + k], env.harmonic_amps[i1 * h + k], t);
        }
        for k in 0..b {
            out.band_centres_hz[j * b + k] = lerp(env.band_centres_hz[i0 * b + k], env.band_centres_hz[i1 * b + k], t);
            out.band_mags[j * b + k] = lerp(env.band_mags[i0 * b + k], env.band_mags[i1 * b + k], t);
        }
    }
    out
}

/// An array as numpy stored it, in whichever real dtype it has.
enum Numeric {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    I64(ArrayD<i64>),
    I32(ArrayD<i32>),
    I16(ArrayD<i16>),
    U32(ArrayD<u32>),
    U16(ArrayD<u16>),
    U8(ArrayD<u8>),
}

macro_rules! try_dtype {
    ($npz:expr, $key:expr, $variant:ident, $ty:ty) => {
        match $npz.by_name::<ndarray::OwnedRepr<$ty>, IxDyn>($key) {
            Ok(a) => return Ok(Numeric::$variant(a)),
            Err(ReadNpzError::Npy(ReadNpyError::WrongDescriptor(_))) => {}
            Err(e) => bail!("cannot read `{}`: {e}", $key),
        }
    };
}

impl Numeric {
    fn read<R: Read + Seek>(npz: &mut NpzReader<R>, key: &str) -> Result<Self> {
        try_dtype!(npz, key, F32, f32);
        try_dtype!(npz, key, F64, f64);
        try_dtype!(npz, key, I64, i64);
        try_dtype!(npz, key, I32, i32);
        try_dtype!(npz, key, I16, i16);
        try_dtype!(npz, key, U32, u32);
        try_dtype!(npz, key, U16, u16);
        try_dtype!(npz, key, U8, u8);
        bail!("`{key}` has a dtype that is not a real number (expected float32/float64 or an integer type)")
    }

    fn shape(&self) -> &[usize] {
        match self {
            Numeric::F32(a) => a.shape(),
            Numeric::F64(a) => a.shape(),
            Numeric::I64(a) => a.shape(),
            Numeric::I32(a) => a.shape(),
            Numeric::I16(a) => a.shape(),
            Numeric::U32(a) => a.shape(),
            Numeric::U16(a) => a.shape(),
            Numeric::U8(a) => a.shape(),
        }
    }

    /// Values in logical (C) order as f32.
    fn into_f32(self) -> Vec<f32> {
        match self {
            Numeric::F32(a) => a.iter().copied().collect(),
            Numeric::F64(a) => a.iter().map(|&v| v as f32).collect(),
            Numeric::I64(a) => a.iter().map(|&v| v as f32).collect(),
            Numeric::I32(a) => a.iter().map(|&v| v as f32).collect(),
            Numeric::I16(a) => a.iter().map(|&v| f32::from(v)).collect(),
            Numeric::U32(a) => a.iter().map(|&v| v as f32).collect(),
            Numeric::U16(a) => a.iter().map(|&v| f32::from(v)).collect(),
            Numeric::U8(a) => a.iter().map(|&v| f32::from(v)).collect(),
        }
    }

    /// The single value of a 0-d (or one-element) array, as f64.
    fn scalar(self, key: &str) -> Result<f64> {
        if self.shape().iter().product::<usize>() != 1 {
            bail!("`{key}` must be a scalar, got shape {:?}", self.shape());
        }
        let v = match self {
            Numeric::F32(a) => f64::from(a.iter().next().copied().unwrap_or_default()),
            Numeric::F64(a) => a.iter().next().copied().unwrap_or_default(),
            Numeric::I64(a) => a.iter().next().copied().unwrap_or_default() as f64,
            Numeric::I32(a) => f64::from(a.iter().next().copied().unwrap_or_default()),
            Numeric::I16(a) => f64::from(a.iter().next().copied().unwrap_or_default()),
            Numeric::U32(a) => f64::from(a.iter().next().copied().unwrap_or_default()),
            Numeric::U16(a) => f64::from(a.iter().next().copied().unwrap_or_default()),
            Numeric::U8(a) => f64::from(a.iter().next().copied().unwrap_or_default()),
        };
        if !v.is_finite() {
            bail!("`{key}` must be a finite number, got {v}");
        }
        Ok(v)
    }

    /// `[rows, H]`.
    fn matrix_shape(&self, key: &str) -> Result<(usize, usize)> {
        match *self.shape() {
            [rows, h] => Ok((rows, h)),
            ref s => bail!("`{key}` must be 2-D [rows, harmonics], got shape {s:?}"),
        }
    }

    /// `[1, n_frames, B]`; `[n_frames, B]` is accepted too.
    fn frames_shape(&self, key: &str) -> Result<(usize, usize)> {
        match *self.shape() {
            [1, n, b] | [n, b] => Ok((n, b)),
            ref s => bail!("`{key}` must be [1, frames, bands], got shape {s:?}"),
        }
    }

    /// `[n_frames]`; `[1, n_frames]` and `[n_frames, 1]` are accepted too.
    fn vector_len(&self, key: &str) -> Result<usize> {
        match *self.shape() {
            [n] | [1, n] | [n, 1] => Ok(n),
            ref s => bail!("`{key}` must be 1-D [frames], got shape {s:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ddsp-archive-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// 8 frames at 250 Hz / 16 kHz, 3 harmonics gliding up, 4 bands.
    fn gliding_envelope() -> Envelope {
        let mut env = Envelope::silent(250.0, 16000.0, 8, 3, 4, 0.0);
        for i in 0..8 {
            let f0 = 200.0 + 10.0 * i as f32;
            env.f0_hz[i] = f0;
            for k in 0..3 {
                env.harmonic_freqs_hz[i * 3 + k] = f0 * (k + 1) as f32;
                env.harmonic_amps[i * 3 + k] = 0.1 / (k + 1) as f32 + 0.01 * i as f32;
            }
            for k in 0..4 {
                env.band_mags[i * 4 + k] = 0.001 * (k + i) as f32;
            }
        }
        env
    }

    #[test]
    fn frame_resolution_round_trip_is_exact() {
        let dir = scratch("frame");
        let env = gliding_envelope();
        let archive = EnvelopeArchive::from_envelope(&env, EnvelopeResolution::Frame).unwrap();
        let path = dir.join("chunk_00.npz");
        archive.write(&path).unwrap();
        let back = EnvelopeArchive::read(&path).unwrap();
        assert_eq!(back, archive);
        assert_eq!(back.to_envelope(), env);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sample_resolution_has_hop_rows_per_frame_and_averages_back_to_the_frames() {
        let dir = scratch("sample");
        let env = gliding_envelope();
        let archive = EnvelopeArchive::from_envelope(&env, EnvelopeResolution::Sample).unwrap();
        assert_eq!(archive.row_count(), 8 * 64);
        let path = dir.join("chunk_00.npz");
        archive.write(&path).unwrap();
        let back = EnvelopeArchive::read(&path).unwrap();
        assert_eq!(back.resolution, EnvelopeResolution::Sample);
        let frames = back.to_envelope();
        assert_eq!(frames.frame_indices, env.frame_indices);
        // The average of a linear ramp over a symmetric window is its centre.
        for i in 0..7 {
            for k in 0..3 {
                assert_relative_eq!(frames.harmonic_freqs(i)[k], env.harmonic_freqs(i)[k], max_relative = 1e-3);
                assert_relative_eq!(frames.harmonic_amps(i)[k], env.harmonic_amps(i)[k], max_relative = 1e-2);
            }
        }
        assert_eq!(frames.band_mags, env.band_mags);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn full_resolution_keeps_times() {
        let env = gliding_envelope();
        let archive = EnvelopeArchive::from_envelope(&env, EnvelopeResolution::Sample).unwrap();
        let full = archive.to_envelope_full_resolution();
        assert_eq!(full.frame_count(), 8 * 64);
        assert_eq!(full.frame_rate_hz, 16000.0);
        // Row 64 * 3 is frame 3's time and carries frame 3's values.
        assert_relative_eq!(full.frame_time_s(192), env.frame_time_s(3));
        assert_relative_eq!(full.f0_hz[192], env.f0_hz[3]);
        assert_relative_eq!(full.harmonic_freqs(192)[1], env.harmonic_freqs(3)[1]);
    }

    #[test]
    fn skipped_frames_are_interpolated_and_the_start_index_is_kept() {
        let mut env = gliding_envelope();
        env.frame_indices = vec![10, 12, 14, 16, 18, 20, 22, 24];
        let archive = EnvelopeArchive::from_envelope(&env, EnvelopeResolution::Frame).unwrap();
        assert_eq!(archive.frame_count(), 15);
        assert_eq!(archive.first_frame_index, 10);
        let back = archive.to_envelope();
        assert_eq!(back.frame_indices[1], 11);
        assert_relative_eq!(back.f0_hz[1], 205.0);
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npz").join(name)
    }

    /// The archive numpy wrote as the original exporter did (see tests/fixtures/npz/README.md).
    #[test]
    fn reads_the_numpy_written_original_layout() {
        let archive = EnvelopeArchive::read(&fixture("chunk_00_envelopes.npz")).unwrap();
        assert_eq!(archive.resolution, EnvelopeResolution::Sample);
        assert_eq!((archive.row_count(), archive.harmonic_count), (256, 5));
        assert_eq!((archive.frame_count(), archive.noise_band_count), (4, 65));
        assert_eq!(archive.sample_rate_hz, 16000.0);
        assert_eq!(archive.frame_rate_hz, 250.0);
        assert_eq!(archive.f0_hz_frames, vec![220.0, 230.0, 240.0, 250.0]);
        // Row 100, harmonic 2: 3 * (220 + 10 * 100 / 64) Hz.
        assert_relative_eq!(
            archive.frequency_envelopes[100 * 5 + 2],
            3.0 * (220.0 + 1000.0 / 64.0),
            max_relative = 1e-6
        );
        let env = archive.to_envelope();
        env.validate().unwrap();
        // Frame 2 averages rows 96..=160, centred on row 128 (f0 240 Hz); frame 0 is row 0.
        assert_relative_eq!(env.harmonic_freqs(2)[0], 240.0, max_relative = 1e-5);
        assert_relative_eq!(env.harmonic_freqs(0)[1], 440.0, max_relative = 1e-6);
        assert_relative_eq!(env.harmonic_amps(2)[4], 0.1, max_relative = 1e-6);
        assert_relative_eq!(env.band_mags(3)[10], 0.001 * 11.0 * 4.0, max_relative = 1e-6);
        assert_eq!(env.band_centres(0)[64], 8000.0);
    }

    #[test]
    fn compressed_float64_fortran_archive_reads_the_same() {
        let a = EnvelopeArchive::read(&fixture("chunk_00_envelopes.npz")).unwrap();
        let b = EnvelopeArchive::read(&fixture("chunk_01_compressed_f64.npz")).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn missing_key_is_named() {
        let dir = scratch("missing");
        let path = dir.join("bad.npz");
        let mut npz = NpzWriter::new(File::create(&path).unwrap());
        npz.add_array("f0_hz_frames", &ndarray::arr1(&[1.0f32])).unwrap();
        npz.finish().unwrap();
        let err = format!("{:#}", EnvelopeArchive::read(&path).unwrap_err());
        assert!(err.contains("bad.npz") && err.contains("missing key `frequency_envelopes`"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nan_is_refused_naming_the_key() {
        let mut archive = EnvelopeArchive::from_envelope(&gliding_envelope(), EnvelopeResolution::Frame).unwrap();
        archive.amplitude_envelopes[4] = f32::NAN;
        let err = archive.validate().unwrap_err();
        assert!(err.contains("amplitude_envelopes") && err.contains("element 4"), "{err}");
    }

    #[test]
    fn failed_write_leaves_no_file() {
        let dir = scratch("failwrite");
        let mut archive = EnvelopeArchive::from_envelope(&gliding_envelope(), EnvelopeResolution::Frame).unwrap();
        archive.f0_hz_frames.pop();
        let path = dir.join("out.npz");
        assert!(archive.write(&path).is_err());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

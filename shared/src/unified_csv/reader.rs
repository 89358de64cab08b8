//! Streaming reader of the unified CSV: one pass over the bytes of a `BufRead`, straight into
//! the dense per-frame arrays of an [`Envelope`].
//!
//! Lines are parsed in place from the reader's own buffer (a line is copied only when it
//! straddles two buffer fills), rows allocate nothing, and numbers go through `fast_float2`
//! (Eisel-Lemire, correctly rounded, like `str::parse` but faster). The frame index and f0,
//! repeated on every row of a frame, are parsed once per frame. Memory is the envelope itself plus the doubling slack of
//! its vectors; a line can never grow past [`MAX_LINE_BYTES`] and a component index never
//! past [`MAX_COMPONENT_INDEX`], so hostile input cannot make it allocate without bound.
//!
//! Components are stored at `frame * stride + index` while the file is read. The stride grows
//! by doubling when a higher index appears (rare: in practice only during the first frame),
//! and is cut to the final count (highest index + 1) at the end. A slot not yet filled holds
//! NaN in its frequency: input NaN is rejected, so NaN marks "missing" and "not a duplicate"
//! without a separate bitmap.

use std::io::{self, BufRead};

use super::error::{excerpt, CsvError, Problem};
use crate::envelope::{linear_band_centre_hz, Envelope, FRAME_RATE_RANGE_HZ, MAX_DURATION_S, SAMPLE_RATE_RANGE_HZ};

/// The six columns of the unified CSV, in the order the exporter writes them.
pub const COLUMNS: [&str; 6] = ["frame_index", "f0_hz", "component_type", "component_index", "frequency", "value"];

/// Longest line accepted, bytes. A data row is well under 100 bytes; the metadata line may
/// carry extra keys, hence the generous bound.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Highest `component_index` accepted. DDSP makes 60 harmonics and 65 bands; enrichment to the
/// full band extends that to a few hundred. Anything above this is a corrupt file, and
/// accepting it would allocate `frames * index` values.
pub const MAX_COMPONENT_INDEX: usize = 4095;

/// Highest `frame_index` accepted: 10^15 - 1, some 126 years at 250 frames per second, and
/// small enough that every index and its time are exact in an `f64`.
pub const MAX_FRAME_INDEX: u64 = 999_999_999_999_999;

/// The dense arrays may hold at most this many values per data row (plus
/// [`SPARSE_ALLOWANCE_CELLS`]). A file in which most frames carry only a few of many components
/// would otherwise expand a small file into gigabytes.
const MAX_CELLS_PER_ROW: usize = 256;

/// Dense values allowed regardless of the row count, so small sparse files always load.
const SPARSE_ALLOWANCE_CELLS: usize = 1 << 20;

/// Positions of the columns in [`COLUMNS`].
const FRAME_INDEX: usize = 0;
const F0_HZ: usize = 1;
const COMPONENT_TYPE: usize = 2;
const COMPONENT_INDEX: usize = 3;
const FREQUENCY: usize = 4;
const VALUE: usize = 5;

/// Reads a unified CSV from a buffered reader. On error nothing is returned: a file is either
/// loaded whole or not at all.
pub fn read_from<R: BufRead>(mut reader: R) -> Result<Envelope, CsvError> {
    let mut state = State::Metadata;
    let mut builder = Builder::default();
    let mut metadata = Metadata::default();
    let mut header = Header::default();
    for_each_line(&mut reader, |line, line_no| match state {
        State::Metadata => {
            metadata = parse_metadata(line, line_no)?;
            state = State::Header;
            Ok(())
        }
        State::Header => {
            if line.trim_ascii().is_empty() {
                return Ok(());
            }
            header = Header::parse(line, line_no)?;
            state = State::Rows;
            Ok(())
        }
        State::Rows => {
            if line.trim_ascii().is_empty() {
                return Ok(());
            }
            builder.push_row(&header, metadata.frame_rate_hz, line, line_no)
        }
    })?;
    match state {
        State::Metadata => Err(CsvError::at_line(1, Problem::MissingMetadata { found: excerpt(None) })),
        State::Header => Err(CsvError::at_line(2, Problem::MissingHeader { found: excerpt(None) })),
        State::Rows => builder.finish(metadata),
    }
}

/// Where in the file the reader is.
#[derive(Clone, Copy)]
enum State {
    Metadata,
    Header,
    Rows,
}

/// Calls `on_line` with each line (without its `\n` or `\r\n`) and its 1-based number,
/// borrowing from the reader's buffer whenever the line lies within one fill.
fn for_each_line<R: BufRead>(
    reader: &mut R,
    mut on_line: impl FnMut(&[u8], u64) -> Result<(), CsvError>,
) -> Result<(), CsvError> {
    let mut carry: Vec<u8> = Vec::new();
    let mut line_no: u64 = 0;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(CsvError::from(err)),
        };
        if buf.is_empty() {
            if !carry.is_empty() {
                on_line(strip_cr(&carry), line_no + 1)?;
            }
            return Ok(());
        }
        match memchr::memchr(b'\n', buf) {
            Some(end) => {
                line_no += 1;
                if carry.is_empty() {
                    check_line_length(end, line_no)?;
                    on_line(strip_cr(&buf[..end]), line_no)?;
                } else {
                    check_line_length(carry.len() + end, line_no)?;
                    carry.extend_from_slice(&buf[..end]);
                    on_line(strip_cr(&carry), line_no)?;
                    carry.clear();
                }
                reader.consume(end + 1);
            }
            None => {
                let len = buf.len();
                check_line_length(carry.len() + len, line_no + 1)?;
                carry.extend_from_slice(buf);
                reader.consume(len);
            }
        }
    }
}

fn check_line_length(len: usize, line_no: u64) -> Result<(), CsvError> {
    if len > MAX_LINE_BYTES {
        return Err(CsvError::at_line(line_no, Problem::LineTooLong { max_bytes: MAX_LINE_BYTES }));
    }
    Ok(())
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// What line 1 carries.
#[derive(Default)]
struct Metadata {
    frame_rate_hz: f64,
    sample_rate_hz: f64,
    extra: Vec<(String, String)>,
}

/// Parses `# frame_rate=250.57,sample_rate=44100[,key=value...]`, tolerating a UTF-8 byte
/// order mark, spaces around items, and empty items.
fn parse_metadata(line: &[u8], line_no: u64) -> Result<Metadata, CsvError> {
    let at = |problem| CsvError::at_line(line_no, problem);
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let Some(rest) = line.trim_ascii().strip_prefix(b"#") else {
        return Err(at(Problem::MissingMetadata { found: excerpt(Some(line)) }));
    };
    let rest = std::str::from_utf8(rest).map_err(|_| at(Problem::NotUtf8))?;
    let mut frame_rate_hz = None;
    let mut sample_rate_hz = None;
    let mut extra: Vec<(String, String)> = Vec::new();
    for item in rest.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(at(Problem::MalformedMetadata { found: excerpt(Some(item.as_bytes())) }));
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(at(Problem::MalformedMetadata { found: excerpt(Some(item.as_bytes())) }));
        }
        let slot = match key {
            "frame_rate" => Some(("frame_rate", &mut frame_rate_hz)),
            "sample_rate" => Some(("sample_rate", &mut sample_rate_hz)),
            _ => None,
        };
        let duplicate = match slot {
            Some((key, slot)) => {
                let rate = value.parse::<f64>().ok().filter(|r| r.is_finite() && *r > 0.0);
                let rate = rate.ok_or_else(|| at(Problem::BadRate { key, found: excerpt(Some(value.as_bytes())) }))?;
                let range = if key == "frame_rate" { FRAME_RATE_RANGE_HZ } else { SAMPLE_RATE_RANGE_HZ };
                if !range.contains(&rate) {
                    return Err(at(Problem::RateOutOfRange {
                        key,
                        found: value.chars().take(40).collect(),
                        min: *range.start(),
                        max: *range.end(),
                    }));
                }
                slot.replace(rate).is_some()
            }
            None => {
                let seen = extra.iter().any(|(k, _)| k == key);
                extra.push((key.to_owned(), value.to_owned()));
                seen
            }
        };
        if duplicate {
            return Err(at(Problem::DuplicateMetadataKey { key: key.to_owned() }));
        }
    }
    let frame_rate_hz = frame_rate_hz.ok_or_else(|| at(Problem::MissingMetadataKey { key: "frame_rate" }))?;
    let sample_rate_hz = sample_rate_hz.ok_or_else(|| at(Problem::MissingMetadataKey { key: "sample_rate" }))?;
    Ok(Metadata { frame_rate_hz, sample_rate_hz, extra })
}

/// Where each of the six columns sits in a row (columns may come in any order; columns with
/// other names are allowed and ignored).
#[derive(Default)]
struct Header {
    /// For each field position of a row, which of [`COLUMNS`] it holds.
    roles: Vec<Option<usize>>,
    /// For each of [`COLUMNS`], its 1-based field position (for error messages).
    positions: [usize; 6],
}

impl Header {
    fn parse(line: &[u8], line_no: u64) -> Result<Self, CsvError> {
        let at = |problem| CsvError::at_line(line_no, problem);
        let mut roles = Vec::new();
        let mut positions = [0usize; 6];
        for (j, name) in line.split(|&b| b == b',').enumerate() {
            let name = name.trim_ascii();
            let role = COLUMNS.iter().position(|c| c.as_bytes() == name);
            if let Some(c) = role {
                if positions[c] != 0 {
                    return Err(at(Problem::DuplicateColumn { name: COLUMNS[c] }));
                }
                positions[c] = j + 1;
            }
            roles.push(role);
        }
        if positions.iter().all(|&p| p == 0) {
            return Err(at(Problem::MissingHeader { found: excerpt(Some(line)) }));
        }
        if let Some(c) = positions.iter().position(|&p| p == 0) {
            return Err(at(Problem::MissingColumn { name: COLUMNS[c] }));
        }
        Ok(Self { roles, positions })
    }

    /// An error in column `c` of line `line_no`.
    fn error(&self, line_no: u64, c: usize, problem: Problem) -> CsvError {
        CsvError { path: None, line: Some(line_no), column: Some((self.positions[c], COLUMNS[c])), problem }
    }
}

/// One of the two component kinds, as the growing arrays see it.
#[derive(Default)]
struct Components {
    /// Values per frame in `freqs`/`values` while reading; at least `count`.
    stride: usize,
    /// Highest index seen + 1.
    count: usize,
    /// `[frames * stride]`, NaN where the file has no row (yet).
    freqs: Vec<f32>,
    /// `[frames * stride]`, 0 where the file has no row.
    values: Vec<f32>,
}

impl Components {
    /// Room for one more frame.
    fn push_frame(&mut self) {
        self.freqs.resize(self.freqs.len() + self.stride, f32::NAN);
        self.values.resize(self.values.len() + self.stride, 0.0);
    }

    /// Makes `index` addressable, doubling the stride (and moving every frame) if needed.
    fn ensure_index(&mut self, index: usize, frames: usize) {
        self.count = self.count.max(index + 1);
        if index < self.stride {
            return;
        }
        let new_stride = (index + 1).max(self.stride * 2).min(MAX_COMPONENT_INDEX + 1);
        self.restride(new_stride, frames);
    }

    /// Re-lays the arrays out with `new_stride` values per frame (keeping the first
    /// `min(stride, new_stride)` of each frame).
    fn restride(&mut self, new_stride: usize, frames: usize) {
        let kept = self.stride.min(new_stride);
        let mut freqs = vec![f32::NAN; frames * new_stride];
        let mut values = vec![0.0; frames * new_stride];
        if kept > 0 {
            for f in 0..frames {
                let (src, dst) = (f * self.stride, f * new_stride);
                freqs[dst..dst + kept].copy_from_slice(&self.freqs[src..src + kept]);
                values[dst..dst + kept].copy_from_slice(&self.values[src..src + kept]);
            }
        }
        self.freqs = freqs;
        self.values = values;
        self.stride = new_stride;
    }

    /// Cuts the stride to `count` and releases the slack.
    fn compact(&mut self, frames: usize) {
        if self.stride != self.count {
            self.restride(self.count, frames);
        } else {
            self.freqs.shrink_to_fit();
            self.values.shrink_to_fit();
        }
    }
}

/// The envelope under construction.
#[derive(Default)]
struct Builder {
    frame_indices: Vec<u64>,
    f0_hz: Vec<f32>,
    harmonics: Components,
    bands: Components,
    /// Data rows read so far.
    rows: usize,
    /// The `frame_index` and `f0_hz` text of the last row, to skip parsing them again.
    frame_index_text: Vec<u8>,
    f0_text: Vec<u8>,
}

impl Builder {
    /// Parses one data row and stores it.
    fn push_row(&mut self, header: &Header, frame_rate_hz: f64, line: &[u8], line_no: u64) -> Result<(), CsvError> {
        let mut fields: [&[u8]; 6] = [&[]; 6];
        let mut field_count = 0;
        for (j, field) in line.split(|&b| b == b',').enumerate() {
            if let Some(Some(c)) = header.roles.get(j) {
                fields[*c] = field.trim_ascii();
            }
            field_count = j + 1;
        }
        if field_count != header.roles.len() {
            return Err(CsvError::at_line(
                line_no,
                Problem::FieldCount { expected: header.roles.len(), found: field_count },
            ));
        }
        let err = |c: usize, problem| header.error(line_no, c, problem);

        // Every row of a frame repeats its frame index and f0: parse them once per frame.
        let same_frame_text = !self.frame_indices.is_empty()
            && fields[FRAME_INDEX] == self.frame_index_text.as_slice()
            && fields[F0_HZ] == self.f0_text.as_slice();
        let (frame_index, f0_hz) = if same_frame_text {
            (*self.frame_indices.last().unwrap_or(&0), *self.f0_hz.last().unwrap_or(&0.0))
        } else {
            let frame_index = parse_index(fields[FRAME_INDEX], MAX_FRAME_INDEX).map_err(|p| err(FRAME_INDEX, p))?;
            let seconds = frame_index as f64 / frame_rate_hz;
            if seconds > MAX_DURATION_S {
                let problem =
                    Problem::FrameTooLate { frame: frame_index, seconds, frame_rate_hz, max_s: MAX_DURATION_S };
                return Err(err(FRAME_INDEX, problem));
            }
            let f0_hz = parse_non_negative(fields[F0_HZ]).map_err(|p| err(F0_HZ, p))?;
            (frame_index, f0_hz)
        };
        let is_harmonic = match fields[COMPONENT_TYPE] {
            b"harmonic" => true,
            b"noise_band" => false,
            other => {
                return Err(err(COMPONENT_TYPE, Problem::UnknownComponentType { found: excerpt(Some(other)) }));
            }
        };
        let index = parse_index(fields[COMPONENT_INDEX], MAX_COMPONENT_INDEX as u64)
            .map_err(|p| err(COMPONENT_INDEX, p))? as usize;
        let frequency = parse_non_negative(fields[FREQUENCY]).map_err(|p| err(FREQUENCY, p))?;
        let value = parse_non_negative(fields[VALUE]).map_err(|p| err(VALUE, p))?;

        match self.frame_indices.last() {
            Some(&last) if last == frame_index => {
                let first = *self.f0_hz.last().expect("f0 is pushed with each frame");
                if first != f0_hz {
                    return Err(err(F0_HZ, Problem::F0Mismatch { frame: frame_index, first, found: f0_hz }));
                }
            }
            Some(&last) if last > frame_index => {
                return Err(err(FRAME_INDEX, Problem::FrameBackwards { frame: frame_index, previous: last }));
            }
            _ => {
                self.frame_indices.push(frame_index);
                self.f0_hz.push(f0_hz);
                self.harmonics.push_frame();
                self.bands.push_frame();
            }
        }
        if !same_frame_text {
            self.frame_index_text.clear();
            self.frame_index_text.extend_from_slice(fields[FRAME_INDEX]);
            self.f0_text.clear();
            self.f0_text.extend_from_slice(fields[F0_HZ]);
        }
        self.rows += 1;

        let frames = self.frame_indices.len();
        let (components, kind) =
            if is_harmonic { (&mut self.harmonics, "harmonic") } else { (&mut self.bands, "noise band") };
        components.ensure_index(index, frames);
        let slot = (frames - 1) * components.stride + index;
        if !components.freqs[slot].is_nan() {
            return Err(err(COMPONENT_INDEX, Problem::DuplicateComponent { frame: frame_index, kind, index }));
        }
        components.freqs[slot] = frequency;
        components.values[slot] = value;

        let cells = frames * (self.harmonics.stride + self.bands.stride);
        if cells > SPARSE_ALLOWANCE_CELLS && cells / MAX_CELLS_PER_ROW > self.rows {
            return Err(CsvError::at_line(
                line_no,
                Problem::TooSparse {
                    frames,
                    components: self.harmonics.stride + self.bands.stride,
                    cells,
                    rows: self.rows,
                },
            ));
        }
        Ok(())
    }

    /// Cuts the arrays to their final size and fills the components the file left out.
    fn finish(mut self, metadata: Metadata) -> Result<Envelope, CsvError> {
        let frames = self.frame_indices.len();
        if frames == 0 {
            return Err(CsvError::whole_file(Problem::NoFrames));
        }
        self.harmonics.compact(frames);
        self.bands.compact(frames);
        fill_missing_harmonics(&mut self.harmonics, &self.f0_hz);
        fill_missing_band_centres(&mut self.bands, &self.frame_indices, metadata.sample_rate_hz);
        self.frame_indices.shrink_to_fit();
        self.f0_hz.shrink_to_fit();
        Ok(Envelope {
            frame_rate_hz: metadata.frame_rate_hz,
            sample_rate_hz: metadata.sample_rate_hz,
            extra_metadata: metadata.extra,
            harmonic_count: self.harmonics.count,
            noise_band_count: self.bands.count,
            frame_indices: self.frame_indices,
            f0_hz: self.f0_hz,
            harmonic_freqs_hz: self.harmonics.freqs,
            harmonic_amps: self.harmonics.values,
            band_centres_hz: self.bands.freqs,
            band_mags: self.bands.values,
        })
    }
}

/// A missing harmonic `k` sits at `(k + 1) * f0` (its amplitude is already 0).
fn fill_missing_harmonics(harmonics: &mut Components, f0_hz: &[f32]) {
    let count = harmonics.count;
    if count == 0 {
        return;
    }
    for (frame, freqs) in harmonics.freqs.chunks_exact_mut(count).enumerate() {
        for (k, freq) in freqs.iter_mut().enumerate() {
            if freq.is_nan() {
                // Saturate rather than overflow to infinity for an absurd (but finite) f0.
                *freq = (f0_hz[frame] * (k + 1) as f32).min(f32::MAX);
            }
        }
    }
}

/// A missing noise band takes the centre it has in the nearest frame (by frame index; the
/// earlier one on a tie) that carries it, or, when no frame carries it, the linear spread from
/// 0 Hz to Nyquist (its magnitude is already 0).
fn fill_missing_band_centres(bands: &mut Components, frame_indices: &[u64], sample_rate_hz: f64) {
    let count = bands.count;
    let frames = frame_indices.len();
    let carried = |freqs: &[f32], frame: usize, b: usize| !freqs[frame * count + b].is_nan();
    for b in 0..count {
        let mut before: Option<usize> = None;
        let mut frame = 0;
        while frame < frames {
            if carried(&bands.freqs, frame, b) {
                before = Some(frame);
                frame += 1;
                continue;
            }
            // A run of frames without band `b`: [frame, run_end).
            let run_end = (frame..frames).find(|&f| carried(&bands.freqs, f, b)).unwrap_or(frames);
            let after = (run_end < frames).then_some(run_end);
            for missing in frame..run_end {
                let here = frame_indices[missing];
                let source = match (before, after) {
                    (Some(before), Some(after)) => {
                        if frame_indices[after] - here < here - frame_indices[before] {
                            after
                        } else {
                            before
                        }
                    }
                    (Some(only), None) | (None, Some(only)) => only,
                    (None, None) => {
                        // Capped: an absurd (but finite) sample rate must not make the centre infinite.
                        bands.freqs[missing * count + b] =
                            linear_band_centre_hz(b, count, sample_rate_hz).min(f32::MAX);
                        continue;
                    }
                };
                bands.freqs[missing * count + b] = bands.freqs[source * count + b];
            }
            frame = run_end;
        }
    }
}

/// Parses a frame or component index no larger than `max`: digits, or a number with no
/// fractional part (some spreadsheet tools write `12.0`).
fn parse_index(field: &[u8], max: u64) -> Result<u64, Problem> {
    let too_large = || Problem::IndexTooLarge { found: excerpt(Some(field)), max };
    if !field.is_empty() && field.iter().all(u8::is_ascii_digit) {
        let mut value: u64 = 0;
        for digit in field {
            value = value * 10 + u64::from(digit - b'0');
            if value > max {
                return Err(too_large());
            }
        }
        return Ok(value);
    }
    let not_an_index = || Problem::NotAnIndex { found: excerpt(Some(field)) };
    let value: f64 = std::str::from_utf8(field).ok().and_then(|s| s.parse().ok()).ok_or_else(not_an_index)?;
    if !(value.is_finite() && value >= 0.0 && value.fract() == 0.0) {
        return Err(not_an_index());
    }
    if value > max as f64 {
        return Err(too_large());
    }
    Ok(value as u64)
}

/// Parses a finite, non-negative number (frequency, value, f0) to the nearest `f32`.
/// `-0` reads as `0`.
fn parse_non_negative(field: &[u8]) -> Result<f32, Problem> {
    let found = || excerpt(Some(field));
    let value: f32 = fast_float2::parse(field).map_err(|_| Problem::NotANumber { found: found() })?;
    if !value.is_finite() {
        return Err(Problem::NotFinite { found: found() });
    }
    if value < 0.0 {
        return Err(Problem::Negative { found: found() });
    }
    Ok(value + 0.0)
}

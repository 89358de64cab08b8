//! Streaming reader of the unified CSV: one pass over the bytes of a `BufRead`, straight into
//! the dense per-frame arrays of an [`Envelope`].
//!
//! The metadata and header lines are read in place from the reader's own buffer. The data rows
//! follow in blocks of whole lines (about a megabyte): a file of more than one block
//! is parsed on two threads, a block each, while the calling thread stores the parsed rows in
//! file order, so the first error in the file is the one reported, exactly as a single pass
//! would (tested with blocks down to one byte). Numbers go through `fast_float2`
//! (Eisel-Lemire, correctly rounded, like `str::parse` but faster); the frame index and f0,
//! repeated on every row of a frame, are parsed once per frame. Memory is the envelope itself
//! plus the doubling slack of its vectors and a few blocks in flight; a line can never
//! grow past [`MAX_LINE_BYTES`] and a component index never past [`MAX_COMPONENT_INDEX`], so
//! hostile input cannot make it allocate without bound.
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
pub fn read_from<R: BufRead>(reader: R) -> Result<Envelope, CsvError> {
    read_in_blocks(reader, ROW_BLOCK_BYTES)
}

/// Data rows are parsed in blocks of whole lines of about this many bytes. A file of more than
/// one block is parsed on two threads, a block each, while this thread stores the rows of the
/// blocks in file order (so errors are reported exactly as a single pass would find them).
const ROW_BLOCK_BYTES: usize = 1 << 20;

/// [`read_from`] with blocks of `block_bytes` (the tests use tiny blocks to run the threads on
/// small files).
fn read_in_blocks<R: BufRead>(mut reader: R, block_bytes: usize) -> Result<Envelope, CsvError> {
    let mut state = State::Metadata;
    let mut metadata = Metadata::default();
    let mut header = Header::default();
    let mut lines_read = 0;
    for_each_line(&mut reader, |line, line_no| {
        lines_read = line_no;
        match state {
            State::Metadata => {
                metadata = parse_metadata(line, line_no)?;
                state = State::Header;
                Ok(true)
            }
            State::Header => {
                if !line.trim_ascii().is_empty() {
                    header = Header::parse(line, line_no)?;
                    state = State::Rows;
                }
                // The rows are read in blocks from here on.
                Ok(state == State::Header)
            }
            State::Rows => Ok(false),
        }
    })?;
    match state {
        State::Metadata => Err(CsvError::at_line(1, Problem::MissingMetadata { found: excerpt(None) })),
        State::Header => Err(CsvError::at_line(2, Problem::MissingHeader { found: excerpt(None) })),
        State::Rows => {
            let exporter_layout =
                header.roles.len() == COLUMNS.len() && header.roles.iter().enumerate().all(|(j, &r)| r == Some(j));
            let parser = RowParser { header: &header, frame_rate_hz: metadata.frame_rate_hz, exporter_layout };
            let mut builder = Builder::default();
            let blocks = Blocks { reader: &mut reader, carry: Vec::new(), block_bytes };
            read_rows(blocks, lines_read, &parser, &mut builder)?;
            builder.finish(metadata)
        }
    }
}

/// Whole lines of the data rows. Line numbers inside a block count from 1 at its first line:
/// the lines before it are known only once the blocks before it are parsed, and the thread
/// that stores the rows adds them ([`renumber`]).
#[derive(Default)]
struct Block {
    /// A buffer kept at its full size (so reads go into it with no zeroing); the block is
    /// its first `len` bytes.
    bytes: Vec<u8>,
    len: usize,
}

/// An error found `line` lines into its block (or one without a line) as the file numbers it,
/// with `lines_before` lines before that block.
fn renumber(mut err: CsvError, lines_before: u64) -> CsvError {
    err.line = err.line.map(|line| line + lines_before);
    err
}

/// Cuts the rest of a reader into [`Block`]s.
struct Blocks<'r, R> {
    reader: &'r mut R,
    /// The start of a line that the last block did not finish.
    carry: Vec<u8>,
    block_bytes: usize,
}

impl<R: BufRead> Blocks<'_, R> {
    /// The next block, in `bytes` (a buffer to reuse); `None` at the end. A line longer than
    /// [`MAX_LINE_BYTES`] with no end in sight is an error here, on the block's line 1 (one
    /// inside a block is found by the parser).
    fn next_block(&mut self, mut bytes: Vec<u8>) -> Option<Result<Block, CsvError>> {
        // Room for a line to begin with; the buffer doubles up to a block and the line that
        // straddles its end (a small file never zeroes a block's worth).
        if bytes.len() <= MAX_LINE_BYTES {
            bytes.resize(2 * MAX_LINE_BYTES + 1, 0);
        }
        let mut len = self.carry.len();
        bytes[..len].copy_from_slice(&self.carry);
        self.carry.clear();
        loop {
            if len > MAX_LINE_BYTES && memchr::memchr(b'\n', &bytes[..len]).is_none() {
                return Some(Err(CsvError::at_line(1, Problem::LineTooLong { max_bytes: MAX_LINE_BYTES })));
            }
            if len >= self.block_bytes {
                if let Some(last) = memchr::memrchr(b'\n', &bytes[..len]) {
                    self.carry.extend_from_slice(&bytes[last + 1..len]);
                    len = last + 1;
                    break;
                }
            }
            if len == bytes.len() {
                bytes.resize(2 * len, 0);
            }
            // Straight from the file into the block: a buffered reader hands a read at least
            // as large as its own buffer to the file without copying it through that buffer.
            let end = (len + self.block_bytes.saturating_sub(len).max(1)).min(bytes.len());
            match self.reader.read(&mut bytes[len..end]) {
                Ok(0) => break,
                Ok(read) => len += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Some(Err(CsvError::from(err))),
            }
        }
        (len > 0).then_some(Ok(Block { bytes, len }))
    }
}

/// What a worker gives back for one block: its rows up to the first error, the error, the
/// number of lines in the block, and the block's buffer for reuse.
struct ParsedBlock {
    rows: Vec<Row>,
    parsed: Result<(), CsvError>,
    lines: u64,
    bytes: Vec<u8>,
}

/// Parses and stores every data row, the first starting after `lines_before` lines: one block
/// on this thread, more on two worker threads with the rows stored here in file order.
fn read_rows<R: BufRead>(
    mut blocks: Blocks<'_, R>,
    mut lines_before: u64,
    parser: &RowParser,
    builder: &mut Builder,
) -> Result<(), CsvError> {
    let Some(first) = blocks.next_block(Vec::new()) else { return Ok(()) };
    let first = first.map_err(|err| renumber(err, lines_before))?;
    let Some(second) = blocks.next_block(Vec::new()) else {
        let parsed = parser.parse_block(first, Vec::new());
        builder.store_all(parser.header, &parsed.rows, lines_before)?;
        return parsed.parsed.map_err(|err| renumber(err, lines_before));
    };
    std::thread::scope(|scope| {
        let mut to_workers = Vec::new();
        let mut from_workers = Vec::new();
        for _ in 0..2 {
            let (to_worker, blocks_in) = std::sync::mpsc::sync_channel::<(Block, Vec<Row>)>(1);
            let (parsed_out, from_worker) = std::sync::mpsc::sync_channel::<ParsedBlock>(1);
            scope.spawn(move || {
                for (block, rows) in blocks_in {
                    if parsed_out.send(parser.parse_block(block, rows)).is_err() {
                        break;
                    }
                }
            });
            to_workers.push(to_worker);
            from_workers.push(from_worker);
        }
        // In file order: which worker has each block, or the error that ended the reading.
        let mut in_flight = std::collections::VecDeque::new();
        let mut next_worker = 0;
        let mut send =
            |block: Option<Result<Block, CsvError>>, rows: Vec<Row>, in_flight: &mut std::collections::VecDeque<_>| {
                match block {
                    None => false,
                    Some(Err(err)) => {
                        in_flight.push_back(Err(err));
                        false
                    }
                    Some(Ok(block)) => {
                        let worker = next_worker;
                        next_worker = (next_worker + 1) % 2;
                        // A worker stops only when this side hangs up, so the send succeeds.
                        let _ = to_workers[worker].send((block, rows));
                        in_flight.push_back(Ok(worker));
                        true
                    }
                }
            };
        let mut more = send(Some(Ok(first)), Vec::new(), &mut in_flight);
        more = more && send(Some(second), Vec::new(), &mut in_flight);
        while let Some(next) = in_flight.pop_front() {
            let worker = next.map_err(|err| renumber(err, lines_before))?;
            let Ok(ParsedBlock { mut rows, parsed, lines, bytes }) = from_workers[worker].recv() else {
                return Err(CsvError::from(io::Error::other("a CSV parsing thread stopped")));
            };
            builder.store_all(parser.header, &rows, lines_before)?;
            parsed.map_err(|err| renumber(err, lines_before))?;
            lines_before += lines;
            if more {
                rows.clear();
                more = send(blocks.next_block(bytes), rows, &mut in_flight);
            }
        }
        Ok(())
    })
}

/// Where in the file the reader is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Metadata,
    Header,
    Rows,
}

/// Calls `on_line` with each line (without its `\n` or `\r\n`) and its 1-based number,
/// borrowing from the reader's buffer whenever the line lies within one fill, until it returns
/// `false` (the reader is then just past that line).
fn for_each_line<R: BufRead>(
    reader: &mut R,
    mut on_line: impl FnMut(&[u8], u64) -> Result<bool, CsvError>,
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
                let more = if carry.is_empty() {
                    check_line_length(end, line_no)?;
                    on_line(strip_cr(&buf[..end]), line_no)?
                } else {
                    check_line_length(carry.len() + end, line_no)?;
                    carry.extend_from_slice(&buf[..end]);
                    let more = on_line(strip_cr(&carry), line_no)?;
                    carry.clear();
                    more
                };
                reader.consume(end + 1);
                if !more {
                    return Ok(());
                }
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
}

/// One data row, parsed.
struct Row {
    line_no: u64,
    frame_index: u64,
    f0_hz: f32,
    is_harmonic: bool,
    index: usize,
    frequency: f32,
    value: f32,
}

/// Parses data rows (the checks that need only the row itself; [`Builder::store`] makes those
/// that need the rows before it). Shared by the parsing threads.
struct RowParser<'h> {
    header: &'h Header,
    frame_rate_hz: f64,
    /// The header is [`COLUMNS`] in order, the exporters' layout: rows take the fast path.
    exporter_layout: bool,
}

/// Plain digits (at most 15) up to a comma, as a number no larger than `max`, and the text
/// after the comma.
#[inline]
fn index_then_comma(text: &[u8], max: u64) -> Option<(u64, &[u8])> {
    let mut value: u64 = 0;
    for (i, &b) in text.iter().enumerate().take(16) {
        if b == b',' {
            return (i > 0 && value <= max).then(|| (value, &text[i + 1..]));
        }
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(b - b'0');
    }
    None
}

/// A finite, non-negative number up to a comma (`-0` as `0`), and the text after the comma.
#[inline]
fn number_then_comma(text: &[u8]) -> Option<(f32, &[u8])> {
    let (value, used) = fast_float2::parse_partial::<f32, _>(text).ok()?;
    if text.get(used) != Some(&b',') || !(value.is_finite() && value >= 0.0) {
        return None;
    }
    Some((value + 0.0, &text[used + 1..]))
}

/// The frame index and f0 of the last row parsed, as text and as numbers: every row of a frame
/// repeats them, so they are parsed once per frame.
#[derive(Default)]
struct LastFrame<'a> {
    index_text: Option<&'a [u8]>,
    f0_text: &'a [u8],
    index: u64,
    f0_hz: f32,
    /// `frame_index,f0_hz,` as the exporters' layout wrote them (empty when the last frame was
    /// read another way): a row that starts with it is in the same frame.
    prefix: &'a [u8],
}

impl RowParser<'_> {
    /// A row exactly as the exporters write it (the columns in [`COLUMNS`] order, no spaces,
    /// plain digits for the indices, valid numbers), parsed left to right without splitting
    /// it first; `None` for any other row, which the general path then parses (and names what
    /// is wrong with it). Where both accept a row they give the same values: every field this
    /// path reads ends exactly at its comma, as the general path's field would.
    #[inline]
    fn parse_exporter_row<'a>(&self, line: &'a [u8], line_no: u64, last: &mut LastFrame<'a>) -> Option<Row> {
        let rest = if !last.prefix.is_empty() && line.starts_with(last.prefix) {
            &line[last.prefix.len()..]
        } else {
            let (index, after_index) = index_then_comma(line, MAX_FRAME_INDEX)?;
            if index as f64 / self.frame_rate_hz > MAX_DURATION_S {
                return None;
            }
            let (f0_hz, after_f0) = number_then_comma(after_index)?;
            let index_len = line.len() - after_index.len() - 1;
            let f0_len = after_index.len() - after_f0.len() - 1;
            *last = LastFrame {
                index_text: Some(&line[..index_len]),
                f0_text: &after_index[..f0_len],
                index,
                f0_hz,
                prefix: &line[..line.len() - after_f0.len()],
            };
            after_f0
        };
        let (is_harmonic, rest) = match rest.strip_prefix(b"harmonic,") {
            Some(rest) => (true, rest),
            None => (false, rest.strip_prefix(b"noise_band,")?),
        };
        let (index, rest) = index_then_comma(rest, MAX_COMPONENT_INDEX as u64)?;
        let (frequency, rest) = number_then_comma(rest)?;
        let (value, used) = fast_float2::parse_partial::<f32, _>(rest).ok()?;
        if used != rest.len() || !(value.is_finite() && value >= 0.0) {
            return None;
        }
        Some(Row {
            line_no,
            frame_index: last.index,
            f0_hz: last.f0_hz,
            is_harmonic,
            index: index as usize,
            frequency,
            value: value + 0.0,
        })
    }

    /// Parses the rows of `block` (lines numbered from 1) into `rows`, up to the first error.
    fn parse_block(&self, block: Block, mut rows: Vec<Row>) -> ParsedBlock {
        let mut last = LastFrame::default();
        let mut line_no = 1;
        let bytes = &block.bytes[..block.len];
        let mut start = 0;
        let mut parsed = Ok(());
        while start < bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |end| start + end);
            let line = strip_cr(&bytes[start..end]);
            let row = check_line_length(end - start, line_no).and_then(|()| {
                if line.trim_ascii().is_empty() {
                    Ok(None)
                } else {
                    self.parse_row(line, line_no, &mut last).map(Some)
                }
            });
            match row {
                Ok(Some(row)) => rows.push(row),
                Ok(None) => {}
                Err(err) => {
                    parsed = Err(err);
                    break;
                }
            }
            start = end + 1;
            line_no += 1;
        }
        ParsedBlock { rows, parsed, lines: line_no - 1, bytes: block.bytes }
    }

    fn parse_row<'a>(&self, line: &'a [u8], line_no: u64, last: &mut LastFrame<'a>) -> Result<Row, CsvError> {
        if self.exporter_layout {
            if let Some(row) = self.parse_exporter_row(line, line_no, last) {
                return Ok(row);
            }
        }
        let header = self.header;
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

        if last.index_text != Some(fields[FRAME_INDEX]) || last.f0_text != fields[F0_HZ] {
            let frame_index = parse_index(fields[FRAME_INDEX], MAX_FRAME_INDEX).map_err(|p| err(FRAME_INDEX, p))?;
            let seconds = frame_index as f64 / self.frame_rate_hz;
            if seconds > MAX_DURATION_S {
                let problem = Problem::FrameTooLate {
                    frame: frame_index,
                    seconds,
                    frame_rate_hz: self.frame_rate_hz,
                    max_s: MAX_DURATION_S,
                };
                return Err(err(FRAME_INDEX, problem));
            }
            let f0_hz = parse_non_negative(fields[F0_HZ]).map_err(|p| err(F0_HZ, p))?;
            *last = LastFrame {
                index_text: Some(fields[FRAME_INDEX]),
                f0_text: fields[F0_HZ],
                index: frame_index,
                f0_hz,
                prefix: &[],
            };
        }
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
        Ok(Row { line_no, frame_index: last.index, f0_hz: last.f0_hz, is_harmonic, index, frequency, value })
    }
}

impl Builder {
    /// Stores parsed rows in order, up to the first that contradicts the rows before it (their
    /// line numbers count after `lines_before` lines).
    fn store_all(&mut self, header: &Header, rows: &[Row], lines_before: u64) -> Result<(), CsvError> {
        rows.iter().try_for_each(|row| self.store(header, row)).map_err(|err| renumber(err, lines_before))
    }

    /// Stores one parsed row.
    fn store(&mut self, header: &Header, row: &Row) -> Result<(), CsvError> {
        let &Row { line_no, frame_index, f0_hz, is_harmonic, index, frequency, value } = row;
        let err = |c: usize, problem| header.error(line_no, c, problem);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid file of 40 frames of 3 harmonics and 2 bands, as lines.
    fn valid_lines() -> Vec<String> {
        let mut lines = vec!["# frame_rate=250,sample_rate=16000".to_string(), String::new()];
        lines.push("frame_index,f0_hz,component_type,component_index,frequency,value".into());
        for frame in 0..40 {
            let f0 = 200.0 + frame as f32 * 0.25;
            for k in 0..3 {
                lines.push(format!("{frame},{f0},harmonic,{k},{},{}", f0 * (k + 1) as f32, 0.1 / (k + 1) as f32));
            }
            for b in 0..2 {
                lines.push(format!("{frame},{f0},noise_band,{b},{},0.01", b as f32 * 8000.0));
            }
            if frame == 20 {
                lines.push(String::new());
            }
        }
        lines
    }

    /// What reading `text` gives, errors included, in blocks of `block_bytes`.
    fn read(text: &[u8], block_bytes: usize) -> String {
        format!("{:?}", read_in_blocks(text, block_bytes))
    }

    #[test]
    fn the_exporters_layout_reads_as_any_other_order() {
        // Rows the fast path takes and rows it hands to the general one, mixed in one frame.
        let rows = [
            "0,200,harmonic,0,200,0.5",
            "0,200.0,harmonic,1,400,-0",
            "0,200,harmonic,002,6e2,1E-3",
            "0,200,noise_band,0,0,+0.25",
            "0, 200,noise_band,1,8000.000,.5",
            "0,200,noise_band,2.0,9000,0.1",
            "3,201.5,harmonic,0,201.5,3",
            "3,201.5,harmonic,1,403,0.000000000000000000000000000000000000000000001",
            "3,201.5,harmonic,2,604.5,inf",
        ];
        for last in [rows.len() - 1, rows.len()] {
            let in_order =
                format!("# frame_rate=250,sample_rate=16000\n{}\n{}", COLUMNS.join(","), rows[..last].join("\n"));
            // The same rows with the columns reversed (the general path only).
            let reversed_rows: Vec<String> =
                rows[..last].iter().map(|r| r.split(',').rev().collect::<Vec<_>>().join(",")).collect();
            let mut reversed_header = COLUMNS;
            reversed_header.reverse();
            let reversed = format!(
                "# frame_rate=250,sample_rate=16000\n{}\n{}",
                reversed_header.join(","),
                reversed_rows.join("\n")
            );
            let (a, b) = (read_from(in_order.as_bytes()), read_from(reversed.as_bytes()));
            match (a, b) {
                (Ok(a), Ok(b)) => {
                    assert!(last < rows.len(), "the infinite value must be refused");
                    assert_eq!((a.harmonic_count, a.noise_band_count), (3, 3));
                    assert_eq!(a, b);
                }
                (Err(a), Err(b)) => {
                    assert_eq!(last, rows.len(), "{a}");
                    assert_eq!((a.line, format!("{:?}", a.problem)), (b.line, format!("{:?}", b.problem)))
                }
                (a, b) => panic!("{a:?} vs {b:?}"),
            }
        }
    }

    #[test]
    fn blocks_on_threads_read_exactly_as_one_pass() {
        let valid = valid_lines();
        let at = |line: usize, text: &str| {
            let mut lines = valid.clone();
            lines[line] = text.to_string();
            lines
        };
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("valid", valid.join("\n").into_bytes()),
            ("valid, final newline", (valid.join("\n") + "\n").into_bytes()),
            ("valid, CRLF", valid.join("\r\n").into_bytes()),
            ("not a number", at(150, "29,207.25,harmonic,1,abc,0.1").join("\n").into_bytes()),
            ("duplicate", at(151, "29,207.25,harmonic,0,207.25,0.1").join("\n").into_bytes()),
            ("backwards", at(160, "3,207.25,harmonic,0,207.25,0.1").join("\n").into_bytes()),
            ("f0 mismatch", at(170, "33,1.0,harmonic,1,207.25,0.1").join("\n").into_bytes()),
            ("field count", at(100, "19,204.75,harmonic,1").join("\n").into_bytes()),
            ("unknown type", at(190, "37,209.25,partial,0,1,1").join("\n").into_bytes()),
            ("too late", at(180, "999999999999,1,harmonic,0,1,1").join("\n").into_bytes()),
        ];
        let long = "9".repeat(MAX_LINE_BYTES + 10);
        cases.push(("long line", at(120, &long).join("\n").into_bytes()));
        cases.push(("long last line", (valid.join("\n") + "\n" + &long).into_bytes()));
        // Two errors: the first in file order is reported, whichever block finishes first.
        let mut two = at(60, "11,202.75,harmonic,0,-1,0.1");
        two[190] = "37,209.25,partial,0,1,1".into();
        cases.push(("two errors", two.join("\n").into_bytes()));
        for (name, text) in &cases {
            let one_pass = read(text, usize::MAX);
            if *name == "valid" {
                assert!(one_pass.starts_with("Ok("), "{one_pass}");
            } else if !name.starts_with("valid") {
                assert!(one_pass.starts_with("Err("), "{name}: {one_pass}");
            }
            for block_bytes in [1, 7, 100, 1000, 4096] {
                assert_eq!(read(text, block_bytes), one_pass, "{name}, blocks of {block_bytes} bytes");
            }
        }
    }
}

//! The error a malformed unified CSV gets: where (file, line, column) and what was expected.
//!
//! Every message is written for the person who has to open the file and fix it, so it names the
//! line (1-based, as an editor counts), the column where one applies, and shows the offending
//! text (cut short when long).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Longest excerpt of offending text quoted in a message, in characters.
const MAX_EXCERPT_CHARS: usize = 80;

/// A unified CSV that could not be read or written.
///
/// Displays as `violin.csv: line 12, column 5 (value): expected a number, found "abc"`; the
/// parts that do not apply (no path for in-memory text, no column for a whole-line problem)
/// are left out.
#[derive(Debug)]
pub struct CsvError {
    /// The file, when the text came from one (filled in by `read_path` / `write_path`).
    pub path: Option<PathBuf>,
    /// 1-based line number, when the problem sits on one line.
    pub line: Option<u64>,
    /// 1-based column number and column name, when the problem sits in one field.
    pub column: Option<(usize, &'static str)>,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a unified CSV. The `Display` text is the normative wording listed in
/// `docs/CSV_FORMAT.md`.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file could not be written (the old one, if any, is unchanged).
    #[error("cannot write: {0}")]
    Write(io::Error),
    /// Line 1 is not a `#` comment.
    #[error("expected the metadata line `# frame_rate=<Hz>,sample_rate=<Hz>`, found {found}")]
    MissingMetadata { found: String },
    /// An item of the metadata line is not `key=value`.
    #[error("expected `key=value` in the metadata line, found {found}")]
    MalformedMetadata { found: String },
    /// The metadata line lacks a required key.
    #[error("the metadata line lacks `{key}` (expected `# frame_rate=<Hz>,sample_rate=<Hz>`)")]
    MissingMetadataKey { key: &'static str },
    /// A metadata key appears twice.
    #[error("the metadata key `{key}` appears twice")]
    DuplicateMetadataKey { key: String },
    /// `frame_rate` or `sample_rate` is not a positive finite number.
    #[error("expected `{key}` to be a positive number, found {found}")]
    BadRate { key: &'static str, found: String },
    /// `frame_rate` or `sample_rate` outside what the format allows
    /// ([`crate::envelope::FRAME_RATE_RANGE_HZ`], [`crate::envelope::SAMPLE_RATE_RANGE_HZ`]).
    #[error("`{key}={found}` is out of range: expected {min} to {max} Hz")]
    RateOutOfRange { key: &'static str, found: String, min: f64, max: f64 },
    /// A frame lies later than [`crate::envelope::MAX_DURATION_S`] at the file's frame rate.
    #[error(
        "frame index {frame} lies at {seconds:.0} s at frame_rate={frame_rate_hz}; a file may span at most \
         {max_s} s (24 hours)"
    )]
    FrameTooLate { frame: u64, seconds: f64, frame_rate_hz: f64, max_s: f64 },
    /// The metadata line is not followed by the header.
    #[error("expected the header `frame_index,f0_hz,component_type,component_index,frequency,value`, found {found}")]
    MissingHeader { found: String },
    /// The header lacks a required column.
    #[error("the header lacks the column `{name}`")]
    MissingColumn { name: &'static str },
    /// The header names a column twice.
    #[error("the header names the column `{name}` twice")]
    DuplicateColumn { name: &'static str },
    /// A data row has more or fewer fields than the header.
    #[error("expected {expected} comma-separated fields, found {found}")]
    FieldCount { expected: usize, found: usize },
    /// A field that must be a number is not one.
    #[error("expected a number, found {found}")]
    NotANumber { found: String },
    /// A field that must be a whole number (frame or component index) is not one.
    #[error("expected a non-negative whole number, found {found}")]
    NotAnIndex { found: String },
    /// A number is NaN or infinite.
    #[error("expected a finite number, found {found}")]
    NotFinite { found: String },
    /// A frequency, f0 or value is negative.
    #[error("expected a non-negative number, found {found}")]
    Negative { found: String },
    /// `component_type` is neither `harmonic` nor `noise_band`.
    #[error("expected `harmonic` or `noise_band`, found {found}")]
    UnknownComponentType { found: String },
    /// A frame or component index beyond [`super::MAX_FRAME_INDEX`] /
    /// [`super::MAX_COMPONENT_INDEX`] (the latter guards against huge allocations).
    #[error("expected an index of at most {max}, found {found}")]
    IndexTooLarge { found: String, max: u64 },
    /// A frame index lower than the one before it.
    #[error("frame index {frame} follows frame index {previous}; frame indices must rise")]
    FrameBackwards { frame: u64, previous: u64 },
    /// The same (frame, type, index) twice.
    #[error("frame {frame} already has {kind} {index} (duplicate row)")]
    DuplicateComponent { frame: u64, kind: &'static str, index: usize },
    /// Rows of one frame disagree on f0.
    #[error("f0_hz {found} differs from {first} given earlier in frame {frame}")]
    F0Mismatch { frame: u64, first: f32, found: f32 },
    /// No data rows after the header.
    #[error("the file has no frames (no data rows after the header)")]
    NoFrames,
    /// A line longer than any valid row, read no further so that memory stays bounded.
    #[error("line is longer than {max_bytes} bytes")]
    LineTooLong { max_bytes: usize },
    /// The frames and component counts would expand to far more cells than the file has rows.
    #[error(
        "{frames} frames x {components} components would need {cells} values but the file has only \
         {rows} rows; the component indices are too sparse to load"
    )]
    TooSparse { frames: usize, components: usize, cells: usize, rows: usize },
    /// Text that is not UTF-8 where text is expected (the metadata line).
    #[error("expected UTF-8 text, found invalid bytes")]
    NotUtf8,
    /// The envelope handed to the writer breaks an invariant, or its metadata cannot be written.
    #[error("cannot write this envelope: {0}")]
    InvalidEnvelope(String),
}

impl CsvError {
    /// A problem on `line` that concerns the whole line.
    pub(crate) fn at_line(line: u64, problem: Problem) -> Self {
        Self { path: None, line: Some(line), column: None, problem }
    }

    /// A problem with no line (I/O, a file with no frames).
    pub(crate) fn whole_file(problem: Problem) -> Self {
        Self { path: None, line: None, column: None, problem }
    }

    /// Names the file the error came from.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote_place = false;
        if let Some(path) = &self.path {
            write!(f, "{}", path.display())?;
            wrote_place = true;
        }
        if let Some(line) = self.line {
            if wrote_place {
                f.write_str(": ")?;
            }
            write!(f, "line {line}")?;
            wrote_place = true;
        }
        if let Some((number, name)) = self.column {
            if wrote_place {
                f.write_str(", ")?;
            }
            write!(f, "column {number} ({name})")?;
            wrote_place = true;
        }
        if wrote_place {
            f.write_str(": ")?;
        }
        write!(f, "{}", self.problem)
    }
}

impl std::error::Error for CsvError {
    /// None: the message already carries the I/O error's text, and a source would make
    /// `{:#}` chains print it twice.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        None
    }
}

impl From<io::Error> for CsvError {
    fn from(err: io::Error) -> Self {
        Self::whole_file(Problem::Io(err))
    }
}

/// The offending text as it goes into a message: quoted, invalid UTF-8 replaced, cut to
/// [`MAX_EXCERPT_CHARS`] with an ellipsis, and `end of file` when there is none.
pub(crate) fn excerpt(bytes: Option<&[u8]>) -> String {
    let Some(bytes) = bytes else {
        return "end of file".to_owned();
    };
    let text = String::from_utf8_lossy(bytes);
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX_EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{:?}", format!("{head}..."))
    } else {
        format!("{head:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_column_and_problem() {
        let err = CsvError {
            path: Some(PathBuf::from("violin.csv")),
            line: Some(12),
            column: Some((5, "value")),
            problem: Problem::NotANumber { found: excerpt(Some(b"abc")) },
        };
        assert_eq!(err.to_string(), r#"violin.csv: line 12, column 5 (value): expected a number, found "abc""#);
    }

    #[test]
    fn display_leaves_out_parts_that_do_not_apply() {
        let err = CsvError::whole_file(Problem::NoFrames);
        assert_eq!(err.to_string(), "the file has no frames (no data rows after the header)");
        let err = CsvError::at_line(1, Problem::MissingMetadataKey { key: "frame_rate" });
        assert!(err.to_string().starts_with("line 1: the metadata line lacks `frame_rate`"));
    }

    #[test]
    fn long_excerpts_are_cut() {
        let long = vec![b'x'; 500];
        let text = excerpt(Some(&long));
        assert!(text.len() < 90 && text.ends_with("...\""), "{text}");
        assert_eq!(excerpt(None), "end of file");
    }
}

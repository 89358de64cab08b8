//! `ddsp-shared`: what the `ddsp` CLI, the trainer and the "DDSP Spectral Player" plugin share.
//!
//! - [`unified_csv`]: the unified CSV interchange format (SPEC §2), reader and writer.
//! - [`envelope`]: the per-frame envelope model that playback works on.
//! - [`render`]: the real-time harmonic + noise renderer with its transforms (SPEC §4).
//! - [`instrument`]: the playable model (SPEC §9): the instrument file, the real-time decoder
//!   and the live model voice.
//! - [`voices`]: polyphonic voices (allocation, ADSR, CSV or model) for the plugin and
//!   `ddsp play`.
//! - [`atomic_file`]: write-to-temporary-then-rename, so a failed write never clobbers a file.

pub mod atomic_file;
pub mod envelope;
pub mod fast_math;
pub mod instrument;
pub mod render;
pub mod unified_csv;
pub mod voices;

pub use envelope::{Envelope, EnvelopeError, FrameComponents};

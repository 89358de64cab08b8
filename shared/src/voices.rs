//! Polyphonic voices, shared by the plugin and `ddsp play` (one implementation, SPEC §5 and §9):
//! voice slots and allocation, the ADSR, and how a note drives what it plays, either the
//! timeline of a CSV envelope (transposed) or a live model (f0 and loudness into the decoder).
//!
//! - [`adsr`]: the linear attack-decay-sustain-release envelope.
//! - [`bank`]: the fixed set of voice slots, note on/off, stealing, pitch bend, rendering.
//! - [`model_drive`]: how a note's key, velocity and envelope become the model's f0 and
//!   loudness.

pub mod adsr;
pub mod bank;
pub mod model_drive;

pub use adsr::{Adsr, AdsrSettings, MAX_ADSR_TIME_MS};
pub use bank::{NoteKey, NoteSettings, Sounding, VoiceBank, VoiceSlot, FREE_RUN_SLOT, SLOT_COUNT};

/// Most MIDI voices at once (SPEC §5 "up to 16"); the voice slots are a fixed array of this
/// size so rendering never allocates.
pub const MAX_VOICES: usize = 16;

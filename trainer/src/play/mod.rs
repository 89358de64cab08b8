//! `ddsp play`: a standard MIDI file through a trained model (SPEC §9), with the plugin's voice
//! logic. [`midi_file`] reads the song; [`player`] renders it.

pub mod midi_file;
pub mod player;

pub use midi_file::{first_overlap, key_name, parse_midi, read_midi_file, MidiEvent, MidiEventKind};
pub use player::{play, PlayOptions, Played};

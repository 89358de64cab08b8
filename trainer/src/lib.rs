//! `ddsp-trainer`: the library behind the `ddsp` command line.

pub mod envelope_archive;
pub mod tools;
pub mod wav_io;

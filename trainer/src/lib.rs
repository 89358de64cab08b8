//! `ddsp-trainer`: the library behind the `ddsp` command line.

pub mod audio;
pub mod features;
pub mod analyze;
pub mod spectral_distance;
pub mod envelope_archive;
pub mod tools;
pub mod wav_io;

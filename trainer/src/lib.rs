//! `ddsp-trainer`: the library behind the `ddsp` command line.

pub mod analyze;
pub mod audio;
pub mod envelope_archive;
pub mod features;
pub mod grow;
pub mod play;
pub mod plots;
pub mod spectral_distance;
pub mod tools;
#[cfg(feature = "train")]
pub mod train;
pub mod wav_io;

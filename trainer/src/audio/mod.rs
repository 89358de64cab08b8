//! Audio input: decoding WAV files of every common kind to mono, and band-limited resampling.

pub mod decode;
pub mod resample;

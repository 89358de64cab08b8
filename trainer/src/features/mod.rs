//! Per-frame features of a recording, on a grid of whole-sample hops: f0 with confidence
//! ([`f0`]) and A-weighted loudness ([`loudness`]), both as DDSP computes them for training.

pub mod f0;
pub mod frames;
pub mod loudness;

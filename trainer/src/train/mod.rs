//! `ddsp train`: learn a DDSP model of an instrument from recordings (SPEC §6).
//!
//! One concept per file: [`config`] (sizes, rates, presets), [`data`] (audio → examples +
//! features), [`model`] (the decoder), [`gru`] (the recurrent layer, built for a fast backward
//! pass), [`synth`] (differentiable harmonic + noise synthesis), [`loss`] (multi-scale spectral
//! loss), [`training`] (optimiser loop, checkpoints), [`device`] (CPU/GPU choice),
//! [`inference`] (a loaded instrument: features → envelope → audio), [`inputs`] (the
//! recordings a run was trained on, checked on `--resume`),
//! [`instrument_file`] (the portable `instrument.ddsp`), [`export`] (envelopes, previews, CSVs),
//! [`report`] (report.md / report.json), [`transfer`] (timbre transfer) and [`heap`] (the
//! allocator kept from returning training's large buffers between steps).

pub mod config;
pub mod data;
pub mod device;
pub mod export;
pub mod gru;
pub mod heap;
pub mod inference;
pub mod inputs;
pub mod instrument_file;
pub mod loss;
pub mod model;
pub mod report;
pub mod synth;
pub mod training;
pub mod transfer;

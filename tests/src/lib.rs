//! `ddsp-tests`: the end-to-end tests that cross crate lines (in `end_to_end/`: a recording
//! analysed by `ddsp`, played by the plugin through CLAP, against `ddsp render`; a tiny
//! training run whose export the plugin plays), and the helpers every test crate of the
//! workspace shares, written once:
//! - [`clap_host`]: a minimal CLAP host that loads the built plugin as a DAW does,
//! - [`cli`]: the `ddsp` binary of this build, scratch folders, the example recordings,
//! - [`wav`]: WAV files written and read for tests.

pub mod clap_host;
pub mod cli;
pub mod wav;

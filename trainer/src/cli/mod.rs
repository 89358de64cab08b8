//! One module per `ddsp` subcommand: its clap `Args` and its `run`.
pub mod analyze;
pub mod combine;
pub mod csv_export;
pub mod downsample;
pub mod enrich;
pub mod eval;
#[cfg(feature = "train")]
pub mod export;
pub mod info;
pub mod map;
pub mod modify;
pub mod render;
pub mod thinning;
#[cfg(feature = "train")]
pub mod train;
#[cfg(feature = "train")]
pub mod transfer;

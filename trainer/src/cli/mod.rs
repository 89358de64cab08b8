//! One module per `ddsp` subcommand: its clap `Args` and its `run`.
pub mod render;

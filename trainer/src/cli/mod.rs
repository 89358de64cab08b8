//! One module per `ddsp` subcommand: its clap `Args` and its `run`.
pub mod analyze;
pub mod combine;
pub mod csv_export;
pub mod downsample;
pub mod enrich;
pub mod eval;
#[cfg(feature = "train")]
pub mod export;
pub mod grow;
pub mod info;
pub mod map;
pub mod modify;
pub mod play;
pub mod render;
pub mod thinning;
#[cfg(feature = "train")]
pub mod train;
#[cfg(feature = "train")]
pub mod transfer;

/// Exit status of a command stopped by Ctrl-C or SIGTERM: 128 + SIGINT, as shells report it,
/// so a script can tell a stopped run from a finished one.
pub const INTERRUPTED_EXIT_STATUS: u8 = 130;

/// The error of a command the user stopped (what was saved has already been said); `ddsp`
/// exits with [`INTERRUPTED_EXIT_STATUS`].
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stopped")
    }
}

impl std::error::Error for Interrupted {}

/// For every command but `train` (which checkpoints first): Ctrl-C or SIGTERM removes the
/// temporary file of the output being written, so the target keeps what it had and nothing
/// hidden is left behind, and the process exits with [`INTERRUPTED_EXIT_STATUS`].
pub fn stop_cleanly_on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        ddsp_shared::atomic_file::remove_pending_temporaries();
        eprintln!("\nstopped; nothing was written");
        std::process::exit(i32::from(INTERRUPTED_EXIT_STATUS));
    });
}

//! "Import CSV…" and "Import Model…": read and parse a unified CSV or an instrument file on a
//! background thread, so neither the GUI nor the audio thread waits for a large file. Success
//! hands the sound to the audio thread (through [`SoundExchange::submit`] or
//! [`SoundExchange::submit_model`]); failure shows the error and leaves the current sound
//! playing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ddsp_shared::instrument::InstrumentFile;

use crate::state::{parse_csv, SoundExchange, StoredModel, StoredSound};

/// Reads and parses `path`, returning the envelope and what the project will store, or an
/// error that names the file and (for parse errors) the line and reason.
pub fn load_csv_file(path: &Path) -> Result<(ddsp_shared::Envelope, StoredSound), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let envelope = parse_csv(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((envelope, StoredSound::from_csv(Some(path.to_string_lossy().into_owned()), &text)))
}

/// Reads and checks the instrument file `path`, returning the model and what the project
/// will store, or an error that names the file and the problem.
pub fn load_model_file(path: &Path) -> Result<(InstrumentFile, StoredModel), String> {
    let model = InstrumentFile::read_path(path).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((model, StoredModel::from_bytes(Some(path.to_string_lossy().into_owned()), &bytes)))
}

/// What an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// A unified CSV.
    Csv,
    /// An instrument file (`.ddsp`).
    Model,
}

/// Starts importing `path` on a background thread; the GUI shows progress through the
/// exchange's status.
pub fn spawn_import(path: PathBuf, kind: ImportKind, exchange: Arc<SoundExchange>) {
    exchange.set_loading();
    let spawned = std::thread::Builder::new().name("ddsp-import".into()).spawn({
        let exchange = exchange.clone();
        move || match kind {
            ImportKind::Csv => match load_csv_file(&path) {
                Ok((envelope, stored)) => exchange.submit(envelope, stored),
                Err(message) => exchange.report_error(message),
            },
            ImportKind::Model => match load_model_file(&path) {
                Ok((model, stored)) => exchange.submit_model(model, stored),
                Err(message) => exchange.report_error(message),
            },
        }
    });
    if let Err(e) = spawned {
        exchange.report_error(format!("could not start the import: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_csv_names_file_and_line_and_keeps_the_current_sound() {
        let dir = std::env::temp_dir().join(format!("ddsp-plugin-loader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broken.csv");
        std::fs::write(
            &path,
            "# frame_rate=250,sample_rate=16000\nframe_index,f0_hz,component_type,component_index,frequency,value\n0,200,harmonic,0,200,0.5\n1,200,harmonic,0,abc,0.5\n",
        )
        .unwrap();
        let exchange = SoundExchange::with_builtin_sound();
        spawn_import(path.clone(), ImportKind::Csv, exchange.clone());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while exchange.status().loading && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let status = exchange.status();
        let error = status.last_error.expect("error reported");
        assert!(error.contains("broken.csv") && error.contains('4'), "{error}");
        assert_eq!(status.generation, 0, "the built-in sound stays");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

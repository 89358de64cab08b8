//! The loaded sound (a CSV envelope and a model): how it is saved with a project, and how a
//! new one travels to the audio thread without the audio thread allocating or freeing.
//!
//! The project state keeps the file path and the CSV text itself (deflate-compressed, base64),
//! and likewise the imported model's path and its instrument file (base64), so a project sounds
//! the same on a machine that lacks the files (SPEC §5, §9). Data too large for a project
//! ([`MAX_STORED_DATA_BYTES`] once encoded) is stored as its path alone, and the GUI says so:
//! a project that refers to a file loads where that file is, instead of one too large to load
//! anywhere. Loading a state
//! decodes the data on the host's main thread (hosts expect state loads to finish before they
//! return) and hands the result to the audio thread through a lock-free queue; the sound it
//! replaces comes back through a second queue and is freed here, off the audio thread.

use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use crossbeam::queue::ArrayQueue;
use ddsp_shared::instrument::InstrumentFile;
use ddsp_shared::Envelope;
use nice_plug::params::persist::PersistentField;
use serde::{Deserialize, Serialize};

/// The built-in sound a fresh instance plays (SPEC §5), made with `ddsp analyze`.
pub const BUILTIN_CSV: &str = include_str!("../assets/default.csv");

/// Name shown for the built-in sound.
pub const BUILTIN_NAME: &str = "built-in sound";

/// The built-in model a fresh instance plays in Model mode (SPEC §9): trained with `ddsp train`
/// on the bundled violin recording (see `plugin/assets/README.md`).
pub const BUILTIN_MODEL: &[u8] = include_bytes!("../assets/builtin.ddsp");

/// Name shown for the built-in model.
pub const BUILTIN_MODEL_NAME: &str = "built-in model (violin)";

/// Largest instrument file a saved state may hold (the file format's own limit).
const MAX_MODEL_BYTES: usize = ddsp_shared::instrument::file::MAX_FILE_BYTES as usize;

/// Largest CSV (uncompressed) a saved state may expand to; guards against a corrupt state
/// blowing up memory.
const MAX_INFLATED_BYTES: usize = 1 << 30;

/// Largest sound or model data (encoded, as it sits in the state) a project stores; larger
/// data is stored as its path. The plugin's whole state must stay under the CLAP wrapper's
/// 256 MiB load limit, and hosts keep project state in their session files: a quarter of that
/// each for the sound and the model leaves room for both and the parameters. CSV text deflates
/// about 4:1 (the bundled violin's: 2.6 MB to 0.85 MB stored), so a 60 s CSV at full resolution
/// (250 frames/s, 60 harmonics, 65 bands: about 86 MB of text) stores in about 29 MiB, and
/// about two minutes of it fit.
pub const MAX_STORED_DATA_BYTES: usize = 64 << 20;

/// Sounds waiting for the audio thread. Two is enough: a newer import replaces a waiting one.
const INCOMING_CAPACITY: usize = 2;

/// Sounds the audio thread has let go of, waiting to be freed off the audio thread. The audio
/// thread only swaps when this queue has room, so it never has to drop anything itself.
const RETIRED_CAPACITY: usize = 8;

/// What a project saves about the sound (the `sound` persisted field).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct StoredSound {
    /// The file the sound was imported from; `None` for the built-in sound.
    pub path: Option<String>,
    /// The CSV text, deflate-compressed and base64-encoded; empty for the built-in sound and
    /// for one stored by path.
    pub csv_deflate_b64: String,
    /// The CSV was too large for the project: it is read from `path` when the project loads.
    #[serde(default)]
    pub by_path: bool,
}

impl StoredSound {
    /// A record holding `csv_text` read from `path`, or only `path` where the encoded text
    /// would be larger than [`MAX_STORED_DATA_BYTES`].
    pub fn from_csv(path: Option<String>, csv_text: &str) -> Self {
        Self::from_csv_within(path, csv_text, MAX_STORED_DATA_BYTES)
    }

    fn from_csv_within(path: Option<String>, csv_text: &str, max_stored_bytes: usize) -> Self {
        if path.is_some() && csv_text.len() > MAX_INFLATED_BYTES {
            return Self { path, csv_deflate_b64: String::new(), by_path: true };
        }
        let compressed = miniz_oxide::deflate::compress_to_vec(csv_text.as_bytes(), 6);
        if path.is_some() && !fits_in_project(compressed.len(), max_stored_bytes) {
            return Self { path, csv_deflate_b64: String::new(), by_path: true };
        }
        Self { path, csv_deflate_b64: base64::engine::general_purpose::STANDARD.encode(compressed), by_path: false }
    }

    /// The CSV text this record carries, or reads from its path where it is stored by path (the
    /// built-in CSV when it carries none).
    pub fn csv_text(&self) -> Result<String, String> {
        if self.by_path {
            let path = self.path.as_deref().unwrap_or_default();
            return std::fs::read_to_string(path).map_err(|e| by_path_error(path, &e));
        }
        if self.csv_deflate_b64.is_empty() {
            return Ok(BUILTIN_CSV.to_owned());
        }
        let compressed = base64::engine::general_purpose::STANDARD
            .decode(self.csv_deflate_b64.as_bytes())
            .map_err(|e| format!("saved sound data is not valid base64: {e}"))?;
        let bytes = miniz_oxide::inflate::decompress_to_vec_with_limit(&compressed, MAX_INFLATED_BYTES)
            .map_err(|e| format!("saved sound data does not inflate: {e:?}"))?;
        String::from_utf8(bytes).map_err(|e| format!("saved sound data is not UTF-8: {e}"))
    }

    /// The name the GUI shows: the file name, or "built-in sound".
    pub fn display_name(&self) -> String {
        display_name(self.path.as_deref(), BUILTIN_NAME)
    }
}

/// What a project saves about the imported model (the `model` persisted field).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct StoredModel {
    /// The instrument file the model was imported from; `None` for the built-in model.
    pub path: Option<String>,
    /// The instrument file's bytes, base64-encoded; empty for the built-in model and for one
    /// stored by path.
    pub model_b64: String,
    /// The file was too large for the project: it is read from `path` when the project loads.
    #[serde(default)]
    pub by_path: bool,
}

impl StoredModel {
    /// A record holding the instrument file `bytes` read from `path`, or only `path` where the
    /// encoded bytes would be larger than [`MAX_STORED_DATA_BYTES`].
    pub fn from_bytes(path: Option<String>, bytes: &[u8]) -> Self {
        Self::from_bytes_within(path, bytes, MAX_STORED_DATA_BYTES)
    }

    fn from_bytes_within(path: Option<String>, bytes: &[u8], max_stored_bytes: usize) -> Self {
        if path.is_some() && !fits_in_project(bytes.len(), max_stored_bytes) {
            return Self { path, model_b64: String::new(), by_path: true };
        }
        Self { path, model_b64: base64::engine::general_purpose::STANDARD.encode(bytes), by_path: false }
    }

    /// The instrument file this record carries, or reads from its path where it is stored by
    /// path (the built-in one when it carries none).
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        if self.by_path {
            let path = self.path.as_deref().unwrap_or_default();
            return std::fs::read(path).map_err(|e| by_path_error(path, &e));
        }
        if self.model_b64.is_empty() {
            return Ok(BUILTIN_MODEL.to_vec());
        }
        if self.model_b64.len() / 4 * 3 > MAX_MODEL_BYTES {
            return Err(format!("saved model data is larger than {MAX_MODEL_BYTES} bytes"));
        }
        base64::engine::general_purpose::STANDARD
            .decode(self.model_b64.as_bytes())
            .map_err(|e| format!("saved model data is not valid base64: {e}"))
    }

    /// The name the GUI shows: the file name, or the built-in model's.
    pub fn display_name(&self) -> String {
        display_name(self.path.as_deref(), BUILTIN_MODEL_NAME)
    }
}

/// One sound as the audio thread plays it: the CSV envelope and the model, whichever the
/// Source parameter picks. Both are shared with the GUI (it holds its own `Arc`s, so the audio
/// thread is never the one that frees them).
#[derive(Debug)]
pub struct Sound {
    /// The envelope (Source = CSV).
    pub envelope: Arc<Envelope>,
    /// The model (Source = Model).
    pub model: Arc<InstrumentFile>,
}

/// What the GUI shows about the sound. Touched by the GUI, the loader thread and the host's
/// main thread only, never by the audio thread, so a mutex is fine here.
#[derive(Debug, Clone)]
pub struct SoundStatus {
    /// The envelope most recently handed to the audio thread.
    pub envelope: Arc<Envelope>,
    /// File name or "built-in sound".
    pub name: String,
    /// The full path, when imported from a file.
    pub path: Option<String>,
    /// The saved path no longer exists: the sound plays from the data stored in the project.
    pub file_missing: bool,
    /// The sound is too large for the project, which stores only its path.
    pub stored_by_path: bool,
    /// The last import or state load that failed (file, line, reason); the sound above keeps
    /// playing.
    pub last_error: Option<String>,
    /// An import is being parsed in the background.
    pub loading: bool,
    /// Counts sounds handed over, so the GUI can tell that the sound changed.
    pub generation: u64,
    /// The model most recently handed to the audio thread.
    pub model: Arc<InstrumentFile>,
    /// Instrument file name or the built-in model's.
    pub model_name: String,
    /// The model's full path, when imported from a file.
    pub model_path: Option<String>,
    /// The saved model path no longer exists: the model plays from the project's copy.
    pub model_file_missing: bool,
    /// The model is too large for the project, which stores only its path.
    pub model_stored_by_path: bool,
}

/// The meeting point of GUI, loader, host state and audio thread for sound data.
#[derive(Debug)]
pub struct SoundExchange {
    incoming: ArrayQueue<Box<Sound>>,
    retired: ArrayQueue<Box<Sound>>,
    stored: Mutex<StoredSound>,
    stored_model: Mutex<StoredModel>,
    status: Mutex<SoundStatus>,
}

impl SoundExchange {
    /// An exchange whose current sound is the built-in one, already queued for the audio thread.
    pub fn with_builtin_sound() -> Arc<Self> {
        let envelope = Arc::new(parse_csv(BUILTIN_CSV).expect("the built-in CSV parses"));
        let model = Arc::new(parse_model(BUILTIN_MODEL, BUILTIN_MODEL_NAME).expect("the built-in model reads"));
        let exchange = Arc::new(Self {
            incoming: ArrayQueue::new(INCOMING_CAPACITY),
            retired: ArrayQueue::new(RETIRED_CAPACITY),
            stored: Mutex::new(StoredSound::default()),
            stored_model: Mutex::new(StoredModel::default()),
            status: Mutex::new(SoundStatus {
                envelope: envelope.clone(),
                name: BUILTIN_NAME.to_owned(),
                path: None,
                file_missing: false,
                stored_by_path: false,
                last_error: None,
                loading: false,
                generation: 0,
                model: model.clone(),
                model_name: BUILTIN_MODEL_NAME.to_owned(),
                model_path: None,
                model_file_missing: false,
                model_stored_by_path: false,
            }),
        });
        exchange.push_incoming(Box::new(Sound { envelope, model }));
        exchange
    }

    /// Hands a parsed sound to the audio thread and records it for the next state save.
    /// Called off the audio thread (loader thread, host main thread).
    pub fn submit(&self, envelope: Envelope, stored: StoredSound) {
        let envelope = Arc::new(envelope);
        let file_missing = stored.path.as_deref().is_some_and(|p| !Path::new(p).exists());
        let sound = {
            let mut status = lock(&self.status);
            status.envelope = envelope.clone();
            status.name = stored.display_name();
            status.path = stored.path.clone();
            status.file_missing = file_missing;
            status.stored_by_path = stored.by_path;
            status.last_error = None;
            status.loading = false;
            status.generation += 1;
            Sound { envelope, model: status.model.clone() }
        };
        *lock(&self.stored) = stored;
        self.push_incoming(Box::new(sound));
        self.free_retired();
    }

    /// Hands a newly read model to the audio thread (with the current envelope) and records it
    /// for the next state save. Called off the audio thread.
    pub fn submit_model(&self, model: InstrumentFile, stored: StoredModel) {
        let model = Arc::new(model);
        let file_missing = stored.path.as_deref().is_some_and(|p| !Path::new(p).exists());
        let sound = {
            let mut status = lock(&self.status);
            status.model = model.clone();
            status.model_name = stored.display_name();
            status.model_path = stored.path.clone();
            status.model_file_missing = file_missing;
            status.model_stored_by_path = stored.by_path;
            status.last_error = None;
            status.loading = false;
            status.generation += 1;
            Sound { envelope: status.envelope.clone(), model }
        };
        *lock(&self.stored_model) = stored;
        self.push_incoming(Box::new(sound));
        self.free_retired();
    }

    /// A copy of what the next state save will write about the model.
    pub fn stored_model(&self) -> StoredModel {
        lock(&self.stored_model).clone()
    }

    /// Reports a failed import; the current sound keeps playing.
    pub fn report_error(&self, message: String) {
        let mut status = lock(&self.status);
        status.last_error = Some(message);
        status.loading = false;
    }

    /// Marks an import as running (for the GUI's spinner).
    pub fn set_loading(&self) {
        lock(&self.status).loading = true;
    }

    /// A copy of what the GUI shows.
    pub fn status(&self) -> SoundStatus {
        lock(&self.status).clone()
    }

    /// A copy of what the next state save will write.
    pub fn stored(&self) -> StoredSound {
        lock(&self.stored).clone()
    }

    /// Frees the sounds the audio thread has let go of. Call from any thread but the audio one.
    pub fn free_retired(&self) {
        while self.retired.pop().is_some() {}
    }

    fn push_incoming(&self, sound: Box<Sound>) {
        // A newer sound replaces any the audio thread has not picked up yet (dropped here, off
        // the audio thread): only the latest import or state load matters.
        while self.incoming.pop().is_some() {}
        let mut sound = sound;
        while let Err(rejected) = self.incoming.push(sound) {
            drop(self.incoming.pop());
            sound = rejected;
        }
    }

    /// Audio thread: the next sound to play, if one is waiting and there is room to hand the
    /// current one back. Never allocates or frees.
    pub fn take_incoming(&self) -> Option<Box<Sound>> {
        if self.retired.is_full() {
            return None;
        }
        self.incoming.pop()
    }

    /// Audio thread: gives back a sound that is no longer played, to be freed elsewhere.
    /// [`take_incoming`](Self::take_incoming) made sure there is room.
    pub fn retire(&self, sound: Box<Sound>) {
        if let Err(sound) = self.retired.push(sound) {
            // Unreachable while only the audio thread pushes and checked for room first; if it
            // ever happens, leaking beats freeing on the audio thread.
            std::mem::forget(sound);
        }
    }
}

/// Whether `bytes` of data, base64-encoded, stay within `max_stored_bytes`.
fn fits_in_project(bytes: usize, max_stored_bytes: usize) -> bool {
    base64::encoded_len(bytes, true).is_some_and(|n| n <= max_stored_bytes)
}

/// Why data stored by path did not load.
fn by_path_error(path: &str, error: &std::io::Error) -> String {
    format!(
        "the project refers to {path} (too large to store in the project), which cannot be read: {error}; \
         put the file back there, or import it again"
    )
}

/// The file name of `path`, or `builtin` when the data is built in.
fn display_name(path: Option<&str>, builtin: &str) -> String {
    match path {
        Some(path) => {
            Path::new(path).file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_else(|| path.into())
        }
        None => builtin.to_owned(),
    }
}

/// Reads an instrument file's bytes; `origin` names it in the error.
pub fn parse_model(bytes: &[u8], origin: &str) -> Result<InstrumentFile, String> {
    InstrumentFile::from_bytes(bytes, origin).map_err(|e| e.to_string())
}

/// Parses unified CSV text into a validated envelope with at least one frame.
pub fn parse_csv(text: &str) -> Result<Envelope, String> {
    let envelope = ddsp_shared::unified_csv::parse_str(text).map_err(|e| e.to_string())?;
    if envelope.frame_count() == 0 {
        return Err("the CSV has no frames".to_owned());
    }
    envelope.validate().map_err(|e| e.to_string())?;
    Ok(envelope)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep using it.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The persisted `sound` field: serialising reads the stored record; deserialising (a host
/// loading a project) decodes the saved CSV and hands it to the audio thread.
#[derive(Debug, Clone)]
pub struct SoundSlot(pub Arc<SoundExchange>);

impl<'a> PersistentField<'a, StoredSound> for SoundSlot {
    fn set(&self, new_value: StoredSound) {
        let result = new_value.csv_text().and_then(|text| parse_csv(&text));
        match result {
            Ok(envelope) => self.0.submit(envelope, new_value),
            Err(message) => {
                self.0.report_error(format!(
                    "could not restore the sound saved in the project ({}): {message}",
                    new_value.display_name()
                ));
                // A reference to a file that is elsewhere today stays in the project, so that
                // saving it here does not lose it.
                if new_value.by_path {
                    *lock(&self.0.stored) = new_value;
                }
            }
        }
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&StoredSound) -> R,
    {
        f(&lock(&self.0.stored))
    }
}

/// The persisted `model` field: serialising reads the stored record; deserialising (a host
/// loading a project) reads the saved instrument file and hands it to the audio thread.
#[derive(Debug, Clone)]
pub struct ModelSlot(pub Arc<SoundExchange>);

impl<'a> PersistentField<'a, StoredModel> for ModelSlot {
    fn set(&self, new_value: StoredModel) {
        let name = new_value.display_name();
        match new_value.bytes().and_then(|bytes| parse_model(&bytes, &name)) {
            Ok(model) => self.0.submit_model(model, new_value),
            Err(message) => {
                self.0.report_error(format!("could not restore the model saved in the project ({name}): {message}"));
                if new_value.by_path {
                    *lock(&self.0.stored_model) = new_value;
                }
            }
        }
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&StoredModel) -> R,
    {
        f(&lock(&self.0.stored_model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_sound_round_trips_csv_text() {
        let text = BUILTIN_CSV;
        let stored = StoredSound::from_csv(Some("/x/y.csv".into()), text);
        assert!(stored.csv_deflate_b64.len() < text.len(), "compression should shrink CSV text");
        assert_eq!(stored.csv_text().unwrap(), text);
        assert_eq!(stored.display_name(), "y.csv");
    }

    #[test]
    fn restoring_a_state_with_a_missing_file_plays_the_stored_data_and_says_so() {
        let exchange = SoundExchange::with_builtin_sound();
        let slot = SoundSlot(exchange.clone());
        let stored = StoredSound::from_csv(Some("/nonexistent/dir/violin.csv".into()), BUILTIN_CSV);
        slot.set(stored.clone());
        let status = exchange.status();
        assert!(status.file_missing);
        assert_eq!(status.name, "violin.csv");
        assert_eq!(status.generation, 1);
        assert_eq!(exchange.stored(), stored);
    }

    #[test]
    fn a_corrupt_state_keeps_the_current_sound_and_reports() {
        let exchange = SoundExchange::with_builtin_sound();
        let slot = SoundSlot(exchange.clone());
        slot.set(StoredSound { path: Some("a.csv".into()), csv_deflate_b64: "!!!".into(), by_path: false });
        let status = exchange.status();
        assert_eq!(status.generation, 0);
        assert!(status.last_error.unwrap().contains("base64"));
    }

    #[test]
    fn a_stored_model_restores_with_its_file_missing_and_a_corrupt_one_is_reported() {
        let exchange = SoundExchange::with_builtin_sound();
        let slot = ModelSlot(exchange.clone());
        let stored = StoredModel::from_bytes(Some("/gone/cello.ddsp".into()), BUILTIN_MODEL);
        slot.set(stored.clone());
        let status = exchange.status();
        assert!(status.model_file_missing);
        assert_eq!(status.model_name, "cello.ddsp");
        assert_eq!(exchange.stored_model(), stored);
        assert_eq!(*status.model, parse_model(BUILTIN_MODEL, "x").unwrap());

        slot.set(StoredModel::from_bytes(Some("/x/bad.ddsp".into()), b"not a model"));
        let error = exchange.status().last_error.unwrap();
        assert!(error.contains("bad.ddsp") && error.contains("not a ddsp-rs instrument file"), "{error}");
        assert_eq!(exchange.status().model_name, "cello.ddsp", "the previous model stays");
    }

    #[test]
    fn the_audio_side_never_has_to_drop_a_sound() {
        let exchange = SoundExchange::with_builtin_sound();
        let first = exchange.take_incoming().expect("built-in sound queued");
        for _ in 0..RETIRED_CAPACITY {
            exchange.retire(Box::new(Sound { envelope: first.envelope.clone(), model: first.model.clone() }));
        }
        exchange.submit(parse_csv(BUILTIN_CSV).unwrap(), StoredSound::default());
        // submit() freed the retired queue, so the new sound can be taken.
        assert!(exchange.take_incoming().is_some());
    }

    #[test]
    fn data_too_large_for_the_project_is_stored_by_path_and_read_from_there() {
        let dir = std::env::temp_dir().join(format!("ddsp-state-by-path-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv_path = dir.join("long.csv");
        std::fs::write(&csv_path, BUILTIN_CSV).unwrap();
        let path = Some(csv_path.to_string_lossy().into_owned());
        // Under the limit: the data travels with the project.
        let stored = StoredSound::from_csv_within(path.clone(), BUILTIN_CSV, 1 << 20);
        assert!(!stored.by_path && !stored.csv_deflate_b64.is_empty());
        // Over it: the path alone, and loading reads the file and says so.
        let stored = StoredSound::from_csv_within(path.clone(), BUILTIN_CSV, 1000);
        assert!(stored.by_path && stored.csv_deflate_b64.is_empty());
        let exchange = SoundExchange::with_builtin_sound();
        let slot = SoundSlot(exchange.clone());
        slot.set(stored.clone());
        let status = exchange.status();
        assert!(status.stored_by_path && !status.file_missing && status.last_error.is_none(), "{status:?}");
        assert_eq!(status.generation, 1);
        // The file gone: a clear error naming it; the sound playing stays.
        std::fs::remove_dir_all(&dir).unwrap();
        slot.set(stored.clone());
        let error = exchange.status().last_error.unwrap();
        assert!(error.contains("long.csv") && error.contains("too large to store"), "{error}");
        assert_eq!(exchange.status().generation, 1);
        assert_eq!(exchange.stored(), stored, "saving the project keeps the reference");

        let model = StoredModel::from_bytes_within(Some("/x/big.ddsp".into()), BUILTIN_MODEL, 1000);
        assert!(model.by_path && model.model_b64.is_empty());
        let error = model.bytes().unwrap_err();
        assert!(error.contains("/x/big.ddsp") && error.contains("too large to store"), "{error}");
        assert!(!StoredModel::from_bytes(Some("/x/small.ddsp".into()), BUILTIN_MODEL).by_path);
    }

    #[test]
    fn a_project_saved_before_by_path_storage_still_loads() {
        let old = r#"{"path":"/x/y.csv","csv_deflate_b64":""}"#;
        let stored: StoredSound = serde_json::from_str(old).unwrap();
        assert!(!stored.by_path);
    }
}

//! The editor window's size, saved with the project (the `window` persisted field), so the
//! window reopens the size the musician dragged it to, on this machine or another.
//!
//! nice-plug-egui keeps the live size in an [`EguiEditorState`] that the editor updates as the
//! window is resized, but that state cannot be serialised or changed from outside. The slot
//! therefore holds the state the next editor will use: saving reads its size, and loading a
//! project puts a fresh state of the saved size in its place (hosts load a project before they
//! open the editor; a window already open keeps its size until it is reopened).

use std::sync::{Arc, Mutex};

use nice_plug::editor::dpi::LogicalSize;
use nice_plug::params::persist::PersistentField;
use nice_plug_egui::EguiEditorState;
use serde::{Deserialize, Serialize};

/// Size a new editor window opens at, logical pixels: every panel shows without scrolling at
/// the default spectral view height (the GUI test checks it).
pub const DEFAULT_SIZE: (f32, f32) = (1000.0, 840.0);
/// Smallest size the window can be dragged to (the controls scroll below it).
pub const MIN_SIZE: (f32, f32) = (720.0, 520.0);
/// Largest size a saved project may ask for: a corrupt state cannot open a window larger
/// than an 8K screen.
pub const MAX_SIZE: (f32, f32) = (7680.0, 4320.0);

/// What a project saves about the window: its logical size in pixels.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct StoredWindowSize {
    pub width: f32,
    pub height: f32,
}

impl StoredWindowSize {
    /// The size within [`MIN_SIZE`]..=[`MAX_SIZE`]; a size that is not a number becomes the
    /// default.
    fn clamped(self) -> Self {
        let fit = |value: f32, min: f32, max: f32, default: f32| {
            if value.is_finite() {
                value.clamp(min, max)
            } else {
                default
            }
        };
        Self {
            width: fit(self.width, MIN_SIZE.0, MAX_SIZE.0, DEFAULT_SIZE.0),
            height: fit(self.height, MIN_SIZE.1, MAX_SIZE.1, DEFAULT_SIZE.1),
        }
    }
}

/// The persisted `window` field: the editor state the next window opens with.
#[derive(Debug)]
pub struct WindowSizeSlot(Mutex<Arc<EguiEditorState>>);

impl Default for WindowSizeSlot {
    fn default() -> Self {
        Self(Mutex::new(editor_state(StoredWindowSize { width: DEFAULT_SIZE.0, height: DEFAULT_SIZE.1 })))
    }
}

impl WindowSizeSlot {
    /// The editor state for a window opened now (shared with that window, which updates its
    /// size as it is resized).
    pub fn editor_state(&self) -> Arc<EguiEditorState> {
        lock(&self.0).clone()
    }

    /// The size the window has now, or will open at.
    pub fn size(&self) -> StoredWindowSize {
        let size = lock(&self.0).logical_size();
        StoredWindowSize { width: size.width, height: size.height }
    }
}

impl<'a> PersistentField<'a, StoredWindowSize> for WindowSizeSlot {
    fn set(&self, new_value: StoredWindowSize) {
        *lock(&self.0) = editor_state(new_value.clamped());
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&StoredWindowSize) -> R,
    {
        f(&self.size())
    }
}

fn editor_state(size: StoredWindowSize) -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(size.width, size.height), 1.0)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Only the host's main thread and the GUI use the slot; a panic there leaves a usable Arc.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restored_size_is_what_the_next_window_opens_at() {
        let slot = WindowSizeSlot::default();
        assert_eq!(slot.size(), StoredWindowSize { width: DEFAULT_SIZE.0, height: DEFAULT_SIZE.1 });
        let before = slot.editor_state();
        slot.set(StoredWindowSize { width: 1234.0, height: 987.0 });
        assert_eq!(slot.size(), StoredWindowSize { width: 1234.0, height: 987.0 });
        let size = slot.editor_state().logical_size();
        assert_eq!((size.width, size.height), (1234.0, 987.0));
        // The state a window already had is untouched.
        assert_eq!(before.logical_size().width, DEFAULT_SIZE.0);
    }

    #[test]
    fn sizes_from_a_corrupt_project_are_kept_within_limits() {
        let slot = WindowSizeSlot::default();
        slot.set(StoredWindowSize { width: 1e9, height: 3.0 });
        assert_eq!(slot.size(), StoredWindowSize { width: MAX_SIZE.0, height: MIN_SIZE.1 });
        slot.set(StoredWindowSize { width: f32::NAN, height: f32::INFINITY });
        assert_eq!(slot.size(), StoredWindowSize { width: DEFAULT_SIZE.0, height: DEFAULT_SIZE.1 });
    }
}

//! An in-window file browser for "Import CSV…" and "Import Model…", drawn with egui inside
//! the plugin window.
//!
//! Native file dialogs are unreliable from inside a plugin window (a second event loop on
//! macOS, a missing portal or toolkit on Linux), so the browser is plain egui: it works the
//! same on Linux, macOS and Windows. It lists folders and the files of one extension (`.csv` or
//! `.ddsp`), with a path field for typing or pasting a location.

use std::path::{Path, PathBuf};

/// One row of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub is_dir: bool,
}

/// Folders first, then the files ending in `.{extension}`, each sorted case-insensitively;
/// hidden entries left out.
pub fn list_dir(dir: &Path, extension: &str) -> std::io::Result<Vec<Entry>> {
    let mut entries: Vec<Entry> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                return None;
            }
            let path = entry.path();
            let is_dir = path.is_dir();
            let wanted = path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case(extension));
            (is_dir || wanted).then_some(Entry { name, path, is_dir })
        })
        .collect();
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase())));
    Ok(entries)
}

/// What the user did with the browser this frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserAction {
    None,
    Open(PathBuf),
    Cancel,
}

/// The browser's state between frames.
#[derive(Debug)]
pub struct FileBrowser {
    dir: PathBuf,
    path_text: String,
    entries: Vec<Entry>,
    selected: Option<PathBuf>,
    error: Option<String>,
    /// The file extension listed, without the dot.
    extension: &'static str,
}

/// Where browsing starts: the user's home folder, or the current directory.
fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("/"))
}

impl FileBrowser {
    /// A browser of `.{extension}` files showing `start` (the folder of the current file,
    /// say), or home.
    pub fn new(start: Option<&Path>, extension: &'static str) -> Self {
        let dir = start.filter(|p| p.is_dir()).map(Path::to_path_buf).unwrap_or_else(home_dir);
        let mut browser = Self {
            dir: dir.clone(),
            path_text: String::new(),
            entries: Vec::new(),
            selected: None,
            error: None,
            extension,
        };
        browser.change_dir(dir);
        browser
    }

    /// Shows `dir`; on failure stays where it was and shows the error.
    pub fn change_dir(&mut self, dir: PathBuf) {
        match list_dir(&dir, self.extension) {
            Ok(entries) => {
                self.path_text = dir.to_string_lossy().into_owned();
                self.dir = dir;
                self.entries = entries;
                self.selected = None;
                self.error = None;
            }
            Err(e) => self.error = Some(format!("{}: {e}", dir.display())),
        }
    }

    /// Draws the browser; returns what the user chose.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> BrowserAction {
        let mut action = BrowserAction::None;
        ui.horizontal(|ui| {
            if ui.button("Up").clicked() {
                if let Some(parent) = self.dir.parent() {
                    self.change_dir(parent.to_path_buf());
                }
            }
            if ui.button("Home").clicked() {
                self.change_dir(home_dir());
            }
            let field = ui.add(egui::TextEdit::singleline(&mut self.path_text).desired_width(f32::INFINITY));
            if field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                let typed = PathBuf::from(self.path_text.trim());
                if typed.is_file() {
                    action = BrowserAction::Open(typed);
                } else {
                    self.change_dir(typed);
                }
            }
        });
        if let Some(error) = &self.error {
            ui.colored_label(egui::Color32::from_rgb(255, 120, 120), error);
        }
        let mut enter_dir = None;
        egui::ScrollArea::vertical().max_height(ui.available_height() - 36.0).auto_shrink([false, false]).show(
            ui,
            |ui| {
                for entry in &self.entries {
                    let label = if entry.is_dir { format!("{}/", entry.name) } else { entry.name.clone() };
                    let selected = self.selected.as_deref() == Some(entry.path.as_path());
                    let response = ui.selectable_label(selected, label);
                    if entry.is_dir {
                        if response.clicked() {
                            enter_dir = Some(entry.path.clone());
                        }
                    } else if response.double_clicked() {
                        action = BrowserAction::Open(entry.path.clone());
                    } else if response.clicked() {
                        self.selected = Some(entry.path.clone());
                    }
                }
                if self.entries.is_empty() {
                    ui.weak(format!("(no folders or .{} files here)", self.extension));
                }
            },
        );
        if let Some(dir) = enter_dir {
            self.change_dir(dir);
        }
        ui.separator();
        ui.horizontal(|ui| {
            let open = ui.add_enabled(self.selected.is_some(), egui::Button::new("Open"));
            if open.clicked() {
                if let Some(path) = self.selected.clone() {
                    action = BrowserAction::Open(path);
                }
            }
            if ui.button("Cancel").clicked() {
                action = BrowserAction::Cancel;
            }
        });
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_folders_first_then_files_of_the_extension_only() {
        let dir = std::env::temp_dir().join(format!("ddsp-plugin-browser-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for name in ["b.csv", "A.CSV", "notes.txt", ".hidden.csv"] {
            std::fs::write(dir.join(name), "x").unwrap();
        }
        std::fs::write(dir.join("violin.ddsp"), "x").unwrap();
        let names: Vec<String> = list_dir(&dir, "csv").unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["sub", "A.CSV", "b.csv"]);
        let names: Vec<String> = list_dir(&dir, "ddsp").unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["sub", "violin.ddsp"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The GUI: the sections of the original SuperCollider control panel (data file, temperament,
//! master, volume & mix, conductor, sonification, bouncing, notes, utilities) around the live
//! spectral view and the f0 contour. Resizable; every control is a host parameter, so the GUI
//! only sets parameters (through the host's `ParamSetter`) and never touches audio state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use egui::{Color32, RichText, Vec2};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier};

use crate::data_loader::{spawn_import, ImportKind};
use crate::file_browser::{BrowserAction, FileBrowser};
use crate::params::PlayerParams;
use crate::spectral_view::{contour_ui, spectrum_ui, SpectrumSnapshot};
use crate::state::SoundExchange;
use crate::window_size::MIN_SIZE;

/// What every editor window is made from.
#[derive(Clone)]
pub struct EditorParts {
    pub params: Arc<PlayerParams>,
    pub exchange: Arc<SoundExchange>,
    pub spectrum: Arc<Mutex<triple_buffer::Output<SpectrumSnapshot>>>,
    pub repaint: RepaintNotifier,
    /// Set while a window is open: the audio thread publishes the spectrum only then.
    pub open: Arc<AtomicBool>,
}

impl EditorParts {
    /// A resizable egui editor running [`PlayerGui`], at the size the project's `window` field
    /// holds now.
    fn egui_editor(&self) -> (Arc<EguiEditorState>, EguiEditor<PlayerGui>) {
        let state = self.params.window.editor_state();
        let settings = EguiNiceSettings::new()
            .with_tile("DDSP Spectral Player")
            .with_resize_hint(ResizeHint::resizable().with_min_logical_size(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1)));
        let gui = PlayerGui {
            params: self.params.clone(),
            exchange: self.exchange.clone(),
            spectrum: self.spectrum.clone(),
            open: self.open.clone(),
            context: None,
            browser: None,
            controls_height: 0.0,
        };
        let editor = nice_plug_egui::create_egui_editor(state.clone(), self.repaint.clone(), settings, gui)
            .expect("nice-plug-egui always makes an editor");
        (state, editor)
    }
}

/// The editor the host gets: the egui editor, made anew when a project load brought a window
/// size of its own. nice-plug asks for the editor once, when the plugin is created, before any
/// project is loaded, and an egui editor keeps the size it was made with; so this one checks,
/// whenever the host asks its size or opens it, that it still uses the state in the project's
/// `window` field.
pub struct PlayerEditor {
    parts: EditorParts,
    current: Mutex<(Arc<EguiEditorState>, EguiEditor<PlayerGui>)>,
}

impl PlayerEditor {
    pub fn new(parts: EditorParts) -> Self {
        let current = Mutex::new(parts.egui_editor());
        Self { parts, current }
    }

    /// The egui editor for the project's window state (the host's main thread only: size
    /// queries and opening the window).
    fn with_current<R>(&self, f: impl FnOnce(&EguiEditor<PlayerGui>) -> R) -> R {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if !Arc::ptr_eq(&current.0, &self.parts.params.window.editor_state()) {
            *current = self.parts.egui_editor();
        }
        f(&current.1)
    }
}

impl Editor for PlayerEditor {
    type Handle = <EguiEditor<PlayerGui> as Editor>::Handle;

    fn spawn(
        &self,
        parent: Option<nice_plug::editor::ParentWindowHandle>,
        wait_for_parent: bool,
        fallback_scale_factor: Option<f64>,
        gui_context: GuiContext,
        host: Option<nice_plug::editor::HostMethods>,
    ) -> Result<nice_plug::editor::SpawnedEditor<Self::Handle>, Box<dyn std::error::Error>> {
        self.with_current(|editor| editor.spawn(parent, wait_for_parent, fallback_scale_factor, gui_context, host))
    }

    fn size(&self) -> nice_plug::editor::dpi::NativeSize<u32> {
        self.with_current(|editor| editor.size())
    }

    fn resize_hint(&self) -> ResizeHint {
        self.with_current(|editor| editor.resize_hint())
    }

    fn track_info_updated(&self, info: nice_plug::plugin::TrackInfo) {
        self.with_current(|editor| editor.track_info_updated(info));
    }
}

/// The GUI's state between frames.
pub struct PlayerGui {
    params: Arc<PlayerParams>,
    exchange: Arc<SoundExchange>,
    spectrum: Arc<Mutex<triple_buffer::Output<SpectrumSnapshot>>>,
    /// Shared with the audio thread: true while this window is open.
    open: Arc<AtomicBool>,
    /// The host connection, from `build`; parameter changes go through it.
    context: Option<GuiContext>,
    /// The "Import CSV…" or "Import Model…" browser while it is open, and what it imports.
    browser: Option<(FileBrowser, ImportKind)>,
    /// Height the control panels took in the last frame (0 before the first), so the
    /// spectral view can leave them the room to show without scrolling.
    controls_height: f32,
}

/// Heights of the spectral view, logical pixels: it gives way to the controls down to the
/// smallest, and grows with the window up to the largest.
const SPECTRUM_HEIGHT: std::ops::RangeInclusive<f32> = 120.0..=320.0;
/// The f0 contour's height as a share of the spectral view's, and its smallest height.
const CONTOUR_SHARE: f32 = 0.4;
const CONTOUR_MIN_HEIGHT: f32 = 60.0;

/// Heights of the spectral view and the contour under it, when `available` is the height below
/// the title and the controls need `controls_height` (0 = not measured yet).
fn view_heights(available: f32, controls_height: f32, spacing: f32) -> (f32, f32) {
    let spectrum = if controls_height > 0.0 {
        // What is left over the controls, split between the view and its contour.
        (available - controls_height - 3.0 * spacing) / (1.0 + CONTOUR_SHARE)
    } else {
        available * 0.30
    };
    let spectrum = spectrum.clamp(*SPECTRUM_HEIGHT.start(), *SPECTRUM_HEIGHT.end());
    (spectrum, (spectrum * CONTOUR_SHARE).max(CONTOUR_MIN_HEIGHT))
}

const SECTION_TITLE: Color32 = Color32::from_rgb(255, 196, 64);
const ERROR: Color32 = Color32::from_rgb(255, 120, 120);
const WARNING: Color32 = Color32::from_rgb(255, 200, 120);

/// A titled group of controls.
fn section(ui: &mut egui::Ui, title: &str, add: impl FnOnce(&mut egui::Ui)) {
    // The group's frame adds its margins outside the width it is given.
    let width = (ui.available_width() - 14.0).max(100.0);
    ui.group(|ui| {
        ui.set_width(width);
        ui.label(RichText::new(title).strong().color(SECTION_TITLE));
        add(ui);
    });
    ui.add_space(4.0);
}

/// Says that an imported file is gone and the project's copy plays.
fn file_missing_warning(ui: &mut egui::Ui, path: Option<&str>) {
    ui.colored_label(
        WARNING,
        format!("File missing: {} — playing the copy saved in the project.", path.unwrap_or("?")),
    );
}

/// Says that the project stores only the path of a file too large to store in it.
fn stored_by_path_warning(ui: &mut egui::Ui, path: Option<&str>) {
    ui.colored_label(
        WARNING,
        format!(
            "Too large to save in the project: the project refers to {}. Keep the file there.",
            path.unwrap_or("?")
        ),
    );
}

/// Width of a slider's name column.
const LABEL_WIDTH: f32 = 104.0;
/// Room left for the value box a `ParamSlider` draws after the slider.
const VALUE_WIDTH: f32 = 84.0;

/// A labelled slider for one parameter.
fn slider<P: Param>(ui: &mut egui::Ui, setter: &ParamSetter, param: &P) {
    ui.horizontal(|ui| {
        ui.add_sized(Vec2::new(LABEL_WIDTH, 18.0), egui::Label::new(param.name()).truncate());
        // The slider draws its value box to the right of the width it is given.
        ui.add(ParamSlider::for_param(param, setter).with_width((ui.available_width() - VALUE_WIDTH).max(40.0)));
    });
}

/// A checkbox for a boolean parameter.
fn toggle(ui: &mut egui::Ui, setter: &ParamSetter, param: &BoolParam) {
    let mut value = param.value();
    if ui.checkbox(&mut value, param.name()).changed() {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, value);
        setter.end_set_parameter(param);
    }
}

/// Sets `param` to `value` as one user gesture.
fn set<P: Param>(setter: &ParamSetter, param: &P, value: P::Plain) {
    setter.begin_set_parameter(param);
    setter.set_parameter(param, value);
    setter.end_set_parameter(param);
}

/// Every parameter back to its default (the "reset all" of the original's utilities).
fn reset_all(setter: &ParamSetter, params: &PlayerParams) {
    for (_, ptr, _) in params.param_map() {
        // SAFETY: the pointers come from `param_map` of params that live as long as the GUI.
        unsafe {
            let default = ptr.default_normalized_value();
            setter.raw_context.raw_begin_set_parameter(ptr);
            setter.raw_context.raw_set_parameter_normalized(ptr, default);
            setter.raw_context.raw_end_set_parameter(ptr);
        }
    }
}

impl PlayerGui {
    fn data_file_section(&mut self, ui: &mut egui::Ui) {
        let status = self.exchange.status();
        section(ui, "Data file", |ui| {
            ui.horizontal(|ui| {
                if ui.button("Import CSV…").clicked() {
                    let start = status.path.as_deref().and_then(|p| std::path::Path::new(p).parent());
                    self.browser = Some((FileBrowser::new(start, "csv"), ImportKind::Csv));
                }
                ui.label(RichText::new(&status.name).strong());
                if status.loading {
                    ui.spinner();
                    ui.label("parsing…");
                }
            });
            let envelope = &status.envelope;
            ui.label(format!(
                "{} frames at {:.2} fps · {} harmonics · {} noise bands · {:.2} s",
                envelope.frame_count(),
                envelope.frame_rate_hz,
                envelope.harmonic_count,
                envelope.noise_band_count,
                envelope.duration_s()
            ));
            if status.file_missing {
                file_missing_warning(ui, status.path.as_deref());
            }
            if status.stored_by_path {
                stored_by_path_warning(ui, status.path.as_deref());
            }
            ui.separator();
            ui.horizontal(|ui| {
                if ui.button("Import Model…").clicked() {
                    let start = status.model_path.as_deref().and_then(|p| std::path::Path::new(p).parent());
                    self.browser = Some((FileBrowser::new(start, "ddsp"), ImportKind::Model));
                }
                ui.label(RichText::new(&status.model_name).strong());
            });
            let model = &status.model;
            let (f0_lo, f0_hi) = model.stats.f0_hz_core_range();
            let (ld_lo, ld_hi) = (model.stats.loudness_db_at(0.0), model.stats.loudness_db_at(1.0));
            ui.label(format!(
                "trained f0 {f0_lo:.0}–{f0_hi:.0} Hz (5–95 %) · loudness {ld_lo:.0} to {ld_hi:.0} dB · GRU {} · {} Hz, {} fps",
                model.weights.hidden, model.sample_rate_hz, model.frame_rate_hz
            ));
            if status.model_file_missing {
                file_missing_warning(ui, status.model_path.as_deref());
            }
            if status.model_stored_by_path {
                stored_by_path_warning(ui, status.model_path.as_deref());
            }
            if let Some(error) = &status.last_error {
                ui.colored_label(ERROR, format!("Import failed: {error}"));
                ui.label("The current sound keeps playing.");
            }
        });
    }

    fn controls(&mut self, ui: &mut egui::Ui, setter: &ParamSetter) {
        let p = self.params.clone();
        ui.columns(3, |columns| {
            let ui = &mut columns[0];
            section(ui, "Source", |ui| {
                slider(ui, setter, &p.source);
            });
            self.data_file_section(ui);
            section(ui, "Temperament", |ui| {
                slider(ui, setter, &p.tet_size);
                slider(ui, setter, &p.key_mode);
                slider(ui, setter, &p.root_note);
            });
            section(ui, "Master", |ui| {
                slider(ui, setter, &p.master_pitch_steps);
                slider(ui, setter, &p.bend_range_steps);
                slider(ui, setter, &p.output_gain);
            });
            section(ui, "Utilities", |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.label("Stretch preset");
                    for preset in [0.5f32, 1.0, 1.5, 2.0] {
                        if ui.button(format!("{preset}")).clicked() {
                            set(setter, &p.stretch, preset);
                        }
                    }
                });
                if ui.button("Reset all").clicked() {
                    reset_all(setter, &p);
                }
            });

            let ui = &mut columns[1];
            section(ui, "Sonification", |ui| {
                slider(ui, setter, &p.stretch);
                slider(ui, setter, &p.anchor_mode);
                slider(ui, setter, &p.anchor_hz);
            });
            section(ui, "Bouncing", |ui| {
                toggle(ui, setter, &p.bounce_on);
                slider(ui, setter, &p.bounce_min);
                slider(ui, setter, &p.bounce_max);
                slider(ui, setter, &p.bounce_speed_hz);
                slider(ui, setter, &p.bounce_jitter);
                slider(ui, setter, &p.bounce_duration_s);
            });
            section(ui, "Volume & mix", |ui| {
                slider(ui, setter, &p.harmonic_volume);
                slider(ui, setter, &p.partial_gain);
                slider(ui, setter, &p.noise_volume);
                slider(ui, setter, &p.noise_magnitude_scale);
                slider(ui, setter, &p.smoothing_ms);
            });

            let ui = &mut columns[2];
            section(ui, "Conductor", |ui| {
                ui.horizontal(|ui| {
                    let playing = p.play.value();
                    let label = if playing { "Stop" } else { "Play" };
                    if ui.add(egui::Button::new(RichText::new(label).strong()).selected(playing)).clicked() {
                        set(setter, &p.play, !playing);
                    }
                    toggle(ui, setter, &p.loop_on);
                    toggle(ui, setter, &p.host_sync);
                });
                slider(ui, setter, &p.start_frame);
                slider(ui, setter, &p.frame_count);
                slider(ui, setter, &p.playback_rate);
                slider(ui, setter, &p.update_rate_hz);
            });
            section(ui, "Notes", |ui| {
                slider(ui, setter, &p.voice_count);
                slider(ui, setter, &p.velocity_sensitivity);
                slider(ui, setter, &p.attack_ms);
                slider(ui, setter, &p.decay_ms);
                slider(ui, setter, &p.sustain);
                slider(ui, setter, &p.release_ms);
            });
        });
    }
}

impl NiceEguiApp for PlayerGui {
    fn build(
        &mut self,
        _egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.context = Some(nice_gui_ctx);
        self.open.store(true, Ordering::Release);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(context) = self.context.clone() else { return };
        let setter = context.param_setter();
        // Sounds the audio thread let go of are freed here, on the GUI thread.
        self.exchange.free_retired();
        let snapshot = self.spectrum.lock().unwrap_or_else(|p| p.into_inner()).read().clone();
        let envelope = self.exchange.status().envelope;

        egui::CentralPanel::default().show(ui, |ui| {
            let width = ui.available_width();
            ui.horizontal(|ui| {
                ui.heading("DDSP Spectral Player");
                ui.label(RichText::new("harmonics + noise after pitch, stretch and bounce").weak());
            });
            let spacing = ui.spacing().item_spacing.y + 4.0;
            let (spectrum_height, contour_height) = view_heights(ui.available_height(), self.controls_height, spacing);
            spectrum_ui(ui, &snapshot, Vec2::new(width, spectrum_height));
            let window =
                (self.params.start_frame.value().max(0) as usize, self.params.frame_count.value().max(0) as usize);
            contour_ui(ui, &envelope, &snapshot, window, Vec2::new(width, contour_height));
            ui.add_space(4.0);
            // Below the smallest window that shows everything, the controls scroll.
            let scrolled = egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                self.controls(ui, &setter);
            });
            self.controls_height = scrolled.content_size.y;
        });

        if let Some((browser, kind)) = &mut self.browser {
            let kind = *kind;
            let mut open = true;
            let mut action = BrowserAction::None;
            let title = match kind {
                ImportKind::Csv => "Import CSV",
                ImportKind::Model => "Import Model",
            };
            egui::Window::new(title)
                .collapsible(false)
                .resizable(true)
                .default_size(Vec2::new(520.0, 400.0))
                .open(&mut open)
                .show(ui.ctx(), |ui| action = browser.ui(ui));
            match action {
                BrowserAction::Open(path) => {
                    spawn_import(path, kind, self.exchange.clone());
                    self.browser = None;
                }
                BrowserAction::Cancel => self.browser = None,
                BrowserAction::None if !open => self.browser = None,
                BrowserAction::None => {}
            }
        }
    }

    fn editor_closed(&mut self) {
        self.browser = None;
        self.open.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spectral_view_leaves_the_controls_their_room() {
        let spacing = 8.0;
        // Room to spare: the view takes what the controls leave, and the whole fits.
        let (spectrum, contour) = view_heights(780.0, 470.0, spacing);
        assert!(SPECTRUM_HEIGHT.contains(&spectrum) && spectrum > 200.0, "{spectrum}");
        assert!(spectrum + contour + 470.0 + 3.0 * spacing <= 780.0 + 0.01, "{spectrum} + {contour}");
        // A tall window: the view stops growing.
        assert_eq!(view_heights(3000.0, 470.0, spacing).0, *SPECTRUM_HEIGHT.end());
        // A small window: the view keeps its smallest height and the controls scroll.
        assert_eq!(view_heights(400.0, 470.0, spacing), (*SPECTRUM_HEIGHT.start(), CONTOUR_MIN_HEIGHT));
        // Before the controls were measured: the first frame's share.
        assert!((view_heights(700.0, 0.0, spacing).0 - 210.0).abs() < 1e-3);
    }
}

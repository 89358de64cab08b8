//! The live spectral view: what the newest sounding voice plays (partials and noise bands
//! after pitch, stretch and bounce) on a log-frequency axis, and the f0 contour of the loaded
//! file with the playback window and the playhead.
//!
//! The audio thread fills a [`SpectrumSnapshot`] after each block and publishes it through a
//! triple buffer; the GUI reads the latest one without locking the audio thread out.

use ddsp_shared::render::{Renderer, MAX_HARMONICS, MAX_NOISE_BANDS};
use ddsp_shared::Envelope;
use egui::{Color32, Pos2, Rect, Sense, Shape, Stroke, Vec2};

/// Lowest frequency on the spectrum's axis, Hz.
pub const VIEW_MIN_HZ: f32 = 20.0;
/// Highest frequency on the spectrum's axis, Hz.
pub const VIEW_MAX_HZ: f32 = 22_050.0;
/// Bottom of the spectrum's level axis, dB full scale.
pub const VIEW_FLOOR_DB: f32 = -90.0;

/// One published picture of the sound. Fixed-size arrays, so filling it never allocates.
#[derive(Clone)]
pub struct SpectrumSnapshot {
    /// A voice is sounding (otherwise the rest is stale).
    pub sounding: bool,
    /// Playhead of the newest voice, as a position in the envelope's frames.
    pub playhead_frame: f64,
    pub partial_count: usize,
    pub partial_freqs_hz: [f32; MAX_HARMONICS],
    pub partial_amps: [f32; MAX_HARMONICS],
    pub band_count: usize,
    pub band_centres_hz: [f32; MAX_NOISE_BANDS],
    pub band_mags: [f32; MAX_NOISE_BANDS],
    /// In Model mode: the f0 range most of the model's training sat in (5 % to 95 % of the
    /// voiced frames), Hz, marked on the spectrum's axis as DDSP-VST marks its range.
    pub trained_f0_range_hz: Option<(f32, f32)>,
}

impl Default for SpectrumSnapshot {
    fn default() -> Self {
        Self {
            sounding: false,
            playhead_frame: 0.0,
            partial_count: 0,
            partial_freqs_hz: [0.0; MAX_HARMONICS],
            partial_amps: [0.0; MAX_HARMONICS],
            band_count: 0,
            band_centres_hz: [0.0; MAX_NOISE_BANDS],
            band_mags: [0.0; MAX_NOISE_BANDS],
            trained_f0_range_hz: None,
        }
    }
}

impl SpectrumSnapshot {
    /// Copies what `renderer` played last. Real-time safe.
    pub fn fill_from(&mut self, renderer: &Renderer, envelope: &Envelope) {
        self.sounding = true;
        self.playhead_frame = renderer.playhead_frame().min(envelope.frame_count() as f64);
        self.partial_count = renderer.current_partials(&mut self.partial_freqs_hz, &mut self.partial_amps);
        self.band_count = renderer.current_noise_bands(&mut self.band_centres_hz, &mut self.band_mags);
    }

    /// Nothing is sounding.
    pub fn clear(&mut self) {
        self.sounding = false;
        self.partial_count = 0;
        self.band_count = 0;
    }
}

/// x position (0..1) of `hz` on the log-frequency axis.
pub fn log_axis_position(hz: f32) -> f32 {
    let hz = hz.clamp(VIEW_MIN_HZ, VIEW_MAX_HZ);
    (hz / VIEW_MIN_HZ).ln() / (VIEW_MAX_HZ / VIEW_MIN_HZ).ln()
}

/// y position (0 = top .. 1 = floor) of a linear amplitude on the dB axis.
fn level_position(amplitude: f32) -> f32 {
    let db = 20.0 * amplitude.max(1e-9).log10();
    (db / VIEW_FLOOR_DB).clamp(0.0, 1.0)
}

const BACKGROUND: Color32 = Color32::from_rgb(18, 20, 26);
const GRID: Color32 = Color32::from_rgb(48, 52, 62);
const PARTIAL: Color32 = Color32::from_rgb(255, 196, 64);
const NOISE: Color32 = Color32::from_rgb(80, 160, 255);
const CONTOUR: Color32 = Color32::from_rgb(120, 230, 140);
const WINDOW: Color32 = Color32::from_rgba_premultiplied(60, 70, 110, 90);
const PLAYHEAD: Color32 = Color32::from_rgb(255, 90, 90);

/// Draws the spectrum of `snapshot` filling `size`.
pub fn spectrum_ui(ui: &mut egui::Ui, snapshot: &SpectrumSnapshot, size: Vec2) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, BACKGROUND);
    let x_of = |hz: f32| rect.left() + log_axis_position(hz) * rect.width();
    let y_of = |amp: f32| rect.top() + level_position(amp) * rect.height();
    // Octave grid at the As, labelled, and level lines every 30 dB.
    let mut hz = 27.5f32;
    while hz < VIEW_MAX_HZ {
        let x = x_of(hz);
        painter.line_segment([Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())], Stroke::new(1.0, GRID));
        let label = if hz >= 1000.0 { format!("{:.1}k", hz / 1000.0) } else { format!("{hz:.0}") };
        painter.text(
            Pos2::new(x + 2.0, rect.bottom() - 2.0),
            egui::Align2::LEFT_BOTTOM,
            label,
            egui::FontId::proportional(10.0),
            GRID.gamma_multiply(2.5),
        );
        hz *= 2.0;
    }
    for db in [-30.0f32, -60.0] {
        let y = rect.top() + db / VIEW_FLOOR_DB * rect.height();
        painter.line_segment([Pos2::new(rect.left(), y), Pos2::new(rect.right(), y)], Stroke::new(1.0, GRID));
    }
    if let Some((lo_hz, hi_hz)) = snapshot.trained_f0_range_hz {
        let span = Rect::from_x_y_ranges(x_of(lo_hz)..=x_of(hi_hz), rect.y_range());
        painter.rect_filled(span, 0.0, WINDOW);
        painter.text(
            Pos2::new(span.left() + 2.0, rect.top() + 2.0),
            egui::Align2::LEFT_TOP,
            format!("trained f0 {lo_hz:.0}–{hi_hz:.0} Hz"),
            egui::FontId::proportional(10.0),
            GRID.gamma_multiply(3.0),
        );
    }
    if !snapshot.sounding {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "play a note or press Play",
            egui::FontId::proportional(14.0),
            GRID.gamma_multiply(3.0),
        );
        return;
    }
    // Noise bands: a filled outline over the band centres.
    let bands = snapshot.band_count;
    if bands > 1 {
        let mut points: Vec<Pos2> = (0..bands)
            .filter(|&b| snapshot.band_centres_hz[b] >= VIEW_MIN_HZ)
            .map(|b| Pos2::new(x_of(snapshot.band_centres_hz[b]), y_of(snapshot.band_mags[b])))
            .collect();
        if points.len() > 1 {
            painter.add(Shape::line(points.clone(), Stroke::new(1.5, NOISE)));
            points.push(Pos2::new(points[points.len() - 1].x, rect.bottom()));
            points.push(Pos2::new(points[0].x, rect.bottom()));
            for pair in points[..points.len() - 2].windows(2) {
                painter.add(Shape::convex_polygon(
                    vec![pair[0], pair[1], Pos2::new(pair[1].x, rect.bottom()), Pos2::new(pair[0].x, rect.bottom())],
                    NOISE.gamma_multiply(0.25),
                    Stroke::NONE,
                ));
            }
        }
    }
    // Partials: one stem each.
    for k in 0..snapshot.partial_count {
        let (hz, amp) = (snapshot.partial_freqs_hz[k], snapshot.partial_amps[k]);
        if !(VIEW_MIN_HZ..=VIEW_MAX_HZ).contains(&hz) || amp <= 0.0 {
            continue;
        }
        let x = x_of(hz);
        painter.line_segment([Pos2::new(x, y_of(amp)), Pos2::new(x, rect.bottom())], Stroke::new(2.0, PARTIAL));
    }
}

/// Draws the f0 contour of `envelope` with the playback window and (when sounding) the
/// playhead, filling `size`. Clicking does nothing: the window is set with the conductor's
/// parameters.
pub fn contour_ui(
    ui: &mut egui::Ui,
    envelope: &Envelope,
    snapshot: &SpectrumSnapshot,
    window: (usize, usize),
    size: Vec2,
) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, BACKGROUND);
    let frames = envelope.frame_count();
    if frames == 0 {
        return;
    }
    let voiced = envelope.f0_hz.iter().copied().filter(|&f| f > 0.0);
    let (lo, hi) = voiced.fold((f32::MAX, 0.0f32), |(lo, hi), f| (lo.min(f), hi.max(f)));
    let (lo, hi) = if hi > 0.0 { ((lo * 0.9).max(1.0), hi * 1.1) } else { (50.0, 1000.0) };
    let x_of = |frame: f64| rect.left() + (frame / frames as f64) as f32 * rect.width();
    let y_of = |f0: f32| {
        let t = if hi > lo { (f0.max(lo) / lo).ln() / (hi / lo).ln() } else { 0.5 };
        rect.bottom() - 4.0 - t * (rect.height() - 8.0)
    };
    // The playback window.
    let (start, count) = window;
    let start = start.min(frames);
    let end = if count == 0 { frames } else { (start + count).min(frames) };
    painter.rect_filled(Rect::from_x_y_ranges(x_of(start as f64)..=x_of(end as f64), rect.y_range()), 0.0, WINDOW);
    // The contour, one point per pixel column.
    let columns = rect.width().max(2.0) as usize;
    let points: Vec<Pos2> = (0..columns)
        .map(|c| {
            let frame = (c * frames / columns).min(frames - 1);
            Pos2::new(x_of(frame as f64), y_of(envelope.f0_hz[frame]))
        })
        .collect();
    painter.add(Shape::line(points, Stroke::new(1.5, CONTOUR)));
    painter.text(
        rect.left_top() + Vec2::new(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format!("f0 {lo:.0}–{hi:.0} Hz, {frames} frames, {:.2} s", envelope.duration_s()),
        egui::FontId::proportional(10.0),
        GRID.gamma_multiply(3.0),
    );
    if snapshot.sounding {
        let x = x_of(snapshot.playhead_frame);
        painter.line_segment([Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())], Stroke::new(2.0, PLAYHEAD));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_axis_gives_octaves_equal_width() {
        let a = log_axis_position(110.0) - log_axis_position(55.0);
        let b = log_axis_position(7040.0) - log_axis_position(3520.0);
        assert!((a - b).abs() < 1e-5);
        assert_eq!(log_axis_position(VIEW_MIN_HZ), 0.0);
        assert!((log_axis_position(VIEW_MAX_HZ) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn levels_map_minus_90_db_to_the_floor() {
        assert_eq!(level_position(1.0), 0.0);
        assert!((level_position(10f32.powf(-90.0 / 20.0)) - 1.0).abs() < 1e-4);
    }
}

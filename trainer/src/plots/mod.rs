//! Plots that people read (SPEC §6): PNG charts with axes, units and labels, drawn with
//! plotters into an RGB buffer and written with the png crate. The text is Ubuntu Light, from
//! egui's built-in fonts (already in the build for the plugin), so no system font library is
//! needed on any machine.
//!
//! - [`loss`]: the training loss (log scale) with the learning rate on a second axis.
//! - [`features`]: f0 (MIDI pitch and Hz), loudness (dB) and f0 confidence over time, for
//!   one or more versions of a recording (transfer's original and adjusted features).
//! - [`spectrogram`]: spectrograms stacked on one time axis (an input above its resynthesis).

pub mod features;
pub mod loss;
pub mod spectrogram;

use std::path::Path;
use std::sync::OnceLock;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The font family every chart asks for (plotters' default, "sans-serif").
const FONT_FAMILY: &str = "sans-serif";

/// Colours of the series, in the order they are given: a version of a recording or a curve.
pub const SERIES_COLOURS: [RGBColor; 4] =
    [RGBColor(31, 90, 180), RGBColor(220, 110, 20), RGBColor(40, 150, 70), RGBColor(170, 40, 120)];

/// Tick labels and axis titles.
pub(crate) const LABEL_FONT: (&str, u32) = (FONT_FAMILY, 13);
pub(crate) const AXIS_FONT: (&str, u32) = (FONT_FAMILY, 15);

/// The legend of `chart`'s labelled series, at its upper right.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT_FAMILY, 14))
        .draw()?;
    Ok(())
}

/// Registers the font once per process.
fn register_fonts() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            for style in [FontStyle::Normal, FontStyle::Bold] {
                plotters::style::register_font(FONT_FAMILY, style, epaint_default_fonts::UBUNTU_LIGHT)
                    .map_err(|_| "the built-in plot font cannot be read".to_string())?;
            }
            Ok(())
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// Draws a `width` x `height` chart with `draw` on a white background and returns its RGB
/// pixels.
pub fn render(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), Box<dyn std::error::Error>>,
) -> anyhow::Result<Vec<u8>> {
    register_fonts()?;
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw(&root).map_err(|e| anyhow::anyhow!("cannot draw the plot: {e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("cannot draw the plot: {e}"))?;
    }
    Ok(rgb)
}

/// Writes RGB pixels as a PNG (through a temporary file and a rename).
pub fn write_png(path: &Path, rgb: &[u8], width: u32, height: u32) -> anyhow::Result<()> {
    ddsp_shared::atomic_file::write_atomically(path, |w| -> std::io::Result<()> {
        let mut encoder = png::Encoder::new(w, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer.write_image_data(rgb).map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    })
    .with_context(|| format!("cannot write {}", path.display()))
}

/// `path` with its extension replaced by `_<suffix>.png`: `take.wav` → `take_features.png`.
pub fn beside(path: &Path, suffix: &str) -> std::path::PathBuf {
    let stem = path.file_stem().map_or_else(|| "plot".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}_{suffix}.png"))
}

/// A range that plotters can draw: `lo..hi` widened to at least `min_span`, about its middle.
fn padded(lo: f64, hi: f64, min_span: f64) -> std::ops::Range<f64> {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() && lo <= hi { (lo, hi) } else { (0.0, 1.0) };
    if hi - lo >= min_span {
        lo..hi
    } else {
        let mid = 0.5 * (lo + hi);
        mid - 0.5 * min_span..mid + 0.5 * min_span
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    /// Pixels of `rgb` within `tolerance` of `colour`.
    pub fn count_colour(rgb: &[u8], colour: [u8; 3], tolerance: u8) -> usize {
        rgb.chunks_exact(3).filter(|p| p.iter().zip(colour).all(|(&a, b)| a.abs_diff(b) <= tolerance)).count()
    }

    /// Dark (text, axis) pixels in the columns `x0..x1` of a `width`-wide image.
    pub fn dark_pixels_in_columns(rgb: &[u8], width: usize, x0: usize, x1: usize) -> usize {
        rgb.chunks_exact(3 * width)
            .map(|row| row[3 * x0..3 * x1].chunks_exact(3).filter(|p| p.iter().all(|&v| v < 160)).count())
            .sum()
    }
}

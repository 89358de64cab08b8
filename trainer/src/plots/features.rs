//! `*_features.png`: what the model (or the analysis) hears in a recording, as the DDSP
//! notebook plots it: f0 as MIDI pitch (with Hz on the right-hand axis), loudness in dB and
//! the f0 tracker's confidence, one row each on a shared time axis. Several versions of the
//! same recording (transfer's original and adjusted features) share the rows, one colour each.

use std::path::Path;

use ddsp_shared::instrument::{hz_to_midi, midi_to_hz};
use plotters::prelude::*;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;

use super::{draw_legend, padded, render, write_png, AXIS_FONT, LABEL_FONT, SERIES_COLOURS};

/// Image size, pixels.
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 760;

/// Frames whose f0 confidence is below this are drawn without f0 (unvoiced).
const VOICED_CONFIDENCE: f32 = ddsp_shared::instrument::stats::VOICED_CONFIDENCE;

/// One version of the features, per frame at the plot's frame rate.
#[derive(Clone, Copy, Debug)]
pub struct FeatureSeries<'a> {
    /// The legend's name for it ("input", "adjusted").
    pub label: &'a str,
    pub f0_hz: &'a [f32],
    pub loudness_db: &'a [f32],
    /// f0 confidence 0..1 (frames below one half are drawn unvoiced); `None` draws every f0.
    pub confidence: Option<&'a [f32]>,
}

/// Runs of frames that have an f0 (voiced), as `(time, value)` lines.
fn voiced_runs(series: &FeatureSeries<'_>, frame_rate_hz: f64, value: impl Fn(f32) -> f64) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (i, &f0) in series.f0_hz.iter().enumerate() {
        let voiced = f0 > 0.0 && series.confidence.is_none_or(|c| c.get(i).is_some_and(|&c| c >= VOICED_CONFIDENCE));
        if voiced {
            current.push((i as f64 / frame_rate_hz, value(f0)));
        } else if !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

type RowChart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A row's chart over `time` (seconds) and `y`, axes not drawn yet (the right label area is
/// kept in every row so that the rows' time axes line up).
fn row_chart<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    time: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<RowChart<'a, 'b>, Box<dyn std::error::Error>> {
    Ok(ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .right_y_label_area_size(70)
        .build_cartesian_2d(time, y)?)
}

/// One row: [`row_chart`] with its axes drawn and labelled.
fn row<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    time: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    y_desc: &str,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<RowChart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = row_chart(area, time, y)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(y_desc)
        .y_label_formatter(y_label)
        .label_style(LABEL_FONT)
        .axis_desc_style(AXIS_FONT)
        .draw()?;
    Ok(chart)
}

/// Draws the three rows for `series` (at least one) at `frame_rate_hz`, titled `title`.
pub fn render_features_plot(title: &str, frame_rate_hz: f64, series: &[FeatureSeries<'_>]) -> anyhow::Result<Vec<u8>> {
    let frames = series.iter().map(|s| s.f0_hz.len().max(s.loudness_db.len())).max().unwrap_or(0);
    let time = 0.0..(frames as f64 / frame_rate_hz).max(0.1);
    // Each series' voiced f0 as MIDI pitch, in runs: the pitch axis spans them all.
    let pitch_runs: Vec<Vec<Vec<(f64, f64)>>> =
        series.iter().map(|s| voiced_runs(s, frame_rate_hz, |f| f64::from(hz_to_midi(f)))).collect();
    let voiced_midi = pitch_runs.iter().flatten().flatten().map(|&(_, m)| m);
    let (lo, hi) = voiced_midi.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), m| (lo.min(m), hi.max(m)));
    let midi = padded(lo - 1.0, hi + 1.0, 12.0);
    let loudness = series.iter().flat_map(|s| s.loudness_db.iter().map(|&l| f64::from(l))).filter(|l| l.is_finite());
    let (ld_lo, ld_hi) = loudness.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| (lo.min(l), hi.max(l)));
    let loudness_range = padded((ld_lo - 3.0).floor(), (ld_hi + 3.0).ceil(), 10.0);
    let has_confidence = series.iter().any(|s| s.confidence.is_some());

    render(WIDTH, HEIGHT, |root| {
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 22))?;
        let rows = root.split_evenly((if has_confidence { 3 } else { 2 }, 1));
        let colour = |k: usize| SERIES_COLOURS[k % SERIES_COLOURS.len()];

        // f0: MIDI pitch on the left; on the right the same ticks, labelled in Hz.
        let mut f0_chart =
            row_chart(&rows[0], time.clone(), midi.clone())?.set_secondary_coord(time.clone(), midi.clone());
        f0_chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("f0 (MIDI pitch)")
            .y_label_formatter(&|m| format!("{m:.0}"))
            .label_style(LABEL_FONT)
            .axis_desc_style(AXIS_FONT)
            .draw()?;
        f0_chart
            .configure_secondary_axes()
            .y_desc("f0 (Hz)")
            .y_label_formatter(&|m| format!("{:.0}", midi_to_hz(*m as f32)))
            .label_style(LABEL_FONT)
            .axis_desc_style(AXIS_FONT)
            .draw()?;
        for (k, (s, runs)) in series.iter().zip(&pitch_runs).enumerate() {
            let style = colour(k).stroke_width(2);
            for (r, run) in runs.iter().cloned().enumerate() {
                let drawn = f0_chart.draw_series(LineSeries::new(run, style))?;
                if r == 0 {
                    drawn.label(s.label).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
            }
        }
        if series.len() > 1 {
            draw_legend(&mut f0_chart)?;
        }

        let mut loud_chart =
            row(&rows[1], time.clone(), loudness_range.clone(), "loudness (dB, A-weighted)", &|l| format!("{l:.0}"))?;
        for (k, s) in series.iter().enumerate() {
            let points = s.loudness_db.iter().enumerate().map(|(i, &l)| (i as f64 / frame_rate_hz, f64::from(l)));
            loud_chart.draw_series(LineSeries::new(points, colour(k).stroke_width(2)))?;
        }

        if has_confidence {
            let mut conf_chart = row(&rows[2], time.clone(), 0.0..1.0, "f0 confidence", &|c| format!("{c:.1}"))?;
            for (k, s) in series.iter().enumerate() {
                if let Some(conf) = s.confidence {
                    let points = conf.iter().enumerate().map(|(i, &c)| (i as f64 / frame_rate_hz, f64::from(c)));
                    conf_chart.draw_series(LineSeries::new(points, colour(k).stroke_width(2)))?;
                }
            }
            // Where the frames count as voiced.
            let line = [(time.start, f64::from(VOICED_CONFIDENCE)), (time.end, f64::from(VOICED_CONFIDENCE))];
            conf_chart.draw_series(LineSeries::new(line, BLACK.mix(0.35)))?;
        }
        Ok(())
    })
}

/// Writes the features chart to `path`.
pub fn write_features_plot(
    path: &Path,
    title: &str,
    frame_rate_hz: f64,
    series: &[FeatureSeries<'_>],
) -> anyhow::Result<()> {
    write_png(path, &render_features_plot(title, frame_rate_hz, series)?, WIDTH, HEIGHT)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    /// 2 s at 100 frames/s: A4 for the first second, A5 for the second, a swell of loudness.
    fn melody() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let f0 = (0..200).map(|i| if i < 100 { 440.0 } else { 880.0 }).collect();
        let loudness = (0..200).map(|i| -40.0 + 20.0 * (i as f32 / 200.0)).collect();
        let confidence = (0..200).map(|i| if (90..110).contains(&i) { 0.1 } else { 0.95 }).collect();
        (f0, loudness, confidence)
    }

    /// Rows of the image where `colour` appears in the columns of the plot area.
    fn rows_with(rgb: &[u8], colour: [u8; 3]) -> Vec<usize> {
        let w = WIDTH as usize;
        rgb.chunks_exact(3 * w)
            .enumerate()
            .filter(|(_, row)| row[3 * 100..3 * (w - 100)].chunks_exact(3).any(|p| p == colour))
            .map(|(y, _)| y)
            .collect()
    }

    #[test]
    fn an_octave_leap_is_drawn_an_octave_apart_in_the_pitch_row() {
        let (f0, loudness, confidence) = melody();
        let one = [FeatureSeries { label: "input", f0_hz: &f0, loudness_db: &loudness, confidence: Some(&confidence) }];
        let rgb = render_features_plot("features", 100.0, &one).unwrap();
        // Axis labels at both sides.
        assert!(dark_pixels_in_columns(&rgb, WIDTH as usize, 0, 60) > 500);
        assert!(dark_pixels_in_columns(&rgb, WIDTH as usize, WIDTH as usize - 60, WIDTH as usize) > 200);
        // The f0 row is the top third: the two notes are two flat lines 12 semitones apart,
        // which the 14-semitone axis (the notes ±1) draws most of the row apart.
        let blue: Vec<usize> =
            rows_with(&rgb, [31, 90, 180]).into_iter().filter(|&y| y < HEIGHT as usize / 3).collect();
        let (top, bottom) = (blue[0], *blue.last().unwrap());
        assert!(bottom - top > HEIGHT as usize / 3 / 2, "the octave spans {} rows", bottom - top);
    }

    #[test]
    fn two_versions_are_drawn_in_two_colours() {
        let (f0, loudness, confidence) = melody();
        let up: Vec<f32> = f0.iter().map(|f| f * 2.0).collect();
        let versions = [
            FeatureSeries { label: "original", f0_hz: &f0, loudness_db: &loudness, confidence: Some(&confidence) },
            FeatureSeries { label: "adjusted", f0_hz: &up, loudness_db: &loudness, confidence: None },
        ];
        let rgb = render_features_plot("transfer", 100.0, &versions).unwrap();
        assert!(count_colour(&rgb, [31, 90, 180], 0) > 300, "original");
        assert!(count_colour(&rgb, [220, 110, 20], 0) > 300, "adjusted");
    }
}

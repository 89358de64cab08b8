//! `loss.png`: the training loss per step on a log axis (the spectral loss falls by decades),
//! raw and smoothed, with the learning rate on a second (log) axis at the right.

use std::path::Path;

use plotters::prelude::*;

use super::{draw_legend, padded, render, write_png, AXIS_FONT, LABEL_FONT, SERIES_COLOURS};

/// Image size, pixels.
pub const WIDTH: u32 = 900;
pub const HEIGHT: u32 = 450;

/// One logged step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossPoint {
    pub step: f64,
    pub loss: f64,
    pub learning_rate: f64,
}

/// A loss as an axis label: as many decimals as its size needs (10, 2.5, 0.35, 0.042).
fn tidy(v: f64) -> String {
    let decimals = if v >= 10.0 { 0 } else { (1.0 - v.log10().floor()).clamp(1.0, 6.0) as usize };
    format!("{v:.decimals$}")
}

/// A moving average over `window` points (centred, shorter at the ends).
fn smoothed(values: &[f64], window: usize) -> Vec<f64> {
    let half = window / 2;
    (0..values.len())
        .map(|i| {
            let (lo, hi) = (i.saturating_sub(half), (i + half + 1).min(values.len()));
            values[lo..hi].iter().sum::<f64>() / (hi - lo) as f64
        })
        .collect()
}

/// Draws the loss chart of `points` (steps rising; non-finite or non-positive losses left out).
pub fn render_loss_plot(points: &[LossPoint]) -> anyhow::Result<Vec<u8>> {
    let kept: Vec<LossPoint> = points.iter().copied().filter(|p| p.loss.is_finite() && p.loss > 0.0).collect();
    render(WIDTH, HEIGHT, |root| {
        root.fill(&WHITE)?;
        let first = kept.first().map_or(0.0, |p| p.step);
        let last = kept.last().map_or(1.0, |p| p.step);
        let steps = padded(first, last, 1.0);
        let lo = kept.iter().map(|p| p.loss).fold(f64::INFINITY, f64::min);
        let hi = kept.iter().map(|p| p.loss).fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if kept.is_empty() { (0.1, 10.0) } else { (lo / 1.2, hi * 1.2) };
        let lr_lo = kept.iter().map(|p| p.learning_rate).filter(|&r| r > 0.0).fold(f64::INFINITY, f64::min);
        let lr_hi = kept.iter().map(|p| p.learning_rate).fold(0.0, f64::max);
        let (lr_lo, lr_hi) = if lr_lo.is_finite() && lr_hi > 0.0 { (lr_lo / 2.0, lr_hi * 2.0) } else { (1e-4, 1e-2) };
        let mut chart = ChartBuilder::on(root)
            .caption("Training loss (multi-scale spectral)", ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .right_y_label_area_size(80)
            .build_cartesian_2d(steps.clone(), (lo..hi).log_scale())?
            .set_secondary_coord(steps, (lr_lo..lr_hi).log_scale());
        chart
            .configure_mesh()
            .x_desc("step")
            .x_label_formatter(&|s| format!("{s:.0}"))
            .y_desc("loss")
            .y_label_formatter(&|v| tidy(*v))
            .label_style(LABEL_FONT)
            .axis_desc_style(AXIS_FONT)
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("learning rate")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style(LABEL_FONT)
            .axis_desc_style(AXIS_FONT)
            .draw()?;
        let raw = SERIES_COLOURS[0].mix(0.3);
        chart
            .draw_series(LineSeries::new(kept.iter().map(|p| (p.step, p.loss)), raw))?
            .label("loss per step")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], raw));
        let losses: Vec<f64> = kept.iter().map(|p| p.loss).collect();
        let smooth = smoothed(&losses, (kept.len() / 50).max(1));
        let dark = SERIES_COLOURS[0].stroke_width(2);
        chart
            .draw_series(LineSeries::new(kept.iter().zip(&smooth).map(|(p, &s)| (p.step, s)), dark))?
            .label("moving average")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], dark));
        let lr = SERIES_COLOURS[1].stroke_width(2);
        chart
            .draw_secondary_series(LineSeries::new(kept.iter().map(|p| (p.step, p.learning_rate)), lr))?
            .label("learning rate (right axis)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], lr));
        draw_legend(&mut chart)?;
        Ok(())
    })
}

/// Writes `loss.png`.
pub fn write_loss_plot(path: &Path, points: &[LossPoint]) -> anyhow::Result<()> {
    write_png(path, &render_loss_plot(points)?, WIDTH, HEIGHT)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn the_loss_chart_has_labelled_axes_the_loss_and_the_learning_rate() {
        let points: Vec<LossPoint> = (1..=300)
            .map(|s| LossPoint {
                step: f64::from(s),
                loss: 10.0 * (-f64::from(s) / 80.0).exp() + 0.5,
                learning_rate: 1e-3 * 0.99f64.powi(s),
            })
            .collect();
        let rgb = render_loss_plot(&points).unwrap();
        let w = WIDTH as usize;
        // Tick labels and axis titles left and right of the plot area.
        let (left, right) = (dark_pixels_in_columns(&rgb, w, 0, 78), dark_pixels_in_columns(&rgb, w, w - 70, w));
        assert!(left > 250 && right > 300, "axis labels: {left} dark pixels at the left, {right} at the right");
        // The smoothed loss (dark blue) and the learning rate (orange) are drawn.
        assert!(count_colour(&rgb, [31, 90, 180], 10) > 500, "the loss curve");
        assert!(count_colour(&rgb, [220, 110, 20], 10) > 500, "the learning-rate curve");
        // A log loss axis: the curve spans most of the height though the loss is mostly small.
        let rows: Vec<usize> = rgb
            .chunks_exact(3 * w)
            .enumerate()
            .filter(|(_, row)| row.chunks_exact(3).any(|p| p == [31, 90, 180]))
            .map(|(y, _)| y)
            .collect();
        let span = rows.last().unwrap() - rows.first().unwrap();
        assert!(span > HEIGHT as usize / 2, "loss curve spans {span} rows");
    }

    #[test]
    fn an_empty_or_broken_log_still_draws_a_chart() {
        let nan = [LossPoint { step: 1.0, loss: f64::NAN, learning_rate: 1e-3 }];
        for points in [&[][..], &nan[..]] {
            let rgb = render_loss_plot(points).unwrap();
            let left = dark_pixels_in_columns(&rgb, WIDTH as usize, 0, 78);
            assert!(left > 60, "{left} dark pixels at the left");
        }
    }
}

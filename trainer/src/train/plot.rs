//! The loss plot (`loss.png`): a plain line chart drawn pixel by pixel and written with the
//! `png` crate (no font or plotting stack). Loss on a log axis, since the spectral loss falls by
//! decades; grid lines at every power of ten and at every tenth of the steps.

use std::path::Path;

use anyhow::Context;

/// Image size, pixels.
const WIDTH: usize = 800;
/// Image size, pixels.
const HEIGHT: usize = 400;
/// Empty border around the plot area, pixels.
const MARGIN: usize = 20;

const BACKGROUND: [u8; 3] = [255, 255, 255];
const GRID: [u8; 3] = [225, 225, 225];
const AXIS: [u8; 3] = [120, 120, 120];
const RAW: [u8; 3] = [170, 200, 235];
const SMOOTH: [u8; 3] = [20, 80, 170];

/// Draws `points` (`(step, loss)`, loss > 0) into an RGB buffer: the raw losses in light blue,
/// a moving average over 2 % of the points in dark blue.
pub fn render_loss_plot(points: &[(f64, f64)]) -> Vec<u8> {
    let mut image = vec![0u8; WIDTH * HEIGHT * 3];
    for px in image.chunks_exact_mut(3) {
        px.copy_from_slice(&BACKGROUND);
    }
    let finite: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.1.is_finite() && p.1 > 0.0).collect();
    if finite.len() < 2 {
        return image;
    }
    let (x0, x1) = (finite[0].0, finite[finite.len() - 1].0.max(finite[0].0 + 1.0));
    let log_min = finite.iter().map(|p| p.1.log10()).fold(f64::INFINITY, f64::min).floor();
    let log_max = finite.iter().map(|p| p.1.log10()).fold(f64::NEG_INFINITY, f64::max).ceil().max(log_min + 1.0);
    let (w, h) = ((WIDTH - 2 * MARGIN) as f64, (HEIGHT - 2 * MARGIN) as f64);
    let to_px = |x: f64, y: f64| {
        let px = MARGIN as f64 + (x - x0) / (x1 - x0) * w;
        let py = MARGIN as f64 + (1.0 - (y.log10() - log_min) / (log_max - log_min)) * h;
        (px, py)
    };
    let mut set = |x: i64, y: i64, c: [u8; 3]| {
        if x >= 0 && y >= 0 && (x as usize) < WIDTH && (y as usize) < HEIGHT {
            let i = (y as usize * WIDTH + x as usize) * 3;
            image[i..i + 3].copy_from_slice(&c);
        }
    };
    for decade in (log_min as i64)..=(log_max as i64) {
        let (_, py) = to_px(x0, 10f64.powi(decade as i32));
        for x in MARGIN..WIDTH - MARGIN {
            set(x as i64, py.round() as i64, GRID);
        }
    }
    for tenth in 0..=10 {
        let px = (MARGIN as f64 + w * tenth as f64 / 10.0).round() as i64;
        for y in MARGIN..HEIGHT - MARGIN {
            set(px, y as i64, GRID);
        }
    }
    for x in MARGIN..WIDTH - MARGIN {
        set(x as i64, (HEIGHT - MARGIN) as i64, AXIS);
    }
    for y in MARGIN..=HEIGHT - MARGIN {
        set(MARGIN as i64, y as i64, AXIS);
    }
    let mut line = |series: &[(f64, f64)], color: [u8; 3]| {
        for pair in series.windows(2) {
            let (ax, ay) = to_px(pair[0].0, pair[0].1);
            let (bx, by) = to_px(pair[1].0, pair[1].1);
            let n = ((bx - ax).abs().max((by - ay).abs()).ceil() as usize).max(1);
            for i in 0..=n {
                let t = i as f64 / n as f64;
                set((ax + (bx - ax) * t).round() as i64, (ay + (by - ay) * t).round() as i64, color);
            }
        }
    };
    line(&finite, RAW);
    let half = (finite.len() / 100).max(1);
    let smooth: Vec<(f64, f64)> = (0..finite.len())
        .map(|i| {
            let window = &finite[i.saturating_sub(half)..(i + half + 1).min(finite.len())];
            let mean_log = window.iter().map(|p| p.1.ln()).sum::<f64>() / window.len() as f64;
            (finite[i].0, mean_log.exp())
        })
        .collect();
    line(&smooth, SMOOTH);
    image
}

/// Writes the loss plot of `points` to `path` (atomically).
pub fn write_loss_plot(path: &Path, points: &[(f64, f64)]) -> anyhow::Result<()> {
    let image = render_loss_plot(points);
    ddsp_shared::atomic_file::write_atomically(path, |w| -> anyhow::Result<()> {
        let mut encoder = png::Encoder::new(w, WIDTH as u32, HEIGHT as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&image)?;
        writer.finish()?;
        Ok(())
    })
    .with_context(|| format!("cannot write the loss plot {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falling_loss_is_drawn_from_top_left_to_bottom_right() {
        let points: Vec<(f64, f64)> = (1..=200).map(|s| (s as f64, 10.0 / s as f64)).collect();
        let image = render_loss_plot(&points);
        let dark = |x: usize, y0: usize, y1: usize| {
            (y0..y1).any(|y| {
                let i = (y * WIDTH + x) * 3;
                image[i..i + 3] == SMOOTH
            })
        };
        assert!(dark(MARGIN + 2, MARGIN, HEIGHT / 2), "start of the curve must be high");
        assert!(dark(WIDTH - MARGIN - 2, HEIGHT / 2, HEIGHT - MARGIN), "end of the curve must be low");
    }

    #[test]
    fn written_file_is_a_png_of_the_stated_size() {
        let path = std::env::temp_dir().join(format!("ddsp-plot-{}.png", std::process::id()));
        write_loss_plot(&path, &[(1.0, 5.0), (2.0, 3.0), (3.0, 2.0)]).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (WIDTH as u32, HEIGHT as u32));
        std::fs::remove_file(&path).unwrap();
    }
}

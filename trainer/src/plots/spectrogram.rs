//! `*_spectrogram.png`: spectrograms of several signals on one time axis, one above the other
//! (an input above its resynthesis), in dB relative to the loudest bin of any of them, so the
//! rows compare by colour.

use std::path::Path;

use plotters::prelude::*;
use realfft::RealFftPlanner;

use super::{render, write_png, AXIS_FONT, LABEL_FONT};

/// Image size, pixels.
pub const WIDTH: u32 = 1000;
/// Height of one spectrogram row, pixels (the title adds a little).
pub const ROW_HEIGHT: u32 = 320;
/// Range of the colour scale below the loudest bin, dB.
pub const RANGE_DB: f64 = 80.0;
/// Analysis window, seconds (about 46 ms: 2048 samples at 44.1 kHz, 1024 at 22.05 kHz).
const WINDOW_S: f64 = 0.046;
/// Most analysis frames per signal (the plot is 1000 pixels wide).
const MAX_FRAMES: usize = 1000;

/// One signal to show.
#[derive(Clone, Copy, Debug)]
pub struct Signal<'a> {
    pub label: &'a str,
    pub samples: &'a [f32],
}

/// Magnitudes in dB (20·log10 of the Hann-windowed spectrum), frame-major: `frames × bins`.
struct Spectrogram {
    db: Vec<f32>,
    bins: usize,
    frames: usize,
}

fn spectrogram(samples: &[f32], sample_rate_hz: u32) -> Spectrogram {
    let n_fft = ((WINDOW_S * f64::from(sample_rate_hz)).log2().round().exp2() as usize).clamp(256, 8192);
    let bins = n_fft / 2 + 1;
    let frames = samples.len().div_ceil(n_fft / 4).clamp(1, MAX_FRAMES);
    let hop = (samples.len() as f64 / frames as f64).max(1.0);
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
    let window: Vec<f32> =
        (0..n_fft).map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / n_fft as f32).cos()).collect();
    let mut input = fft.make_input_vec();
    let mut output = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut db = Vec::with_capacity(frames * bins);
    for f in 0..frames {
        let start = (f as f64 * hop) as isize - n_fft as isize / 2;
        for (i, x) in input.iter_mut().enumerate() {
            let at = start + i as isize;
            let s = if at >= 0 { samples.get(at as usize).copied().unwrap_or(0.0) } else { 0.0 };
            *x = s * window[i];
        }
        fft.process_with_scratch(&mut input, &mut output, &mut scratch).expect("buffers from the plan");
        db.extend(output.iter().map(|c| 20.0 * (c.norm() + 1e-9).log10()));
    }
    Spectrogram { db, bins, frames }
}

/// A perceptual dark-to-light colour scale (magma-like), for `v` in 0..1.
fn colour_at(v: f64) -> RGBColor {
    const STOPS: [(f64, [f64; 3]); 5] = [
        (0.0, [0.0, 0.0, 4.0]),
        (0.3, [81.0, 18.0, 124.0]),
        (0.55, [183.0, 55.0, 121.0]),
        (0.8, [252.0, 137.0, 97.0]),
        (1.0, [252.0, 253.0, 191.0]),
    ];
    let v = v.clamp(0.0, 1.0);
    let k = STOPS.windows(2).position(|w| v <= w[1].0).unwrap_or(STOPS.len() - 2);
    let ((a, ca), (b, cb)) = (STOPS[k], STOPS[k + 1]);
    let t = (v - a) / (b - a);
    let c = |i: usize| (ca[i] + t * (cb[i] - ca[i])).round() as u8;
    RGBColor(c(0), c(1), c(2))
}

/// Draws the spectrograms of `signals` (all at `sample_rate_hz`), one row each, titled `title`.
pub fn render_spectrogram_plot(title: &str, sample_rate_hz: u32, signals: &[Signal<'_>]) -> anyhow::Result<Vec<u8>> {
    let grams: Vec<Spectrogram> = signals.iter().map(|s| spectrogram(s.samples, sample_rate_hz)).collect();
    let loudest = grams.iter().flat_map(|g| g.db.iter().copied()).fold(f32::NEG_INFINITY, f32::max);
    let longest = signals.iter().map(|s| s.samples.len()).max().unwrap_or(0);
    let duration_s = (longest as f64 / f64::from(sample_rate_hz)).max(0.01);
    let nyquist = f64::from(sample_rate_hz) / 2.0;
    let height = 40 + ROW_HEIGHT * signals.len().max(1) as u32;
    render(WIDTH, height, |root| {
        root.fill(&WHITE)?;
        let titled = root.titled(title, ("sans-serif", 22))?;
        let rows = titled.split_evenly((signals.len().max(1), 1));
        for ((row, signal), gram) in rows.iter().zip(signals).zip(&grams) {
            let mut chart = ChartBuilder::on(row)
                .caption(
                    format!("{} (dB re the loudest bin, {RANGE_DB:.0} dB range)", signal.label),
                    ("sans-serif", 16),
                )
                .margin(8)
                .x_label_area_size(32)
                .y_label_area_size(70)
                .build_cartesian_2d(0.0..duration_s, 0.0..nyquist)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("time (s)")
                .y_desc("frequency (Hz)")
                .y_label_formatter(&|v| format!("{v:.0}"))
                .label_style(LABEL_FONT)
                .axis_desc_style(AXIS_FONT)
                .draw()?;
            // Paint each pixel of the plot area with the bin under it.
            let (xs, ys) = chart.plotting_area().get_pixel_range();
            let signal_s = signal.samples.len() as f64 / f64::from(sample_rate_hz);
            for px in xs.clone() {
                let t = (f64::from(px - xs.start) + 0.5) / f64::from(xs.end - xs.start) * duration_s;
                if t > signal_s {
                    break;
                }
                let frame = ((t / signal_s) * gram.frames as f64).min(gram.frames as f64 - 1.0) as usize;
                for py in ys.clone() {
                    let up = 1.0 - (f64::from(py - ys.start) + 0.5) / f64::from(ys.end - ys.start);
                    let bin = (up * (gram.bins - 1) as f64).round() as usize;
                    let level = f64::from(gram.db[frame * gram.bins + bin] - loudest);
                    root.draw_pixel((px, py), &colour_at(1.0 + level / RANGE_DB))?;
                }
            }
        }
        Ok(())
    })
}

/// Writes the spectrograms of `signals` to `path`.
pub fn write_spectrogram_plot(
    path: &Path,
    title: &str,
    sample_rate_hz: u32,
    signals: &[Signal<'_>],
) -> anyhow::Result<()> {
    let rgb = render_spectrogram_plot(title, sample_rate_hz, signals)?;
    write_png(path, &rgb, WIDTH, rgb.len() as u32 / 3 / WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partials_light_rows_evenly_spaced_by_frequency_and_silence_stays_dark() {
        let sr = 16_000u32;
        let tone: Vec<f32> = (0..sr)
            .map(|n| {
                let t = n as f32 / sr as f32;
                [2000.0f32, 4000.0, 6000.0].iter().map(|f| (std::f32::consts::TAU * f * t).sin()).sum::<f32>()
            })
            .collect();
        let silence = vec![0.0f32; sr as usize];
        let signals = [Signal { label: "tone", samples: &tone }, Signal { label: "silence", samples: &silence }];
        let rgb = render_spectrogram_plot("test", sr, &signals).unwrap();
        let w = WIDTH as usize;
        let height = rgb.len() / 3 / w;
        let bright = |y0: usize, y1: usize| -> Vec<usize> {
            (y0..y1)
                .filter(|&y| {
                    let row = &rgb[3 * w * y..3 * w * (y + 1)];
                    row[3 * 300..3 * 700].chunks_exact(3).filter(|p| p[0] > 240 && p[1] > 200 && p[2] < 225).count()
                        > 300
                })
                .collect()
        };
        // Bright rows in the first spectrogram, grouped into bands: one per partial.
        let mut bands: Vec<Vec<usize>> = Vec::new();
        for y in bright(0, height / 2) {
            match bands.last_mut() {
                Some(band) if y - band[band.len() - 1] <= 2 => band.push(y),
                _ => bands.push(vec![y]),
            }
        }
        let centres: Vec<f64> = bands.iter().map(|b| b.iter().sum::<usize>() as f64 / b.len() as f64).collect();
        assert_eq!(centres.len(), 3, "bright bands at rows {centres:?}");
        // A linear frequency axis: 2, 4 and 6 kHz of 8 kHz, a quarter of the plot apart.
        let (gap_a, gap_b) = (centres[1] - centres[0], centres[2] - centres[1]);
        assert!((gap_a - gap_b).abs() <= 2.0 && (40.0..90.0).contains(&gap_a), "gaps {gap_a} and {gap_b}");
        assert!(bright(height / 2, height).is_empty(), "silence has no bright row");
    }

    #[test]
    fn the_colour_scale_runs_dark_to_light() {
        let lum = |c: RGBColor| 0.3 * f64::from(c.0) + 0.6 * f64::from(c.1) + 0.1 * f64::from(c.2);
        let steps: Vec<f64> = (0..=10).map(|i| lum(colour_at(f64::from(i) / 10.0))).collect();
        assert!(steps.windows(2).all(|w| w[1] > w[0]), "{steps:?}");
    }
}

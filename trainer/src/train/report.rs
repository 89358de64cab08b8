//! The run's report: `report.md` for people and `report.json` for scripts, with the training
//! figures (from the loss log) and the `ddsp eval` figures of each exported file's
//! resynthesis against its input. The figures are `ddsp eval`'s own, measured the same way,
//! so a report and a later `ddsp eval` of the previews agree.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;

use super::config::TrainConfig;
use super::training::{read_loss_log, RunPaths};
use crate::spectral_distance::EvalReport;

/// One resynthesised file, for the report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileReport {
    /// The input file.
    pub input: PathBuf,
    /// Where its exports are.
    pub folder: PathBuf,
    /// Seconds of audio.
    pub duration_s: f64,
    /// Chunks written.
    pub chunks: usize,
    /// `ddsp eval` figures of the resynthesis (mix) against the input at the model rate: the
    /// exported envelopes, dry.
    pub eval: EvalReport,
    /// The same through the learned room (runs trained with `--reverb`): what training heard.
    pub eval_with_room: Option<EvalReport>,
    /// `ddsp analyze`'s resynthesis of the input (no training) on the model's grid, scored the
    /// same way: how close a non-neural analysis comes, for scale. `None` when the input is
    /// too short to analyse.
    pub eval_analysis: Option<EvalReport>,
    /// The plot of the features the model was driven with (f0, loudness, confidence).
    pub features_png: PathBuf,
    /// The plot of the input's spectrogram above the resynthesis's.
    pub spectrogram_png: PathBuf,
}

/// What [`super::export::export_run`] wrote; its `Display` is the summary printed for the user.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportSummary {
    /// Per input file.
    pub files: Vec<FileReport>,
    /// `report.md`.
    pub report_md: PathBuf,
    /// `report.json`.
    pub report_json: PathBuf,
    /// `instrument.ddsp`, the playable instrument.
    pub instrument: PathBuf,
    /// `room_ir.wav`, the learned room (runs trained with `--reverb`).
    pub room_ir: Option<PathBuf>,
}

impl std::fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for file in &self.files {
            writeln!(
                f,
                "exported {} -> {} ({} chunk(s): .npz, previews, CSV); spectral distance {:.3}{}",
                file.input.display(),
                file.folder.display(),
                file.chunks,
                file.eval.spectral_distance,
                file.eval_analysis
                    .as_ref()
                    .map_or(String::new(), |a| format!(" (ddsp analyze: {:.3})", a.spectral_distance))
            )?;
        }
        writeln!(
            f,
            "instrument: {} (import it into the plugin in Model mode, or `ddsp play --model`)",
            self.instrument.display()
        )?;
        if let Some(room) = &self.room_ir {
            writeln!(f, "room: {} (the learned room's impulse response, for any convolution reverb)", room.display())?;
        }
        write!(f, "report: {} and {}", self.report_md.display(), self.report_json.display())
    }
}

/// One table of `ddsp eval` figures with a column per resynthesis.
fn write_eval_table(md: &mut String, columns: &[(&str, &EvalReport)]) {
    let row = |md: &mut String, measure: &str, value: &dyn Fn(&EvalReport) -> String| {
        let values: Vec<String> = columns.iter().map(|(_, e)| value(e)).collect();
        let _ = writeln!(md, "| {measure} | {} |", values.join(" | "));
    };
    let titles: Vec<&str> = columns.iter().map(|(title, _)| *title).collect();
    let _ = writeln!(md, "| measure | {} |\n|---|{}", titles.join(" | "), "---|".repeat(columns.len()));
    row(md, "multi-scale spectral distance (DDSP loss)", &|e| format!("{:.4}", e.spectral_distance));
    for (i, s) in columns[0].1.scales.iter().enumerate() {
        row(md, &format!("FFT {}: magnitude L1 / log-magnitude L1", s.fft_size), &|e| {
            let s = &e.scales[i];
            format!("{:.5} / {:.4}", s.magnitude_l1, s.log_magnitude_l1)
        });
    }
    let cents = |c: Option<f32>| c.map_or("n/a".to_string(), |c| format!("{c:.1} cents"));
    row(md, "f0 error, mean / median (frames voiced in both, of those voiced in the input)", &|e| {
        format!(
            "{} / {} ({} of {})",
            cents(e.f0_error_cents_mean),
            cents(e.f0_error_cents_median),
            e.voiced_frames_both,
            e.voiced_frames_reference
        )
    });
    row(md, "loudness error, mean", &|e| format!("{:.2} dB", e.loudness_error_db_mean));
    md.push('\n');
}

/// Writes `report.md` and `report.json` for `summary`.
pub fn write_reports(paths: &RunPaths, config: &TrainConfig, summary: &ExportSummary) -> anyhow::Result<()> {
    let log = read_loss_log(&paths.loss_log())?;
    let last = log.last();
    let mut md = String::new();
    let _ = writeln!(md, "# DDSP training report\n");
    let _ = writeln!(
        md,
        "Model: preset {}, GRU/MLP width {}, {} frames/s at {} Hz, batch {}, {} s examples{}.\n",
        config.preset.name(),
        config.hidden,
        config.frame_rate_hz,
        config.sample_rate_hz,
        config.batch_size,
        config.example_s,
        if config.reverb { ", trainable reverb" } else { "" }
    );
    if let Some(e) = last {
        let _ = writeln!(
            md,
            "Training: {} steps in {:.0} s ({:.3} s/step), final loss {:.4} (multi-scale spectral loss; see loss.csv).\n\n![training loss and learning rate](loss.png)\n",
            e.step,
            e.elapsed_s,
            e.elapsed_s / e.step.max(1) as f64,
            e.loss
        );
    }
    let _ = writeln!(md, "## Resynthesis against the input (`ddsp eval` figures)\n");
    for f in &summary.files {
        let _ = writeln!(md, "### {}\n", f.input.display());
        let _ = writeln!(md, "{:.1} s, {} chunk(s) in `{}`.\n", f.duration_s, f.chunks, f.folder.display());
        let mut columns = vec![("dry (the exported envelopes)", &f.eval)];
        if let Some(wet) = &f.eval_with_room {
            columns.push(("with the learned room (`room_ir.wav`)", wet));
        }
        if let Some(analysis) = &f.eval_analysis {
            columns.push(("`ddsp analyze` (no training, for scale)", analysis));
            let _ = writeln!(
                md,
                "The model's resynthesis is at {:.2}x the spectral distance of `ddsp analyze`'s (below 1: closer \
                 than the analysis).\n",
                f.eval.spectral_distance / analysis.spectral_distance.max(f32::MIN_POSITIVE)
            );
        }
        write_eval_table(&mut md, &columns);
        let link = |p: &PathBuf| p.strip_prefix(&paths.root).unwrap_or(p).display().to_string();
        let _ = writeln!(
            md,
            "![features: f0, loudness, f0 confidence]({})\n\n![spectrograms: input above resynthesis]({})\n",
            link(&f.features_png),
            link(&f.spectrogram_png)
        );
    }
    if let Some(room) = &summary.room_ir {
        let _ = writeln!(
            md,
            "The learned room is `{}`: an impulse response at {} Hz to load into any convolution reverb (its first \
             tap is 0, so play it 100 % wet beside the dry signal, as the model adds it). The exported envelopes \
             and previews are dry.\n",
            room.file_name().map_or_else(|| room.display().to_string(), |n| n.to_string_lossy().into_owned()),
            config.sample_rate_hz
        );
    }
    ddsp_shared::atomic_file::write_atomically(&summary.report_md, |w| -> std::io::Result<()> {
        std::io::Write::write_all(w, md.as_bytes())
    })
    .with_context(|| format!("cannot write {}", summary.report_md.display()))?;
    let json = serde_json::json!({
        "config": config,
        "training": last.map(|e| serde_json::json!({
            "steps": e.step, "seconds": e.elapsed_s, "final_loss": e.loss,
            "seconds_per_step": e.elapsed_s / e.step.max(1) as f64,
        })),
        "files": summary.files,
        "room_ir": summary.room_ir,
    });
    let text = serde_json::to_vec_pretty(&json)?;
    ddsp_shared::atomic_file::write_atomically(&summary.report_json, |w| -> std::io::Result<()> {
        std::io::Write::write_all(w, &text)
    })
    .with_context(|| format!("cannot write {}", summary.report_json.display()))
}

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
    /// `ddsp eval` figures of the resynthesis (mix) against the input at the model rate.
    pub eval: EvalReport,
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
}

impl std::fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for file in &self.files {
            writeln!(
                f,
                "exported {} -> {} ({} chunk(s): .npz, previews, CSV); spectral distance {:.3}",
                file.input.display(),
                file.folder.display(),
                file.chunks,
                file.eval.spectral_distance
            )?;
        }
        writeln!(
            f,
            "instrument: {} (import it into the plugin in Model mode, or `ddsp play --model`)",
            self.instrument.display()
        )?;
        write!(f, "report: {} and {}", self.report_md.display(), self.report_json.display())
    }
}

/// Writes `report.md` and `report.json` for `summary`.
pub fn write_reports(paths: &RunPaths, config: &TrainConfig, summary: &ExportSummary) -> anyhow::Result<()> {
    let log = read_loss_log(&paths.loss_log())?;
    let last = log.last();
    let mut md = String::new();
    let _ = writeln!(md, "# DDSP training report\n");
    let _ = writeln!(
        md,
        "Model: preset {:?}, GRU/MLP width {}, {} frames/s at {} Hz, batch {}, {} s examples{}.\n",
        config.preset,
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
            "Training: {} steps in {:.0} s ({:.3} s/step), final loss {:.4} (multi-scale spectral loss; see loss.csv, loss.png).\n",
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
        let e = &f.eval;
        let _ = writeln!(md, "| measure | value |\n|---|---|");
        let _ = writeln!(md, "| multi-scale spectral distance (DDSP loss) | {:.4} |", e.spectral_distance);
        for s in &e.scales {
            let _ = writeln!(
                md,
                "| FFT {}: magnitude L1 / log-magnitude L1 | {:.5} / {:.4} |",
                s.fft_size, s.magnitude_l1, s.log_magnitude_l1
            );
        }
        let cents = |c: Option<f32>| c.map_or("n/a".to_string(), |c| format!("{c:.1} cents"));
        let _ = writeln!(
            md,
            "| f0 error, mean / median (frames voiced in both: {} of {}) | {} / {} |",
            e.voiced_frames_both,
            e.voiced_frames_reference,
            cents(e.f0_error_cents_mean),
            cents(e.f0_error_cents_median)
        );
        let _ = writeln!(md, "| loudness error, mean | {:.2} dB |\n", e.loudness_error_db_mean);
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
    });
    let text = serde_json::to_vec_pretty(&json)?;
    ddsp_shared::atomic_file::write_atomically(&summary.report_json, |w| -> std::io::Result<()> {
        std::io::Write::write_all(w, &text)
    })
    .with_context(|| format!("cannot write {}", summary.report_json.display()))
}

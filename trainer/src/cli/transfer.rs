//! `ddsp transfer --run runs/NAME other.wav -o out.wav`: timbre transfer with a trained model.

use std::path::PathBuf;

use anyhow::bail;
use ddsp_shared::instrument::auto_adjust::AutoAdjust;
use ddsp_shared::render::TET_SIZE_RANGE;
use ddsp_trainer::plots::beside;
use ddsp_trainer::plots::features::{write_features_plot, FeatureSeries};
use ddsp_trainer::tools::io::refuse_to_overwrite_inputs;
use ddsp_trainer::train::training::RunPaths;
use ddsp_trainer::train::transfer::{transfer, TransferOptions};

use super::render::check;

/// Drive a trained model with the pitch and loudness of another recording.
#[derive(clap::Args, Debug)]
#[command(
    allow_negative_numbers = true,
    after_help = "\
Examples:
  ddsp transfer --run runs/violin examples/flute_phrase_44k.wav -o flute_on_violin.wav
  ddsp transfer --run runs/violin voice.mp3 -o voice_as_violin.wav --autotune 0.7 --quiet 30
  ddsp transfer --run runs/violin voice.wav -o raw.wav --no-auto-adjust --pitch-shift 12 --loudness-shift -6

By default the melody is adjusted as the DDSP timbre-transfer notebook does: notes are found
from loudness and f0 confidence (--threshold), moved by whole octaves into the f0 range the
model was trained on, their loudness mapped onto the training data's loudness distribution,
and the parts between notes turned down (--quiet). --pitch-shift and --loudness-shift apply
after that."
)]
pub struct Args {
    /// Run folder of a trained model (from `ddsp train --out`).
    #[arg(long)]
    pub run: PathBuf,
    /// The recording whose melody and dynamics drive the model.
    pub input: PathBuf,
    /// WAV to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Unified CSV of the predicted envelopes (default: the output with `.csv`). The original
    /// and adjusted features are plotted beside the output as OUT_features.png.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Use the recording's f0 and loudness as they are (no notes, octave, loudness or quiet
    /// adjustment).
    #[arg(long)]
    pub no_auto_adjust: bool,
    /// Note detection threshold (0..=2): higher finds fewer, surer notes.
    #[arg(long, default_value_t = AutoAdjust::default().threshold)]
    pub threshold: f32,
    /// dB the parts between notes are turned down by (0..=60).
    #[arg(long, default_value_t = AutoAdjust::default().quiet_db)]
    pub quiet: f32,
    /// How far the notes' f0 is pulled toward the nearest step of --tet, 0 (not) ..=1 (onto it).
    #[arg(long, default_value_t = AutoAdjust::default().autotune)]
    pub autotune: f32,
    /// Steps per octave that --autotune pulls toward (1..=96; 12 = semitones).
    #[arg(long, default_value_t = AutoAdjust::default().tet)]
    pub tet: u32,
    /// Semitones to transpose the melody by, after auto-adjust (e.g. -12).
    #[arg(long, default_value_t = 0.0)]
    pub pitch_shift: f32,
    /// dB to add to the loudness, after auto-adjust.
    #[arg(long, default_value_t = 0.0)]
    pub loudness_shift: f32,
}

impl Args {
    fn auto_adjust(&self) -> anyhow::Result<Option<AutoAdjust>> {
        check("--threshold", self.threshold, 0.0..=2.0)?;
        check("--quiet", self.quiet, 0.0..=60.0)?;
        check("--autotune", self.autotune, 0.0..=1.0)?;
        if !TET_SIZE_RANGE.contains(&self.tet) {
            bail!("--tet {} is out of range: allowed {}..={}", self.tet, TET_SIZE_RANGE.start(), TET_SIZE_RANGE.end());
        }
        let adjust =
            AutoAdjust { threshold: self.threshold, quiet_db: self.quiet, autotune: self.autotune, tet: self.tet };
        Ok((!self.no_auto_adjust).then_some(adjust))
    }
}

/// Runs `ddsp transfer`.
pub fn run(args: Args) -> anyhow::Result<()> {
    check("--pitch-shift", args.pitch_shift, -48.0..=48.0)?;
    check("--loudness-shift", args.loudness_shift, -60.0..=60.0)?;
    let options = TransferOptions {
        auto_adjust: args.auto_adjust()?,
        pitch_shift_st: args.pitch_shift,
        loudness_shift_db: args.loudness_shift,
    };
    let csv = args.csv.clone().unwrap_or_else(|| args.output.with_extension("csv"));
    refuse_to_overwrite_inputs(&[&args.input], &args.output)?;
    refuse_to_overwrite_inputs(&[&args.input, &args.output], &csv)?;
    let summary = transfer(&RunPaths::new(&args.run), &args.input, &args.output, &csv, &options)?;
    if let Some(a) = &summary.adjusted {
        let moved = match a.octaves {
            0 => "kept its octave".to_owned(),
            n => format!(
                "moved {} octave{} {}",
                n.abs(),
                if n.abs() == 1 { "" } else { "s" },
                if n > 0 { "up" } else { "down" }
            ),
        };
        eprintln!(
            "auto-adjust: {:.0} % of the frames are notes; the melody {moved} into the trained range ({:.0}..{:.0} Hz); \
             loudness mapped onto the training data's (--no-auto-adjust turns this off)",
            100.0 * a.note_share,
            a.trained_f0_hz.0,
            a.trained_f0_hz.1
        );
    }
    let plot = beside(&args.output, "features");
    let f = &summary.features;
    let adjusted =
        if summary.adjusted.is_some() { "as the model sang it (auto-adjusted)" } else { "as the model sang it" };
    let series = [
        FeatureSeries {
            label: "the recording",
            f0_hz: &f.original_f0_hz,
            loudness_db: &f.original_loudness_db,
            confidence: Some(&f.confidence),
        },
        FeatureSeries { label: adjusted, f0_hz: &f.f0_hz, loudness_db: &f.loudness_db, confidence: None },
    ];
    let name = args.input.file_name().map_or_else(|| "recording".into(), |n| n.to_string_lossy().into_owned());
    write_features_plot(&plot, &format!("{name}: original and adjusted features"), f.frame_rate_hz, &series)?;
    eprintln!(
        "wrote {} ({:.1} s), {} and {}",
        summary.wav.display(),
        summary.duration_s,
        summary.csv.display(),
        plot.display()
    );
    Ok(())
}

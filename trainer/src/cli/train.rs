//! `ddsp train <audio files or folders> --out runs/NAME`: learn a DDSP model of an instrument,
//! then export its envelopes, previews, CSV and report (SPEC §6).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use burn::config::Config;

use ddsp_trainer::train::config::{Preset, TrainConfig};
use ddsp_trainer::train::data::{collect_audio_files, load_sources, Dataset};
use ddsp_trainer::train::device::{select, DeviceChoice};
use ddsp_trainer::train::export::{export_run, ExportOptions};
use ddsp_trainer::train::inference::Instrument;
use ddsp_trainer::train::inputs::{check_same_inputs, read_inputs, write_inputs, RunInput};
use ddsp_trainer::train::instrument_file::write_instrument_file;
use ddsp_trainer::train::training::{checkpoint_step, train, RunPaths, TrainOptions};

use super::export::CsvArgs;

/// Learn a DDSP model (harmonics + filtered noise) from recordings of one instrument.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Trains, then exports per input file the .npz envelopes, preview WAVs and unified CSVs under
OUT/export/NAME/, with report.md. Ctrl-C saves a checkpoint; --resume goes on from it.
Presets, options and speed: docs/TRAINING.md.

Examples:
  ddsp train examples/violin_phrase_44k.wav --out runs/violin
  ddsp train my_cello/ --out runs/cello --steps 3000 --reverb
  ddsp train my_cello/ --out runs/cello --resume")]
pub struct Args {
    /// Audio files (WAV, AIFF, FLAC, MP3, Ogg Vorbis, M4A, ...), or folders searched for them.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Run folder: model, checkpoints, loss log and plot, exports.
    #[arg(long)]
    pub out: PathBuf,
    /// Starting sizes: `quick` (minutes, on a CPU or a GPU) or `full` (DDSP's solo instrument:
    /// 30000 steps of a model 4x wider at 250 frames/s, a job of hours).
    #[arg(long, value_enum, default_value = "quick")]
    pub preset: Preset,
    /// Where to train.
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
    /// Continue the run in `--out` from its last checkpoint (step count, optimiser state and
    /// data order continue; the saved configuration is used, `--steps` may raise the total).
    #[arg(long)]
    pub resume: bool,
    /// Total optimiser steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Width of the MLPs and size of the GRU.
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Examples per step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Control frames per second (the sample rate must be a multiple of it).
    #[arg(long)]
    pub frame_rate: Option<u32>,
    /// Model audio rate, Hz (16000 default; 44100/48000 scale the loss's FFT sizes).
    #[arg(long)]
    pub sample_rate: Option<u32>,
    /// Length of a training example, seconds.
    #[arg(long)]
    pub example_s: Option<f64>,
    /// Hop between examples, seconds.
    #[arg(long)]
    pub example_hop_s: Option<f64>,
    /// Initial Adam learning rate.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Steps between checkpoints.
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Seed of weights, data order and noise: the same seed gives the same run.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Learn a room reverb too: keeps room sound out of the envelopes (which stay dry) and
    /// writes the room as room_ir.wav in the run folder.
    #[arg(long)]
    pub reverb: bool,
    /// Length of the learned room with --reverb, seconds (up to 4; default 1).
    #[arg(long, requires = "reverb")]
    pub reverb_s: Option<f64>,
    /// Examples never louder than this (dB, A-weighted) are skipped as silent.
    #[arg(long)]
    pub silence_db: Option<f64>,
    /// Stop after training: write no envelopes, previews or CSV (run `ddsp export` later).
    #[arg(long)]
    pub no_export: bool,
    /// With --resume: go on training the run's model on other recordings than it started
    /// with (without it, --resume refuses inputs whose names or contents differ).
    #[arg(long, requires = "resume")]
    pub new_inputs: bool,
    #[command(flatten)]
    pub csv: CsvArgs,
}

impl Args {
    fn config(&self) -> TrainConfig {
        // The same default on a GPU as on a CPU, so the quick start stays quick everywhere;
        // `full` is asked for by name (GPU speed has not been measured).
        let mut c = TrainConfig::preset(self.preset);
        macro_rules! set {
            ($($field:ident <- $arg:ident),*) => {$( if let Some(v) = self.$arg { c.$field = v; } )*};
        }
        set!(steps <- steps, hidden <- hidden, batch_size <- batch_size, frame_rate_hz <- frame_rate,
             sample_rate_hz <- sample_rate, example_s <- example_s, example_hop_s <- example_hop_s,
             learning_rate <- learning_rate, checkpoint_every <- checkpoint_every, seed <- seed,
             silence_db <- silence_db, reverb_s <- reverb_s);
        c.reverb |= self.reverb;
        c
    }
}

/// Files whose presence marks a folder as a run folder (what a run writes first).
const RUN_MARKERS: [&str; 3] = ["config.json", "inputs.json", "features.cache"];

/// Runs `ddsp train`. A run folder this command created is removed again when the run fails
/// before its first checkpoint, so a typo or a bad file leaves nothing behind.
pub fn run(args: Args) -> anyhow::Result<()> {
    let created = !args.out.exists();
    let result = train_run(&args);
    if let Err(err) = &result {
        let paths = RunPaths::new(&args.out);
        if created && !err.is::<super::Interrupted>() && !paths.checkpoint().exists() {
            let _ = std::fs::remove_dir_all(&args.out);
        }
    }
    result
}

/// Fails unless `out` is a place a new run may be written: absent, empty, or a run folder
/// without a model (one whose first run failed early).
fn check_new_run_folder(out: &std::path::Path, paths: &RunPaths) -> anyhow::Result<()> {
    if paths.checkpoint().exists() {
        bail!("{} already holds a trained model; continue it with --resume or choose another --out", out.display());
    }
    if out.exists() && !out.is_dir() {
        bail!("--out {} is a file; give a folder for the run", out.display());
    }
    let Ok(entries) = std::fs::read_dir(out) else { return Ok(()) };
    let names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    if !names.is_empty() && !names.iter().any(|n| RUN_MARKERS.contains(&n.as_str())) {
        bail!(
            "--out {} is a folder with other files in it ({} entries, such as {}); a run writes many files: \
             give a new or empty folder",
            out.display(),
            names.len(),
            names[0]
        );
    }
    Ok(())
}

fn train_run(args: &Args) -> anyhow::Result<()> {
    let paths = RunPaths::new(&args.out);
    let config = if args.resume {
        let mut c = TrainConfig::load(paths.config())
            .map_err(|e| anyhow::anyhow!("--resume: cannot read {}: {e}", paths.config().display()))?;
        if let Some(steps) = args.steps {
            c.steps = steps;
        }
        let done = checkpoint_step(&paths)?;
        if done >= c.steps {
            bail!(
                "--resume: {} has already trained {done} of {} steps; give --steps above {done} to train further",
                args.out.display(),
                c.steps
            );
        }
        c
    } else {
        check_new_run_folder(&args.out, &paths)?;
        args.config()
    };
    config.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let files = collect_audio_files(&args.inputs)?;
    let inputs = files.iter().map(|f| RunInput::of(f)).collect::<anyhow::Result<Vec<_>>>()?;
    if args.resume && !args.new_inputs {
        check_same_inputs(&read_inputs(&paths.inputs())?, &inputs)?;
    }
    let selected = select(args.device)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let cached = paths.feature_cache().exists();
    let sources = load_sources(&files, &config, &paths.feature_cache(), |f| {
        eprintln!("analysing {}", f.display());
    })?;
    if cached {
        eprintln!("features: reusing {}", paths.feature_cache().display());
    }
    let dataset = Dataset::from_sources(&config, sources)?;
    write_inputs(&paths.inputs(), &inputs)?;
    eprintln!(
        "training on {} ({} examples of {} s from {} file(s); preset {}: GRU {}, {} frames/s, batch {}, {} steps)",
        selected.description,
        dataset.examples.len(),
        config.example_s,
        files.len(),
        config.preset.name(),
        config.hidden,
        config.frame_rate_hz,
        config.batch_size,
        config.steps
    );
    if !args.resume {
        eprintln!("{}", config.preset.other_choice());
    }

    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    // A second Ctrl-C stops at once (the last checkpoint stays).
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            ddsp_shared::atomic_file::remove_pending_temporaries();
            std::process::exit(i32::from(super::INTERRUPTED_EXIT_STATUS));
        }
        eprintln!("\nstopping after this step and writing a checkpoint (Ctrl-C again to quit now)");
    });
    let options = TrainOptions { resume: args.resume, progress: true, interrupt };
    let outcome = train(&config, &dataset, &paths, &selected.device, &options)?;
    if outcome.steps_this_run > 0 {
        let per_step = outcome.seconds_this_run / outcome.steps_this_run as f64;
        eprintln!(
            "{} steps in {:.1} s ({per_step:.3} s/step, {:.2} steps/s); step {}/{}, last loss {:.4}",
            outcome.steps_this_run,
            outcome.seconds_this_run,
            1.0 / per_step,
            outcome.step,
            config.steps,
            outcome.last_loss.unwrap_or(f32::NAN)
        );
    }
    if outcome.interrupted && !paths.checkpoint().exists() {
        eprintln!("interrupted before the first step: nothing was trained, so there is nothing to resume");
        return Err(super::Interrupted.into());
    }
    if outcome.interrupted {
        eprintln!(
            "interrupted at step {}: checkpoint written to {}; continue with `ddsp train {} --out {} --resume`",
            outcome.step,
            paths.checkpoint().display(),
            args.inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" "),
            args.out.display()
        );
        return Err(super::Interrupted.into());
    }
    if args.no_export {
        // The playable instrument is written at the end of every finished run; the export
        // (which writes it too) can follow later.
        let instrument = Instrument::load(&paths)?;
        let path = write_instrument_file(&paths, &instrument, &dataset.sources)?;
        eprintln!("instrument: {}", path.display());
        return Ok(());
    }
    let export = ExportOptions { csv: args.csv.to_options() };
    let written = export_run(&paths, &files, &export)?;
    eprintln!("{written}");
    Ok(())
}

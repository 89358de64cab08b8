//! `ddsp analyze`: a unified CSV straight from a recording, without training (SMS-style
//! harmonic + noise analysis; see [`ddsp_trainer::analyze`]).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{ensure, Context};

use ddsp_shared::render::offline::{render_offline, OfflineLength};
use ddsp_shared::render::{RenderParams, DEFAULT_SEED};
use ddsp_trainer::analyze::{analyze, AnalysisConfig};
use ddsp_trainer::audio::decode::{read_audio_mono, require_min_len};
use ddsp_trainer::audio::resample::resample;
use ddsp_trainer::features::f0::{estimate_f0_on_grid, F0Config};
use ddsp_trainer::features::frames::FrameGrid;
use ddsp_trainer::features::loudness::{loudness_fft_size, loudness_on_grid};
use ddsp_trainer::plots::beside;
use ddsp_trainer::plots::features::{write_features_plot, FeatureSeries};
use ddsp_trainer::plots::spectrogram::{write_spectrogram_plot, Signal};
use ddsp_trainer::tools::io::refuse_to_overwrite_inputs;

/// Frame rate used when `--frame-rate` is not given: DDSP's 250 Hz, rounded to a whole hop.
const DEFAULT_FRAME_RATE_HZ: f64 = 250.0;
/// Most harmonics or noise bands accepted (beyond this a CSV is enormous and the top partials
/// of any real recording are below Nyquist anyway).
const MAX_COMPONENTS: usize = 1000;

/// Analyse a recording into a unified CSV of harmonic and noise-band envelopes (no training).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ddsp analyze examples/violin_phrase_44k.wav -o violin.csv
  ddsp analyze examples/violin_phrase_44k.wav -o violin.csv --plot   (also violin_features.png, violin_spectrogram.png)
  ddsp analyze take.flac -o take.csv --harmonics 40 --noise-bands 16 --frame-rate 30   (a small file)
  ddsp analyze voice.mp3 -o voice.csv --sample-rate 16000 --f0-min 70 --f0-max 600

Then `ddsp render violin.csv -o violin_resynth.wav` plays it back and
`ddsp eval --reference examples/violin_phrase_44k.wav --candidate violin_resynth.wav` scores it.")]
pub struct Args {
    /// Recording to analyse: WAV, AIFF, FLAC, MP3, Ogg Vorbis, M4A (AAC/ALAC) and more, any
    /// number of channels (mixed down to mono), any rate.
    pub input: PathBuf,
    /// Unified CSV to write (replaced atomically; nothing is written on error).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Harmonics per frame.
    #[arg(long, default_value_t = 60)]
    pub harmonics: usize,
    /// Noise bands per frame, spread linearly from 0 Hz to Nyquist.
    #[arg(long, default_value_t = 65)]
    pub noise_bands: usize,
    /// Frames per second; the analysis sample rate must be a whole multiple of it. Without it,
    /// the whole hop nearest 250 Hz is used (176 samples = 250.57 Hz at 44.1 kHz, as the
    /// original exporter wrote).
    #[arg(long)]
    pub frame_rate: Option<f64>,
    /// Sample rate to analyse at, Hz (the recording is resampled first). By default the file's
    /// own rate is kept, so the whole bandwidth survives.
    #[arg(long)]
    pub sample_rate: Option<u32>,
    /// Lowest f0 searched, Hz.
    #[arg(long, default_value_t = 50.0)]
    pub f0_min: f32,
    /// Highest f0 searched, Hz.
    #[arg(long, default_value_t = 2000.0)]
    pub f0_max: f32,
    /// Also write two plots beside the CSV: OUT_features.png (f0 as MIDI pitch and Hz,
    /// loudness, f0 confidence) and OUT_spectrogram.png (the recording above the CSV's render).
    #[arg(long)]
    pub plot: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    refuse_to_overwrite_inputs(&[&args.input], &args.output)?;
    ensure!(
        (1..=MAX_COMPONENTS).contains(&args.harmonics),
        "--harmonics must be between 1 and {MAX_COMPONENTS}, got {}",
        args.harmonics
    );
    ensure!(
        (1..=MAX_COMPONENTS).contains(&args.noise_bands),
        "--noise-bands must be between 1 and {MAX_COMPONENTS}, got {}",
        args.noise_bands
    );
    ensure!(
        args.f0_min > 0.0 && args.f0_min < args.f0_max,
        "--f0-min ({}) must be positive and below --f0-max ({})",
        args.f0_min,
        args.f0_max
    );
    let started = Instant::now();
    let (samples, file_rate) = read_audio_mono(&args.input)?;
    let rate = args.sample_rate.unwrap_or(file_rate);
    ensure!(rate >= 1000, "--sample-rate must be at least 1000 Hz, got {rate}");
    let grid = match args.frame_rate {
        Some(fr) => FrameGrid::new(rate, fr)
            .with_context(|| format!("cannot analyse {} at {fr} frames per second", args.input.display()))?,
        None => FrameGrid::nearest(rate, DEFAULT_FRAME_RATE_HZ)?,
    };
    let samples = resample(&samples, file_rate, rate)
        .with_context(|| format!("cannot resample {} to {rate} Hz", args.input.display()))?;
    let config = AnalysisConfig {
        harmonic_count: args.harmonics,
        noise_band_count: args.noise_bands,
        f0: F0Config { min_hz: args.f0_min, max_hz: args.f0_max },
    };
    require_min_len(&args.input, samples.len(), rate, ddsp_trainer::analyze::min_samples(rate, &config))?;

    let duration_s = samples.len() as f64 / f64::from(rate);
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("analysing {bar:40} {pos}/{len} frames ({eta} left)")
            .expect("valid template"),
    );
    if duration_s < 10.0 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let envelope = analyze(&samples, &grid, &config, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    envelope
        .validate()
        .map_err(|e| anyhow::anyhow!("the analysis of {} produced an invalid envelope: {e}", args.input.display()))?;
    ddsp_shared::unified_csv::write_path(&envelope, &args.output)?;
    let elapsed = started.elapsed().as_secs_f64();
    if args.plot {
        let written = write_plots(&args, &samples, rate, &grid, &config, &envelope)?;
        eprintln!("plots: {} and {}", written.0.display(), written.1.display());
    }
    let voiced = (0..envelope.frame_count()).filter(|&i| envelope.harmonic_amps(i).iter().any(|a| *a > 0.0)).count();
    eprintln!(
        "{}: {:.2} s at {} Hz -> {} frames at {:.3} Hz ({} voiced), {} harmonics, {} noise bands; \
         wrote {} in {:.2} s ({:.0}x real time)",
        args.input.display(),
        duration_s,
        rate,
        envelope.frame_count(),
        envelope.frame_rate_hz,
        voiced,
        args.harmonics,
        args.noise_bands,
        args.output.display(),
        elapsed,
        duration_s / elapsed.max(1e-9),
    );
    if let Some(note) = harmonics_reach_note(&envelope, args.harmonics, rate) {
        eprintln!("{note}");
    }
    Ok(())
}

/// How high the partials of low notes should reach before the rest may be left to the noise
/// bands: DDSP's model band (8 kHz), or Nyquist below that.
const PARTIALS_WANTED_UP_TO_HZ: f32 = 8000.0;

/// A note for recordings whose lowest notes (5th percentile of voiced f0) run out of harmonics
/// well below [`PARTIALS_WANTED_UP_TO_HZ`]: the partials above the last harmonic are measured
/// as noise (a low cello's 60th harmonic is at 3.9 kHz), so it names the `--harmonics` that
/// would keep them. `None` when the harmonics reach three quarters of the way or more.
fn harmonics_reach_note(envelope: &ddsp_shared::Envelope, harmonics: usize, rate: u32) -> Option<String> {
    let mut voiced_f0: Vec<f32> = (0..envelope.frame_count())
        .filter(|&i| envelope.harmonic_amps(i).iter().any(|a| *a > 0.0))
        .map(|i| envelope.f0_hz[i])
        .collect();
    voiced_f0.sort_by(f32::total_cmp);
    let low_hz = *voiced_f0.get(voiced_f0.len() / 20)?;
    let top_hz = PARTIALS_WANTED_UP_TO_HZ.min(rate as f32 / 2.0);
    let reach_hz = low_hz * harmonics as f32;
    if reach_hz >= 0.75 * top_hz || low_hz <= 0.0 {
        return None;
    }
    let wanted = ((top_hz / low_hz).floor() as usize).min(ddsp_shared::render::MAX_HARMONICS);
    Some(format!(
        "note: on its lowest notes (about {low_hz:.0} Hz) {harmonics} harmonics reach {:.1} kHz; the partials \
         above are measured as noise. --harmonics {wanted} keeps them as partials up to {:.1} kHz (a larger CSV).",
        reach_hz / 1000.0,
        (wanted as f32 * low_hz).min(top_hz) / 1000.0
    ))
}

/// The features and spectrogram plots of `--plot`, beside the CSV.
fn write_plots(
    args: &Args,
    samples: &[f32],
    rate: u32,
    grid: &FrameGrid,
    config: &AnalysisConfig,
    envelope: &ddsp_shared::Envelope,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let name = args.input.file_name().map_or_else(|| "recording".into(), |n| n.to_string_lossy().into_owned());
    let track = estimate_f0_on_grid(samples, grid, &config.f0);
    let loudness = loudness_on_grid(samples, grid, loudness_fft_size(rate));
    let series = [FeatureSeries {
        label: "analysis",
        f0_hz: &track.f0_hz,
        loudness_db: &loudness,
        confidence: Some(&track.confidence),
    }];
    let features = beside(&args.output, "features");
    write_features_plot(&features, &format!("{name}: f0, loudness, f0 confidence"), grid.frame_rate_hz(), &series)?;
    let params = RenderParams::default();
    let render = render_offline(envelope, &params, rate as f32, DEFAULT_SEED, OfflineLength::Window);
    let signals =
        [Signal { label: "recording", samples }, Signal { label: "render of the analysed CSV", samples: &render }];
    let spectrogram = beside(&args.output, "spectrogram");
    write_spectrogram_plot(&spectrogram, &format!("{name}: recording and resynthesis"), rate, &signals)?;
    Ok((features, spectrogram))
}

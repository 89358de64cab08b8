//! `ddsp render <in.csv> -o <out.wav>`: plays a unified CSV through the shared renderer
//! (SPEC §4) with every transform as a flag, and writes a WAV.

use std::ops::RangeInclusive;
use std::path::PathBuf;

use anyhow::{bail, Context};
use ddsp_shared::envelope::MAX_DURATION_S;
use ddsp_shared::render::offline::{OfflineLength, OfflineRender, OFFLINE_BLOCK_SAMPLES};
use ddsp_shared::render::{self, AnchorMode, BounceParams, RenderParams};
use ddsp_trainer::tools::io::refuse_to_overwrite_inputs;
use ddsp_trainer::wav_io::{write_wav_streaming, WavSampleFormat};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Renders longer than this show a progress bar (when stderr is a terminal), seconds of audio.
const PROGRESS_MIN_S: f64 = 30.0;
/// Allowed output sample rates, Hz.
const SAMPLE_RATE_RANGE: RangeInclusive<u32> = 8_000..=384_000;
/// Longest render, seconds: the longest an envelope may last (24 h).
const SECONDS_RANGE: RangeInclusive<f32> = 0.001..=MAX_DURATION_S as f32;

/// Anchor of the stretch, as spelled on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AnchorArg {
    /// The middle harmonic of the current frame.
    #[value(alias = "centre")]
    Center,
    /// The current frame's f0 (after pitch).
    F0,
    /// The frequency given by --anchor-hz.
    Hz,
}

/// The §4 transforms and levels as flags: shared by `ddsp render` and `ddsp play`.
#[derive(clap::Args, Debug, Clone)]
pub struct TransformArgs {
    /// Master pitch in steps of --tet (-48..=48; fractions allowed).
    #[arg(long, default_value_t = 0.0)]
    pub pitch: f32,
    /// Equal divisions of the octave that --pitch counts in (1..=96; 12 = semitones).
    #[arg(long, default_value_t = 12)]
    pub tet: u32,
    /// Spectral stretch around the anchor, f' = A * (f / A)^stretch (0.25..=4).
    #[arg(long, default_value_t = 1.0)]
    pub stretch: f32,
    /// Stretch anchor: centre partial, the frame's f0, or --anchor-hz [default: f0, or hz when
    /// --anchor-hz is given].
    #[arg(long, value_enum)]
    pub anchor: Option<AnchorArg>,
    /// Anchor frequency for --anchor hz, Hz (1..=20000).
    #[arg(long)]
    pub anchor_hz: Option<f32>,
    /// Bounce the stretch (on by itself when any --bounce-* flag is given).
    #[arg(long)]
    pub bounce: bool,
    /// Lowest stretch of the bounce (0.25..=4) [default: 0.5].
    #[arg(long)]
    pub bounce_min: Option<f32>,
    /// Highest stretch of the bounce (0.25..=4) [default: 2].
    #[arg(long)]
    pub bounce_max: Option<f32>,
    /// Bounce speed, Hz (0.01..=50) [default: 1].
    #[arg(long)]
    pub bounce_speed: Option<f32>,
    /// Random deviation of bounce speed and depth per cycle (0..=1) [default: 0].
    #[arg(long)]
    pub bounce_jitter: Option<f32>,
    /// Bounce duration, seconds; 0 = the whole render (0..=3600) [default: 0].
    #[arg(long)]
    pub bounce_duration: Option<f32>,
    /// Gain of the harmonics (0..=4).
    #[arg(long, default_value_t = 1.0)]
    pub harmonic_volume: f32,
    /// Gain on every harmonic amplitude (0..=16).
    #[arg(long, default_value_t = 1.0)]
    pub partial_gain: f32,
    /// Gain of the noise (0..=4).
    #[arg(long, default_value_t = 1.0)]
    pub noise_volume: f32,
    /// Scale of every noise band magnitude (0..=16).
    #[arg(long, default_value_t = 1.0)]
    pub noise_scale: f32,
    /// Control smoothing time constant, ms (0..=2000).
    #[arg(long, default_value_t = 20.0)]
    pub smoothing_ms: f32,
}

/// Render a unified CSV to a WAV, with pitch, stretch, bounce, level and playback controls.
#[derive(clap::Args, Debug)]
#[command(
    allow_negative_numbers = true,
    after_help = "Examples:
  ddsp render examples/violin_phrase_44k.csv -o violin.wav
  ddsp render violin.csv -o fifth_up.wav --sample-rate 44100 --pitch 7 --stretch 1.5
  ddsp render violin.csv -o bells.wav --tet 19 --pitch 3 --anchor f0 --stretch 2.2 --format int24
  ddsp render violin.csv -o bounce.wav --bounce-min 0.5 --bounce-max 2.5 --bounce-speed 0.5
  ddsp render violin.csv -o drone.wav --start-frame 500 --frame-count 100 --loop --seconds 20"
)]
pub struct Args {
    /// Unified CSV to play.
    pub input: PathBuf,
    /// WAV to write (replaced atomically; nothing is written on error).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Output sample rate, Hz [default: 48000].
    #[arg(long)]
    pub sample_rate: Option<u32>,
    /// Pitch, TET, stretch, anchor, bounce and levels.
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Playback rate: 1 = as recorded, 0.5 = half speed, 0 = freeze, negative = backwards
    /// (-8..=8).
    #[arg(long, default_value_t = 1.0)]
    pub rate: f32,
    /// First frame to play (counting the frames in the file from 0).
    #[arg(long, default_value_t = 0)]
    pub start_frame: usize,
    /// Frames to play; 0 = to the end.
    #[arg(long, default_value_t = 0)]
    pub frame_count: usize,
    /// Repeat the window (needs --seconds).
    #[arg(long = "loop")]
    pub looping: bool,
    /// Move through frames in steps N times a second, like the original's clock; 0 =
    /// continuous (0..=2000).
    #[arg(long, default_value_t = 0.0)]
    pub update_rate: f32,
    /// Length of the output, seconds; with --loop the window repeats to fill it, without it the
    /// sound plays once and silence follows [default: one pass of the window].
    #[arg(long)]
    pub seconds: Option<f32>,
    /// Seed of the noise and the bounce jitter (the same seed renders the same file).
    #[arg(long, default_value_t = render::DEFAULT_SEED)]
    pub seed: u64,
    /// Sample format of the WAV.
    #[arg(long, value_enum, default_value = "float")]
    pub format: WavSampleFormat,
}

/// Fails unless `--sample-rate` is one the renderer plays at (`render`, `play`, `grow`).
pub fn check_sample_rate(sample_rate_hz: u32) -> anyhow::Result<()> {
    if !SAMPLE_RATE_RANGE.contains(&sample_rate_hz) {
        bail!(
            "--sample-rate {sample_rate_hz} is out of range: allowed {}..={}",
            SAMPLE_RATE_RANGE.start(),
            SAMPLE_RATE_RANGE.end()
        );
    }
    Ok(())
}

/// Fails unless `value` is inside `range`, naming the flag and the range.
pub fn check(flag: &str, value: f32, range: RangeInclusive<f32>) -> anyhow::Result<()> {
    if !(value.is_finite() && range.contains(&value)) {
        bail!("{flag} {value} is out of range: allowed {}..={}", range.start(), range.end());
    }
    Ok(())
}

impl TransformArgs {
    /// The renderer's parameters, every flag checked against its range (the playback window
    /// and rate at their defaults).
    pub fn render_params(&self) -> anyhow::Result<RenderParams> {
        check("--pitch", self.pitch, render::PITCH_STEPS_RANGE)?;
        if !render::TET_SIZE_RANGE.contains(&self.tet) {
            bail!("--tet {} is out of range: allowed 1..=96", self.tet);
        }
        check("--stretch", self.stretch, render::STRETCH_RANGE)?;
        let anchor = match (self.anchor, self.anchor_hz) {
            (None, None) | (Some(AnchorArg::F0), None) => AnchorMode::FixedF0,
            (Some(AnchorArg::Center), None) => AnchorMode::CentrePartial,
            (None | Some(AnchorArg::Hz), Some(hz)) => {
                check("--anchor-hz", hz, render::ANCHOR_HZ_RANGE)?;
                AnchorMode::ManualHz
            }
            (Some(AnchorArg::Hz), None) => bail!("--anchor hz needs --anchor-hz <HZ>"),
            (Some(other), Some(_)) => {
                bail!("--anchor-hz only applies to --anchor hz, not --anchor {other:?}", other = other)
            }
        };
        let defaults = BounceParams::default();
        let bounce_flags =
            [self.bounce_min, self.bounce_max, self.bounce_speed, self.bounce_jitter, self.bounce_duration];
        let bounce = BounceParams {
            enabled: self.bounce || bounce_flags.iter().any(Option::is_some),
            min: self.bounce_min.unwrap_or(defaults.min),
            max: self.bounce_max.unwrap_or(defaults.max),
            speed_hz: self.bounce_speed.unwrap_or(defaults.speed_hz),
            jitter: self.bounce_jitter.unwrap_or(defaults.jitter),
            duration_s: self.bounce_duration.unwrap_or(defaults.duration_s),
        };
        check("--bounce-min", bounce.min, render::STRETCH_RANGE)?;
        check("--bounce-max", bounce.max, render::STRETCH_RANGE)?;
        if bounce.min > bounce.max {
            bail!("--bounce-min {} is above --bounce-max {}", bounce.min, bounce.max);
        }
        check("--bounce-speed", bounce.speed_hz, render::BOUNCE_SPEED_HZ_RANGE)?;
        check("--bounce-jitter", bounce.jitter, render::BOUNCE_JITTER_RANGE)?;
        check("--bounce-duration", bounce.duration_s, render::BOUNCE_DURATION_S_RANGE)?;
        check("--harmonic-volume", self.harmonic_volume, render::HARMONIC_VOLUME_RANGE)?;
        check("--partial-gain", self.partial_gain, render::PARTIAL_GAIN_RANGE)?;
        check("--noise-volume", self.noise_volume, render::NOISE_VOLUME_RANGE)?;
        check("--noise-scale", self.noise_scale, render::NOISE_MAGNITUDE_SCALE_RANGE)?;
        check("--smoothing-ms", self.smoothing_ms, render::SMOOTHING_MS_RANGE)?;
        Ok(RenderParams {
            pitch_steps: self.pitch,
            tet_size: self.tet,
            stretch: self.stretch,
            anchor,
            anchor_hz: self.anchor_hz.unwrap_or(RenderParams::default().anchor_hz),
            bounce,
            harmonic_volume: self.harmonic_volume,
            partial_gain: self.partial_gain,
            noise_volume: self.noise_volume,
            noise_magnitude_scale: self.noise_scale,
            smoothing_ms: self.smoothing_ms,
            ..RenderParams::default()
        })
    }
}

impl Args {
    /// The renderer's parameters, every flag checked against its range.
    fn render_params(&self) -> anyhow::Result<RenderParams> {
        let transform = self.transform.render_params()?;
        check("--rate", self.rate, render::PLAYBACK_RATE_RANGE)?;
        check("--update-rate", self.update_rate, render::UPDATE_RATE_HZ_RANGE)?;
        Ok(RenderParams {
            start_frame: self.start_frame,
            frame_count: self.frame_count,
            looping: self.looping,
            playback_rate: self.rate,
            update_rate_hz: self.update_rate,
            ..transform
        })
    }
}

/// Rendered blocks waiting to be written, at most (the memory stays a few blocks).
const BLOCKS_IN_FLIGHT: usize = 4;

/// Runs `ddsp render`.
pub fn run(args: Args) -> anyhow::Result<()> {
    // Check every flag before the (possibly long) read.
    refuse_to_overwrite_inputs(&[&args.input], &args.output)?;
    let params = args.render_params()?;
    let sample_rate_hz = args.sample_rate.unwrap_or(48_000);
    check_sample_rate(sample_rate_hz)?;
    if let Some(seconds) = args.seconds {
        check("--seconds", seconds, SECONDS_RANGE)?;
    } else if args.looping {
        bail!("--loop repeats the window forever: give --seconds to say how long to render");
    } else if args.rate == 0.0 {
        bail!("--rate 0 freezes playback forever: give --seconds to say how long to render");
    }

    let envelope = ddsp_shared::unified_csv::read_path(&args.input)?;
    let frames = envelope.frame_count();
    if args.start_frame >= frames {
        bail!(
            "--start-frame {} is out of range: {} has {frames} frames (0..={})",
            args.start_frame,
            args.input.display(),
            frames.saturating_sub(1)
        );
    }

    // Length: exactly --seconds, else one pass of the window at the rate plus a release.
    let sr = sample_rate_hz as f64;
    let length = match args.seconds {
        Some(seconds) => OfflineLength::Samples((seconds as f64 * sr).round() as usize),
        None => OfflineLength::Window,
    };
    let render = OfflineRender::new(&envelope, &params, sample_rate_hz as f32, args.seed, length);
    let estimated_samples = render.estimated_samples();
    let estimated_s = estimated_samples as f64 / sr;
    if estimated_s > MAX_DURATION_S {
        bail!(
            "--rate {} plays {} for {:.1} hours; a render lasts at most {} hours: give --seconds to render part of it",
            args.rate,
            args.input.display(),
            estimated_s / 3600.0,
            MAX_DURATION_S / 3600.0
        );
    }

    // Streamed to disk block by block: memory stays a few blocks whatever the length, and
    // the progress bar moves from the first block.
    let progress = if estimated_s >= PROGRESS_MIN_S {
        let bar = ProgressBar::with_draw_target(Some(estimated_samples as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("rendering {bar:40} {percent:>3}% ({eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    // The synthesis runs on a second thread while this one encodes and writes the blocks it
    // has finished (a few blocks in flight, their buffers handed back and reused).
    let mut render = render;
    write_wav_streaming(&args.output, sample_rate_hz, args.format, |stream| {
        std::thread::scope(|scope| {
            let (finished, finished_blocks) = std::sync::mpsc::sync_channel::<(Vec<f32>, usize)>(BLOCKS_IN_FLIGHT);
            let (free, free_blocks) = std::sync::mpsc::channel::<Vec<f32>>();
            for _ in 0..BLOCKS_IN_FLIGHT {
                let _ = free.send(vec![0.0f32; OFFLINE_BLOCK_SAMPLES]);
            }
            scope.spawn(move || {
                // Ends at the end of the render, or when the writer stops (an error).
                while let Ok(mut block) = free_blocks.recv() {
                    let n = render.next_block(&mut block);
                    if n == 0 || finished.send((block, n)).is_err() {
                        break;
                    }
                }
            });
            for (block, n) in finished_blocks {
                stream.write(&block[..n])?;
                progress.inc(n as u64);
                let _ = free.send(block);
            }
            Ok(())
        })
    })
    .with_context(|| format!("rendering {}", args.input.display()))?;
    progress.finish_and_clear();
    Ok(())
}

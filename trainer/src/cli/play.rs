//! `ddsp play --run RUN song.mid -o song.wav`: renders a standard MIDI file through a trained
//! model with the plugin's voices (SPEC §9): polyphony, velocity, pitch bend, the ADSR, and
//! every §4 transform.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ddsp_shared::instrument::InstrumentFile;
use ddsp_shared::voices::{AdsrSettings, NoteSettings, MAX_ADSR_TIME_MS, MAX_VOICES};
use ddsp_trainer::play::{first_overlap, key_name, play, read_midi_file, MidiEventKind, PlayOptions};
use ddsp_trainer::tools::io::refuse_to_overwrite_inputs;
use ddsp_trainer::wav_io::{write_wav, WavSampleFormat};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::render::{check, check_sample_rate, TransformArgs};

/// Play a MIDI file through a trained model (the plugin's Model mode, offline).
#[derive(clap::Args, Debug)]
#[command(
    allow_negative_numbers = true,
    after_help = "Examples:
  ddsp play --run runs/violin examples/midi/melody.mid -o melody.wav
  ddsp play --model violin.ddsp song.mid -o song.wav --tet 19 --stretch 1.1 --release-ms 400
  ddsp play --run runs/violin examples/midi/melody.mid -o melody.wav --csv melody.csv   (monophonic files)

Keys step by one step of --tet from --root-note, which sounds at its MIDI pitch (A4 = 440 Hz);
--semitone-keys keeps keys in semitones. Velocity and the ADSR move the model's loudness inside
the loudness range it was trained on (docs/PLUGIN.md, \"Model mode\")."
)]
pub struct Args {
    /// Standard MIDI file (format 0 or 1) to play.
    pub input: PathBuf,
    /// WAV to write (replaced atomically; nothing is written on error).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Run folder of `ddsp train`: plays RUN/instrument.ddsp.
    #[arg(long, conflicts_with = "model", required_unless_present = "model")]
    pub run: Option<PathBuf>,
    /// Instrument file to play (instead of --run).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Also write the envelope the model sang as a unified CSV (the file must be monophonic).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Output sample rate, Hz.
    #[arg(long, default_value_t = 48_000)]
    pub sample_rate: u32,
    /// Pitch, TET, stretch, anchor, bounce and levels.
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Key that sounds at its own MIDI pitch; the others are key steps from it (0..=127).
    #[arg(long, default_value_t = 60)]
    pub root_note: i32,
    /// Keys step in semitones whatever --tet is (by default a key is one step of --tet).
    #[arg(long)]
    pub semitone_keys: bool,
    /// How much velocity moves the loudness: 0 = every note at full velocity, 1 = fully (0..=1).
    #[arg(long, default_value_t = 1.0)]
    pub velocity_sensitivity: f32,
    /// Pitch-bend range, key steps (0..=48).
    #[arg(long, default_value_t = 2.0)]
    pub bend_range: f32,
    /// Most notes at once; more steal the oldest (1..=16).
    #[arg(long, default_value_t = MAX_VOICES)]
    pub voices: usize,
    /// Attack, decay, sustain, release.
    #[command(flatten)]
    pub adsr: AdsrArgs,
    /// Sample format of the WAV.
    #[arg(long, value_enum, default_value = "float")]
    pub format: WavSampleFormat,
}

/// The ADSR as flags, with the plugin's defaults: shared by `ddsp play` and `ddsp grow`.
#[derive(clap::Args, Debug, Clone)]
pub struct AdsrArgs {
    /// Attack time, ms.
    #[arg(long, default_value_t = AdsrSettings::default().attack_ms)]
    pub attack_ms: f32,
    /// Decay time, ms.
    #[arg(long, default_value_t = AdsrSettings::default().decay_ms)]
    pub decay_ms: f32,
    /// Sustain level (0..=1).
    #[arg(long, default_value_t = AdsrSettings::default().sustain)]
    pub sustain: f32,
    /// Release time, ms.
    #[arg(long, default_value_t = AdsrSettings::default().release_ms)]
    pub release_ms: f32,
}

impl AdsrArgs {
    /// The settings, after checking every time and the sustain level against their ranges.
    pub fn settings(&self) -> anyhow::Result<AdsrSettings> {
        for (flag, ms) in
            [("--attack-ms", self.attack_ms), ("--decay-ms", self.decay_ms), ("--release-ms", self.release_ms)]
        {
            check(flag, ms, 0.0..=MAX_ADSR_TIME_MS)?;
        }
        check("--sustain", self.sustain, 0.0..=1.0)?;
        Ok(AdsrSettings {
            attack_ms: self.attack_ms,
            decay_ms: self.decay_ms,
            sustain: self.sustain,
            release_ms: self.release_ms,
        })
    }
}

impl Args {
    fn options(&self) -> anyhow::Result<PlayOptions> {
        let render = self.transform.render_params()?;
        check_sample_rate(self.sample_rate)?;
        if !(0..=127).contains(&self.root_note) {
            bail!("--root-note {} is out of range: allowed 0..=127", self.root_note);
        }
        if !(1..=MAX_VOICES).contains(&self.voices) {
            bail!("--voices {} is out of range: allowed 1..={MAX_VOICES}", self.voices);
        }
        check("--velocity-sensitivity", self.velocity_sensitivity, 0.0..=1.0)?;
        check("--bend-range", self.bend_range, 0.0..=48.0)?;
        Ok(PlayOptions {
            sample_rate_hz: self.sample_rate,
            render,
            adsr: self.adsr.settings()?,
            notes: NoteSettings {
                root_note: self.root_note,
                divisions_per_octave: if self.semitone_keys { 12 } else { render.tet_size },
                velocity_sensitivity: self.velocity_sensitivity,
                voice_count: self.voices,
            },
            bend_range_steps: self.bend_range,
            record_envelope: self.csv.is_some(),
        })
    }
}

/// The instrument file `--model FILE` names, or the one in `--run RUN`.
pub fn instrument_path(run: Option<&Path>, model: Option<&Path>) -> anyhow::Result<PathBuf> {
    match (model, run) {
        (Some(model), _) => Ok(model.to_path_buf()),
        (None, Some(run)) => {
            let path = run.join("instrument.ddsp");
            if !path.exists() {
                bail!(
                    "{} has no instrument.ddsp: train it to the end, or write one with `ddsp export --run {}`",
                    run.display(),
                    run.display()
                );
            }
            Ok(path)
        }
        (None, None) => bail!("give --run RUN or --model FILE"),
    }
}

/// Runs `ddsp play`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let options = args.options()?;
    let model_path = instrument_path(args.run.as_deref(), args.model.as_deref())?;
    refuse_to_overwrite_inputs(&[&args.input, &model_path], &args.output)?;
    if let Some(csv) = &args.csv {
        refuse_to_overwrite_inputs(&[&args.input, &model_path, &args.output], csv)?;
    }
    let model = InstrumentFile::read_path(&model_path)?;
    let events = read_midi_file(&args.input)?;
    if let (Some(csv), Some((time_s, a, b))) = (&args.csv, first_overlap(&events)) {
        bail!(
            "--csv {} needs a monophonic MIDI file, but {} and {} sound together at {time_s:.3} s",
            csv.display(),
            key_name(a),
            key_name(b)
        );
    }
    let notes = events.iter().filter(|e| matches!(e.kind, MidiEventKind::NoteOn { .. })).count();
    let song_s = events.last().map_or(0.0, |e| e.time_s);
    let bar = if song_s >= 30.0 {
        let bar = ProgressBar::with_draw_target(Some((song_s * 1000.0) as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("playing {bar:40} {percent:>3}% ({eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let played = play(&model, &events, &options, |done_s| bar.set_position((done_s * 1000.0) as u64));
    bar.finish_and_clear();

    let peak = played.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > 1.0 {
        eprintln!(
            "warning: peak {:.1} dBFS{}; lower --harmonic-volume/--noise-volume",
            20.0 * peak.log10(),
            if args.format == WavSampleFormat::Int24 { " clipped in the 24-bit file" } else { " (above full scale)" }
        );
    }
    write_wav(&args.output, &played.samples, args.sample_rate, args.format)
        .with_context(|| format!("playing {}", args.input.display()))?;
    if let (Some(csv), Some(envelope)) = (&args.csv, &played.envelope) {
        ddsp_shared::unified_csv::write_path(envelope, csv)?;
    }
    eprintln!(
        "played {notes} note(s) of {} through {} ({} Hz model, {} frames/s) -> {} ({:.2} s)",
        args.input.display(),
        model.name,
        model.sample_rate_hz,
        model.frame_rate_hz,
        args.output.display(),
        played.samples.len() as f64 / args.sample_rate as f64
    );
    Ok(())
}

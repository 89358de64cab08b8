//! `ddsp grow --run RUN -o grown.wav`: discrete growing stages (see [`ddsp_trainer::grow`]): one
//! note again and again, each stage with more of its harmonics switched on.

use std::path::PathBuf;

use anyhow::{bail, Context};
use ddsp_shared::instrument::{hz_to_midi, midi_to_hz, InstrumentFile};
use ddsp_shared::render::offline::{render_offline, OfflineLength};
use ddsp_shared::render::{self, RenderParams};
use ddsp_shared::voices::NoteSettings;
use ddsp_shared::Envelope;
use ddsp_trainer::grow::{harmonic_counts, note_from_csv, parse_note, stage_envelope, Strategy};
use ddsp_trainer::play::{play, MidiEvent, MidiEventKind, PlayOptions};
use ddsp_trainer::tools::io::refuse_to_overwrite_inputs;
use ddsp_trainer::wav_io::{write_wav, WavSampleFormat};

use super::play::{instrument_path, AdsrArgs};
use super::render::{check, check_sample_rate, TransformArgs};

/// Most stages (a stage per harmonic of the largest model, and more for the capped strategies).
const MAX_STAGES: usize = 200;

/// Grow a timbre in stages: one note, each stage with more harmonics switched on.
#[derive(clap::Args, Debug)]
#[command(
    allow_negative_numbers = true,
    after_help = "Examples:
  ddsp grow --run runs/violin -o grown.wav
  ddsp grow --run runs/violin -o grown.wav --strategy fibonacci --stages 9 --note A3 --stage-s 1.5
  ddsp grow --csv-in examples/violin_phrase_44k.csv -o grown.wav --strategy exponential --stages 6 --f0 220
  ddsp grow --model violin.ddsp -o grown.wav --csv grown.csv --attack-ms 80 --release-ms 600

Stage k of N keeps the note's own amplitudes for its first n(k) harmonics and sets the others
to 0: linear n(k) = k/N of them, exponential 1, 2, 4, 8..., fibonacci 1, 2, 3, 5, 8...
(never more than the note has). The noise plays in every stage."
)]
pub struct Args {
    /// WAV to write (replaced atomically; nothing is written on error).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Run folder of `ddsp train`: sings RUN/instrument.ddsp.
    #[arg(long, conflicts_with_all = ["model", "csv_in"], required_unless_present_any = ["model", "csv_in"])]
    pub run: Option<PathBuf>,
    /// Instrument file to sing (instead of --run).
    #[arg(long, conflicts_with = "csv_in")]
    pub model: Option<PathBuf>,
    /// A unified CSV to grow instead of a model: its frames from the first, repeated to fill a
    /// stage, with the ADSR as a gain.
    #[arg(long)]
    pub csv_in: Option<PathBuf>,
    /// Also write the staged envelope as a unified CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// How many harmonics each stage switches on.
    #[arg(long, value_enum, default_value = "linear")]
    pub strategy: Strategy,
    /// Number of stages (1..=200).
    #[arg(long, default_value_t = 8)]
    pub stages: usize,
    /// Length of each stage's note, seconds, before its release (0.05..=60).
    #[arg(long, default_value_t = 2.0)]
    pub stage_s: f32,
    /// Silence between stages, seconds (0..=60).
    #[arg(long, default_value_t = 0.5)]
    pub silence_s: f32,
    /// The note to sing: a name (C4 = middle C, A4 = 440 Hz, F#3, Bb2) or a MIDI key
    /// [default: the model's median trained pitch; a CSV keeps its own pitch].
    #[arg(long, conflicts_with = "f0")]
    pub note: Option<String>,
    /// The note's f0, Hz (20..=8000), instead of --note.
    #[arg(long)]
    pub f0: Option<f32>,
    /// Velocity of the note, as MIDI counts it (1..=127); moves a model's loudness inside its
    /// trained range, as in the plugin.
    #[arg(long, default_value_t = 127)]
    pub velocity: u8,
    /// Attack, decay, sustain, release of every stage's note.
    #[command(flatten)]
    pub adsr: AdsrArgs,
    /// Pitch, TET, stretch, anchor, bounce and levels.
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Output sample rate, Hz.
    #[arg(long, default_value_t = 48_000)]
    pub sample_rate: u32,
    /// Seed of the noise and the bounce jitter.
    #[arg(long, default_value_t = render::DEFAULT_SEED)]
    pub seed: u64,
    /// Sample format of the WAV.
    #[arg(long, value_enum, default_value = "float")]
    pub format: WavSampleFormat,
}

/// Runs `ddsp grow`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if !(1..=MAX_STAGES).contains(&args.stages) {
        bail!("--stages {} is out of range: allowed 1..={MAX_STAGES}", args.stages);
    }
    check("--stage-s", args.stage_s, 0.05..=60.0)?;
    check("--silence-s", args.silence_s, 0.0..=60.0)?;
    if let Some(f0) = args.f0 {
        check("--f0", f0, 20.0..=8000.0)?;
    }
    if !(1..=127).contains(&args.velocity) {
        bail!("--velocity {} is out of range: allowed 1..=127", args.velocity);
    }
    check_sample_rate(args.sample_rate)?;
    let adsr = args.adsr.settings()?;
    let render = args.transform.render_params()?;
    let key = args.note.as_deref().map(parse_note).transpose()?;

    let input = match &args.csv_in {
        Some(csv) => csv.clone(),
        None => instrument_path(args.run.as_deref(), args.model.as_deref())?,
    };
    refuse_to_overwrite_inputs(&[&input], &args.output)?;
    if let Some(csv) = &args.csv {
        refuse_to_overwrite_inputs(&[&input, &args.output], csv)?;
    }

    let (note, params, source) = if args.csv_in.is_some() {
        let csv = ddsp_shared::unified_csv::read_path(&input)?;
        let f0 = args.f0.map(f64::from).or(key.map(|k| f64::from(midi_to_hz(f32::from(k)))));
        let note = note_from_csv(&csv, f64::from(args.stage_s), f0, &adsr)
            .with_context(|| format!("cannot make a note of {}", input.display()))?;
        (note, render, input.display().to_string())
    } else {
        let model = InstrumentFile::read_path(&input)?;
        let note = model_note(&model, &args, key, render, adsr)?;
        // The model already sang at the pitch asked for; the render adds only the rest.
        (note, RenderParams { pitch_steps: 0.0, ..render }, model.name.clone())
    };
    let counts = harmonic_counts(args.strategy, args.stages, audible_harmonics(&note));
    let staged = stage_envelope(&note, &counts, f64::from(args.silence_s))?;
    let samples = render_offline(&staged, &params, args.sample_rate as f32, args.seed, OfflineLength::Window);
    write_wav(&args.output, &samples, args.sample_rate, args.format).with_context(|| format!("growing {source}"))?;
    if let Some(csv) = &args.csv {
        ddsp_shared::unified_csv::write_path(&staged, csv)?;
    }
    let listed: Vec<String> = counts.iter().map(usize::to_string).collect();
    eprintln!(
        "grew {source} in {} stages ({:?}: {} harmonics) -> {} ({:.2} s)",
        counts.len(),
        args.strategy,
        listed.join(", "),
        args.output.display(),
        samples.len() as f64 / f64::from(args.sample_rate)
    );
    Ok(())
}

/// One held note of the model (its release included), recorded as the envelope it sang.
fn model_note(
    model: &InstrumentFile,
    args: &Args,
    key: Option<u8>,
    render: RenderParams,
    adsr: ddsp_shared::voices::AdsrSettings,
) -> anyhow::Result<Envelope> {
    // The key that sounds the f0 asked for (or the model's median trained pitch), and the
    // fraction of a step left over as master pitch, in steps of --tet.
    let f0_hz = match (args.f0, key) {
        (Some(f0), _) => f0,
        (None, Some(key)) => midi_to_hz(f32::from(key)),
        (None, None) => model.stats.f0_hz_at(0.5),
    };
    let key = hz_to_midi(f0_hz).round().clamp(0.0, 127.0) as u8;
    let leftover_steps = (f0_hz / midi_to_hz(f32::from(key))).log2() * render.tet_size as f32;
    let options = PlayOptions {
        sample_rate_hz: args.sample_rate,
        render: RenderParams { pitch_steps: render.pitch_steps + leftover_steps, ..render },
        adsr,
        notes: NoteSettings { root_note: i32::from(key), divisions_per_octave: 12, ..NoteSettings::default() },
        record_envelope: true,
        ..PlayOptions::default()
    };
    let velocity = f32::from(args.velocity) / 127.0;
    let events = [
        MidiEvent { time_s: 0.0, kind: MidiEventKind::NoteOn { channel: 0, key, velocity } },
        MidiEvent { time_s: f64::from(args.stage_s), kind: MidiEventKind::NoteOff { channel: 0, key } },
    ];
    let played = play(model, &events, &options, |_| {});
    played.envelope.context("the model's note was not recorded")
}

/// Harmonics the note has below its Nyquist in any frame (a model's partials above it are
/// silent, and a stage of only those would sound like the one before).
fn audible_harmonics(note: &Envelope) -> usize {
    (0..note.frame_count())
        .filter_map(|i| note.harmonic_amps(i).iter().rposition(|&a| a > 0.0))
        .max()
        .map_or(note.harmonic_count, |k| k + 1)
}

//! Rendering timed MIDI events through a model with the plugin's own voices
//! (`ddsp_shared::voices`): the same allocation, ADSR, key-to-f0 and velocity-to-loudness
//! mapping, renderer and transforms, offline.

use ddsp_shared::envelope::linear_band_centre_hz;
use ddsp_shared::instrument::{InstrumentFile, HARMONIC_COUNT, NOISE_BAND_COUNT};
use ddsp_shared::render::offline::RELEASE_TAIL_S;
use ddsp_shared::render::RenderParams;
use ddsp_shared::voices::model_drive::model_output_gain;
use ddsp_shared::voices::{AdsrSettings, NoteKey, NoteSettings, Sounding, VoiceBank, MAX_VOICES};
use ddsp_shared::Envelope;

use super::midi_file::{MidiEvent, MidiEventKind};

/// Samples rendered per call to the voices (the plugin's sub-block size).
pub const BLOCK_SAMPLES: usize = 256;

/// How the notes are played.
#[derive(Clone, Copy, Debug)]
pub struct PlayOptions {
    /// Output rate, Hz.
    pub sample_rate_hz: u32,
    /// The §4 controls (pitch, TET, stretch, anchor, bounce, levels).
    pub render: RenderParams,
    /// Attack, decay, sustain, release.
    pub adsr: AdsrSettings,
    /// Root note, key mode, velocity sensitivity, voices.
    pub notes: NoteSettings,
    /// Pitch-bend range in key steps (the wheel's full throw).
    pub bend_range_steps: f32,
    /// Also record the envelope the voices sing, at the model's frame rate (a monophonic file).
    pub record_envelope: bool,
}

impl Default for PlayOptions {
    fn default() -> Self {
        Self {
            sample_rate_hz: 48_000,
            render: RenderParams::default(),
            adsr: AdsrSettings::default(),
            notes: NoteSettings::default(),
            bend_range_steps: 2.0,
            record_envelope: false,
        }
    }
}

/// What [`play`] made.
#[derive(Debug)]
pub struct Played {
    /// Mono audio at `sample_rate_hz`.
    pub samples: Vec<f32>,
    /// With `record_envelope`: one frame per model frame of what the sounding voice sang (its
    /// decoded frame times the voice's output fade; silent frames where no note sounds).
    pub envelope: Option<Envelope>,
}

/// Plays `events` (sorted by time) through `model`, calling `progress` with the seconds done.
pub fn play(
    model: &InstrumentFile,
    events: &[MidiEvent],
    options: &PlayOptions,
    mut progress: impl FnMut(f64),
) -> Played {
    let sr = options.sample_rate_hz as f64;
    let mut bank = VoiceBank::default();
    bank.prepare(options.sample_rate_hz as f32, BLOCK_SAMPLES);
    let notes = NoteSettings { voice_count: options.notes.voice_count.clamp(1, MAX_VOICES), ..options.notes };
    let last_event_s = events.last().map_or(0.0, |e| e.time_s);
    let mut samples: Vec<f32> = Vec::with_capacity(((last_event_s + 1.0) * sr) as usize);
    let mut recorder = options.record_envelope.then(|| EnvelopeRecorder::new(model, sr));
    let mut next = 0;
    let mut scratch = [0.0f32; BLOCK_SAMPLES];
    let mut tail_left: Option<usize> = None;
    let mut song_over = false;
    loop {
        let now = samples.len();
        // Events due at or before this sample take effect now; the next one ends the block.
        while next < events.len() && (events[next].time_s * sr).round() as usize <= now {
            apply(&mut bank, &events[next].kind, &notes, options);
            next += 1;
        }
        if next == events.len() && !song_over {
            // Notes the file never releases are released when it ends.
            song_over = true;
            let any = NoteKey { channel: None, note: None, voice_id: None };
            bank.note_off(any, &options.adsr, options.sample_rate_hz as f32);
        }
        let mut len = BLOCK_SAMPLES;
        if let Some(e) = events.get(next) {
            len = len.min(((e.time_s * sr).round() as usize).saturating_sub(now).max(1));
        }
        if next == events.len() && bank.active_count() == 0 {
            let left = tail_left.get_or_insert((RELEASE_TAIL_S * sr) as usize);
            if *left == 0 {
                break;
            }
            len = len.min(*left);
            *left -= len;
        }
        let mut mix = [0.0f32; BLOCK_SAMPLES];
        bank.render_add(
            Sounding::Model(model),
            &options.render,
            &options.adsr,
            options.sample_rate_hz as f32,
            &mut scratch,
            &mut mix[..len],
        );
        samples.extend_from_slice(&mix[..len]);
        if let Some(r) = recorder.as_mut() {
            r.record(&bank, samples.len());
        }
        if samples.len() % (BLOCK_SAMPLES * 64) < len {
            progress(samples.len() as f64 / sr);
        }
    }
    Played { samples, envelope: recorder.map(EnvelopeRecorder::finish) }
}

fn apply(bank: &mut VoiceBank, kind: &MidiEventKind, notes: &NoteSettings, options: &PlayOptions) {
    let sr = options.sample_rate_hz as f32;
    match *kind {
        MidiEventKind::NoteOn { channel, key, velocity } => {
            bank.note_on(NoteKey { channel: Some(channel), note: Some(key), voice_id: None }, velocity, notes);
        }
        MidiEventKind::NoteOff { channel, key } => {
            bank.note_off(NoteKey { channel: Some(channel), note: Some(key), voice_id: None }, &options.adsr, sr);
        }
        // One wheel for every voice, as in the plugin.
        MidiEventKind::PitchBend { bend, .. } => {
            bank.bend_steps = bend * options.bend_range_steps;
            bank.retune(notes);
        }
    }
}

/// Collects the sounding voice's frames at the model's frame rate.
struct EnvelopeRecorder {
    envelope: Envelope,
    /// Output samples per model frame.
    samples_per_frame: f64,
    model_sample_rate_hz: f64,
}

impl EnvelopeRecorder {
    fn new(model: &InstrumentFile, output_rate_hz: f64) -> Self {
        let fr = model.frame_rate_hz as f64;
        let template = Envelope::silent(fr, model.sample_rate_hz as f64, 0, HARMONIC_COUNT, NOISE_BAND_COUNT, 0.0);
        Self {
            envelope: template.empty_like(HARMONIC_COUNT, NOISE_BAND_COUNT, 0),
            samples_per_frame: output_rate_hz / fr,
            model_sample_rate_hz: model.sample_rate_hz as f64,
        }
    }

    /// Records every frame whose time has been reached by `samples_done`.
    fn record(&mut self, bank: &VoiceBank, samples_done: usize) {
        while (self.envelope.frame_count() as f64) * self.samples_per_frame < samples_done as f64 {
            let i = self.envelope.frame_count();
            let last_f0 = self.envelope.f0_hz.last().copied().unwrap_or(0.0);
            let (f0, amps, mags) = match bank.newest_active().filter(|s| s.model_started) {
                Some(slot) => {
                    let frame = slot.model.current_frame();
                    let gain = model_output_gain(slot.adsr.level());
                    (frame.f0_hz, frame.harmonic_amps.map(|a| a * gain), frame.noise_mags.map(|m| m * gain))
                }
                None => (last_f0, [0.0; HARMONIC_COUNT], [0.0; NOISE_BAND_COUNT]),
            };
            let e = &mut self.envelope;
            e.frame_indices.push(i as u64);
            e.f0_hz.push(f0);
            e.harmonic_freqs_hz.extend((1..=HARMONIC_COUNT).map(|k| f0 * k as f32));
            e.harmonic_amps.extend_from_slice(&amps);
            e.band_centres_hz.extend(
                (0..NOISE_BAND_COUNT).map(|b| linear_band_centre_hz(b, NOISE_BAND_COUNT, self.model_sample_rate_hz)),
            );
            e.band_mags.extend_from_slice(&mags);
        }
    }

    fn finish(self) -> Envelope {
        self.envelope
    }
}

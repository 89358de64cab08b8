//! Voice slots and allocation: MIDI notes and the free-running Play voice, each with its own
//! ADSR, velocity and transposition, and two ways to sound: a renderer playing a CSV
//! envelope's timeline, or a [`ModelVoice`] singing a live model ([`Sounding`] says which).
//!
//! The slots are a fixed array prepared once ([`VoiceBank::prepare`]), so starting a voice
//! only flips state. Slot [`FREE_RUN_SLOT`] belongs to the plugin's Play/Stop parameter; the
//! others serve MIDI notes, up to the "Voices" setting at once, stealing the oldest beyond
//! that. Each slot's noise and bounce jitter have their own seed (the renderer's default plus
//! the slot's index), so two notes never carry the same noise and a render repeats exactly.

use crate::instrument::{InstrumentFile, ModelNote, ModelVoice};
use crate::render::{tet_ratio, RenderParams, Renderer, DEFAULT_SEED};
use crate::Envelope;

use super::adsr::{Adsr, AdsrSettings};
use super::model_drive::{model_output_gain, note_f0_hz, note_loudness_db};
use super::MAX_VOICES;

/// What the voices play.
#[derive(Clone, Copy, Debug)]
pub enum Sounding<'a> {
    /// A CSV envelope's timeline, transposed by each note.
    Csv(&'a Envelope),
    /// A trained model, driven by each note's f0 and loudness.
    Model(&'a InstrumentFile),
}

/// Samples of ADSR levels worked out at once for a model voice (a stack buffer).
const LEVEL_CHUNK: usize = 256;

/// Index of the slot the Play/Stop parameter drives (after the MIDI slots).
pub const FREE_RUN_SLOT: usize = MAX_VOICES;

/// All slots: the MIDI voices plus the free-running one.
pub const SLOT_COUNT: usize = MAX_VOICES + 1;

/// Who started a voice, or which voices a note-off means. `None` is a wildcard (a host's
/// "all notes on this channel", say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteKey {
    pub channel: Option<u8>,
    pub note: Option<u8>,
    /// The host's note id (CLAP), when it sends one.
    pub voice_id: Option<i32>,
}

impl NoteKey {
    /// Whether a note-off for `self` releases the voice started by `owner`.
    fn releases(&self, owner: &NoteKey) -> bool {
        if let (Some(a), Some(b)) = (self.voice_id, owner.voice_id) {
            return a == b;
        }
        let matches = |a: Option<u8>, b: Option<u8>| a.is_none() || b.is_none() || a == b;
        matches(self.channel, owner.channel) && matches(self.note, owner.note)
    }
}

/// The key a note-on with a wildcard key plays.
const DEFAULT_NOTE: u8 = 60;

/// One voice slot. Its renderers live here for the bank's lifetime; `key` says whether a note
/// owns it.
#[derive(Debug)]
pub struct VoiceSlot {
    /// Plays a CSV envelope.
    pub renderer: Renderer,
    /// Sings a model.
    pub model: ModelVoice,
    /// The model voice has been started for the current note (it starts at the first block
    /// rendered from a model, when the master pitch is known).
    pub model_started: bool,
    pub adsr: Adsr,
    /// The note that owns the slot (`None` for a free slot or the free-running voice).
    pub key: Option<NoteKey>,
    /// Start order, to find the oldest voice to steal.
    pub age: u64,
    /// Level from velocity and velocity sensitivity, 0..1.
    pub velocity_gain: f32,
    /// Steps from the root note (before pitch bend), in the key mode's unit.
    pub offset_steps: f32,
    /// The note's pitch for a model voice, Hz, before the master pitch (root, key steps and
    /// bend).
    pub model_f0_hz: f32,
}

impl VoiceSlot {
    fn new(index: usize) -> Self {
        let seed = DEFAULT_SEED + index as u64;
        let mut renderer = Renderer::new();
        renderer.set_seed(seed);
        let mut model = ModelVoice::new();
        model.set_seed(seed);
        Self {
            renderer,
            model,
            model_started: false,
            adsr: Adsr::default(),
            key: None,
            age: 0,
            velocity_gain: 1.0,
            offset_steps: 0.0,
            model_f0_hz: 0.0,
        }
    }

    /// The slot is sounding (held or releasing).
    pub fn is_active(&self) -> bool {
        !self.adsr.is_idle()
    }

    /// The renderer whose output is heard (the model voice's once it sings), for the GUI.
    pub fn sounding_renderer(&self) -> &Renderer {
        if self.model_started {
            self.model.renderer()
        } else {
            &self.renderer
        }
    }

    /// Sets the note's pitch: the CSV renderer's transposition and the model voice's f0.
    fn tune(&mut self, bend_steps: f32, settings: &NoteSettings) {
        let steps = self.offset_steps + bend_steps;
        self.renderer.set_transpose_ratio(tet_ratio(steps, settings.divisions_per_octave));
        self.model_f0_hz = note_f0_hz(settings.root_note, steps, settings.divisions_per_octave, 1.0);
    }

    /// Starts the slot's note from the beginning (renderer, ADSR, model voice).
    fn start(&mut self, bend_steps: f32, settings: &NoteSettings) {
        self.adsr.kill();
        self.adsr.gate_on();
        self.renderer.restart();
        self.model_started = false;
        self.tune(bend_steps, settings);
    }
}

/// What a note needs to know about the note parameters when it starts or bends.
#[derive(Debug, Clone, Copy)]
pub struct NoteSettings {
    pub root_note: i32,
    /// Equal divisions of the octave one key step means (the TET size, or 12 for semitones).
    pub divisions_per_octave: u32,
    pub velocity_sensitivity: f32,
    pub voice_count: usize,
}

impl Default for NoteSettings {
    /// Middle C as the root, semitone keys, full velocity sensitivity, 16 voices.
    fn default() -> Self {
        Self { root_note: 60, divisions_per_octave: 12, velocity_sensitivity: 1.0, voice_count: MAX_VOICES }
    }
}

/// Level for a MIDI velocity (0..1): `sensitivity` 0 ignores velocity, 1 follows it fully.
pub fn velocity_gain(velocity: f32, sensitivity: f32) -> f32 {
    let sensitivity = sensitivity.clamp(0.0, 1.0);
    1.0 - sensitivity + sensitivity * velocity.clamp(0.0, 1.0)
}

/// The fixed set of voice slots.
#[derive(Debug)]
pub struct VoiceBank {
    pub slots: Vec<VoiceSlot>,
    next_age: u64,
    /// Current pitch bend in key steps (bend × range), applied to every sounding voice.
    pub bend_steps: f32,
}

impl Default for VoiceBank {
    fn default() -> Self {
        Self { slots: (0..SLOT_COUNT).map(VoiceSlot::new).collect(), next_age: 0, bend_steps: 0.0 }
    }
}

impl VoiceBank {
    /// Sizes every renderer for the host's sample rate and largest block. Allocates: call from
    /// `activate` only.
    pub fn prepare(&mut self, sample_rate_hz: f32, max_block: usize) {
        for slot in &mut self.slots {
            slot.renderer.prepare(sample_rate_hz, max_block);
            slot.model.prepare(sample_rate_hz, max_block);
            slot.model_started = false;
            slot.adsr.kill();
            slot.key = None;
        }
        self.bend_steps = 0.0;
    }

    /// Silences everything (host reset).
    pub fn reset(&mut self) {
        for slot in &mut self.slots {
            slot.adsr.kill();
            slot.key = None;
            slot.renderer.restart();
        }
        self.bend_steps = 0.0;
    }

    /// Every sounding voice starts its sound over (a new CSV from its start frame, a new model
    /// or source from a fresh decoder state), keeping its note, pitch and envelope.
    pub fn restart_sounds(&mut self) {
        for slot in self.slots.iter_mut().filter(|s| s.is_active()) {
            slot.renderer.restart();
            slot.model_started = false;
        }
    }

    /// Starts a note: takes a free MIDI slot, or steals the oldest sounding one when
    /// `voice_count` voices already sound. Returns the slot index.
    pub fn note_on(&mut self, key: NoteKey, velocity: f32, settings: &NoteSettings) -> usize {
        let midi_slots = &self.slots[..MAX_VOICES];
        let sounding = midi_slots.iter().filter(|s| s.is_active()).count();
        let voice_count = settings.voice_count.clamp(1, MAX_VOICES);
        let index = if sounding >= voice_count {
            oldest(midi_slots.iter().enumerate().filter(|(_, s)| s.is_active()))
        } else {
            midi_slots.iter().position(|s| !s.is_active()).unwrap_or(0)
        };
        self.next_age += 1;
        let slot = &mut self.slots[index];
        slot.key = Some(key);
        slot.age = self.next_age;
        slot.velocity_gain = velocity_gain(velocity, settings.velocity_sensitivity);
        slot.offset_steps = key.note.unwrap_or(DEFAULT_NOTE) as f32 - settings.root_note as f32;
        slot.start(self.bend_steps, settings);
        index
    }

    /// Releases the voice(s) playing `key` (matched by note id when the host gives one).
    pub fn note_off(&mut self, key: NoteKey, adsr: &AdsrSettings, sample_rate_hz: f32) {
        for slot in &mut self.slots[..MAX_VOICES] {
            let Some(owner) = slot.key else { continue };
            if key.releases(&owner) && slot.adsr.is_held() {
                slot.adsr.gate_off(adsr, sample_rate_hz);
            }
        }
    }

    /// Starts the free-running voice at the root pitch.
    pub fn start_free_run(&mut self, settings: &NoteSettings) {
        let slot = &mut self.slots[FREE_RUN_SLOT];
        slot.velocity_gain = 1.0;
        slot.offset_steps = 0.0;
        slot.start(self.bend_steps, settings);
    }

    /// Moves the free-running voice to `offset_s` envelope seconds into the playback window
    /// (host sync). Does nothing while it is silent.
    pub fn seek_free_run(&mut self, offset_s: f64) {
        let slot = &mut self.slots[FREE_RUN_SLOT];
        if slot.is_active() {
            slot.renderer.seek_window_s(offset_s);
        }
    }

    /// Releases the free-running voice.
    pub fn stop_free_run(&mut self, adsr: &AdsrSettings, sample_rate_hz: f32) {
        self.slots[FREE_RUN_SLOT].adsr.gate_off(adsr, sample_rate_hz);
    }

    /// Applies the current bend and tuning to every sounding voice: after a change of TET
    /// size, root note or key mode a held key sounds where that key now sits.
    pub fn retune(&mut self, settings: &NoteSettings) {
        for slot in self.slots.iter_mut().filter(|s| s.is_active()) {
            if let Some(key) = slot.key {
                slot.offset_steps = key.note.unwrap_or(DEFAULT_NOTE) as f32 - settings.root_note as f32;
            }
            slot.tune(self.bend_steps, settings);
        }
    }

    /// Releases the oldest held MIDI voices beyond `voice_count` (after the "Voices" setting
    /// was lowered), so no more than that many keep sounding.
    pub fn limit_voices(&mut self, voice_count: usize, adsr: &AdsrSettings, sample_rate_hz: f32) {
        let voice_count = voice_count.clamp(1, MAX_VOICES);
        loop {
            let held = self.slots[..MAX_VOICES].iter().enumerate().filter(|(_, s)| s.adsr.is_held());
            if held.clone().count() <= voice_count {
                return;
            }
            let index = oldest(held);
            self.slots[index].adsr.gate_off(adsr, sample_rate_hz);
        }
    }

    /// Every sounding model voice starts singing afresh (a new model: a fresh decoder state),
    /// while CSV voices play on at their position in the new envelope: an import changes the
    /// sound under the notes, not where they are.
    pub fn restart_models(&mut self) {
        for slot in self.slots.iter_mut().filter(|s| s.is_active()) {
            slot.model_started = false;
        }
    }

    /// Renders every sounding voice into `mix` (added), using `scratch` (at least
    /// `mix.len()` long) as the per-voice buffer. Frees no slot memory: a voice whose release
    /// ended just goes idle.
    pub fn render_add(
        &mut self,
        sounding: Sounding<'_>,
        params: &RenderParams,
        adsr: &AdsrSettings,
        sample_rate_hz: f32,
        scratch: &mut [f32],
        mix: &mut [f32],
    ) {
        for slot in self.slots.iter_mut().filter(|s| s.is_active()) {
            let out = &mut scratch[..mix.len()];
            match sounding {
                Sounding::Csv(envelope) => {
                    slot.renderer.process(envelope, params, out);
                    slot.adsr.apply(adsr, sample_rate_hz, out);
                    let gain = slot.velocity_gain;
                    for (m, v) in mix.iter_mut().zip(out.iter()) {
                        *m += v * gain;
                    }
                    // A non-looping voice that played its window to the end is done.
                    if slot.renderer.is_finished() {
                        slot.adsr.kill();
                    }
                }
                Sounding::Model(model) => render_model_voice(slot, model, params, adsr, sample_rate_hz, out, mix),
            }
            if slot.adsr.is_idle() {
                slot.key = None;
            }
        }
    }

    /// The most recently started sounding voice, for the GUI's spectral view.
    pub fn newest_active(&self) -> Option<&VoiceSlot> {
        self.slots.iter().filter(|s| s.is_active()).max_by_key(|s| s.age)
    }

    /// Number of sounding voices.
    pub fn active_count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_active()).count()
    }
}

/// One model voice's block: the decoder follows the note's f0 (with the master pitch) and the
/// loudness its velocity and ADSR level give (see [`super::model_drive`]), in pieces of at
/// most [`LEVEL_CHUNK`] samples.
fn render_model_voice(
    slot: &mut VoiceSlot,
    model: &InstrumentFile,
    params: &RenderParams,
    adsr: &AdsrSettings,
    sample_rate_hz: f32,
    out: &mut [f32],
    mix: &mut [f32],
) {
    let master_ratio = tet_ratio(params.pitch_steps, params.tet_size.max(1));
    let mut start = 0;
    while start < out.len() {
        let end = (start + LEVEL_CHUNK).min(out.len());
        let note = ModelNote {
            f0_hz: slot.model_f0_hz * master_ratio,
            loudness_db: note_loudness_db(&model.stats, slot.velocity_gain, slot.adsr.level()),
        };
        if !slot.model_started {
            slot.model.start(model, note);
            slot.model_started = true;
        }
        let piece = &mut out[start..end];
        slot.model.process(model, params, note, piece);
        let mut levels = [1.0f32; LEVEL_CHUNK];
        let levels = &mut levels[..piece.len()];
        slot.adsr.apply(adsr, sample_rate_hz, levels);
        for ((m, v), &level) in mix[start..end].iter_mut().zip(piece.iter()).zip(levels.iter()) {
            *m += v * model_output_gain(level);
        }
        start = end;
    }
}

/// Index of the slot with the smallest age.
fn oldest<'a>(slots: impl Iterator<Item = (usize, &'a VoiceSlot)>) -> usize {
    slots.min_by_key(|(_, s)| s.age).map(|(i, _)| i).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voices::AdsrSettings;

    const SETTINGS: NoteSettings =
        NoteSettings { root_note: 60, divisions_per_octave: 12, velocity_sensitivity: 1.0, voice_count: 3 };

    fn key(note: u8) -> NoteKey {
        NoteKey { channel: Some(0), note: Some(note), voice_id: None }
    }

    #[test]
    fn the_fourth_note_steals_the_oldest_of_three() {
        let mut bank = VoiceBank::default();
        let a = bank.note_on(key(60), 1.0, &SETTINGS);
        let b = bank.note_on(key(62), 1.0, &SETTINGS);
        let c = bank.note_on(key(64), 1.0, &SETTINGS);
        assert_eq!(bank.active_count(), 3);
        let d = bank.note_on(key(65), 1.0, &SETTINGS);
        assert_eq!(d, a, "oldest voice stolen");
        assert_ne!(b, c);
        assert_eq!(bank.active_count(), 3);
        assert_eq!(bank.slots[d].key.unwrap().note, Some(65));
    }

    #[test]
    fn note_off_releases_only_the_matching_note() {
        let mut bank = VoiceBank::default();
        let adsr = AdsrSettings { attack_ms: 1.0, decay_ms: 1.0, sustain: 1.0, release_ms: 10.0 };
        let a = bank.note_on(key(60), 1.0, &SETTINGS);
        let b = bank.note_on(key(67), 1.0, &SETTINGS);
        bank.note_off(key(67), &adsr, 48_000.0);
        assert!(bank.slots[a].adsr.is_held());
        assert!(!bank.slots[b].adsr.is_held() && bank.slots[b].is_active());
    }

    #[test]
    fn held_notes_follow_a_new_root_and_tet_and_lowering_voices_releases_the_oldest() {
        let mut bank = VoiceBank::default();
        let a = bank.note_on(key(67), 1.0, &SETTINGS);
        let b = bank.note_on(key(72), 1.0, &SETTINGS);
        let c = bank.note_on(key(76), 1.0, &SETTINGS);
        let f0 = |bank: &VoiceBank, i: usize| bank.slots[i].model_f0_hz;
        assert!((f0(&bank, a) - 392.0).abs() < 0.1);
        // Root 60 -> 67: key 67 is the root now and sounds at MIDI 67 still; in TET 24 key 72
        // is 5 quarter tones above the root.
        let moved = NoteSettings { root_note: 67, divisions_per_octave: 24, ..SETTINGS };
        bank.retune(&moved);
        assert!((f0(&bank, a) - 392.0).abs() < 0.1);
        let want = 392.0 * 2f32.powf(5.0 / 24.0);
        assert!((f0(&bank, b) - want).abs() < 0.1, "{} vs {want}", f0(&bank, b));
        let adsr = AdsrSettings::default();
        bank.limit_voices(1, &adsr, 48_000.0);
        assert!(!bank.slots[a].adsr.is_held() && !bank.slots[b].adsr.is_held());
        assert!(bank.slots[c].adsr.is_held(), "the newest voice keeps sounding");
    }

    #[test]
    fn a_fifth_above_the_root_is_seven_semitones() {
        assert!((tet_ratio(7.0, 12) - 1.498_307).abs() < 1e-5);
        assert!((tet_ratio(24.0, 24) - 2.0).abs() < 1e-6);
        assert_eq!(velocity_gain(0.25, 0.0), 1.0);
        assert_eq!(velocity_gain(0.25, 1.0), 0.25);
    }
}

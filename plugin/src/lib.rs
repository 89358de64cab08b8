//! DDSP Spectral Player: a CLAP + VST3 instrument that plays unified CSV envelopes (SPEC §5)
//! or a trained model live (SPEC §9) through the shared harmonic + noise renderer, with every
//! SPEC §4 control automatable.
//!
//! - [`params`]: the parameters (ids are the save format) and the persisted sound.
//! - [`state`]: saving the sound with the project and handing new sounds to the audio thread.
//! - [`data_loader`]: "Import CSV…" parsing on a background thread.
//! - [`voice`] and [`adsr`]: voice slots, allocation and envelopes (shared with `ddsp play`,
//!   in `ddsp_shared::voices`).
//! - [`spectral_view`]: what the audio thread shows the GUI, through a triple buffer.
//! - [`editor`] and [`file_browser`]: the egui GUI; [`window_size`]: its size, saved with the
//!   project.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ddsp_shared::render::RenderParams;
use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;

pub use ddsp_shared::voices::adsr;
pub use ddsp_shared::voices::bank as voice;
pub mod data_loader;
pub mod editor;
pub mod file_browser;
pub mod params;
pub mod spectral_view;
pub mod state;
pub mod window_size;

use adsr::AdsrSettings;
use params::{KeyMode, PlayerParams, SourceMode};
use spectral_view::SpectrumSnapshot;
use state::{Sound, SoundExchange};
use voice::{NoteKey, NoteSettings, Sounding, VoiceBank};

/// Largest block the renderers see: host blocks are cut into pieces of at most this size, so
/// the per-voice scratch buffer lives on the stack.
pub const MAX_BLOCK_SIZE: usize = 256;

/// Length of the fade out and back in around swapping in a newly imported sound, so the swap
/// does not click.
const SWAP_FADE_MS: f32 = 5.0;

/// How far the host's song position may differ from where it should be after the previous
/// block before host sync treats it as a jump and moves the Play voice (hosts round their
/// positions; a real locate moves by far more).
const HOST_JUMP_TOLERANCE_S: f64 = 0.002;

/// The plugin: parameters, voices, the sound being played and the channels to the GUI.
pub struct SpectralPlayer {
    params: Arc<PlayerParams>,
    exchange: Arc<SoundExchange>,
    voices: VoiceBank,
    /// The sound the voices play; `None` only before the first `process`.
    sound: Option<Box<Sound>>,
    /// A sound waiting for the fade-out to finish before it replaces `sound`.
    pending_sound: Option<Box<Sound>>,
    /// Gain of the swap fade, 0..1, and its per-sample step (negative = fading out).
    swap_gain: f32,
    /// The source the voices play now; a change of the Source parameter fades out, switches
    /// here and fades back in, like a sound swap.
    active_source: SourceMode,
    /// A source waiting for the fade-out to finish.
    pending_source: Option<SourceMode>,
    /// Root note and divisions per octave the sounding voices are tuned to; a change (of the
    /// root, the TET size or the key mode) retunes the held notes.
    tuning: (i32, u32),
    sample_rate_hz: f32,
    /// Play/Stop as of the previous block, to start/stop the free-running voice on edges.
    was_playing: bool,
    /// Host transport state as of the previous block (for host sync).
    host_was_playing: bool,
    /// Where the host's song position should be at the next block if the transport simply
    /// runs on, seconds; a position elsewhere is a jump (locate, loop) that the Play voice
    /// follows. `None` when not following the host.
    host_expected_pos_s: Option<f64>,
    /// The song position the host reported at the previous block, seconds.
    host_last_pos_s: Option<f64>,
    spectrum_in: triple_buffer::Input<SpectrumSnapshot>,
    spectrum_out: Arc<Mutex<triple_buffer::Output<SpectrumSnapshot>>>,
    /// Wakes the GUI when a new spectrum is published.
    repaint: nice_plug_egui::RepaintNotifier,
    /// True while the editor is open: the spectrum is gathered and published only then, so a
    /// closed window costs the audio thread nothing.
    editor_open: Arc<AtomicBool>,
}

impl Default for SpectralPlayer {
    fn default() -> Self {
        let exchange = SoundExchange::with_builtin_sound();
        let params = Arc::new(PlayerParams::new(exchange.clone()));
        let (spectrum_in, spectrum_out) = triple_buffer::triple_buffer(&SpectrumSnapshot::default());
        Self {
            params,
            exchange,
            voices: VoiceBank::default(),
            sound: None,
            pending_sound: None,
            swap_gain: 1.0,
            tuning: (0, 0),
            active_source: SourceMode::Csv,
            pending_source: None,
            sample_rate_hz: 48_000.0,
            was_playing: false,
            host_was_playing: false,
            host_expected_pos_s: None,
            host_last_pos_s: None,
            spectrum_in,
            spectrum_out: Arc::new(Mutex::new(spectrum_out)),
            repaint: nice_plug_egui::RepaintNotifier::new(),
            editor_open: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl SpectralPlayer {
    /// The renderer's controls from the current parameter values.
    fn render_params(&self) -> RenderParams {
        self.params.render_params()
    }

    fn note_settings(&self) -> NoteSettings {
        let p = &self.params;
        NoteSettings {
            root_note: p.root_note.value(),
            divisions_per_octave: match p.key_mode.value() {
                KeyMode::TetStep => p.tet_size.value().max(1) as u32,
                KeyMode::Semitone => 12,
            },
            velocity_sensitivity: p.velocity_sensitivity.value(),
            voice_count: p.voice_count.value().max(1) as usize,
        }
    }

    fn adsr_settings(&self) -> AdsrSettings {
        let p = &self.params;
        AdsrSettings {
            attack_ms: p.attack_ms.value(),
            decay_ms: p.decay_ms.value(),
            sustain: p.sustain.value(),
            release_ms: p.release_ms.value(),
        }
    }

    /// Picks up a newly loaded sound. With nothing sounding it swaps at once; otherwise it
    /// fades out, swaps in [`Self::advance_swap_fade`], and fades back in.
    fn poll_new_sound(&mut self) {
        if self.pending_sound.is_some() {
            return;
        }
        let Some(new_sound) = self.exchange.take_incoming() else { return };
        if self.sound.is_none() || self.voices.active_count() == 0 {
            self.install_sound(new_sound);
        } else {
            self.pending_sound = Some(new_sound);
        }
    }

    fn install_sound(&mut self, new_sound: Box<Sound>) {
        if let Some(old) = self.sound.replace(new_sound) {
            self.exchange.retire(old);
        }
        // Sounding voices go on in the new sound: CSV voices where they are in the timeline,
        // model voices from a fresh decoder state (same notes, pitch and envelope).
        self.voices.restart_models();
    }

    /// Notices a change of the Source parameter: with nothing sounding it switches at once,
    /// otherwise through the swap fade.
    fn poll_source(&mut self) {
        let wanted = self.params.source.value();
        if wanted == self.active_source && self.pending_source.is_none() {
            return;
        }
        if self.voices.active_count() == 0 {
            self.active_source = wanted;
            self.pending_source = None;
        } else if wanted != self.active_source {
            self.pending_source = Some(wanted);
        } else {
            self.pending_source = None;
        }
    }

    /// Held notes follow a change of root note, TET size or key mode, and a lowered "Voices"
    /// releases the oldest voices beyond it.
    fn follow_voice_settings(&mut self, adsr: &AdsrSettings) {
        let settings = self.note_settings();
        let tuning = (settings.root_note, settings.divisions_per_octave);
        if tuning != self.tuning {
            self.tuning = tuning;
            self.voices.retune(&settings);
        }
        self.voices.limit_voices(settings.voice_count, adsr, self.sample_rate_hz);
    }

    /// Applies the swap fade to `mix` and performs the swap at the bottom of the fade.
    fn advance_swap_fade(&mut self, mix: &mut [f32]) {
        let pending = self.pending_sound.is_some() || self.pending_source.is_some();
        if !pending && self.swap_gain >= 1.0 {
            return;
        }
        let step = 1.0 / (SWAP_FADE_MS * 0.001 * self.sample_rate_hz).max(1.0);
        for sample in mix.iter_mut() {
            if pending {
                self.swap_gain = (self.swap_gain - step).max(0.0);
            } else {
                self.swap_gain = (self.swap_gain + step).min(1.0);
            }
            *sample *= self.swap_gain;
        }
        if self.swap_gain <= 0.0 {
            if let Some(new_sound) = self.pending_sound.take() {
                self.install_sound(new_sound);
            }
            if let Some(source) = self.pending_source.take() {
                self.active_source = source;
                self.voices.restart_sounds();
            }
        }
    }

    /// Handles one note event at its sample position.
    fn handle_event(&mut self, event: NoteEvent<()>) {
        match event {
            NoteEvent::NoteOn { voice_id, channel, key, velocity, .. } => {
                let settings = self.note_settings();
                self.voices.note_on(note_key(voice_id, channel, key), velocity, &settings);
            }
            NoteEvent::NoteOff { voice_id, channel, key, .. } => {
                let adsr = self.adsr_settings();
                self.voices.note_off(note_key(voice_id, channel, key), &adsr, self.sample_rate_hz);
            }
            NoteEvent::Choke { voice_id, channel, key, .. } => {
                let adsr = AdsrSettings { release_ms: 1.0, ..self.adsr_settings() };
                self.voices.note_off(note_key(voice_id, channel, key), &adsr, self.sample_rate_hz);
            }
            NoteEvent::MidiPitchBend { value, .. } => {
                self.voices.bend_steps = (value * 2.0 - 1.0) * self.params.bend_range_steps.value();
                let settings = self.note_settings();
                self.voices.retune(&settings);
            }
            _ => {}
        }
    }

    /// Starts/stops the free-running voice on Play/Stop changes and, with host sync on, on
    /// the host's transport starting and stopping; with host sync on and the transport running,
    /// the voice's read position follows the song position (song time × playback rate after
    /// the start frame), also when the host jumps.
    fn update_free_run(&mut self, transport: &Transport, block_len: usize) {
        let settings = self.note_settings();
        let adsr = self.adsr_settings();
        let play = self.params.play.value();
        let host_sync = self.params.host_sync.value();
        let host_playing = transport.playing;
        if play && !self.was_playing {
            self.voices.start_free_run(&settings);
        } else if !play && self.was_playing {
            self.voices.stop_free_run(&adsr, self.sample_rate_hz);
        }
        if host_sync {
            if host_playing && !self.host_was_playing {
                self.voices.start_free_run(&settings);
            } else if !host_playing && self.host_was_playing && !play {
                self.voices.stop_free_run(&adsr, self.sample_rate_hz);
            }
        }
        self.was_playing = play;
        self.host_was_playing = host_playing;

        match transport.pos_seconds() {
            Some(pos_s) if host_sync && host_playing => {
                // A host that reports no tempo repeats the block's start position for each
                // split of the block (nice-plug splits at parameter changes): only a position
                // that moved since the last call and is not where it should be is a jump.
                let jumped = match (self.host_expected_pos_s, self.host_last_pos_s) {
                    (Some(expected_s), Some(last_s)) => {
                        (pos_s - expected_s).abs() > HOST_JUMP_TOLERANCE_S
                            && (pos_s - last_s).abs() > HOST_JUMP_TOLERANCE_S
                    }
                    _ => true,
                };
                if jumped {
                    let rate = self.params.playback_rate.value() as f64;
                    self.voices.seek_free_run(pos_s * rate);
                }
                self.host_expected_pos_s = Some(pos_s + block_len as f64 / self.sample_rate_hz as f64);
                self.host_last_pos_s = Some(pos_s);
            }
            _ => {
                self.host_expected_pos_s = None;
                self.host_last_pos_s = None;
            }
        }
    }

    /// Publishes what the newest sounding voice plays, for the GUI.
    fn publish_spectrum(&mut self) {
        let snapshot = self.spectrum_in.input_buffer_mut();
        match (self.voices.newest_active(), self.sound.as_ref()) {
            (Some(slot), Some(sound)) => {
                snapshot.fill_from(slot.sounding_renderer(), &sound.envelope);
            }
            _ => snapshot.clear(),
        }
        snapshot.trained_f0_range_hz = match (self.active_source, self.sound.as_ref()) {
            (SourceMode::Model, Some(sound)) => Some(sound.model.stats.f0_hz_core_range()),
            _ => None,
        };
        self.spectrum_in.publish();
        self.repaint.request_repaint();
    }
}

/// The voice key of a host note event (wildcards become `None`).
fn note_key(voice_id: VoiceID, channel: Channel, key: Key) -> NoteKey {
    NoteKey { channel: channel.number(), note: key.number(), voice_id: voice_id.id() }
}

impl Plugin for SpectralPlayer {
    const NAME: &'static str = "DDSP Spectral Player";
    const VENDOR: &'static str = "ddsp-rs";
    /// No public homepage or support address yet: hosts show nothing rather than a
    /// placeholder.
    const URL: &'static str = "";
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[AudioIOLayout {
        main_input_channels: None,
        main_output_channels: NonZeroU32::new(2),
        aux_input_ports: &[],
        aux_output_ports: &[],
        names: PortNames::const_default(),
    }];

    const MIDI_INPUT: MidiConfig = MidiConfig::MidiCCs;
    /// Room in the wrapper's event queues for everything a host sends in one block without
    /// allocating on the audio thread: a VST3 host restoring a project sends every parameter at
    /// once (ours plus the 16 x 130 MIDI controller parameters the VST3 wrapper adds for CC and
    /// pitch-bend input: 2113 in Ardour 7), more than the default 1024.
    const INPUT_EVENT_CAPACITY: usize = 4096;
    /// Parameter changes split the host's block, so automation lands on its sample.
    const SAMPLE_ACCURATE_AUTOMATION: bool = true;

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = editor::PlayerEditor;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        Some(editor::PlayerEditor::new(editor::EditorParts {
            params: self.params.clone(),
            exchange: self.exchange.clone(),
            spectrum: self.spectrum_out.clone(),
            repaint: self.repaint.clone(),
            open: self.editor_open.clone(),
        }))
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.sample_rate_hz = buffer_config.sample_rate;
        self.voices.prepare(buffer_config.sample_rate, MAX_BLOCK_SIZE);
        self.params.output_gain.smoothed.reset(self.params.output_gain.value());
        // Take the built-in (or restored) sound now, so the first block already has one.
        if self.sound.is_none() {
            if let Some(sound) = self.exchange.take_incoming() {
                self.sound = Some(sound);
            }
        }
        true
    }

    fn reset(&mut self) {
        self.voices.reset();
        self.active_source = self.params.source.value();
        self.pending_source = None;
        self.was_playing = false;
        self.host_was_playing = false;
        self.host_expected_pos_s = None;
        self.host_last_pos_s = None;
        self.swap_gain = 1.0;
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        self.poll_new_sound();
        self.poll_source();
        self.update_free_run(context.transport(), buffer.samples());
        let render_params = self.render_params();
        let adsr = self.adsr_settings();

        let num_samples = buffer.samples();
        let output = buffer.as_slice();
        let mut next_event = context.next_event();
        let mut block_start = 0;
        while block_start < num_samples {
            // Events at or before this position take effect now; the next one ends the block.
            let mut block_end = (block_start + MAX_BLOCK_SIZE).min(num_samples);
            loop {
                match next_event {
                    Some(event) if event.timing() as usize <= block_start => {
                        self.handle_event(event);
                        next_event = context.next_event();
                    }
                    Some(event) if (event.timing() as usize) < block_end => {
                        block_end = event.timing() as usize;
                        break;
                    }
                    _ => break,
                }
            }
            self.follow_voice_settings(&adsr);
            let len = block_end - block_start;
            let mut mix = [0.0f32; MAX_BLOCK_SIZE];
            let mut scratch = [0.0f32; MAX_BLOCK_SIZE];
            if let Some(sound) = self.sound.as_ref() {
                let sounding = match self.active_source {
                    SourceMode::Csv => Sounding::Csv(&sound.envelope),
                    SourceMode::Model => Sounding::Model(&sound.model),
                };
                self.voices.render_add(
                    sounding,
                    &render_params,
                    &adsr,
                    self.sample_rate_hz,
                    &mut scratch,
                    &mut mix[..len],
                );
            }
            self.advance_swap_fade(&mut mix[..len]);
            let mut gain = [0.0f32; MAX_BLOCK_SIZE];
            self.params.output_gain.smoothed.next_block(&mut gain, len);
            for channel in output.iter_mut() {
                for ((out, m), g) in channel[block_start..block_end].iter_mut().zip(&mix[..len]).zip(&gain[..len]) {
                    *out = m * g;
                }
            }
            block_start = block_end;
        }
        // Events at the very end of the buffer.
        while let Some(event) = next_event {
            self.handle_event(event);
            next_event = context.next_event();
        }
        if self.editor_open.load(Ordering::Acquire) {
            self.publish_spectrum();
        }
        ProcessStatus::KeepAlive
    }
}

impl ClapPlugin for SpectralPlayer {
    const CLAP_ID: &'static str = "rs.ddsp.spectral-player";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Plays learned harmonic + noise envelopes (unified CSV) with pitch, stretch and bounce");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] =
        &[ClapFeature::Instrument, ClapFeature::Synthesizer, ClapFeature::Stereo];
}

impl Vst3Plugin for SpectralPlayer {
    const VST3_CLASS_ID: [u8; 16] = *b"DdspSpectralPlyr";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[Vst3SubCategory::Instrument, Vst3SubCategory::Synth];
}

nice_export_clap!(SpectralPlayer);
nice_export_vst3!(SpectralPlayer);

//! The real-time harmonic + noise renderer (SPEC §4), shared by the plugin (one [`Renderer`]
//! per voice), `ddsp render` and the trainer's previews.
//!
//! ```
//! use ddsp_shared::render::{RenderParams, Renderer};
//! use ddsp_shared::Envelope;
//!
//! let mut envelope = Envelope::silent(250.0, 16_000.0, 250, 4, 3, 220.0);
//! envelope.harmonic_amps.fill(0.1);
//! let mut renderer = Renderer::new();
//! renderer.prepare(48_000.0, 512); // allocates; nothing after this does
//! let params = RenderParams { pitch_steps: 7.0, ..RenderParams::default() };
//! let mut block = [0.0f32; 512];
//! renderer.process(&envelope, &params, &mut block);
//! assert!(block.iter().any(|&s| s != 0.0));
//! ```
//!
//! How it works: every [`control_tick_samples`] samples (about a millisecond) a control tick
//! smooths the controls,
//! advances the bounce and the conductor, interpolates the envelope between its frames at the
//! conductor's position, applies pitch, stretch and levels, and hands the results to the
//! oscillator bank (which ramps frequency and amplitude per sample across the tick) and, every
//! hop, to the noise synthesiser. Ticks are rendered into an internal buffer that `process`
//! copies out, so the output does not depend on how the host cuts it into blocks: blocks of 1,
//! 7, 64 or 4096 samples give bit-identical audio.
//!
//! Real-time safety: [`Renderer::prepare`] allocates everything (sized by [`MAX_HARMONICS`] and
//! [`MAX_NOISE_BANDS`]; an envelope with more harmonics or bands plays the first ones and
//! ignores the rest) and plans the FFT. [`Renderer::process`] never allocates, locks or does
//! I/O, for any block size and any envelope (the envelope is borrowed per call, so the plugin
//! may swap envelopes of any size between blocks).

mod bounce;
mod conductor;
mod inverse_real_fft;
mod noise_response;
mod noise_synth;
pub mod offline;
mod oscillator_bank;
mod params;
mod pitch;
pub mod random;
mod smoothing;
mod stretch;

pub use bounce::BOUNCE_GLIDE_S;
pub use noise_synth::{noise_density_gain, MAX_NOISE_BANDS, NOISE_HOP_MAX_S, NOISE_VARIANCE};
pub use oscillator_bank::MAX_HARMONICS;
use oscillator_bank::RAMP_SAMPLES;
pub use params::*;
pub use pitch::{tet_octaves, tet_ratio};
use stretch::FrameStretch;
pub use stretch::{centre_partial_index, stretch_all_hz, stretch_hz, AnchorMode};

use crate::Envelope;
use bounce::Bounce;
use conductor::{Conductor, FramePosition};
use noise_synth::{level_sq, NoiseSynth};
use oscillator_bank::OscillatorBank;
use smoothing::{one_pole_coefficient, Smoothed};

/// Partials are faded out over this fraction of the Nyquist frequency below it (from 95 % of
/// Nyquist to Nyquist), so a partial gliding up to Nyquist disappears smoothly instead of
/// aliasing or clicking off.
pub const NYQUIST_FADE_FRACTION: f32 = 0.05;

/// The gain of a partial at `f_hz` under the Nyquist fade of `sample_rate_hz`: 1 below
/// [`NYQUIST_FADE_FRACTION`] of Nyquist from the top, falling linearly to 0 at Nyquist. The
/// renderer fades a partial twice over, keeping the smaller gain: at the output's Nyquist for
/// the frequency it plays at (nothing aliases), and at the envelope's own Nyquist for its
/// frequency in the data (a partial near the top of a 16 kHz model sounds as it did in
/// training, where the trainer's synthesiser applies this fade at the model's rate). 1 for an
/// unusable rate.
#[inline]
pub fn nyquist_fade(f_hz: f32, sample_rate_hz: f32) -> f32 {
    NyquistFade::new(sample_rate_hz).gain(f_hz)
}

/// [`nyquist_fade`] at one rate for many frequencies: the rate's checks once, the same numbers.
#[derive(Clone, Copy)]
struct NyquistFade {
    nyquist_hz: f32,
    width_hz: f32,
    usable: bool,
}

impl NyquistFade {
    #[inline]
    fn new(sample_rate_hz: f32) -> Self {
        let nyquist_hz = 0.5 * sample_rate_hz;
        Self {
            nyquist_hz,
            width_hz: nyquist_hz * NYQUIST_FADE_FRACTION,
            usable: sample_rate_hz.is_finite() && sample_rate_hz > 0.0,
        }
    }

    #[inline(always)]
    fn gain(self, f_hz: f32) -> f32 {
        if self.usable {
            ((self.nyquist_hz - f_hz) / self.width_hz).clamp(0.0, 1.0)
        } else {
            1.0
        }
    }
}

/// Seed a renderer starts with; see [`Renderer::set_seed`].
pub const DEFAULT_SEED: u64 = 1;

/// Longest control tick, seconds: controls, the envelope's frames and the noise level are
/// read this often at least (and ramped per sample in between), so what the data does is heard
/// within a millisecond at 44.1 kHz and above (SPEC §4).
pub const CONTROL_TICK_MAX_S: f32 = 0.0015;

/// Most samples in a control tick, at any rate (the most the oscillator bank takes at once).
pub const MAX_CONTROL_TICK_SAMPLES: usize = oscillator_bank::MAX_TICK_SAMPLES;

/// Samples per control tick at `sample_rate_hz`: the longest power of two within
/// [`CONTROL_TICK_MAX_S`], at least one oscillator ramp (32 samples: 2 ms at 16 kHz) and at
/// most [`MAX_CONTROL_TICK_SAMPLES`]. 64 at 44.1 and 48 kHz (1.45 and 1.33 ms), 128 at 96 kHz.
/// The control work per tick (frame interpolation, transforms, the noise level) costs as much
/// as a ramp of 60 oscillators, so ticks are as long as the timing allows.
pub fn control_tick_samples(sample_rate_hz: f32) -> usize {
    let most = (sample_rate_hz * CONTROL_TICK_MAX_S).max(1.0) as usize;
    (1usize << most.ilog2()).clamp(RAMP_SAMPLES, MAX_CONTROL_TICK_SAMPLES)
}

/// The smoothed continuous controls.
#[derive(Clone, Copy, Debug, Default)]
struct SmoothedControls {
    /// Pitch in octaves: master pitch plus the voice's transpose.
    octaves: Smoothed,
    stretch: Smoothed,
    /// Manual anchor in octaves above 1 Hz (smoothed on a log axis).
    anchor_octaves: Smoothed,
    harmonic_gain: Smoothed,
    noise_gain: Smoothed,
}

/// The last result of a pure function of one input, kept with the input's bits: a held note's
/// controls repeat tick after tick, and the libm calls behind them (`exp`, `exp2`, `log2`, an
/// f64 square root) cost more than the rest of its control work. Bit-for-bit the same values.
#[derive(Clone, Copy, Debug, Default)]
struct Memo {
    input_bits: Option<u64>,
    value: f32,
}

impl Memo {
    #[inline(always)]
    fn get(&mut self, input_bits: u64, compute: impl FnOnce() -> f32) -> f32 {
        if self.input_bits != Some(input_bits) {
            self.value = compute();
            self.input_bits = Some(input_bits);
        }
        self.value
    }
}

/// The per-tick controls' [`Memo`]s.
#[derive(Clone, Copy, Debug, Default)]
struct ControlMemos {
    /// The smoothing coefficient, by `smoothing_ms`.
    coefficient: Memo,
    /// `log2` of the voice's transpose ratio.
    transpose_octaves: Memo,
    /// `log2` of the manual anchor.
    anchor_octaves: Memo,
    /// The smoothed manual anchor back in hertz (`exp2`).
    manual_anchor_hz: Memo,
    /// The pitch ratio (`exp2` of the smoothed octaves).
    ratio: Memo,
    /// [`noise_density_gain`] at this output rate, by the envelope's rate.
    density: Memo,
}

/// Everything a prepared renderer owns (kept apart so an unprepared renderer is just `None`).
struct Prepared {
    sample_rate_hz: f32,
    memos: ControlMemos,
    bank: OscillatorBank,
    noise: NoiseSynth,
    /// Scratch for one tick's frequency targets (radians per sample).
    omegas: Vec<f32>,
    /// Scratch for one tick's amplitude targets.
    amps: Vec<f32>,
    /// Transformed partial frequencies of the last tick, Hz (for the GUI).
    partial_freqs_hz: Vec<f32>,
    /// Transformed noise band centres of the last noise frame, Hz.
    band_centres_hz: Vec<f32>,
    /// Noise band magnitudes of the last noise frame (after level controls and spreading).
    band_mags: Vec<f32>,
    /// Band centres of the last noise frame as the data has them (before pitch and stretch).
    band_source_hz: Vec<f32>,
    /// Each band's factor for keeping the noise's power as pitch and stretch move it
    /// ([`noise_response::spread_gains`]), from the last noise frame.
    band_spread: Vec<f32>,
    /// Scratch for the data's band magnitudes at a tick's end, spread as the newest frame's.
    tick_band_mags: Vec<f32>,
    band_count: usize,
    /// The stretch of the partials and of the band centres, from their frames' logarithms.
    partial_stretch: FrameStretch,
    band_stretch: FrameStretch,
    /// Samples of the current tick.
    tick: [f32; MAX_CONTROL_TICK_SAMPLES],
}

/// One voice of harmonic + noise synthesis. See the module documentation.
pub struct Renderer {
    prepared: Option<Box<Prepared>>,
    conductor: Conductor,
    bounce: Bounce,
    controls: SmoothedControls,
    /// Extra pitch ratio of this voice (MIDI note, pitch bend).
    transpose_ratio: f32,
    /// Controls jump to their targets at the next tick (after prepare/restart).
    snap_controls: bool,
    /// Samples per control tick at the prepared rate ([`control_tick_samples`]).
    tick_samples: usize,
    /// Next sample of `Prepared::tick` to copy out; `tick_samples` = a tick is due.
    tick_read: usize,
    partial_count: usize,
    seed: u64,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("prepared", &self.prepared.is_some())
            .field("playhead_frame", &self.conductor.playhead_frame())
            .field("finished", &self.conductor.is_finished())
            .finish()
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    /// An unprepared renderer: `process` outputs silence until [`Renderer::prepare`].
    pub fn new() -> Self {
        Self {
            prepared: None,
            conductor: Conductor::default(),
            bounce: Bounce::new(DEFAULT_SEED),
            controls: SmoothedControls::default(),
            transpose_ratio: 1.0,
            snap_controls: true,
            tick_samples: RAMP_SAMPLES,
            tick_read: RAMP_SAMPLES,
            partial_count: 0,
            seed: DEFAULT_SEED,
        }
    }

    /// Allocates every buffer and plans the FFT for `sample_rate_hz`, then restarts. The only
    /// method that allocates. `max_block` is accepted for symmetry with plugin hosts: `process`
    /// takes blocks of any length, so nothing is sized by it.
    pub fn prepare(&mut self, sample_rate_hz: f32, max_block: usize) {
        let _ = max_block;
        let sample_rate_hz = if sample_rate_hz.is_finite() && sample_rate_hz > 0.0 { sample_rate_hz } else { 48_000.0 };
        self.prepared = Some(Box::new(Prepared {
            sample_rate_hz,
            memos: ControlMemos::default(),
            bank: OscillatorBank::new(),
            noise: NoiseSynth::new(sample_rate_hz, self.seed),
            omegas: vec![0.0; MAX_HARMONICS],
            amps: vec![0.0; MAX_HARMONICS],
            partial_freqs_hz: vec![0.0; MAX_HARMONICS],
            band_centres_hz: vec![0.0; MAX_NOISE_BANDS],
            band_mags: vec![0.0; MAX_NOISE_BANDS],
            band_source_hz: vec![0.0; MAX_NOISE_BANDS],
            band_spread: vec![1.0; MAX_NOISE_BANDS],
            tick_band_mags: vec![0.0; MAX_NOISE_BANDS],
            band_count: 0,
            partial_stretch: FrameStretch::new(MAX_HARMONICS),
            band_stretch: FrameStretch::new(MAX_NOISE_BANDS),
            tick: [0.0; MAX_CONTROL_TICK_SAMPLES],
        }));
        self.tick_samples = control_tick_samples(sample_rate_hz);
        self.restart();
    }

    /// Sample rate given to [`Renderer::prepare`] (`None` before).
    pub fn sample_rate_hz(&self) -> Option<f32> {
        self.prepared.as_ref().map(|p| p.sample_rate_hz)
    }

    /// Back to the start of the window: phases reset, noise and jitter streams restart from
    /// their seeds, controls jump to their values at the next block, and a bounce that is
    /// enabled starts again. Never allocates.
    pub fn restart(&mut self) {
        self.conductor.restart();
        self.bounce = Bounce::new(self.seed);
        self.snap_controls = true;
        self.tick_read = self.tick_samples;
        self.partial_count = 0;
        if let Some(p) = self.prepared.as_mut() {
            p.bank.reset();
            p.noise.set_seed(self.seed);
            p.noise.reset();
            p.band_count = 0;
            p.tick = [0.0; MAX_CONTROL_TICK_SAMPLES];
        }
    }

    /// Moves the read position to `offset_s` envelope seconds after the start of the playback
    /// window (wrapped when it loops), from the next sample on. Phases run on, so the jump
    /// clicks no more than the sound itself changes. The plugin's host sync uses it to follow
    /// the song position. Never allocates.
    pub fn seek_window_s(&mut self, offset_s: f64) {
        self.conductor.seek(offset_s);
    }

    /// Seed of the noise and bounce jitter, used from the next [`Renderer::restart`] (or
    /// [`Renderer::prepare`]). Give each voice of a polyphonic instrument its own seed so that
    /// two notes do not carry the same noise.
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// Extra pitch ratio of this voice (a MIDI note's transposition times pitch bend),
    /// smoothed like the other controls. Non-positive or non-finite values are ignored.
    pub fn set_transpose_ratio(&mut self, ratio: f32) {
        if ratio.is_finite() && ratio > 0.0 {
            self.transpose_ratio = ratio;
        }
    }

    /// Starts a new bounce now if bounce is enabled (restarting one that is running).
    pub fn trigger_bounce(&mut self) {
        self.bounce.trigger();
    }

    /// Whether a bounce oscillation is running (not counting the glide back).
    pub fn is_bouncing(&self) -> bool {
        self.bounce.is_active()
    }

    /// Fractional position in the envelope's arrays being played (frame `a` plus the fraction
    /// towards the next), for the GUI's playhead.
    pub fn playhead_frame(&self) -> f64 {
        self.conductor.playhead_frame()
    }

    /// Samples left of the control tick already rendered; 0 means the next sample starts a
    /// new tick (whose controls are read then). A caller that changes the envelope between
    /// frames (a live model voice) does it when this is 0, so the change lands on a tick.
    pub fn samples_left_in_tick(&self) -> usize {
        self.tick_samples - self.tick_read
    }

    /// Samples per control tick ([`control_tick_samples`] at the prepared rate).
    pub fn tick_samples(&self) -> usize {
        self.tick_samples
    }

    /// Envelope time, seconds, that the next tick will read from (valid when
    /// [`Renderer::samples_left_in_tick`] is 0 and no seek is pending).
    pub fn next_tick_time_s(&self) -> f64 {
        self.conductor.time_s()
    }

    /// A non-looping window has been played to its end (the output is silent from then on,
    /// after a fade of one tick and the noise's last frame).
    pub fn is_finished(&self) -> bool {
        self.conductor.is_finished()
    }

    /// Copies the transformed partials of the current tick (frequency in Hz, amplitude after
    /// the level controls and the Nyquist fade) into `freqs_hz` and `amps`; returns how many
    /// were written (the smaller of the partial count and the slices' lengths).
    pub fn current_partials(&self, freqs_hz: &mut [f32], amps: &mut [f32]) -> usize {
        let Some(p) = self.prepared.as_ref() else { return 0 };
        let n = self.partial_count.min(freqs_hz.len()).min(amps.len());
        freqs_hz[..n].copy_from_slice(&p.partial_freqs_hz[..n]);
        amps[..n].copy_from_slice(&p.amps[..n]);
        n
    }

    /// Copies the transformed noise bands of the current noise frame (centre in Hz, magnitude
    /// after the level controls and as moving thins or thickens it: what sounds per hertz);
    /// returns how many were written.
    pub fn current_noise_bands(&self, centres_hz: &mut [f32], mags: &mut [f32]) -> usize {
        let Some(p) = self.prepared.as_ref() else { return 0 };
        let n = p.band_count.min(centres_hz.len()).min(mags.len());
        centres_hz[..n].copy_from_slice(&p.band_centres_hz[..n]);
        mags[..n].copy_from_slice(&p.band_mags[..n]);
        n
    }

    /// Renders `out.len()` samples of mono audio into `out` (overwriting it). Any block length;
    /// never allocates. Silence before [`Renderer::prepare`].
    pub fn process(&mut self, envelope: &Envelope, params: &RenderParams, out: &mut [f32]) {
        if self.prepared.is_none() {
            out.fill(0.0);
            return;
        }
        let params = params.sanitized();
        // An envelope whose arrays disagree with its counts would make indexing panic on the
        // audio thread: it plays as an empty one (silence, finished) instead.
        let empty;
        let envelope = if is_playable(envelope) {
            envelope
        } else {
            empty = Envelope::EMPTY;
            &empty
        };
        let mut written = 0;
        while written < out.len() {
            if self.tick_read == self.tick_samples {
                self.render_tick(envelope, &params);
                self.tick_read = 0;
            }
            let Some(p) = self.prepared.as_ref() else { return };
            let n = (self.tick_samples - self.tick_read).min(out.len() - written);
            out[written..written + n].copy_from_slice(&p.tick[self.tick_read..self.tick_read + n]);
            self.tick_read += n;
            written += n;
        }
    }

    /// One control tick: controls, bounce, conductor, transforms; then the tick's audio. On
    /// x86-64 CPUs with AVX2 the per-partial and per-band loops run eight wide (chosen at run
    /// time; no fused multiply-adds, so the samples are the same bits as the portable path's).
    fn render_tick(&mut self, envelope: &Envelope, params: &RenderParams) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { self.render_tick_avx2(envelope, params) };
            return;
        }
        self.render_tick_body(envelope, params);
    }

    /// [`Renderer::render_tick_body`] compiled for AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn render_tick_avx2(&mut self, envelope: &Envelope, params: &RenderParams) {
        self.render_tick_body(envelope, params);
    }

    #[inline(always)]
    fn render_tick_body(&mut self, envelope: &Envelope, params: &RenderParams) {
        let Some(p) = self.prepared.as_deref_mut() else { return };
        let tick_samples = self.tick_samples;
        let dt_s = tick_samples as f32 / p.sample_rate_hz;

        // Controls.
        let memos = &mut p.memos;
        let transpose_ratio = self.transpose_ratio;
        let transpose_octaves =
            memos.transpose_octaves.get(transpose_ratio.to_bits().into(), || transpose_ratio.log2());
        let octaves_target = tet_octaves(params.pitch_steps, params.tet_size) + transpose_octaves;
        let anchor_octaves_target =
            memos.anchor_octaves.get(params.anchor_hz.to_bits().into(), || params.anchor_hz.log2());
        let harmonic_gain_target = params.harmonic_volume * params.partial_gain;
        let noise_gain_target = params.noise_volume * params.noise_magnitude_scale;
        let c = &mut self.controls;
        let snap = self.snap_controls;
        let coefficient = if snap {
            1.0
        } else {
            memos
                .coefficient
                .get(params.smoothing_ms.to_bits().into(), || one_pole_coefficient(params.smoothing_ms, dt_s))
        };
        let octaves = c.octaves.step(octaves_target, coefficient);
        let static_stretch = c.stretch.step(params.stretch, coefficient);
        let anchor_octaves = c.anchor_octaves.step(anchor_octaves_target, coefficient);
        let manual_anchor_hz = memos.manual_anchor_hz.get(anchor_octaves.to_bits().into(), || anchor_octaves.exp2());
        let harmonic_gain = c.harmonic_gain.step(harmonic_gain_target, coefficient);
        let noise_gain = c.noise_gain.step(noise_gain_target, coefficient);
        self.snap_controls = false;

        let stretch = self.bounce.step(&params.bounce, static_stretch, dt_s);
        let tick_s = tick_samples as f64 / p.sample_rate_hz as f64;
        let position = self.conductor.step(envelope, params, tick_s);
        // The oscillators and the noise level ramp across the tick to the data's values at
        // the tick's end, where the conductor now is, so they follow the data on time rather
        // than a tick late. The last tick of a window (its end is past the data) holds the
        // values at its start.
        let tick_end = {
            let mut at_end = self.conductor;
            at_end.step(envelope, params, 0.0)
        };
        let target = tick_end.or(position);
        let ratio = p.memos.ratio.get(octaves.to_bits().into(), || octaves.exp2());

        let harmonics = envelope.harmonic_count.min(MAX_HARMONICS);
        let envelope_rate_hz = envelope.sample_rate_hz as f32;
        let hz_to_omega = std::f32::consts::TAU / p.sample_rate_hz;
        let (count, given) = match target {
            None => (0, 0),
            Some(pos) => {
                let anchor_hz = anchor_for(envelope, pos, params.anchor, ratio, manual_anchor_hz);
                let freqs = FrameLerp::new(envelope.harmonic_count, &envelope.harmonic_freqs_hz, pos);
                let amps = FrameLerp::new(envelope.harmonic_count, &envelope.harmonic_amps, pos);
                // Harmonics silent in both frames at the top (a model's above its Nyquist, a
                // CSV's beyond its last partial) are silent all tick: skip their transforms.
                let sounding =
                    (0..harmonics).rev().find(|&k| amps.a[k] != 0.0 || amps.b[k] != 0.0).map_or(0, |k| k + 1);
                let freqs_hz = &mut p.partial_freqs_hz[..sounding];
                let fades = &mut p.amps[..sounding];
                // Each partial's fade at the envelope's Nyquist, on its frequency in the data,
                // waits in `fades` while pitch and stretch move the frequencies. (Loops over
                // zipped slices with the rates' checks hoisted, so they run in SIMD.)
                let source_fade = NyquistFade::new(envelope_rate_hz);
                for (((f_hz, fade), &a), &b) in freqs_hz.iter_mut().zip(fades.iter_mut()).zip(freqs.a).zip(freqs.b) {
                    let source_hz = lerp(a, b, freqs.t);
                    *fade = source_fade.gain(source_hz);
                    *f_hz = source_hz * ratio;
                }
                let frames = (&freqs.a[..sounding], &freqs.b[..sounding], freqs.t);
                p.partial_stretch.stretch(frames, octaves, anchor_hz, stretch, freqs_hz);
                let output_fade = NyquistFade::new(p.sample_rate_hz);
                let omegas = &mut p.omegas[..sounding];
                for ((((omega, amp), &f_hz), &a), &b) in
                    omegas.iter_mut().zip(fades.iter_mut()).zip(freqs_hz.iter()).zip(amps.a).zip(amps.b)
                {
                    let fade = output_fade.gain(f_hz).min(*amp);
                    *omega = f_hz * hz_to_omega;
                    *amp = lerp(a, b, amps.t) * harmonic_gain * fade;
                }
                // The silent ones above still keep time (their phases run on at their
                // frequencies in the data, pitch applied), for when they sound again.
                let top_freqs = freqs.a[sounding..harmonics].iter().zip(&freqs.b[sounding..harmonics]);
                for (omega, (&a, &b)) in p.omegas[sounding..harmonics].iter_mut().zip(top_freqs) {
                    *omega = lerp(a, b, freqs.t) * ratio * hz_to_omega;
                }
                p.amps[sounding..harmonics].fill(0.0);
                (sounding, harmonics)
            }
        };
        p.bank.set_targets(&p.omegas[..given], &p.amps[..given], snap);
        self.partial_count = count;

        // The noise's level follows the data every tick; a new frame's colour is read half a
        // frame ahead, at the frame's centre (see `noise_synth`). Band magnitudes are a
        // spectral density at the envelope's own rate (SPEC §4): `density` converts them to
        // this output rate (the GUI is shown them without it).
        let output_rate_hz = p.sample_rate_hz;
        let density = p
            .memos
            .density
            .get(envelope.sample_rate_hz.to_bits(), || noise_density_gain(output_rate_hz, envelope.sample_rate_hz));
        if p.noise.needs_frame() {
            // The conductor has already moved past this tick: the frame's centre is half a
            // frame after the tick's start.
            let ahead_s = p.noise.frame_centre_delay_s() - tick_s;
            let mut ahead = self.conductor;
            ahead.step(envelope, params, ahead_s.max(0.0));
            let bands = match ahead.step(envelope, params, 0.0) {
                None => 0,
                Some(pos) => {
                    let bands = envelope.noise_band_count.min(MAX_NOISE_BANDS);
                    let anchor_hz = anchor_for(envelope, pos, params.anchor, ratio, manual_anchor_hz);
                    let centres = FrameLerp::new(envelope.noise_band_count, &envelope.band_centres_hz, pos);
                    let mags = FrameLerp::new(envelope.noise_band_count, &envelope.band_mags, pos);
                    let moved = p.band_source_hz[..bands].iter_mut().zip(&mut p.band_centres_hz[..bands]);
                    for ((source_hz, moved_hz), (&a, &b)) in moved.zip(centres.a.iter().zip(centres.b)) {
                        *source_hz = lerp(a, b, centres.t);
                        *moved_hz = *source_hz * ratio;
                    }
                    let frames = (&centres.a[..bands], &centres.b[..bands], centres.t);
                    p.band_stretch.stretch(frames, octaves, anchor_hz, stretch, &mut p.band_centres_hz[..bands]);
                    // Moved bands keep the noise's power (an identity transform moves nothing).
                    if ratio == 1.0 && stretch == 1.0 {
                        p.band_spread[..bands].fill(1.0);
                    } else {
                        let min_spacing_hz = 0.25 * p.noise.bin_hz();
                        let (source, moved) = (&p.band_source_hz[..bands], &p.band_centres_hz[..bands]);
                        noise_response::spread_gains(source, moved, min_spacing_hz, &mut p.band_spread[..bands]);
                    }
                    let band_mags = p.band_mags[..bands].iter_mut().zip(&p.band_spread[..bands]);
                    for ((m, &spread), (&a, &b)) in band_mags.zip(mags.a.iter().zip(mags.b)) {
                        *m = lerp(a, b, mags.t) * noise_gain * spread;
                    }
                    bands
                }
            };
            p.band_count = bands;
            p.noise.start_frame(&p.band_centres_hz[..bands], &p.band_mags[..bands], density);
        }

        // The data's level at the tick's end, spread as the newest frame's bands are.
        let noise_level_sq = match tick_end {
            None => 0.0,
            Some(pos) => {
                let bands = envelope.noise_band_count.min(MAX_NOISE_BANDS);
                let mags = FrameLerp::new(envelope.noise_band_count, &envelope.band_mags, pos);
                let tick_mags = &mut p.tick_band_mags[..bands];
                for (((m, &a), &b), &spread) in tick_mags.iter_mut().zip(mags.a).zip(mags.b).zip(&p.band_spread) {
                    *m = lerp(a, b, mags.t) * spread;
                }
                let gain = noise_gain * density;
                level_sq(tick_mags) * gain * gain
            }
        };
        let tick = &mut p.tick[..tick_samples];
        p.bank.render_tick(tick);
        p.noise.add_tick(tick, noise_level_sq);
    }
}

/// The array lengths agree with the counts and the frame rate is usable (O(1); the full
/// [`Envelope::validate`] belongs where envelopes are loaded, off the audio thread).
fn is_playable(e: &Envelope) -> bool {
    let n = e.frame_indices.len();
    e.frame_rate_hz.is_finite()
        && e.frame_rate_hz > 0.0
        && e.f0_hz.len() == n
        && e.harmonic_freqs_hz.len() == n * e.harmonic_count
        && e.harmonic_amps.len() == n * e.harmonic_count
        && e.band_centres_hz.len() == n * e.noise_band_count
        && e.band_mags.len() == n * e.noise_band_count
}

/// The stretch anchor for the frame at `pos` (after pitch `ratio` where the mode follows the
/// sound).
fn anchor_for(envelope: &Envelope, pos: FramePosition, mode: AnchorMode, ratio: f32, manual_hz: f32) -> f32 {
    match mode {
        AnchorMode::ManualHz => manual_hz,
        AnchorMode::FixedF0 => lerp(envelope.f0_hz[pos.a], envelope.f0_hz[pos.b], pos.fraction) * ratio,
        AnchorMode::CentrePartial => {
            if envelope.harmonic_count == 0 {
                lerp(envelope.f0_hz[pos.a], envelope.f0_hz[pos.b], pos.fraction) * ratio
            } else {
                let k = centre_partial_index(envelope.harmonic_count.min(MAX_HARMONICS));
                FrameLerp::new(envelope.harmonic_count, &envelope.harmonic_freqs_hz, pos).at(k) * ratio
            }
        }
    }
}

/// Whether `a` and `b` hold the same values bit for bit (the memos' test that a held note's
/// inputs repeat). Every value is compared, without a branch per value (so in SIMD): a held
/// note's are all equal, and a search that stops at the first difference costs a branch each.
#[inline(always)]
fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u32, |d, (x, y)| d | (x.to_bits() ^ y.to_bits())) == 0
}

#[inline]
fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + t * (b - a)
}

/// Linear interpolation of one per-frame array between two frames.
struct FrameLerp<'a> {
    a: &'a [f32],
    b: &'a [f32],
    t: f32,
}

impl<'a> FrameLerp<'a> {
    fn new(per_frame: usize, values: &'a [f32], pos: FramePosition) -> Self {
        Self {
            a: &values[pos.a * per_frame..(pos.a + 1) * per_frame],
            b: &values[pos.b * per_frame..(pos.b + 1) * per_frame],
            t: pos.fraction,
        }
    }

    #[inline]
    fn at(&self, k: usize) -> f32 {
        lerp(self.a[k], self.b[k], self.t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renderer_can_move_to_the_audio_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Renderer>();
    }

    #[test]
    fn control_ticks_are_within_a_millisecond_and_a_half_and_whole_ramps() {
        for (rate, samples) in [(16_000.0, 32), (22_050.0, 32), (44_100.0, 64), (48_000.0, 64), (96_000.0, 128)] {
            assert_eq!(control_tick_samples(rate), samples, "at {rate} Hz");
        }
        for rate in [8_000.0, 16_000.0, 44_100.0, 48_000.0, 88_200.0, 96_000.0, 192_000.0, 768_000.0] {
            let samples = control_tick_samples(rate);
            assert_eq!(samples % RAMP_SAMPLES, 0, "at {rate} Hz");
            assert!(samples <= MAX_CONTROL_TICK_SAMPLES);
            assert!(samples == RAMP_SAMPLES || samples as f32 / rate <= CONTROL_TICK_MAX_S, "at {rate} Hz");
        }
    }

    #[test]
    fn an_unprepared_renderer_outputs_silence() {
        let mut envelope = Envelope::silent(250.0, 16_000.0, 10, 2, 2, 220.0);
        envelope.harmonic_amps.fill(0.5);
        let mut out = [1.0f32; 64];
        Renderer::new().process(&envelope, &RenderParams::default(), &mut out);
        assert!(out.iter().all(|&x| x == 0.0));
    }
}

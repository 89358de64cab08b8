//! One live model voice: the decoder sings frame by frame and the §4 renderer plays what it
//! sings, so pitch, stretch, anchors, bounce and the level controls apply to the model exactly
//! as they apply to a CSV.
//!
//! How the frames reach the renderer: the voice owns a small envelope of [`LIVE_FRAMES`]
//! frames at the model's frame rate. Row 0 is the previous decoded frame, the rows after it the
//! newest one. The renderer reads it from time 0 like any envelope, interpolating from the
//! previous frame towards the newest; once it has read one frame period, the voice shifts the
//! rows (the newest becomes the previous), decodes the next frame from the note's current f0
//! and loudness, and moves the read position back by one period. The shift happens on a
//! control tick boundary and the read position moves back by exactly what the rows moved, so
//! the sound runs on without a seam whatever the host's block sizes. The controls follow the
//! note one model frame late (20 ms for the `quick` preset, 4 ms for `full`): that is the
//! whole of the model path's delay, and nothing is reported to the host as latency.
//!
//! Real-time safety: [`ModelVoice::new`] and [`ModelVoice::prepare`] allocate; everything else
//! never allocates, locks or does I/O. The model is borrowed per call.

use crate::envelope::linear_band_centre_hz;
use crate::render::{RenderParams, Renderer};
use crate::Envelope;

use super::decoder::{DecodedFrame, Decoder};
use super::file::InstrumentFile;
use super::{HARMONIC_COUNT, NOISE_BAND_COUNT};

/// Frames in the live envelope: the previous one and three copies of the newest, so the
/// renderer's noise look-ahead (half a noise frame, about 4 ms) never runs off its end even at
/// 250 frames per second.
pub const LIVE_FRAMES: usize = 4;

/// What the decoder is asked to sing right now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelNote {
    /// Fundamental, Hz (every pitch control already applied).
    pub f0_hz: f32,
    /// Loudness, dB on the trainer's A-weighted scale.
    pub loudness_db: f32,
}

/// A decoder, its live envelope and the renderer that plays it.
#[derive(Debug)]
pub struct ModelVoice {
    decoder: Decoder,
    frame: DecodedFrame,
    envelope: Envelope,
    renderer: Renderer,
    /// One model frame, seconds (of the model the envelope was last set up for).
    frame_period_s: f64,
}

impl Default for ModelVoice {
    fn default() -> Self {
        Self::new()
    }
}

impl ModelVoice {
    /// An unprepared voice (silent until [`ModelVoice::prepare`]). Allocates.
    pub fn new() -> Self {
        Self {
            decoder: Decoder::new(),
            frame: DecodedFrame::default(),
            envelope: Envelope::silent(50.0, 16_000.0, LIVE_FRAMES, HARMONIC_COUNT, NOISE_BAND_COUNT, 0.0),
            renderer: Renderer::new(),
            frame_period_s: 0.02,
        }
    }

    /// Prepares the renderer for the output rate. Allocates: call where a host activates.
    pub fn prepare(&mut self, sample_rate_hz: f32, max_block: usize) {
        self.renderer.prepare(sample_rate_hz, max_block);
    }

    /// Seed of the renderer's noise and bounce jitter (give each voice slot its own).
    pub fn set_seed(&mut self, seed: u64) {
        self.renderer.set_seed(seed);
    }

    /// The renderer, for what the GUI shows (current partials and bands) and bounce triggers.
    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// The renderer, writable (to trigger a bounce).
    pub fn renderer_mut(&mut self) -> &mut Renderer {
        &mut self.renderer
    }

    /// Starts a note: the GRU state from zero (as every training example started), every row
    /// of the live envelope the first decoded frame, the renderer from its start.
    pub fn start(&mut self, model: &InstrumentFile, note: ModelNote) {
        self.decoder.reset();
        self.envelope.frame_rate_hz = model.frame_rate_hz as f64;
        self.envelope.sample_rate_hz = model.sample_rate_hz as f64;
        self.frame_period_s = 1.0 / model.frame_rate_hz as f64;
        for b in 0..NOISE_BAND_COUNT {
            let centre = linear_band_centre_hz(b, NOISE_BAND_COUNT, model.sample_rate_hz as f64);
            for row in 0..LIVE_FRAMES {
                self.envelope.band_centres_hz[row * NOISE_BAND_COUNT + b] = centre;
            }
        }
        self.decode(model, note);
        for row in 0..LIVE_FRAMES {
            self.write_row(row);
        }
        self.renderer.set_transpose_ratio(1.0);
        self.renderer.restart();
    }

    /// Renders `out.len()` samples (overwriting `out`) with the decoder following `note`.
    /// `params` are the §4 controls; the voice plays its own timeline, so the window, loop,
    /// rate and update-rate controls do not apply, and master pitch belongs in `note.f0_hz`.
    pub fn process(&mut self, model: &InstrumentFile, params: &RenderParams, note: ModelNote, out: &mut [f32]) {
        let params = RenderParams {
            pitch_steps: 0.0,
            start_frame: 0,
            frame_count: 0,
            looping: false,
            playback_rate: 1.0,
            update_rate_hz: 0.0,
            ..*params
        };
        let mut written = 0;
        while written < out.len() {
            let mut n = self.renderer.samples_left_in_tick();
            if n == 0 {
                // A tick starts here: move to the next model frame if one period has been read.
                let mut time_s = self.renderer.next_tick_time_s();
                let mut moved = false;
                for _ in 0..LIVE_FRAMES {
                    if time_s < self.frame_period_s {
                        break;
                    }
                    self.shift_and_decode(model, note);
                    time_s -= self.frame_period_s;
                    moved = true;
                }
                if moved {
                    self.renderer.seek_window_s(time_s);
                }
                n = self.renderer.tick_samples();
            }
            let n = n.min(out.len() - written);
            self.renderer.process(&self.envelope, &params, &mut out[written..written + n]);
            written += n;
        }
    }

    /// The newest decoded frame (what the voice is heading to).
    pub fn current_frame(&self) -> &DecodedFrame {
        &self.frame
    }

    /// The newest frame becomes the previous one; the next is decoded into the other rows.
    fn shift_and_decode(&mut self, model: &InstrumentFile, note: ModelNote) {
        self.envelope.f0_hz.copy_within(1..2, 0);
        self.envelope.harmonic_freqs_hz.copy_within(HARMONIC_COUNT..2 * HARMONIC_COUNT, 0);
        self.envelope.harmonic_amps.copy_within(HARMONIC_COUNT..2 * HARMONIC_COUNT, 0);
        self.envelope.band_mags.copy_within(NOISE_BAND_COUNT..2 * NOISE_BAND_COUNT, 0);
        self.decode(model, note);
        for row in 1..LIVE_FRAMES {
            self.write_row(row);
        }
    }

    fn decode(&mut self, model: &InstrumentFile, note: ModelNote) {
        let f0_hz = if note.f0_hz.is_finite() && note.f0_hz > 0.0 { note.f0_hz } else { 0.0 };
        let loudness_db = if note.loudness_db.is_finite() { note.loudness_db } else { -120.0 };
        self.decoder.decode(&model.weights, model.sample_rate_hz as f32, f0_hz, loudness_db, &mut self.frame);
    }

    fn write_row(&mut self, row: usize) {
        let f = &self.frame;
        self.envelope.f0_hz[row] = f.f0_hz;
        let h = row * HARMONIC_COUNT..(row + 1) * HARMONIC_COUNT;
        for (k, freq) in self.envelope.harmonic_freqs_hz[h.clone()].iter_mut().enumerate() {
            *freq = f.f0_hz * (k + 1) as f32;
        }
        self.envelope.harmonic_amps[h].copy_from_slice(&f.harmonic_amps);
        self.envelope.band_mags[row * NOISE_BAND_COUNT..(row + 1) * NOISE_BAND_COUNT].copy_from_slice(&f.noise_mags);
    }
}

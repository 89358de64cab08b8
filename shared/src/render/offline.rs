//! The one offline render (SPEC §4): an envelope played from its start frame to the end of its
//! window (or for a fixed number of seconds), then a short release tail, block by block. Every
//! command that turns a CSV into a file goes through it (`ddsp render`, the export previews,
//! the report's resynthesis, `ddsp transfer`), so the same CSV and settings give the same
//! samples and the same length everywhere.

use super::{RenderParams, Renderer};
use crate::Envelope;

/// Rendered after a non-looping window ends, seconds: the last tick's fade and the noise's
/// last frame are then in the file.
pub const RELEASE_TAIL_S: f64 = 0.03;

/// Samples handed to the renderer per call.
pub const OFFLINE_BLOCK_SAMPLES: usize = 4096;

/// How long an offline render runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OfflineLength {
    /// Until the window has played once at the playback rate, plus [`RELEASE_TAIL_S`].
    Window,
    /// Exactly this many samples (loops and frozen playback need it).
    Samples(usize),
}

/// An offline render in progress: call [`OfflineRender::next_block`] until it returns 0. A
/// [`OfflineLength::Window`] render needs a window that ends: not looping, playback rate not 0
/// (the commands check this before they start).
#[derive(Debug)]
pub struct OfflineRender<'a> {
    envelope: &'a Envelope,
    params: RenderParams,
    renderer: Renderer,
    length: OfflineLength,
    /// Output samples one pass of the window takes at the playback rate.
    window_samples: usize,
    tail_samples: usize,
    /// Samples still to come once the window has ended (`None` while it plays).
    tail_left: Option<usize>,
    written: usize,
}

impl<'a> OfflineRender<'a> {
    /// A render of `envelope` at `sample_rate_hz` with `params`, noise and bounce seeded with
    /// `seed`. Allocates the renderer's buffers.
    pub fn new(
        envelope: &'a Envelope,
        params: &RenderParams,
        sample_rate_hz: f32,
        seed: u64,
        length: OfflineLength,
    ) -> Self {
        let mut renderer = Renderer::new();
        renderer.set_seed(seed);
        renderer.prepare(sample_rate_hz, OFFLINE_BLOCK_SAMPLES);
        Self {
            envelope,
            params: *params,
            renderer,
            length,
            window_samples: window_samples(envelope, params, sample_rate_hz),
            tail_samples: (RELEASE_TAIL_S * f64::from(sample_rate_hz)) as usize,
            tail_left: None,
            written: 0,
        }
    }

    /// Samples the whole render will have, for a progress bar: exact for a fixed length, and
    /// for a window, its duration at the playback rate plus the tail (the true end falls on
    /// the renderer's tick, within a few samples).
    pub fn estimated_samples(&self) -> usize {
        match self.length {
            OfflineLength::Samples(total) => total,
            OfflineLength::Window => self.window_samples + self.tail_samples,
        }
    }

    /// Renders the next samples into the front of `block` (at most its length and
    /// [`OFFLINE_BLOCK_SAMPLES`]); returns how many, 0 once the render is complete.
    pub fn next_block(&mut self, block: &mut [f32]) -> usize {
        let want = match (self.length, self.tail_left) {
            (OfflineLength::Samples(total), _) => total - self.written,
            (OfflineLength::Window, Some(left)) => left,
            // Near the window's end, one control tick at a time: the renderer says it has
            // finished on a tick, and the tail starts right there whatever the block size.
            (OfflineLength::Window, None) if self.written + 2 * OFFLINE_BLOCK_SAMPLES < self.window_samples => {
                OFFLINE_BLOCK_SAMPLES
            }
            (OfflineLength::Window, None) => match self.renderer.samples_left_in_tick() {
                0 => self.renderer.tick_samples(),
                left => left,
            },
        };
        let n = want.min(block.len()).min(OFFLINE_BLOCK_SAMPLES);
        if n == 0 {
            return 0;
        }
        self.renderer.process(self.envelope, &self.params, &mut block[..n]);
        self.written += n;
        if let Some(left) = self.tail_left.as_mut() {
            *left -= n;
        } else if self.length == OfflineLength::Window && self.renderer.is_finished() {
            self.tail_left = Some(self.tail_samples);
        }
        n
    }

    /// Renders to the end into memory, telling `on_progress` how many samples each block added.
    pub fn collect(mut self, mut on_progress: impl FnMut(usize)) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.estimated_samples());
        let mut block = vec![0.0f32; OFFLINE_BLOCK_SAMPLES];
        loop {
            let n = self.next_block(&mut block);
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&block[..n]);
            on_progress(n);
        }
    }
}

/// Output samples one pass of `params`' window of `envelope` takes at the playback rate.
fn window_samples(envelope: &Envelope, params: &RenderParams, sample_rate_hz: f32) -> usize {
    let frames = envelope.frame_count();
    let start = params.start_frame.min(frames);
    let end = if params.frame_count == 0 { frames } else { start.saturating_add(params.frame_count).min(frames) };
    let window_frames =
        if end > start { envelope.frame_indices[end - 1] + 1 - envelope.frame_indices[start] } else { 0 };
    let window_s = window_frames as f64 / envelope.frame_rate_hz;
    let rate = f64::from(params.playback_rate.abs()).max(1e-9);
    (window_s / rate * f64::from(sample_rate_hz)) as usize
}

/// The whole offline render of `envelope` in memory.
pub fn render_offline(
    envelope: &Envelope,
    params: &RenderParams,
    sample_rate_hz: f32,
    seed: u64,
    length: OfflineLength,
) -> Vec<f32> {
    OfflineRender::new(envelope, params, sample_rate_hz, seed, length).collect(|_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frames: usize) -> Envelope {
        let mut e = Envelope::silent(100.0, 16_000.0, frames, 2, 2, 220.0);
        for i in 0..frames {
            e.harmonic_freqs_hz[i * 2] = 220.0;
            e.harmonic_freqs_hz[i * 2 + 1] = 440.0;
            e.harmonic_amps[i * 2] = 0.3;
            e.harmonic_amps[i * 2 + 1] = 0.1;
        }
        e
    }

    #[test]
    fn a_window_render_lasts_the_window_plus_the_tail_whatever_the_block() {
        let envelope = tone(50);
        let params = RenderParams::default();
        let whole = render_offline(&envelope, &params, 48_000.0, 1, OfflineLength::Window);
        let expected = 0.5 * 48_000.0 + RELEASE_TAIL_S * 48_000.0;
        assert!((whole.len() as f64 - expected).abs() <= 64.0, "{} samples, expected about {expected}", whole.len());
        // The tail holds the fade to silence.
        assert!(whole[..24_000].iter().any(|s| s.abs() > 0.1));
        assert!(whole[whole.len() - 100..].iter().all(|s| s.abs() < 1e-6));

        // Small blocks give the very same samples.
        let mut render = OfflineRender::new(&envelope, &params, 48_000.0, 1, OfflineLength::Window);
        let mut pieces = Vec::new();
        let mut block = [0.0f32; 100];
        while let n @ 1.. = render.next_block(&mut block) {
            pieces.extend_from_slice(&block[..n]);
        }
        assert_eq!(pieces, whole);
    }

    #[test]
    fn a_fixed_length_render_has_exactly_that_length_and_the_estimate_is_close() {
        let envelope = tone(50);
        let params = RenderParams { looping: true, ..RenderParams::default() };
        assert_eq!(render_offline(&envelope, &params, 44_100.0, 1, OfflineLength::Samples(70_001)).len(), 70_001);
        let plain = RenderParams::default();
        let render = OfflineRender::new(&envelope, &plain, 44_100.0, 1, OfflineLength::Window);
        let estimate = render.estimated_samples();
        let actual = render_offline(&envelope, &plain, 44_100.0, 1, OfflineLength::Window).len();
        assert!(estimate.abs_diff(actual) <= 64, "estimate {estimate}, actual {actual}");
    }
}

//! The conductor: where in the envelope a voice is reading (SPEC §4 "conductor").
//!
//! Time runs in envelope seconds: frame `i` sits at `frame_indices[i] / frame_rate_hz`, so a
//! downsampled file that skips indices plays at its real speed. The playback window is
//! `[start_frame, start_frame + frame_count)` in array positions, from the time of its first
//! frame to one frame period after its last (as [`Envelope::duration_s`] counts). The rate
//! scales how fast envelope time passes (0 freezes, negative plays backwards from the window's
//! end); a looping window wraps, a non-looping one finishes. With an update rate, the read
//! position only moves on the ticks of a clock at that rate, like the original's `Routine`.
//!
//! The window and the rate are read on every step, so the plugin may change them (or swap in
//! a shorter envelope) at any time: positions outside the new window are pulled into it.

use crate::Envelope;

use super::params::RenderParams;

/// Where to read the envelope: between frames `a` and `b` (array positions), `fraction` of
/// the way from `a` to `b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FramePosition {
    /// Earlier frame.
    pub a: usize,
    /// Later frame (equal to `a` when holding the last frame of the window).
    pub b: usize,
    /// 0..1 from `a` to `b`.
    pub fraction: f32,
}

/// Playback position of one voice.
#[derive(Clone, Copy, Debug, Default)]
pub struct Conductor {
    /// Envelope time, seconds.
    time_s: f64,
    /// The time the stepped clock last read (equal to `time_s` in continuous mode).
    read_time_s: f64,
    /// Fraction of the stepped clock's period elapsed.
    clock_phase: f64,
    /// Set once the first step has placed `time_s` in the window.
    started: bool,
    /// A non-looping window has been played to its end.
    finished: bool,
    /// Fractional array position last read, for the GUI.
    playhead_frame: f64,
    /// Envelope seconds after the window start that the next step jumps to (host sync).
    pending_seek_s: Option<f64>,
    /// Array position of the frame found last: the next search starts there, so a voice
    /// playing forwards finds its frame in one or two comparisons instead of a binary search.
    last_frame: usize,
    /// The window's times from the last step, with what they were computed from.
    window_times: WindowTimes,
}

/// A window's start and end time and its last frame's time, seconds, and the frame indices
/// and frame rate they come from: a voice steps several times a tick through the same window,
/// and the three divisions cost more than comparing what they depend on.
#[derive(Clone, Copy, Debug, Default)]
struct WindowTimes {
    /// `(first frame's index, last frame's index, frame rate's bits)`; `None` before the
    /// first step.
    key: Option<(u64, u64, u64)>,
    start_s: f64,
    end_s: f64,
    last_frame_s: f64,
}

impl WindowTimes {
    /// The times of the window from frame index `first` to `last` at `rate` frames/s.
    fn get(&mut self, first: u64, last: u64, rate: f64) -> (f64, f64, f64) {
        let key = Some((first, last, rate.to_bits()));
        if self.key != key {
            *self = Self {
                key,
                start_s: first as f64 / rate,
                end_s: (last + 1) as f64 / rate,
                last_frame_s: last as f64 / rate,
            };
        }
        (self.start_s, self.end_s, self.last_frame_s)
    }
}

/// The window of `params` in `envelope`: first and one-past-last array position, its start
/// and end time and its last frame's time in seconds. `None` for an empty envelope.
fn window(
    envelope: &Envelope,
    params: &RenderParams,
    times: &mut WindowTimes,
) -> Option<(usize, usize, f64, f64, f64)> {
    let n = envelope.frame_count();
    if n == 0 {
        return None;
    }
    let start = params.start_frame.min(n - 1);
    let end = if params.frame_count == 0 { n } else { start.saturating_add(params.frame_count).min(n) };
    let (first, last) = (envelope.frame_indices[start], envelope.frame_indices[end - 1]);
    let (start_s, end_s, last_frame_s) = times.get(first, last, envelope.frame_rate_hz);
    Some((start, end, start_s, end_s, last_frame_s))
}

impl Conductor {
    /// Back to the start of the window on the next step.
    pub fn restart(&mut self) {
        *self = Self::default();
    }

    /// A non-looping window has been played to its end (or the envelope is empty).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Fractional array position last read.
    pub fn playhead_frame(&self) -> f64 {
        self.playhead_frame
    }

    /// Envelope seconds the next step will read from (before any pending seek): where the
    /// previous step left the position.
    pub fn time_s(&self) -> f64 {
        self.time_s
    }

    /// Jumps to `offset_s` envelope seconds after the start of the window on the next step:
    /// wrapped into the window when it loops, finished when a non-looping window is already
    /// over by then. This is how a voice follows the host's song position.
    pub fn seek(&mut self, offset_s: f64) {
        if offset_s.is_finite() {
            self.pending_seek_s = Some(offset_s.max(0.0));
        }
    }

    /// Reads the position for the coming `dt_s` seconds of audio and advances past them.
    /// `None` once finished, or for an empty envelope.
    pub fn step(&mut self, envelope: &Envelope, params: &RenderParams, dt_s: f64) -> Option<FramePosition> {
        let Some((start, end, start_s, end_s, last_frame_s)) = window(envelope, params, &mut self.window_times) else {
            self.finished = true;
            return None;
        };
        if let Some(offset_s) = self.pending_seek_s.take() {
            let span_s = end_s - start_s;
            let offset_s = if params.looping && span_s > 0.0 { offset_s.rem_euclid(span_s) } else { offset_s };
            self.started = true;
            self.finished = start_s + offset_s >= end_s;
            self.time_s = (start_s + offset_s).min(last_frame_s);
            self.read_time_s = self.time_s;
        }
        if self.finished {
            return None;
        }
        let rate = params.playback_rate as f64;
        if !self.started {
            self.started = true;
            self.time_s = if rate < 0.0 { last_frame_s } else { start_s };
            self.read_time_s = self.time_s;
        }
        // Pull a position that a window change left outside into the window.
        if self.time_s < start_s || self.time_s >= end_s {
            self.time_s = if self.time_s < start_s { start_s } else { last_frame_s };
        }
        if params.update_rate_hz > 0.0 {
            self.clock_phase += dt_s * params.update_rate_hz as f64;
            if self.clock_phase >= 1.0 {
                self.clock_phase -= self.clock_phase.floor();
                self.read_time_s = self.time_s;
            }
            self.read_time_s = self.read_time_s.clamp(start_s, last_frame_s.max(start_s));
        } else {
            self.read_time_s = self.time_s;
        }
        let position = locate(envelope, start, end, self.read_time_s, self.last_frame);
        self.last_frame = position.a;
        self.playhead_frame = position.a as f64 + position.fraction as f64 * (position.b - position.a) as f64;

        self.time_s += rate * dt_s;
        let span_s = end_s - start_s;
        if self.time_s >= end_s || self.time_s < start_s {
            if params.looping && span_s > 0.0 {
                self.time_s = start_s + (self.time_s - start_s).rem_euclid(span_s);
            } else {
                self.finished = true;
            }
        }
        Some(position)
    }
}

/// The frames around envelope time `time_s` inside window `[start, end)`, looking first at
/// frame `hint` and the one after it.
fn locate(envelope: &Envelope, start: usize, end: usize, time_s: f64, hint: usize) -> FramePosition {
    let index_f = time_s * envelope.frame_rate_hz;
    let indices = &envelope.frame_indices;
    // Frame `k` is the answer when its index is <= index_f and the next one's is not (or it is
    // the window's last, or the window's first and index_f lies before it).
    let is_answer =
        |k: usize| (k == start || indices[k] as f64 <= index_f) && (k + 1 >= end || indices[k + 1] as f64 > index_f);
    // Last frame whose index is <= index_f.
    let a = if (start..end).contains(&hint) && is_answer(hint) {
        hint
    } else if (start..end).contains(&(hint + 1)) && is_answer(hint + 1) {
        hint + 1
    } else {
        start + indices[start..end].partition_point(|&i| i as f64 <= index_f).saturating_sub(1)
    };
    if a + 1 >= end {
        return FramePosition { a, b: a, fraction: 0.0 };
    }
    let (ia, ib) = (envelope.frame_indices[a] as f64, envelope.frame_indices[a + 1] as f64);
    // Frames one index apart (all but thinned files) need no division: the same number.
    let span = ib - ia;
    let fraction = if span == 1.0 { index_f - ia } else { (index_f - ia) / span };
    let fraction = fraction.clamp(0.0, 1.0) as f32;
    FramePosition { a, b: a + 1, fraction }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope_with_indices(indices: &[u64]) -> Envelope {
        let mut e = Envelope::silent(100.0, 16000.0, indices.len(), 1, 1, 100.0);
        e.frame_indices = indices.to_vec();
        e
    }

    #[test]
    fn a_search_from_any_hint_finds_the_frame_a_binary_search_finds() {
        let e = envelope_with_indices(&[0, 1, 3, 4, 8, 9, 10, 15]);
        for (start, end) in [(0, 8), (2, 6), (5, 6)] {
            for t in 0..200 {
                let time_s = t as f64 * 0.001 - 0.01;
                let expected = locate(&e, start, end, time_s, usize::MAX - 1);
                for hint in 0..10 {
                    assert_eq!(locate(&e, start, end, time_s, hint), expected, "{time_s} s, hint {hint}");
                }
            }
        }
    }

    #[test]
    fn skipped_indices_play_at_real_speed() {
        // Frames at indices 0, 4, 8 (every 4th frame kept) at 100 frames/s: 10 ms per index.
        let e = envelope_with_indices(&[0, 4, 8]);
        let mut c = Conductor::default();
        let p = RenderParams::default();
        let first = c.step(&e, &p, 0.02).unwrap();
        assert_eq!((first.a, first.b, first.fraction), (0, 1, 0.0));
        let second = c.step(&e, &p, 0.02).unwrap(); // at 20 ms = index 2 = halfway 0..4
        assert_eq!((second.a, second.b), (0, 1));
        assert!((second.fraction - 0.5).abs() < 1e-6);
        assert!((c.playhead_frame() - 0.5).abs() < 1e-9);
    }

    /// Frame rate 128 Hz and power-of-two steps keep the arithmetic exact.
    fn four_frames() -> Envelope {
        let mut e = envelope_with_indices(&[0, 1, 2, 3]);
        e.frame_rate_hz = 128.0;
        e
    }

    #[test]
    fn non_looping_finishes_and_looping_wraps() {
        let e = four_frames();
        let mut once = Conductor::default();
        let p = RenderParams::default();
        let steps = (0..100).take_while(|_| once.step(&e, &p, 1.0 / 256.0).is_some()).count();
        assert_eq!(steps, 8, "4 frames in half-frame steps");
        assert!(once.is_finished());

        let mut looped = Conductor::default();
        let lp = RenderParams { looping: true, start_frame: 1, frame_count: 2, ..p };
        let frames: Vec<usize> = (0..8).map(|_| looped.step(&e, &lp, 1.0 / 128.0).unwrap().a).collect();
        assert_eq!(frames, [1, 2, 1, 2, 1, 2, 1, 2]);
    }

    #[test]
    fn seek_jumps_into_the_window_wrapping_when_looping() {
        let e = four_frames();
        let p = RenderParams { start_frame: 1, ..RenderParams::default() };
        let mut c = Conductor::default();
        c.step(&e, &p, 1.0 / 128.0);
        // 2 frame periods after the window start (frame 1) is frame 3.
        c.seek(2.0 / 128.0);
        assert_eq!(c.step(&e, &p, 1.0 / 128.0).unwrap().a, 3);
        // Past the end of a non-looping window: finished.
        c.seek(10.0 / 128.0);
        assert!(c.step(&e, &p, 1.0 / 128.0).is_none());
        assert!(c.is_finished());
        // Looping: 4 periods into a 3-frame window wraps to 1 period in, frame 2; a seek
        // also revives a finished voice.
        let lp = RenderParams { looping: true, ..p };
        c.seek(4.0 / 128.0);
        assert_eq!(c.step(&e, &lp, 1.0 / 128.0).unwrap().a, 2);
    }

    #[test]
    fn freeze_holds_and_negative_rate_plays_backwards() {
        let e = four_frames();
        let mut frozen = Conductor::default();
        let fp = RenderParams { playback_rate: 0.0, start_frame: 2, ..RenderParams::default() };
        assert!((0..50).all(|_| frozen.step(&e, &fp, 0.01).unwrap().a == 2));

        let mut back = Conductor::default();
        let bp = RenderParams { playback_rate: -1.0, ..RenderParams::default() };
        let frames: Vec<usize> = std::iter::from_fn(|| back.step(&e, &bp, 1.0 / 128.0).map(|p| p.a)).collect();
        assert_eq!(frames, [3, 2, 1, 0]);
    }

    #[test]
    fn update_rate_moves_the_read_position_in_steps() {
        let e = envelope_with_indices(&(0..100).collect::<Vec<_>>());
        let mut c = Conductor::default();
        let p = RenderParams { update_rate_hz: 10.0, ..RenderParams::default() };
        // 1 ms steps for 0.35 s: the position reads 0 until the first clock tick at 100 ms.
        let frames: Vec<usize> = (0..350).map(|_| c.step(&e, &p, 0.001).unwrap().a).collect();
        assert!(frames[..99].iter().all(|&f| f == 0), "{:?}", &frames[..100]);
        let distinct: Vec<usize> =
            frames.iter().copied().collect::<std::collections::BTreeSet<usize>>().into_iter().collect();
        assert_eq!(distinct.len(), 4, "{distinct:?}");
        assert!(distinct.windows(2).all(|w| (9..=10).contains(&(w[1] - w[0]))), "{distinct:?}");
    }

    #[test]
    fn an_envelope_swapped_for_a_shorter_one_is_clamped() {
        let long = envelope_with_indices(&(0..100).collect::<Vec<_>>());
        let short = envelope_with_indices(&[0, 1, 2]);
        let mut c = Conductor::default();
        let p = RenderParams { looping: true, ..RenderParams::default() };
        for _ in 0..50 {
            c.step(&long, &p, 0.01);
        }
        let pos = c.step(&short, &p, 0.01).unwrap();
        assert!(pos.a < 3);
    }
}

//! Partials that keep the recording's phases, through their frequencies alone.
//!
//! The unified CSV has no phase column, and the renderer plays every partial at the phase its
//! frequency integrates to from the start of the file (docs/CSV_FORMAT.md, *Phase*). A
//! resynthesis whose partials start at arbitrary phases has the right spectrum in long windows
//! but the wrong waveform within a period: a low note's pulse shape, an attack's first
//! cycles and a voice's glottal pulses are smeared, which short analysis windows (and ears, on
//! low notes) hear. So the analysis measures each partial's phase at each frame and nudges the
//! partial's frequency, within what its measurement allows, until the renderer's integral
//! meets the measured phase: measured on the varied set, this closes a fifth to a third of the
//! distance to the recording (examples/README.md).
//!
//! Per partial, a Kalman filter and Rauch-Tung-Striebel smoother over the frames: the state is
//! the phase correction (radians, what the frequency change has added up to) and the frequency
//! correction (Hz), which walks randomly and decays towards 0 within a few frames, with a spread
//! of [`CORRECTION_SPREAD_FRAME_RATES`]; each frame where
//! the partial sounds observes the phase the correction should have reached, wrapped to the
//! nearest turn, with a variance that grows as the partial is weaker than the frame's
//! strongest. Silent frames observe nothing, so before a note the smoother spreads the
//! frequency change that brings the partial to its onset phase over the silence before it.

use ddsp_shared::Envelope;

/// Spread (standard deviation) of the frequency correction, as a fraction of the frame rate
/// (20 Hz at the default 250.57 frames per second). Phases observed once a frame cannot tell a
/// frequency from one a whole frame rate away (one more turn per frame), so the correction
/// must stay well inside that: looser, and a messy note change can lock a partial onto the
/// alias (measured on the violin phrase with a spread of 30 Hz and tight phases); tighter, and
/// speech's fast glides are followed less closely (10 Hz: 0.3 % further on speech).
const CORRECTION_SPREAD_FRAME_RATES: f64 = 0.08;
/// Time over which the frequency correction forgets itself, seconds: a few frames, so the
/// correction follows each stretch of measurement rather than carrying one frame's into the
/// next.
const CORRECTION_DECAY_S: f64 = 0.05;
/// Most frequency correction, as a fraction of the frame rate (50 Hz at the default rate): a
/// safety net under [`CORRECTION_SPREAD_FRAME_RATES`], so that a correction locked onto an
/// alias never moves a partial far.
const MAX_CORRECTION_FRAME_RATES: f64 = 0.2;
/// Variance of the strongest partial's phase measurement, rad² (0.1 rad); a partial `x` times
/// weaker than the frame's strongest is trusted `x²` less.
const PHASE_VARIANCE_RAD2: f64 = 0.01;

/// Moves each harmonic's frequencies in `envelope` (frames `0..`, frame `i` at `i /
/// frame_rate` s) so that the renderer's phase, the integral of the frequency from 0 s,
/// meets `sine_phases_rad` (the measured sine phase of each harmonic at each frame, laid out
/// as the envelope's harmonics) wherever the harmonic sounds below `nyquist_hz`.
pub fn lock_phases(envelope: &mut Envelope, sine_phases_rad: &[f32], nyquist_hz: f32) {
    let h = envelope.harmonic_count;
    let frames = envelope.frame_count();
    if h == 0 || frames < 2 {
        return;
    }
    let dt_s = 1.0 / envelope.frame_rate_hz;
    let strongest: Vec<f32> =
        (0..frames).map(|i| envelope.harmonic_amps[i * h..(i + 1) * h].iter().fold(0.0f32, |m, &a| m.max(a))).collect();
    let mut smoother = Smoother::new(frames, dt_s);
    for k in 0..h {
        for i in 0..frames {
            let (f_hz, amp) = (envelope.harmonic_freqs_hz[i * h + k], envelope.harmonic_amps[i * h + k]);
            let weight = if amp > 0.0 && f_hz < nyquist_hz { f64::from(amp / strongest[i]).powi(2) } else { 0.0 };
            smoother.frequency_hz[i] = f64::from(f_hz);
            smoother.target_rad[i] = f64::from(sine_phases_rad[i * h + k]);
            smoother.weight[i] = weight;
        }
        smoother.run();
        let most_hz = MAX_CORRECTION_FRAME_RATES * envelope.frame_rate_hz;
        for (i, correction_hz) in smoother.correction_hz.iter().enumerate() {
            let f = &mut envelope.harmonic_freqs_hz[i * h + k];
            *f = (f64::from(*f) + correction_hz.clamp(-most_hz, most_hz)).max(0.0) as f32;
        }
    }
}

/// `x` to the nearest turn, `-π..π`.
fn wrapped_rad(x: f64) -> f64 {
    use std::f64::consts::{PI, TAU};
    (x + PI).rem_euclid(TAU) - PI
}

/// One partial's filter and smoother, its buffers sized once for all partials.
struct Smoother {
    dt_s: f64,
    /// Per frame: the measured frequency, the target sine phase and its weight (0: none).
    frequency_hz: Vec<f64>,
    target_rad: Vec<f64>,
    weight: Vec<f64>,
    /// Per frame: predicted and filtered states `[phase correction, frequency correction]`
    /// and their covariances `[pp, pf, ff]`.
    predicted: Vec<([f64; 2], [f64; 3])>,
    filtered: Vec<([f64; 2], [f64; 3])>,
    /// The smoothed frequency correction, Hz.
    correction_hz: Vec<f64>,
}

impl Smoother {
    fn new(frames: usize, dt_s: f64) -> Self {
        Self {
            dt_s,
            frequency_hz: vec![0.0; frames],
            target_rad: vec![0.0; frames],
            weight: vec![0.0; frames],
            predicted: vec![([0.0; 2], [0.0; 3]); frames],
            filtered: vec![([0.0; 2], [0.0; 3]); frames],
            correction_hz: vec![0.0; frames],
        }
    }

    fn run(&mut self) {
        use std::f64::consts::PI;
        let n = self.frequency_hz.len();
        let dt = self.dt_s;
        let rho = (-dt / CORRECTION_DECAY_S).exp();
        // The walk's step, so that the correction's spread settles where it started.
        let spread_hz = CORRECTION_SPREAD_FRAME_RATES / dt;
        let q = spread_hz * spread_hz * (1.0 - rho * rho);
        // Transition: e' = rho e + w, c' = c + pi dt (e + e') = c + pi dt (1 + rho) e + pi dt w.
        let (f01, g0) = (PI * dt * (1.0 + rho), PI * dt);
        // The phase the measured frequencies alone reach (the renderer's trapezoid from 0 s).
        let mut plain_rad = 0.0;
        let mut state = [0.0, 0.0];
        let mut cov = [0.0, 0.0, spread_hz * spread_hz];
        for i in 0..n {
            if i > 0 {
                plain_rad += PI * dt * (self.frequency_hz[i - 1] + self.frequency_hz[i]);
                let [c, e] = state;
                state = [c + f01 * e, rho * e];
                let [pp, pf, ff] = cov;
                cov = [
                    pp + 2.0 * f01 * pf + f01 * f01 * ff + g0 * g0 * q,
                    rho * (pf + f01 * ff) + g0 * q,
                    rho * rho * ff + q,
                ];
            }
            self.predicted[i] = (state, cov);
            if self.weight[i] > 0.0 {
                let r = PHASE_VARIANCE_RAD2 / self.weight[i];
                // The correction should reach the target less the plain phase, to the turn
                // nearest the prediction.
                let innovation = wrapped_rad(self.target_rad[i] - plain_rad - state[0]);
                let [pp, pf, ff] = cov;
                let s = pp + r;
                let (k0, k1) = (pp / s, pf / s);
                state = [state[0] + k0 * innovation, state[1] + k1 * innovation];
                cov = [pp - k0 * pp, pf - k0 * pf, ff - k1 * pf];
            }
            self.filtered[i] = (state, cov);
        }
        // Rauch-Tung-Striebel: back from the last frame.
        let mut smoothed = self.filtered[n - 1].0;
        self.correction_hz[n - 1] = smoothed[1];
        for i in (0..n - 1).rev() {
            let (xf, [pp, pf, ff]) = self.filtered[i];
            let (xp, [qp, qf, qq]) = self.predicted[i + 1];
            // J = P_f A^T P_p^-1, A = [[1, f01], [0, rho]].
            let (a00, a01, a10, a11) = (pp + pf * f01, pf * rho, pf + ff * f01, ff * rho);
            let det = qp * qq - qf * qf;
            if det.abs() < 1e-300 {
                smoothed = xf;
            } else {
                let (i00, i01, i11) = (qq / det, -qf / det, qp / det);
                let j = [a00 * i00 + a01 * i01, a00 * i01 + a01 * i11, a10 * i00 + a11 * i01, a10 * i01 + a11 * i11];
                let d = [smoothed[0] - xp[0], smoothed[1] - xp[1]];
                smoothed = [xf[0] + j[0] * d[0] + j[1] * d[1], xf[1] + j[2] * d[0] + j[3] * d[1]];
            }
            self.correction_hz[i] = smoothed[1];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The renderer's phase at each frame (the trapezoid of the frequencies from 0 s).
    fn integrated_phases(freqs_hz: &[f64], dt_s: f64) -> Vec<f64> {
        let mut phase = 0.0;
        let mut out = vec![0.0];
        for w in freqs_hz.windows(2) {
            phase += std::f64::consts::PI * dt_s * (w[0] + w[1]);
            out.push(phase);
        }
        out
    }

    #[test]
    fn a_partial_is_brought_to_its_measured_phases_by_small_frequency_changes() {
        // One partial at 220 Hz, silent for the first 0.2 s, whose true frequency is 0.7 Hz
        // above what was measured and whose phase at its onset is 2 rad: the measured phases
        // are the true partial's.
        let frame_rate_hz = 250.0;
        let frames = 500;
        let mut envelope = Envelope::silent(frame_rate_hz, 44_100.0, frames, 1, 0, 220.0);
        let onset = 50;
        let true_hz: Vec<f64> = (0..frames).map(|i| 220.7 + 3.0 * (i as f64 / 40.0).sin()).collect();
        let mut true_phase = integrated_phases(&true_hz, 1.0 / frame_rate_hz);
        let shift = 2.0 - true_phase[onset];
        for p in &mut true_phase {
            *p += shift;
        }
        let mut phases = vec![0.0f32; frames];
        for i in 0..frames {
            envelope.harmonic_freqs_hz[i] = (true_hz[i] - 0.7) as f32;
            envelope.harmonic_amps[i] = if i >= onset { 0.5 } else { 0.0 };
            phases[i] = wrapped_rad(true_phase[i]) as f32;
        }
        lock_phases(&mut envelope, &phases, 22_050.0);
        let locked: Vec<f64> = envelope.harmonic_freqs_hz.iter().map(|&f| f64::from(f)).collect();
        let played = integrated_phases(&locked, 1.0 / frame_rate_hz);
        // Unlocked, the partial would be up to pi off (its onset phase) and drift by 0.7 Hz.
        let worst = (onset..frames).map(|i| wrapped_rad(played[i] - true_phase[i]).abs()).fold(0.0, f64::max);
        assert!(worst < 0.05, "worst phase error after the onset {worst} rad");
        let worst_hz = (onset..frames).map(|i| (locked[i] - true_hz[i]).abs()).fold(0.0, f64::max);
        assert!(worst_hz < 1.0, "the frequencies stay near the true ones: worst {worst_hz} Hz off");
    }

    #[test]
    fn silent_partials_and_partials_above_nyquist_keep_their_frequencies() {
        let mut envelope = Envelope::silent(250.0, 16_000.0, 100, 2, 0, 220.0);
        for i in 0..100 {
            envelope.harmonic_freqs_hz[i * 2] = 7_990.0;
            envelope.harmonic_amps[i * 2] = 0.3;
            envelope.harmonic_freqs_hz[i * 2 + 1] = 440.0;
        }
        let phases = vec![1.0f32; 200];
        lock_phases(&mut envelope, &phases, 7_900.0);
        assert!(envelope.harmonic_freqs_hz.chunks(2).all(|f| f == [7_990.0, 440.0]));
    }
}

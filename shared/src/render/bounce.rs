//! Bounce: a timed oscillation of the stretch between a minimum and a maximum (SPEC §4), with
//! seeded jitter of speed and depth, for a duration, after which the stretch glides back to
//! its static value.
//!
//! The oscillation is a sine around the middle of `[min, max]`, starting at the middle and
//! rising. Jitter is drawn at the start and once per cycle, where the sine crosses the middle, so the curve
//! never jumps: speed is scaled by `2^(jitter * u)` (`u` uniform in -1..1, up to an octave
//! either way at jitter 1) and depth by `1 - jitter * v` (`v` uniform in 0..1), which keeps
//! the sweep inside its bounds. Starting and stopping cross-fade between the static stretch
//! and the oscillation over [`BOUNCE_GLIDE_S`].

use super::params::BounceParams;
use super::random::Random;

/// How long the stretch takes to glide into a bounce and back to its static value, seconds.
pub const BOUNCE_GLIDE_S: f32 = 0.15;

/// Seed of the jitter generator; the renderer mixes in its voice seed.
const BOUNCE_SEED: u64 = 0x00B0_0CE5;

/// State of one voice's bounce.
#[derive(Clone, Copy, Debug)]
pub struct Bounce {
    /// A bounce is running (its duration has not elapsed and it was not turned off).
    active: bool,
    /// Set by restart/trigger: start a bounce as soon as it is enabled.
    armed: bool,
    /// Whether `enabled` was on at the last step (a rising edge starts a bounce).
    was_enabled: bool,
    /// Seconds since the bounce started.
    elapsed_s: f32,
    /// Position in the current cycle, 0..1.
    phase: f32,
    /// Jitter factor on speed for the current cycle.
    speed_factor: f32,
    /// Jitter factor on depth for the current cycle.
    depth_factor: f32,
    /// Cross-fade from static stretch (0) to the oscillation (1).
    mix: f32,
    rng: Random,
}

impl Bounce {
    /// A bounce that starts as soon as it is enabled, with jitter drawn from `seed` (a new
    /// `Bounce` with the same seed repeats the same jitter).
    pub fn new(seed: u64) -> Self {
        Self {
            active: false,
            armed: true,
            was_enabled: false,
            elapsed_s: 0.0,
            phase: 0.0,
            speed_factor: 1.0,
            depth_factor: 1.0,
            mix: 0.0,
            rng: Random::new(seed ^ BOUNCE_SEED),
        }
    }

    /// Arms a new bounce: it starts now if bounce is enabled (restarting one that runs).
    pub fn trigger(&mut self) {
        self.armed = true;
    }

    /// Whether the oscillation is running (not counting the glide back).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Advances by `dt_s` and returns the effective stretch for `static_stretch`.
    pub fn step(&mut self, params: &BounceParams, static_stretch: f32, dt_s: f32) -> f32 {
        if params.enabled && (self.armed || !self.was_enabled) {
            self.start(params.jitter);
        }
        if !params.enabled {
            self.active = false;
            self.armed = true;
        }
        self.was_enabled = params.enabled;

        if self.active {
            self.elapsed_s += dt_s;
            self.phase += params.speed_hz * self.speed_factor * dt_s;
            if self.phase >= 1.0 {
                self.phase -= self.phase.floor();
                self.draw_jitter(params.jitter);
            }
            if params.duration_s > 0.0 && self.elapsed_s >= params.duration_s {
                self.active = false;
            }
        }
        let glide_step = dt_s / BOUNCE_GLIDE_S;
        self.mix = if self.active { (self.mix + glide_step).min(1.0) } else { (self.mix - glide_step).max(0.0) };
        if self.mix == 0.0 {
            return static_stretch;
        }
        let centre = 0.5 * (params.min + params.max);
        let half_depth = 0.5 * (params.max - params.min) * self.depth_factor;
        let oscillation = centre + half_depth * (std::f32::consts::TAU * self.phase).sin();
        static_stretch + self.mix * (oscillation - static_stretch)
    }

    /// Starts a bounce; the first cycle has its own jitter, like every cycle after it (a
    /// bounce shorter than one period is jittered too).
    fn start(&mut self, jitter: f32) {
        self.active = true;
        self.armed = false;
        self.elapsed_s = 0.0;
        self.phase = 0.0;
        self.draw_jitter(jitter);
    }

    fn draw_jitter(&mut self, jitter: f32) {
        let u = self.rng.bipolar();
        let v = self.rng.unit();
        self.speed_factor = (jitter * u).exp2();
        self.depth_factor = 1.0 - jitter * v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bounce: &mut Bounce, params: &BounceParams, seconds: f32, dt_s: f32) -> Vec<f32> {
        (0..(seconds / dt_s) as usize).map(|_| bounce.step(params, 1.0, dt_s)).collect()
    }

    #[test]
    fn sweeps_between_bounds_for_its_duration_then_returns() {
        let params = BounceParams { enabled: true, min: 0.5, max: 2.0, speed_hz: 2.0, jitter: 0.0, duration_s: 2.0 };
        let mut b = Bounce::new(1);
        let dt = 1e-3;
        let values = run(&mut b, &params, 3.0, dt);
        let during = &values[(0.5 / dt) as usize..(2.0 / dt) as usize];
        let lo = during.iter().cloned().fold(f32::MAX, f32::min);
        let hi = during.iter().cloned().fold(f32::MIN, f32::max);
        assert!((lo - 0.5).abs() < 0.01 && (hi - 2.0).abs() < 0.01, "{lo}..{hi}");
        assert_eq!(*values.last().unwrap(), 1.0);
        assert!(!b.is_active());
    }

    #[test]
    fn jitter_applies_from_the_first_cycle() {
        // A quarter period: the first cycle's depth and speed already vary with the seed.
        let calm = BounceParams { enabled: true, min: 0.5, max: 2.0, speed_hz: 1.0, jitter: 0.0, duration_s: 0.25 };
        let jittery = BounceParams { jitter: 1.0, ..calm };
        let reference = run(&mut Bounce::new(1), &calm, 0.25, 1e-3);
        for seed in 1..4 {
            let jittered = run(&mut Bounce::new(seed), &jittery, 0.25, 1e-3);
            let differs = jittered.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(differs > 0.01, "seed {seed}: the first cycle ignored the jitter ({differs})");
        }
    }

    #[test]
    fn jitter_stays_inside_the_bounds_and_repeats_with_the_same_seed() {
        let params = BounceParams { enabled: true, min: 0.5, max: 2.0, speed_hz: 5.0, jitter: 1.0, duration_s: 0.0 };
        let mut b = Bounce::new(3);
        let first = run(&mut b, &params, 4.0, 1e-3);
        assert!(first.iter().all(|&s| (0.5 - 1e-4..=2.0 + 1e-4).contains(&s)));
        assert_eq!(first, run(&mut Bounce::new(3), &params, 4.0, 1e-3));
    }
}

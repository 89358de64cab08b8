//! One-pole control smoothing: every continuous control glides towards its target with one
//! time constant, so host automation (stepped once per block at any block size) is click-free.

/// Per-step coefficient of a one-pole smoother with time constant `smoothing_ms`, updated every
/// `step_s` seconds. 0 ms gives 1 (no smoothing).
pub fn one_pole_coefficient(smoothing_ms: f32, step_s: f32) -> f32 {
    if smoothing_ms <= 0.0 {
        return 1.0;
    }
    1.0 - (-step_s / (smoothing_ms * 1e-3)).exp()
}

/// One smoothed control value.
#[derive(Clone, Copy, Debug, Default)]
pub struct Smoothed {
    /// The current (smoothed) value.
    pub value: f32,
}

impl Smoothed {
    /// Moves one step towards `target` with `coefficient` from [`one_pole_coefficient`] and
    /// returns the new value.
    #[inline]
    pub fn step(&mut self, target: f32, coefficient: f32) -> f32 {
        self.value += (target - self.value) * coefficient;
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_63_percent_after_one_time_constant() {
        let step_s = 1.0 / 1000.0;
        let c = one_pole_coefficient(20.0, step_s);
        let mut s = Smoothed::default();
        for _ in 0..20 {
            s.step(1.0, c);
        }
        assert!((s.value - 0.632).abs() < 0.01, "{}", s.value);
        assert_eq!(one_pole_coefficient(0.0, step_s), 1.0);
    }
}

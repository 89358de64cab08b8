//! A linear attack-decay-sustain-release envelope, one per voice.

/// Where the envelope is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Silent; the voice slot is free.
    Idle,
    Attack,
    Decay,
    Sustain,
    Release,
}

/// Attack, decay and release times in ms and the sustain level 0..1, read from the parameters
/// once per sub-block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdsrSettings {
    pub attack_ms: f32,
    pub decay_ms: f32,
    pub sustain: f32,
    pub release_ms: f32,
}

/// Longest attack, decay or release, ms (the plugin's parameter range and `ddsp play`'s limit).
pub const MAX_ADSR_TIME_MS: f32 = 10_000.0;

impl Default for AdsrSettings {
    /// The plugin's defaults: a 5 ms attack, 200 ms decay to full sustain, 150 ms release.
    fn default() -> Self {
        Self { attack_ms: 5.0, decay_ms: 200.0, sustain: 1.0, release_ms: 150.0 }
    }
}

/// The envelope's state. Each segment is a straight line from the level it starts at, so a
/// retriggered or released note never jumps.
#[derive(Debug, Clone, Copy)]
pub struct Adsr {
    stage: Stage,
    level: f32,
    /// Level change per sample of the current segment (always positive; the sign comes from
    /// the stage).
    release_step: f32,
}

impl Default for Adsr {
    fn default() -> Self {
        Self { stage: Stage::Idle, level: 0.0, release_step: 0.0 }
    }
}

/// Per-sample change that covers `span` in `time_ms`; an instant jump for times under a sample.
fn step_per_sample(span: f32, time_ms: f32, sample_rate_hz: f32) -> f32 {
    let samples = time_ms * 0.001 * sample_rate_hz;
    if samples <= 1.0 {
        f32::INFINITY
    } else {
        span / samples
    }
}

impl Adsr {
    /// Starts (or restarts) the attack from the current level.
    pub fn gate_on(&mut self) {
        self.stage = Stage::Attack;
    }

    /// Starts the release from the current level, taking `release_ms` for a full-scale fall.
    pub fn gate_off(&mut self, settings: &AdsrSettings, sample_rate_hz: f32) {
        if self.stage != Stage::Idle {
            self.stage = Stage::Release;
            self.release_step = step_per_sample(1.0, settings.release_ms, sample_rate_hz);
        }
    }

    /// Silences at once (voice stolen or reset).
    pub fn kill(&mut self) {
        self.stage = Stage::Idle;
        self.level = 0.0;
    }

    /// The envelope's level, 0..1 (after the last sample it was applied to).
    pub fn level(&self) -> f32 {
        self.level
    }

    pub fn stage(&self) -> Stage {
        self.stage
    }

    pub fn is_idle(&self) -> bool {
        self.stage == Stage::Idle
    }

    /// Gate is on (attack, decay or sustain).
    pub fn is_held(&self) -> bool {
        matches!(self.stage, Stage::Attack | Stage::Decay | Stage::Sustain)
    }

    /// Keeps the level at `level` and multiplies all of `out` by it.
    fn hold(&mut self, level: f32, out: &mut [f32]) {
        self.level = level;
        for sample in out {
            *sample *= level;
        }
    }

    /// Multiplies `out` by the envelope, advancing it one sample per value. Steps sample by
    /// sample only while the level moves: once it holds (sustain) or is done (idle), the rest of
    /// the block is one constant multiply, the same products in SIMD (a held note spends almost
    /// all its blocks there).
    pub fn apply(&mut self, settings: &AdsrSettings, sample_rate_hz: f32, out: &mut [f32]) {
        let sustain = settings.sustain.clamp(0.0, 1.0);
        let attack_step = step_per_sample(1.0, settings.attack_ms, sample_rate_hz);
        let decay_step = step_per_sample(1.0 - sustain, settings.decay_ms, sample_rate_hz);
        for (i, sample) in out.iter_mut().enumerate() {
            match self.stage {
                Stage::Idle => return self.hold(0.0, &mut out[i..]),
                // Follows the sustain parameter as the host moves it.
                Stage::Sustain => return self.hold(sustain, &mut out[i..]),
                Stage::Attack => {
                    self.level += attack_step;
                    if self.level >= 1.0 {
                        self.level = 1.0;
                        self.stage = Stage::Decay;
                    }
                }
                Stage::Decay => {
                    self.level -= decay_step;
                    if self.level <= sustain {
                        self.level = sustain;
                        self.stage = Stage::Sustain;
                    }
                }
                Stage::Release => {
                    self.level -= self.release_step;
                    if self.level <= 0.0 {
                        self.level = 0.0;
                        self.stage = Stage::Idle;
                    }
                }
            }
            *sample *= self.level;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: AdsrSettings = AdsrSettings { attack_ms: 10.0, decay_ms: 10.0, sustain: 0.5, release_ms: 20.0 };

    fn run(adsr: &mut Adsr, samples: usize) -> Vec<f32> {
        let mut out = vec![1.0; samples];
        adsr.apply(&SETTINGS, 1000.0, &mut out);
        out
    }

    #[test]
    fn attack_decay_sustain_release_reach_their_levels_on_time() {
        let mut adsr = Adsr::default();
        adsr.gate_on();
        let out = run(&mut adsr, 30);
        assert!((out[9] - 1.0).abs() < 1e-6, "peak after 10 ms: {}", out[9]);
        assert!((out[19] - 0.5).abs() < 1e-6, "sustain after decay: {}", out[19]);
        assert_eq!(adsr.stage(), Stage::Sustain);
        adsr.gate_off(&SETTINGS, 1000.0);
        let out = run(&mut adsr, 12);
        assert!((out[0] - 0.45).abs() < 1e-6);
        assert_eq!(out[11], 0.0);
        assert!(adsr.is_idle());
    }

    #[test]
    fn retrigger_rises_from_the_current_level() {
        let mut adsr = Adsr::default();
        adsr.gate_on();
        run(&mut adsr, 5);
        adsr.gate_off(&SETTINGS, 1000.0);
        let before = *run(&mut adsr, 1).last().unwrap();
        adsr.gate_on();
        let after = run(&mut adsr, 1)[0];
        assert!(after > before && after - before < 0.11, "{before} -> {after}");
    }
}

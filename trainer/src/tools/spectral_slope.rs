//! A straight line through a spectrum on log-log axes (dB against octaves), the usual model of
//! how a sound's partials roll off: `level_db(f) = intercept_db + slope_db_per_octave * log2(f)`.
//! `ddsp enrich` fits it on the upper partials (and the upper noise bands) and continues it.

/// Level of a linear amplitude, dB (amplitude 1 = 0 dB).
pub fn amp_to_db(amp: f64) -> f64 {
    20.0 * amp.log10()
}

/// Linear amplitude of a level in dB.
pub fn db_to_amp(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// A fitted spectral slope.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectralSlope {
    /// Level at 1 Hz, dB (the line's intercept on the log2 axis).
    pub intercept_db: f64,
    /// dB per doubling of frequency; negative for a spectrum that falls towards the top.
    pub slope_db_per_octave: f64,
}

impl SpectralSlope {
    /// Least-squares fit of level (dB) against log2(frequency) through `(frequency_hz, amp)`
    /// points. Points with a non-positive frequency or amplitude carry no level and are
    /// skipped. `None` when fewer than two usable points remain or they share one frequency.
    pub fn fit(points: impl IntoIterator<Item = (f64, f64)>) -> Option<Self> {
        let (mut n, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (f, a) in points {
            if !(f > 0.0 && a > 0.0 && f.is_finite() && a.is_finite()) {
                continue;
            }
            let x = f.log2();
            let y = amp_to_db(a);
            n += 1.0;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
        }
        if n < 2.0 {
            return None;
        }
        let denominator = n * sxx - sx * sx;
        if denominator.abs() < 1e-12 * n * n {
            return None;
        }
        let slope = (n * sxy - sx * sy) / denominator;
        Some(Self { intercept_db: (sy - slope * sx) / n, slope_db_per_octave: slope })
    }

    /// The same line with its slope limited to at most `max_db_per_octave`, pivoting around
    /// `pivot_hz` so the level there is unchanged (a rising fit is not continued upwards).
    pub fn with_slope_at_most(self, max_db_per_octave: f64, pivot_hz: f64) -> Self {
        if self.slope_db_per_octave <= max_db_per_octave {
            return self;
        }
        let level = self.level_db(pivot_hz);
        Self { intercept_db: level - max_db_per_octave * pivot_hz.log2(), slope_db_per_octave: max_db_per_octave }
    }

    /// Level at `frequency_hz`, dB.
    pub fn level_db(&self, frequency_hz: f64) -> f64 {
        self.intercept_db + self.slope_db_per_octave * frequency_hz.log2()
    }

    /// Linear amplitude at `frequency_hz`.
    pub fn amp_at(&self, frequency_hz: f64) -> f64 {
        db_to_amp(self.level_db(frequency_hz))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn recovers_a_known_roll_off() {
        // 1/k amplitudes on harmonics of 100 Hz: -6.02 dB per octave.
        let fit = SpectralSlope::fit((1..=20).map(|k| (100.0 * k as f64, 1.0 / k as f64))).unwrap();
        assert_relative_eq!(fit.slope_db_per_octave, -6.0206, epsilon = 1e-3);
        assert_relative_eq!(fit.amp_at(4000.0), 1.0 / 40.0, max_relative = 1e-6);
    }

    #[test]
    fn silent_points_are_skipped_and_too_few_give_none() {
        assert!(SpectralSlope::fit([(100.0, 0.5), (200.0, 0.0)]).is_none());
        assert!(SpectralSlope::fit([(100.0, 0.5), (100.0, 0.25)]).is_none());
    }

    #[test]
    fn limiting_the_slope_pivots_around_the_given_frequency() {
        let rising = SpectralSlope::fit([(1000.0, 0.1), (2000.0, 0.2)]).unwrap();
        let limited = rising.with_slope_at_most(-3.0, 2000.0);
        assert_relative_eq!(limited.slope_db_per_octave, -3.0);
        assert_relative_eq!(limited.amp_at(2000.0), 0.2, max_relative = 1e-9);
    }
}

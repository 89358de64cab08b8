//! A tiny seeded generator (SplitMix64) for the noise and the bounce jitter, and for the
//! trainer's synthesiser noise and data order: the same seed gives the same render (and the
//! same training run) on every run and every machine, and it cannot allocate.

/// SplitMix64's increment per draw.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64 state.
#[derive(Clone, Copy, Debug)]
pub struct Random {
    state: u64,
}

impl Random {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Moves on as `draws` calls of [`Random::next_u64`] would, at no cost: SplitMix64's state
    /// after n draws is the seed plus n times its increment.
    #[inline]
    pub fn skip(&mut self, draws: usize) {
        self.state = self.state.wrapping_add(GAMMA.wrapping_mul(draws as u64));
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// Fills `first` and `second` with what as many calls of [`Random::bipolar_pair`] would
    /// give, and moves on as they would. SplitMix64's draw `i` depends on `i` alone (the seed
    /// plus `i` increments, mixed), so the draws are independent and the loop runs in SIMD.
    #[inline(always)]
    pub fn fill_bipolar_pairs(&mut self, first: &mut [f32], second: &mut [f32]) {
        let n = first.len().min(second.len());
        let state = self.state;
        for (i, (a, b)) in first[..n].iter_mut().zip(&mut second[..n]).enumerate() {
            (*a, *b) = bipolar_pair_of(mix(state.wrapping_add(GAMMA.wrapping_mul(i as u64 + 1))));
        }
        self.skip(n);
    }

    /// Uniform in `[-1, 1)`.
    #[inline]
    pub fn bipolar(&mut self) -> f32 {
        // 24 random bits → exactly representable in f32.
        ((self.next_u64() >> 40) as f32) * (2.0 / (1u64 << 24) as f32) - 1.0
    }

    /// Two independent values uniform in `[-1, 1)` from one draw (24 bits each).
    #[inline]
    pub fn bipolar_pair(&mut self) -> (f32, f32) {
        bipolar_pair_of(self.next_u64())
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32) * (1.0 / (1u64 << 24) as f32)
    }
}

/// SplitMix64's output function: the bits of the draw whose state is `z`.
#[inline(always)]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Two values uniform in `[-1, 1)` from the top and middle 24 bits of one draw (through `i32`,
/// which holds 24 bits exactly and converts in SIMD, unlike `u64`).
#[inline(always)]
fn bipolar_pair_of(bits: u64) -> (f32, f32) {
    let scale = 2.0 / (1u64 << 24) as f32;
    (((bits >> 40) as i32 as f32) * scale - 1.0, (((bits >> 16) & 0xff_ffff) as i32 as f32) * scale - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_draws_lands_where_drawing_them_does() {
        let (mut drawn, mut skipped) = (Random::new(3), Random::new(3));
        for _ in 0..1000 {
            drawn.next_u64();
        }
        skipped.skip(1000);
        assert_eq!(drawn.next_u64(), skipped.next_u64());
    }

    #[test]
    fn filling_pairs_gives_the_pairs_one_at_a_time() {
        let (mut one_by_one, mut filled) = (Random::new(11), Random::new(11));
        let want: Vec<(f32, f32)> = (0..37).map(|_| one_by_one.bipolar_pair()).collect();
        let (mut first, mut second) = (vec![0.0; 37], vec![0.0; 37]);
        filled.fill_bipolar_pairs(&mut first, &mut second);
        let got: Vec<(f32, f32)> = first.into_iter().zip(second).collect();
        assert_eq!(got, want);
        assert_eq!(filled.next_u64(), one_by_one.next_u64());
    }

    #[test]
    fn same_seed_same_stream_and_values_cover_the_range() {
        let mut a = Random::new(7);
        let mut b = Random::new(7);
        let xs: Vec<f32> = (0..10_000).map(|_| a.bipolar()).collect();
        assert!(xs.iter().all(|&x| (-1.0..1.0).contains(&x)));
        assert!(xs.iter().any(|&x| x < -0.99) && xs.iter().any(|&x| x > 0.99));
        assert_eq!(xs[123], {
            for _ in 0..123 {
                b.bipolar();
            }
            b.bipolar()
        });
    }
}

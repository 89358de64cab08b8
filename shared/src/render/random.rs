//! Tiny seeded generators: SplitMix64 ([`Random`]) for the bounce jitter and the trainer's
//! synthesiser noise and data order, and a counter-based hash ([`CounterRandom`]) for the
//! renderer's noise spectra. The same seed gives the same render (and the same training run) on
//! every run and every machine, and neither can allocate.

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

/// The renderer's noise spectra: draw `i` of a stream is a 32-bit hash of the stream's key
/// plus `i` (Chris Wellons' "lowbias32" finaliser, which flips each output bit with
/// probability 1/2 for any changed input bit). Every draw depends on its index alone, so a
/// frame's draws run eight at a time in AVX2 (which multiplies 32-bit integers but not the
/// 64-bit ones SplitMix64 needs) and any number of draws is skipped at no cost. A stream
/// repeats after 2^32 draws: 16 hours of 48 kHz noise.
#[derive(Clone, Copy, Debug)]
pub struct CounterRandom {
    key: u32,
    counter: u32,
}

impl CounterRandom {
    /// The stream of `seed` (its key is SplitMix64's mix of the seed, so nearby seeds start
    /// far apart).
    pub fn new(seed: u64) -> Self {
        Self { key: mix(seed) as u32, counter: 0 }
    }

    /// Moves on as `pairs` pairs of [`CounterRandom::fill_bipolar_pairs`] would.
    #[inline]
    pub fn skip(&mut self, pairs: usize) {
        self.counter = self.counter.wrapping_add((pairs as u32).wrapping_mul(2));
    }

    /// Fills `first` and `second` with independent values uniform in `[-1, 1)` (24 bits each),
    /// a pair of draws per index, and moves on past them.
    #[inline(always)]
    pub fn fill_bipolar_pairs(&mut self, first: &mut [f32], second: &mut [f32]) {
        let n = first.len().min(second.len());
        let start = self.key.wrapping_add(self.counter);
        for ((a, b), i) in first[..n].iter_mut().zip(&mut second[..n]).zip(0u32..) {
            let index = start.wrapping_add(i.wrapping_mul(2));
            *a = bipolar_of(lowbias32(index));
            *b = bipolar_of(lowbias32(index.wrapping_add(1)));
        }
        self.skip(n);
    }
}

/// Chris Wellons' `lowbias32` integer hash (a bijection of `u32`).
#[inline(always)]
fn lowbias32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// A value uniform in `[-1, 1)` from the top 24 bits of `bits` (through `i32`, which converts in
/// SIMD).
#[inline(always)]
fn bipolar_of(bits: u32) -> f32 {
    ((bits >> 8) as i32 as f32) * (2.0 / (1u32 << 24) as f32) - 1.0
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
    fn counter_draws_are_uniform_independent_and_skippable() {
        let (mut drawn, mut skipped) = (CounterRandom::new(5), CounterRandom::new(5));
        let (mut re, mut im) = (vec![0.0; 100_000], vec![0.0; 100_000]);
        drawn.fill_bipolar_pairs(&mut re[..37], &mut im[..37]);
        skipped.skip(37);
        let (mut a, mut b) = ([0.0; 5], [0.0; 5]);
        let (mut c, mut d) = ([0.0; 5], [0.0; 5]);
        drawn.fill_bipolar_pairs(&mut a, &mut b);
        skipped.fill_bipolar_pairs(&mut c, &mut d);
        assert_eq!((a, b), (c, d), "skipping lands where drawing does");

        CounterRandom::new(8).fill_bipolar_pairs(&mut re, &mut im);
        let mean = |x: &[f32]| x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64;
        let variance = |x: &[f32]| x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64;
        for x in [&re, &im] {
            assert!(x.iter().all(|&v| (-1.0..1.0).contains(&v)));
            assert!(mean(x).abs() < 0.01 && (variance(x) - 1.0 / 3.0).abs() < 0.005);
        }
        // The two parts of a pair, neighbouring draws and another seed's stream: uncorrelated.
        let correlation = |x: &[f32], y: &[f32]| {
            x.iter().zip(y).map(|(&p, &q)| p as f64 * q as f64).sum::<f64>() / x.len() as f64 * 3.0
        };
        let (mut other, mut other_im) = (vec![0.0; 100_000], vec![0.0; 100_000]);
        CounterRandom::new(9).fill_bipolar_pairs(&mut other, &mut other_im);
        for (x, y) in [(&re[..], &im[..]), (&re[..99_999], &re[1..]), (&re[..], &other[..])] {
            assert!(correlation(x, y).abs() < 0.02, "correlation {}", correlation(x, y));
        }
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

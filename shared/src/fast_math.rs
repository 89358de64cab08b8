//! Branch-free `log2`, `exp2` and the activations built on them, for loops that run once per
//! partial per tick (the stretch) or once per output per model frame (the decoder), where a
//! libm call per element costs more than the work around it. Plain multiplies and adds, so the
//! loops that call them vectorise and give the same bits on every x86-64 and ARM machine.
//!
//! Accuracy, tested against libm below: `log2` and `exp2` within a few units in the last
//! place; the sigmoid within `3e-7 (1 + |x|)` relative (the rounding of its exponent's
//! argument), `tanh` within 3e-7 absolute.

/// `log2(x)` for positive normal `x`: the float's exponent plus an atanh series for the
/// mantissa, taken in `sqrt(1/2)..sqrt(2)` so that four terms reach full precision.
#[inline]
pub fn fast_log2(x: f32) -> f32 {
    log2_with::<false>(x)
}

/// `2^y`, clamped to the normal range: the exponent bits of the nearest integer times a
/// Taylor series of the rest (to the 7th power, within 5e-9; evaluated in independent parts
/// (Estrin), not one long chain).
#[inline]
pub fn fast_exp2(y: f32) -> f32 {
    exp2_with::<false>(y)
}

/// `a * b + c`: one fused multiply-add (one rounding) where `FUSED`, else a multiply and an add.
/// Only code compiled for a CPU with FMA may ask for the fused one: elsewhere `mul_add` is a
/// libm call.
#[inline(always)]
pub(crate) fn multiply_add<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// [`fast_log2`], with fused multiply-adds where `FUSED` (the same to rounding; see
/// [`multiply_add`]).
#[inline(always)]
pub(crate) fn log2_with<const FUSED: bool>(x: f32) -> f32 {
    let bits = x.to_bits();
    let fraction_bits = bits & 0x007f_ffff;
    // A mantissa of sqrt(2) or more is halved and the exponent raised (no branch).
    let halve = u32::from(fraction_bits >= 0x0035_04f3);
    let exponent = ((bits >> 23) & 0xff) as i32 - 127 + halve as i32;
    let mantissa = f32::from_bits((fraction_bits | 0x3f80_0000) - (halve << 23));
    // ln(m) = 2 atanh(t), t = (m - 1) / (m + 1) in -0.172..0.172: the series to t^7 is
    // within 2e-8; evaluated as two halves side by side (Estrin), not one long chain.
    let t = (mantissa - 1.0) / (mantissa + 1.0);
    let t2 = t * t;
    let t4 = t2 * t2;
    let madd = multiply_add::<FUSED>;
    let series = t * madd(t4, madd(t2, 1.0 / 7.0, 1.0 / 5.0), madd(t2, 1.0 / 3.0, 1.0));
    madd(series, 2.0 * std::f32::consts::LOG2_E, exponent as f32)
}

/// [`fast_exp2`], with fused multiply-adds where `FUSED` (the same to rounding; see
/// [`multiply_add`]).
#[inline(always)]
pub(crate) fn exp2_with<const FUSED: bool>(y: f32) -> f32 {
    // `max` then `min` (not `clamp`) so that NaN becomes -126: every `y` is then in range.
    #[allow(clippy::manual_clamp)]
    let y = y.max(-126.0).min(126.0);
    // Nearest integer without `round` (not in baseline SSE2): y + 128.5 is in 2.5..254.5.
    // SAFETY: a finite value in range of i32. The unchecked conversion is one SIMD
    // instruction; `as` (saturating, NaN to 0) would make the loops that call this scalar.
    let n = unsafe { (y + 128.5).to_int_unchecked::<i32>() } - 128;
    let f = (y - n as f32) * std::f32::consts::LN_2; // |f| <= ln2 / 2
    let f2 = f * f;
    let f4 = f2 * f2;
    let madd = multiply_add::<FUSED>;
    let low = (1.0 + f) + f2 * madd(f, 1.0 / 6.0, 0.5);
    let high = madd(f2, madd(f, 1.0 / 5040.0, 1.0 / 720.0), madd(f, 1.0 / 120.0, 1.0 / 24.0));
    let e_f = madd(f4, high, low);
    e_f * f32::from_bits(((n + 127) as u32) << 23)
}

/// The sum of eight running sums (one AVX register of partial sums), always added in the same
/// pairs, so every loop that keeps eight lanes ends the same way.
#[inline(always)]
pub fn sum_of_lanes(sums: &[f32; 8]) -> f32 {
    ((sums[0] + sums[4]) + (sums[1] + sums[5])) + ((sums[2] + sums[6]) + (sums[3] + sums[7]))
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline]
pub fn fast_sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + fast_exp2(-x * std::f32::consts::LOG2_E))
}

/// `tanh(x) = 2 sigmoid(2x) - 1` (absolute error within 3e-7).
#[inline]
pub fn fast_tanh(x: f32) -> f32 {
    2.0 * fast_sigmoid(2.0 * x) - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_and_exp2_match_libm() {
        for i in 0..20_000 {
            let x = 1e-30f32 * 1.0093f32.powi(i);
            // Within a few units in the last place of the result.
            let want = x.log2();
            assert!((fast_log2(x) - want).abs() <= 4e-7 * want.abs().max(1.0), "log2({x})");
        }
        for i in -12_000..12_000 {
            let y = i as f32 * 0.01;
            let want = y.exp2();
            assert!((fast_exp2(y) - want).abs() <= 4e-7 * want, "exp2({y})");
        }
        // Out of range and NaN clamp to the normal range rather than wrapping the exponent.
        assert_eq!(fast_exp2(1000.0), 126f32.exp2());
        assert_eq!(fast_exp2(f32::NAN), (-126f32).exp2());
    }

    #[test]
    fn sigmoid_and_tanh_match_libm() {
        for i in -4000..4000 {
            let x = i as f32 * 0.01;
            let sigmoid = 1.0 / (1.0 + (-x).exp());
            // Relative, growing with |x| as the rounding of the exponent's argument does.
            let tolerance = 3e-7 * (1.0 + x.abs()) * sigmoid;
            assert!((fast_sigmoid(x) - sigmoid).abs() <= tolerance, "sigmoid({x})");
            assert!((fast_tanh(x) - x.tanh()).abs() < 3e-7, "tanh({x})");
        }
    }
}

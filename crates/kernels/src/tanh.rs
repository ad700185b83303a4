//! meanfield's own tanh: branch-free, so that a loop over a slice vectorises, and written in plain f64
//! operations with explicit fused multiply-adds, so that it gives the same bits on every machine (libm's
//! tanh differs between C libraries). Its error, measured against a 192-bit reference in the tests, is at
//! most [`MAX_ULP_ERROR`] units in the last place.
//!
//! One formula for every x: tanh |x| = (1 − q)/(1 + q) with q = e^(−2|x|) = 2ⁿ·(1 + p), n = round(−2|x|/ln 2),
//! p = e^r − 1 = r + r²·R(r) for |r| ≤ ln2/2, R a degree-10 polynomial. Writing 1 ∓ q as (1 ∓ 2ⁿ) ∓ 2ⁿ·p,
//! one fused multiply-add each, loses nothing to cancellation: for n = 0 (|x| < ln2/4) 1 − 2ⁿ = 0 and the
//! numerator is −p itself, accurate however small |x| is. |x| is clamped at 20, beyond which tanh rounds
//! to 1. One formula rather than a second polynomial for small |x| keeps the loop free of selects; it is
//! evaluated in s = −r/2 ([`reduce_halved`]: the same bits, one multiplication fewer) and forms N and D by
//! adding the exact 2t·m (the same bits again). Rounding N, D and the quotient costs up to about 3.1 ulp by
//! the error analysis (three roundings of relative size 2⁻⁵³, just below a power of two).
//!
//! The coefficients come from `crates/kernels/tools/fit_tanh.py` (mpmath Chebyshev fits).

use crate::exp::{power_of_two, reduce_halved};
#[cfg(test)]
use crate::exp::{reduce, scale};
use crate::lanes::{BLOCK, TAIL, horner, map_blocks};

/// The largest error of [`tanh`] in units in the last place of the correctly rounded result, as measured
/// by the tests (2.01 at most), from tiny arguments through every change of n to the approach to ±1, with
/// margin for points they do not draw (2.03 over a scan of 400 000).
pub const MAX_ULP_ERROR: f64 = 2.5;

/// Chebyshev fit of degree 10 of R(r) = (e^r − 1 − r)/r² on [-0.34657359027997265, 0.34657359027997265],
/// highest power first; fit error 1.4e-18 (R ≥ 0.44, and r²·R is at most a fifth of e^r − 1).
const EXPM1: [f64; 11] = [
    2.0914679376583935e-09,
    2.510520637395701e-08,
    2.7557273661348637e-07,
    2.7557255425746435e-06,
    2.4801587325533363e-05,
    0.00019841269874800493,
    0.0013888888888883752,
    0.008333333333326141,
    0.04166666666666667,
    0.1666666666666667,
    0.5,
];
/// −2·R(−2s) as a polynomial in s: [`EXPM1`]'s coefficient of s^k times (−2)^(k+1), exact (a power of two),
/// so that Horner's scheme in s gives −2 times its value in r = −2s, bit for bit.
const EXPM1_HALVED: [f64; 11] = {
    let mut c = EXPM1;
    let mut i = c.len();
    let mut factor = -2.0;
    while i > 0 {
        i -= 1;
        c[i] *= factor;
        factor *= -2.0;
    }
    c
};

/// [`tanh`] of K values, written lane by lane so that each step becomes K/4 independent vector operations.
#[inline(always)]
pub fn tanh_lanes<const K: usize>(x: &[f64; K]) -> [f64; K] {
    let (mut shifted, mut s, mut s2) = ([0.0f64; K], [0.0f64; K], [0.0f64; K]);
    for l in 0..K {
        let a = x[l].abs();
        // NaN fails the comparison and stays NaN.
        (shifted[l], s[l]) = reduce_halved(if a > 20.0 { 20.0 } else { a });
        s2[l] = s[l] * s[l];
    }
    let big_r = horner(&EXPM1_HALVED, &s);
    let mut out = [0.0f64; K];
    for l in 0..K {
        // e^(−2|x|) = t·(1 + p) with t = 2ⁿ ≤ 1 and p = e^r − 1 = r + r²·R(r), |p| ≤ 0.42, so that
        // 1 ∓ e^(−2|x|) = (1 ∓ t) ∓ t·p, each rounded once: 1 ∓ t is exact (or rounds away a 2ⁿ far below
        // 1), and for n = 0 (|x| < ln2/4) 1 − t = 0 leaves −p itself, with no cancellation however small |x|
        // is. p rounded once (r is exact for n = 0), so its error reaches the result damped. Computed in
        // s = −r/2 (see [`reduce_halved`]): m = s + s²·(−2R) = −p/2 and 2t·m = −t·p, every value the
        // one computed in r times a power of two, so the same bits. And 2t·m, a power of two times m, is
        // exact, so adding it rounds once as the fused multiply-add did: one multiplication and two
        // additions instead of two fused multiply-adds, which frees the multiply units tanh is bound by.
        let m = s2[l].mul_add(big_r[l], s[l]);
        let (t, two_t) = (power_of_two(shifted[l], 0), power_of_two(shifted[l], 1));
        let minus_tp = two_t * m;
        let numerator = (1.0 - t) + minus_tp;
        let denominator = (1.0 + t) - minus_tp;
        out[l] = (numerator / denominator).copysign(x[l]);
    }
    out
}

/// The tanh formula in r, of which the error analysis speaks: for the test that the form in s gives the
/// same bits.
#[cfg(test)]
fn tanh_in_r(x: f64) -> f64 {
    let a = x.abs();
    let (shifted, r) = reduce(-2.0 * if a > 20.0 { 20.0 } else { a });
    let r2 = r * r;
    let big_r = horner(&EXPM1, &[r])[0];
    let p = r2.mul_add(big_r, r);
    let t = scale(1.0, shifted);
    let numerator = (-t).mul_add(p, 1.0 - t);
    let denominator = t.mul_add(p, 1.0 + t);
    (numerator / denominator).copysign(x)
}

/// tanh x within [`MAX_ULP_ERROR`] ulp; NaN stays NaN, ±∞ gives ±1, −0 gives −0.
#[inline(always)]
pub fn tanh(x: f64) -> f64 {
    tanh_lanes(&[x])[0]
}

/// tanh of every entry of `z` into `value`, and 1 − tanh² (one fused multiply-add) into `derivative` when
/// given; the same bits as [`tanh`] entry by entry.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn tanh_slice(z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>) {
    let len = z.len();
    map_blocks!(tanh_lanes, z, &mut value[..len]);
    if let Some(derivative) = derivative {
        for (d, t) in derivative[..len].iter_mut().zip(&value[..len]) {
            *d = (-t).mul_add(*t, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astro_float::{BigFloat, Consts, RoundingMode};
    use rand::{Rng, SeedableRng};

    const PRECISION: usize = 192;

    /// |x| = ln2/4, where the reduction of −2|x| moves from n = 0 to n = −1.
    const LN2_QUARTER: f64 = std::f64::consts::LN_2 / 4.0;

    /// |tanh(x) − tanh_192(x)| in units of the last place of the correctly rounded tanh(x).
    fn ulp_error(x: f64, consts: &mut Consts) -> f64 {
        let exact = BigFloat::from_f64(x, PRECISION).tanh(PRECISION, RoundingMode::ToEven, consts);
        let rounded: f64 = format!("{exact}").parse().expect("astro-float prints a decimal number");
        let diff = BigFloat::from_f64(tanh(x), PRECISION).sub(&exact, PRECISION, RoundingMode::ToEven);
        let diff: f64 = format!("{diff}").parse().expect("astro-float prints a decimal number");
        let ulp = rounded.abs().next_up() - rounded.abs();
        (diff / ulp).abs()
    }

    /// Uniform points in each range where a different part of the formula decides the error: tiny
    /// arguments (tanh x = x), n = 0 and n = −1, where the error is largest (there 40 000 points), both
    /// sides of the change of n, larger n, and the approach to 1 where q underflows relative to 1 (58 000
    /// points, 2.01 ulp at most). Each of these breaks the bound and fails the test: a change in the 11th
    /// digit of a coefficient of R (125 ulp), one unit in the last digit of LN2_HI (3.6 ulp), forming 1 ∓ q
    /// from q rounded (the cancellation for small |x|: 9·10¹⁵ ulp) and dropping R's top coefficient (156 ulp).
    #[test]
    fn tanh_is_within_its_ulp_bound_of_a_192_bit_reference() {
        let mut consts = Consts::new().expect("astro-float constants");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        let ranges = [
            (1e-300, 1e-8, 3000),
            (1e-8, 0.1, 3000),
            (0.1, 0.6, 40_000),
            (LN2_QUARTER - 1e-3, LN2_QUARTER + 1e-3, 3000),
            (0.6, 3.0, 3000),
            (3.0, 19.0, 3000),
            (19.0, 25.0, 3000),
        ];
        let mut worst = (0.0, 0.0);
        for (lo, hi, points) in ranges {
            for k in 0..points {
                let a: f64 = if lo < 1e-8 {
                    10f64.powf(rng.random_range(lo.log10()..hi.log10()))
                } else {
                    rng.random_range(lo..hi)
                };
                let x = if k % 2 == 0 { a } else { -a };
                let err = ulp_error(x, &mut consts);
                if err > worst.0 {
                    worst = (err, x);
                }
            }
        }
        eprintln!("largest error {:.3} ulp at x = {:e}", worst.0, worst.1);
        assert!(worst.0 <= MAX_ULP_ERROR, "{:.3} ulp at x = {:e}", worst.0, worst.1);
    }

    #[test]
    fn special_values() {
        assert_eq!(tanh(0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f64).to_bits());
        assert!(tanh(f64::NAN).is_nan());
        assert_eq!(tanh(f64::INFINITY), 1.0);
        assert_eq!(tanh(f64::NEG_INFINITY), -1.0);
        assert_eq!(tanh(1e300), 1.0);
        assert_eq!(tanh(f64::MIN_POSITIVE), f64::MIN_POSITIVE);
    }

    /// The formula in s = −r/2 that [`tanh_lanes`] evaluates gives the bits of the formula in r, of which the
    /// error analysis and the fit speak, for every kind of argument: across every change of n, tiny and
    /// subnormal, beyond the clamp, and the special values.
    #[test]
    fn the_halved_reduction_gives_the_bits_of_the_formula_in_r() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let special = [0.0, -0.0, f64::MIN_POSITIVE, 5e-324, 1e-200, 20.0, 20.5, 1e300, f64::INFINITY, f64::NAN];
        let drawn = (0..400_000).map(|k| match k % 4 {
            0 => rng.random_range(0.0..0.6),
            1 => rng.random_range(0.0..25.0),
            2 => 10f64.powf(rng.random_range(-300.0..1.5)),
            _ => LN2_QUARTER * (1.0 + rng.random_range(-1e-12..1e-12)),
        });
        for x in special.into_iter().chain(drawn) {
            for x in [x, -x] {
                assert_eq!(tanh(x).to_bits(), tanh_in_r(x).to_bits(), "tanh({x:e})");
            }
        }
    }

    /// The dispatched slice function (the AVX-512 or AVX2 + FMA clone where the machine has them) equals the
    /// scalar function bit for bit, values and derivatives, for a length that leaves a remainder after any
    /// vector width.
    #[test]
    fn slice_equals_scalar_bitwise() {
        let mut z: Vec<f64> = (0..1003).map(|k| (k as f64 - 500.0) * 0.031).collect();
        (z[3], z[500], z[1001]) = (f64::NAN, f64::NEG_INFINITY, -0.0);
        let (mut v, mut d) = (vec![0.0; z.len()], vec![0.0; z.len()]);
        tanh_slice(&z, &mut v, Some(&mut d));
        for ((z, v), d) in z.iter().zip(&v).zip(&d) {
            let t = tanh(*z);
            assert_eq!(v.to_bits(), t.to_bits(), "value at {z}");
            assert_eq!(d.to_bits(), (-t).mul_add(t, 1.0).to_bits(), "derivative at {z}");
        }
        let mut only = vec![0.0; z.len()];
        tanh_slice(&z, &mut only, None);
        let bits = |v: &[f64]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert!(bits(&only) == bits(&v), "values without derivatives differ");
    }
}

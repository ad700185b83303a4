//! An exponential for y ≤ 0 ([`exp_slice`]: weights relative to the largest, as in the large-deviation
//! estimators) and the Cody–Waite reduction it shares with [`crate::tanh`]: branch-free, in plain f64
//! operations with explicit fused multiply-adds, so that it gives the same bits on every machine, within
//! [`EXP_MAX_ULP_ERROR`] ulp (measured against a 192-bit reference in the tests).

use crate::lanes::{BLOCK, TAIL, horner, map_blocks};

/// Chebyshev fit of degree 11 of e^r on [-0.34657359027997265, 0.34657359027997265], highest power first;
/// fit error 3.15e-18 ([`exp_slice`] evaluates it as 1 + r·Q(r), [`EXP_Q`]).
const EXP: [f64; 12] = [
    2.5110037605963777e-08,
    2.763263963904103e-07,
    2.755724091857897e-06,
    2.4801485482328494e-05,
    0.00019841269890047113,
    0.0013888888952314775,
    0.008333333333319601,
    0.0416666666664881,
    0.1666666666666668,
    0.5000000000000019,
    1.0,
    1.0,
];
/// Adding 1.5·2⁵² rounds a float of magnitude below 2⁵¹ to an integer, kept in the low mantissa bits.
const ROUNDER: f64 = 6755399441055744.0;
/// ln 2 split (Cody–Waite): LN2_HI keeps 40 mantissa bits, so n·LN2_HI is exact for the n that occur
/// (|n| ≤ 58) and y − n·LN2_HI is exact; LN2_LO is the rest, rounded (ln 2 − HI − LO ≈ 2·10⁻³¹).
const LN2_HI: f64 = 0.6931471805592082;
const LN2_LO: f64 = 7.371002565167799e-13;

/// The largest error of [`exp_slice`] in ulp of the correctly rounded e^y, where e^y is a normal number: the
/// tests measure 1.03 at most (glibc's `exp` stays below 1).
pub const EXP_MAX_ULP_ERROR: f64 = 1.5;
/// [`EXP`] without its constant term 1: e^r = 1 + r·Q(r). [`exp_slice`] adds the 1 last, so the rounding
/// errors of the polynomial scale with |r·Q| ≤ 0.42 rather than with e^r (through [`EXP`] as tanh evaluates
/// it, the even chain's errors of order 1 land on results down to 0.7: 1.88 ulp in the test, 1.03 through Q).
const EXP_Q: [f64; 11] = {
    let mut q = [0.0; 11];
    let mut k = 0;
    while k < 11 {
        q[k] = EXP[k];
        k += 1;
    }
    q
};
/// Below it [`exp_slice`] gives 0: e^y < 3.3·10⁻³⁰⁸, near the subnormals, which 2ⁿ built from exponent bits
/// cannot reach (n ≥ −1022 here: −708·log₂e ≈ −1021.4).
const EXP_FLUSH: f64 = -708.0;

/// The Cody–Waite reduction e^y = 2ⁿ·e^r: n = round(y/ln 2) kept in the low mantissa bits of `shifted`,
/// and r = y − n·ln 2, |r| ≤ ln2/2.
#[inline(always)]
pub(crate) fn reduce(y: f64) -> (f64, f64) {
    let shifted = y.mul_add(std::f64::consts::LOG2_E, ROUNDER);
    let n = shifted - ROUNDER;
    (shifted, (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, y)))
}

/// 2ⁿ·`e` for the n of [`reduce`]'s `shifted`, −1022 ≤ n ≤ 1023.
#[inline(always)]
pub(crate) fn scale(e: f64, shifted: f64) -> f64 {
    e * power_of_two(shifted, 0)
}

/// [`reduce`] of y = −2a scaled by −1/2: `shifted` as for y and s = −r/2 = a + n·ln2/2. Scaling every
/// operand of a rounded operation by a power of two scales its result by the same power, so s has exactly
/// the bits of −r/2, and y = −2a is never formed: one multiplication fewer in [`tanh_lanes`].
#[inline(always)]
pub(crate) fn reduce_halved(a: f64) -> (f64, f64) {
    let shifted = a.mul_add(-2.0 * std::f64::consts::LOG2_E, ROUNDER);
    let n = shifted - ROUNDER;
    (shifted, n.mul_add(LN2_LO / 2.0, n.mul_add(LN2_HI / 2.0, a)))
}

/// 2ⁿ⁺ᵏ for the n of [`reduce`]'s `shifted`, −1022 ≤ n + k ≤ 1023, from its exponent bits.
#[inline(always)]
pub(crate) fn power_of_two(shifted: f64, k: u64) -> f64 {
    f64::from_bits(shifted.to_bits().wrapping_sub(ROUNDER.to_bits()).wrapping_add(1023 + k) << 52)
}

/// e^y of K values y ≤ 0 (up to 709 also works), 0 below [`EXP_FLUSH`]; NaN stays NaN.
#[inline(always)]
fn exp_lanes<const K: usize>(y: &[f64; K]) -> [f64; K] {
    let (mut shifted, mut r) = ([0.0f64; K], [0.0f64; K]);
    for l in 0..K {
        // NaN fails the comparison and stays NaN; −∞ is clamped, then flushed.
        (shifted[l], r[l]) = reduce(if y[l] < EXP_FLUSH { EXP_FLUSH } else { y[l] });
    }
    let q = horner(&EXP_Q, &r);
    let mut out = [0.0f64; K];
    for l in 0..K {
        let e = q[l].mul_add(r[l], 1.0);
        out[l] = if y[l] < EXP_FLUSH { 0.0 } else { scale(e, shifted[l]) };
    }
    out
}

/// e^y of every entry of `y` into `out`, for y ≤ 0: within [`EXP_MAX_ULP_ERROR`] ulp where e^y is normal,
/// 0 for y < −708 (e^y < 3.3·10⁻³⁰⁸) and for −∞, NaN for NaN; the same bits on every machine.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn exp_slice(y: &[f64], out: &mut [f64]) {
    map_blocks!(exp_lanes, y, &mut out[..y.len()]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use astro_float::{BigFloat, Consts, RoundingMode};
    use rand::{Rng, SeedableRng};

    const PRECISION: usize = 192;

    /// |exp(y) − e^y| in ulp of the correctly rounded e^y, e^y from a 192-bit reference.
    fn exp_ulp_error(y: f64, consts: &mut Consts) -> f64 {
        let exact = BigFloat::from_f64(y, PRECISION).exp(PRECISION, RoundingMode::ToEven, consts);
        let rounded: f64 = format!("{exact}").parse().expect("astro-float prints a decimal number");
        let ours = exp_lanes(&[y])[0];
        let diff = BigFloat::from_f64(ours, PRECISION).sub(&exact, PRECISION, RoundingMode::ToEven);
        let diff: f64 = format!("{diff}").parse().expect("astro-float prints a decimal number");
        (diff / (rounded.next_up() - rounded)).abs()
    }

    /// Uniform points where a different part decides the error: tiny arguments (e^y = 1 − |y|), the
    /// polynomial alone (n = 0), small and large n, and the last normal results above the flush (18 000
    /// points; 1.03 ulp at most, where the analysis of [`EXP_Q`] allows about 1.2). Each of these breaks the
    /// bound and fails the test: one unit in the last digit of LN2_HI (1020 ulp near y = −707, where n ≈ −1020
    /// multiplies it), dropping LN2_LO, and evaluating e^r through [`EXP`] instead of 1 + r·Q(r) (1.88 ulp).
    #[test]
    fn exp_is_within_its_ulp_bound_of_a_192_bit_reference() {
        let mut consts = Consts::new().expect("astro-float constants");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
        let ranges: [(f64, f64); 6] =
            [(1e-300, 1e-8), (1e-8, 0.34), (0.34, 3.0), (3.0, 40.0), (40.0, 700.0), (700.0, -EXP_FLUSH)];
        let mut worst = (0.0, 0.0);
        for (lo, hi) in ranges {
            for _ in 0..3000 {
                let a: f64 = if lo < 1e-8 {
                    10f64.powf(rng.random_range(lo.log10()..hi.log10()))
                } else {
                    rng.random_range(lo..hi)
                };
                let err = exp_ulp_error(-a, &mut consts);
                if err > worst.0 {
                    worst = (err, -a);
                }
            }
        }
        eprintln!("largest error {:.3} ulp at y = {:e}", worst.0, worst.1);
        assert!(worst.0 <= EXP_MAX_ULP_ERROR, "{:.3} ulp at y = {:e}", worst.0, worst.1);
    }

    #[test]
    fn exp_special_values_and_slice() {
        let exp = |y: f64| exp_lanes(&[y])[0];
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-0.0), 1.0);
        assert_eq!(exp(f64::NEG_INFINITY).to_bits(), 0.0f64.to_bits());
        assert_eq!(exp(-708.5).to_bits(), 0.0f64.to_bits());
        assert!(exp(f64::NAN).is_nan());
        assert!(exp(EXP_FLUSH) > 0.0 && exp(EXP_FLUSH).is_normal());
        // The dispatched slice function gives the scalar bits, past every block and tail width.
        let mut y: Vec<f64> = (0..1003).map(|k| -(k as f64) * 0.71).collect();
        (y[3], y[500], y[1001]) = (f64::NAN, f64::NEG_INFINITY, -0.0);
        let mut out = vec![0.0; y.len()];
        exp_slice(&y, &mut out);
        for (y, v) in y.iter().zip(&out) {
            let e = exp(*y);
            // NaN's sign is not specified; every other value must have the scalar bits.
            assert!(v.to_bits() == e.to_bits() || (v.is_nan() && e.is_nan()), "at {y}: {v} against {e}");
        }
    }
}

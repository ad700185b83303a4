//! meanfield's own tanh (and an exponential sharing its reduction, [`exp_slice`]): branch-free, so that a
//! loop over a slice vectorises, and written in plain f64 operations with explicit fused multiply-adds, so
//! that it gives the same bits on every machine (libm's tanh differs between C libraries). Its error,
//! measured against a 192-bit reference in the tests, is at most [`MAX_ULP_ERROR`] units in the last place:
//! 2.01 ulp at most on the test's 58 000 points (2.03 over 400 000 points in 0 < x < 2, three quarters of
//! them in 0.1 < x < 0.6, where it is largest), where glibc 2.36's tanh (what `f64::tanh` calls on Linux)
//! reaches 2.09 ulp on the test's points.
//!
//! One formula for every x: tanh |x| = (1 − q)/(1 + q) with q = e^(−2|x|) = 2ⁿ·(1 + p), n = round(−2|x|/ln 2),
//! p = e^r − 1 = r + r²·R(r) for |r| ≤ ln2/2, R a degree-10 polynomial. Writing 1 ∓ q as (1 ∓ 2ⁿ) ∓ 2ⁿ·p,
//! one fused multiply-add each, loses nothing to cancellation: for n = 0 (|x| < ln2/4) 1 − 2ⁿ = 0 and the
//! numerator is −p itself, accurate however small |x| is. |x| is clamped at 20, beyond which tanh rounds
//! to 1. An earlier version evaluated a second polynomial for |x| < atanh(1/2) and selected between the
//! two: 1.67 ulp at most, but tanh of 1000 values took 1.49 µs where this one took 0.99 µs (criterion, a
//! Zen 4 core, AVX-512 clone), and 0.90 µs since it is evaluated in s = −r/2 ([`reduce_halved`]: the
//! same bits, one multiplication fewer) and forms N and D by adding the exact 2t·m (same bits again).
//! Rounding N, D and the quotient costs up to about 3.1 ulp by the error analysis (three roundings of
//! relative size 2⁻⁵³, just below a power of two); measured, 2.03.
//!
//! The coefficients come from `crates/models/tools/fit_tanh.py` (mpmath Chebyshev fits).
//!
//! [`exp_slice`] is the exponential on its own, for y ≤ 0 (weights relative to the largest, as in the
//! large-deviation estimators): within [`EXP_MAX_ULP_ERROR`], the same bits on every machine, a register at
//! a time.

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

/// Values per iteration of [`tanh_slice`]: four AVX2 registers, whose chains overlap (criterion, 1000 values
/// with derivatives: 3.0 µs for 4, 2.6 µs for 8, 2.4 µs for 16, with the earlier two-branch tanh). On a
/// Zen 4 core (AVX-512 clone, two registers per block) 32 took 0.92 against 0.97 µs for 1000 values but
/// made an `ensemble-64` group step (400 values) slower, 1.33–1.40 against 1.26–1.29 µs.
pub(crate) const BLOCK: usize = 16;
/// Values per iteration after the last full block.
pub(crate) const TAIL: usize = 4;

/// Σ_k c_k x^k for coefficients given highest power first, by second-order Horner: the even and the odd
/// powers are two independent Horner chains in x², joined by one multiply-add. Each chain is half as long
/// as plain Horner's, so the multiply-adds of one value overlap instead of waiting on each other.
/// (Plain loops: the same scheme written with closures over arrays ran 5× slower, criterion.)
#[inline(always)]
fn horner<const K: usize, const C: usize>(coefficients: &[f64; C], x: &[f64; K]) -> [f64; K] {
    let mut x2 = [0.0f64; K];
    for l in 0..K {
        x2[l] = x[l] * x[l];
    }
    // coefficients[k] multiplies x^(C − 1 − k): the chain of the top power starts at 0, the other at 1.
    let top_is_odd = (C - 1) % 2 == 1;
    let (first_odd, first_even) = if top_is_odd { (0, 1) } else { (1, 0) };
    let mut odd = [coefficients[first_odd]; K];
    let mut even = [coefficients[first_even]; K];
    let mut k = first_odd + 2;
    while k < C {
        for l in 0..K {
            odd[l] = odd[l].mul_add(x2[l], coefficients[k]);
        }
        k += 2;
    }
    let mut k = first_even + 2;
    while k < C {
        for l in 0..K {
            even[l] = even[l].mul_add(x2[l], coefficients[k]);
        }
        k += 2;
    }
    let mut out = [0.0f64; K];
    for l in 0..K {
        out[l] = odd[l].mul_add(x[l], even[l]);
    }
    out
}

/// The Cody–Waite reduction e^y = 2ⁿ·e^r: n = round(y/ln 2) kept in the low mantissa bits of `shifted`,
/// and r = y − n·ln 2, |r| ≤ ln2/2.
#[inline(always)]
fn reduce(y: f64) -> (f64, f64) {
    let shifted = y.mul_add(std::f64::consts::LOG2_E, ROUNDER);
    let n = shifted - ROUNDER;
    (shifted, (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, y)))
}

/// 2ⁿ·`e` for the n of [`reduce`]'s `shifted`, −1022 ≤ n ≤ 1023.
#[inline(always)]
fn scale(e: f64, shifted: f64) -> f64 {
    e * power_of_two(shifted, 0)
}

/// [`reduce`] of y = −2a scaled by −1/2: `shifted` as for y and s = −r/2 = a + n·ln2/2. Scaling every
/// operand of a rounded operation by a power of two scales its result by the same power, so s has exactly
/// the bits of −r/2, and y = −2a is never formed: one multiplication fewer in [`tanh_lanes`].
#[inline(always)]
fn reduce_halved(a: f64) -> (f64, f64) {
    let shifted = a.mul_add(-2.0 * std::f64::consts::LOG2_E, ROUNDER);
    let n = shifted - ROUNDER;
    (shifted, n.mul_add(LN2_LO / 2.0, n.mul_add(LN2_HI / 2.0, a)))
}

/// 2ⁿ⁺ᵏ for the n of [`reduce`]'s `shifted`, −1022 ≤ n + k ≤ 1023, from its exponent bits.
#[inline(always)]
fn power_of_two(shifted: f64, k: u64) -> f64 {
    f64::from_bits(shifted.to_bits().wrapping_sub(ROUNDER.to_bits()).wrapping_add(1023 + k) << 52)
}

/// [`tanh`] of K values, written lane by lane so that each step becomes K/4 independent vector operations.
#[inline(always)]
pub(crate) fn tanh_lanes<const K: usize>(x: &[f64; K]) -> [f64; K] {
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

/// The tanh formula as first written, in r: for the test that the form in s gives the same bits.
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

/// `$lanes` (a `fn<const K>(&[f64; K]) -> [f64; K]`) of every entry of `$z` into `$out` (the same length),
/// BLOCK values at a time, then the rest in blocks of one register, the last one padded: lanes are
/// independent, so every value gets the bits of the scalar function, and a register costs little more than
/// the one value a scalar loop would wait on. A macro, not a function taking `$lanes`: a function item
/// passed along is compiled outside the caller's vector clone, where every `mul_add` is a call to a
/// software fma (measured: 5× slower).
macro_rules! map_blocks {
    ($lanes:ident, $z:expr, $out:expr) => {{
        let (z, out): (&[f64], &mut [f64]) = ($z, $out);
        let len = z.len();
        let full = len / BLOCK * BLOCK;
        for (z, v) in z[..full].chunks_exact(BLOCK).zip(out[..full].chunks_exact_mut(BLOCK)) {
            let z: &[f64; BLOCK] = z.try_into().expect("block");
            let v: &mut [f64; BLOCK] = v.try_into().expect("block");
            *v = $lanes(z);
        }
        for (z, v) in z[full..len].chunks(TAIL).zip(out[full..len].chunks_mut(TAIL)) {
            // Lane by lane: a copy of run-time length would be a call to memcpy.
            let mut padded = [0.0; TAIL];
            for (b, z) in padded.iter_mut().zip(z) {
                *b = *z;
            }
            for (v, t) in v.iter_mut().zip($lanes(&padded)) {
                *v = t;
            }
        }
    }};
}
pub(crate) use map_blocks;

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
    /// points, 2.01 ulp at most). The bound is broken by a change in the 11th digit of a coefficient of R
    /// (125 ulp), by one unit in the last digit of LN2_HI (3.6 ulp), by forming 1 ∓ q from q rounded (the
    /// cancellation for small |x|: 9·10¹⁵ ulp) and by dropping R's top coefficient (156 ulp); each was tried.
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
    /// points; 1.03 ulp at most, where the analysis of [`EXP_Q`] allows about 1.2). The bound is broken by
    /// one unit in the last digit of LN2_HI (1020 ulp near y = −707, where n ≈ −1020 multiplies it), by
    /// dropping LN2_LO, and by evaluating e^r through [`EXP`] instead of 1 + r·Q(r) (1.88 ulp); each was tried.
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

//! The built-in erf activation over a slice: the `libm` crate's erf (FreeBSD's `s_erf.c`) and the derivative
//! (2/√π)·e^(−z²) through its exp (`e_exp.c`), the same bits as `libm::erf` and `libm::exp` value by value
//! (the tests compare them on every range and boundary), but written lane by lane with every branch computed
//! and the result selected, so that a loop over a slice vectorises; the values that need erfc (and its two
//! exponentials) are gathered and take that path alone ([`erf_slice`]). Value by value, `libm::erf` and its
//! exponentials branch on every argument and stay scalar, and they are most of an erf network's step.
//!
//! libm's is kept rather than replaced by a new approximation so that results do not move; it is pure Rust
//! with no fused multiply-add, so it gives the same bits on every machine. The derivative takes libm's exp
//! too, not the C library's (glibc's differs from libm's in the last bit for some arguments, and other C
//! libraries may differ elsewhere), so that an erf network's results do not depend on the C library.
//! Every operation below is the one libm performs, in its order: plain products and sums (Rust never fuses
//! them), so that the vector code rounds as the scalar code does.

// The constants as libm (and FreeBSD) print them, so that they can be compared digit by digit.
#![allow(clippy::excessive_precision)]

use crate::lanes::{BLOCK, TAIL, map_blocks};

const ERX: f64 = 8.45062911510467529297e-01;
const EFX8: f64 = 1.02703333676410069053e+00;
// erf on [0, 0.84375]: x + x·P(x²)/Q(x²).
const PP: [f64; 5] = [
    1.28379167095512558561e-01,
    -3.25042107247001499370e-01,
    -2.84817495755985104766e-02,
    -5.77027029648944159157e-03,
    -2.37630166566501626084e-05,
];
const QQ: [f64; 5] = [
    3.97917223959155352819e-01,
    6.50222499887672944485e-02,
    5.08130628187576562776e-03,
    1.32494738004321644526e-04,
    -3.96022827877536812320e-06,
];
// erf on [0.84375, 1.25]: erx + P(s)/Q(s), s = |x| − 1.
const PA: [f64; 7] = [
    -2.36211856075265944077e-03,
    4.14856118683748331666e-01,
    -3.72207876035701323847e-01,
    3.18346619901161753674e-01,
    -1.10894694282396677476e-01,
    3.54783043256182359371e-02,
    -2.16637559486879084300e-03,
];
const QA: [f64; 6] = [
    1.06420880400844228286e-01,
    5.40397917702171048937e-01,
    7.18286544141962662868e-02,
    1.26171219808761642112e-01,
    1.36370839120290507362e-02,
    1.19844998467991074170e-02,
];
// erfc on [1.25, 1/0.35] (RA, SA) and [1/0.35, 6] (RB, SB), in s = 1/x². RB and SB have one coefficient
// fewer; padded with a 0, Horner's scheme adds s·0 = 0 to their top coefficient, which changes no bit, so
// that one evaluation serves both ranges with the coefficients chosen per lane.
const RA: [f64; 8] = [
    -9.86494403484714822705e-03,
    -6.93858572707181764372e-01,
    -1.05586262253232909814e+01,
    -6.23753324503260060396e+01,
    -1.62396669462573470355e+02,
    -1.84605092906711035994e+02,
    -8.12874355063065934246e+01,
    -9.81432934416914548592e+00,
];
const SA: [f64; 8] = [
    1.96512716674392571292e+01,
    1.37657754143519042600e+02,
    4.34565877475229228821e+02,
    6.45387271733267880336e+02,
    4.29008140027567833386e+02,
    1.08635005541779435134e+02,
    6.57024977031928170135e+00,
    -6.04244152148580987438e-02,
];
const RB: [f64; 8] = [
    -9.86494292470009928597e-03,
    -7.99283237680523006574e-01,
    -1.77579549177547519889e+01,
    -1.60636384855821916062e+02,
    -6.37566443368389627722e+02,
    -1.02509513161107724954e+03,
    -4.83519191608651397019e+02,
    0.0,
];
const SB: [f64; 8] = [
    3.03380607434824582924e+01,
    3.25792512996573918826e+02,
    1.53672958608443695994e+03,
    3.19985821950859553908e+03,
    2.55305040643316442583e+03,
    4.74528541206955367215e+02,
    -2.24409524465858183362e+01,
    0.0,
];

// exp: x = k·ln2 + r, e^r = 1 + r + r·c/(2 − c), c = r − r²·P(r²).
const LN2HI: f64 = 6.93147180369123816490e-01;
const LN2LO: f64 = 1.90821492927058770002e-10;
/// libm's INVLN2 (0x3ff71547652b82fe) is these bits.
const INVLN2: f64 = std::f64::consts::LOG2_E;
const P: [f64; 5] = [
    1.66666666666666019037e-01,
    -2.77777777770155933842e-03,
    6.61375632143793436117e-05,
    -1.65339022054652515390e-06,
    4.13813679705723846039e-08,
];
/// Adding 1.5·2⁵² to an integer-valued float below 2⁵¹ in magnitude keeps it in the low mantissa bits.
const ROUNDER: f64 = 6755399441055744.0;

/// The high 32 bits of |x|, which libm compares with its thresholds.
#[inline(always)]
fn high_word_of_abs(x: f64) -> u32 {
    ((x.to_bits() >> 32) as u32) & 0x7fff_ffff
}

/// Σ_k c_k s^k by Horner's scheme, lowest power first, as libm nests it: c_0 + s·(c_1 + s·(…)).
#[inline(always)]
fn nested<const C: usize>(c: &[f64; C], s: f64) -> f64 {
    let mut acc = c[C - 1];
    for k in (0..C - 1).rev() {
        acc = c[k] + s * acc;
    }
    acc
}

/// 2ⁿ for an integer-valued n with −1022 ≤ n ≤ 1023, from its exponent bits.
#[inline(always)]
fn two_to(n: f64) -> f64 {
    f64::from_bits(((n + 1023.0) + ROUNDER).to_bits().wrapping_sub(ROUNDER.to_bits()) << 52)
}

/// libm's exp up to its final scaling: (y, k) with e^x = y·2ᵏ, the reduction's three branches computed and
/// one selected.
#[inline(always)]
fn exp_reduced(x: f64) -> (f64, f64) {
    let hx = high_word_of_abs(x);
    let negative = x.is_sign_negative();
    // k = round(x/ln2) (libm truncates x/ln2 ± 1/2) from 1.5·ln2 on, ±1 above ln2/2, else 0.
    let half = if negative { -0.5 } else { 0.5 };
    let k = if hx >= 0x3ff0_a2b2 {
        (INVLN2 * x + half).trunc()
    } else if hx > 0x3fd6_2e42 {
        if negative { -1.0 } else { 1.0 }
    } else {
        0.0
    };
    // For k = 0 libm takes hi = x and lo = 0 as they are: x − 0·LN2HI and 0·LN2LO are those bits.
    let hi = x - k * LN2HI;
    let lo = k * LN2LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P[0] + rr * (P[1] + rr * (P[2] + rr * (P[3] + rr * P[4]))));
    (1.0 + (r * c / (2.0 - c) - lo + hi), k)
}

/// `libm::exp(x)` where none of libm's special cases is taken and 2ᵏ is normal: for erfc's two
/// exponentials, whose arguments lie in [−36.57, −0.023] (a test). It leaves out the special cases'
/// selections and the prescale, which every lane of the erfc path would otherwise compute.
#[inline(always)]
fn exp_in_range(x: f64) -> f64 {
    let (y, k) = exp_reduced(x);
    // libm's scalbn(y, k) is y·2ᵏ here (and for k = 0 libm returns y: the same bits).
    y * two_to(k)
}

/// `libm::exp(x)`, the same bits, every branch computed and one selected.
#[inline(always)]
fn exp_one(x: f64) -> f64 {
    let hx = high_word_of_abs(x);
    let (y, k) = exp_reduced(x);
    // libm's scalbn(y, k): 2ᵏ applied in two products where it is out of range (k = 1024, or below −1022
    // where the result is subnormal); y·1 leaves y as it is.
    let (prescale, n) = if k > 1023.0 {
        (f64::from_bits(0x7fe0_0000_0000_0000), k - 1023.0)
    } else if k < -1022.0 {
        (f64::from_bits(0x0010_0000_0000_0000) * f64::from_bits(0x4340_0000_0000_0000), k + 969.0)
    } else {
        (1.0, k)
    };
    let scaled = y * prescale * two_to(n);
    if x.is_nan() {
        x
    } else if x > 709.782712893383973096 {
        x * f64::from_bits(0x7fe0_0000_0000_0000)
    } else if x < -745.13321910194110842 {
        0.0
    } else if hx <= 0x3e30_0000 {
        1.0 + x
    } else {
        scaled
    }
}

/// Whether libm computes erf(x) through erfc (1.25 ≤ |x| < 6): two exponentials and three more divisions.
#[inline(always)]
fn through_erfc(x: f64) -> bool {
    (0x3ff4_0000..0x4018_0000).contains(&high_word_of_abs(x))
}

/// `libm::erf(x)` where not [`through_erfc`], the same bits, every branch computed and one selected.
#[inline(always)]
fn erf_direct(x: f64) -> f64 {
    let ix = high_word_of_abs(x);
    let a = x.abs();
    // erf(NaN) = NaN, erf(±∞) = ±1.
    let not_finite = 1.0 - 2.0 * if x.is_sign_negative() { 1.0 } else { 0.0 } + 1.0 / x;
    let tiny = 0.125 * (8.0 * x + EFX8 * x);
    // Below 0.84375 the quotient is P(x²)/Q(x²), below 1.25 P(s)/Q(s): one division serves both.
    let small = ix < 0x3feb_0000;
    let z = x * x;
    let s = a - 1.0;
    let numerator = if small { nested(&PP, z) } else { nested(&PA, s) };
    let denominator = if small { 1.0 + z * nested(&QQ, z) } else { 1.0 + s * nested(&QA, s) };
    let quotient = numerator / denominator;
    let below_084375 = x + x * quotient;
    let below_125 = 1.0 - (1.0 - ERX - quotient);
    let from_6 = 1.0 - f64::from_bits(0x0010_0000_0000_0000);
    let magnitude = if ix < 0x3ff4_0000 { below_125 } else { from_6 };
    if ix >= 0x7ff0_0000 {
        not_finite
    } else if ix < 0x3e30_0000 {
        tiny
    } else if small {
        below_084375
    } else if x.is_sign_negative() {
        -magnitude
    } else {
        magnitude
    }
}

/// `libm::erf(x)` where [`through_erfc`], the same bits: ±(1 − erfc |x|).
#[inline(always)]
fn erf_through_erfc(x: f64) -> f64 {
    let a = x.abs();
    // erfc(|x|) = e^(−z² − 0.5625) · e^((z − |x|)(z + |x|) + R/S) / |x|, z = |x| with its low word cleared.
    let (first, second) = erfc_exponents(a);
    let erfc = exp_in_range(first) * exp_in_range(second) / a;
    let magnitude = 1.0 - erfc;
    if x.is_sign_negative() { -magnitude } else { magnitude }
}

/// The arguments of erfc's two exponentials for 1.25 ≤ a < 6: −z² − 0.5625 and (z − a)(z + a) + R/S, z = a
/// with its low word cleared, R/S in s = 1/a² from RA/SA below 1/0.35, RB/SB above.
#[inline(always)]
fn erfc_exponents(a: f64) -> (f64, f64) {
    let s = 1.0 / (a * a);
    let near = high_word_of_abs(a) < 0x4006_db6d;
    let (mut r_coefficients, mut s_coefficients) = (RB, SB);
    for k in 0..8 {
        if near {
            (r_coefficients[k], s_coefficients[k]) = (RA[k], SA[k]);
        }
    }
    let big_r = nested(&r_coefficients, s);
    let big_s = 1.0 + s * nested(&s_coefficients, s);
    let z = f64::from_bits(a.to_bits() & 0xffff_ffff_0000_0000);
    (-z * z - 0.5625, (z - a) * (z + a) + big_r / big_s)
}

/// `fn $lanes<const K: usize>(&[f64; K]) -> [f64; K]` applying `$one` to each value, in a loop: not
/// `std::array::from_fn`, whose closure is compiled outside the caller's vector clone and so does not
/// vectorise with it.
macro_rules! lane_wise {
    ($lanes:ident, $one:ident) => {
        #[inline(always)]
        fn $lanes<const K: usize>(x: &[f64; K]) -> [f64; K] {
            let mut out = [0.0; K];
            for l in 0..K {
                out[l] = $one(x[l]);
            }
            out
        }
    };
}
lane_wise!(erf_direct_lanes, erf_direct);
lane_wise!(erf_through_erfc_lanes, erf_through_erfc);
lane_wise!(erf_derivative_lanes, erf_derivative);

/// erf(z), the same bits as `libm::erf`.
pub fn erf(z: f64) -> f64 {
    if through_erfc(z) { erf_through_erfc(z) } else { erf_direct(z) }
}

/// erf'(z) = (2/√π)·e^(−z²), e^ the same bits as `libm::exp`.
#[inline(always)]
pub fn erf_derivative(z: f64) -> f64 {
    std::f64::consts::FRAC_2_SQRT_PI * exp_one(-z * z)
}

/// Values [`erf_slice`] sorts at a time.
const CHUNK: usize = 256;

/// [`erf`] of every entry of `z` into `value`, and [`erf_derivative`] into `derivative` when given; the same
/// bits entry by entry. Every value goes through the direct formula (cheap: one division), then the values
/// [`through_erfc`] are gathered, a chunk at a time, and go through erfc, a register of them at a time. So
/// erfc's two exponentials and three more divisions are paid only by the values that need them, not by every
/// value of a register that holds both kinds.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn erf_slice(z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>) {
    let len = z.len();
    map_blocks!(erf_direct_lanes, z, &mut value[..len]);
    let (mut at, mut far, mut far_value) = ([0usize; CHUNK], [0.0; CHUNK], [0.0; CHUNK]);
    for (z, value) in z.chunks(CHUNK).zip(value[..len].chunks_mut(CHUNK)) {
        // Branch-free: every index is written, and kept by advancing the count.
        let mut count = 0;
        for (i, z) in z.iter().enumerate() {
            at[count] = i;
            far[count] = *z;
            count += usize::from(through_erfc(*z));
        }
        map_blocks!(erf_through_erfc_lanes, &far[..count], &mut far_value[..count]);
        for (i, v) in at[..count].iter().zip(&far_value[..count]) {
            value[*i] = *v;
        }
    }
    if let Some(derivative) = derivative {
        map_blocks!(erf_derivative_lanes, z, &mut derivative[..len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Uniform draws from each range, both signs, and the points where libm changes branch (each side of
    /// every threshold on the high word, with random low words), the limits of the format and the special
    /// values.
    fn points(ranges: &[(f64, f64)], thresholds: &[u32], seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut x = vec![0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::MAX, f64::MIN_POSITIVE, 5e-324];
        for &(lo, hi) in ranges {
            x.extend((0..20_000).map(|_| rng.random_range(lo..hi)));
        }
        for &high in thresholds {
            for high in [high - 1, high, high + 1] {
                x.extend((0..200).map(|_| f64::from_bits((u64::from(high) << 32) | u64::from(rng.random::<u32>()))));
            }
        }
        let negated: Vec<f64> = x.iter().map(|x| -x).collect();
        x.extend(negated);
        x
    }

    /// The same bits, or both NaN: a NaN's sign and payload are not specified (they follow operand order).
    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Runs `f` on `x` through the slice (in blocks and the tail) and returns the values with the inputs.
    fn check_bitwise(x: &[f64], slice: impl Fn(&[f64]) -> Vec<f64>, reference: impl Fn(f64) -> f64, what: &str) {
        // 37 values short of a block multiple, so that the tail is checked too.
        let x = &x[..x.len() - 37];
        let got = slice(x);
        for (x, got) in x.iter().zip(got) {
            let want = reference(*x);
            assert!(same(got, want), "{what}({x:e} = {:#x}): {got:e} against {want:e}", x.to_bits());
        }
    }

    /// Each side of every threshold of libm's erf, uniform draws from each of its five ranges up to 30,
    /// tiny and subnormal arguments, ±∞ and NaN: the slice gives libm's bits, value and derivative (the
    /// derivative against libm's exp). Each of these mutations fails it: an RA coefficient changed in its
    /// 15th digit, an RB coefficient in its 10th (its terms are smaller), z without its low word cleared,
    /// 0.5625 written as 0.5624, SB's padding at the wrong end, the tiny branch dropped. Moving the RA/RB
    /// threshold by one unit of the high word does not: there both fits give erf the same bits.
    #[test]
    fn erf_slice_is_libm_erf_bitwise() {
        let x = points(
            &[(0.0, 1e-8), (1e-8, 0.84375), (0.84375, 1.25), (1.25, 1.0 / 0.35), (1.0 / 0.35, 6.0), (6.0, 30.0)],
            &[0x3e30_0000, 0x3feb_0000, 0x3ff4_0000, 0x4006_db6d, 0x4018_0000, 0x7ff0_0000],
            1,
        );
        check_bitwise(
            &x,
            |x| {
                let mut v = vec![0.0; x.len()];
                erf_slice(x, &mut v, None);
                v
            },
            libm::erf,
            "erf",
        );
        check_bitwise(
            &x,
            |x| {
                let (mut v, mut d) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                erf_slice(x, &mut v, Some(&mut d));
                d
            },
            |x| std::f64::consts::FRAC_2_SQRT_PI * libm::exp(-x * x),
            "erf'",
        );
        for x in x.iter().step_by(97) {
            assert!(same(erf(*x), libm::erf(*x)), "erf({x:e}) alone");
            assert!(
                same(erf_derivative(*x), std::f64::consts::FRAC_2_SQRT_PI * libm::exp(-x * x)),
                "erf'({x:e}) alone"
            );
        }
    }

    /// erfc's exponentials take [`exp_in_range`], which leaves out libm's special cases: their arguments,
    /// over every |x| in [1.25, 6) at steps of 2⁻²⁰ and each side of the thresholds, lie in [−36.57,
    /// −0.023] (the extremes are −36.562 and −0.0233), inside (−708.39, −2⁻²⁸).
    #[test]
    fn erfc_exponents_stay_in_range() {
        let (mut lowest, mut highest) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut a = 1.25;
        let mut check = |a: f64| {
            let (first, second) = erfc_exponents(a);
            for y in [first, second] {
                (lowest, highest) = (lowest.min(y), highest.max(y));
            }
        };
        while a < 6.0 {
            check(a);
            a += 1.0 / f64::from(1 << 20);
        }
        for a in
            [1.25, 6.0f64.next_down(), f64::from_bits(0x4006_db6d_0000_0000), f64::from_bits(0x4006_db6c_ffff_ffff)]
        {
            check(a);
        }
        assert!(lowest > -36.57 && highest < -0.023, "[{lowest}, {highest}]");
        assert!(lowest > -708.39 && highest < -f64::powi(2.0, -28));
    }

    /// libm's exp from underflow to overflow, each side of its thresholds (ln2/2, 1.5·ln2, 2⁻²⁸, 708.4 where
    /// its special cases start, the subnormal results below −708.4 and the last ones at −745.1, overflow at
    /// 709.8): the same bits.
    #[test]
    fn exp_lanes_are_libm_exp_bitwise() {
        let x = points(
            &[(-750.0, -700.0), (-700.0, -1.0), (-1.0, 1.0), (-1e-8, 1e-8), (1.0, 700.0), (700.0, 712.0)],
            &[0x3e30_0000, 0x3fd6_2e42, 0x3ff0_a2b2, 0x4086_232b, 0x4086_2e42, 0x4087_4910],
            2,
        );
        let exp_slice = |x: &[f64]| {
            let mut out = vec![0.0; x.len()];
            map_blocks!(exp_lanes, x, &mut out[..]);
            out
        };
        check_bitwise(&x, exp_slice, libm::exp, "exp");
    }

    lane_wise!(exp_lanes, exp_one);
}

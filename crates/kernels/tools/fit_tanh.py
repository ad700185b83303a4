"""Coefficients of meanfield's tanh and exp (crates/models/src/tanh.rs), printed as Rust constants.
Run: python3 fit_tanh.py (needs mpmath); paste the output over the constants in tanh.rs.

- tanh |x| = (1 − q)/(1 + q), q = e^(−2|x|) = 2ⁿ·(1 + p) with |r| ≤ ln2/2 and p = e^r − 1 = r + r²·R(r). R is a
  Chebyshev fit (mpmath.chebyfit, 50 digits) of (e^r − 1 − r)/r² on [−ln2/2, ln2/2]; r²·R is at most a fifth
  of |p|, so a fit error far below 2⁻⁵³·|R| (R ≥ 0.44) is invisible after rounding.
- exp_slice: e^y = 2ⁿ·e^r; e^r is a Chebyshev fit on [−ln2/2, ln2/2], whose error must be far below 2⁻⁵³
  relative to e^r ≥ 0.7."""

from mpmath import mp, mpf, exp, expm1, log, chebyfit

mp.dps = 50


def expm1_rest(r):
    if abs(r) < mpf(10) ** -20:
        return mpf(1) / 2 + r / 6
    return (expm1(r) - r) / r**2


def emit(name, f, interval, degree):
    coefficients, error = chebyfit(f, interval, degree + 1, error=True)
    lo, hi = (mp.nstr(v, 17) for v in interval)
    print(f"/// Chebyshev fit of degree {degree} on [{lo}, {hi}], highest power first; fit error {mp.nstr(error, 3)}.")
    print(f"const {name}: [f64; {degree + 1}] = [")
    for c in coefficients:
        print(f"    {float(c)!r},")
    print("];")


emit("EXPM1", expm1_rest, [-log(2) / 2, log(2) / 2], 10)
emit("EXP", exp, [-log(2) / 2, log(2) / 2], 11)

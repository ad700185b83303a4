"""Coefficients of meanfield's tanh (crates/models/src/tanh.rs), printed as Rust constants.
Run: python3 fit_tanh.py (needs mpmath); paste the output over the constants in tanh.rs.

- Small |x| < atanh(1/2): tanh x = x + x·s·P(s), s = x². P is a Chebyshev fit (mpmath.chebyfit, 50 digits) of
  (tanh(√s)/√s − 1)/s on [0, atanh(1/2)²]. s·P enters the result scaled by at most 0.1, so a fit error far
  below 2⁻⁵³·|P| (|P| ≥ 0.29) is invisible after rounding.
- Larger |x|: tanh x = (1 − q)/(1 + q), q = e^(−2|x|) = 2ⁿ·e^r with |r| ≤ ln2/2; e^r is a Chebyshev fit on
  [−ln2/2, ln2/2], whose error must be far below 2⁻⁵³ relative to e^r ≥ 0.7."""

from mpmath import mp, mpf, atanh, tanh, sqrt, exp, log, chebyfit

mp.dps = 50


def small(s):
    if s < mpf(10) ** -30:
        return mpf(-1) / 3
    x = sqrt(s)
    return (tanh(x) / x - 1) / s


def emit(name, f, interval, degree):
    coefficients, error = chebyfit(f, interval, degree + 1, error=True)
    lo, hi = (mp.nstr(v, 17) for v in interval)
    print(f"/// Chebyshev fit of degree {degree} on [{lo}, {hi}], highest power first; fit error {mp.nstr(error, 3)}.")
    print(f"const {name}: [f64; {degree + 1}] = [")
    for c in coefficients:
        print(f"    {float(c)!r},")
    print("];")


emit("SMALL", small, [0, atanh(mpf(1) / 2) ** 2], 10)
emit("EXP", exp, [-log(2) / 2, log(2) / 2], 11)

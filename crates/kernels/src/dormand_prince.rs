//! One attempted step of the Dormand–Prince 5(4) pair (Hairer–Nørsett–Wanner I, §II.4) for an autonomous
//! system y' = f(y): the five-stage fifth-order solution and the local error its embedded fourth-order one
//! estimates. Gradient flow and the mean-field limit's ODE both step with it; each keeps its own step
//! control around it.

/// The stage weights. The last row holds the fifth-order weights as well: the seventh stage is evaluated at
/// the new solution, so it is the next step's first (first same as last).
const A: [[f64; 6]; 7] = [
    [0.0; 6],
    [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0, 0.0],
    [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0, 0.0],
    [35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
];
/// Fifth-order minus fourth-order weights.
const E: [f64; 7] =
    [71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0];

/// Attempts a step of size `h` from `y`, with `stages[0]` = f(y) on entry: writes stages 1 … 6 and the
/// fifth-order solution into `next`, and returns the root-mean-square over components of the local error
/// in units of `tolerance·(1 + max(|y|, |next|))` (at most 1: accept). `derivative(y, dy)` returns whether
/// dy is finite; if a stage is not, the attempt stops there and returns infinity. Allocates nothing.
pub fn attempt(
    y: &[f64],
    h: f64,
    tolerance: f64,
    stages: &mut [Vec<f64>],
    next: &mut [f64],
    derivative: &mut dyn FnMut(&[f64], &mut [f64]) -> bool,
) -> f64 {
    for s in 1..7 {
        next.copy_from_slice(y);
        for (a, k) in A[s][..s].iter().zip(stages.iter()) {
            if *a != 0.0 {
                for (v, k) in next.iter_mut().zip(k) {
                    *v += h * a * k;
                }
            }
        }
        if !derivative(next, &mut stages[s]) {
            return f64::INFINITY;
        }
    }
    let mut sum = 0.0;
    for (j, (new, old)) in next.iter().zip(y).enumerate() {
        let error: f64 = h * E.iter().zip(stages.iter()).map(|(e, k)| e * k[j]).sum::<f64>();
        let scale = tolerance * (1.0 + old.abs().max(new.abs()));
        sum += (error / scale).powi(2);
    }
    (sum / y.len().max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y' = y from 1: one step of h = 0.1 is e^0.1 to fifth order (local error of order h⁶/720 ≈ 1.4e-9),
    /// and the error estimate is of the size of the fourth-order error (h⁵/120 ≈ 8e-8, relative to the
    /// tolerance 1e-6 about 0.04); a wrong weight would move the solution by 1e-3 or more.
    #[test]
    fn a_step_of_the_exponential() {
        let mut stages = vec![vec![0.0]; 7];
        stages[0][0] = 1.0;
        let mut next = [0.0];
        let mut f = |y: &[f64], dy: &mut [f64]| {
            dy[0] = y[0];
            true
        };
        let error = attempt(&[1.0], 0.1, 1e-6, &mut stages, &mut next, &mut f);
        assert!((next[0] - 0.1f64.exp()).abs() < 1e-8, "{}", next[0]);
        assert!(error > 1e-3 && error < 0.2, "{error}");
        // The last stage is f at the new solution.
        assert_eq!(stages[6][0], next[0]);
    }
}

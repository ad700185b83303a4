//! Built-in activations with exact derivatives.

use meanfield_core::Activation;
use serde::{Deserialize, Serialize};

/// The activations meanfield ships. In scenario files they are written as `Tanh`, `Relu`,
/// `Ramp(s1: -2.5, s2: 7.5, t1: 0.5, t2: 1.5)`, …
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum BuiltinActivation {
    /// σ(z) = z.
    Identity,
    /// σ(z) = tanh z.
    Tanh,
    /// σ(z) = max(z, 0); σ'(0) = 1 (right derivative).
    Relu,
    /// σ(z) = 1 / (1 + e^(−z)).
    Sigmoid,
    /// σ(z) = erf(z) (not erf(z/√2)).
    Erf,
    /// σ(z) = log(1 + e^z).
    Softplus,
    /// Mei et al.'s piecewise-linear ramp: s1 for z ≤ t1, s2 for z ≥ t2, linear in between (t1 < t2).
    Ramp { s1: f64, s2: f64, t1: f64, t2: f64 },
}

impl BuiltinActivation {
    /// The names accepted in scenario files, for error messages.
    pub const NAMES: &'static [&'static str] = &["Identity", "Tanh", "Relu", "Sigmoid", "Erf", "Softplus", "Ramp"];

    #[inline]
    fn value_and_derivative(self, z: f64) -> (f64, f64) {
        match self {
            BuiltinActivation::Identity => (z, 1.0),
            BuiltinActivation::Tanh => {
                let v = meanfield_kernels::tanh::tanh(z);
                (v, (-v).mul_add(v, 1.0))
            }
            BuiltinActivation::Relu => {
                if z >= 0.0 {
                    (z, 1.0)
                } else {
                    (0.0, 0.0)
                }
            }
            BuiltinActivation::Sigmoid => {
                let v = sigmoid(z);
                (v, v * (1.0 - v))
            }
            BuiltinActivation::Erf => (meanfield_kernels::erf::erf(z), meanfield_kernels::erf::erf_derivative(z)),
            // max(z, 0) + log1p(e^(−|z|)) never overflows.
            BuiltinActivation::Softplus => (z.max(0.0) + (-z.abs()).exp().ln_1p(), sigmoid(z)),
            BuiltinActivation::Ramp { s1, s2, t1, t2 } => {
                let slope = (s2 - s1) / (t2 - t1);
                if z < t1 {
                    (s1, 0.0)
                } else if z >= t2 {
                    (s2, 0.0)
                } else {
                    (s1 + slope * (z - t1), slope)
                }
            }
        }
    }
}

/// The ramp of `value_and_derivative` over a slice, its slope computed once and every value chosen without a
/// branch, so that the loop vectorises (the same bits): value by value, the ramp is a large part of a ramp
/// network's step (`scenarios/mei_isotropic_gaussians.ron`).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn ramp_slice([s1, s2, t1, t2]: [f64; 4], z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>) {
    let slope = (s2 - s1) / (t2 - t1);
    let ramp = |z: f64| {
        if z < t1 {
            s1
        } else if z >= t2 {
            s2
        } else {
            s1 + slope * (z - t1)
        }
    };
    for (v, z) in value.iter_mut().zip(z) {
        *v = ramp(*z);
    }
    if let Some(derivative) = derivative {
        for (d, z) in derivative.iter_mut().zip(z) {
            *d = if z < &t1 || z >= &t2 { 0.0 } else { slope };
        }
    }
}

#[inline]
fn sigmoid(z: f64) -> f64 {
    // Written so that neither branch computes e^(large).
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Activation for BuiltinActivation {
    fn name(&self) -> String {
        match self {
            BuiltinActivation::Identity => "identity".into(),
            BuiltinActivation::Tanh => "tanh".into(),
            BuiltinActivation::Relu => "relu".into(),
            BuiltinActivation::Sigmoid => "sigmoid".into(),
            BuiltinActivation::Erf => "erf".into(),
            BuiltinActivation::Softplus => "softplus".into(),
            BuiltinActivation::Ramp { s1, s2, t1, t2 } => format!("ramp(s1={s1},s2={s2},t1={t1},t2={t2})"),
        }
    }

    fn eval(&self, z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>) {
        match *self {
            BuiltinActivation::Tanh => return meanfield_kernels::tanh::tanh_slice(z, value, derivative),
            BuiltinActivation::Erf => return meanfield_kernels::erf::erf_slice(z, value, derivative),
            BuiltinActivation::Ramp { s1, s2, t1, t2 } => return ramp_slice([s1, s2, t1, t2], z, value, derivative),
            _ => {}
        }
        match derivative {
            Some(derivative) => {
                for ((z, v), d) in z.iter().zip(value.iter_mut()).zip(derivative.iter_mut()) {
                    (*v, *d) = self.value_and_derivative(*z);
                }
            }
            None => {
                for (z, v) in z.iter().zip(value.iter_mut()) {
                    *v = self.value_and_derivative(*z).0;
                }
            }
        }
    }

    fn breakpoints(&self) -> Vec<f64> {
        match *self {
            BuiltinActivation::Relu => vec![0.0],
            BuiltinActivation::Ramp { t1, t2, .. } => vec![t1, t2],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [BuiltinActivation; 7] = [
        BuiltinActivation::Identity,
        BuiltinActivation::Tanh,
        BuiltinActivation::Relu,
        BuiltinActivation::Sigmoid,
        BuiltinActivation::Erf,
        BuiltinActivation::Softplus,
        BuiltinActivation::Ramp { s1: -2.5, s2: 7.5, t1: 0.5, t2: 1.5 },
    ];

    /// A slice gives, value by value, the bits of `value_and_derivative` (the ramp and tanh have slice code
    /// of their own), with the derivative and without, at the kinks and beyond ±∞.
    #[test]
    fn slices_give_the_values_one_by_one_bitwise() {
        let mut z: Vec<f64> = (0..=400).map(|k| -6.0 + 0.03 * k as f64).collect();
        z.extend([0.0, -0.0, 0.5, 1.5, 2.5, f64::INFINITY, f64::NEG_INFINITY, f64::NAN]);
        for act in ALL {
            let (mut value, mut derivative, mut alone) = (vec![0.0; z.len()], vec![0.0; z.len()], vec![0.0; z.len()]);
            act.eval(&z, &mut value, Some(&mut derivative));
            act.eval(&z, &mut alone, None);
            for (k, z) in z.iter().enumerate() {
                let (v, d) = act.value_and_derivative(*z);
                // A NaN's sign and payload are not specified (they follow operand order), only that it is one.
                let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
                assert!(same(value[k], v), "{act:?} at {z}: {} against {v}", value[k]);
                assert!(same(alone[k], v), "{act:?} at {z}, no derivative: {} against {v}", alone[k]);
                assert!(same(derivative[k], d), "{act:?}' at {z}: {} against {d}", derivative[k]);
            }
        }
    }

    /// Central differences have error h²·|σ'''|/6 ≈ 1e-10·O(1) at h = 1e-5 plus rounding ε/h ≈ 1e-11, so
    /// 1e-7 (relative to max(1, |σ'|)) leaves a wide margin; a derivative off by a factor as small as
    /// 1 + 1e-6 would fail. Points stay ≥ 0.01 away from kinks (relu at 0, ramp at t1, t2).
    #[test]
    fn derivatives_match_central_differences() {
        let h = 1e-5;
        let z: Vec<f64> = (0..=400).map(|k| -6.0 + 0.03 * k as f64 + 0.0037).collect();
        for act in ALL {
            let mut value = vec![0.0; z.len()];
            let mut derivative = vec![0.0; z.len()];
            act.eval(&z, &mut value, Some(&mut derivative));
            let (mut plus, mut minus) = (vec![0.0; z.len()], vec![0.0; z.len()]);
            let zp: Vec<f64> = z.iter().map(|z| z + h).collect();
            let zm: Vec<f64> = z.iter().map(|z| z - h).collect();
            act.eval(&zp, &mut plus, None);
            act.eval(&zm, &mut minus, None);
            for k in 0..z.len() {
                let fd = (plus[k] - minus[k]) / (2.0 * h);
                let tol = 1e-7 * derivative[k].abs().max(1.0);
                assert!(
                    (fd - derivative[k]).abs() < tol,
                    "{} at z={}: exact {} vs fd {}",
                    act.name(),
                    z[k],
                    derivative[k],
                    fd
                );
            }
        }
    }

    #[test]
    fn values_match_closed_forms() {
        let check = |act: BuiltinActivation, z: f64, expected: f64| {
            let mut v = [0.0];
            act.eval(&[z], &mut v, None);
            assert!(
                (v[0] - expected).abs() < 1e-15 * expected.abs().max(1.0),
                "{} at {z}: {} vs {expected}",
                act.name(),
                v[0]
            );
        };
        check(BuiltinActivation::Sigmoid, 0.0, 0.5);
        check(BuiltinActivation::Sigmoid, -800.0, 0.0);
        check(BuiltinActivation::Softplus, 0.0, std::f64::consts::LN_2);
        check(BuiltinActivation::Softplus, 800.0, 800.0);
        check(BuiltinActivation::Erf, 1.0, 0.842_700_792_949_714_9);
        check(BuiltinActivation::Relu, -1.0, 0.0);
        let ramp = BuiltinActivation::Ramp { s1: -2.5, s2: 7.5, t1: 0.5, t2: 1.5 };
        check(ramp, 0.0, -2.5);
        check(ramp, 1.0, 2.5);
        check(ramp, 9.0, 7.5);
    }
}

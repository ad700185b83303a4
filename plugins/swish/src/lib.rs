//! Example activation plugin: swish σ(z) = z·s(βz) with s the logistic function (Ramachandran et al.),
//! and `softplus`, a copy of the built-in that gives bit-identical trajectories (a check of the plugin path).
//!
//! In a scenario: `activation: Plugin(lib: "swish", name: "swish", params: (beta: 1.5))`.

use meanfield_plugin::{Activation, export_plugin};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwishParams {
    /// β > 0; β → ∞ tends to relu, β = 1 is SiLU.
    pub beta: f64,
}

#[derive(Debug)]
pub struct Swish {
    beta: f64,
}

/// The logistic function, written so that neither branch computes e^(large).
fn logistic(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

impl Activation for Swish {
    const NAME: &'static str = "swish";
    const PARAMS: &'static str = "(beta: f64 > 0)";
    type Params = SwishParams;

    fn new(params: SwishParams) -> Result<Self, String> {
        if params.beta.is_finite() && params.beta > 0.0 {
            Ok(Swish { beta: params.beta })
        } else {
            Err(format!("beta must be positive and finite, got {}", params.beta))
        }
    }

    fn eval(&self, z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>) {
        match derivative {
            // σ'(z) = s + βz·s(1 − s).
            Some(derivative) => {
                for ((z, v), d) in z.iter().zip(value.iter_mut()).zip(derivative.iter_mut()) {
                    let s = logistic(self.beta * z);
                    *v = z * s;
                    *d = s + self.beta * z * s * (1.0 - s);
                }
            }
            None => {
                for (z, v) in z.iter().zip(value.iter_mut()) {
                    *v = z * logistic(self.beta * z);
                }
            }
        }
    }
}

/// softplus σ(z) = log(1 + e^z) and σ' = the logistic function, written exactly as the built-in
/// `Softplus` (the same expressions, so the same bits): a template that reproduces a built-in, and the
/// check that a plugin activation changes nothing of a run but its speed.
#[derive(Debug)]
pub struct Softplus;

impl Activation for Softplus {
    const NAME: &'static str = "softplus";
    type Params = ();

    fn new(_: ()) -> Result<Self, String> {
        Ok(Softplus)
    }

    fn eval(&self, z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>) {
        // max(z, 0) + log1p(e^(−|z|)) never overflows.
        let softplus = |z: f64| z.max(0.0) + (-z.abs()).exp().ln_1p();
        match derivative {
            Some(derivative) => {
                for ((z, v), d) in z.iter().zip(value.iter_mut()).zip(derivative.iter_mut()) {
                    (*v, *d) = (softplus(*z), logistic(*z));
                }
            }
            None => {
                for (z, v) in z.iter().zip(value.iter_mut()) {
                    *v = softplus(*z);
                }
            }
        }
    }
}

export_plugin!(activations: [Swish, Softplus], distributions: []);

#[cfg(test)]
mod tests {
    use super::*;

    /// The derivative is checked against a central difference; the error of the difference is
    /// O(h²·σ''') ≈ 1e-10 at h = 1e-5, so 1e-7 leaves room without hiding a wrong formula.
    #[test]
    fn swish_derivative_matches_finite_differences() {
        let act = Swish::new(SwishParams { beta: 1.7 }).unwrap();
        let z: Vec<f64> = (-40..=40).map(|i| i as f64 * 0.25).collect();
        let (mut v, mut d) = (vec![0.0; z.len()], vec![0.0; z.len()]);
        act.eval(&z, &mut v, Some(&mut d));
        let h = 1e-5;
        for (i, zi) in z.iter().enumerate() {
            let (mut plus, mut minus) = ([0.0], [0.0]);
            act.eval(&[zi + h], &mut plus, None);
            act.eval(&[zi - h], &mut minus, None);
            assert!((d[i] - (plus[0] - minus[0]) / (2.0 * h)).abs() < 1e-7, "z = {zi}");
        }
    }

    #[test]
    fn swish_rejects_a_non_positive_beta() {
        assert!(Swish::new(SwishParams { beta: 0.0 }).is_err());
    }
}

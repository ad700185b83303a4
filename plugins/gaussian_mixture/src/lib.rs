//! Example data-distribution plugin: labelled Gaussian clusters. Component k has weight π_k, mean m_k,
//! isotropic standard deviation s_k and label ℓ_k; a sample picks k with probability π_k, then
//! x ~ N(m_k, s_k² I) and y = ℓ_k. With log-density, for importance sampling:
//! p(x, y) = Σ_{k: ℓ_k = y} π_k N(x; m_k, s_k² I).
//!
//! In a scenario:
//! ```ron
//! data: Plugin(lib: "gaussian_mixture", name: "gaussian_mixture", params: (components: [
//!     (weight: 1, mean: [1, 0], std: 0.5, label: 1),
//!     (weight: 1, mean: [-1, 0], std: 0.5, label: -1),
//! ])),
//! ```

use meanfield_plugin::rand::Rng;
use meanfield_plugin::rand_distr::StandardNormal;
use meanfield_plugin::{Distribution, HostRng, export_plugin};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixtureParams {
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub weight: f64,
    pub mean: Vec<f64>,
    pub std: f64,
    pub label: f64,
}

#[derive(Debug)]
pub struct GaussianMixture {
    components: Vec<Component>,
    /// Cumulative normalised weights; the last is 1.
    cumulative: Vec<f64>,
    dim: usize,
}

impl Distribution for GaussianMixture {
    const NAME: &'static str = "gaussian_mixture";
    const PARAMS: &'static str = "(components: [(weight: f64, mean: [f64], std: f64, label: f64)])";
    const HAS_LOG_DENSITY: bool = true;
    type Params = MixtureParams;

    fn new(params: MixtureParams) -> Result<Self, String> {
        let components = params.components;
        let Some(first) = components.first() else { return Err("components is empty".into()) };
        let dim = first.mean.len();
        if dim == 0 {
            return Err("component 0: mean is empty".into());
        }
        for (k, c) in components.iter().enumerate() {
            if c.mean.len() != dim {
                return Err(format!("component {k}: mean has {} entries, component 0 has {dim}", c.mean.len()));
            }
            if !(c.weight.is_finite() && c.weight > 0.0) {
                return Err(format!("component {k}: weight must be positive, got {}", c.weight));
            }
            if !(c.std.is_finite() && c.std > 0.0) {
                return Err(format!("component {k}: std must be positive, got {}", c.std));
            }
        }
        let total: f64 = components.iter().map(|c| c.weight).sum();
        let mut acc = 0.0;
        let mut cumulative: Vec<f64> = components
            .iter()
            .map(|c| {
                acc += c.weight / total;
                acc
            })
            .collect();
        *cumulative.last_mut().expect("non-empty") = 1.0;
        Ok(GaussianMixture { components, cumulative, dim })
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn sample(&self, rng: &mut HostRng<'_>, x: &mut [f64], y: &mut [f64]) {
        for (xi, yi) in x.chunks_exact_mut(self.dim).zip(y.iter_mut()) {
            let u: f64 = rng.random();
            let k = self.cumulative.iter().position(|&c| u < c).unwrap_or(self.components.len() - 1);
            let c = &self.components[k];
            for (x, m) in xi.iter_mut().zip(&c.mean) {
                let g: f64 = rng.sample(StandardNormal);
                *x = m + c.std * g;
            }
            *yi = c.label;
        }
    }

    fn log_density(&self, x: &[f64], y: &[f64], out: &mut [f64]) {
        let d = self.dim as f64;
        for ((xi, yi), o) in x.chunks_exact(self.dim).zip(y).zip(out.iter_mut()) {
            let density: f64 = self
                .components
                .iter()
                .zip(std::iter::once(0.0).chain(self.cumulative.iter().copied()))
                .zip(&self.cumulative)
                .filter(|((c, _), _)| c.label == *yi)
                .map(|((c, before), after)| {
                    let r2: f64 = xi.iter().zip(&c.mean).map(|(a, m)| (a - m) * (a - m)).sum();
                    let log_normal =
                        -0.5 * r2 / (c.std * c.std) - d * (c.std.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln());
                    (after - before) * log_normal.exp()
                })
                .sum();
            *o = density.ln();
        }
    }
}

export_plugin!(activations: [], distributions: [GaussianMixture]);

#[cfg(test)]
mod tests {
    use super::*;

    fn two_clusters() -> GaussianMixture {
        GaussianMixture::new(MixtureParams {
            components: vec![
                Component { weight: 3.0, mean: vec![1.0, 0.0], std: 0.5, label: 1.0 },
                Component { weight: 1.0, mean: vec![-1.0, 0.0], std: 0.25, label: -1.0 },
            ],
        })
        .unwrap()
    }

    /// At the centre of a component far from the other, p = π_k (2π s²)^(−d/2).
    #[test]
    fn log_density_at_a_centre_is_the_closed_form() {
        let mix = two_clusters();
        let mut out = [0.0];
        mix.log_density(&[-1.0, 0.0], &[-1.0], &mut out);
        let expected = (0.25f64 / (2.0 * std::f64::consts::PI * 0.25 * 0.25)).ln();
        assert!((out[0] - expected).abs() < 1e-12, "{} vs {expected}", out[0]);
    }

    #[test]
    fn mismatched_means_are_rejected() {
        let err = GaussianMixture::new(MixtureParams {
            components: vec![
                Component { weight: 1.0, mean: vec![0.0], std: 1.0, label: 1.0 },
                Component { weight: 1.0, mean: vec![0.0, 1.0], std: 1.0, label: 1.0 },
            ],
        })
        .unwrap_err();
        assert!(err.contains("component 1"), "{err}");
    }
}

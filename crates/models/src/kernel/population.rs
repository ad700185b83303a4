//! The exact population loss of Gaussian kernel particles against a Gaussian-mixture target on a bounded
//! interval (Rotskoff–Vanden-Eijnden's RBF example), and its descent direction.
//!
//! With x uniform on [a, b], f(x) = Σ_k w_k N(x; m_k, v_k) and ŷ(x) = (1/n) Σ_i c_i exp(−(x − z_i)²/2s²),
//! every term of ½ E(f − ŷ)² is an integral over [a, b] of a product of two Gaussians, which is a Gaussian
//! times an erf difference:
//!
//! G(p, α; q, β) = ∫_a^b exp(−(x − p)²/2α − (x − q)²/2β) dx
//!              = exp(−(p − q)²/2(α + β)) · √(πγ/2) · [erf((b − μ)/√2γ) − erf((a − μ)/√2γ)],
//!
//! γ = αβ/(α + β), μ = (βp + αq)/(α + β); and its derivative in q, needed for the direction of z_i,
//! ∂G/∂q = ∫ (x − q)/β · (…) dx = (K/β)·{γ[e(a) − e(b)] + (μ − q)·√(πγ/2)·[erf(b) − erf(a)]}, with K the
//! first factor and e(x) = exp(−(x − μ)²/2γ).

use meanfield_kernels::erf;
use std::f64::consts::PI;

/// A Gaussian-mixture target on x uniform in [low, high], learned by Gaussian kernel particles of one
/// bandwidth.
#[derive(Debug, Clone, PartialEq)]
pub struct MixtureOnInterval {
    /// (centre m_k, variance v_k, weight w_k): f = Σ_k w_k N(x; m_k, v_k), N the normalised density.
    pub components: Vec<(f64, f64, f64)>,
    pub low: f64,
    pub high: f64,
    /// The kernel bandwidth s.
    pub bandwidth: f64,
}

/// G(p, α; q, β) and, with `derivative`, ∂G/∂q.
#[inline]
fn overlap(p: f64, alpha: f64, q: f64, beta: f64, low: f64, high: f64, derivative: bool) -> (f64, f64) {
    let sum = alpha + beta;
    let gamma = alpha * beta / sum;
    let mu = (beta * p + alpha * q) / sum;
    let scale = (2.0 * gamma).sqrt();
    let k = (-(p - q) * (p - q) / (2.0 * sum)).exp();
    let mass = (PI * gamma / 2.0).sqrt() * (erf((high - mu) / scale) - erf((low - mu) / scale));
    if !derivative {
        return (k * mass, 0.0);
    }
    let edge = |x: f64| (-(x - mu) * (x - mu) / (2.0 * gamma)).exp();
    let moment = gamma * (edge(low) - edge(high)) + (mu - q) * mass;
    (k * mass, k * moment / beta)
}

impl MixtureOnInterval {
    fn length(&self) -> f64 {
        self.high - self.low
    }

    /// E f²·(b − a)/… : the target's own term ∫ f², over the interval.
    fn target_energy(&self) -> f64 {
        let mut sum = 0.0;
        for &(m, v, w) in &self.components {
            for &(m2, v2, w2) in &self.components {
                let norm = 1.0 / (2.0 * PI * v).sqrt() / (2.0 * PI * v2).sqrt();
                sum += w * w2 * norm * overlap(m, v, m2, v2, self.low, self.high, false).0;
            }
        }
        sum
    }

    /// ∫ f φ_i and, with `derivative`, ∫ f ∂_z φ_i, for a particle at z.
    fn target_overlap(&self, z: f64, derivative: bool) -> (f64, f64) {
        let s2 = self.bandwidth * self.bandwidth;
        let (mut value, mut slope) = (0.0, 0.0);
        for &(m, v, w) in &self.components {
            let norm = w / (2.0 * PI * v).sqrt();
            let (g, dg) = overlap(m, v, z, s2, self.low, self.high, derivative);
            value += norm * g;
            slope += norm * dg;
        }
        (value, slope)
    }

    /// ½ E(f − ŷ)² of the particles `params` (c_1…c_n, then z_1…z_n, as [`super::KernelParticles`] stores
    /// them with input dimension 1).
    pub fn loss(&self, params: &[f64]) -> f64 {
        self.evaluate(params, None)
    }

    /// The loss, and the descent direction of the model's convention, E[(f − ŷ) ∂u_i/∂θ_i] (that is,
    /// −n ∂L/∂θ_i), into `direction` for the trained blocks (`train.0` for c, `train.1` for z).
    pub fn direction(&self, params: &[f64], direction: &mut [f64], train: (bool, bool)) -> f64 {
        self.evaluate(params, Some((direction, train)))
    }

    fn evaluate(&self, params: &[f64], mut out: Option<(&mut [f64], (bool, bool))>) -> f64 {
        let n = params.len() / 2;
        let (c, z) = params.split_at(n);
        let s2 = self.bandwidth * self.bandwidth;
        let inv_n = 1.0 / n as f64;
        let want_z = out.as_ref().is_some_and(|(_, t)| t.1);
        if let Some((direction, _)) = out.as_mut() {
            direction.fill(0.0);
        }
        // Σ_i c_i ∫ f φ_i and Σ_ij c_i c_j ∫ φ_i φ_j, the pairs counted once (G is symmetric).
        let (mut cross, mut self_energy) = (0.0, 0.0);
        for i in 0..n {
            let (t, dt) = self.target_overlap(z[i], want_z);
            cross += c[i] * t;
            let mut row = 0.0;
            let mut row_slope = 0.0;
            for j in 0..n {
                // ∂_q G(z_j; z_i): the derivative in the second argument, at particle i.
                let (g, dg) = overlap(z[j], s2, z[i], s2, self.low, self.high, want_z);
                row += c[j] * g;
                row_slope += c[j] * dg;
            }
            self_energy += c[i] * row;
            if let Some((direction, train)) = out.as_mut() {
                let scale = 1.0 / self.length();
                if train.0 {
                    direction[i] = scale * (t - inv_n * row);
                }
                if train.1 {
                    direction[n + i] = scale * c[i] * (dt - inv_n * row_slope);
                }
            }
        }
        let integral = self.target_energy() - 2.0 * inv_n * cross + inv_n * inv_n * self_energy;
        0.5 * integral / self.length()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Kernel, KernelConfig, KernelParticles};
    use meanfield_core::Model;
    use rand::{Rng, SeedableRng};

    fn problem() -> MixtureOnInterval {
        MixtureOnInterval {
            components: vec![(-2.0, 0.5, 1.0), (0.0, 1.0, -2.0), (2.0, 0.5, 1.0)],
            low: -4.0,
            high: 4.0,
            bandwidth: 0.5,
        }
    }

    fn target(p: &MixtureOnInterval, x: f64) -> f64 {
        p.components.iter().map(|&(m, v, w)| w * (-(x - m) * (x - m) / (2.0 * v)).exp() / (2.0 * PI * v).sqrt()).sum()
    }

    fn particles(n: usize, seed: u64) -> KernelParticles {
        let config = KernelConfig {
            width: n,
            dim: 1,
            kernel: Kernel::Gaussian { bandwidth: 0.5 },
            train_c: true,
            train_z: true,
            max_batch: 512,
        };
        let mut model = KernelParticles::new(config).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for k in 0..n {
            model.params_mut()[k] = rng.random_range(-2.0..2.0);
            model.params_mut()[n + k] = rng.random_range(-5.0..5.0);
        }
        model
    }

    /// Composite Gauss–Legendre quadrature of ½(f − ŷ)² over [a, b] through the model's own prediction:
    /// 64 panels of 8 nodes integrate these Gaussians (widths ≥ 0.35 against panels of 0.125) to rounding.
    fn quadrature_loss(p: &MixtureOnInterval, model: &mut KernelParticles) -> f64 {
        const NODES: [f64; 4] = [0.1834346424956498, 0.525532409916329, 0.7966664774136267, 0.9602898564975363];
        const WEIGHTS: [f64; 4] = [0.362683783378362, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763];
        let panels = 64;
        let h = (p.high - p.low) / panels as f64;
        let mut sum = 0.0;
        let mut yhat = [0.0];
        for k in 0..panels {
            let centre = p.low + (k as f64 + 0.5) * h;
            for (node, weight) in NODES.iter().zip(WEIGHTS) {
                for x in [centre - node * h / 2.0, centre + node * h / 2.0] {
                    model.predict(&[x], &mut yhat);
                    sum += weight * h / 2.0 * 0.5 * (target(p, x) - yhat[0]).powi(2);
                }
            }
        }
        sum / (p.high - p.low)
    }

    /// The closed form against quadrature of the model's predictions, including particles outside the
    /// interval (z up to ±5), where only part of each Gaussian counts: 1e-12 relative is far above the
    /// rounding of either and far below any error in a term (a wrong erf argument moves it by > 1e-3).
    #[test]
    fn loss_matches_quadrature() {
        let p = problem();
        for (n, seed) in [(1, 1), (7, 2), (40, 3)] {
            let mut model = particles(n, seed);
            let exact = p.loss(model.params());
            let quad = quadrature_loss(&p, &mut model);
            assert!((exact - quad).abs() < 1e-12 * quad.max(1e-3), "n = {n}: {exact} vs {quad}");
        }
        // And the target alone (no particles' contribution: c = 0) against quadrature.
        let mut model = particles(3, 4);
        model.params_mut()[..3].fill(0.0);
        let quad = quadrature_loss(&p, &mut model);
        assert!((p.loss(model.params()) - quad).abs() < 1e-13, "{quad}");
    }

    /// The loss against a Monte Carlo mean of ½(f − ŷ)² over 200 000 uniform inputs: within 4 standard
    /// errors (the sample's own), a check independent of any quadrature rule.
    #[test]
    fn loss_matches_monte_carlo() {
        let p = problem();
        let mut model = particles(12, 5);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let m = 200_000;
        let mut yhat = [0.0];
        let values: Vec<f64> = (0..m)
            .map(|_| {
                let x = rng.random_range(p.low..p.high);
                model.predict(&[x], &mut yhat);
                0.5 * (target(&p, x) - yhat[0]).powi(2)
            })
            .collect();
        let mean = values.iter().sum::<f64>() / m as f64;
        let se = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m as f64 - 1.0) / m as f64).sqrt();
        let exact = p.loss(model.params());
        assert!((exact - mean).abs() < 4.0 * se, "{exact} vs {mean} ± {se}");
    }

    /// The direction is −n ∂L/∂θ: central differences of the closed-form loss at h = 1e-6 (error ~h² times
    /// third derivatives of order 1, plus rounding 1e-16/h): 1e-7 absolute. A missing factor n, a wrong
    /// sign or a derivative in the wrong argument of G would be off by O(1).
    #[test]
    fn direction_matches_finite_differences() {
        let p = problem();
        let model = particles(6, 7);
        let params = model.params().to_vec();
        let mut direction = vec![0.0; params.len()];
        let loss = p.direction(&params, &mut direction, (true, true));
        assert_eq!(loss, p.loss(&params));
        let h = 1e-6;
        for k in 0..params.len() {
            let (mut plus, mut minus) = (params.clone(), params.clone());
            plus[k] += h;
            minus[k] -= h;
            let fd = -6.0 * (p.loss(&plus) - p.loss(&minus)) / (2.0 * h);
            assert!((fd - direction[k]).abs() < 1e-7, "param {k}: {} vs {fd}", direction[k]);
        }
        let mut only_c = vec![7.0; params.len()];
        p.direction(&params, &mut only_c, (true, false));
        assert!(only_c[6..].iter().all(|v| *v == 0.0) && only_c[..6] == direction[..6]);
    }
}

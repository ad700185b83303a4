//! Online, minibatch and noisy SGD: θ ← (1 − ηλ)θ + η·(1/B) Σ_b (y_b − ŷ_b) ∇u(x_b; θ) + √(2ητ) g.

use meanfield_core::{Dynamics, Model, NonFinite, StepRule, StepWorkspace};
use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};

/// The SGD family of DESIGN.md §1. Online SGD is batch 1; noisy SGD (Langevin) has λ or τ positive.
/// Weight decay and noise act on trainable blocks only.
#[derive(Debug, Clone, PartialEq)]
pub struct Sgd {
    rule: StepRule,
    eta: f64,
    batch: usize,
    weight_decay: f64,
    temperature: f64,
    noise_scale: f64,
}

impl Sgd {
    /// The update rule at width `width` (which fixes η for `PerNeuron`).
    pub fn new(rule: StepRule, width: usize, batch: usize, weight_decay: f64, temperature: f64) -> Sgd {
        let eta = rule.step_size(width);
        Sgd { rule, eta, batch, weight_decay, temperature, noise_scale: (2.0 * eta * temperature).sqrt() }
    }

    pub fn step_size(&self) -> f64 {
        self.eta
    }
}

impl Dynamics for Sgd {
    fn batch_size(&self) -> usize {
        self.batch
    }
    fn step_rule(&self) -> StepRule {
        self.rule
    }
    fn uses_noise(&self) -> bool {
        self.temperature > 0.0
    }
    fn plain_online_step(&self) -> Option<f64> {
        (self.batch == 1 && self.noise_scale == 0.0 && self.weight_decay == 0.0).then_some(self.eta)
    }
    fn name(&self) -> String {
        let kind = if self.temperature > 0.0 || self.weight_decay > 0.0 {
            "noisy-sgd"
        } else if self.batch == 1 {
            "online-sgd"
        } else {
            "minibatch-sgd"
        };
        format!("{kind}(eta={},batch={},lambda={},tau={})", self.eta, self.batch, self.weight_decay, self.temperature)
    }

    fn step(
        &self,
        model: &mut dyn Model,
        x: &[f64],
        y: &[f64],
        work: &mut StepWorkspace,
        noise: &mut dyn RngCore,
    ) -> Result<(), NonFinite> {
        self.step_before(model, x, y, None, work, noise)
    }

    fn step_before(
        &self,
        model: &mut dyn Model,
        x: &[f64],
        y: &[f64],
        next_x: Option<&[f64]>,
        work: &mut StepWorkspace,
        noise: &mut dyn RngCore,
    ) -> Result<(), NonFinite> {
        let residual = &mut work.residual[..y.len()];
        // Plain SGD (no decay, no noise) in one pass where the model has one: the same parameters, bit for
        // bit, with one pass less over memory.
        if self.noise_scale == 0.0 && self.weight_decay == 0.0 && model.fused_sgd_step(x, y, self.eta, residual, next_x)
        {
            return match residual.iter().find(|r| !r.is_finite()) {
                Some(r) => Err(NonFinite { residual: *r }),
                None => Ok(()),
            };
        }
        model.descent_direction(x, y, residual, &mut work.direction);
        if let Some(r) = residual.iter().find(|r| !r.is_finite()) {
            return Err(NonFinite { residual: *r });
        }
        let decay = 1.0 - self.eta * self.weight_decay;
        let eta = self.eta;
        // Blocks are few (c, w, b): index them instead of collecting ranges, so nothing allocates.
        for k in 0..model.blocks().len() {
            let block = &model.blocks()[k];
            if !block.trainable {
                continue;
            }
            let range = block.range();
            let params = &mut model.params_mut()[range.clone()];
            let direction = &work.direction[range];
            if self.noise_scale > 0.0 {
                for (p, g) in params.iter_mut().zip(direction) {
                    let xi: f64 = StandardNormal.sample(noise);
                    *p = decay * *p + eta * g + self.noise_scale * xi;
                }
            } else if decay != 1.0 {
                for (p, g) in params.iter_mut().zip(direction) {
                    *p = decay * *p + eta * g;
                }
            } else {
                for (p, g) in params.iter_mut().zip(direction) {
                    *p += eta * g;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meanfield_models::{BuiltinActivation, OneHidden, OneHiddenConfig};
    use std::sync::Arc;

    /// One online step of ŷ = (1/2)[c1 tanh(w1·x) + c2 tanh(w2·x)] worked out by hand:
    /// x = (1, 2), y = 1, c = (1, −1), w1 = (0.5, 0), w2 = (0, 0.25), η = 0.1.
    /// z = (0.5, 0.5) so h1 = h2 = tanh 0.5 =: t and ŷ = (t − t)/2 = 0, residual r = 1.
    /// c_i += η r h_i → c = (1 + 0.1t, −1 + 0.1t).
    /// w_i += η r c_i (1 − t²) x → w1 = (0.5 + 0.1s, 0.2s), w2 = (−0.1s, 0.25 − 0.2s) with s = 1 − t².
    #[test]
    fn one_step_matches_the_hand_computation() {
        let mut net = OneHidden::new(OneHiddenConfig::mean_field(2, 2, Arc::new(BuiltinActivation::Tanh))).unwrap();
        net.params_mut().copy_from_slice(&[1.0, -1.0, 0.5, 0.0, 0.0, 0.25]);
        let sgd = Sgd::new(StepRule::Fixed(0.1), 2, 1, 0.0, 0.0);
        let mut work = StepWorkspace::new(6, 1);
        sgd.step(
            &mut net,
            &[1.0, 2.0],
            &[1.0],
            &mut work,
            &mut meanfield_core::StreamKey::shared(0, meanfield_core::Purpose::Noise).stream(),
        )
        .unwrap();
        let t = 0.5f64.tanh();
        let s = 1.0 - t * t;
        let expected = [1.0 + 0.1 * t, -1.0 + 0.1 * t, 0.5 + 0.1 * s, 0.2 * s, -0.1 * s, 0.25 - 0.2 * s];
        for (got, want) in net.params().iter().zip(expected) {
            assert!((got - want).abs() < 1e-15, "{:?} vs {expected:?}", net.params());
        }
        assert_eq!(work.residual[0], 1.0);
    }

    /// Per-neuron steps: η = α/N.
    #[test]
    fn per_neuron_step_size_scales_with_width() {
        let sgd = Sgd::new(StepRule::PerNeuron(2.0), 8, 1, 0.0, 0.0);
        assert_eq!(sgd.step_size(), 0.25);
        assert_eq!(StepRule::PerNeuron(2.0).time_per_step(8), 0.125);
    }

    /// With a zero direction (identity activation, zero output weights frozen… here: y = ŷ = 0) the step
    /// is pure Langevin: θ ← (1 − ηλ)θ + √(2ητ) g, an Ornstein–Uhlenbeck chain whose stationary variance is
    /// 2ητ / (1 − (1 − ηλ)²) ≈ τ/λ. Over 4000 particles × many steps the empirical variance has a relative
    /// standard error of about √(2/4000) ≈ 2.2 %; 10 % is > 4 standard errors, while a missing factor 2 in
    /// the noise would be off by 50–100 %.
    #[test]
    fn langevin_noise_reaches_its_stationary_variance() {
        let n = 4000;
        let mut net = OneHidden::new(OneHiddenConfig {
            train_c: false,
            ..OneHiddenConfig::mean_field(n, 1, Arc::new(BuiltinActivation::Identity))
        })
        .unwrap();
        // c = 0 keeps ŷ = 0 and the descent direction of w equal to zero, isolating decay and noise.
        let (eta, lambda, tau) = (0.05, 1.0, 0.3);
        let sgd = Sgd::new(StepRule::Fixed(eta), n, 1, lambda, tau);
        let mut work = StepWorkspace::new(2 * n, 1);
        let mut rng = meanfield_core::StreamKey::shared(1, meanfield_core::Purpose::Noise).stream();
        for _ in 0..400 {
            sgd.step(&mut net, &[1.0], &[0.0], &mut work, &mut rng).unwrap();
        }
        let w = &net.params()[n..];
        let var = w.iter().map(|v| v * v).sum::<f64>() / n as f64;
        let stationary = 2.0 * eta * tau / (1.0 - (1.0 - eta * lambda).powi(2));
        assert!((var / stationary - 1.0).abs() < 0.1, "variance {var} vs {stationary}");
    }
}

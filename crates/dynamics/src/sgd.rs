//! Online, minibatch and noisy SGD on any model: θ ← (1 − ηλ)θ + η·(1/B) Σ_b (y_b − ŷ_b) ∇u(x_b; θ) +
//! √(2ητ) g, through [`Model::descent_direction`].

use meanfield_core::{
    Batches, Diverged, Dynamics, Model, ReplicaStreams, SgdSettings, Stepper, Stream, check_residuals,
};
use rand_distr::{Distribution, StandardNormal};
use std::sync::Arc;

/// Builds a point's model with zero parameters.
pub type ModelBuilder = Arc<dyn Fn() -> Box<dyn Model> + Send + Sync>;

/// The SGD family of DESIGN.md §1 on any model, one replica per stepper. Weight decay and noise act on
/// trainable blocks only.
#[derive(Clone)]
pub struct Sgd {
    settings: SgdSettings,
    noise_scale: f64,
    model: ModelBuilder,
}

impl std::fmt::Debug for Sgd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sgd").field("settings", &self.settings).finish()
    }
}

impl Sgd {
    /// SGD with `settings` on models made by `model`.
    pub fn new(settings: SgdSettings, model: ModelBuilder) -> Sgd {
        let noise_scale = (2.0 * settings.eta * settings.temperature).sqrt();
        Sgd { settings, noise_scale, model }
    }
}

impl Dynamics for Sgd {
    fn group(&self, _left: usize) -> usize {
        1
    }

    fn stepper(&self, _replicas: usize) -> Box<dyn Stepper> {
        let model = (self.model)();
        let (n, batch) = (model.params().len(), self.settings.batch);
        Box::new(SgdStepper {
            batches: Batches::new(batch, model.input_dim()),
            state: SgdState {
                model,
                settings: self.settings,
                noise_scale: self.noise_scale,
                direction: vec![0.0; n],
                residual: vec![0.0; batch],
            },
        })
    }
}

/// One replica under [`Sgd`].
struct SgdStepper {
    batches: Batches,
    state: SgdState,
}

/// A replica's model and the buffers of its steps.
struct SgdState {
    model: Box<dyn Model>,
    settings: SgdSettings,
    noise_scale: f64,
    direction: Vec<f64>,
    residual: Vec<f64>,
}

impl SgdState {
    /// One step on the batch `(x, y)`; `Err` with the first non-finite residual.
    fn step(&mut self, x: &[f64], y: &[f64], noise: &mut Stream) -> Result<(), f64> {
        let model = self.model.as_mut();
        let residual = &mut self.residual[..y.len()];
        model.descent_direction(x, y, residual, &mut self.direction);
        check_residuals(residual)?;
        let eta = self.settings.eta;
        let decay = 1.0 - eta * self.settings.weight_decay;
        // Blocks are few (c, w, b): index them instead of collecting ranges, so nothing allocates.
        for k in 0..model.blocks().len() {
            let block = &model.blocks()[k];
            if !block.trainable {
                continue;
            }
            let range = block.range();
            let params = &mut model.params_mut()[range.clone()];
            let direction = &self.direction[range];
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

impl Stepper for SgdStepper {
    fn replicas(&self) -> usize {
        1
    }
    fn model(&mut self, _: usize) -> &mut dyn Model {
        self.state.model.as_mut()
    }
    fn set_params(&mut self, _: usize, params: &[f64]) {
        self.state.model.params_mut().copy_from_slice(params);
    }
    fn advance(&mut self, steps: u64, streams: &mut [ReplicaStreams<'_>], diverged: &mut [Option<Diverged>]) {
        if diverged[0].is_some() {
            return;
        }
        let state = &mut self.state;
        diverged[0] = self.batches.run(steps, &mut streams[0], false, |x, y, _, noise| state.step(x, y, noise));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meanfield_core::{DataStream, Purpose, StepRule, StreamKey};
    use meanfield_models::{BuiltinActivation, OneHidden, OneHiddenConfig};

    /// The same sample at every step.
    struct Repeat(Vec<f64>, f64);

    impl DataStream for Repeat {
        fn fill(&mut self, _: &mut Stream, x: &mut [f64], y: &mut [f64]) {
            for (x, y) in x.chunks_exact_mut(self.0.len()).zip(y) {
                x.copy_from_slice(&self.0);
                *y = self.1;
            }
        }
    }

    fn streams(sample: Repeat) -> [ReplicaStreams<'static>; 1] {
        [ReplicaStreams {
            data: Box::new(sample),
            data_rng: StreamKey::shared(0, Purpose::Data).stream(),
            noise_rng: StreamKey::shared(1, Purpose::Noise).stream(),
        }]
    }

    /// One online step of ŷ = (1/2)[c1 tanh(w1·x) + c2 tanh(w2·x)] worked out by hand:
    /// x = (1, 2), y = 1, c = (1, −1), w1 = (0.5, 0), w2 = (0, 0.25), η = 0.1.
    /// z = (0.5, 0.5) so h1 = h2 = tanh 0.5 =: t and ŷ = (t − t)/2 = 0, residual r = 1.
    /// c_i += η r h_i → c = (1 + 0.1t, −1 + 0.1t).
    /// w_i += η r c_i (1 − t²) x → w1 = (0.5 + 0.1s, 0.2s), w2 = (−0.1s, 0.25 − 0.2s) with s = 1 − t².
    #[test]
    fn one_step_matches_the_hand_computation() {
        let config = OneHiddenConfig::mean_field(2, 2, Arc::new(BuiltinActivation::Tanh));
        let model: ModelBuilder = Arc::new(move || Box::new(OneHidden::new(config.clone()).unwrap()));
        let sgd = Sgd::new(SgdSettings::new(StepRule::Fixed(0.1), 2, 1, 0.0, 0.0), model);
        let mut stepper = sgd.stepper(1);
        stepper.set_params(0, &[1.0, -1.0, 0.5, 0.0, 0.0, 0.25]);
        let mut diverged = [None];
        stepper.advance(1, &mut streams(Repeat(vec![1.0, 2.0], 1.0)), &mut diverged);
        assert_eq!(diverged, [None]);
        let t = 0.5f64.tanh();
        let s = 1.0 - t * t;
        let expected = [1.0 + 0.1 * t, -1.0 + 0.1 * t, 0.5 + 0.1 * s, 0.2 * s, -0.1 * s, 0.25 - 0.2 * s];
        let params = stepper.model(0).params().to_vec();
        for (got, want) in params.iter().zip(expected) {
            assert!((got - want).abs() < 1e-15, "{params:?} vs {expected:?}");
        }
    }

    /// Per-neuron steps: η = α/N.
    #[test]
    fn per_neuron_step_size_scales_with_width() {
        let settings = SgdSettings::new(StepRule::PerNeuron(2.0), 8, 1, 0.0, 0.0);
        assert_eq!(settings.eta, 0.25);
        assert_eq!(StepRule::PerNeuron(2.0).time_per_step(8), 0.125);
    }

    /// A non-finite residual stops the replica at its step: the steps before it completed.
    #[test]
    fn a_non_finite_residual_stops_the_replica() {
        let config = OneHiddenConfig::mean_field(2, 1, Arc::new(BuiltinActivation::Identity));
        let model: ModelBuilder = Arc::new(move || Box::new(OneHidden::new(config.clone()).unwrap()));
        let sgd = Sgd::new(SgdSettings::new(StepRule::Fixed(0.1), 2, 1, 0.0, 0.0), model);
        let mut stepper = sgd.stepper(1);
        stepper.set_params(0, &[1.0, 1.0, 1.0, 1.0]);
        let mut diverged = [None];
        stepper.advance(5, &mut streams(Repeat(vec![f64::INFINITY], 0.0)), &mut diverged);
        assert_eq!(diverged[0].map(|d| d.completed), Some(0));
        assert!(diverged[0].is_some_and(|d| !d.residual.is_finite()));
    }

    /// With a zero direction (identity activation, zero output weights frozen… here: y = ŷ = 0) the step
    /// is pure Langevin: θ ← (1 − ηλ)θ + √(2ητ) g, an Ornstein–Uhlenbeck chain whose stationary variance is
    /// 2ητ / (1 − (1 − ηλ)²) ≈ τ/λ. Over 4000 particles × many steps the empirical variance has a relative
    /// standard error of about √(2/4000) ≈ 2.2 %; 10 % is > 4 standard errors, while a missing factor 2 in
    /// the noise would be off by 50–100 %.
    #[test]
    fn langevin_noise_reaches_its_stationary_variance() {
        let n = 4000;
        let config = OneHiddenConfig {
            train_c: false,
            ..OneHiddenConfig::mean_field(n, 1, Arc::new(BuiltinActivation::Identity))
        };
        // c = 0 keeps ŷ = 0 and the descent direction of w equal to zero, isolating decay and noise.
        let (eta, lambda, tau) = (0.05, 1.0, 0.3);
        let model: ModelBuilder = Arc::new(move || Box::new(OneHidden::new(config.clone()).unwrap()));
        let sgd = Sgd::new(SgdSettings::new(StepRule::Fixed(eta), n, 1, lambda, tau), model);
        let mut stepper = sgd.stepper(1);
        let mut diverged = [None];
        stepper.advance(400, &mut streams(Repeat(vec![1.0], 0.0)), &mut diverged);
        let w = &stepper.model(0).params()[n..];
        let var = w.iter().map(|v| v * v).sum::<f64>() / n as f64;
        let stationary = 2.0 * eta * tau / (1.0 - (1.0 - eta * lambda).powi(2));
        assert!((var / stationary - 1.0).abs() < 0.1, "variance {var} vs {stationary}");
    }
}

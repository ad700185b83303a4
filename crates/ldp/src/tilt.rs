//! Importance sampling by exponential tilting of a Gaussian initial law (exact: the tilted law is again
//! Gaussian). Tilting N(m, s²) by e^{hθ} gives N(m + h s², s²), and a particle drawn from it carries the
//! likelihood ratio dP/dQ(θ) = exp(−h(θ − m) + h² s²/2). A replica of N i.i.d. particles carries the
//! product. For A = (1/N) Σ φ(θ_i) with φ(θ) = θ, choosing h = (a − m)/s² centres the tilted law of A at a,
//! so probabilities of order e^{−N I(a)} are estimated from replicas that all land near a.

use rand::RngCore;
use rand_distr::{Distribution, Normal};

/// N(mean, std²) tilted by e^{hθ}.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianTilt {
    pub mean: f64,
    pub std: f64,
    pub h: f64,
}

impl GaussianTilt {
    /// The tilt that moves the mean to `target`.
    pub fn towards(mean: f64, std: f64, target: f64) -> GaussianTilt {
        GaussianTilt { mean, std, h: (target - mean) / (std * std) }
    }

    /// The mean of the tilted law.
    pub fn tilted_mean(&self) -> f64 {
        self.mean + self.h * self.std * self.std
    }

    /// Fills `out` with draws from the tilted law and returns their summed log likelihood ratio log(dP/dQ).
    pub fn sample(&self, rng: &mut dyn RngCore, out: &mut [f64]) -> f64 {
        let law = Normal::new(self.tilted_mean(), self.std).expect("a positive, finite std");
        let mut log_ratio = 0.0;
        for theta in out.iter_mut() {
            *theta = law.sample(&mut *rng);
            log_ratio += self.log_ratio(*theta);
        }
        log_ratio
    }

    /// log(dP/dQ)(θ) for one particle.
    pub fn log_ratio(&self, theta: f64) -> f64 {
        -self.h * (theta - self.mean) + 0.5 * self.h * self.h * self.std * self.std
    }
}

//! Initial laws μ0 of parameter blocks.

use meanfield_core::{Block, InitLaw};
use rand::{Rng, RngCore};
use rand_distr::{Distribution, StandardNormal};
use std::sync::Arc;

/// N(mean, std²) entries. A std given as κ/√d in a scenario is resolved before construction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian {
    pub mean: f64,
    pub std: f64,
}

impl InitLaw for Gaussian {
    fn sample(&self, rng: &mut dyn RngCore, out: &mut [f64]) {
        for v in out {
            let g: f64 = StandardNormal.sample(rng);
            *v = self.mean + self.std * g;
        }
    }
    fn name(&self) -> String {
        format!("gaussian(mean={},std={})", self.mean, self.std)
    }
}

/// Importance sampling for `law` (DESIGN.md §1, large deviations): entries drawn from N(m, s²) tilted by
/// e^{hθ}, which is exactly N(m + h s², s²), each carrying the likelihood ratio
/// dμ0/dq(θ) = exp(−h(θ − m) + h² s²/2). A replica of n entries carries the product, so for
/// A = (1/n) Σ θ_i the choice h = (a − m)/s² centres the proposal's A at a and probabilities of order
/// e^{−n I(a)} are estimated from replicas that all land near a.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TiltedGaussian {
    pub law: Gaussian,
    pub h: f64,
}

impl TiltedGaussian {
    /// The tilt that moves the mean of `law` to `target`.
    pub fn towards(law: Gaussian, target: f64) -> TiltedGaussian {
        TiltedGaussian { law, h: (target - law.mean) / (law.std * law.std) }
    }

    /// The law entries are drawn from.
    pub fn proposal(&self) -> Gaussian {
        Gaussian { mean: self.law.mean + self.h * self.law.std * self.law.std, std: self.law.std }
    }

    /// log(dμ0/dq)(θ) of one entry.
    pub fn log_ratio(&self, theta: f64) -> f64 {
        -self.h * (theta - self.law.mean) + 0.5 * self.h * self.h * self.law.std * self.law.std
    }
}

impl InitLaw for TiltedGaussian {
    fn sample(&self, rng: &mut dyn RngCore, out: &mut [f64]) {
        self.proposal().sample(rng, out);
    }
    fn name(&self) -> String {
        format!("gaussian(mean={},std={}) tilted by exp({}·θ)", self.law.mean, self.law.std, self.h)
    }
    fn log_likelihood_ratio(&self, drawn: &[f64]) -> f64 {
        drawn.iter().map(|&theta| self.log_ratio(theta)).sum()
    }
}

/// Uniform entries on [low, high).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Uniform {
    pub low: f64,
    pub high: f64,
}

impl InitLaw for Uniform {
    fn sample(&self, rng: &mut dyn RngCore, out: &mut [f64]) {
        for v in out {
            let u: f64 = rng.random();
            *v = self.low + (self.high - self.low) * u;
        }
    }
    fn name(&self) -> String {
        format!("uniform(low={},high={})", self.low, self.high)
    }
}

/// Every entry equal to a value (e.g. Mei et al.'s fixed output weights c_i = 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constant(pub f64);

impl InitLaw for Constant {
    fn sample(&self, _rng: &mut dyn RngCore, out: &mut [f64]) {
        out.fill(self.0);
    }
    fn name(&self) -> String {
        format!("constant({})", self.0)
    }
}

/// Draws every block of `params` (laid out as `blocks`) from its law, in storage order, from one stream.
/// `laws[k]` belongs to `blocks[k]`. Returns the summed log likelihood ratio of the draws (zero without
/// tilted laws).
pub fn initialize_blocks(
    blocks: &[Block],
    params: &mut [f64],
    laws: &[Arc<dyn InitLaw>],
    rng: &mut dyn RngCore,
) -> f64 {
    assert_eq!(blocks.len(), laws.len(), "one initial law per block");
    let mut log_weight = 0.0;
    for (block, law) in blocks.iter().zip(laws) {
        let block = &mut params[block.range()];
        law.sample(rng, block);
        log_weight += law.log_likelihood_ratio(block);
    }
    log_weight
}

#[cfg(test)]
mod tests {
    use super::*;
    use meanfield_core::{Purpose, StreamKey};

    /// Sample moments of 200 000 draws: the standard error of the mean is std/√n ≈ 0.0045·std and of the
    /// variance ≈ √(2/n)·std² ≈ 0.0032·std²; 5 standard errors leave false alarms below 1e-6 while a
    /// std off by 2 % would fail.
    #[test]
    fn laws_have_their_moments() {
        let n = 200_000;
        let mut rng = StreamKey::shared(5, Purpose::Init).stream();
        let cases: [(Box<dyn InitLaw>, f64, f64); 3] = [
            (Box::new(Gaussian { mean: 1.5, std: 0.5 }), 1.5, 0.25),
            (Box::new(Uniform { low: -1.0, high: 3.0 }), 1.0, 16.0 / 12.0),
            (Box::new(Constant(2.0)), 2.0, 0.0),
        ];
        for (law, mean, var) in cases {
            let mut out = vec![0.0; n];
            law.sample(&mut rng, &mut out);
            let m = out.iter().sum::<f64>() / n as f64;
            let v = out.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
            let sd = var.sqrt();
            assert!((m - mean).abs() <= 5.0 * sd / (n as f64).sqrt() + 1e-12, "{}: mean {m}", law.name());
            assert!((v - var).abs() <= 5.0 * (2.0 / n as f64).sqrt() * var + 1e-12, "{}: var {v}", law.name());
        }
    }
}

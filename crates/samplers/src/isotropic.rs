//! Mei, Montanari & Nguyen's isotropic Gaussians: y = ±1 with probability ½ each and
//! x | y ~ N(0, (1 + yΔ)² I_d).

use meanfield_core::{DataDistribution, DataStream, Stream};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IsotropicGaussians {
    pub dim: usize,
    /// Δ ∈ [0, 1): the two classes differ only in scale, 1 + Δ against 1 − Δ.
    pub delta: f64,
}

impl DataDistribution for IsotropicGaussians {
    fn dim(&self) -> usize {
        self.dim
    }
    fn name(&self) -> String {
        format!("isotropic-gaussians(d={},delta={})", self.dim, self.delta)
    }
    fn stream(&self) -> Box<dyn DataStream + '_> {
        Box::new(*self)
    }
}

impl DataStream for IsotropicGaussians {
    fn fill(&mut self, rng: &mut Stream, x: &mut [f64], y: &mut [f64]) {
        for (xb, yb) in x.chunks_exact_mut(self.dim).zip(y.iter_mut()) {
            let label = if rng.random::<bool>() { 1.0 } else { -1.0 };
            let scale = 1.0 + label * self.delta;
            for v in xb {
                let g: f64 = StandardNormal.sample(rng);
                *v = scale * g;
            }
            *yb = label;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meanfield_core::{Purpose, StreamKey};

    /// E|x|²/d given y is (1 ± Δ)²; with 20 000 samples of d = 10 the relative standard error of each
    /// class mean is about √(2/(10·10 000)) ≈ 0.0045, so 3 % is more than 6 standard errors, while
    /// swapping the class scales would be off by a factor 81.
    #[test]
    fn classes_have_their_scales() {
        let dist = IsotropicGaussians { dim: 10, delta: 0.8 };
        let n = 20_000;
        let (mut x, mut y) = (vec![0.0; n * 10], vec![0.0; n]);
        dist.stream().fill(&mut StreamKey::shared(1, Purpose::Data).stream(), &mut x, &mut y);
        for (label, scale) in [(1.0, 1.8f64), (-1.0, 0.2)] {
            let rows: Vec<_> = x.chunks_exact(10).zip(&y).filter(|(_, l)| **l == label).collect();
            let m2 =
                rows.iter().map(|(r, _)| r.iter().map(|v| v * v).sum::<f64>() / 10.0).sum::<f64>() / rows.len() as f64;
            assert!((m2 / scale.powi(2) - 1.0).abs() < 0.03, "label {label}: {m2}");
            assert!((rows.len() as f64 / n as f64 - 0.5).abs() < 0.02);
        }
    }
}

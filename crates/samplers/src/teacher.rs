//! Teacher–student data: Gaussian inputs x ~ N(0, I_d) labelled by a fixed target function, with
//! optional Gaussian label noise.

use meanfield_core::{Activation, DataDistribution, DataStream, InitLaw};
use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};
use std::sync::Arc;

/// The target function f*.
#[derive(Debug, Clone)]
pub enum Teacher {
    /// f*(x) = (1/K) Σ_k a_k σ(w_k·x): a fixed one-hidden-layer network with K units in the mean-field
    /// scaling. `w` is row-major K × d.
    Network { a: Vec<f64>, w: Vec<f64>, activation: Arc<dyn Activation> },
    /// f*(x) = link(w*·x).
    SingleIndex { w: Vec<f64>, link: Arc<dyn Activation> },
}

impl Teacher {
    /// Draws a teacher network: a_k from `a_law`, the entries of w_k from `w_law`, both from `rng` (the
    /// seed's shared Teacher stream), a first, then w.
    pub fn network(
        units: usize,
        dim: usize,
        activation: Arc<dyn Activation>,
        a_law: &dyn InitLaw,
        w_law: &dyn InitLaw,
        rng: &mut dyn RngCore,
    ) -> Teacher {
        let mut a = vec![0.0; units];
        let mut w = vec![0.0; units * dim];
        a_law.sample(rng, &mut a);
        w_law.sample(rng, &mut w);
        Teacher::Network { a, w, activation }
    }

    /// Draws a single-index teacher with direction w* from `w_law`.
    pub fn single_index(dim: usize, link: Arc<dyn Activation>, w_law: &dyn InitLaw, rng: &mut dyn RngCore) -> Teacher {
        let mut w = vec![0.0; dim];
        w_law.sample(rng, &mut w);
        Teacher::SingleIndex { w, link }
    }

    fn units(&self) -> usize {
        match self {
            Teacher::Network { a, .. } => a.len(),
            Teacher::SingleIndex { .. } => 1,
        }
    }

    /// f*(x), using `pre` and `act` (length `units()`) as scratch.
    fn eval(&self, x: &[f64], pre: &mut [f64], act: &mut [f64]) -> f64 {
        let dot = |w: &[f64]| w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>();
        match self {
            Teacher::Network { a, w, activation } => {
                for (p, wk) in pre.iter_mut().zip(w.chunks_exact(x.len())) {
                    *p = dot(wk);
                }
                activation.eval(pre, act, None);
                a.iter().zip(act.iter()).map(|(a, h)| a * h).sum::<f64>() / a.len() as f64
            }
            Teacher::SingleIndex { w, link } => {
                pre[0] = dot(w);
                link.eval(&pre[..1], &mut act[..1], None);
                act[0]
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Teacher::Network { a, activation, .. } => format!("network(K={},{})", a.len(), activation.name()),
            Teacher::SingleIndex { link, .. } => format!("single-index({})", link.name()),
        }
    }
}

/// y = f*(x) + noise·ε with x ~ N(0, I_d), ε ~ N(0, 1).
#[derive(Debug, Clone)]
pub struct TeacherStudent {
    pub dim: usize,
    pub teacher: Teacher,
    /// Standard deviation of the label noise.
    pub noise: f64,
}

impl TeacherStudent {
    /// f*(x) for one input (allocates; for tests and one-off evaluation).
    pub fn target(&self, x: &[f64]) -> f64 {
        let k = self.teacher.units();
        self.teacher.eval(x, &mut vec![0.0; k], &mut vec![0.0; k])
    }
}

impl DataDistribution for TeacherStudent {
    fn dim(&self) -> usize {
        self.dim
    }
    fn name(&self) -> String {
        format!("teacher-student(d={},{},noise={})", self.dim, self.teacher.describe(), self.noise)
    }
    fn stream(&self) -> Box<dyn DataStream + '_> {
        let k = self.teacher.units();
        Box::new(TeacherStream { dist: self, pre: vec![0.0; k], act: vec![0.0; k] })
    }
}

struct TeacherStream<'a> {
    dist: &'a TeacherStudent,
    pre: Vec<f64>,
    act: Vec<f64>,
}

impl DataStream for TeacherStream<'_> {
    fn fill(&mut self, rng: &mut dyn RngCore, x: &mut [f64], y: &mut [f64]) {
        for (xb, yb) in x.chunks_exact_mut(self.dist.dim).zip(y.iter_mut()) {
            for v in xb.iter_mut() {
                *v = StandardNormal.sample(rng);
            }
            let mut label = self.dist.teacher.eval(xb, &mut self.pre, &mut self.act);
            if self.dist.noise > 0.0 {
                let eps: f64 = StandardNormal.sample(rng);
                label += self.dist.noise * eps;
            }
            *yb = label;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::Gaussian;
    use meanfield_core::{Purpose, StreamKey};
    use meanfield_models::BuiltinActivation;

    #[test]
    fn network_teacher_is_the_mean_field_average() {
        let teacher = Teacher::Network {
            a: vec![2.0, -1.0],
            w: vec![1.0, 0.0, 0.0, 1.0],
            activation: Arc::new(BuiltinActivation::Tanh),
        };
        let data = TeacherStudent { dim: 2, teacher, noise: 0.0 };
        let x = [0.3, -0.7];
        assert_eq!(data.target(&x), (2.0 * 0.3f64.tanh() - (-0.7f64).tanh()) / 2.0);
    }

    /// With a linear single-index teacher y = w*·x + σε, Var y = |w*|² + σ². 50 000 samples give a
    /// relative standard error √(2/n) ≈ 0.0063 for the variance; 4 % is > 6 standard errors, and
    /// forgetting the noise (σ² = 1 of a total ≈ 2) would be off by 50 %.
    #[test]
    fn labels_carry_the_noise() {
        let mut rng = StreamKey::shared(2, Purpose::Teacher).stream();
        let w_law = Gaussian { mean: 0.0, std: 1.0 / 2.0 };
        let teacher = Teacher::single_index(4, Arc::new(BuiltinActivation::Identity), &w_law, &mut rng);
        let Teacher::SingleIndex { w, .. } = &teacher else { unreachable!() };
        let signal: f64 = w.iter().map(|w| w * w).sum();
        let data = TeacherStudent { dim: 4, teacher, noise: 1.0 };
        let n = 50_000;
        let (mut x, mut y) = (vec![0.0; n * 4], vec![0.0; n]);
        data.stream().fill(&mut StreamKey::shared(2, Purpose::Data).stream(), &mut x, &mut y);
        let var = y.iter().map(|y| y * y).sum::<f64>() / n as f64;
        assert!((var / (signal + 1.0) - 1.0).abs() < 0.04, "var {var} vs {}", signal + 1.0);
    }
}

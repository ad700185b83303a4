//! Exact population kernels of the mean-field limit for Gaussian inputs x ~ N(0, I_d) (DESIGN.md §1):
//! the interaction U(θ, θ') = E[σ(w·x) σ(w'·x)] and, for a teacher that is itself a sum of such units,
//! the potential V(θ) = −E[y σ(w·x)]. For x Gaussian, (w·x, w'·x) is a centred Gaussian pair with
//! variances |w|², |w'|² and covariance w·w', so each kernel is a function of those three numbers only.

/// Units whose Gaussian kernel has a closed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelUnit {
    /// σ(z) = z.
    Linear,
    /// σ(z) = z².
    Quadratic,
    /// σ(z) = max(0, z) (Cho–Saul arc-cosine kernel of order 1).
    Relu,
    /// σ(z) = erf(z) (Williams 1997).
    Erf,
}

impl KernelUnit {
    /// E[σ(u) σ(v)] for a centred Gaussian pair with Var u = `a`, Var v = `b`, Cov(u, v) = `c`.
    pub fn gaussian_kernel(self, a: f64, b: f64, c: f64) -> f64 {
        match self {
            KernelUnit::Linear => c,
            // Isserlis: E[u²v²] = E[u²]E[v²] + 2 E[uv]².
            KernelUnit::Quadratic => a * b + 2.0 * c * c,
            KernelUnit::Relu => {
                let norm = (a * b).sqrt();
                if norm == 0.0 {
                    return 0.0;
                }
                let angle = (c / norm).clamp(-1.0, 1.0).acos();
                norm / (2.0 * std::f64::consts::PI) * (angle.sin() + (std::f64::consts::PI - angle) * angle.cos())
            }
            KernelUnit::Erf => {
                (2.0 / std::f64::consts::PI) * (2.0 * c / ((1.0 + 2.0 * a) * (1.0 + 2.0 * b)).sqrt()).asin()
            }
        }
    }

    /// U(w, w') = E[σ(w·x) σ(w'·x)] for x ~ N(0, I_d).
    pub fn interaction(self, w: &[f64], w2: &[f64]) -> f64 {
        let dot = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(x, y)| x * y).sum::<f64>();
        self.gaussian_kernel(dot(w, w), dot(w2, w2), dot(w, w2))
    }

    /// V(w) = −E[y σ(w·x)] for the teacher y = Σ_k a_k σ(w*_k·x) (rows of `teacher_w`, d columns).
    pub fn potential(self, w: &[f64], teacher_a: &[f64], teacher_w: &[f64]) -> f64 {
        let d = w.len();
        -teacher_a.iter().zip(teacher_w.chunks_exact(d)).map(|(a, wk)| a * self.interaction(w, wk)).sum::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    const UNITS: [KernelUnit; 4] = [KernelUnit::Linear, KernelUnit::Quadratic, KernelUnit::Relu, KernelUnit::Erf];

    fn sigma(unit: KernelUnit, z: f64) -> f64 {
        match unit {
            KernelUnit::Linear => z,
            KernelUnit::Quadratic => z * z,
            KernelUnit::Relu => z.max(0.0),
            KernelUnit::Erf => libm::erf(z),
        }
    }

    #[test]
    fn kernels_match_monte_carlo() {
        // 400 000 Gaussian pairs; each Monte Carlo mean has standard error sd(σσ')/√M, estimated from the
        // same draws, and the closed form must lie within 5 of them. A wrong formula (e.g. the ReLU kernel
        // without its (π − φ) cos φ term, or Isserlis without the factor 2) is off by far more.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let cases: [(f64, f64, f64); 4] = [(1.0, 1.0, 0.3), (0.5, 2.0, -0.7), (2.0, 0.3, 0.0), (1.5, 1.5, 1.4)];
        let m = 400_000;
        for unit in UNITS {
            for &(a, b, c) in &cases {
                // u = √a g1, v = (c/√a) g1 + √(b − c²/a) g2 has the required covariance.
                let (mut sum, mut sum2) = (0.0, 0.0);
                for _ in 0..m {
                    let (g1, g2): (f64, f64) = (StandardNormal.sample(&mut rng), StandardNormal.sample(&mut rng));
                    let u = a.sqrt() * g1;
                    let v = c / a.sqrt() * g1 + (b - c * c / a).sqrt() * g2;
                    let p = sigma(unit, u) * sigma(unit, v);
                    sum += p;
                    sum2 += p * p;
                }
                let mean = sum / m as f64;
                let se = ((sum2 / m as f64 - mean * mean) / m as f64).sqrt();
                let exact = unit.gaussian_kernel(a, b, c);
                assert!((exact - mean).abs() < 5.0 * se + 1e-12, "{unit:?} {a} {b} {c}: {exact} vs {mean} ± {se}");
            }
        }
    }

    #[test]
    fn interaction_and_potential_are_built_from_the_kernel() {
        let (w, w2) = ([1.0, 2.0], [0.5, -1.0]);
        assert_eq!(KernelUnit::Linear.interaction(&w, &w2), -1.5);
        assert_eq!(KernelUnit::Quadratic.interaction(&w, &w2), 5.0 * 1.25 + 2.0 * 2.25);
        // ReLU of parallel vectors: E[max(0, u)²] = Var/2.
        assert!((KernelUnit::Relu.interaction(&w, &w) - 2.5).abs() < 1e-14);
        // Opposite vectors never fire together.
        assert!(KernelUnit::Relu.interaction(&w, &[-1.0, -2.0]).abs() < 1e-14);
        // V for a two-unit teacher is minus the a-weighted interactions.
        let v = KernelUnit::Erf.potential(&w, &[2.0, -1.0], &[0.5, -1.0, 1.0, 0.0]);
        let expected = -(2.0 * KernelUnit::Erf.interaction(&w, &w2) - KernelUnit::Erf.interaction(&w, &[1.0, 0.0]));
        assert!((v - expected).abs() < 1e-15);
    }
}

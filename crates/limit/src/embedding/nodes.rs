//! Deterministic nodes for the initial laws and the data: a quasi-Monte Carlo point set mapped through
//! the laws' quantile functions, with its first two moments made exact.
//!
//! The points of the unit cube are Roberts' additive recurrence z_k = frac(½ + k·α), α_j = φ_d^(−j) with
//! φ_d the root > 1 of x^(d+1) = x + 1: a low-discrepancy sequence in any dimension, so a smooth
//! integrand converges nearly like 1/n (not 1/√n as with random particles), and a one-dimensional
//! marginal of the pushed-forward points is close to the law in W1 (which a product Gauss–Hermite rule
//! is not: its nodes are few and far apart per axis). After the quantile map the points are centred and
//! whitened to the law's exact mean and covariance: every expectation of a polynomial of degree ≤ 2 is
//! then exact, which is what makes the identity-activation moment system close on the nodes (see the
//! guide's limit page), and it removes the leading error of every smooth expectation.

use statrs::distribution::{ContinuousCDF, Normal};

/// The law of every entry of a block at initialisation (entries independent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EntryLaw {
    Gaussian { mean: f64, std: f64 },
    Uniform { low: f64, high: f64 },
    Constant(f64),
}

impl EntryLaw {
    pub fn mean(&self) -> f64 {
        match *self {
            EntryLaw::Gaussian { mean, .. } => mean,
            EntryLaw::Uniform { low, high } => 0.5 * (low + high),
            EntryLaw::Constant(c) => c,
        }
    }

    pub fn std(&self) -> f64 {
        match *self {
            EntryLaw::Gaussian { std, .. } => std,
            EntryLaw::Uniform { low, high } => (high - low) / 12f64.sqrt(),
            EntryLaw::Constant(_) => 0.0,
        }
    }

    /// Whether every draw is the same value (one node suffices).
    pub fn is_constant(&self) -> bool {
        self.std() == 0.0
    }

    /// The quantile of the standardised law (mean 0, std 1) at p ∈ (0, 1).
    pub(super) fn standard_quantile(&self, p: f64) -> f64 {
        match self {
            EntryLaw::Gaussian { .. } => standard_normal().inverse_cdf(p),
            EntryLaw::Uniform { .. } => (p - 0.5) * 12f64.sqrt(),
            EntryLaw::Constant(_) => 0.0,
        }
    }
}

fn standard_normal() -> Normal {
    Normal::new(0.0, 1.0).expect("the standard normal is a valid law")
}

/// Φ(z), the standard normal CDF.
pub(super) fn standard_normal_cdf(z: f64) -> f64 {
    standard_normal().cdf(z)
}

/// `count` points of the unit cube of dimension `dim` (row-major), none on its boundary.
pub fn unit_cube(count: usize, dim: usize) -> Vec<f64> {
    // φ_d by Newton's iteration from 2 (x^(d+1) − x − 1 is convex there and the root is in (1, 2)).
    let mut phi: f64 = 2.0;
    for _ in 0..64 {
        let p = (dim + 1) as i32;
        phi -= (phi.powi(p) - phi - 1.0) / (p as f64 * phi.powi(p - 1) - 1.0);
    }
    let alpha: Vec<f64> = (1..=dim).map(|j| phi.powi(-(j as i32))).collect();
    let mut points = Vec::with_capacity(count * dim);
    for k in 1..=count {
        for a in &alpha {
            points.push((0.5 + k as f64 * a).fract());
        }
    }
    points
}

/// `count` nodes (row-major, `laws.len()` coordinates each, equal weights) for independent coordinates
/// with the given laws: quantile-mapped QMC points, centred and whitened so that their mean and covariance
/// are exactly the laws' (diagonal). Constant coordinates are their constant. `count` must exceed the
/// number of random coordinates (checked by [`super::EmbeddingProblem::check`]).
pub fn nodes(count: usize, laws: &[EntryLaw]) -> Vec<f64> {
    let dim = laws.len();
    let random: Vec<usize> = (0..dim).filter(|&j| !laws[j].is_constant()).collect();
    let r = random.len();
    let mut z = vec![0.0; count * r];
    if r == 1 {
        // One dimension: the midpoint quantiles (k + ½)/n, the W1-optimal n-point approximation.
        for (k, v) in z.iter_mut().enumerate() {
            *v = laws[random[0]].standard_quantile((k as f64 + 0.5) / count as f64);
        }
    } else if r > 1 {
        let cube = unit_cube(count, r);
        for (v, (p, j)) in z.iter_mut().zip(cube.iter().zip((0..r).cycle())) {
            *v = laws[random[j]].standard_quantile(*p);
        }
    }
    if r > 0 {
        whiten(&mut z, r);
    }
    let mut out = Vec::with_capacity(count * dim);
    for k in 0..count {
        let mut next = 0;
        for law in laws {
            if law.is_constant() {
                out.push(law.mean());
            } else {
                out.push(law.mean() + law.std() * z[k * r + next]);
                next += 1;
            }
        }
    }
    out
}

/// Makes the rows of `z` (dimension `dim`, equal weights) have mean exactly 0 and covariance exactly I:
/// subtract the mean, then multiply by the inverse of the Cholesky factor of the covariance.
fn whiten(z: &mut [f64], dim: usize) {
    let n = (z.len() / dim) as f64;
    for j in 0..dim {
        let mean = z.iter().skip(j).step_by(dim).sum::<f64>() / n;
        z.iter_mut().skip(j).step_by(dim).for_each(|v| *v -= mean);
    }
    let mut cov = vec![0.0; dim * dim];
    for row in z.chunks_exact(dim) {
        for a in 0..dim {
            for b in 0..=a {
                cov[a * dim + b] += row[a] * row[b] / n;
            }
        }
    }
    // Cholesky: cov = L Lᵀ, L lower triangular (positive definite for n > dim distinct QMC points).
    let mut l = vec![0.0; dim * dim];
    for a in 0..dim {
        for b in 0..=a {
            let s: f64 = (0..b).map(|k| l[a * dim + k] * l[b * dim + k]).sum();
            if a == b {
                l[a * dim + a] = (cov[a * dim + a] - s).max(f64::MIN_POSITIVE).sqrt();
            } else {
                l[a * dim + b] = (cov[a * dim + b] - s) / l[b * dim + b];
            }
        }
    }
    // Solve L v = row by forward substitution, in place.
    for row in z.chunks_exact_mut(dim) {
        for a in 0..dim {
            let s: f64 = (0..a).map(|k| l[a * dim + k] * row[k]).sum();
            row[a] = (row[a] - s) / l[a * dim + a];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean and covariance are exact to rounding (the whitening is a solve with a well-conditioned
    /// Cholesky factor, so 1e-12 is a thousand times the rounding of 10⁴ terms), in several dimensions and
    /// with a constant coordinate mixed in; the marginals are close to the law (W1 of a 1-D marginal of 2048
    /// QMC points to N(0, 1) is of order log n / n; 0.01 is far below the 1/√n ≈ 0.02 of random draws).
    #[test]
    fn nodes_have_exact_moments_and_close_marginals() {
        let laws = [
            EntryLaw::Gaussian { mean: 0.5, std: 2.0 },
            EntryLaw::Constant(3.0),
            EntryLaw::Uniform { low: -1.0, high: 2.0 },
            EntryLaw::Gaussian { mean: 0.0, std: 1.0 },
        ];
        let n = 2048;
        let x = nodes(n, &laws);
        let d = laws.len();
        for a in 0..d {
            let mean = x.iter().skip(a).step_by(d).sum::<f64>() / n as f64;
            assert!((mean - laws[a].mean()).abs() < 1e-12, "mean {a}: {mean}");
            for b in 0..d {
                let cov =
                    (0..n).map(|k| (x[k * d + a] - laws[a].mean()) * (x[k * d + b] - laws[b].mean())).sum::<f64>()
                        / n as f64;
                let expected = if a == b { laws[a].std().powi(2) } else { 0.0 };
                assert!((cov - expected).abs() < 1e-12, "cov {a},{b}: {cov}");
            }
        }
        let marginal: Vec<f64> = x.iter().skip(3).step_by(d).copied().collect();
        let reference: Vec<f64> =
            (0..20000).map(|k| standard_normal().inverse_cdf((k as f64 + 0.5) / 20000.0)).collect();
        let w1 = crate::distance::wasserstein_1d(&marginal, &reference, crate::distance::Order::W1);
        assert!(w1 < 0.01, "W1 of a QMC marginal to N(0, 1): {w1}");
    }
}

//! Gaussian expectations of activations by piecewise Gauss–Legendre quadrature, for the kernels U and V of
//! the limit where no closed form exists (DESIGN.md §1: "quadrature elsewhere").
//!
//! E f(G), G ~ N(0, 1), is ∫ f(z) φ(z) dz over [−10, 10] (the Gaussian mass outside is 2·10⁻²³) cut into
//! panels of length ≤ 1 and at the breakpoints of f, with 16 Gauss–Legendre nodes per panel. On a panel
//! where f is analytic the error is far below 10⁻¹²; splitting at the kinks (relu, ramp) keeps that true
//! for piecewise-smooth activations (the tests compare with the closed forms of `population`).

use gauss_quad::legendre::GaussLegendre;
use meanfield_core::Activation;
use std::num::NonZeroUsize;

/// The panel rule for Gaussian expectations.
#[derive(Debug)]
pub struct GaussianQuadrature {
    rule: GaussLegendre,
    reach: f64,
    panel: f64,
}

impl Default for GaussianQuadrature {
    fn default() -> Self {
        GaussianQuadrature { rule: GaussLegendre::new(NonZeroUsize::new(16).expect("16 > 0")), reach: 10.0, panel: 1.0 }
    }
}

fn normal_density(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// σ(z) for one value.
pub fn sigma(activation: &dyn Activation, z: f64) -> f64 {
    let mut value = [0.0];
    activation.eval(&[z], &mut value, None);
    value[0]
}

/// The breakpoints of z ↦ σ(scale·z): σ's breakpoints divided by the scale (none if the scale is 0).
pub fn scaled_breakpoints(activation: &dyn Activation, scale: f64) -> Vec<f64> {
    if scale == 0.0 { Vec::new() } else { activation.breakpoints().into_iter().map(|t| t / scale).collect() }
}

impl GaussianQuadrature {
    /// E f(G) for G ~ N(0, 1), with the panels also cut at `breaks` (where f is not smooth).
    pub fn expectation(&self, breaks: &[f64], mut f: impl FnMut(f64) -> f64) -> f64 {
        let mut total = 0.0;
        for (lo, hi) in self.panels(breaks) {
            total += self.rule.integrate(lo, hi, |z| f(z) * normal_density(z));
        }
        total
    }

    /// The panels of [`GaussianQuadrature::expectation`], in the order it sums them: [−reach, reach] cut
    /// at `breaks`, each piece in panels of equal length at most `panel`.
    fn panels(&self, breaks: &[f64]) -> Vec<(f64, f64)> {
        let mut cuts: Vec<f64> = breaks.iter().copied().filter(|b| b.abs() < self.reach).collect();
        cuts.push(-self.reach);
        cuts.push(self.reach);
        cuts.sort_by(f64::total_cmp);
        cuts.dedup();
        let mut panels = Vec::new();
        for piece in cuts.windows(2) {
            let count = ((piece[1] - piece[0]) / self.panel).ceil().max(1.0) as usize;
            let width = (piece[1] - piece[0]) / count as f64;
            for p in 0..count {
                let lo = piece[0] + p as f64 * width;
                panels.push((lo, lo + width));
            }
        }
        panels
    }

    /// E[σ1(a G) σ2(b G)]: the kernel of two units on the same scalar Gaussian input (d = 1).
    pub fn product(&self, first: &dyn Activation, a: f64, second: &dyn Activation, b: f64) -> f64 {
        let mut breaks = scaled_breakpoints(first, a);
        breaks.extend(scaled_breakpoints(second, b));
        self.expectation(&breaks, |z| sigma(first, a * z) * sigma(second, b * z))
    }

    /// The normalised Hermite coefficients f̂_k = E[σ(a G) h_k(G)], k < `count`, with h_k = He_k/√k!
    /// orthonormal under N(0, 1). By Mehler's formula, for standard Gaussians of correlation ρ,
    /// E[f(G1) g(G2)] = Σ_k f̂_k ĝ_k ρ^k.
    ///
    /// Each coefficient is [`GaussianQuadrature::expectation`] of σ(a z)·h_k(z), summed panel by panel in
    /// the same order, but σ, φ and h_0 … h_{count−1} are computed once per node for all k rather than
    /// again for every k.
    pub fn hermite_coefficients(&self, activation: &dyn Activation, a: f64, count: usize) -> Vec<f64> {
        let breaks = scaled_breakpoints(activation, a);
        let mut coefficients = vec![0.0; count];
        // σ(a z), φ(z) and h_0 … h_{count−1} at each node of the panel, in the order the rule visits them.
        let mut nodes: Vec<(f64, f64, Vec<f64>)> = Vec::new();
        for (lo, hi) in self.panels(&breaks) {
            nodes.clear();
            for (k, coefficient) in coefficients.iter_mut().enumerate() {
                let mut node = 0;
                *coefficient += self.rule.integrate(lo, hi, |z| {
                    if k == 0 {
                        let mut h = vec![0.0; count];
                        hermite(z, &mut h);
                        nodes.push((sigma(activation, a * z), normal_density(z), h));
                    }
                    let (s, density, h) = &nodes[node];
                    node += 1;
                    s * h[k] * density
                });
            }
        }
        coefficients
    }
}

/// h_0(z), …, h_{n−1}(z) by the recurrence √(k+1) h_{k+1} = z h_k − √k h_{k−1}.
fn hermite(z: f64, h: &mut [f64]) {
    for k in 0..h.len() {
        h[k] = match k {
            0 => 1.0,
            1 => z,
            _ => (z * h[k - 1] - ((k - 1) as f64).sqrt() * h[k - 2]) / (k as f64).sqrt(),
        };
    }
}

/// E[s^k] for s the cosine of the angle between two independent uniform directions in R^d:
/// 0 for odd k, Π_{i < k/2} (2i + 1)/(d + 2i) for even k (so 1/d for k = 2).
pub fn sphere_cosine_moment(dim: usize, k: usize) -> f64 {
    if k % 2 == 1 {
        return 0.0;
    }
    (0..k / 2).map(|i| (2 * i + 1) as f64 / (dim + 2 * i) as f64).product()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::KernelUnit;

    /// Relu and erf through the core trait, with relu's kink declared (as the models crate does).
    #[derive(Debug)]
    struct Unit(KernelUnit);

    impl Activation for Unit {
        fn name(&self) -> String {
            format!("{:?}", self.0)
        }
        fn eval(&self, z: &[f64], value: &mut [f64], _derivative: Option<&mut [f64]>) {
            for (z, v) in z.iter().zip(value) {
                *v = match self.0 {
                    KernelUnit::Linear => *z,
                    KernelUnit::Quadratic => z * z,
                    KernelUnit::Relu => z.max(0.0),
                    KernelUnit::Erf => libm::erf(*z),
                };
            }
        }
        fn breakpoints(&self) -> Vec<f64> {
            if self.0 == KernelUnit::Relu { vec![0.0] } else { Vec::new() }
        }
    }

    const UNITS: [KernelUnit; 4] = [KernelUnit::Linear, KernelUnit::Quadratic, KernelUnit::Relu, KernelUnit::Erf];

    /// On a common scalar input the pair (aG, bG) has covariance ab: the closed forms of `population`
    /// give the kernel to rounding, so quadrature must agree to 1e-12.
    #[test]
    fn product_matches_closed_forms() {
        let q = GaussianQuadrature::default();
        for unit in UNITS {
            for (a, b) in [(1.0, 1.0), (0.3, -2.0), (-1.7, 0.9), (2.5, 0.1)] {
                let quad = q.product(&Unit(unit), a, &Unit(unit), b);
                let exact = unit.gaussian_kernel(a * a, b * b, a * b);
                assert!((quad - exact).abs() < 1e-12 * (1.0 + exact.abs()), "{unit:?} a={a} b={b}: {quad} vs {exact}");
            }
        }
    }

    /// Without the declared kink relu loses digits: the breakpoints matter (and the test above could fail).
    #[test]
    fn kinks_matter() {
        #[derive(Debug)]
        struct Hidden;
        impl Activation for Hidden {
            fn name(&self) -> String {
                "relu".into()
            }
            fn eval(&self, z: &[f64], value: &mut [f64], _d: Option<&mut [f64]>) {
                for (z, v) in z.iter().zip(value) {
                    *v = (z - 0.37).max(0.0);
                }
            }
        }
        let q = GaussianQuadrature::default();
        let exact = {
            // E relu(G − t) = φ(t) − t(1 − Φ(t)).
            let t: f64 = 0.37;
            normal_density(t) - t * 0.5 * libm::erfc(t / std::f64::consts::SQRT_2)
        };
        let hidden = q.expectation(&[], |z| sigma(&Hidden, z));
        let declared = q.expectation(&[0.37], |z| sigma(&Hidden, z));
        assert!((declared - exact).abs() < 1e-14);
        assert!((hidden - exact).abs() > 1e-9, "an undeclared kink costs accuracy: {}", (hidden - exact).abs());
    }

    /// Mehler's series with quadrature coefficients against the closed-form kernels at correlation ρ.
    #[test]
    fn mehler_series_matches_closed_forms() {
        let q = GaussianQuadrature::default();
        for unit in [KernelUnit::Erf, KernelUnit::Relu, KernelUnit::Quadratic] {
            let (a, b, rho): (f64, f64, f64) = (1.3, 0.7, 0.35);
            let fa = q.hermite_coefficients(&Unit(unit), a, 40);
            let fb = q.hermite_coefficients(&Unit(unit), b, 40);
            let series: f64 = fa.iter().zip(&fb).enumerate().map(|(k, (x, y))| x * y * rho.powi(k as i32)).sum();
            let exact = unit.gaussian_kernel(a * a, b * b, a * b * rho);
            assert!((series - exact).abs() < 1e-12, "{unit:?}: {series} vs {exact}");
        }
    }

    /// The coefficients computed together have the bits of each one's own `expectation`, as they were first
    /// computed, with and without a kink.
    #[test]
    fn hermite_coefficients_are_the_expectations_one_by_one_bitwise() {
        let q = GaussianQuadrature::default();
        for unit in UNITS {
            for a in [1.3, -0.4, 2.0] {
                let activation = Unit(unit);
                let breaks = scaled_breakpoints(&activation, a);
                let mut h = vec![0.0; 12];
                let one_by_one: Vec<f64> = (0..12)
                    .map(|k| {
                        q.expectation(&breaks, |z| {
                            hermite(z, &mut h);
                            sigma(&activation, a * z) * h[k]
                        })
                    })
                    .collect();
                let together = q.hermite_coefficients(&activation, a, 12);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&together), bits(&one_by_one), "{unit:?}, a = {a}");
            }
        }
    }

    #[test]
    fn sphere_moments() {
        assert_eq!(sphere_cosine_moment(40, 0), 1.0);
        assert_eq!(sphere_cosine_moment(40, 3), 0.0);
        assert!((sphere_cosine_moment(40, 2) - 1.0 / 40.0).abs() < 1e-16);
        assert!((sphere_cosine_moment(7, 4) - 3.0 / (7.0 * 9.0)).abs() < 1e-16);
        // d = 1: s = ±1.
        assert_eq!(sphere_cosine_moment(1, 6), 1.0);
    }
}

//! The limit of a one-hidden-layer network with units u(x; θ) = c σ(w·x) in the mean-field scaling
//! (DESIGN.md §1): Ψ(θ; ρ) = c V₁(w) + c ∫ c' K(w, w') ρ(dθ') + λ|θ|²/2 with V₁(w) = −E[y σ(w·x)] and
//! K(w, w') = E[σ(w·x) σ(w'·x)], so U(θ, θ') = c c' K(w, w') and V(θ) = c V₁(w). Two problems reduce to a
//! grid of dimension ≤ 2:
//!
//! - **Scalar Gaussian inputs** (x ~ N(0, 1), d = 1): θ = (c, w) on a 2-D grid when c is trained, w alone
//!   on a 1-D grid when c is frozen at a constant. K and V₁ are one-dimensional Gaussian integrals.
//! - **Isotropic data** (Mei et al.: y = ±1, x | y ~ N(0, (1 + yΔ)² I_d)) with c frozen: from a rotation-
//!   invariant ρ₀ the law stays rotation invariant, and the density p of r = |w| obeys the 1-D equation
//!   ∂_t p = ∂_r(p ∂_r Ψ̄) + τ ∂_r(∂_r p − (d − 1) p / r), where Ψ̄(r) = c V₁(r) + c² ∫ K̄(r, r') p(r') dr'
//!   averages K over the angle between w and w'. With s the cosine of that angle and f̂_k^a(r) the Hermite
//!   coefficients of z ↦ σ(a r z), Mehler's formula gives K̄(r, r') = ½ Σ_{a = 1 ± Δ} Σ_k f̂_k^a(r) f̂_k^a(r')
//!   E[s^k], and E[s^k] ≤ (k/d)^{k/2} makes the series converge fast for the d of interest. The diffusion
//!   term is written as the extra potential −τ(d − 1) ln r.
//!
//! The limit risk is R(ρ) = ½E y² + ∫V dρ + ½∬U dρ dρ.

use crate::LimitError;
use crate::distance::GridDensity;
use crate::grid::{Axis, FiniteVolume, Grid, Potential, Solution, gaussian_cell_masses};
use crate::population::KernelUnit;
use crate::quadrature::{GaussianQuadrature, sphere_cosine_moment};
use meanfield_core::Activation;
use meanfield_core::Statistic;
use std::sync::Arc;

/// A teacher unit a·τ(b x) of a scalar-input target y = Σ a τ(b x) + noise.
#[derive(Debug, Clone)]
pub struct Unit {
    pub weight: f64,
    pub scale: f64,
    pub activation: Arc<dyn Activation>,
}

/// The data law, as far as the limit needs it.
#[derive(Debug, Clone)]
pub enum LimitData {
    /// d = 1, x ~ N(0, 1), y = Σ_k a_k τ_k(b_k x) + noise·ε.
    ScalarGaussian { teacher: Vec<Unit>, noise: f64 },
    /// y = ±1 with probability ½, x | y ~ N(0, (1 + yΔ)² I_d).
    Isotropic { dim: usize, delta: f64 },
}

/// A one-dimensional initial law with a density.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Law {
    Gaussian { mean: f64, std: f64 },
    Uniform { low: f64, high: f64 },
}

impl Law {
    fn cell_masses(&self, axis: &Axis) -> Vec<f64> {
        match *self {
            Law::Gaussian { mean, std } => gaussian_cell_masses(axis, mean, std),
            Law::Uniform { low, high } => {
                axis.edges().windows(2).map(|e| (e[1].min(high) - e[0].max(low)).max(0.0) / (high - low)).collect()
            }
        }
    }
}

/// The output weights: trained (a grid axis, with its initial law) or frozen at a constant.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputWeights {
    Trained { law: Law, range: (f64, f64) },
    Frozen(f64),
}

/// Everything that determines the limit of one sweep point (not its width).
#[derive(Debug, Clone)]
pub struct LimitProblem {
    pub activation: Arc<dyn Activation>,
    pub data: LimitData,
    pub c: OutputWeights,
    /// The law of each coordinate of w (for isotropic data, w ~ N(0, std² I_d) is required).
    pub w_law: Law,
    /// The grid range of w (of r = |w| for isotropic data).
    pub w_range: (f64, f64),
    pub cells: usize,
    /// λ of noisy SGD (on trained blocks).
    pub weight_decay: f64,
    /// τ of noisy SGD.
    pub temperature: f64,
    /// How K, V₁ and E y² are computed.
    pub kernels: Kernels,
}

/// How a scalar-Gaussian problem's kernels are computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Kernels {
    /// Gaussian quadrature of the activation, for any activation (cut at its breakpoints).
    #[default]
    Quadrature,
    /// The closed form of the units' Gaussian kernel ([`KernelUnit::gaussian_kernel`]): exact, for a student
    /// whose activation is this unit and a teacher made of the same units. Not for the radial reduction.
    ClosedForm(KernelUnit),
}

/// Which particle statistic a grid axis describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Marginal {
    pub axis: usize,
    pub statistic: Statistic,
}

/// The solved limit: ρ at the requested times, the marginal of every axis and the limit risk there.
#[derive(Debug, Clone)]
pub struct LimitSolution {
    pub solution: Solution,
    pub marginals: Vec<Marginal>,
    /// `densities[snapshot][marginal]`.
    pub marginal_densities: Vec<Vec<GridDensity>>,
    pub risk: Vec<f64>,
    /// Mass in the outermost cells of the grid at the last time: if it is not small, the range is too
    /// narrow and the zero-flux boundary is holding mass back.
    pub boundary_mass: f64,
}

impl LimitSolution {
    /// Index of the snapshot at PDE time `time`.
    pub fn snapshot(&self, time: f64) -> Option<usize> {
        self.solution.index(time)
    }
}

/// Ψ of the one-hidden-layer limit on its grid.
#[derive(Debug)]
struct UnitPotential {
    grid: Grid,
    /// Whether axis 0 is c (then axis 1 is w); otherwise the only axis is w and c = `c0`.
    c_axis: bool,
    c0: f64,
    /// K(w_i, w_j) on the w axis, column-major (K(w_i, w_j) at j·n + i), so that [`Self::kernel_sums`]
    /// runs over i in vector lanes.
    kernel_by_column: Vec<f64>,
    /// The widths of the w cells (the quadrature weights of ∫ K m dw').
    w_widths: Vec<f64>,
    /// V₁(w_i).
    field: Vec<f64>,
    /// The ρ-independent rest of Ψ at every cell: λ|θ|²/2 on trained blocks, the radial diffusion term.
    confinement: Vec<f64>,
    /// m(w) = ∫ c ρ(c, w) dc on the w cells.
    moment: Vec<f64>,
    /// ∫ K(w, w') m(w') dw' by the cell widths ([`Self::kernel_sums`]).
    kernel_sums: Vec<f64>,
    /// V₁(w) + ∫ K(w, w') m(w') dw'.
    interaction: Vec<f64>,
}

impl UnitPotential {
    fn w_axis(&self) -> &Axis {
        self.grid.axes.last().expect("at least one axis")
    }

    /// m(w) = ∫ c ρ dc on the w cells.
    fn output_moment(&mut self, density: &[f64]) {
        let nw = self.w_axis().cells();
        self.moment.fill(0.0);
        if self.c_axis {
            let c = &self.grid.axes[0];
            for (cell, rho) in density.iter().enumerate() {
                self.moment[cell % nw] += c.centre(cell / nw) * rho * c.width(cell / nw);
            }
        } else {
            for (m, rho) in self.moment.iter_mut().zip(density) {
                *m = self.c0 * rho;
            }
        }
    }

    /// Σ_j K(w_i, w_j) m_j h_j for every i into `kernel_sums`, each sum over j in index order from −0 with
    /// the products (K m) h, as `Iterator::sum` sums them. The sums of all i run side by side (a column of
    /// the kernel at a time), so that the chains of additions overlap instead of each waiting on its own.
    fn kernel_sums(&mut self) {
        column_sums(&self.kernel_by_column, &self.moment, &self.w_widths, &mut self.kernel_sums);
    }

    /// R(ρ) − ½E y² = ∫ m V₁ + ½ ∬ m K m.
    fn risk_excess(&mut self, density: &[f64]) -> f64 {
        self.output_moment(density);
        self.kernel_sums();
        let mut total = 0.0;
        for (i, g) in self.kernel_sums.iter().enumerate() {
            total += self.moment[i] * self.w_widths[i] * (self.field[i] + 0.5 * g);
        }
        total
    }
}

impl Potential for UnitPotential {
    fn psi(&mut self, density: &[f64], out: &mut [f64]) {
        self.output_moment(density);
        self.kernel_sums();
        let nw = self.moment.len();
        for i in 0..nw {
            self.interaction[i] = self.field[i] + self.kernel_sums[i];
        }
        for (cell, o) in out.iter_mut().enumerate() {
            let c = if self.c_axis { self.grid.axes[0].centre(cell / nw) } else { self.c0 };
            *o = c * self.interaction[cell % nw] + self.confinement[cell];
        }
    }
}

/// [`UnitPotential::kernel_sums`]: `sums[i] = Σ_j K_ij m_j h_j` from the columns of K.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn column_sums(kernel_by_column: &[f64], m: &[f64], h: &[f64], sums: &mut [f64]) {
    let n = sums.len();
    sums.fill(-0.0);
    for ((column, m), h) in kernel_by_column.chunks_exact(n).zip(m).zip(h) {
        for (sum, k) in sums.iter_mut().zip(column) {
            *sum += k * m * h;
        }
    }
}

/// The n × n row-major `matrix` column-major: entry (i, j) at j·n + i.
fn by_column(matrix: &[f64], n: usize) -> Vec<f64> {
    (0..n * n).map(|k| matrix[(k % n) * n + k / n]).collect()
}

/// Terms of Mehler's series kept for the radial kernel; the first one left out is below
/// E[s^48] E σ² ≈ 10⁻¹⁹ E σ² for d = 40 (checked against a bound when the problem is built).
const MEHLER_TERMS: usize = 48;

/// Ratio of the last to the first cell width of the radial grid.
const RADIAL_STRETCH: f64 = 50.0;

impl LimitProblem {
    fn c0(&self) -> Option<f64> {
        match self.c {
            OutputWeights::Frozen(c0) => Some(c0),
            OutputWeights::Trained { .. } => None,
        }
    }

    fn grid(&self) -> Grid {
        let w = match self.data {
            // |w| starts concentrated (its spread is std/√2 while its mean is std·√d) and spreads out over
            // several units: cells grow 50-fold from r = 0 to the far end.
            LimitData::Isotropic { .. } => {
                Axis::stretched("|w|", self.w_range.0, self.w_range.1, self.cells, RADIAL_STRETCH)
            }
            LimitData::ScalarGaussian { .. } => Axis::new("w", self.w_range.0, self.w_range.1, self.cells),
        };
        match self.c {
            OutputWeights::Trained { range, .. } => Grid::new(vec![Axis::new("c", range.0, range.1, self.cells), w]),
            OutputWeights::Frozen(_) => Grid::new(vec![w]),
        }
    }

    /// K on the w axis, V₁ on it, and E y².
    fn kernels(&self, w_axis: &Axis) -> Result<(Vec<f64>, Vec<f64>, f64), LimitError> {
        let q = GaussianQuadrature::default();
        let act = self.activation.as_ref();
        let w = w_axis.centres();
        let n = w.len();
        let mut kernel = vec![0.0; n * n];
        match (&self.data, self.kernels) {
            (LimitData::ScalarGaussian { teacher, noise }, Kernels::ClosedForm(unit)) => {
                // For x ~ N(0, 1), (a x, b x) is a centred Gaussian pair with variances a², b² and covariance ab.
                let pair = |a: f64, b: f64| unit.gaussian_kernel(a * a, b * b, a * b);
                for i in 0..n {
                    for j in i..n {
                        let k = pair(w[i], w[j]);
                        kernel[i * n + j] = k;
                        kernel[j * n + i] = k;
                    }
                }
                let field = w.iter().map(|&wi| -teacher.iter().map(|u| u.weight * pair(u.scale, wi)).sum::<f64>());
                let y2 = noise * noise
                    + teacher
                        .iter()
                        .flat_map(|a| teacher.iter().map(move |b| (a, b)))
                        .map(|(a, b)| a.weight * b.weight * pair(a.scale, b.scale))
                        .sum::<f64>();
                Ok((kernel, field.collect(), y2))
            }
            (LimitData::Isotropic { .. }, Kernels::ClosedForm(_)) => Err(LimitError::Invalid(
                "closed-form kernels are for scalar Gaussian inputs; the radial reduction uses quadrature".into(),
            )),
            (LimitData::ScalarGaussian { teacher, noise }, Kernels::Quadrature) => {
                for i in 0..n {
                    for j in i..n {
                        let k = q.product(act, w[i], act, w[j]);
                        kernel[i * n + j] = k;
                        kernel[j * n + i] = k;
                    }
                }
                let field = w
                    .iter()
                    .map(|&wi| {
                        -teacher
                            .iter()
                            .map(|u| u.weight * q.product(u.activation.as_ref(), u.scale, act, wi))
                            .sum::<f64>()
                    })
                    .collect();
                let mut y2 = noise * noise;
                for a in teacher {
                    for b in teacher {
                        y2 += a.weight
                            * b.weight
                            * q.product(a.activation.as_ref(), a.scale, b.activation.as_ref(), b.scale);
                    }
                }
                Ok((kernel, field, y2))
            }
            (&LimitData::Isotropic { dim, delta }, Kernels::Quadrature) => {
                let mut field = vec![0.0; n];
                for (sign, scale) in [(1.0, 1.0 + delta), (-1.0, 1.0 - delta)] {
                    let coefficients: Vec<Vec<f64>> =
                        w.iter().map(|&r| q.hermite_coefficients(act, scale * r, MEHLER_TERMS)).collect();
                    let moments: Vec<f64> = (0..MEHLER_TERMS).map(|k| sphere_cosine_moment(dim, k)).collect();
                    for i in 0..n {
                        // V₁ = −E[y σ(w·x)], y = ±1 each with probability ½; f̂_0 = E σ(a r G).
                        field[i] -= 0.5 * sign * coefficients[i][0];
                        for j in 0..n {
                            let series: f64 =
                                (0..MEHLER_TERMS).map(|k| coefficients[i][k] * coefficients[j][k] * moments[k]).sum();
                            kernel[i * n + j] += 0.5 * series;
                        }
                    }
                }
                Ok((kernel, field, 1.0))
            }
        }
    }

    /// The initial density (cell averages) on `grid`; an error if the grid misses part of the law.
    fn initial(&self, grid: &Grid) -> Result<Vec<f64>, LimitError> {
        let w_axis = grid.axes.last().expect("an axis");
        let w_masses = match (&self.data, self.w_law) {
            (LimitData::Isotropic { dim, .. }, Law::Gaussian { mean, std }) => {
                if mean != 0.0 {
                    return Err(LimitError::Invalid("the radial limit needs w centred (mean 0)".into()));
                }
                chi_cell_masses(w_axis, *dim, std)
            }
            (LimitData::Isotropic { .. }, Law::Uniform { .. }) => {
                return Err(LimitError::Invalid("the radial limit needs a Gaussian initial law for w".into()));
            }
            (LimitData::ScalarGaussian { .. }, law) => law.cell_masses(w_axis),
        };
        let mut axis_masses = Vec::new();
        if let OutputWeights::Trained { law, .. } = &self.c {
            axis_masses.push(("c", law.cell_masses(&grid.axes[0])));
        }
        axis_masses.push(("w", w_masses));
        for (name, masses) in &axis_masses {
            let held: f64 = masses.iter().sum();
            if held < 1.0 - 1e-6 {
                return Err(LimitError::Invalid(format!(
                    "the grid range of {name} holds only {held:.6} of its initial law; widen it"
                )));
            }
        }
        let masses: Vec<Vec<f64>> = axis_masses.into_iter().map(|(_, m)| m).collect();
        Ok(grid.product(&masses))
    }

    fn potential(&self, grid: &Grid) -> Result<(UnitPotential, f64), LimitError> {
        let w_axis = grid.axes.last().expect("an axis").clone();
        let (kernel, field, y2) = self.kernels(&w_axis)?;
        let lambda = self.weight_decay;
        let confinement = (0..grid.len())
            .map(|cell| {
                let w = w_axis.centre(cell % w_axis.cells());
                let mut extra = 0.5 * lambda * w * w;
                if self.c0().is_none() {
                    let c = grid.axes[0].centre(cell / w_axis.cells());
                    extra += 0.5 * lambda * c * c;
                }
                if let LimitData::Isotropic { dim, .. } = self.data {
                    extra -= self.temperature * (dim as f64 - 1.0) * w.ln();
                }
                extra
            })
            .collect();
        let nw = w_axis.cells();
        Ok((
            UnitPotential {
                grid: grid.clone(),
                c_axis: self.c0().is_none(),
                c0: self.c0().unwrap_or(0.0),
                kernel_by_column: by_column(&kernel, nw),
                w_widths: w_axis.widths(),
                field,
                confinement,
                moment: vec![0.0; nw],
                kernel_sums: vec![0.0; nw],
                interaction: vec![0.0; nw],
            },
            y2,
        ))
    }

    /// Checks what can be checked before the kernels are computed (cheap): the shape of the problem and
    /// that the grid holds the initial law. Returns the grid and the initial density.
    pub fn check(&self) -> Result<(Grid, Vec<f64>), LimitError> {
        if let LimitData::Isotropic { dim, .. } = self.data {
            if self.c0().is_none() {
                return Err(LimitError::Invalid("the radial limit needs the output weights c frozen".into()));
            }
            if self.w_range.0 < 0.0 {
                return Err(LimitError::Invalid("the radial grid covers r = |w| ≥ 0".into()));
            }
            let bound = sphere_cosine_moment(dim, MEHLER_TERMS);
            if bound > 1e-10 {
                return Err(LimitError::Invalid(format!(
                    "the radial limit's kernel series converges too slowly in d = {dim} (E s^{MEHLER_TERMS} = {bound:.1e}); it needs d ≥ 20"
                )));
            }
        }
        let grid = self.grid();
        let initial = self.initial(&grid)?;
        Ok((grid, initial))
    }

    /// Checks the problem, builds its grid, kernels and initial density, and solves it at `times` (PDE
    /// time, ascending).
    pub fn solve(&self, times: &[f64]) -> Result<LimitSolution, LimitError> {
        let (grid, initial) = self.check()?;
        let (mut potential, y2) = self.potential(&grid)?;
        let solution = FiniteVolume::new(grid.clone(), self.temperature).solve(&initial, &mut potential, times)?;
        let mut marginals = Vec::new();
        if self.c0().is_none() {
            marginals.push(Marginal { axis: 0, statistic: Statistic::Coordinate("c".into(), 0) });
        }
        let w_statistic = match self.data {
            LimitData::Isotropic { .. } => Statistic::Norm("w".into()),
            LimitData::ScalarGaussian { .. } => Statistic::Coordinate("w".into(), 0),
        };
        marginals.push(Marginal { axis: grid.axes.len() - 1, statistic: w_statistic });
        let marginal_densities = solution
            .snapshots
            .iter()
            .map(|s| marginals.iter().map(|m| grid.marginal(&s.density, m.axis)).collect())
            .collect();
        let risk = solution.snapshots.iter().map(|s| 0.5 * y2 + potential.risk_excess(&s.density)).collect();
        let boundary_mass = solution.snapshots.last().map_or(0.0, |s| {
            (0..grid.len())
                .filter(|&cell| {
                    (0..grid.axes.len()).any(|k| {
                        let i = grid.coordinate(cell, k);
                        // r = 0 is not a boundary the particles can cross.
                        let radial_origin = k == grid.axes.len() - 1
                            && i == 0
                            && self.c0().is_some()
                            && matches!(self.data, LimitData::Isotropic { .. });
                        (i == 0 && !radial_origin) || i + 1 == grid.axes[k].cells()
                    })
                })
                .map(|cell| s.density[cell] * grid.cell_volume(cell))
                .sum()
        });
        Ok(LimitSolution { solution, marginals, marginal_densities, risk, boundary_mass })
    }
}

/// Cell masses of r = |w| for w ~ N(0, std² I_d) (a scaled χ_d law), by Gauss–Legendre on each cell.
fn chi_cell_masses(axis: &Axis, dim: usize, std: f64) -> Vec<f64> {
    use gauss_quad::legendre::GaussLegendre;
    let rule = GaussLegendre::new(std::num::NonZeroUsize::new(16).expect("16 > 0"));
    let d = dim as f64;
    let log_norm = (d / 2.0 - 1.0) * std::f64::consts::LN_2 + libm::lgamma(d / 2.0) + d * std.ln();
    let density =
        |r: f64| if r <= 0.0 { 0.0 } else { ((d - 1.0) * r.ln() - r * r / (2.0 * std * std) - log_norm).exp() };
    axis.edges().windows(2).map(|e| rule.integrate(e[0], e[1], density)).collect()
}

#[cfg(test)]
mod tests;

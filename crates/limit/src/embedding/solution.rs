//! The solved embedding limit: the risk and every trained layer's marginal law at the solved times, and
//! the observable that compares the particles with them.

use super::nodes::{EntryLaw, standard_normal_cdf};
use super::rhs::Layout;
use super::{DataQuadrature, EmbeddingProblem};
use crate::LIMIT_RISK_COLUMN;
use crate::distance::{GridDensity, Order, wasserstein_1d_weighted, wasserstein_to_grid};
use meanfield_core::{Observable, ObservationContext};
use std::sync::Arc;

/// The limit law of one layer's particle statistic at every solved time.
#[derive(Debug, Clone)]
pub struct LimitMarginalLaw {
    /// As a `Histogram` of the same statistic labels it: `|w|` (or `w[0]` for d = 1), `u`, `c[0]`.
    pub label: String,
    /// The model block whose entries (or row norms) the particles' values are.
    pub block: &'static str,
    pub norm: bool,
    /// The law at every solved time.
    pub laws: Vec<MarginalAtTime>,
}

/// A marginal of the limit at one time.
#[derive(Debug, Clone)]
pub enum MarginalAtTime {
    /// Weighted atoms (weights summing to 1).
    Atoms { values: Vec<f64>, weights: Vec<f64> },
    /// A density on a fine grid: the atoms of ū smoothed by the continuous law of u0 − m.
    Density(GridDensity),
}

impl MarginalAtTime {
    /// W1 between the empirical measure of `particles` and this law, exact for either form.
    pub fn distance(&self, particles: &[f64]) -> f64 {
        match self {
            MarginalAtTime::Atoms { values, weights } => wasserstein_1d_weighted(particles, values, weights, Order::W1),
            MarginalAtTime::Density(density) => wasserstein_to_grid(particles, density, Order::W1),
        }
    }
}

/// The limit at the requested times.
#[derive(Debug, Clone)]
pub struct EmbeddingSolution {
    pub times: Vec<f64>,
    pub risk: Vec<f64>,
    pub marginals: Vec<LimitMarginalLaw>,
    /// The data quadrature the risks are computed on (the particles' risk uses it too).
    pub data: Arc<DataQuadrature>,
    /// Integrator steps taken, accepted and rejected.
    pub steps: u64,
}

/// Values of c0 at which c(t) and ū(t) are read off the second-layer nodes by interpolation, for c's and
/// for u's marginal. The nodes are few (a solve costs k1·k2 per data point), and their values taken as
/// atoms would put a floor under W1: 32 midpoint quantiles of N(0, 1) are 0.047 from it, which is what
/// a particle measure of N = 512 is from the limit. Between nodes c(t, c0) and ū(t, w0, c0) are smooth
/// in c0, so linear interpolation in c0 (its error quadratic in the node spacing) does not.
const C_FINE: usize = 2048;
const U_C_FINE: usize = 64;

/// Cells of the grid density of u's marginal when u0 has a continuous law: the midpoint quantiles of
/// u0 − m would put the same floor under W1 (0.047 with 32 of them), a grid of cells h wide puts one of
/// order h² (the CDF is piecewise linear across a cell).
const SMOOTH_CELLS: usize = 8192;

/// How far beyond its extreme atoms u's smoothed marginal reaches, in the noise law's standard
/// deviations: 8.5 leaves a Gaussian tail mass under 10⁻¹⁶.
const GAUSSIAN_REACH: f64 = 8.5;

/// Bins of a marginal's histogram in `limit.csv`.
const DENSITY_BINS: usize = 60;

impl EmbeddingSolution {
    pub(super) fn new(
        problem: &EmbeddingProblem,
        layout: Layout,
        times: Vec<f64>,
        states: Vec<Vec<f64>>,
        risk: Vec<f64>,
        steps: u64,
    ) -> EmbeddingSolution {
        let (w_trained, u_trained, c_trained) = problem.trained;
        let dim = layout.dim;
        let mut marginals = Vec::new();
        let law = |label: &str, block, norm| LimitMarginalLaw { label: label.into(), block, norm, laws: Vec::new() };
        let equal = |values: Vec<f64>| {
            let n = values.len();
            MarginalAtTime::Atoms { values, weights: vec![1.0 / n as f64; n] }
        };
        // With two hidden layers and a random c0, the second-layer nodes are refined by interpolation.
        let (_, initial) = problem.initial();
        let c0_nodes = layout.split(&initial).1.to_vec();
        let refine = layout.u && layout.k2 > 1;
        let c_fine = |count| fine_quantiles(problem.c_law, count);
        if w_trained {
            let mut m = if dim == 1 { law("w[0]", "w", false) } else { law("|w|", "w", true) };
            m.laws = states
                .iter()
                .map(|y| {
                    let w = layout.split(y).0;
                    let values = w.chunks_exact(dim).map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt()).collect();
                    equal(if dim == 1 { w.to_vec() } else { values })
                })
                .collect();
            marginals.push(m);
        }
        if layout.u && u_trained {
            let mut m = law("u", "u", false);
            let fine = if refine { c_fine(U_C_FINE) } else { Vec::new() };
            m.laws = states
                .iter()
                .map(|y| {
                    let u = layout.split(y).2;
                    let ubar: Vec<f64> = if refine {
                        u.chunks_exact(layout.k2).flat_map(|row| interpolate(&c0_nodes, row, &fine)).collect()
                    } else {
                        u.to_vec()
                    };
                    match problem.u_law {
                        EntryLaw::Constant(_) => equal(ubar),
                        noise => MarginalAtTime::Density(smoothed(&ubar, noise)),
                    }
                })
                .collect();
            marginals.push(m);
        }
        if c_trained {
            let mut m = law("c[0]", "c", false);
            let fine = if refine { c_fine(C_FINE) } else { Vec::new() };
            m.laws = states
                .iter()
                .map(|y| {
                    let c = layout.split(y).1;
                    equal(if refine { interpolate(&c0_nodes, c, &fine) } else { c.to_vec() })
                })
                .collect();
            marginals.push(m);
        }
        EmbeddingSolution { times, risk, marginals, data: problem.data.clone(), steps }
    }

    /// Index of the solution at `time` (to rounding).
    pub fn snapshot(&self, time: f64) -> Option<usize> {
        let tolerance = 1e-9 * time.abs().max(1.0);
        self.times.iter().position(|t| (t - time).abs() <= tolerance)
    }

    /// Every marginal at snapshot `index` as a histogram density (for `limit.csv` and the marginal plots).
    pub fn densities(&self, index: usize) -> Vec<(String, GridDensity)> {
        self.marginals.iter().map(|m| (m.label.clone(), histogram(&m.laws[index]))).collect()
    }
}

/// A marginal on `DENSITY_BINS` equal bins: over its atoms' range, or over the part of a grid density
/// between its 10⁻⁴ and 1 − 10⁻⁴ quantiles (its Gaussian tails would leave most bins empty).
fn histogram(law: &MarginalAtTime) -> GridDensity {
    let bins = |lo: f64, hi: f64| {
        let pad = 1e-9 * (1.0 + lo.abs().max(hi.abs())) + 0.5 * (hi - lo) / DENSITY_BINS as f64;
        let (lo, hi) = (lo - pad, hi + pad);
        let width = (hi - lo) / DENSITY_BINS as f64;
        ((0..=DENSITY_BINS).map(|k| lo + width * k as f64).collect::<Vec<f64>>(), lo, width)
    };
    match law {
        MarginalAtTime::Atoms { values, weights } => {
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (edges, lo, width) = bins(lo, hi);
            let mut masses = vec![0.0; DENSITY_BINS];
            for (v, w) in values.iter().zip(weights) {
                masses[(((v - lo) / width) as usize).min(DENSITY_BINS - 1)] += w;
            }
            GridDensity { edges, masses }
        }
        MarginalAtTime::Density(fine) => {
            let cdf = fine.cdf();
            let lo = fine.edges[cdf.iter().position(|&f| f > 1e-4).unwrap_or(1) - 1];
            let hi = fine.edges[cdf.iter().rposition(|&f| f < 1.0 - 1e-4).unwrap_or(cdf.len() - 2) + 1];
            let (edges, _, _) = bins(lo, hi);
            let at = |x: f64| interpolate(&fine.edges, &cdf, &[x])[0].clamp(0.0, 1.0);
            let masses = edges.windows(2).map(|e| at(e[1]) - at(e[0])).collect();
            GridDensity { edges, masses }
        }
    }
}

/// `count` midpoint quantiles of `law`, (k + ½)/count for k = 0…count − 1.
pub(super) fn fine_quantiles(law: EntryLaw, count: usize) -> Vec<f64> {
    (0..count).map(|k| law.mean() + law.std() * law.standard_quantile((k as f64 + 0.5) / count as f64)).collect()
}

/// The piecewise-linear interpolant through (`x`[k], `y`[k]) (x increasing, at least two points) at every
/// point of `at`, continued linearly beyond the end points.
fn interpolate(x: &[f64], y: &[f64], at: &[f64]) -> Vec<f64> {
    debug_assert!(x.len() >= 2 && x.len() == y.len() && x.windows(2).all(|p| p[0] < p[1]));
    at.iter()
        .map(|&t| {
            let k = x.partition_point(|&v| v <= t).clamp(1, x.len() - 1);
            let s = (t - x[k - 1]) / (x[k] - x[k - 1]);
            y[k - 1] + s * (y[k] - y[k - 1])
        })
        .collect()
}

/// The law of A + Z for A uniform on `atoms` and Z ~ `noise` − its mean, independent, as a density on
/// `SMOOTH_CELLS` cells: A's atoms are split linearly between the two nearest grid points (which keeps
/// each atom's mass and mean, so the CDF's error is of order h² where Z's law is smooth) and convolved
/// with Z's CDF at the grid's spacings.
pub(super) fn smoothed(atoms: &[f64], noise: EntryLaw) -> GridDensity {
    let reach = match noise {
        EntryLaw::Uniform { low, high } => 0.5 * (high - low),
        other => GAUSSIAN_REACH * other.std(),
    };
    let lo = atoms.iter().copied().fold(f64::INFINITY, f64::min) - reach;
    let hi = atoms.iter().copied().fold(f64::NEG_INFINITY, f64::max) + reach;
    let h = (hi - lo) / SMOOTH_CELLS as f64;
    let mut mass = vec![0.0; SMOOTH_CELLS + 1];
    for a in atoms {
        let position = ((a - lo) / h).clamp(0.0, SMOOTH_CELLS as f64);
        let g = (position as usize).min(SMOOTH_CELLS - 1);
        let frac = position - g as f64;
        mass[g] += (1.0 - frac) / atoms.len() as f64;
        mass[g + 1] += frac / atoms.len() as f64;
    }
    let noise_cdf = |z: f64| match noise {
        EntryLaw::Uniform { low, high } => ((z + 0.5 * (high - low)) / (high - low)).clamp(0.0, 1.0),
        other => standard_normal_cdf(z / other.std()),
    };
    // F_Z at every spacing d·h, d = −G…G, indexed by d + G.
    let kernel: Vec<f64> = (0..=2 * SMOOTH_CELLS).map(|d| noise_cdf((d as f64 - SMOOTH_CELLS as f64) * h)).collect();
    let occupied: Vec<(usize, f64)> = mass.iter().copied().enumerate().filter(|(_, m)| *m > 0.0).collect();
    let cdf: Vec<f64> = (0..=SMOOTH_CELLS)
        .map(|j| occupied.iter().map(|&(g, m)| m * kernel[j + SMOOTH_CELLS - g]).sum::<f64>())
        .collect();
    let edges = (0..=SMOOTH_CELLS).map(|j| lo + h * j as f64).collect();
    let masses = cdf.windows(2).map(|f| (f[1] - f[0]).max(0.0)).collect();
    GridDensity { edges, masses }
}

/// The particles against the embedding limit at every record: their risk on the limit's data quadrature
/// (column `risk`: the same data for both, so |risk − risk_limit| has no held-out-sample floor), the
/// exact W1 of every trained layer's marginal to the limit's (`W1(|w|)`, `W1(u)`, `W1(c[0])`), and the
/// limit's risk (`risk_limit`). The limit was solved at k·η of every record step k.
#[derive(Debug, Clone)]
pub struct EmbeddingDistance {
    limit: Arc<EmbeddingSolution>,
    step_size: f64,
}

/// The particles' risk on the limit's data, this observable's first column.
pub(crate) const PARTICLE_RISK_COLUMN: &str = "risk";

impl EmbeddingDistance {
    pub fn new(limit: Arc<EmbeddingSolution>, step_size: f64) -> EmbeddingDistance {
        EmbeddingDistance { limit, step_size }
    }
}

impl Observable for EmbeddingDistance {
    fn columns(&self) -> Vec<String> {
        let mut columns = vec![PARTICLE_RISK_COLUMN.to_owned()];
        columns.extend(self.limit.marginals.iter().map(|m| format!("W1({})", m.label)));
        columns.push(LIMIT_RISK_COLUMN.into());
        columns
    }

    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        let Some(index) = self.limit.snapshot(ctx.step as f64 * self.step_size) else {
            // Not a time the limit was solved at: a bug in the plan, shown as missing values.
            out.extend(std::iter::repeat_n(f64::NAN, self.limit.marginals.len() + 2));
            return;
        };
        let data = &self.limit.data;
        ctx.scratch.clear();
        ctx.scratch.resize(data.len(), 0.0);
        ctx.model.predict(&data.x, ctx.scratch);
        let residual: f64 =
            ctx.scratch.iter().zip(&data.y).zip(&data.weights).map(|((p, y), w)| 0.5 * w * (y - p) * (y - p)).sum();
        out.push(residual + 0.5 * data.noise_variance);
        for marginal in &self.limit.marginals {
            ctx.scratch.clear();
            let model = &*ctx.model;
            let block = model.blocks().iter().find(|b| b.name == marginal.block).expect("the limit's model's block");
            let values = &model.params()[block.range()];
            if marginal.norm {
                ctx.scratch
                    .extend(values.chunks_exact(block.cols).map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt()));
            } else {
                ctx.scratch.extend_from_slice(values);
            }
            out.push(marginal.laws[index].distance(ctx.scratch));
        }
        out.push(self.limit.risk[index]);
    }
}

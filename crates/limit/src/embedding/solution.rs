//! The solved embedding limit: the risk and every trained layer's marginal law at the solved times, and
//! the observable that compares the particles with them.

use super::nodes::{EntryLaw, standard_quantiles};
use super::rhs::Layout;
use super::{DataQuadrature, EmbeddingProblem, U_QUANTILES};
use crate::LIMIT_RISK_COLUMN;
use crate::distance::{GridDensity, Order, wasserstein_1d_weighted};
use meanfield_core::{Observable, ObservationContext};
use std::sync::Arc;

/// The limit law of one layer's particle statistic at every solved time, as weighted atoms.
#[derive(Debug, Clone)]
pub struct LimitMarginalLaw {
    /// As a `Histogram` of the same statistic labels it: `|w|` (or `w[0]` for d = 1), `u`, `c[0]`.
    pub label: String,
    /// The model block whose entries (or row norms) the particles' values are.
    pub block: &'static str,
    pub norm: bool,
    /// Per time: atom positions and their weights (summing to 1).
    pub atoms: Vec<(Vec<f64>, Vec<f64>)>,
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
        let law = |label: &str, block, norm| LimitMarginalLaw { label: label.into(), block, norm, atoms: Vec::new() };
        if w_trained {
            let mut m = if dim == 1 { law("w[0]", "w", false) } else { law("|w|", "w", true) };
            m.atoms = states
                .iter()
                .map(|y| {
                    let w = layout.split(y).0;
                    let values = w.chunks_exact(dim).map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt()).collect();
                    let values = if dim == 1 { w.to_vec() } else { values };
                    (values, vec![1.0 / layout.k1 as f64; layout.k1])
                })
                .collect();
            marginals.push(m);
        }
        if layout.u && u_trained {
            let mut m = law("u", "u", false);
            let noise = match problem.u_law {
                EntryLaw::Constant(_) => vec![0.0],
                other => standard_quantiles(other, U_QUANTILES).into_iter().map(|z| z * other.std()).collect(),
            };
            m.atoms = states
                .iter()
                .map(|y| {
                    let u = layout.split(y).2;
                    let values: Vec<f64> = u.iter().flat_map(|ubar| noise.iter().map(move |z| ubar + z)).collect();
                    let n = values.len();
                    (values, vec![1.0 / n as f64; n])
                })
                .collect();
            marginals.push(m);
        }
        if c_trained {
            let mut m = law("c[0]", "c", false);
            m.atoms = states
                .iter()
                .map(|y| {
                    let c = layout.split(y).1.to_vec();
                    let n = c.len();
                    (c, vec![1.0 / n as f64; n])
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
        self.marginals
            .iter()
            .map(|m| {
                let (values, weights) = &m.atoms[index];
                let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let pad = 1e-9 * (1.0 + lo.abs().max(hi.abs())) + 0.5 * (hi - lo) / DENSITY_BINS as f64;
                let (lo, hi) = (lo - pad, hi + pad);
                let width = (hi - lo) / DENSITY_BINS as f64;
                let edges = (0..=DENSITY_BINS).map(|k| lo + width * k as f64).collect();
                let mut masses = vec![0.0; DENSITY_BINS];
                for (v, w) in values.iter().zip(weights) {
                    masses[(((v - lo) / width) as usize).min(DENSITY_BINS - 1)] += w;
                }
                (m.label.clone(), GridDensity { edges, masses })
            })
            .collect()
    }
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
            let (atoms, weights) = &marginal.atoms[index];
            out.push(wasserstein_1d_weighted(ctx.scratch, atoms, weights, Order::W1));
        }
        out.push(self.limit.risk[index]);
    }
}

//! The mean-field limit of one- and two-hidden-layer networks as an ODE on a neuronal embedding
//! (Nguyen & Pham, arXiv 2001.11443; arXiv 2105.05228 §2), solved on deterministic nodes.
//!
//! Two hidden layers: first-layer weights w(ω1), second-layer u(ω1, ω2), output c(ω2), and with
//! H(ω2, x) = E_ω1[u σ1(w·x)], ŷ(x) = E_ω2[c σ2(H)], r = y − ŷ (expectations over the data (x, y)):
//!
//! - c' = E[r σ2(H)],
//! - u' = E[r c σ2'(H) σ1(w·x)],
//! - w' = E[r E_ω2[c σ2'(H) u] σ1'(w·x) x],
//!
//! in the time k·η of the particles, with rate 1 for every layer: exactly the per-layer steps of
//! `TwoHidden` (each layer's gradient times the number of particles sharing its output). With the initial
//! u i.i.d. of mean m and independent of w0, c0, the fluctuation u0 − m averages out of every E_ω1 and
//! E_ω2, so w(t) = F1(t, w0), c(t) = F3(t, c0) and u(t) = u0 + Δ(w0, c0, t) with Δ deterministic: the
//! solver carries ū = m + Δ on a grid of first-layer nodes (for the law of w0) × second-layer nodes (for
//! the law of c0) and adds the law of u0 − m back only for u's marginal.
//!
//! One hidden layer (ŷ = E[c σ(w·x)], the mean-field scaling without bias) is the same ODE with one layer:
//! c' = E[r σ(w·x)], w' = E[r c σ'(w·x) x], on nodes of the joint initial law of (c0, w0).
//!
//! The nodes are [`nodes`]' moment-matched quasi-Monte Carlo points with equal weights, the data
//! expectation is a [`DataQuadrature`] (moment-matched QMC Gaussian inputs labelled by the target, or a
//! fixed sample of the data law, shared with the particles' risk), and the ODE is integrated by the
//! error-controlled Dormand–Prince pair of [`ode`].

pub mod nodes;
pub mod ode;
mod rhs;
mod solution;
#[cfg(test)]
mod tests;

use crate::LimitError;
use meanfield_core::Activation;
pub use nodes::EntryLaw;
use rhs::{EmbeddingSystem, Layout};
pub use solution::{EmbeddingDistance, EmbeddingSolution, LimitMarginalLaw, MarginalAtTime};
use std::sync::Arc;

/// The network whose limit is solved.
#[derive(Debug, Clone)]
pub enum Network {
    /// ŷ = E[c σ(w·x)].
    OneHidden { activation: Arc<dyn Activation> },
    /// ŷ = E_ω2[c σ2(E_ω1[u σ1(w·x)])].
    TwoHidden { activation1: Arc<dyn Activation>, activation2: Arc<dyn Activation> },
}

impl Network {
    fn first(&self) -> &Arc<dyn Activation> {
        match self {
            Network::OneHidden { activation } => activation,
            Network::TwoHidden { activation1, .. } => activation1,
        }
    }
}

/// The data expectation: points x (row-major, `dim` each) with labels and weights summing to 1, and the
/// variance of label noise independent of x (which leaves the dynamics alone and adds ½ noise² to the
/// risk).
#[derive(Debug, Clone)]
pub struct DataQuadrature {
    pub dim: usize,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub weights: Vec<f64>,
    pub noise_variance: f64,
}

impl DataQuadrature {
    /// `points` moment-matched QMC points of x ~ N(0, I_dim), labelled by `target`, with label noise of
    /// standard deviation `noise`.
    pub fn gaussian_inputs(dim: usize, points: usize, target: impl Fn(&[f64]) -> f64, noise: f64) -> DataQuadrature {
        let x = nodes::nodes(points, &vec![EntryLaw::Gaussian { mean: 0.0, std: 1.0 }; dim]);
        let y = x.chunks_exact(dim).map(target).collect();
        DataQuadrature { dim, x, y, weights: vec![1.0 / points as f64; points], noise_variance: noise * noise }
    }

    /// A fixed sample (row-major `x`, labels `y`) with equal weights: the law the limit is solved for.
    pub fn sample(dim: usize, x: Vec<f64>, y: Vec<f64>) -> DataQuadrature {
        let n = y.len();
        DataQuadrature { dim, x, y, weights: vec![1.0 / n as f64; n], noise_variance: 0.0 }
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    fn x(&self, point: usize) -> &[f64] {
        &self.x[point * self.dim..(point + 1) * self.dim]
    }
}

/// Everything that determines the embedding limit of a sweep point (not its widths).
#[derive(Debug, Clone)]
pub struct EmbeddingProblem {
    pub network: Network,
    /// The law of every entry of w (d entries per particle).
    pub w_law: EntryLaw,
    /// The law of u's entries (two hidden layers only: its mean m enters the dynamics, the rest only u's
    /// marginal).
    pub u_law: EntryLaw,
    pub c_law: EntryLaw,
    /// Which layers are trained: (w, u, c).
    pub trained: (bool, bool, bool),
    /// Nodes for the first layer's initial law (for one hidden layer: of the particles' joint law).
    pub nodes: usize,
    /// Nodes for c0's law (two hidden layers).
    pub c_nodes: usize,
    pub data: Arc<DataQuadrature>,
    /// The local error tolerance of the ODE integrator (relative to 1 + |state|).
    pub tolerance: f64,
}

/// Steps of the integrator after which a solve is given up.
const MAX_STEPS: u64 = 200_000;

impl EmbeddingProblem {
    /// The values the solver needs: enough nodes to match the moments, some data, a tolerance in (0, 0.1].
    pub fn check(&self) -> Result<(), LimitError> {
        let invalid = |m: String| Err(LimitError::Invalid(m));
        let dim = self.data.dim;
        if self.data.is_empty() || self.data.x.len() != dim * self.data.len() || dim == 0 {
            return invalid("the data quadrature needs at least one point of the model's dimension".into());
        }
        if self.nodes <= dim + 1 {
            return invalid(format!("nodes must exceed the parameter dimension {} (to match its moments)", dim + 1));
        }
        if self.c_nodes < 2 {
            return invalid("c_nodes must be at least 2".into());
        }
        if !(self.tolerance > 0.0 && self.tolerance <= 0.1) {
            return invalid(format!("tolerance must be in (0, 0.1], got {}", self.tolerance));
        }
        Ok(())
    }

    fn two_hidden(&self) -> bool {
        matches!(self.network, Network::TwoHidden { .. })
    }

    /// The nodes' initial state and its layout.
    fn initial(&self) -> (Layout, Vec<f64>) {
        let dim = self.data.dim;
        if self.two_hidden() {
            let k1 = if self.w_law.is_constant() { 1 } else { self.nodes };
            let k2 = if self.c_law.is_constant() { 1 } else { self.c_nodes };
            let layout = Layout { k1, k2, dim, u: true };
            let mut y = nodes::nodes(k1, &vec![self.w_law; dim]);
            y.extend(nodes::nodes(k2, &[self.c_law]));
            y.extend(std::iter::repeat_n(self.u_law.mean(), k1 * k2));
            (layout, y)
        } else {
            let mut laws = vec![self.c_law];
            laws.extend(std::iter::repeat_n(self.w_law, dim));
            let k = if laws.iter().all(EntryLaw::is_constant) { 1 } else { self.nodes };
            let joint = nodes::nodes(k, &laws);
            let layout = Layout { k1: k, k2: k, dim, u: false };
            let mut y: Vec<f64> = joint.chunks_exact(dim + 1).flat_map(|p| p[1..].to_vec()).collect();
            y.extend(joint.chunks_exact(dim + 1).map(|p| p[0]));
            (layout, y)
        }
    }

    fn system(&self) -> (EmbeddingSystem, Vec<f64>) {
        let (layout, y) = self.initial();
        let trained = if self.two_hidden() { self.trained } else { (self.trained.0, false, self.trained.2) };
        let (nu1, nu2) = (1.0 / layout.k1 as f64, 1.0 / layout.k2 as f64);
        let system =
            EmbeddingSystem { network: self.network.clone(), layout, data: self.data.clone(), trained, nu1, nu2 };
        (system, y)
    }

    /// Solves the limit at the increasing `times` (≥ 0, in the particles' k·η).
    pub fn solve(&self, times: &[f64]) -> Result<EmbeddingSolution, LimitError> {
        self.check()?;
        let (mut system, mut y) = self.system();
        let control = ode::Control { tolerance: self.tolerance, max_steps: MAX_STEPS };
        let mut states = Vec::with_capacity(times.len());
        let steps = ode::integrate(&mut system, &mut y, times, control, &mut |_, state| states.push(state.to_vec()))?;
        let risks = states.iter().map(|state| rhs::risk(&system, state)).collect();
        Ok(EmbeddingSolution::new(self, system.layout, times.to_vec(), states, risks, steps))
    }
}

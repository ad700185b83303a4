//! The right-hand sides of the embedding ODE on the nodes, with the data expectation on the data
//! quadrature. Time is the particles' k·η, and every layer's rate is 1 in it: the particle code steps
//! each layer by its gradient times the number of particles that share its output, so every weight moves
//! by η times an O(1) velocity per step (crates/models: `one_hidden`, `two_hidden`).
//!
//! The data points are cut into a fixed number of chunks summed in chunk order, whatever the threads do,
//! so a solution does not depend on the thread count.

use super::{DataQuadrature, Network};
use crate::embedding::ode::System;
use meanfield_core::Activation;
use rayon::prelude::*;
use std::sync::Arc;

/// Data points per chunk of the parallel sum.
const CHUNK: usize = 64;

/// The state layout of the two-hidden-layer ODE: w (k1 × d), then c (k2), then ū = m + Δ (k1 × k2,
/// row-major by the first-layer node).
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    pub k1: usize,
    pub k2: usize,
    pub dim: usize,
    /// Whether there is a second layer u (k1 × k2 entries); for one hidden layer c has k2 = k1 entries.
    pub u: bool,
}

impl Layout {
    pub(super) fn len(&self) -> usize {
        self.k1 * self.dim + self.k2 + if self.u { self.k1 * self.k2 } else { 0 }
    }
    pub(super) fn split<'a>(&self, y: &'a [f64]) -> (&'a [f64], &'a [f64], &'a [f64]) {
        let (w, rest) = y.split_at(self.k1 * self.dim);
        let (c, u) = rest.split_at(self.k2);
        (w, c, u)
    }
}

/// The embedding ODE of either network on its nodes.
#[derive(Debug)]
pub(super) struct EmbeddingSystem {
    pub network: Network,
    pub layout: Layout,
    pub data: Arc<DataQuadrature>,
    /// Which layers move: (w, u, c); u is ignored for one hidden layer.
    pub trained: (bool, bool, bool),
    /// The weight of a first-layer node (of a particle, for one hidden layer) and of a second-layer node.
    pub nu1: f64,
    pub nu2: f64,
}

/// The residuals y − ŷ at every data point, and the risk ½ Σ π r² (+ ½ noise²) they give.
pub(super) fn risk(system: &EmbeddingSystem, y: &[f64]) -> f64 {
    let data = &system.data;
    let mut scratch = Scratch::new(&system.layout, CHUNK);
    let mut total = 0.0;
    for start in (0..data.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(data.len());
        system.forward(y, start..end, &mut scratch, false);
        for (s, r) in (start..end).zip(&scratch.residual) {
            total += 0.5 * data.weights[s] * r * r;
        }
    }
    total + 0.5 * data.noise_variance
}

/// Per-chunk buffers: first-layer activations (k1 × chunk), second-layer ones (k2 × chunk), residuals.
struct Scratch {
    pre1: Vec<f64>,
    a1: Vec<f64>,
    d1: Vec<f64>,
    pre2: Vec<f64>,
    a2: Vec<f64>,
    d2: Vec<f64>,
    residual: Vec<f64>,
}

impl Scratch {
    fn new(layout: &Layout, chunk: usize) -> Scratch {
        let (n1, n2) = (layout.k1 * chunk, layout.k2 * chunk);
        Scratch {
            pre1: vec![0.0; n1],
            a1: vec![0.0; n1],
            d1: vec![0.0; n1],
            pre2: vec![0.0; n2],
            a2: vec![0.0; n2],
            d2: vec![0.0; n2],
            residual: vec![0.0; chunk],
        }
    }
}

fn eval(activation: &Arc<dyn Activation>, z: &[f64], value: &mut [f64], derivative: &mut [f64], with: bool) {
    activation.eval(z, value, if with { Some(derivative) } else { None });
}

impl EmbeddingSystem {
    /// The forward pass on data points `range`: activations node-major (node × chunk point), residuals.
    fn forward(&self, y: &[f64], range: std::ops::Range<usize>, s: &mut Scratch, derivatives: bool) {
        let Layout { k1, k2, dim, .. } = self.layout;
        let (w, c, u) = self.layout.split(y);
        let data = &self.data;
        let m = range.len();
        for k in 0..k1 {
            let wk = &w[k * dim..(k + 1) * dim];
            for (j, point) in range.clone().enumerate() {
                s.pre1[k * m + j] = wk.iter().zip(data.x(point)).map(|(a, b)| a * b).sum();
            }
        }
        let act1 = self.network.first();
        eval(act1, &s.pre1[..k1 * m], &mut s.a1[..k1 * m], &mut s.d1[..k1 * m], derivatives);
        match &self.network {
            Network::OneHidden { .. } => {
                // One hidden layer: node k is a whole particle (c_k, w_k); ŷ = Σ_k ν c_k σ(w_k·x).
                for (j, point) in range.enumerate() {
                    let yhat: f64 = (0..k1).map(|k| self.nu1 * c[k] * s.a1[k * m + j]).sum();
                    s.residual[j] = data.y[point] - yhat;
                }
            }
            Network::TwoHidden { activation2, .. } => {
                // H_l = Σ_k ν1 ū_kl σ1(w_k·x), ŷ = Σ_l ν2 c_l σ2(H_l).
                s.pre2[..k2 * m].fill(0.0);
                for k in 0..k1 {
                    let a1 = &s.a1[k * m..(k + 1) * m];
                    for l in 0..k2 {
                        let coefficient = self.nu1 * u[k * k2 + l];
                        for (h, a) in s.pre2[l * m..(l + 1) * m].iter_mut().zip(a1) {
                            *h += coefficient * a;
                        }
                    }
                }
                eval(activation2, &s.pre2[..k2 * m], &mut s.a2[..k2 * m], &mut s.d2[..k2 * m], derivatives);
                for (j, point) in range.enumerate() {
                    let yhat: f64 = (0..k2).map(|l| self.nu2 * c[l] * s.a2[l * m + j]).sum();
                    s.residual[j] = data.y[point] - yhat;
                }
            }
        }
    }

    /// The derivative's contribution of data points `range` into `dy` (zeroed first).
    fn chunk_derivative(&self, y: &[f64], range: std::ops::Range<usize>, s: &mut Scratch, dy: &mut [f64]) {
        let Layout { k1, k2, dim, .. } = self.layout;
        let (_, c, u) = self.layout.split(y);
        let data = &self.data;
        self.forward(y, range.clone(), s, true);
        let m = range.len();
        dy.fill(0.0);
        let (dw, rest) = dy.split_at_mut(k1 * dim);
        let (dc, du) = rest.split_at_mut(k2);
        // π r per point.
        for (j, point) in range.clone().enumerate() {
            s.residual[j] *= data.weights[point];
        }
        let (train_w, train_u, train_c) = self.trained;
        match &self.network {
            Network::OneHidden { .. } => {
                for k in 0..k1 {
                    let (a, d) = (&s.a1[k * m..(k + 1) * m], &s.d1[k * m..(k + 1) * m]);
                    if train_c {
                        dc[k] = s.residual[..m].iter().zip(a).map(|(r, a)| r * a).sum();
                    }
                    if train_w {
                        let dwk = &mut dw[k * dim..(k + 1) * dim];
                        for (j, point) in range.clone().enumerate() {
                            let g = s.residual[j] * c[k] * d[j];
                            for (v, x) in dwk.iter_mut().zip(data.x(point)) {
                                *v += g * x;
                            }
                        }
                    }
                }
            }
            Network::TwoHidden { .. } => {
                if train_c {
                    for l in 0..k2 {
                        dc[l] = s.residual[..m].iter().zip(&s.a2[l * m..(l + 1) * m]).map(|(r, a)| r * a).sum();
                    }
                }
                // g_l = π r c_l σ2'(H_l), in place of σ2'.
                for l in 0..k2 {
                    for (g, r) in s.d2[l * m..(l + 1) * m].iter_mut().zip(&s.residual[..m]) {
                        *g *= r * c[l];
                    }
                }
                for k in 0..k1 {
                    let a1 = &s.a1[k * m..(k + 1) * m];
                    if train_u {
                        for l in 0..k2 {
                            du[k * k2 + l] = s.d2[l * m..(l + 1) * m].iter().zip(a1).map(|(g, a)| g * a).sum();
                        }
                    }
                    if train_w {
                        // w_k' = Σ_x [Σ_l ν2 g_l ū_kl] σ1'(w_k·x) x.
                        let dwk = &mut dw[k * dim..(k + 1) * dim];
                        for (j, point) in range.clone().enumerate() {
                            let back: f64 = (0..k2).map(|l| self.nu2 * s.d2[l * m + j] * u[k * k2 + l]).sum();
                            let g = back * s.d1[k * m + j];
                            for (v, x) in dwk.iter_mut().zip(data.x(point)) {
                                *v += g * x;
                            }
                        }
                    }
                }
            }
        }
    }
}

impl System for EmbeddingSystem {
    fn dimension(&self) -> usize {
        self.layout.len()
    }

    fn derivative(&mut self, y: &[f64], dy: &mut [f64]) {
        let points = self.data.len();
        let chunks: Vec<std::ops::Range<usize>> =
            (0..points).step_by(CHUNK).map(|start| start..(start + CHUNK).min(points)).collect();
        let this = &*self;
        let partials: Vec<Vec<f64>> = chunks
            .into_par_iter()
            .map_init(
                || Scratch::new(&this.layout, CHUNK),
                |scratch, range| {
                    let mut part = vec![0.0; this.layout.len()];
                    this.chunk_derivative(y, range, scratch, &mut part);
                    part
                },
            )
            .collect();
        dy.fill(0.0);
        for part in &partials {
            for (d, p) in dy.iter_mut().zip(part) {
                *d += p;
            }
        }
    }
}

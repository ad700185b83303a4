//! The two-hidden-layer (three-layer) network in the mean-field scaling,
//! ŷ(x) = (1/N2) Σ_j c_j σ2(h_j(x)),  h_j(x) = (1/N1) Σ_i u_ji σ1(w_i·x),
//! with first-layer particles w_i (N1 of them), second-layer particles (c_j, u_j·) (N2 of them) and the
//! N2×N1 weights u between them.
//!
//! # Step scaling and time
//! Each layer's step is its gradient multiplied by the number of particles that share its output, so that
//! every weight moves by O(η) per step whatever the widths (Nguyen & Pham's mean-field scaling; the same
//! convention as the one-hidden-layer model, whose direction is N·∂ŷ/∂θ):
//! - c_j: direction r·N2·∂ŷ/∂c_j = r·σ2(h_j),
//! - u_ji: direction r·N1·N2·∂ŷ/∂u_ji = r·c_j σ2'(h_j) σ1(w_i·x),
//! - w_i: direction r·N1·∂ŷ/∂w_i = r·(1/N2) Σ_j c_j σ2'(h_j) u_ji · σ1'(w_i·x) x,
//!
//! with r = y − ŷ, averaged over the batch. Physical time is t = k·η, so the limit N1, N2 → ∞ at fixed
//! t is the mean-field ODE/PDE system, non-trivial for every layer. `PerNeuron(α)` uses
//! η = α / max(N1, N2) (see `Model::width`).

use crate::Checked;
use crate::batched::{Batched, predict_in_chunks};
use crate::one_hidden::ModelError;
use meanfield_core::{Activation, Block, Model};
use std::sync::Arc;

/// Shape and training switches of a [`TwoHidden`] network.
#[derive(Debug, Clone)]
pub struct TwoHiddenConfig {
    /// N1, the first hidden layer's width.
    pub width1: usize,
    /// N2, the second hidden layer's width.
    pub width2: usize,
    /// d, the input dimension.
    pub dim: usize,
    pub activation1: Arc<dyn Activation>,
    pub activation2: Arc<dyn Activation>,
    pub train_w: bool,
    pub train_u: bool,
    pub train_c: bool,
    /// Largest training batch; sizes the scratch space.
    pub max_batch: usize,
}

impl TwoHiddenConfig {
    /// All layers trained, online batches.
    pub fn mean_field(
        (width1, width2): (usize, usize),
        dim: usize,
        activation1: Arc<dyn Activation>,
        activation2: Arc<dyn Activation>,
    ) -> TwoHiddenConfig {
        TwoHiddenConfig {
            width1,
            width2,
            dim,
            activation1,
            activation2,
            train_w: true,
            train_u: true,
            train_c: true,
            max_batch: 1,
        }
    }
}

/// Two hidden layers. Blocks, in storage order: `w` (N1×d), `u` (N2×N1, row j holds u_j·), `c` (N2×1).
/// All parameters start at zero; initial laws are applied by the caller.
#[derive(Debug)]
pub struct TwoHidden {
    config: TwoHiddenConfig,
    blocks: Vec<Block>,
    params: Vec<f64>,
    // Scratch for a batch, sample-major: pre1/a1/a1p are B×N1, h/a2/a2p are B×N2, s is N1.
    pre1: Vec<f64>,
    a1: Vec<f64>,
    a1p: Vec<f64>,
    h: Vec<f64>,
    a2: Vec<f64>,
    a2p: Vec<f64>,
    s: Vec<f64>,
}

impl TwoHiddenConfig {
    /// Checks the dimensions: every size at least 1.
    pub fn check(self) -> Result<Checked<TwoHiddenConfig>, ModelError> {
        for (what, value) in [
            ("width N1", self.width1),
            ("width N2", self.width2),
            ("input dimension", self.dim),
            ("batch", self.max_batch),
        ] {
            if value == 0 {
                return Err(ModelError::Zero { what });
            }
        }
        Ok(Checked(self))
    }
}

impl TwoHidden {
    pub fn new(config: TwoHiddenConfig) -> Result<Self, ModelError> {
        Ok(TwoHidden::from_checked(&config.check()?))
    }

    /// A network of a checked configuration, with zero parameters.
    pub fn from_checked(config: &Checked<TwoHiddenConfig>) -> TwoHidden {
        let config = config.get().clone();
        let (n1, n2, d) = (config.width1, config.width2, config.dim);
        let blocks = vec![
            Block { name: "w".into(), offset: 0, rows: n1, cols: d, trainable: config.train_w },
            Block { name: "u".into(), offset: n1 * d, rows: n2, cols: n1, trainable: config.train_u },
            Block { name: "c".into(), offset: n1 * d + n2 * n1, rows: n2, cols: 1, trainable: config.train_c },
        ];
        let b = config.max_batch;
        TwoHidden {
            blocks,
            params: vec![0.0; n1 * d + n2 * n1 + n2],
            pre1: vec![0.0; b * n1],
            a1: vec![0.0; b * n1],
            a1p: vec![0.0; b * n1],
            h: vec![0.0; b * n2],
            a2: vec![0.0; b * n2],
            a2p: vec![0.0; b * n2],
            s: vec![0.0; n1],
            config,
        }
    }

    fn split(&self) -> (&[f64], &[f64], &[f64]) {
        let (n1, n2, d) = (self.config.width1, self.config.width2, self.config.dim);
        let (w, rest) = self.params.split_at(n1 * d);
        let (u, c) = rest.split_at(n2 * n1);
        (w, u, c)
    }

    /// Both layers' activations (and derivatives when asked) of `n` samples into the scratch.
    fn forward(&mut self, x: &[f64], n: usize, with_derivative: bool) {
        let (n1, n2, d) = (self.config.width1, self.config.width2, self.config.dim);
        let (w, rest) = self.params.split_at(n1 * d);
        let u = &rest[..n2 * n1];
        for (xb, pre) in x.chunks_exact(d).take(n).zip(self.pre1.chunks_exact_mut(n1)) {
            for (wi, z) in w.chunks_exact(d).zip(pre.iter_mut()) {
                *z = wi.iter().zip(xb).map(|(a, b)| a * b).sum();
            }
        }
        let (len1, len2) = (n * n1, n * n2);
        let derivative = if with_derivative { Some(&mut self.a1p[..len1]) } else { None };
        self.config.activation1.eval(&self.pre1[..len1], &mut self.a1[..len1], derivative);
        let inv_n1 = 1.0 / n1 as f64;
        for (a1, h) in self.a1.chunks_exact(n1).take(n).zip(self.h.chunks_exact_mut(n2)) {
            for (uj, hj) in u.chunks_exact(n1).zip(h.iter_mut()) {
                *hj = inv_n1 * uj.iter().zip(a1).map(|(a, b)| a * b).sum::<f64>();
            }
        }
        let derivative = if with_derivative { Some(&mut self.a2p[..len2]) } else { None };
        self.config.activation2.eval(&self.h[..len2], &mut self.a2[..len2], derivative);
    }

    /// ŷ for sample `b` of the last forward pass.
    fn output(&self, b: usize) -> f64 {
        let n2 = self.config.width2;
        let c = self.split().2;
        let a2 = &self.a2[b * n2..(b + 1) * n2];
        c.iter().zip(a2).map(|(c, a)| c * a).sum::<f64>() / n2 as f64
    }
}

impl Batched for TwoHidden {
    fn shape(&self) -> (usize, usize) {
        (self.config.dim, self.config.max_batch)
    }
    fn forward_values(&mut self, x: &[f64], n: usize) {
        self.forward(x, n, false);
    }
    fn output(&self, b: usize) -> f64 {
        TwoHidden::output(self, b)
    }
}

impl Model for TwoHidden {
    fn blocks(&self) -> &[Block] {
        &self.blocks
    }
    fn params(&self) -> &[f64] {
        &self.params
    }
    fn params_mut(&mut self) -> &mut [f64] {
        &mut self.params
    }
    fn input_dim(&self) -> usize {
        self.config.dim
    }
    /// max(N1, N2): the width that sets `PerNeuron` steps.
    fn width(&self) -> usize {
        self.config.width1.max(self.config.width2)
    }
    fn max_batch(&self) -> usize {
        self.config.max_batch
    }
    fn beta(&self) -> f64 {
        1.0
    }

    fn predict(&mut self, x: &[f64], out: &mut [f64]) {
        predict_in_chunks(self, x, out);
    }

    fn descent_direction(&mut self, x: &[f64], y: &[f64], residual: &mut [f64], direction: &mut [f64]) {
        let n = y.len();
        debug_assert!(n <= self.config.max_batch && residual.len() == n && direction.len() == self.params.len());
        let (n1, n2, d) = (self.config.width1, self.config.width2, self.config.dim);
        let (train_w, train_u, train_c) = (self.config.train_w, self.config.train_u, self.config.train_c);
        self.forward(x, n, train_w || train_u);
        for b in 0..n {
            residual[b] = y[b] - self.output(b);
        }
        let inv_n = 1.0 / n as f64;
        let (dir_w, rest) = direction.split_at_mut(n1 * d);
        let (dir_u, dir_c) = rest.split_at_mut(n2 * n1);
        let (w_len, u_len) = (n1 * d, n2 * n1);
        let u = &self.params[w_len..w_len + u_len];
        let c = &self.params[w_len + u_len..];
        if train_c {
            dir_c.fill(0.0);
            for (r, a2) in residual.iter().zip(self.a2.chunks_exact(n2)) {
                for (g, a) in dir_c.iter_mut().zip(a2) {
                    *g += r * inv_n * a;
                }
            }
        }
        if !(train_w || train_u) {
            return;
        }
        if train_u {
            dir_u.fill(0.0);
        }
        if train_w {
            dir_w.fill(0.0);
        }
        let inv_n2 = 1.0 / n2 as f64;
        for b in 0..n {
            let r = residual[b] * inv_n;
            // g_j = r c_j σ2'(h_j), kept in a2p.
            let g = &mut self.a2p[b * n2..(b + 1) * n2];
            for (g, c) in g.iter_mut().zip(c) {
                *g *= r * c;
            }
            let a1 = &self.a1[b * n1..(b + 1) * n1];
            if train_u {
                for (dir_uj, gj) in dir_u.chunks_exact_mut(n1).zip(g.iter()) {
                    for (du, a) in dir_uj.iter_mut().zip(a1) {
                        *du += gj * a;
                    }
                }
            }
            if train_w {
                // s_i = (1/N2) Σ_j g_j u_ji σ1'(w_i·x), then dir_w_i += s_i x.
                self.s.fill(0.0);
                for (uj, gj) in u.chunks_exact(n1).zip(g.iter()) {
                    for (s, u) in self.s.iter_mut().zip(uj) {
                        *s += gj * u;
                    }
                }
                let xb = &x[b * d..(b + 1) * d];
                for ((dir_wi, s), a1p) in dir_w.chunks_exact_mut(d).zip(&self.s).zip(&self.a1p[b * n1..(b + 1) * n1]) {
                    let k = s * inv_n2 * a1p;
                    for (g, x) in dir_wi.iter_mut().zip(xb) {
                        *g += k * x;
                    }
                }
            }
        }
    }

    fn clone_box(&self) -> Box<dyn Model> {
        let mut copy = TwoHidden::from_checked(&Checked(self.config.clone()));
        copy.params.copy_from_slice(&self.params);
        Box::new(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BuiltinActivation;
    use rand::{Rng, SeedableRng};

    fn network(n1: usize, n2: usize, d: usize, batch: usize, seed: u64) -> TwoHidden {
        let config = TwoHiddenConfig {
            max_batch: batch,
            ..TwoHiddenConfig::mean_field(
                (n1, n2),
                d,
                Arc::new(BuiltinActivation::Tanh),
                Arc::new(BuiltinActivation::Sigmoid),
            )
        };
        let mut net = TwoHidden::new(config).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for p in net.params_mut() {
            *p = rng.random_range(-1.5..1.5);
        }
        net
    }

    fn batch_loss(net: &mut TwoHidden, x: &[f64], y: &[f64]) -> f64 {
        let mut yhat = vec![0.0; y.len()];
        net.predict(x, &mut yhat);
        y.iter().zip(&yhat).map(|(y, p)| 0.5 * (y - p) * (y - p)).sum::<f64>() / y.len() as f64
    }

    /// Every trainable block: the direction is −S ∂L/∂θ with S = N1 for w, N1·N2 for u, N2 for c, for the
    /// batch loss L = (1/n) Σ ½(y − ŷ)². Central differences at h = 1e-6 on smooth activations are exact to
    /// ~1e-9 relative; the 1e-6 tolerance still misses no wrong factor (each is ≥ 2 here: N1 = 4, N2 = 3).
    #[test]
    fn descent_direction_matches_finite_differences() {
        let (n1, n2, d, batch) = (4, 3, 2, 3);
        let mut net = network(n1, n2, d, batch, 5);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        let x: Vec<f64> = (0..batch * d).map(|_| rng.random_range(-1.5..1.5)).collect();
        let y: Vec<f64> = (0..batch).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut residual = vec![0.0; batch];
        let mut direction = vec![0.0; net.params().len()];
        net.descent_direction(&x, &y, &mut residual, &mut direction);
        let blocks = net.blocks().to_vec();
        let h = 1e-6;
        for block in &blocks {
            let scale = match block.name.as_str() {
                "w" => n1 as f64,
                "u" => (n1 * n2) as f64,
                _ => n2 as f64,
            };
            for k in block.range() {
                let orig = net.params()[k];
                net.params_mut()[k] = orig + h;
                let plus = batch_loss(&mut net, &x, &y);
                net.params_mut()[k] = orig - h;
                let minus = batch_loss(&mut net, &x, &y);
                net.params_mut()[k] = orig;
                let fd = -scale * (plus - minus) / (2.0 * h);
                assert!(
                    (fd - direction[k]).abs() < 1e-6 * fd.abs().max(1e-3),
                    "block {}: param {k}: direction {} vs fd {fd}",
                    block.name,
                    direction[k]
                );
            }
        }
    }

    #[test]
    fn frozen_blocks_are_left_untouched() {
        let config = TwoHiddenConfig {
            train_u: false,
            ..TwoHiddenConfig::mean_field(
                (3, 2),
                2,
                Arc::new(BuiltinActivation::Tanh),
                Arc::new(BuiltinActivation::Tanh),
            )
        };
        let mut net = TwoHidden::new(config).unwrap();
        net.params_mut().fill(0.5);
        let mut direction = vec![f64::NAN; net.params().len()];
        net.descent_direction(&[1.0, -1.0], &[1.0], &mut [0.0], &mut direction);
        let u = net.blocks()[1].range();
        assert!(direction[u.clone()].iter().all(|g| g.is_nan()), "u is frozen");
        assert!(direction[..u.start].iter().chain(&direction[u.end..]).all(|g| g.is_finite()));
    }

    #[test]
    fn zero_widths_are_errors() {
        let act: Arc<dyn Activation> = Arc::new(BuiltinActivation::Tanh);
        let err = TwoHidden::new(TwoHiddenConfig::mean_field((0, 2), 2, act.clone(), act.clone())).unwrap_err();
        assert_eq!(err.to_string(), "width N1 must be at least 1, got 0");
        let err = TwoHidden::new(TwoHiddenConfig::mean_field((2, 0), 2, act.clone(), act)).unwrap_err();
        assert_eq!(err.to_string(), "width N2 must be at least 1, got 0");
    }

    /// Relabels first-layer units by `p1` and second-layer units by `p2`: w rows and u columns move with
    /// p1, u rows and c entries with p2.
    fn permuted(params: &[f64], (n1, n2, d): (usize, usize, usize), p1: &[usize], p2: &[usize]) -> Vec<f64> {
        let mut out = vec![0.0; params.len()];
        let (u0, c0) = (n1 * d, n1 * d + n2 * n1);
        for (new, &old) in p1.iter().enumerate() {
            out[new * d..(new + 1) * d].copy_from_slice(&params[old * d..(old + 1) * d]);
        }
        for (new_j, &old_j) in p2.iter().enumerate() {
            out[c0 + new_j] = params[c0 + old_j];
            for (new_i, &old_i) in p1.iter().enumerate() {
                out[u0 + new_j * n1 + new_i] = params[u0 + old_j * n1 + old_i];
            }
        }
        out
    }

    fn permutation(n: usize, keys: &[u64]) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        p.sort_by_key(|&i| keys[i % keys.len()].wrapping_mul(i as u64 + 1));
        p
    }

    proptest::proptest! {
        /// Permuting hidden units of either layer is a symmetry: the prediction is unchanged and the
        /// descent direction is the permuted one (up to summation-order rounding, 1e-12 relative).
        #[test]
        fn permuting_hidden_units_is_a_symmetry(
            seed in 0u64..1000,
            keys1 in proptest::collection::vec(proptest::prelude::any::<u64>(), 5),
            keys2 in proptest::collection::vec(proptest::prelude::any::<u64>(), 4),
        ) {
            let (n1, n2, d, batch) = (5, 4, 3, 2);
            let mut net = network(n1, n2, d, batch, seed);
            let (p1, p2) = (permutation(n1, &keys1), permutation(n2, &keys2));
            let mut other = network(n1, n2, d, batch, seed);
            let moved = permuted(net.params(), (n1, n2, d), &p1, &p2);
            other.params_mut().copy_from_slice(&moved);
            let x: Vec<f64> = (0..batch * d).map(|k| ((k as f64 + seed as f64) * 0.7).sin()).collect();
            let y = [0.3, -0.8];
            let (mut r1, mut r2) = ([0.0; 2], [0.0; 2]);
            let mut g1 = vec![0.0; net.params().len()];
            let mut g2 = g1.clone();
            net.descent_direction(&x, &y, &mut r1, &mut g1);
            other.descent_direction(&x, &y, &mut r2, &mut g2);
            for b in 0..batch {
                proptest::prop_assert!((r1[b] - r2[b]).abs() <= 1e-12 * r1[b].abs().max(1.0));
            }
            let expected = permuted(&g1, (n1, n2, d), &p1, &p2);
            for (a, b) in expected.iter().zip(&g2) {
                proptest::prop_assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{} vs {}", a, b);
            }
        }
    }
}

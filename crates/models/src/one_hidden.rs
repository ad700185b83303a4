//! The one-hidden-layer network ŷ(x) = N^(−β) Σ_i c_i σ(w_i·x + b_i) as a system of N particles
//! θ_i = (c_i, w_i, b_i).

use crate::batched::{Batched, predict_in_chunks};
use meanfield_core::{Activation, Block, Model};
use std::sync::Arc;

/// Invalid model dimensions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("{what} must be at least 1, got 0")]
    Zero { what: &'static str },
    #[error("beta must be 1 (mean-field) or 0.5 (lazy), got {0}")]
    Beta(f64),
}

/// Shape and training switches of a [`OneHidden`] network.
#[derive(Debug, Clone)]
pub struct OneHiddenConfig {
    /// N, the number of hidden units (particles).
    pub width: usize,
    /// d, the input dimension.
    pub dim: usize,
    /// Prefactor exponent β: 1 is the mean-field scaling, ½ the lazy (NTK) one.
    pub beta: f64,
    pub activation: Arc<dyn Activation>,
    /// Whether the bias block b exists.
    pub bias: bool,
    pub train_c: bool,
    pub train_w: bool,
    pub train_b: bool,
    /// Largest training batch; sizes the scratch space.
    pub max_batch: usize,
}

impl OneHiddenConfig {
    /// Mean-field scaling (β = 1), no bias, c and w trained, online batches: change fields with
    /// `OneHiddenConfig { bias: true, ..OneHiddenConfig::mean_field(n, d, act) }`.
    pub fn mean_field(width: usize, dim: usize, activation: Arc<dyn Activation>) -> OneHiddenConfig {
        OneHiddenConfig {
            width,
            dim,
            beta: 1.0,
            activation,
            bias: false,
            train_c: true,
            train_w: true,
            train_b: false,
            max_batch: 1,
        }
    }
}

/// One hidden layer. Parameters are stored as blocks `c` (N×1), `w` (N×d, row-major: particle i's
/// weights are contiguous) and, with a bias, `b` (N×1). All parameters start at zero; initial laws are
/// applied by the caller through [`Model::params_mut`].
#[derive(Debug)]
pub struct OneHidden {
    config: OneHiddenConfig,
    blocks: Vec<Block>,
    params: Vec<f64>,
    prefactor: f64,
    // Scratch for a batch of up to max_batch samples, laid out b-major (sample b's N units contiguous).
    pre: Vec<f64>,
    act: Vec<f64>,
    act_prime: Vec<f64>,
}

impl OneHidden {
    pub fn new(config: OneHiddenConfig) -> Result<Self, ModelError> {
        for (what, value) in [("width", config.width), ("input dimension", config.dim), ("batch", config.max_batch)] {
            if value == 0 {
                return Err(ModelError::Zero { what });
            }
        }
        if config.beta != 1.0 && config.beta != 0.5 {
            return Err(ModelError::Beta(config.beta));
        }
        let (n, d) = (config.width, config.dim);
        let mut blocks = vec![
            Block { name: "c".into(), offset: 0, rows: n, cols: 1, trainable: config.train_c },
            Block { name: "w".into(), offset: n, rows: n, cols: d, trainable: config.train_w },
        ];
        if config.bias {
            blocks.push(Block { name: "b".into(), offset: n + n * d, rows: n, cols: 1, trainable: config.train_b });
        }
        let num_params = blocks.iter().map(|b| b.rows * b.cols).sum();
        let scratch = config.max_batch * n;
        Ok(OneHidden {
            prefactor: (n as f64).powf(-config.beta),
            blocks,
            params: vec![0.0; num_params],
            pre: vec![0.0; scratch],
            act: vec![0.0; scratch],
            act_prime: vec![0.0; scratch],
            config,
        })
    }

    /// Pre-activations and activations (and derivatives when asked) of `n` samples into the scratch.
    fn forward(&mut self, x: &[f64], n: usize, with_derivative: bool) {
        let (width, d) = (self.config.width, self.config.dim);
        let (c_w, rest) = self.params.split_at(width + width * d);
        let w = &c_w[width..];
        let bias = if self.config.bias { Some(&rest[..width]) } else { None };
        for (xb, pre) in x.chunks_exact(d).take(n).zip(self.pre.chunks_exact_mut(width)) {
            dots(w, xb, pre);
            if let Some(bias) = bias {
                for (z, b) in pre.iter_mut().zip(bias) {
                    *z += b;
                }
            }
        }
        let len = n * width;
        let derivative = if with_derivative { Some(&mut self.act_prime[..len]) } else { None };
        self.config.activation.eval(&self.pre[..len], &mut self.act[..len], derivative);
    }

    /// ŷ for sample `b` of the last forward pass.
    fn output(&self, b: usize) -> f64 {
        let width = self.config.width;
        let c = &self.params[..width];
        let h = &self.act[b * width..(b + 1) * width];
        self.prefactor * c.iter().zip(h).map(|(c, h)| c * h).sum::<f64>()
    }
}

/// `out[i] = w_i · x` for the rows w_i of `w` (row-major, `x.len()` columns), each summed in index order
/// from 0 exactly as `iter().sum()` does, so results are bit-identical to the plain loop. Four rows at a
/// time: four independent addition chains keep the FPU busy where one chain would wait on each addition.
fn dots(w: &[f64], x: &[f64], out: &mut [f64]) {
    let d = x.len();
    let mut rows = w.chunks_exact(4 * d);
    let mut outs = out.chunks_exact_mut(4);
    for (block, o) in (&mut rows).zip(&mut outs) {
        let (w0, rest) = block.split_at(d);
        let (w1, rest) = rest.split_at(d);
        let (w2, w3) = rest.split_at(d);
        let (mut a0, mut a1, mut a2, mut a3) = (-0.0, -0.0, -0.0, -0.0);
        for j in 0..d {
            let xj = x[j];
            a0 += w0[j] * xj;
            a1 += w1[j] * xj;
            a2 += w2[j] * xj;
            a3 += w3[j] * xj;
        }
        o.copy_from_slice(&[a0, a1, a2, a3]);
    }
    for (wi, o) in rows.remainder().chunks_exact(d).zip(outs.into_remainder()) {
        *o = wi.iter().zip(x).map(|(a, b)| a * b).sum();
    }
}

impl Batched for OneHidden {
    fn shape(&self) -> (usize, usize) {
        (self.config.dim, self.config.max_batch)
    }
    fn forward_values(&mut self, x: &[f64], n: usize) {
        self.forward(x, n, false);
    }
    fn output(&self, b: usize) -> f64 {
        OneHidden::output(self, b)
    }
}

impl Model for OneHidden {
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
    fn width(&self) -> usize {
        self.config.width
    }
    fn max_batch(&self) -> usize {
        self.config.max_batch
    }
    fn beta(&self) -> f64 {
        self.config.beta
    }

    fn predict(&mut self, x: &[f64], out: &mut [f64]) {
        predict_in_chunks(self, x, out);
    }

    fn descent_direction(&mut self, x: &[f64], y: &[f64], residual: &mut [f64], direction: &mut [f64]) {
        let n = y.len();
        debug_assert!(n <= self.config.max_batch && residual.len() == n && direction.len() == self.params.len());
        let (width, d) = (self.config.width, self.config.dim);
        let (train_c, train_w) = (self.config.train_c, self.config.train_w);
        let train_b = self.config.bias && self.config.train_b;
        self.forward(x, n, train_w || train_b);
        for b in 0..n {
            residual[b] = y[b] - self.output(b);
        }
        let inv_n = 1.0 / n as f64;
        let c = &self.params[..width];
        let (dir_c, rest) = direction.split_at_mut(width);
        let (dir_w, dir_b) = rest.split_at_mut(width * d);
        if train_c {
            // ∂u/∂c_i = σ(w_i·x + b_i)
            dir_c.fill(0.0);
            for (r, h) in residual.iter().zip(self.act.chunks_exact(width)) {
                for (g, h) in dir_c.iter_mut().zip(h) {
                    *g += r * inv_n * h;
                }
            }
        }
        if train_w || train_b {
            // ∂u/∂w_i = c_i σ'(·) x and ∂u/∂b_i = c_i σ'(·): reuse act_prime to hold the per-(b, i)
            // coefficient r_b c_i σ'_bi / n.
            for (r, hp) in residual.iter().zip(self.act_prime.chunks_exact_mut(width)) {
                for (hp, c) in hp.iter_mut().zip(c) {
                    *hp *= r * inv_n * c;
                }
            }
            if train_w {
                dir_w.fill(0.0);
                for (xb, coef) in x.chunks_exact(d).take(n).zip(self.act_prime.chunks_exact(width)) {
                    for (gi, k) in dir_w.chunks_exact_mut(d).zip(coef) {
                        for (g, x) in gi.iter_mut().zip(xb) {
                            *g += k * x;
                        }
                    }
                }
            }
            if train_b {
                dir_b.fill(0.0);
                for coef in self.act_prime.chunks_exact(width).take(n) {
                    for (g, k) in dir_b.iter_mut().zip(coef) {
                        *g += k;
                    }
                }
            }
        }
    }

    fn fused_sgd_step(&mut self, x: &[f64], y: &[f64], eta: f64, residual: &mut [f64]) -> bool {
        // Online steps only: with a batch, accumulating the direction sample by sample (the general
        // path) reads the activations contiguously, which a per-particle fused loop would not. The bias
        // block is rare: the general path serves it too.
        if y.len() != 1 || self.config.bias {
            return false;
        }
        let (width, d) = (self.config.width, self.config.dim);
        let (train_c, train_w) = (self.config.train_c, self.config.train_w);
        self.forward(x, 1, train_w);
        residual[0] = y[0] - self.output(0);
        // The arithmetic of `descent_direction` + `θ += η g` expression by expression, with n = 1: each
        // gradient entry is 0 + (its one sample's term), scaled by η and added. The w step uses the c of
        // before the step, so c is updated last.
        let (r, inv_n) = (residual[0], 1.0);
        let (c, w) = self.params.split_at_mut(width);
        if train_w {
            for ((wi, hp), c) in w.chunks_exact_mut(d).zip(&self.act_prime[..width]).zip(c.iter()) {
                let k = hp * (r * inv_n * c);
                for (p, x) in wi.iter_mut().zip(&x[..d]) {
                    *p += eta * (0.0 + k * x);
                }
            }
        }
        if train_c {
            for (c, h) in c.iter_mut().zip(&self.act[..width]) {
                *c += eta * (0.0 + r * inv_n * h);
            }
        }
        true
    }

    fn clone_box(&self) -> Box<dyn Model> {
        let mut copy = OneHidden::new(self.config.clone()).expect("configuration was valid when built");
        copy.params.copy_from_slice(&self.params);
        Box::new(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BuiltinActivation;
    use rand::{Rng, SeedableRng};

    fn network(width: usize, dim: usize, beta: f64, bias: bool, act: BuiltinActivation, batch: usize) -> OneHidden {
        let config = OneHiddenConfig::mean_field(width, dim, Arc::new(act));
        let mut net =
            OneHidden::new(OneHiddenConfig { beta, bias, train_b: true, max_batch: batch, ..config }).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for p in net.params_mut() {
            *p = rng.random_range(-1.0..1.0);
        }
        net
    }

    /// The interleaved dot products equal the plain `iter().sum()` bit for bit, for widths that leave a
    /// remainder, including rows whose products are all −0 (the sign of a zero sum depends on the start).
    #[test]
    fn interleaved_dots_equal_the_plain_sums_bitwise() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for (rows, d) in [(1, 3), (4, 20), (7, 5), (13, 1)] {
            let mut w: Vec<f64> = (0..rows * d).map(|_| rng.random_range(-2.0..2.0)).collect();
            w[..d].iter_mut().for_each(|v| *v = -0.0);
            let x: Vec<f64> = (0..d).map(|_| rng.random_range(0.5..2.0)).collect();
            let mut out = vec![0.0; rows];
            dots(&w, &x, &mut out);
            for (i, o) in out.iter().enumerate() {
                let plain: f64 = w[i * d..(i + 1) * d].iter().zip(&x).map(|(a, b)| a * b).sum();
                assert_eq!(o.to_bits(), plain.to_bits(), "row {i} of {rows}×{d}");
            }
        }
    }

    /// The fused (online) SGD step leaves the parameters `descent_direction` + θ += η·direction leaves, bit
    /// for bit, with either block frozen; it declines batches and networks with a bias.
    #[test]
    fn fused_step_equals_direction_then_update_bitwise() {
        let (width, d, eta) = (9, 7, 0.37);
        for (batch, train_c, train_w) in [(1, true, true), (1, false, true), (1, true, false)] {
            let config = OneHiddenConfig::mean_field(width, d, Arc::new(BuiltinActivation::Tanh));
            let config = OneHiddenConfig { max_batch: batch, train_c, train_w, ..config };
            let mut plain = OneHidden::new(config).unwrap();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(batch as u64);
            for p in plain.params_mut() {
                *p = rng.random_range(-1.0..1.0);
            }
            let mut fused = OneHidden::new(plain.config.clone()).unwrap();
            fused.params_mut().copy_from_slice(plain.params());
            for _ in 0..3 {
                let x: Vec<f64> = (0..batch * d).map(|_| rng.random_range(-1.5..1.5)).collect();
                let y: Vec<f64> = (0..batch).map(|_| rng.random_range(-1.0..1.0)).collect();
                let (mut r_plain, mut r_fused) = (vec![0.0; batch], vec![0.0; batch]);
                let mut direction = vec![0.0; plain.params().len()];
                plain.descent_direction(&x, &y, &mut r_plain, &mut direction);
                let blocks = plain.blocks().to_vec();
                for block in blocks.iter().filter(|b| b.trainable) {
                    for k in block.range() {
                        plain.params[k] += eta * direction[k];
                    }
                }
                assert!(fused.fused_sgd_step(&x, &y, eta, &mut r_fused));
                let bits = |v: &[f64]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&r_fused), bits(&r_plain));
                assert_eq!(bits(fused.params()), bits(plain.params()), "batch {batch}, c {train_c}, w {train_w}");
            }
        }
        let mut biased = network(3, 2, 1.0, true, BuiltinActivation::Tanh, 2);
        let before = biased.params().to_vec();
        assert!(!biased.fused_sgd_step(&[0.1, 0.2], &[0.5], 0.1, &mut [0.0]));
        let mut unbiased = network(3, 2, 1.0, false, BuiltinActivation::Tanh, 2);
        assert!(!unbiased.fused_sgd_step(&[0.1, 0.2, 0.3, 0.4], &[0.5, 0.6], 0.1, &mut [0.0, 0.0]), "a batch");
        assert_eq!(biased.params(), &before[..]);
    }

    fn batch_loss(net: &mut OneHidden, x: &[f64], y: &[f64]) -> f64 {
        let mut yhat = vec![0.0; y.len()];
        net.predict(x, &mut yhat);
        y.iter().zip(&yhat).map(|(y, p)| 0.5 * (y - p) * (y - p)).sum::<f64>() / y.len() as f64
    }

    /// The descent direction is −N^β ∂L/∂θ for the batch loss L = (1/n) Σ ½(y − ŷ)². Central differences
    /// with h = 1e-6 on smooth activations are accurate to ~1e-9 relative; 1e-6 catches any wrong factor
    /// (a missing N^β, a missing 1/n, a wrong sign) by orders of magnitude.
    #[test]
    fn descent_direction_matches_finite_differences() {
        let (n, d, batch) = (5, 3, 4);
        for (beta, bias, act) in [
            (1.0, true, BuiltinActivation::Tanh),
            (0.5, true, BuiltinActivation::Sigmoid),
            (1.0, false, BuiltinActivation::Softplus),
            (1.0, true, BuiltinActivation::Erf),
        ] {
            let mut net = network(n, d, beta, bias, act, batch);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
            let x: Vec<f64> = (0..batch * d).map(|_| rng.random_range(-1.5..1.5)).collect();
            let y: Vec<f64> = (0..batch).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut residual = vec![0.0; batch];
            let mut direction = vec![0.0; net.params().len()];
            net.descent_direction(&x, &y, &mut residual, &mut direction);
            let scale = (n as f64).powf(beta);
            let h = 1e-6;
            for k in 0..net.params().len() {
                let orig = net.params()[k];
                net.params_mut()[k] = orig + h;
                let plus = batch_loss(&mut net, &x, &y);
                net.params_mut()[k] = orig - h;
                let minus = batch_loss(&mut net, &x, &y);
                net.params_mut()[k] = orig;
                let fd = -scale * (plus - minus) / (2.0 * h);
                assert!(
                    (fd - direction[k]).abs() < 1e-6 * fd.abs().max(1e-3),
                    "beta={beta} bias={bias} {}: param {k}: direction {} vs fd {}",
                    act.name(),
                    direction[k],
                    fd
                );
            }
        }
    }

    #[test]
    fn frozen_blocks_are_left_untouched() {
        let mut net = OneHidden::new(OneHiddenConfig {
            bias: true,
            train_c: false,
            ..OneHiddenConfig::mean_field(3, 2, Arc::new(BuiltinActivation::Tanh))
        })
        .unwrap();
        net.params_mut().fill(0.5);
        let mut direction = vec![f64::NAN; net.params().len()];
        net.descent_direction(&[1.0, -1.0], &[1.0], &mut [0.0], &mut direction);
        assert!(direction[..3].iter().all(|g| g.is_nan()), "c is frozen");
        assert!(direction[3..9].iter().all(|g| g.is_finite()), "w is trained");
        assert!(direction[9..].iter().all(|g| g.is_nan()), "b is frozen");
    }

    #[test]
    fn predict_in_chunks_matches_one_by_one() {
        let mut net = network(7, 4, 1.0, true, BuiltinActivation::Tanh, 3);
        let x: Vec<f64> = (0..10 * 4).map(|k| (k as f64 * 0.37).sin()).collect();
        let mut all = vec![0.0; 10];
        net.predict(&x, &mut all);
        for (b, expected) in all.iter().enumerate() {
            let mut one = [0.0];
            net.predict(&x[b * 4..(b + 1) * 4], &mut one);
            assert_eq!(one[0], *expected);
        }
    }

    #[test]
    fn zero_width_is_an_error() {
        let err = OneHidden::new(OneHiddenConfig::mean_field(0, 2, Arc::new(BuiltinActivation::Tanh))).unwrap_err();
        assert_eq!(err.to_string(), "width must be at least 1, got 0");
    }
}

//! The one-hidden-layer network ŷ(x) = N^(−β) Σ_i c_i σ(w_i·x + b_i) as a system of N particles
//! θ_i = (c_i, w_i, b_i): the network and its gradients here, its configuration in [`config`], and the
//! stepping of plain SGD without bias, each step in one pass ([`fused`]), and for small online networks
//! several replicas at once in vector lanes ([`lanes`]), both chosen by [`OneHiddenSgd`].

mod config;
mod fused;
mod lanes;
mod sgd;

pub use config::{ModelError, OneHiddenConfig};
pub use sgd::OneHiddenSgd;

use crate::Checked;
use crate::batched::{Batched, predict_in_chunks};
use meanfield_core::{Block, Model};
use meanfield_kernels::dense;
use rayon::prelude::*;

/// One hidden layer. Parameters are stored as blocks `c` (N×1), `w` (N×d, row-major: particle i's
/// weights are contiguous) and, with a bias, `b` (N×1). All parameters start at zero; initial laws are
/// applied by the caller through [`Model::params_mut`].
#[derive(Debug)]
pub struct OneHidden {
    config: OneHiddenConfig,
    blocks: Vec<Block>,
    params: Vec<f64>,
    prefactor: f64,
    // Scratch for a batch of up to max_batch samples, particle-major (unit i's n samples contiguous), so
    // that the per-particle sums over the batch read contiguously.
    pre: Vec<f64>,
    act: Vec<f64>,
    act_prime: Vec<f64>,
    /// The batch transposed (d rows of n), for the batched forward pass.
    xt: Vec<f64>,
    /// r_b / n for the c gradient.
    weight: Vec<f64>,
    /// Σ_i c_i σ_ib of the samples of the last forward pass, and the 16 partial sums of each (scratch).
    sums: Vec<f64>,
    lanes: Vec<f64>,
    /// Whether `pre`, `act` and `act_prime` hold the pre-activations, activations and derivatives of
    /// `ahead_x` under the current weights, computed by the last fused step; cleared by anything that may
    /// change either.
    ahead: bool,
    ahead_x: Vec<f64>,
    /// Samples per forward pass of `predict` ([`predict_chunk`]); `pre`, `act`, `xt`, `sums` and `lanes`
    /// hold that many.
    predict_chunk: usize,
}

/// Largest chunk of samples an online network's `predict` evaluates in one forward pass.
const PREDICT_CHUNK: usize = 32;
/// Pre-activations of a prediction chunk of a wider online network: the chunk shrinks with the width to keep
/// about this many, down to [`PREDICT_CHUNK`] / 4 samples (from N = 1024 on, 8·N values).
const PREDICT_VALUES: usize = 8192;

/// Samples per forward pass of `predict`: the training batch for batched networks; for online ones a chunk
/// of up to [`PREDICT_CHUNK`] samples, whose pre-activations [`dense::batch_row_dots`] computes with the
/// bits a sample alone gets, vectorised across samples. The risk predicts every held-out sample at every
/// record (1000 in the default scenario); one sample at a time, their row dot products and activations
/// would be scalar and a large part of the run.
fn predict_chunk(config: &OneHiddenConfig) -> usize {
    if config.max_batch > 1 {
        config.max_batch
    } else {
        (PREDICT_VALUES / config.width).clamp(PREDICT_CHUNK / 4, PREDICT_CHUNK)
    }
}

impl OneHidden {
    pub fn new(config: OneHiddenConfig) -> Result<Self, ModelError> {
        Ok(OneHidden::from_checked(&config.check()?))
    }

    /// A network of a checked configuration, with zero parameters.
    pub fn from_checked(config: &Checked<OneHiddenConfig>) -> OneHidden {
        let config = config.get().clone();
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
        let chunk = predict_chunk(&config);
        OneHidden {
            prefactor: (n as f64).powf(-config.beta),
            blocks,
            params: vec![0.0; num_params],
            pre: vec![0.0; chunk * n],
            act: vec![0.0; chunk * n],
            act_prime: vec![0.0; scratch],
            xt: vec![0.0; chunk * d],
            weight: vec![0.0; config.max_batch],
            sums: vec![0.0; chunk],
            lanes: vec![0.0; dense::SUM_LANES * chunk],
            ahead: false,
            ahead_x: vec![0.0; d],
            predict_chunk: chunk,
            config,
        }
    }

    /// Pre-activations and activations (and derivatives when asked) of `n` samples into the scratch.
    /// Online networks (max_batch 1) take row dot products, several samples' at once when predicting
    /// ([`dense::batch_row_dots`], the same sums); batched ones vectorise across samples. Either way a
    /// sample's pre-activations do not depend on the batch it is part of.
    fn forward(&mut self, x: &[f64], n: usize, with_derivative: bool) {
        // A forward pass overwrites the pre-activations a fused step may have computed ahead.
        self.ahead = false;
        let (width, d) = (self.config.width, self.config.dim);
        let (c_w, rest) = self.params.split_at(width + width * d);
        let w = &c_w[width..];
        let bias = if self.config.bias { Some(&rest[..width]) } else { None };
        let len = n * width;
        let tasks = dense::particle_tasks(width, len * d);
        let online = self.config.max_batch == 1;
        let xt = &mut self.xt[..d * n];
        if !online || n > 1 {
            for (b, xb) in x.chunks_exact(d).take(n).enumerate() {
                for (j, v) in xb.iter().enumerate() {
                    xt[j * n + b] = *v;
                }
            }
        }
        let (x, xt) = (&x[..d], &*xt);
        dense::for_particles(tasks, (&mut self.pre[..len], n), (w, d), |pre, w| match (online, n) {
            (true, 1) => dense::row_dots(w, x, pre),
            (true, _) => dense::batch_row_dots(w, xt, d, n, pre),
            (false, _) => dense::batch_dots(w, xt, d, n, pre),
        });
        if let Some(bias) = bias {
            for (pre_i, b) in self.pre[..len].chunks_exact_mut(n).zip(bias) {
                for z in pre_i {
                    *z += b;
                }
            }
        }
        self.activate(n, with_derivative);
    }

    /// Activations (and derivatives when asked) of the pre-activations of `n` samples in the scratch.
    fn activate(&mut self, n: usize, with_derivative: bool) {
        let len = n * self.config.width;
        let tasks = dense::particle_tasks(self.config.width, len * self.config.dim);
        let activation = &*self.config.activation;
        let pre = &self.pre[..len];
        let act = &mut self.act[..len];
        match (with_derivative, tasks) {
            (true, None) => activation.eval(pre, act, Some(&mut self.act_prime[..len])),
            (true, Some(p)) => {
                let act_prime = self.act_prime[..len].par_chunks_mut(p * n);
                act.par_chunks_mut(p * n).zip(act_prime).zip(pre.par_chunks(p * n)).for_each(
                    |((act, act_prime), pre)| {
                        activation.eval(pre, act, Some(act_prime));
                    },
                );
            }
            (false, _) => dense::for_particles(tasks, (act, n), (pre, n), |act, pre| activation.eval(pre, act, None)),
        }
        self.output_sums(n);
    }

    /// ŷ for sample `b` of the last forward pass.
    fn output(&self, b: usize) -> f64 {
        self.prefactor * self.sums[b]
    }

    /// Σ_i c_i σ_ib for the `n` samples of the last forward pass into `sums`.
    fn output_sums(&mut self, n: usize) {
        let width = self.config.width;
        let (c, act) = (&self.params[..width], &self.act[..n * width]);
        if n == 1 {
            self.sums[0] = dense::output_dot(c, act);
        } else {
            dense::column_dots(c, act, n, &mut self.lanes, &mut self.sums[..n]);
        }
    }

    /// Residuals of the last forward pass, then the per-(i, b) coefficient r_b c_i σ'_ib / n of the w and
    /// b gradients, in place of σ' (when `coefficients`).
    fn residuals(&mut self, y: &[f64], residual: &mut [f64], coefficients: bool) {
        let (n, width) = (y.len(), self.config.width);
        let tasks = dense::particle_tasks(width, n * width * self.config.dim);
        for b in 0..n {
            residual[b] = y[b] - self.output(b);
        }
        if coefficients {
            let (act_prime, c) = (&mut self.act_prime[..n * width], &self.params[..width]);
            let residual = &*residual;
            dense::for_particles(tasks, (act_prime, n), (c, 1), |act_prime, c| {
                dense::gradient_coefficients(act_prime, residual, 1.0 / n as f64, c);
            });
        }
    }

    /// ∂u/∂c_i = σ(w_i·x_b + b_i), averaged over the batch with the residuals: Σ_b (r_b/n) σ_ib.
    fn c_gradient(&mut self, residual: &[f64], target: dense::RowTarget<'_>) {
        let (n, width) = (residual.len(), self.config.width);
        let inv_n = 1.0 / n as f64;
        let weight = &mut self.weight[..n];
        for (w, r) in weight.iter_mut().zip(residual) {
            *w = r * inv_n;
        }
        let weight = &*weight;
        let tasks = dense::particle_tasks(width, n * width * self.config.dim);
        let (out, eta) = target.into_parts();
        dense::for_particles(tasks, (out, 1), (&self.act[..n * width], n), |out, h| {
            dense::weighted_sums(h, weight, dense::RowTarget::from_parts(out, eta));
        });
    }

    /// The w gradient Σ_b coef_ib x_b of every particle into `target`.
    fn w_gradient(&self, x: &[f64], n: usize, target: dense::RowTarget<'_>) {
        let (width, d) = (self.config.width, self.config.dim);
        let tasks = dense::particle_tasks(width, n * width * d);
        let (out, eta) = target.into_parts();
        let x = &x[..n * d];
        dense::for_particles(tasks, (out, d), (&self.act_prime[..n * width], n), |out, coef| {
            dense::accumulate_rows(coef, x, d, n, dense::RowTarget::from_parts(out, eta));
        });
    }
}

impl Batched for OneHidden {
    fn shape(&self) -> (usize, usize) {
        (self.config.dim, self.predict_chunk)
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
        self.ahead = false;
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
        self.residuals(y, residual, train_w || train_b);
        let (dir_c, rest) = direction.split_at_mut(width);
        let (dir_w, dir_b) = rest.split_at_mut(width * d);
        if train_c {
            self.c_gradient(residual, dense::RowTarget::Store(dir_c));
        }
        // ∂u/∂w_i = c_i σ'(·) x and ∂u/∂b_i = c_i σ'(·).
        let coef = &self.act_prime[..n * width];
        if train_w {
            self.w_gradient(x, n, dense::RowTarget::Store(dir_w));
        }
        if train_b {
            for (g, coef) in dir_b.iter_mut().zip(coef.chunks_exact(n)) {
                *g = coef.iter().fold(0.0, |g, k| g + k);
            }
        }
    }

    fn clone_box(&self) -> Box<dyn Model> {
        let mut copy = OneHidden::from_checked(&Checked(self.config.clone()));
        copy.params.copy_from_slice(&self.params);
        Box::new(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BuiltinActivation;
    use meanfield_core::Activation;
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    /// A network of the given shape and activation with parameters drawn uniformly from [−1, 1), b trained.
    pub(super) fn network(
        width: usize,
        dim: usize,
        beta: f64,
        bias: bool,
        act: BuiltinActivation,
        batch: usize,
    ) -> OneHidden {
        let config = OneHiddenConfig::mean_field(width, dim, Arc::new(act));
        let mut net =
            OneHidden::new(OneHiddenConfig { beta, bias, train_b: true, max_batch: batch, ..config }).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for p in net.params_mut() {
            *p = rng.random_range(-1.0..1.0);
        }
        net
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

    /// Online networks predict in chunks of 8 to 32 samples (by width), batched ones in their batch: 70
    /// samples leave a partial chunk, and every prediction has the bits of the sample predicted alone.
    #[test]
    fn predict_in_chunks_matches_one_by_one() {
        for (width, dim, bias, batch) in
            [(7, 4, true, 3), (7, 4, true, 1), (100, 10, false, 1), (300, 3, true, 1), (2000, 5, false, 1)]
        {
            let mut net = network(width, dim, 1.0, bias, BuiltinActivation::Tanh, batch);
            let samples = 70;
            let x: Vec<f64> = (0..samples * dim).map(|k| (k as f64 * 0.37).sin()).collect();
            let mut all = vec![0.0; samples];
            net.predict(&x, &mut all);
            for (b, expected) in all.iter().enumerate() {
                let mut one = [0.0];
                net.predict(&x[b * dim..(b + 1) * dim], &mut one);
                assert_eq!(one[0].to_bits(), expected.to_bits(), "N = {width}, d = {dim}, batch {batch}, sample {b}");
            }
        }
    }

    #[test]
    fn zero_width_is_an_error() {
        let err = OneHidden::new(OneHiddenConfig::mean_field(0, 2, Arc::new(BuiltinActivation::Tanh))).unwrap_err();
        assert_eq!(err.to_string(), "width must be at least 1, got 0");
    }
}

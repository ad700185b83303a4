//! Plain SGD of a [`OneHidden`] network without bias, each step in one pass over the particles
//! ([`OneHidden::plain_step`]), as the [`Stepper`] of one replica.

use super::OneHidden;
use meanfield_core::{Batches, Diverged, Model, ReplicaStreams, Stepper, check_residuals};
use meanfield_kernels::dense;
use rayon::prelude::*;

impl OneHidden {
    /// One plain SGD step θ ← θ + η·direction on the trainable blocks in one pass, without writing the
    /// direction out and reading it back; writes the residuals as [`Model::descent_direction`] does. It
    /// leaves the parameters that `descent_direction` followed by `θ += η·direction` leaves: batched, the same
    /// bits; online, within rounding, since each update (one product) is added to θ with a single rounding.
    /// `next_x`, when given, is the following step's batch, already drawn: an online step computes that
    /// sample's pre-activations, activations and derivatives in the same pass over the particles as its
    /// weight step, and the next step reuses them if it brings the same sample and nothing touched the
    /// parameters or the scratch in between; the same bits either way. The network has no bias.
    pub(super) fn plain_step(&mut self, x: &[f64], y: &[f64], eta: f64, residual: &mut [f64], next_x: Option<&[f64]>) {
        debug_assert!(!self.config.bias, "plain_step serves networks without bias");
        let n = y.len();
        let (width, d) = (self.config.width, self.config.dim);
        let (train_c, train_w) = (self.config.train_c, self.config.train_w);
        let same_sample = || x[..d].iter().zip(&self.ahead_x).all(|(a, b)| a.to_bits() == b.to_bits());
        if self.ahead && n == 1 && same_sample() {
            // The last step computed this sample's activations and derivatives with the current weights
            // (and no bias).
            self.ahead = false;
            self.output_sums(1);
        } else {
            self.forward(x, n, train_w);
        }
        let online_ahead = next_x.filter(|next| train_w && self.config.max_batch == 1 && next.len() == d);
        self.residuals(y, residual, train_w && online_ahead.is_none());
        // The arithmetic of `descent_direction` + `θ += η g`, entry by entry. The w step uses the c of
        // before the step (in the coefficients), so c is updated last.
        // The gradient passes read the scratch while they write the parameters: the parameters are moved
        // out for the step (a move, not a copy) and back.
        let mut params = std::mem::take(&mut self.params);
        let (c, rest) = params.split_at_mut(width);
        let w = &mut rest[..width * d];
        if let Some(next) = online_ahead {
            self.online_step_ahead((c, w), &x[..d], residual[0], eta, next);
        } else {
            if train_w {
                self.w_gradient(x, n, dense::RowTarget::Step { params: w, eta });
            }
            if train_c {
                self.c_gradient(residual, dense::RowTarget::Step { params: c, eta });
            }
        }
        self.params = params;
    }

    /// The rest of an online step once its residual `r` is known, and the next sample's forward pass up to
    /// the output sum, in one pass over the particles: per run of particles the gradient coefficients, the w
    /// step with the pre-activations of `next` ([`dense::step_rows_then_dots`]), the c step (after the
    /// coefficients have read the old c) and the activations and derivatives of `next`. Each is the function
    /// the separate passes call, on a run of particles, so every bit is theirs; but a wide network forks and
    /// joins once per step instead of four times. The next fused step reuses the activations if it gets
    /// `next`.
    fn online_step_ahead(&mut self, (c, w): (&mut [f64], &mut [f64]), x: &[f64], r: f64, eta: f64, next: &[f64]) {
        let (width, d) = (self.config.width, self.config.dim);
        let (train_c, activation) = (self.config.train_c, &*self.config.activation);
        // `residuals` and `c_gradient` with one sample: the scale 1/n and the weight r·(1/n), n = 1.
        let (residual, weight) = ([r], [r * 1.0]);
        let step = |c: &mut [f64], w: &mut [f64], pre: &mut [f64], act: &mut [f64], coef: &mut [f64]| {
            dense::gradient_coefficients(coef, &residual, 1.0, c);
            dense::step_rows_then_dots(coef, x, eta, w, next, pre);
            if train_c {
                dense::weighted_sums(act, &weight, dense::RowTarget::Step { params: c, eta });
            }
            activation.eval(pre, act, Some(coef));
        };
        let (pre, act, coef) = (&mut self.pre[..width], &mut self.act[..width], &mut self.act_prime[..width]);
        match dense::particle_tasks(width, width * d) {
            None => step(c, w, pre, act, coef),
            Some(p) => {
                let runs = (c.par_chunks_mut(p), w.par_chunks_mut(p * d), pre.par_chunks_mut(p));
                let runs = (runs.0, runs.1, runs.2, act.par_chunks_mut(p), coef.par_chunks_mut(p));
                runs.into_par_iter().for_each(|(c, w, pre, act, coef)| step(c, w, pre, act, coef));
            }
        }
        self.ahead_x.copy_from_slice(next);
        self.ahead = true;
    }
}

/// One replica under plain SGD: online networks draw each sample one step early, so that the weight step
/// and the next forward pass share a pass over the particles.
#[derive(Debug)]
pub(super) struct FusedStepper {
    net: OneHidden,
    eta: f64,
    batches: Batches,
    residual: Vec<f64>,
}

impl FusedStepper {
    pub(super) fn new(net: OneHidden, eta: f64) -> FusedStepper {
        let (batch, dim) = (net.config.max_batch, net.config.dim);
        FusedStepper { net, eta, batches: Batches::new(batch, dim), residual: vec![0.0; batch] }
    }
}

impl Stepper for FusedStepper {
    fn replicas(&self) -> usize {
        1
    }
    fn model(&mut self, _: usize) -> &mut dyn Model {
        &mut self.net
    }
    fn set_params(&mut self, _: usize, params: &[f64]) {
        self.net.params_mut().copy_from_slice(params);
    }
    fn advance(&mut self, steps: u64, streams: &mut [ReplicaStreams<'_>], diverged: &mut [Option<Diverged>]) {
        if diverged[0].is_some() {
            return;
        }
        let online = self.net.config.max_batch == 1;
        let (net, eta, residual) = (&mut self.net, self.eta, &mut self.residual);
        diverged[0] = self.batches.run(steps, &mut streams[0], online, |x, y, next, _| {
            let residual = &mut residual[..y.len()];
            net.plain_step(x, y, eta, residual, next);
            check_residuals(residual)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::one_hidden::tests::network;
    use crate::{BuiltinActivation, OneHiddenConfig};
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    /// The fused SGD step leaves the parameters `descent_direction` + θ += η·direction leaves, with either
    /// block frozen: batched (a product then a sum, as the plain update) bit for bit; online, where each
    /// update is one product rounded once into θ (`dense::step_product`), within rounding.
    #[test]
    fn fused_step_equals_direction_then_update() {
        let (width, d, eta) = (9, 7, 0.37);
        for (batch, train_c, train_w) in
            [(1, true, true), (1, false, true), (1, true, false), (5, true, true), (8, true, false)]
        {
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
                fused.plain_step(&x, &y, eta, &mut r_fused, None);
                let bits = |v: &[f64]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&r_fused), bits(&r_plain));
                let case = format!("batch {batch}, c {train_c}, w {train_w}");
                if batch > 1 {
                    assert_eq!(bits(fused.params()), bits(plain.params()), "{case}");
                    continue;
                }
                // Both start from the same θ and the same direction bits. The plain update rounds the
                // product g, η·g and the sum; the fused one η·a and the sum: each rounding is a relative
                // error of at most ε/2 = 2⁻⁵³, so they differ by at most 3·(ε/2)·|η·g| + 2·(ε/2)·|θ'| (θ' the
                // new value) to first order; 2ε·(|η·g| + |θ'|) bounds that with room. An error in the step
                // (η applied twice, a lost factor) moves θ by a sizeable fraction of η·g and fails it.
                for (k, (f, p)) in fused.params().iter().zip(plain.params()).enumerate() {
                    let bound = 2.0 * f64::EPSILON * ((eta * direction[k]).abs() + p.abs());
                    assert!((f - p).abs() <= bound, "{case}: parameter {k}: fused {f:e}, plain {p:e}");
                }
                // The next step from the same state, so that the bound stays one step's.
                fused.params_mut().copy_from_slice(plain.params());
            }
        }
    }

    /// Wide networks split their passes over particles across the rayon pool: steps on pools of 1, 2 and 3
    /// threads leave the same bits, online and batched, fused and through the direction (with a bias).
    #[test]
    fn steps_are_identical_for_any_thread_count() {
        let step = |threads: usize, batch: usize, bias: bool| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let (width, d) = (3500, 20);
                assert!(dense::particle_tasks(width, width * d * batch).is_some(), "the parallel path is taken");
                let mut net = network(width, d, 1.0, bias, BuiltinActivation::Tanh, batch);
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
                let mut direction = vec![0.0; net.params().len()];
                let mut residual = vec![0.0; batch];
                let samples: Vec<(Vec<f64>, Vec<f64>)> = (0..4)
                    .map(|_| {
                        let x = (0..batch * d).map(|_| rng.random_range(-1.5..1.5)).collect();
                        (x, (0..batch).map(|_| rng.random_range(-1.0..1.0)).collect())
                    })
                    .collect();
                for (k, (x, y)) in samples.iter().enumerate() {
                    let next = samples.get(k + 1).map(|(x, _)| &x[..]);
                    if !bias {
                        net.plain_step(x, y, 0.3, &mut residual, next);
                    } else {
                        net.descent_direction(x, y, &mut residual, &mut direction);
                        for (p, g) in net.params_mut().iter_mut().zip(&direction) {
                            *p += 0.3 * g;
                        }
                    }
                }
                net.params().iter().chain(&residual).map(|v| v.to_bits()).collect::<Vec<_>>()
            })
        };
        for (batch, bias) in [(1, false), (1, true), (3, false), (64, true)] {
            let one = step(1, batch, bias);
            assert_eq!(step(2, batch, bias), one, "batch {batch}, bias {bias}: 2 threads");
            assert_eq!(step(3, batch, bias), one, "batch {batch}, bias {bias}: 3 threads");
        }
    }

    /// Online fused steps told the next sample compute its activations ahead and reuse them: the same bits
    /// as steps that are not told, also when the next call brings another sample, when a prediction
    /// overwrites the scratch in between, or when the parameters are written in between; for a narrow
    /// network and for one wide enough to step in parallel tasks (two threads), with c trained or frozen.
    #[test]
    fn stepping_ahead_changes_no_bit() {
        for (width, d, train_c) in [(9, 6, true), (9, 6, false), (3500, 20, true), (3500, 20, false)] {
            check_stepping_ahead(width, d, train_c);
        }
    }

    fn check_stepping_ahead(width: usize, d: usize, train_c: bool) {
        let steps = 12;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let samples: Vec<(Vec<f64>, f64)> = (0..steps)
            .map(|_| ((0..d).map(|_| rng.random_range(-1.5..1.5)).collect(), rng.random_range(-1.0..1.0)))
            .collect();
        let decoy: Vec<f64> = (0..d).map(|_| rng.random_range(-1.5..1.5)).collect();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let run = |ahead: bool| {
            let mut net = network(width, d, 1.0, false, BuiltinActivation::Tanh, 1);
            net.config.train_c = train_c;
            let mut trace = Vec::new();
            for (k, (x, y)) in samples.iter().enumerate() {
                let next = match k {
                    _ if !ahead => None,
                    3 => Some(&decoy[..]),
                    _ => samples.get(k + 1).map(|(x, _)| &x[..]),
                };
                let mut residual = [0.0];
                pool.install(|| net.plain_step(x, &[*y], 0.2, &mut residual, next));
                trace.push(residual[0].to_bits());
                match k {
                    5 => net.predict(&decoy, &mut [0.0]),
                    8 => net.params_mut()[width] += 0.125,
                    _ => {}
                }
            }
            trace.extend(net.params().iter().map(|p| p.to_bits()));
            trace
        };
        let parallel = pool.install(|| dense::particle_tasks(width, width * d).is_some());
        assert_eq!(parallel, width > 1000, "the parallel path is taken for the wide network alone");
        assert_eq!(run(true), run(false), "width {width}, d {d}, c trained {train_c}");
    }
}

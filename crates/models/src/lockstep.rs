//! Replicas of a one-hidden-layer network stepped together, one replica per vector lane: the ensemble
//! path ([`meanfield_core::Lockstep`]).
//!
//! A small network alone leaves the vector units half idle: with d = 10 a row is two and a half AVX2
//! registers, every dot product ends in a horizontal sum and a scalar tail. Here every quantity of a
//! replica (a weight, a pre-activation, an output sum) sits in lane r of a `[f64; L]` next to the same
//! quantity of the other replicas, so every operation is a vertical vector operation with no tail and no
//! shuffle. Each lane computes exactly the arithmetic of [`crate::OneHidden`]'s online fused step (the same
//! lane sums as `crate::dense`, the same products and order), so a replica's result does not depend on whether
//! it ran alone or in a lane, nor on how many lanes there are (four, or eight with AVX-512 for d ≤ 16: see
//! [`lanes_for`]); the tests check that bit for bit for both widths.

use crate::one_hidden::OneHiddenConfig;
use meanfield_core::{Activation, Lockstep};
use meanfield_kernels::dense::{ROW_LANES, SUM_LANES, step_product};
use meanfield_kernels::lanes::{Lane, halving_tree, lane, lanes_dot};
use meanfield_kernels::tanh_lanes;
use multiversion::multiversion;
use std::sync::Arc;

/// Replicas per group where the weight pass reloads the samples for every particle: one AVX2 register of f64
/// (8, two registers, ran 1.3× slower on `ensemble-64` on a Zen 3 core, and 2, 1.25×; 8 ran 2.0–2.4× slower on a
/// Zen 4 core with AVX-512 at d = 20 and 30).
pub(crate) const LANES: usize = 4;
/// Replicas per group where the samples stay in registers ([`step_particles_in_registers`]: AVX-512 and
/// d ≤ 16): one AVX-512 register, so that the weight pass has no halves to split for the dot products:
/// `ensemble-64` took 0.297 against 0.325 ns per weight update with 4 (the fastest of six alternated runs
/// each on one Zen 4 core). Making the lanes generic over their count cost the path for d > 16 (four lanes)
/// nothing at d = 20 and 5 % at d = 30 (1.13 against 1.06 s for a 64-replica run, the fastest of five).
pub(crate) const WIDE_LANES: usize = 8;

/// The largest d for which [`step_particles_in_registers`] has a variant.
const MAX_REGISTER_DIM: usize = 16;

/// Lanes for `replicas` replicas of `config` (online, without bias), as [`crate::OneHidden::lockstep`]
/// offers them: [`WIDE_LANES`] where the samples stay in registers and there are replicas enough, else
/// [`LANES`].
pub(crate) fn lanes_for(config: &OneHiddenConfig, prefactor: f64, replicas: usize) -> Box<dyn Lockstep> {
    if replicas >= WIDE_LANES && config.dim <= MAX_REGISTER_DIM && samples_fit_in_registers() {
        Box::new(OneHiddenLanes::<WIDE_LANES>::new(config, prefactor))
    } else {
        Box::new(OneHiddenLanes::<LANES>::new(config, prefactor))
    }
}

/// Whether [`step_particles_in_registers`] runs on this machine (its one clone, AVX-512).
fn samples_fit_in_registers() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `pre_i = w_i · x` in every lane, as `dense::row_dots` (rows of `d` lanes, `x` transposed: d lanes).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn row_dots<const L: usize>(w: &[f64], x: &[f64], d: usize, pre: &mut [f64]) {
    for (row, out) in w.chunks_exact(d * L).zip(pre.chunks_exact_mut(L)) {
        let out: &mut Lane<L> = out.try_into().expect("a lane");
        *out = lanes_dot::<ROW_LANES, L>(row, x, d);
    }
}

/// A step's arithmetic once the residuals are known, in one pass over the particles, in every lane: the
/// coefficient `k_i = σ'_i · (r · 1 · c_i)` (`dense::gradient_coefficients` with one sample), the w step
/// `w_i += (eta · k_i) x` (`dense::accumulate_rows` with one sample, `dense::step_product`), with `ahead`
/// also `pre_i = w_i · next` as [`row_dots`] (`dense::step_rows_then_dots`: each new weight goes from its
/// register into the dot product), and, when `c` is trained, the c step `c_i += (eta · (r · 1)) σ_i`
/// (`dense::weighted_sums`) after `k_i` has read the old c_i, as the single replica updates c after w.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn step_particles<const L: usize>(
    step: &ParticleStep<'_, L>,
    c: &mut [f64],
    train_c: bool,
    w: &mut [f64],
    ahead: Option<(&[f64], &mut [f64])>,
) {
    let x = step.x;
    let Some((next, pre)) = ahead else {
        return each_particle(step, c, train_c, w, |row, eta_k| {
            for (w, x) in row.chunks_exact_mut(L).zip(x.chunks_exact(L)) {
                for r in 0..L {
                    step_product(&mut w[r], eta_k[r], x[r]);
                }
            }
        });
    };
    let mut pre = pre.chunks_exact_mut(L);
    each_particle(step, c, train_c, w, |row, eta_k| {
        let out: &mut Lane<L> = pre.next().expect("a pre-activation per particle").try_into().expect("a lane");
        *out = step_row_then_dot(row, eta_k, x, next);
    });
}

/// [`step_particles`] with `ahead`, both samples held in registers, when the machine has the 32 vector
/// registers of AVX-512 and d ≤ 16; returns whether it stepped. [`step_particles`] loads both samples'
/// d lanes again for every particle, three loads per weight where the weight itself needs one: with this,
/// `ensemble-64` (d = 10) took 0.372 instead of 0.428 ns per weight update on one Zen 4 core (the fastest
/// of ten alternated runs each; medians 0.395 and 0.438). With AVX2's 16
/// registers the samples spill (an earlier session measured 1.7× slower on a Zen 3 core), so no AVX2 clone
/// is built. Its own function because inside [`step_particles`] the sixteen variants made the path for
/// larger d 7 % slower (d = 30).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma"))]
fn step_particles_in_registers<const L: usize>(
    step: &ParticleStep<'_, L>,
    c: &mut [f64],
    train_c: bool,
    w: &mut [f64],
    next: &[f64],
    pre: &mut [f64],
) -> bool {
    if !multiversion::target::target_cfg_f!(target_feature = "avx512vl") {
        return false;
    }
    let mut pre = pre.chunks_exact_mut(L);
    // One variant per d, so that d is known at compile time.
    macro_rules! in_registers {
        ($($dim:literal)*) => {
            match step.d {
                $($dim => {
                    let (x, next) = (lanes_of::<$dim, L>(step.x), lanes_of::<$dim, L>(next));
                    each_particle(step, c, train_c, w, |row, eta_k| {
                        let out: &mut Lane<L> =
                            pre.next().expect("a pre-activation per particle").try_into().expect("a lane");
                        *out = step_row_then_dot(&mut row[..$dim * L], eta_k, x.as_flattened(), next.as_flattened());
                        // An identity that keeps LLVM's loop vectoriser off the particle loop: with d
                        // known the body is straight-line code, and LLVM vectorised it across 8
                        // particles, transposing through the stack (2× slower than with d unknown).
                        std::hint::black_box(());
                    });
                    true
                })*
                _ => false,
            }
        };
    }
    in_registers!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// The first `D` lanes of `samples`, to be held in registers.
#[inline(always)]
fn lanes_of<const D: usize, const L: usize>(samples: &[f64]) -> [Lane<L>; D] {
    std::array::from_fn(|j| *lane(samples, j))
}

/// [`step_particles`]' loop: `step_row(w_i, eta · k_i)` steps particle i's weights, then the c step.
#[inline(always)]
fn each_particle<const L: usize>(
    step: &ParticleStep<'_, L>,
    c: &mut [f64],
    train_c: bool,
    w: &mut [f64],
    mut step_row: impl FnMut(&mut [f64], &Lane<L>),
) {
    let ParticleStep { act, act_prime, residual, eta, d, .. } = *step;
    // `scale` and the c weight are r/n with n = 1: kept as products so the arithmetic is the single
    // replica's.
    let (scale, inv_n) = (1.0, 1.0);
    let residual = *residual;
    let eta_weight: Lane<L> = std::array::from_fn(|r| eta * (residual[r] * inv_n));
    let particles = w.chunks_exact_mut(d * L).zip(c.chunks_exact_mut(L)).zip(act.chunks_exact(L));
    for (((row, c), h), hp) in particles.zip(act_prime.chunks_exact(L)) {
        let c: &mut Lane<L> = c.try_into().expect("a lane");
        let (h, hp): (&Lane<L>, &Lane<L>) = (h.try_into().expect("a lane"), hp.try_into().expect("a lane"));
        let eta_k: Lane<L> = std::array::from_fn(|r| eta * (hp[r] * (residual[r] * scale * c[r])));
        step_row(row, &eta_k);
        if train_c {
            // Stepped in a copy: stepped in place, the lanes were one scalar multiply-add each.
            let mut stepped = *c;
            for r in 0..L {
                step_product(&mut stepped[r], eta_weight[r], h[r]);
            }
            *c = stepped;
        }
    }
}

/// What [`step_particles`] reads: σ, σ', the residuals, the samples (d lanes), η and d.
#[derive(Clone, Copy)]
struct ParticleStep<'a, const L: usize> {
    act: &'a [f64],
    act_prime: &'a [f64],
    residual: &'a Lane<L>,
    x: &'a [f64],
    eta: f64,
    d: usize,
}

/// One particle's w step `w += eta_k x` then `w · next`, every entry a lane, summed as [`lanes_dot`] sums.
#[inline(always)]
fn step_row_then_dot<const L: usize>(row: &mut [f64], eta_k: &Lane<L>, x: &[f64], next: &[f64]) -> Lane<L> {
    let (row, x, next) = (row.as_chunks_mut::<L>().0, x.as_chunks::<L>().0, next.as_chunks::<L>().0);
    let mut acc = [[0.0; L]; ROW_LANES];
    let mut rows = row.chunks_exact_mut(ROW_LANES);
    let (mut xs, mut nexts) = (x.chunks_exact(ROW_LANES), next.chunks_exact(ROW_LANES));
    for ((w, x), next) in (&mut rows).zip(&mut xs).zip(&mut nexts) {
        let w: &mut [Lane<L>; ROW_LANES] = w.try_into().expect("a chunk");
        let (x, next): (&[Lane<L>; ROW_LANES], &[Lane<L>; ROW_LANES]) =
            (x.try_into().expect("a chunk"), next.try_into().expect("a chunk"));
        for (l, acc) in acc.iter_mut().enumerate() {
            for r in 0..L {
                step_product(&mut w[l][r], eta_k[r], x[l][r]);
                acc[r] = w[l][r].mul_add(next[l][r], acc[r]);
            }
        }
    }
    let mut sum = halving_tree(acc);
    for ((w, x), next) in rows.into_remainder().iter_mut().zip(xs.remainder()).zip(nexts.remainder()) {
        for r in 0..L {
            step_product(&mut w[r], eta_k[r], x[r]);
            sum[r] = w[r].mul_add(next[r], sum[r]);
        }
    }
    sum
}

/// The output sums Σ_i c_i σ_i of every lane, as `dense::output_dot`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn output_sums<const L: usize>(c: &[f64], act: &[f64], width: usize) -> Lane<L> {
    lanes_dot::<SUM_LANES, L>(c, act, width)
}

/// σ = tanh and σ' = 1 − σ² of every lane's pre-activations, and the output sums Σ_i c_i σ_i of every lane
/// from them, in one pass: the bits of [`meanfield_kernels::tanh::tanh_slice`] (value by value the same [`tanh_lanes`]
/// and derivative) followed by [`output_sums`] (the same [`SUM_LANES`] partial sums in index order, halving
/// tree and tail). In three loops (tanh, its derivative, the sums) σ was loaded twice more per particle: an
/// `ensemble-64` group step of eight replicas took 2.01 against 2.08–2.10 µs (criterion, alternated, a
/// Zen 4 core).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn tanh_and_output_sums<const L: usize>(
    pre: &[f64],
    c: &[f64],
    width: usize,
    act: &mut [f64],
    act_prime: &mut [f64],
) -> Lane<L> {
    let full = width / SUM_LANES * SUM_LANES;
    let mut particles = pre[..width * L]
        .chunks_exact(L)
        .zip(c[..width * L].chunks_exact(L))
        .zip(act[..width * L].chunks_exact_mut(L).zip(act_prime[..width * L].chunks_exact_mut(L)));
    let mut acc = [[0.0; L]; SUM_LANES];
    for (i, ((z, c), (h, hp))) in (&mut particles).take(full).enumerate() {
        let (c, h) = (lane::<L>(c, 0), activate_tanh(lane::<L>(z, 0), h, hp));
        let acc = &mut acc[i % SUM_LANES];
        for r in 0..L {
            acc[r] = c[r].mul_add(h[r], acc[r]);
        }
    }
    let mut sum = halving_tree(acc);
    for ((z, c), (h, hp)) in particles {
        let (c, h) = (lane::<L>(c, 0), activate_tanh(lane::<L>(z, 0), h, hp));
        for r in 0..L {
            sum[r] = c[r].mul_add(h[r], sum[r]);
        }
    }
    sum
}

/// One particle's σ and σ' (a lane each) of its pre-activations `z` under tanh, as [`meanfield_kernels::tanh::tanh_slice`];
/// returns σ.
#[inline(always)]
fn activate_tanh<const L: usize>(z: &Lane<L>, h: &mut [f64], hp: &mut [f64]) -> Lane<L> {
    let (h, hp): (&mut Lane<L>, &mut Lane<L>) = (h.try_into().expect("a lane"), hp.try_into().expect("a lane"));
    *h = tanh_lanes(z);
    for r in 0..L {
        hp[r] = (-h[r]).mul_add(h[r], 1.0);
    }
    *h
}

/// The c step alone (when w is frozen), as in [`step_particles`].
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn step_c<const L: usize>(c: &mut [f64], act: &[f64], residual: &Lane<L>, eta: f64) {
    let inv_n = 1.0;
    let eta_weight: Lane<L> = std::array::from_fn(|r| eta * (residual[r] * inv_n));
    for (slot, h) in c.chunks_exact_mut(L).zip(act.chunks_exact(L)) {
        for r in 0..L {
            step_product(&mut slot[r], eta_weight[r], h[r]);
        }
    }
}

/// [`L`] replicas of an online [`crate::OneHidden`] without bias, lane-interleaved: `c` is N lanes,
/// `w` N×d lanes (particle i's weights contiguous, each weight a lane), the scratch N lanes.
#[derive(Debug)]
pub(crate) struct OneHiddenLanes<const L: usize> {
    width: usize,
    dim: usize,
    prefactor: f64,
    train_c: bool,
    train_w: bool,
    activation: Arc<dyn Activation>,
    /// Whether `activation` is the built-in tanh, which [`tanh_and_output_sums`] evaluates together with
    /// the output sums.
    builtin_tanh: bool,
    c: Vec<f64>,
    w: Vec<f64>,
    pre: Vec<f64>,
    act: Vec<f64>,
    act_prime: Vec<f64>,
    /// This step's samples and the next one's, transposed (d lanes).
    x: Vec<f64>,
    next: Vec<f64>,
    /// Whether `pre` holds the pre-activations of the samples `ahead_x` (as given, lane-major), computed
    /// by the last step with the current weights.
    ahead: bool,
    ahead_x: Vec<f64>,
    /// One lane's pre-activations, activations and derivatives, when the lanes are evaluated one by one.
    single: [Vec<f64>; 3],
}

impl<const L: usize> OneHiddenLanes<L> {
    /// Lanes for networks of `config`, which must be online (max_batch 1) without bias: the
    /// configurations [`crate::OneHidden::lockstep`] accepts.
    pub(crate) fn new(config: &OneHiddenConfig, prefactor: f64) -> OneHiddenLanes<L> {
        let (n, d) = (config.width, config.dim);
        debug_assert!(!config.bias && config.max_batch == 1);
        OneHiddenLanes {
            width: n,
            dim: d,
            prefactor,
            train_c: config.train_c,
            train_w: config.train_w,
            activation: config.activation.clone(),
            builtin_tanh: crate::activations::is_builtin_tanh(&*config.activation),
            c: vec![0.0; n * L],
            w: vec![0.0; n * d * L],
            pre: vec![0.0; n * L],
            act: vec![0.0; n * L],
            act_prime: vec![0.0; n * L],
            x: vec![0.0; d * L],
            next: vec![0.0; d * L],
            ahead: false,
            ahead_x: vec![0.0; d * L],
            single: [vec![0.0; n], vec![0.0; n], vec![0.0; n]],
        }
    }

    /// Samples given lane-major (lane r's d entries contiguous) into `out` transposed (d lanes).
    fn transpose(samples: &[f64], d: usize, out: &mut [f64]) {
        for (r, sample) in samples.chunks_exact(d).take(L).enumerate() {
            for (j, v) in sample.iter().enumerate() {
                out[j * L + r] = *v;
            }
        }
    }

    /// σ and σ' of every lane's pre-activations; each lane's own residual from them.
    fn activate_and_residuals(&mut self, y: &[f64], residual: &mut [f64]) {
        if self.builtin_tanh {
            let sums = tanh_and_output_sums::<L>(&self.pre, &self.c, self.width, &mut self.act, &mut self.act_prime);
            self.residuals_from(y, &sums, residual);
        } else {
            let derivative = self.train_w.then_some(&mut self.act_prime[..]);
            self.activation.eval(&self.pre, &mut self.act, derivative);
            self.residuals(y, residual);
        }
        if residual[..L].iter().any(|r| !r.is_finite()) {
            // A non-finite value in one lane. Activations are elementwise, so this changes nothing unless
            // the activation failed for the whole slice (a plugin that panicked turns its output into NaN):
            // then each lane is evaluated alone, so only the lane that fails alone fails here.
            self.activate_lane_by_lane();
            self.residuals(y, residual);
        }
    }

    fn activate_lane_by_lane(&mut self) {
        let [pre, act, act_prime] = &mut self.single;
        for r in 0..L {
            for (i, z) in pre.iter_mut().enumerate() {
                *z = self.pre[i * L + r];
            }
            self.activation.eval(pre, act, self.train_w.then_some(&mut act_prime[..]));
            for i in 0..self.width {
                self.act[i * L + r] = act[i];
                self.act_prime[i * L + r] = act_prime[i];
            }
        }
    }

    fn residuals(&self, y: &[f64], residual: &mut [f64]) {
        self.residuals_from(y, &output_sums::<L>(&self.c, &self.act, self.width), residual);
    }

    fn residuals_from(&self, y: &[f64], sums: &Lane<L>, residual: &mut [f64]) {
        for r in 0..L {
            residual[r] = y[r] - self.prefactor * sums[r];
        }
    }
}

impl<const L: usize> Lockstep for OneHiddenLanes<L> {
    fn lanes(&self) -> usize {
        L
    }

    fn load(&mut self, lane: usize, params: &[f64]) {
        let (n, d) = (self.width, self.dim);
        self.ahead = false;
        for (i, c) in params[..n].iter().enumerate() {
            self.c[i * L + lane] = *c;
        }
        for (k, w) in params[n..n + n * d].iter().enumerate() {
            self.w[k * L + lane] = *w;
        }
    }

    fn unload(&self, lane: usize, params: &mut [f64]) {
        let (n, d) = (self.width, self.dim);
        for (i, c) in params[..n].iter_mut().enumerate() {
            *c = self.c[i * L + lane];
        }
        for (k, w) in params[n..n + n * d].iter_mut().enumerate() {
            *w = self.w[k * L + lane];
        }
    }

    fn sgd_step(&mut self, x: &[f64], y: &[f64], eta: f64, residual: &mut [f64], next_x: Option<&[f64]>) {
        let d = self.dim;
        let same_samples = self.ahead && x[..d * L].iter().zip(&self.ahead_x).all(|(a, b)| a.to_bits() == b.to_bits());
        if same_samples {
            // The last step transposed these samples and computed their pre-activations.
            std::mem::swap(&mut self.x, &mut self.next);
        } else {
            Self::transpose(x, d, &mut self.x);
            row_dots::<L>(&self.w, &self.x, d, &mut self.pre);
        }
        self.ahead = false;
        self.activate_and_residuals(y, residual);
        let residual: &Lane<L> = residual[..L].try_into().expect("one residual per lane");
        if self.train_w {
            let mut ahead = match next_x {
                Some(next) => {
                    Self::transpose(next, d, &mut self.next);
                    self.ahead_x.copy_from_slice(&next[..d * L]);
                    self.ahead = true;
                    Some((&self.next[..], &mut self.pre[..]))
                }
                None => None,
            };
            let step = ParticleStep { act: &self.act, act_prime: &self.act_prime, residual, x: &self.x, eta, d };
            let in_registers = match &mut ahead {
                Some((next, pre)) => {
                    step_particles_in_registers(&step, &mut self.c, self.train_c, &mut self.w, next, pre)
                }
                None => false,
            };
            if !in_registers {
                step_particles(&step, &mut self.c, self.train_c, &mut self.w, ahead);
            }
        } else if self.train_c {
            step_c(&mut self.c, &self.act, residual, eta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BuiltinActivation, OneHidden};
    use meanfield_core::Model;
    use rand::{Rng, SeedableRng};

    /// L lanes for networks of `config`, whatever this machine would choose.
    fn lanes<const L: usize>(config: &OneHiddenConfig) -> OneHiddenLanes<L> {
        OneHiddenLanes::<L>::new(config, (config.width as f64).powf(-config.beta))
    }

    /// Replicas with their own weights and samples, stepped alone and in L lanes, with and without the
    /// next samples given (and once with a decoy in between), must agree bit for bit at every step.
    fn check<const L: usize>(width: usize, dim: usize, train_c: bool, train_w: bool, activation: BuiltinActivation) {
        let config = OneHiddenConfig {
            train_c,
            train_w,
            beta: if train_c { 1.0 } else { 0.5 },
            ..OneHiddenConfig::mean_field(width, dim, Arc::new(activation))
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut alone: Vec<OneHidden> = (0..L)
            .map(|_| {
                let mut net = OneHidden::new(config.clone()).unwrap();
                for p in net.params_mut() {
                    *p = rng.random_range(-1.0..1.0);
                }
                net
            })
            .collect();
        let mut lanes = lanes::<L>(&config);
        for (r, net) in alone.iter().enumerate() {
            lanes.load(r, net.params());
        }
        let steps = 12;
        let samples: Vec<Vec<f64>> =
            (0..=steps).map(|_| (0..L * dim).map(|_| rng.random_range(-2.0..2.0)).collect()).collect();
        let y: Vec<f64> = (0..L).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut out = vec![0.0; width + width * dim];
        for step in 0..steps {
            // Steps 3..6 pass no next samples, step 8 a decoy: both paths must still agree.
            let next = match step {
                3..6 => None,
                8 => Some(&samples[0][..]),
                _ => Some(&samples[step + 1][..]),
            };
            let mut residual = [0.0; L];
            lanes.sgd_step(&samples[step], &y, 0.5, &mut residual, next);
            for (r, net) in alone.iter_mut().enumerate() {
                let lane_next = next.map(|n| &n[r * dim..(r + 1) * dim]);
                let mut alone_residual = [0.0];
                assert!(net.fused_sgd_step(
                    &samples[step][r * dim..(r + 1) * dim],
                    &y[r..r + 1],
                    0.5,
                    &mut alone_residual,
                    lane_next
                ));
                assert_eq!(residual[r].to_bits(), alone_residual[0].to_bits(), "residual of lane {r}, step {step}");
                lanes.unload(r, &mut out);
                let same = out.iter().zip(net.params()).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "parameters of lane {r} after step {step} ({width}×{dim}, {activation:?})");
            }
        }
    }

    #[test]
    fn lanes_step_as_each_replica_alone() {
        for (width, dim) in [(100, 10), (37, 3), (16, 4), (1, 1), (300, 20), (24, 13)] {
            check::<LANES>(width, dim, true, true, BuiltinActivation::Tanh);
            check::<WIDE_LANES>(width, dim, true, true, BuiltinActivation::Tanh);
        }
        // Every d with the samples in registers (AVX-512, d ≤ 16) and the first two without.
        for dim in 1..=MAX_REGISTER_DIM + 2 {
            check::<LANES>(9, dim, true, true, BuiltinActivation::Tanh);
            check::<WIDE_LANES>(9, dim, true, true, BuiltinActivation::Tanh);
        }
        check::<LANES>(50, 7, true, false, BuiltinActivation::Relu);
        check::<WIDE_LANES>(50, 7, false, true, BuiltinActivation::Sigmoid);
    }

    /// Eight lanes where the samples stay in registers and there are eight replicas or more, four otherwise;
    /// none for fewer than four, a bias, a batch.
    #[test]
    fn the_model_offers_lanes_as_wide_as_the_replicas_and_machine_allow() {
        let net = |dim: usize| OneHidden::new(OneHiddenConfig::mean_field(20, dim, Arc::new(BuiltinActivation::Tanh)));
        let wide = if samples_fit_in_registers() { WIDE_LANES } else { LANES };
        let offered = |dim: usize, replicas: usize| net(dim).unwrap().lockstep(replicas).map(|l| l.lanes());
        assert_eq!(offered(10, 64), Some(wide));
        assert_eq!(offered(10, 8), Some(wide));
        assert_eq!(offered(10, 7), Some(LANES));
        assert_eq!(offered(10, 3), None);
        assert_eq!(offered(MAX_REGISTER_DIM + 1, 64), Some(LANES));
        let biased =
            OneHiddenConfig { bias: true, ..OneHiddenConfig::mean_field(20, 3, Arc::new(BuiltinActivation::Tanh)) };
        assert!(OneHidden::new(biased).unwrap().lockstep(64).is_none());
    }

    /// A lane that diverges leaves the others untouched.
    #[test]
    fn a_diverged_lane_stays_in_its_lane() {
        diverged_lane_stays_in_its_lane::<LANES>();
        diverged_lane_stays_in_its_lane::<WIDE_LANES>();
    }

    fn diverged_lane_stays_in_its_lane<const L: usize>() {
        let config = OneHiddenConfig::mean_field(20, 3, Arc::new(BuiltinActivation::Tanh));
        let mut lanes = lanes::<L>(&config);
        let params: Vec<f64> = (0..80).map(|k| (k as f64 * 0.37).sin()).collect();
        for r in 0..L {
            lanes.load(r, &params);
        }
        let mut x: Vec<f64> = (0..3 * L).map(|k| (k % 3) as f64 - 1.0).collect();
        x[3] = f64::NAN;
        let mut residual = [0.0; L];
        lanes.sgd_step(&x, &[0.5; L], 0.5, &mut residual, None);
        assert!(residual[1].is_nan());
        let mut out = vec![0.0; 80];
        for r in (0..L).filter(|&r| r != 1) {
            assert!(residual[r].is_finite());
            lanes.unload(r, &mut out);
            assert!(out.iter().all(|p| p.is_finite()));
            assert_eq!(residual[r].to_bits(), residual[0].to_bits());
        }
    }

    /// tanh that fails for a whole slice when one entry is beyond ±50, as a plugin that panicked does
    /// (its output becomes NaN).
    #[derive(Debug)]
    struct FailsWholeSlices;

    impl Activation for FailsWholeSlices {
        fn name(&self) -> String {
            "fails-whole-slices".into()
        }
        fn eval(&self, z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>) {
            let failed = z.iter().any(|z| z.abs() > 50.0);
            let tanh = |z: f64| if failed { f64::NAN } else { meanfield_kernels::tanh::tanh(z) };
            for (v, z) in value.iter_mut().zip(z) {
                *v = tanh(*z);
            }
            if let Some(derivative) = derivative {
                for (d, z) in derivative.iter_mut().zip(z) {
                    *d = 1.0 - tanh(*z).powi(2);
                }
            }
        }
    }

    /// An activation that fails for the whole slice of the lanes when one lane's input makes it fail
    /// fails only that lane, as it would fail only that replica alone.
    #[test]
    fn an_activation_failing_for_one_lane_fails_that_lane_alone() {
        activation_failing_for_one_lane_fails_that_lane_alone::<LANES>();
        activation_failing_for_one_lane_fails_that_lane_alone::<WIDE_LANES>();
    }

    fn activation_failing_for_one_lane_fails_that_lane_alone<const L: usize>() {
        let (width, dim) = (8, 2);
        let config = OneHiddenConfig::mean_field(width, dim, Arc::new(FailsWholeSlices));
        let mut alone: Vec<OneHidden> = (0..L).map(|_| OneHidden::new(config.clone()).unwrap()).collect();
        let mut lanes = lanes::<L>(&config);
        for (r, net) in alone.iter_mut().enumerate() {
            for (k, p) in net.params_mut().iter_mut().enumerate() {
                *p = ((k + r) as f64 * 0.7).sin() * if r == 2 && k >= width { 100.0 } else { 1.0 };
            }
            lanes.load(r, net.params());
        }
        let x: Vec<f64> = (0..L * dim).map(|k| 1.0 + k as f64 * 0.1).collect();
        let y = [0.3; L];
        let mut residual = [0.0; L];
        lanes.sgd_step(&x, &y, 0.5, &mut residual, None);
        let mut out = vec![0.0; width + width * dim];
        for (r, net) in alone.iter_mut().enumerate() {
            let mut alone_residual = [0.0];
            net.fused_sgd_step(&x[r * dim..(r + 1) * dim], &y[r..r + 1], 0.5, &mut alone_residual, None);
            assert_eq!(residual[r].to_bits(), alone_residual[0].to_bits(), "lane {r}");
            assert_eq!(residual[r].is_nan(), r == 2);
            lanes.unload(r, &mut out);
            assert!(out.iter().zip(net.params()).all(|(a, b)| a.to_bits() == b.to_bits()), "lane {r}");
        }
    }
}

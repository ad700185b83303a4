//! Replicas of a one-hidden-layer network stepped together, one replica per vector lane: the ensemble
//! path for small online networks under plain SGD ([`OneHiddenLanes`]).
//!
//! A small network alone leaves the vector units half idle: with d = 10 a row is two and a half AVX2
//! registers, every dot product ends in a horizontal sum and a scalar tail. Here every quantity of a
//! replica (a weight, a pre-activation, an output sum) sits in lane r of a `[f64; L]` next to the same
//! quantity of the other replicas, so every operation is a vertical vector operation with no tail and no
//! shuffle. Each lane computes exactly the arithmetic of [`OneHidden::plain_step`] online (the same lane
//! sums as `meanfield_kernels::dense`, the same products and order), so a replica's result does not depend
//! on whether it ran alone or in a lane, nor on how many lanes there are (four, or eight with AVX-512 for
//! d ≤ 16: see [`max_lanes`]); the tests check that bit for bit for both widths.

mod kernels;

use super::{OneHidden, OneHiddenConfig};
use crate::Checked;
use kernels::{
    ParticleStep, output_sums, row_dots, step_c, step_particles, step_particles_in_registers, tanh_and_output_sums,
};
use meanfield_core::{Activation, Diverged, Model, ReplicaStreams, Stepper};
use meanfield_kernels::dense;
use meanfield_kernels::lanes::Lane;
use std::sync::Arc;

/// Replicas per group where the weight pass reloads the samples for every particle: one AVX2 register of
/// f64.
pub(super) const LANES: usize = 4;
/// Replicas per group where the samples stay in registers ([`kernels::step_particles_in_registers`]:
/// AVX-512 and d ≤ 16): one AVX-512 register, so that the weight pass has no halves to split for the dot
/// products.
pub(super) const WIDE_LANES: usize = 8;

/// The largest d for which [`kernels::step_particles_in_registers`] has a variant.
const MAX_REGISTER_DIM: usize = 16;

/// Steps whose samples [`OneHiddenLanes`] draws at once from each replica's stream: a stream asked for
/// several samples labels them together (a teacher's link in one vector call).
const DRAW_BLOCK: usize = 16;

/// The most replicas that step together for networks of `config`: none (1) unless online without bias and
/// small enough not to split its own passes over the threads (it fills the vectors alone); then
/// [`WIDE_LANES`] where the samples stay in registers on this machine, else [`LANES`].
pub(super) fn max_lanes(config: &OneHiddenConfig) -> usize {
    let (width, d) = (config.width, config.dim);
    let small = dense::particle_tasks(width, width * d).is_none();
    if config.bias || config.max_batch != 1 || !small {
        1
    } else if d <= MAX_REGISTER_DIM && samples_fit_in_registers() {
        WIDE_LANES
    } else {
        LANES
    }
}

/// Whether [`kernels::step_particles_in_registers`] runs on this machine (its one clone, AVX-512).
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

/// L replicas under plain online SGD, stepped together in the lanes of a [`LaneNetworks`]. Each replica
/// draws from its own streams, [`DRAW_BLOCK`] steps' samples at a time (never past the end of an
/// [`Stepper::advance`], so a stream stands after the samples of the steps done when it returns), and stops
/// alone when it diverges: its lane is cleared and no longer drawn for.
#[derive(Debug)]
pub(super) struct OneHiddenLanes<const L: usize> {
    lanes: LaneNetworks<L>,
    eta: f64,
    /// The replicas' networks: what [`Stepper::model`] shows, each holding its lane's parameters when asked.
    nets: Vec<OneHidden>,
    /// Whether each lane still steps.
    active: [bool; L],
    /// This step's samples and the next one's, lane-major (lane r's sample at r·d), and their labels.
    x: Vec<f64>,
    y: Vec<f64>,
    next_x: Vec<f64>,
    next_y: Vec<f64>,
    residual: [f64; L],
    /// Each lane's samples of the steps `block_first..block_first + block_len` of the current call (lane r's
    /// from r·DRAW_BLOCK samples on).
    block_x: Vec<f64>,
    block_y: Vec<f64>,
    block_first: u64,
    block_len: usize,
}

impl<const L: usize> OneHiddenLanes<L> {
    /// Lanes for networks of `config`, which is online without bias.
    pub(super) fn new(checked: &Checked<OneHiddenConfig>, eta: f64, builtin_tanh: bool) -> Self {
        let nets: Vec<OneHidden> = (0..L).map(|_| OneHidden::from_checked(checked)).collect();
        let config = checked.get();
        let prefactor = nets[0].prefactor;
        let d = config.dim;
        OneHiddenLanes {
            lanes: LaneNetworks::new(config, prefactor, builtin_tanh),
            eta,
            nets,
            active: [true; L],
            x: vec![0.0; L * d],
            y: vec![0.0; L],
            next_x: vec![0.0; L * d],
            next_y: vec![0.0; L],
            residual: [0.0; L],
            block_x: vec![0.0; L * DRAW_BLOCK * d],
            block_y: vec![0.0; L * DRAW_BLOCK],
            block_first: 0,
            block_len: 0,
        }
    }

    /// Puts the sample of step `step` (of the current call of `steps` steps) of every active lane into `x`/`y`
    /// (`next_x`/`next_y` when `ahead`), drawing the samples of up to [`DRAW_BLOCK`] steps, never past the
    /// call's last, when the block is used up.
    fn draw(&mut self, step: u64, steps: u64, ahead: bool, streams: &mut [ReplicaStreams<'_>]) {
        let d = self.x.len() / L;
        if step >= self.block_first + self.block_len as u64 {
            let len = (DRAW_BLOCK as u64).min(steps - step) as usize;
            for (lane, stream) in streams.iter_mut().enumerate().filter(|(lane, _)| self.active[*lane]) {
                let (x, y) = (&mut self.block_x[lane * DRAW_BLOCK * d..], &mut self.block_y[lane * DRAW_BLOCK..]);
                stream.fill(&mut x[..len * d], &mut y[..len]);
            }
            (self.block_first, self.block_len) = (step, len);
        }
        let sample = (step - self.block_first) as usize;
        let (x, y) = if ahead { (&mut self.next_x, &mut self.next_y) } else { (&mut self.x, &mut self.y) };
        for lane in (0..L).filter(|&lane| self.active[lane]) {
            let first = lane * DRAW_BLOCK + sample;
            x[lane * d..][..d].copy_from_slice(&self.block_x[first * d..][..d]);
            y[lane] = self.block_y[first];
        }
    }
}

impl<const L: usize> Stepper for OneHiddenLanes<L> {
    fn replicas(&self) -> usize {
        L
    }

    fn model(&mut self, r: usize) -> &mut dyn Model {
        if self.active[r] {
            self.lanes.unload(r, self.nets[r].params_mut());
        }
        &mut self.nets[r]
    }

    fn set_params(&mut self, r: usize, params: &[f64]) {
        self.lanes.load(r, params);
        self.nets[r].params_mut().copy_from_slice(params);
        self.active[r] = true;
    }

    fn advance(&mut self, steps: u64, streams: &mut [ReplicaStreams<'_>], diverged: &mut [Option<Diverged>]) {
        for lane in 0..L {
            if diverged[lane].is_some() && self.active[lane] {
                self.active[lane] = false;
                self.lanes.clear(lane);
            }
        }
        (self.block_first, self.block_len) = (0, 0);
        let mut drawn = false;
        for k in 0..steps {
            if drawn {
                std::mem::swap(&mut self.x, &mut self.next_x);
                std::mem::swap(&mut self.y, &mut self.next_y);
            } else {
                self.draw(k, steps, false, streams);
            }
            drawn = k + 1 < steps;
            if drawn {
                self.draw(k + 1, steps, true, streams);
            }
            let next_x = if drawn { Some(&self.next_x[..]) } else { None };
            self.lanes.sgd_step(&self.x, &self.y, self.eta, &mut self.residual, next_x);
            for lane in 0..L {
                if self.active[lane] && !self.residual[lane].is_finite() {
                    diverged[lane] = Some(Diverged { completed: k, residual: self.residual[lane] });
                    self.active[lane] = false;
                    self.lanes.clear(lane);
                }
            }
        }
    }
}

/// The parameters and scratch of L replicas of an online [`OneHidden`] without bias, lane-interleaved: `c` is
/// N lanes, `w` N×d lanes (particle i's weights contiguous, each weight a lane), the scratch N lanes.
#[derive(Debug)]
pub(super) struct LaneNetworks<const L: usize> {
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

impl<const L: usize> LaneNetworks<L> {
    /// Lanes for networks of `config`, which must be online (max_batch 1) without bias; `builtin_tanh` says
    /// that its activation is the built-in tanh.
    pub(super) fn new(config: &OneHiddenConfig, prefactor: f64, builtin_tanh: bool) -> LaneNetworks<L> {
        let (n, d) = (config.width, config.dim);
        debug_assert!(!config.bias && config.max_batch == 1);
        LaneNetworks {
            width: n,
            dim: d,
            prefactor,
            train_c: config.train_c,
            train_w: config.train_w,
            activation: config.activation.clone(),
            builtin_tanh,
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

impl<const L: usize> LaneNetworks<L> {
    /// Sets lane `lane`'s parameters (laid out as [`Model::params`]).
    pub(super) fn load(&mut self, lane: usize, params: &[f64]) {
        let (n, d) = (self.width, self.dim);
        self.ahead = false;
        for (i, c) in params[..n].iter().enumerate() {
            self.c[i * L + lane] = *c;
        }
        for (k, w) in params[n..n + n * d].iter().enumerate() {
            self.w[k * L + lane] = *w;
        }
    }

    /// Copies lane `lane`'s parameters out (laid out as [`Model::params`]).
    pub(super) fn unload(&self, lane: usize, params: &mut [f64]) {
        let (n, d) = (self.width, self.dim);
        for (i, c) in params[..n].iter_mut().enumerate() {
            *c = self.c[i * L + lane];
        }
        for (k, w) in params[n..n + n * d].iter_mut().enumerate() {
            *w = self.w[k * L + lane];
        }
    }

    /// Sets lane `lane`'s parameters to zero: a finite state that costs the other lanes nothing.
    fn clear(&mut self, lane: usize) {
        self.ahead = false;
        for c in self.c.chunks_exact_mut(L) {
            c[lane] = 0.0;
        }
        for w in self.w.chunks_exact_mut(L) {
            w[lane] = 0.0;
        }
    }

    /// One step θ ← θ + η · direction of every lane, lane r with sample `x[r·d..(r + 1)·d]` and label
    /// `y[r]`: the bits [`OneHidden::plain_step`] leaves in lane r's replica alone. Writes each lane's
    /// residual. `next_x`, laid out as `x`, is the next step's samples, as for `plain_step`.
    pub(super) fn sgd_step(&mut self, x: &[f64], y: &[f64], eta: f64, residual: &mut [f64], next_x: Option<&[f64]>) {
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
    use crate::BuiltinActivation;
    use rand::{Rng, SeedableRng};

    /// L lanes for networks of `config`, whatever this machine would choose; `builtin_tanh` as the
    /// scenario declares it.
    fn lanes<const L: usize>(config: &OneHiddenConfig, builtin_tanh: bool) -> LaneNetworks<L> {
        LaneNetworks::<L>::new(config, (config.width as f64).powf(-config.beta), builtin_tanh)
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
        let mut lanes = lanes::<L>(&config, activation == BuiltinActivation::Tanh);
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
                net.plain_step(
                    &samples[step][r * dim..(r + 1) * dim],
                    &y[r..r + 1],
                    0.5,
                    &mut alone_residual,
                    lane_next,
                );
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
    /// none for fewer than four, a bias, a batch, or a network wide enough to split its own passes.
    #[test]
    fn lanes_are_as_wide_as_the_replicas_and_machine_allow() {
        let config = |dim: usize| OneHiddenConfig::mean_field(20, dim, Arc::new(BuiltinActivation::Tanh));
        let wide = if samples_fit_in_registers() { WIDE_LANES } else { LANES };
        let settings = meanfield_core::SgdSettings::new(meanfield_core::StepRule::Fixed(0.1), 20, 1, 0.0, 0.0);
        let group = |config: OneHiddenConfig, left: usize| {
            use meanfield_core::Dynamics;
            crate::OneHiddenSgd::new(config.check().unwrap(), &settings).map(|d| d.group(left))
        };
        assert_eq!(group(config(10), 64), Some(wide));
        assert_eq!(group(config(10), 8), Some(wide));
        assert_eq!(group(config(10), 7), Some(LANES));
        assert_eq!(group(config(10), 3), Some(1));
        assert_eq!(group(config(MAX_REGISTER_DIM + 1), 64), Some(LANES));
        assert_eq!(group(OneHiddenConfig { max_batch: 4, ..config(3) }, 64), Some(1));
        assert_eq!(group(OneHiddenConfig { width: 5000, ..config(20) }, 64), Some(1));
        assert_eq!(group(OneHiddenConfig { bias: true, ..config(3) }, 64), None, "a bias takes the general path");
    }

    /// A lane that diverges leaves the others untouched.
    #[test]
    fn a_diverged_lane_stays_in_its_lane() {
        diverged_lane_stays_in_its_lane::<LANES>();
        diverged_lane_stays_in_its_lane::<WIDE_LANES>();
    }

    fn diverged_lane_stays_in_its_lane<const L: usize>() {
        let config = OneHiddenConfig::mean_field(20, 3, Arc::new(BuiltinActivation::Tanh));
        let mut lanes = lanes::<L>(&config, true);
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
        let mut lanes = lanes::<L>(&config, false);
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
            net.plain_step(&x[r * dim..(r + 1) * dim], &y[r..r + 1], 0.5, &mut alone_residual, None);
            assert_eq!(residual[r].to_bits(), alone_residual[0].to_bits(), "lane {r}");
            assert_eq!(residual[r].is_nan(), r == 2);
            lanes.unload(r, &mut out);
            assert!(out.iter().zip(net.params()).all(|(a, b)| a.to_bits() == b.to_bits()), "lane {r}");
        }
    }
}

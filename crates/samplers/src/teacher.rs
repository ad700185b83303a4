//! Teacher–student data: inputs x (Gaussian, uniform on the unit sphere, or uniform in a box) labelled
//! by a fixed target function, with optional Gaussian label noise.

use meanfield_core::{Activation, DataDistribution, DataStream, InitLaw, Stream};
use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};
use std::sync::Arc;

/// The target function f*.
#[derive(Debug, Clone)]
pub enum Teacher {
    /// f*(x) = (1/K) Σ_k a_k σ(w_k·x): a fixed one-hidden-layer network with K units in the mean-field
    /// scaling. `w` is row-major K × d.
    Network { a: Vec<f64>, w: Vec<f64>, activation: Arc<dyn Activation> },
    /// f*(x) = link(w*·x).
    SingleIndex { w: Vec<f64>, link: Arc<dyn Activation> },
    /// Rotskoff–Vanden-Eijnden's spherical 3-spin energy f*(x) = Σ_pqr a_pqr x_p x_q x_r. `a` holds the
    /// d × d × d couplings (p, r, q)-major with each row over q padded with zeros to a whole register,
    /// a_pqr at [`three_spin_index`]`(d, p, q, r)`, so that the d sums over r of one p run side by side
    /// ([`three_spin`]). With a_pqr i.i.d. N(0, 1) and |x| = 1, E_a f*(x)² = |x|⁶ = 1.
    ThreeSpin { a: Vec<f64> },
    /// A mixture of 1-D Gaussian densities, f*(x) = Σ_k weight_k (2π var_k)^(−½) exp(−(x − centre_k)²/2var_k),
    /// of the first coordinate of x.
    Mixture { centres: Vec<f64>, variances: Vec<f64>, weights: Vec<f64> },
    /// f*(x) = b*·x with fixed coefficients b* (one per input coordinate).
    Linear { coefficients: Vec<f64> },
}

impl Teacher {
    /// Draws a teacher network: a_k from `a_law`, the entries of w_k from `w_law`, both from `rng` (the
    /// seed's shared Teacher stream), a first, then w.
    pub fn network(
        units: usize,
        dim: usize,
        activation: Arc<dyn Activation>,
        a_law: &dyn InitLaw,
        w_law: &dyn InitLaw,
        rng: &mut dyn RngCore,
    ) -> Teacher {
        let mut a = vec![0.0; units];
        let mut w = vec![0.0; units * dim];
        a_law.sample(rng, &mut a);
        w_law.sample(rng, &mut w);
        Teacher::Network { a, w, activation }
    }

    /// Draws a single-index teacher with direction w* from `w_law`.
    pub fn single_index(dim: usize, link: Arc<dyn Activation>, w_law: &dyn InitLaw, rng: &mut dyn RngCore) -> Teacher {
        let mut w = vec![0.0; dim];
        w_law.sample(rng, &mut w);
        Teacher::SingleIndex { w, link }
    }

    /// Draws the 3-spin couplings a_pqr i.i.d. N(0, 1) from `rng` (the seed's shared Teacher stream), in
    /// the order p, q, r.
    pub fn three_spin(dim: usize, rng: &mut dyn RngCore) -> Teacher {
        let d = dim;
        let mut a = vec![0.0; d * d * d.next_multiple_of(Q_BLOCK)];
        for p in 0..d {
            for q in 0..d {
                for r in 0..d {
                    a[three_spin_index(d, p, q, r)] = StandardNormal.sample(rng);
                }
            }
        }
        Teacher::ThreeSpin { a }
    }

    /// The scratch `eval` needs in `pre` and `act` for inputs of dimension `dim`: a value per unit of a
    /// network, per coordinate for the 3-spin energy.
    fn scratch_len(&self, dim: usize) -> usize {
        match self {
            Teacher::Network { a, .. } => a.len(),
            Teacher::ThreeSpin { .. } => SAMPLES * dim.next_multiple_of(Q_BLOCK),
            Teacher::SingleIndex { .. } | Teacher::Mixture { .. } | Teacher::Linear { .. } => 1,
        }
    }

    /// w·x, summed in index order.
    fn dot(w: &[f64], x: &[f64]) -> f64 {
        w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>()
    }

    /// f*(x), using `pre` and `act` (length `scratch_len(x.len())`) as scratch.
    fn eval(&self, x: &[f64], pre: &mut [f64], act: &mut [f64]) -> f64 {
        let dot = |w: &[f64]| Teacher::dot(w, x);
        match self {
            Teacher::Network { a, w, activation } => {
                for (p, wk) in pre.iter_mut().zip(w.chunks_exact(x.len())) {
                    *p = dot(wk);
                }
                activation.eval(pre, act, None);
                a.iter().zip(act.iter()).map(|(a, h)| a * h).sum::<f64>() / a.len() as f64
            }
            Teacher::SingleIndex { w, link } => {
                pre[0] = dot(w);
                link.eval(&pre[..1], &mut act[..1], None);
                act[0]
            }
            Teacher::ThreeSpin { a } => three_spin(a, x, pre),
            Teacher::Linear { coefficients } => dot(coefficients),
            Teacher::Mixture { centres, variances, weights } => {
                let t = x[0];
                centres
                    .iter()
                    .zip(variances)
                    .zip(weights)
                    .map(|((m, v), w)| {
                        w * (-(t - m) * (t - m) / (2.0 * v)).exp() / (2.0 * std::f64::consts::PI * v).sqrt()
                    })
                    .sum()
            }
        }
    }

    /// f*(x) of one input (allocates its scratch: for setting up, not for streams).
    pub fn target(&self, x: &[f64]) -> f64 {
        let len = self.scratch_len(x.len());
        let (mut pre, mut act) = (vec![0.0; len], vec![0.0; len]);
        self.eval(x, &mut pre, &mut act)
    }

    fn describe(&self) -> String {
        match self {
            Teacher::Linear { coefficients } => format!("linear({coefficients:?})"),
            Teacher::Network { a, activation, .. } => format!("network(K={},{})", a.len(), activation.name()),
            Teacher::SingleIndex { link, .. } => format!("single-index({})", link.name()),
            Teacher::ThreeSpin { .. } => "three-spin".to_owned(),
            Teacher::Mixture { centres, variances, weights } => {
                format!("mixture(centres={centres:?},variances={variances:?},weights={weights:?})")
            }
        }
    }
}

/// The law of the inputs x ∈ ℝ^d.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Inputs {
    /// x ~ N(0, I_d).
    #[default]
    Gaussian,
    /// x uniform on the unit sphere S^(d−1) (a normalised Gaussian vector).
    Sphere,
    /// Every coordinate uniform on [low, high).
    Uniform { low: f64, high: f64 },
}

impl Inputs {
    fn fill<R: RngCore + ?Sized>(self, rng: &mut R, x: &mut [f64]) {
        match self {
            Inputs::Gaussian => x.iter_mut().for_each(|v| *v = StandardNormal.sample(rng)),
            Inputs::Sphere => {
                x.iter_mut().for_each(|v| *v = StandardNormal.sample(rng));
                let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
                x.iter_mut().for_each(|v| *v /= norm);
            }
            Inputs::Uniform { low, high } => {
                let law = rand_distr::Uniform::new(low, high).expect("validated: low < high, both finite");
                x.iter_mut().for_each(|v| *v = law.sample(rng));
            }
        }
    }
}

/// y = f*(x) + noise·ε with x from `inputs`, ε ~ N(0, 1).
#[derive(Debug, Clone)]
pub struct TeacherStudent {
    pub dim: usize,
    pub teacher: Teacher,
    /// Standard deviation of the label noise.
    pub noise: f64,
    pub inputs: Inputs,
}

impl TeacherStudent {
    /// f*(x) for one input (allocates; for tests and one-off evaluation).
    pub fn target(&self, x: &[f64]) -> f64 {
        let k = self.teacher.scratch_len(self.dim);
        self.teacher.eval(x, &mut vec![0.0; k], &mut vec![0.0; k])
    }
}

impl DataDistribution for TeacherStudent {
    fn dim(&self) -> usize {
        self.dim
    }
    fn name(&self) -> String {
        let inputs = match self.inputs {
            Inputs::Gaussian => String::new(),
            Inputs::Sphere => ",inputs=sphere".to_owned(),
            Inputs::Uniform { low, high } => format!(",inputs=uniform({low},{high})"),
        };
        format!("teacher-student(d={},{},noise={}{inputs})", self.dim, self.teacher.describe(), self.noise)
    }
    fn stream(&self) -> Box<dyn DataStream + '_> {
        let k = self.teacher.scratch_len(self.dim).max(LABEL_CHUNK);
        Box::new(TeacherStream { dist: self, pre: vec![0.0; k], act: vec![0.0; k] })
    }
}

/// Samples a single-index teacher labels with one call of its link: one vector block of meanfield's tanh
/// (`meanfield_kernels::tanh`), rather than a call per label that waits on the latency of one tanh.
const LABEL_CHUNK: usize = 16;

struct TeacherStream<'a> {
    dist: &'a TeacherStudent,
    /// Scratch of at least `scratch_len(dim)` and [`LABEL_CHUNK`] entries.
    pre: Vec<f64>,
    act: Vec<f64>,
}

impl DataStream for TeacherStream<'_> {
    fn fill(&mut self, rng: &mut Stream, x: &mut [f64], y: &mut [f64]) {
        let (dim, noise) = (self.dist.dim, self.dist.noise);
        for (x, y) in x.chunks_mut(LABEL_CHUNK * dim).zip(y.chunks_mut(LABEL_CHUNK)) {
            // Every draw first, in the order sample by sample, inputs then noise, then the labels, which
            // draw nothing: y = f*(x) + noise·ε as for a sample drawn alone, f*(x) only computed later.
            for (xb, yb) in x.chunks_exact_mut(dim).zip(y.iter_mut()) {
                self.dist.inputs.fill(rng, xb);
                *yb = if noise > 0.0 {
                    let eps: f64 = StandardNormal.sample(rng);
                    noise * eps
                } else {
                    0.0
                };
            }
            match &self.dist.teacher {
                Teacher::ThreeSpin { a } => {
                    // Four samples at a time share each load of the couplings; the rest one by one.
                    let mut samples = x.chunks_exact(SAMPLES * dim);
                    let mut labels = y.chunks_exact_mut(SAMPLES);
                    for (xs, ys) in (&mut samples).zip(&mut labels) {
                        let mut f = [0.0; SAMPLES];
                        three_spin_samples::<SAMPLES>(a, xs, &mut self.pre, &mut f);
                        for (yb, f) in ys.iter_mut().zip(f) {
                            *yb = label(f, *yb, noise);
                        }
                    }
                    for (xb, yb) in samples.remainder().chunks_exact(dim).zip(labels.into_remainder()) {
                        *yb = label(three_spin(a, xb, &mut self.pre), *yb, noise);
                    }
                }
                Teacher::SingleIndex { w, link } => {
                    let n = y.len();
                    for (p, xb) in self.pre.iter_mut().zip(x.chunks_exact(dim)) {
                        *p = Teacher::dot(w, xb);
                    }
                    link.eval(&self.pre[..n], &mut self.act[..n], None);
                    for (yb, f) in y.iter_mut().zip(&self.act) {
                        *yb = label(*f, *yb, noise);
                    }
                }
                teacher => {
                    for (xb, yb) in x.chunks_exact(dim).zip(y.iter_mut()) {
                        *yb = label(teacher.eval(xb, &mut self.pre, &mut self.act), *yb, noise);
                    }
                }
            }
        }
    }
}

/// The q's of a register: [`Teacher::ThreeSpin`] pads its rows over q to a multiple of it.
const Q_BLOCK: usize = 8;
/// Registers of sums over r that [`three_spin_samples`] runs side by side for each sample, so that their
/// chains of additions overlap.
const Q_REGISTERS: usize = 4;
const _: () = assert!(Q_REGISTERS == 4, "`three_spin_samples` dispatches on 1 to 4 registers");
/// Samples whose 3-spin energies [`three_spin_samples`] computes together: with [`Q_REGISTERS`] registers
/// of sums each, 16 of AVX-512's 32.
const SAMPLES: usize = 4;

/// Where [`Teacher::ThreeSpin`] stores a_pqr for inputs of dimension `d`.
pub fn three_spin_index(d: usize, p: usize, q: usize, r: usize) -> usize {
    (p * d + r) * d.next_multiple_of(Q_BLOCK) + q
}

/// The 3-spin energy Σ_p x_p Σ_q x_q Σ_r a_pqr x_r of `a` as [`Teacher::ThreeSpin`] stores it, every sum
/// in index order from −0 with a product then an addition (as `Iterator::sum` of products sums).
/// `inner` holds d rounded up to [`Q_BLOCK`] values.
fn three_spin(a: &[f64], x: &[f64], inner: &mut [f64]) -> f64 {
    let mut f = [0.0];
    three_spin_samples::<1>(a, x, inner, &mut f);
    f[0]
}

/// [`three_spin`] of `S` inputs (`xs`, one after the other) into `f`. The d sums over r of one p are
/// independent, so they run side by side in registers, 32 q's at a time, each in its own order: the same
/// bits as summing them one after the other, where each sum of d dependent additions would wait on the
/// last (these sums are most of the work of a run with a 3-spin teacher, such as
/// `scenarios/rve_three_spin.ron`). With [`SAMPLES`] inputs every register of couplings is loaded
/// once for all of them: one at a time, the couplings (125 KB at d = 25, more than the L1 cache) would be
/// read again from L2 for every sample. `inner` holds `S` times d rounded up to [`Q_BLOCK`] values.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn three_spin_samples<const S: usize>(a: &[f64], xs: &[f64], inner: &mut [f64], f: &mut [f64; S]) {
    let d = xs.len() / S;
    let row = d.next_multiple_of(Q_BLOCK);
    let inner = &mut inner[..S * row];
    *f = [-0.0; S];
    for (p, a_p) in a.chunks_exact(d * row).enumerate() {
        for group in (0..row).step_by(Q_REGISTERS * Q_BLOCK) {
            match (row - group).min(Q_REGISTERS * Q_BLOCK) / Q_BLOCK {
                Q_REGISTERS => samples_over_r::<S, Q_REGISTERS>(a_p, xs, row, group, inner),
                3 => samples_over_r::<S, 3>(a_p, xs, row, group, inner),
                2 => samples_over_r::<S, 2>(a_p, xs, row, group, inner),
                _ => samples_over_r::<S, 1>(a_p, xs, row, group, inner),
            }
        }
        let mut over_q = [-0.0; S];
        for q in 0..d {
            for (s, over_q) in over_q.iter_mut().enumerate() {
                *over_q += xs[s * d + q] * inner[s * row + q];
            }
        }
        for (s, (f, over_q)) in f.iter_mut().zip(over_q).enumerate() {
            *f += xs[s * d + p] * over_q;
        }
    }
}

/// Σ_r a_pqr x_r of each of the `S` samples of `xs` for the `B` registers of q's from `q0` on (`a_p` the
/// couplings of one p), into `inner` (a row of q's per sample).
#[inline(always)]
fn samples_over_r<const S: usize, const B: usize>(a_p: &[f64], xs: &[f64], row: usize, q0: usize, inner: &mut [f64]) {
    let d = xs.len() / S;
    let mut sums = [[[-0.0; Q_BLOCK]; B]; S];
    for r in 0..d {
        let a: &[[f64; Q_BLOCK]] = a_p[r * row + q0..][..B * Q_BLOCK].as_chunks().0;
        for (s, sums) in sums.iter_mut().enumerate() {
            let xr = xs[s * d + r];
            for (sums, a) in sums.iter_mut().zip(a) {
                for l in 0..Q_BLOCK {
                    sums[l] += a[l] * xr;
                }
            }
        }
    }
    for (s, sums) in sums.iter().enumerate() {
        inner[s * row + q0..][..B * Q_BLOCK].copy_from_slice(sums.as_flattened());
    }
}

/// f*(x) + noise·ε given noise·ε, added in this order for every teacher and batch, so that a label has the
/// same bits however it was drawn (with no noise, f*(x) itself).
fn label(target: f64, noise_term: f64, noise: f64) -> f64 {
    if noise > 0.0 { target + noise_term } else { target }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::Gaussian;
    use meanfield_core::{Purpose, StreamKey};
    use meanfield_models::BuiltinActivation;

    #[test]
    fn network_teacher_is_the_mean_field_average() {
        let teacher = Teacher::Network {
            a: vec![2.0, -1.0],
            w: vec![1.0, 0.0, 0.0, 1.0],
            activation: Arc::new(BuiltinActivation::Tanh),
        };
        let data = TeacherStudent { dim: 2, teacher, noise: 0.0, inputs: Inputs::Gaussian };
        let x = [0.3, -0.7];
        let tanh = meanfield_kernels::tanh;
        assert_eq!(data.target(&x), (2.0 * tanh(0.3) - tanh(-0.7)) / 2.0);
    }

    /// A batch (37 samples: two label chunks and a part) draws the same inputs, noise and labels, and leaves
    /// the stream at the same place, as the samples drawn one at a time; each label is f*(x) + σε with f*(x)
    /// computed alone ([`TeacherStudent::target`]).
    #[test]
    fn a_batch_is_the_samples_drawn_one_by_one() {
        let tanh: Arc<dyn Activation> = Arc::new(BuiltinActivation::Tanh);
        let w_law = Gaussian { mean: 0.0, std: 0.5 };
        let rng = || StreamKey::shared(3, Purpose::Teacher).stream();
        let teachers = [
            Teacher::single_index(4, tanh.clone(), &w_law, &mut rng()),
            Teacher::network(3, 4, tanh, &w_law, &w_law, &mut rng()),
            Teacher::three_spin(4, &mut rng()),
        ];
        for teacher in teachers {
            for noise in [0.0, 0.3] {
                let data = TeacherStudent { dim: 4, teacher: teacher.clone(), noise, inputs: Inputs::Gaussian };
                let n = 2 * LABEL_CHUNK + 5;
                let mut rng_batch = StreamKey::shared(4, Purpose::Data).stream();
                let mut rng_one = rng_batch.clone();
                let (mut x, mut y) = (vec![0.0; n * 4], vec![0.0; n]);
                data.stream().fill(&mut rng_batch, &mut x, &mut y);
                let mut one = data.stream();
                let (mut x1, mut y1) = ([0.0; 4], [0.0]);
                for (xb, yb) in x.chunks_exact(4).zip(&y) {
                    one.fill(&mut rng_one, &mut x1, &mut y1);
                    assert_eq!(x1.map(f64::to_bits), <[f64; 4]>::try_from(xb).unwrap().map(f64::to_bits));
                    assert_eq!(y1[0].to_bits(), yb.to_bits(), "{} noise {noise}", teacher.describe());
                    let target = data.target(xb);
                    if noise == 0.0 {
                        assert_eq!(target.to_bits(), yb.to_bits());
                    } else {
                        // |σε| < 5σ, and not 0: the noise is there.
                        assert!((yb - target).abs() < 5.0 * noise && yb != &target);
                    }
                }
                assert_eq!(rng_batch.get_word_pos(), rng_one.get_word_pos());
            }
        }
    }

    /// With a linear single-index teacher y = w*·x + σε, Var y = |w*|² + σ². 50 000 samples give a
    /// relative standard error √(2/n) ≈ 0.0063 for the variance; 4 % is > 6 standard errors, and
    /// forgetting the noise (σ² = 1 of a total ≈ 2) would be off by 50 %.
    #[test]
    fn labels_carry_the_noise() {
        let mut rng = StreamKey::shared(2, Purpose::Teacher).stream();
        let w_law = Gaussian { mean: 0.0, std: 1.0 / 2.0 };
        let teacher = Teacher::single_index(4, Arc::new(BuiltinActivation::Identity), &w_law, &mut rng);
        let Teacher::SingleIndex { w, .. } = &teacher else { unreachable!() };
        let signal: f64 = w.iter().map(|w| w * w).sum();
        let data = TeacherStudent { dim: 4, teacher, noise: 1.0, inputs: Inputs::Gaussian };
        let n = 50_000;
        let (mut x, mut y) = (vec![0.0; n * 4], vec![0.0; n]);
        data.stream().fill(&mut StreamKey::shared(2, Purpose::Data).stream(), &mut x, &mut y);
        let var = y.iter().map(|y| y * y).sum::<f64>() / n as f64;
        assert!((var / (signal + 1.0) - 1.0).abs() < 0.04, "var {var} vs {}", signal + 1.0);
    }

    /// The sums over r side by side give the bits of summing them one after the other, as the plain
    /// definition of the energy does (nested `Iterator::sum`s of products).
    #[test]
    fn three_spin_sums_as_nested_iterator_sums_bitwise() {
        let mut rng = StreamKey::shared(6, Purpose::Teacher).stream();
        for d in [1, 2, 3, 7, 8, 9, 25, 33] {
            let Teacher::ThreeSpin { a } = Teacher::three_spin(d, &mut rng) else { unreachable!() };
            for _ in 0..20 {
                let x: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
                let nested: f64 = (0..d)
                    .map(|p| {
                        x[p] * (0..d)
                            .map(|q| x[q] * (0..d).map(|r| a[three_spin_index(d, p, q, r)] * x[r]).sum::<f64>())
                            .sum::<f64>()
                    })
                    .sum();
                let mut inner = vec![f64::NAN; d.next_multiple_of(Q_BLOCK)];
                assert_eq!(three_spin(&a, &x, &mut inner).to_bits(), nested.to_bits(), "d = {d}");
            }
        }
    }

    /// Four samples together give each one's bits alone.
    #[test]
    fn three_spin_samples_are_each_sample_alone_bitwise() {
        let mut rng = StreamKey::shared(7, Purpose::Teacher).stream();
        for d in [1, 2, 3, 7, 8, 9, 25, 33] {
            let Teacher::ThreeSpin { a } = Teacher::three_spin(d, &mut rng) else { unreachable!() };
            let xs: Vec<f64> = (0..SAMPLES * d).map(|_| StandardNormal.sample(&mut rng)).collect();
            let mut inner = vec![f64::NAN; SAMPLES * d.next_multiple_of(Q_BLOCK)];
            let mut together = [0.0; SAMPLES];
            three_spin_samples::<SAMPLES>(&a, &xs, &mut inner, &mut together);
            for (s, f) in together.iter().enumerate() {
                let alone = three_spin(&a, &xs[s * d..(s + 1) * d], &mut inner);
                assert_eq!(f.to_bits(), alone.to_bits(), "d = {d}, sample {s}");
            }
        }
    }

    /// Against a direct triple sum, and f(λx) = λ³ f(x).
    #[test]
    fn three_spin_is_the_cubic_form() {
        let d = 3;
        let teacher = Teacher::three_spin(d, &mut StreamKey::shared(5, Purpose::Teacher).stream());
        let Teacher::ThreeSpin { a } = &teacher else { unreachable!() };
        let data = TeacherStudent { dim: d, teacher: teacher.clone(), noise: 0.0, inputs: Inputs::Sphere };
        let x = [0.6, -0.8, 0.3];
        let mut direct = 0.0;
        for p in 0..d {
            for q in 0..d {
                for r in 0..d {
                    direct += a[three_spin_index(d, p, q, r)] * x[p] * x[q] * x[r];
                }
            }
        }
        assert!((data.target(&x) - direct).abs() < 1e-12);
        let doubled: Vec<f64> = x.iter().map(|v| 2.0 * v).collect();
        assert!((data.target(&doubled) - 8.0 * direct).abs() < 1e-11);
    }

    /// Sphere inputs have |x| = 1 and E[x_p²] = 1/d: over n = 20 000 draws of d = 5 the standard error
    /// of a coordinate's mean square is ≈ √(Var x²/n) < 0.0015, so 0.01 is > 6 standard errors, and
    /// Gaussian inputs (E x² = 1) would be off by 0.8.
    #[test]
    fn sphere_inputs_are_uniform_on_the_unit_sphere() {
        let (d, n) = (5, 20_000);
        let teacher = Teacher::three_spin(d, &mut StreamKey::shared(5, Purpose::Teacher).stream());
        let data = TeacherStudent { dim: d, teacher, noise: 0.0, inputs: Inputs::Sphere };
        let (mut x, mut y) = (vec![0.0; n * d], vec![0.0; n]);
        data.stream().fill(&mut StreamKey::shared(5, Purpose::Data).stream(), &mut x, &mut y);
        for xb in x.chunks_exact(d) {
            assert!((xb.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12);
        }
        for p in 0..d {
            let m2 = x.iter().skip(p).step_by(d).map(|v| v * v).sum::<f64>() / n as f64;
            assert!((m2 - 1.0 / d as f64).abs() < 0.01, "coordinate {p}: {m2}");
        }
    }

    /// At a centre far from the others only its own bump counts: f(m) = w (2πv)^(−½).
    #[test]
    fn mixture_target_is_a_sum_of_gaussian_densities() {
        let teacher =
            Teacher::Mixture { centres: vec![-20.0, 0.0], variances: vec![1.0, 0.5], weights: vec![1.0, -2.0] };
        let data = TeacherStudent { dim: 1, teacher, noise: 0.0, inputs: Inputs::Uniform { low: -4.0, high: 4.0 } };
        let expected = -2.0 / (2.0 * std::f64::consts::PI * 0.5).sqrt();
        assert!((data.target(&[0.0]) - expected).abs() < 1e-12);
    }
}

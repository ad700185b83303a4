//! Kernel / RBF particles (Rotskoff–Vanden-Eijnden): ŷ(x) = (1/n) Σ_i c_i φ(x, z_i) with particles
//! θ_i = (c_i, z_i). The direction of particle i is r·(φ(x, z_i), c_i ∇_z φ(x, z_i)), r = y − ŷ, averaged
//! over the batch (the one-hidden-layer convention: n·∂ŷ/∂θ_i).

pub mod population;

use crate::Checked;
use crate::batched::{Batched, predict_in_chunks};
use crate::one_hidden::ModelError;
use meanfield_core::{Block, Model};

/// The unit φ(x, z).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kernel {
    /// φ = exp(−|x − z|² / 2s²), s the bandwidth.
    Gaussian { bandwidth: f64 },
    /// φ = max(0, z·x / |z|): a ReLU unit whose direction lives on the sphere. Written scale-free in z,
    /// so that the gradient is tangent to the sphere (z·∇_z φ = 0) and SGD needs no projection: |z| only
    /// changes at second order in the step and never matters.
    ReluSphere,
}

impl Kernel {
    /// φ(x, z), and ∇_z φ into `grad` when given.
    #[inline]
    fn eval(self, x: &[f64], z: &[f64], grad: Option<&mut [f64]>) -> f64 {
        match self {
            Kernel::Gaussian { bandwidth } => {
                let inv_s2 = 1.0 / (bandwidth * bandwidth);
                let r2: f64 = x.iter().zip(z).map(|(a, b)| (a - b) * (a - b)).sum();
                let phi = (-0.5 * r2 * inv_s2).exp();
                if let Some(grad) = grad {
                    for ((g, x), z) in grad.iter_mut().zip(x).zip(z) {
                        *g = phi * (x - z) * inv_s2;
                    }
                }
                phi
            }
            Kernel::ReluSphere => {
                let norm = z.iter().map(|v| v * v).sum::<f64>().sqrt();
                let dot: f64 = x.iter().zip(z).map(|(a, b)| a * b).sum();
                let t = dot / norm;
                if let Some(grad) = grad {
                    if t > 0.0 {
                        // ∇_z (z·x/|z|) = x/|z| − (z·x) z/|z|³
                        for ((g, x), z) in grad.iter_mut().zip(x).zip(z) {
                            *g = x / norm - t * z / (norm * norm);
                        }
                    } else {
                        grad.fill(0.0);
                    }
                }
                t.max(0.0)
            }
        }
    }

    /// A short description for model names.
    pub fn describe(self) -> String {
        match self {
            Kernel::Gaussian { bandwidth } => format!("gaussian(s={bandwidth})"),
            Kernel::ReluSphere => "relu-sphere".to_owned(),
        }
    }
}

/// Shape and training switches of a [`KernelParticles`] model.
#[derive(Debug, Clone)]
pub struct KernelConfig {
    pub width: usize,
    pub dim: usize,
    pub kernel: Kernel,
    pub train_c: bool,
    pub train_z: bool,
    pub max_batch: usize,
}

/// Blocks `c` (n×1) and `z` (n×d). All parameters start at zero; initial laws are applied by the caller.
#[derive(Debug)]
pub struct KernelParticles {
    config: KernelConfig,
    blocks: Vec<Block>,
    params: Vec<f64>,
    /// φ(x_b, z_i) for a batch, sample-major.
    phi: Vec<f64>,
    grad: Vec<f64>,
}

impl KernelConfig {
    /// Checks the dimensions: every size at least 1.
    pub fn check(self) -> Result<Checked<KernelConfig>, ModelError> {
        for (what, value) in [("width", self.width), ("input dimension", self.dim), ("batch", self.max_batch)] {
            if value == 0 {
                return Err(ModelError::Zero { what });
            }
        }
        Ok(Checked(self))
    }
}

impl KernelParticles {
    pub fn new(config: KernelConfig) -> Result<Self, ModelError> {
        Ok(KernelParticles::from_checked(&config.check()?))
    }

    /// Particles of a checked configuration, with zero parameters.
    pub fn from_checked(config: &Checked<KernelConfig>) -> KernelParticles {
        let config = config.get().clone();
        let (n, d) = (config.width, config.dim);
        let blocks = vec![
            Block { name: "c".into(), offset: 0, rows: n, cols: 1, trainable: config.train_c },
            Block { name: "z".into(), offset: n, rows: n, cols: d, trainable: config.train_z },
        ];
        KernelParticles {
            blocks,
            params: vec![0.0; n + n * d],
            phi: vec![0.0; config.max_batch * n],
            grad: vec![0.0; d],
            config,
        }
    }

    fn forward(&mut self, x: &[f64], n: usize) {
        let (width, d) = (self.config.width, self.config.dim);
        let z = &self.params[width..];
        for (xb, phi) in x.chunks_exact(d).take(n).zip(self.phi.chunks_exact_mut(width)) {
            for (zi, p) in z.chunks_exact(d).zip(phi.iter_mut()) {
                *p = self.config.kernel.eval(xb, zi, None);
            }
        }
    }

    fn output(&self, b: usize) -> f64 {
        let width = self.config.width;
        let c = &self.params[..width];
        c.iter().zip(&self.phi[b * width..(b + 1) * width]).map(|(c, p)| c * p).sum::<f64>() / width as f64
    }
}

impl Batched for KernelParticles {
    fn shape(&self) -> (usize, usize) {
        (self.config.dim, self.config.max_batch)
    }
    fn forward_values(&mut self, x: &[f64], n: usize) {
        self.forward(x, n);
    }
    fn output(&self, b: usize) -> f64 {
        KernelParticles::output(self, b)
    }
}

impl Model for KernelParticles {
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
        1.0
    }

    fn predict(&mut self, x: &[f64], out: &mut [f64]) {
        predict_in_chunks(self, x, out);
    }

    fn descent_direction(&mut self, x: &[f64], y: &[f64], residual: &mut [f64], direction: &mut [f64]) {
        let n = y.len();
        debug_assert!(n <= self.config.max_batch && residual.len() == n && direction.len() == self.params.len());
        let (width, d) = (self.config.width, self.config.dim);
        self.forward(x, n);
        for b in 0..n {
            residual[b] = y[b] - self.output(b);
        }
        let inv_n = 1.0 / n as f64;
        let (params_c, z) = self.params.split_at(width);
        let (dir_c, dir_z) = direction.split_at_mut(width);
        if self.config.train_c {
            dir_c.fill(0.0);
            for (r, phi) in residual.iter().zip(self.phi.chunks_exact(width)) {
                for (g, p) in dir_c.iter_mut().zip(phi) {
                    *g += r * inv_n * p;
                }
            }
        }
        if self.config.train_z {
            dir_z.fill(0.0);
            for (b, xb) in x.chunks_exact(d).take(n).enumerate() {
                let r = residual[b] * inv_n;
                for ((zi, gi), c) in z.chunks_exact(d).zip(dir_z.chunks_exact_mut(d)).zip(params_c) {
                    self.config.kernel.eval(xb, zi, Some(&mut self.grad));
                    for (g, k) in gi.iter_mut().zip(&self.grad) {
                        *g += r * c * k;
                    }
                }
            }
        }
    }

    fn clone_box(&self) -> Box<dyn Model> {
        let mut copy = KernelParticles::from_checked(&Checked(self.config.clone()));
        copy.params.copy_from_slice(&self.params);
        Box::new(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn particles(kernel: Kernel, n: usize, d: usize, batch: usize, seed: u64) -> KernelParticles {
        let config = KernelConfig { width: n, dim: d, kernel, train_c: true, train_z: true, max_batch: batch };
        let mut model = KernelParticles::new(config).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for p in model.params_mut() {
            *p = rng.random_range(-1.0..1.0);
        }
        model
    }

    fn batch_loss(model: &mut KernelParticles, x: &[f64], y: &[f64]) -> f64 {
        let mut yhat = vec![0.0; y.len()];
        model.predict(x, &mut yhat);
        y.iter().zip(&yhat).map(|(y, p)| 0.5 * (y - p) * (y - p)).sum::<f64>() / y.len() as f64
    }

    /// Both blocks of both kernels: direction = −n ∂L/∂θ, central differences at h = 1e-6 (exact to ~1e-9
    /// relative away from the ReLU kink, which random inputs avoid almost surely); a wrong factor n, a
    /// wrong sign or a non-tangent ReLU gradient would miss by far more than 1e-6.
    #[test]
    fn descent_direction_matches_finite_differences() {
        for kernel in [Kernel::Gaussian { bandwidth: 0.7 }, Kernel::ReluSphere] {
            let (n, d, batch) = (5, 3, 4);
            let mut model = particles(kernel, n, d, batch, 2);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
            let x: Vec<f64> = (0..batch * d).map(|_| rng.random_range(-1.0..1.0)).collect();
            let y: Vec<f64> = (0..batch).map(|_| rng.random_range(-1.0..1.0)).collect();
            let (mut residual, mut direction) = (vec![0.0; batch], vec![0.0; model.params().len()]);
            model.descent_direction(&x, &y, &mut residual, &mut direction);
            let h = 1e-6;
            for k in 0..model.params().len() {
                let orig = model.params()[k];
                model.params_mut()[k] = orig + h;
                let plus = batch_loss(&mut model, &x, &y);
                model.params_mut()[k] = orig - h;
                let minus = batch_loss(&mut model, &x, &y);
                model.params_mut()[k] = orig;
                let fd = -(n as f64) * (plus - minus) / (2.0 * h);
                assert!(
                    (fd - direction[k]).abs() < 1e-6 * fd.abs().max(1e-3),
                    "{kernel:?}: param {k}: direction {} vs fd {fd}",
                    direction[k]
                );
            }
        }
    }

    /// The ReLU-on-the-sphere gradient is tangent: z·∇_z φ = 0, so the radius of z does not move at first order.
    #[test]
    fn relu_sphere_gradient_is_tangent() {
        let (x, z) = ([0.3, -0.5, 0.8], [0.9, -0.2, 0.4]);
        let mut grad = [0.0; 3];
        let phi = Kernel::ReluSphere.eval(&x, &z, Some(&mut grad));
        assert!(phi > 0.0);
        assert!(grad.iter().zip(&z).map(|(g, z)| g * z).sum::<f64>().abs() < 1e-15);
    }

    proptest::proptest! {
        /// Permuting particles leaves predictions unchanged and permutes the direction (1e-12 relative).
        #[test]
        fn permuting_particles_is_a_symmetry(seed in 0u64..1000, shift in 1usize..5) {
            let (n, d, batch) = (5, 2, 3);
            for kernel in [Kernel::Gaussian { bandwidth: 0.5 }, Kernel::ReluSphere] {
                let mut model = particles(kernel, n, d, batch, seed);
                let mut other = particles(kernel, n, d, batch, seed);
                let perm: Vec<usize> = (0..n).map(|i| (i + shift) % n).collect();
                let permute = |v: &[f64]| {
                    let mut out = vec![0.0; v.len()];
                    for (new, &old) in perm.iter().enumerate() {
                        out[new] = v[old];
                        out[n + new * d..n + (new + 1) * d].copy_from_slice(&v[n + old * d..n + (old + 1) * d]);
                    }
                    out
                };
                let moved = permute(model.params());
                other.params_mut().copy_from_slice(&moved);
                let x: Vec<f64> = (0..batch * d).map(|k| ((k as f64 + seed as f64) * 0.9).cos()).collect();
                let y = [0.1, -0.4, 0.7];
                let (mut r1, mut r2) = ([0.0; 3], [0.0; 3]);
                let (mut g1, mut g2) = (vec![0.0; moved.len()], vec![0.0; moved.len()]);
                model.descent_direction(&x, &y, &mut r1, &mut g1);
                other.descent_direction(&x, &y, &mut r2, &mut g2);
                for b in 0..batch {
                    proptest::prop_assert!((r1[b] - r2[b]).abs() <= 1e-12);
                }
                for (a, b) in permute(&g1).iter().zip(&g2) {
                    proptest::prop_assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0));
                }
            }
        }
    }
}

//! Activation functions σ evaluated over slices.

use std::fmt::Debug;

/// A scalar activation σ with its exact derivative, applied elementwise to slices.
///
/// Implementations are shared read-only between replicas running on several threads, hence `Sync`.
pub trait Activation: Send + Sync + Debug {
    /// A short name used in output columns and messages (`tanh`, `ramp(s1=…)`).
    fn name(&self) -> String;

    /// Writes `value[i] = σ(z[i])` and, when `derivative` is given, `derivative[i] = σ'(z[i])`.
    /// All slices have the same length. At points where σ is not differentiable (relu at 0, ramp kinks)
    /// the right derivative is used.
    fn eval(&self, z: &[f64], value: &mut [f64], derivative: Option<&mut [f64]>);

    /// The points where σ is not smooth (relu: 0; ramp: t1, t2). Quadrature of the mean-field kernels
    /// splits its panels there, which keeps it spectrally accurate; an activation that leaves a kink out
    /// still integrates correctly, only more slowly converging.
    fn breakpoints(&self) -> Vec<f64> {
        Vec::new()
    }
}

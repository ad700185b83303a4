//! Models: a population of N particles whose average is the network's prediction.

use std::fmt::Debug;

/// One named block of parameters inside a model's contiguous parameter vector: `rows` particles with
/// `cols` entries each, stored row-major at `offset..offset + rows * cols`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub name: String,
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub trainable: bool,
}

impl Block {
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.rows * self.cols
    }
}

/// A network seen as a particle system.
///
/// All parameters live in one contiguous vector split into [`Block`]s, so that update rules, observables
/// and checkpoints can treat every model alike. Models own the scratch space they need for batches of up
/// to [`Model::max_batch`] samples, so that prediction and gradients never allocate.
pub trait Model: Send + Debug {
    /// The parameter blocks, in storage order.
    fn blocks(&self) -> &[Block];
    /// All parameters.
    fn params(&self) -> &[f64];
    /// All parameters, mutable.
    fn params_mut(&mut self) -> &mut [f64];
    /// Input dimension d.
    fn input_dim(&self) -> usize;
    /// Number of particles N (hidden units).
    fn width(&self) -> usize;
    /// Largest batch the scratch space holds; larger inputs to [`Model::predict`] are processed in chunks.
    fn max_batch(&self) -> usize;

    /// Writes ŷ(x_b) for each row of `x` (row-major `n × d`, `n = out.len()`).
    fn predict(&mut self, x: &[f64], out: &mut [f64]);

    /// For a batch of `n = y.len() ≤ max_batch()` samples, writes the residuals `residual[b] = y_b − ŷ(x_b)`
    /// and the descent direction averaged over the batch,
    /// `direction[θ] = (1/n) Σ_b residual[b] · ∂u(x_b; θ_i)/∂θ` for every trainable parameter, where u is one
    /// particle's contribution without the N^(−β) prefactor. Entries of frozen blocks are left untouched.
    /// This is the step direction of DESIGN.md §1: the update is θ ← θ + η · direction.
    fn descent_direction(&mut self, x: &[f64], y: &[f64], residual: &mut [f64], direction: &mut [f64]);

    /// The mean-field prefactor exponent β of ŷ = N^(−β) Σ u.
    fn beta(&self) -> f64;

    /// A deep copy (same parameters, fresh scratch).
    fn clone_box(&self) -> Box<dyn Model>;
}

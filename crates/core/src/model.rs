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

    /// Plain SGD in one pass, θ ← θ + η · direction on the trainable blocks, without writing the direction
    /// out and reading it back: writes the residuals as [`Model::descent_direction`] does and returns `true`,
    /// or returns `false` without touching anything when the model has no fused step (the default; the
    /// caller then uses `descent_direction`). A fused step leaves the parameters that `descent_direction`
    /// followed by `θ += η · direction` leaves, up to rounding: it may round fewer times (an online step of
    /// a one-hidden-layer network adds each update, one product, to θ with a single rounding). Which of the
    /// two a run takes depends only on its scenario (plain SGD: no noise, no weight decay), so every run is
    /// still reproducible bit for bit.
    ///
    /// `next_x`, when given, is the batch of the following step, already drawn: a model may do part of that
    /// step's forward pass now (while the weights it has just written are in cache) and reuse it if the
    /// next call brings the same batch and nothing touched the parameters or its scratch in between. It
    /// must give the same bits either way.
    fn fused_sgd_step(
        &mut self,
        _x: &[f64],
        _y: &[f64],
        _eta: f64,
        _residual: &mut [f64],
        _next_x: Option<&[f64]>,
    ) -> bool {
        false
    }

    /// Several replicas of this model stepped together, one per vector lane, for ensembles of networks
    /// too small to fill the vector units alone: lanes for at most `replicas` replicas, as many as the model
    /// finds fastest on this machine ([`Lockstep::lanes`]), or `None` (the default) when the model has no
    /// such path for its configuration or for so few replicas. The lanes start with zero parameters; the
    /// caller loads each replica's.
    fn lockstep(&self, replicas: usize) -> Option<Box<dyn Lockstep>> {
        let _ = replicas;
        None
    }

    /// The mean-field prefactor exponent β of ŷ = N^(−β) Σ u.
    fn beta(&self) -> f64;

    /// A deep copy (same parameters, fresh scratch).
    fn clone_box(&self) -> Box<dyn Model>;
}

/// Replicas of one model, stepped together by plain online SGD with each replica in a vector lane (see
/// [`Model::lockstep`]). Every lane computes exactly what its replica would alone: after
/// [`Lockstep::sgd_step`], lane r holds bit for bit the parameters that [`Model::fused_sgd_step`] with
/// lane r's sample leaves in a copy of the model holding lane r's parameters, and `residual[r]` is that
/// step's residual. Lanes never mix, so a diverged lane's non-finite values stay in that lane.
pub trait Lockstep: Send + Debug {
    /// The number of replicas it steps.
    fn lanes(&self) -> usize;
    /// Sets lane `lane`'s parameters (a slice laid out as [`Model::params`]).
    fn load(&mut self, lane: usize, params: &[f64]);
    /// Copies lane `lane`'s parameters out (laid out as [`Model::params`]).
    fn unload(&self, lane: usize, params: &mut [f64]);
    /// One step θ ← θ + η · direction of every lane, lane r with sample `x[r·d..(r + 1)·d]` and label
    /// `y[r]`; writes each lane's residual. `next_x`, laid out as `x`, is the next step's samples, as in
    /// [`Model::fused_sgd_step`].
    fn sgd_step(&mut self, x: &[f64], y: &[f64], eta: f64, residual: &mut [f64], next_x: Option<&[f64]>);
}

//! Update rules that move the particles of a [`Model`].

use crate::model::Model;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// How the step size η relates to the width N, and so how steps map to physical time.
///
/// - `Fixed(η)`: η does not depend on N; physical time is t_k = k·η (Mei et al.).
/// - `PerNeuron(α)`: η = α/N and t_k = k·η/α = k/N (Sirignano–Spiliopoulos: N·T iterations reach time T,
///   neurons and iterations grow together).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum StepRule {
    Fixed(f64),
    PerNeuron(f64),
}

impl StepRule {
    /// The step size η at width `width`.
    pub fn step_size(self, width: usize) -> f64 {
        match self {
            StepRule::Fixed(eta) => eta,
            StepRule::PerNeuron(alpha) => alpha / width as f64,
        }
    }

    /// Physical time advanced by one step at width `width`.
    pub fn time_per_step(self, width: usize) -> f64 {
        match self {
            StepRule::Fixed(eta) => eta,
            StepRule::PerNeuron(_) => 1.0 / width as f64,
        }
    }

    /// The number given in the scenario (η or α).
    pub fn value(self) -> f64 {
        match self {
            StepRule::Fixed(v) | StepRule::PerNeuron(v) => v,
        }
    }
}

/// Per-replica buffers of an update rule, allocated once before the step loop.
#[derive(Debug, Clone)]
pub struct StepWorkspace {
    pub direction: Vec<f64>,
    pub residual: Vec<f64>,
}

impl StepWorkspace {
    pub fn new(num_params: usize, batch: usize) -> Self {
        StepWorkspace { direction: vec![0.0; num_params], residual: vec![0.0; batch] }
    }
}

/// A step produced a non-finite residual: the replica has diverged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonFinite {
    /// The first non-finite residual seen.
    pub residual: f64,
}

/// One update rule θ ← F(θ, batch, noise). Shared read-only by all replicas of a sweep point.
pub trait Dynamics: Send + Sync + Debug {
    /// Samples consumed per step.
    fn batch_size(&self) -> usize;
    /// The step rule (η and the time convention).
    fn step_rule(&self) -> StepRule;
    /// Whether [`Dynamics::step`] draws from its noise stream (so the runner can skip creating it).
    fn uses_noise(&self) -> bool;
    /// A short description for summaries.
    fn name(&self) -> String;
    /// η when every step is exactly plain online SGD, θ ← θ + η·direction on one sample with no decay and
    /// no noise (what [`crate::Lockstep`] steps); `None` otherwise (the default).
    fn plain_online_step(&self) -> Option<f64> {
        None
    }

    /// Performs one step on `model` with the batch `(x, y)`. Must not allocate. Returns `Err` when the
    /// batch residual is not finite; the model may then hold non-finite values.
    fn step(
        &self,
        model: &mut dyn Model,
        x: &[f64],
        y: &[f64],
        work: &mut StepWorkspace,
        noise: &mut dyn RngCore,
    ) -> Result<(), NonFinite>;

    /// [`Dynamics::step`] when the caller has already drawn the next step's batch `next_x`, which a
    /// dynamics may pass on to [`Model::fused_sgd_step`]. The same result as `step`, bit for bit (the
    /// default ignores `next_x`).
    fn step_before(
        &self,
        model: &mut dyn Model,
        x: &[f64],
        y: &[f64],
        _next_x: Option<&[f64]>,
        work: &mut StepWorkspace,
        noise: &mut dyn RngCore,
    ) -> Result<(), NonFinite> {
        self.step(model, x, y, work, noise)
    }
}

//! Update rules that move the particles (DESIGN.md §1, dynamics): a point's [`Dynamics`], chosen once when
//! the scenario is built, makes the [`Stepper`]s that advance its replicas by SGD steps.
//!
//! argmin's split: the stepper is the solver, the executor drives it, observables are the observers. A
//! stepper knows nothing of records, checkpoints or Ctrl-C: the executor advances it in bounded chunks that
//! end at record points and at the points where it may save or stop, and looks at the replicas between
//! chunks.

use crate::data::DataStream;
use crate::model::Model;
use crate::rng::Stream;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// How the step size η relates to the width N, and so how steps map to physical time.
///
/// - `Fixed(η)`: η does not depend on N; physical time is t_k = k·η (Mei et al.).
/// - `PerNeuron(α)`: η = α/N and t_k = k·η/α = k/N (Sirignano–Spiliopoulos: N·T iterations reach time T,
///   neurons and iterations grow together).
/// - `Scaled { eta0, exponent }`: η = η0·N^exponent and t_k = k·η, so every width runs to the same time
///   with its own step (Rotskoff–Vanden-Eijnden: SGD noise at the 1/N scale is `exponent: -1.0`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum StepRule {
    Fixed(f64),
    PerNeuron(f64),
    Scaled { eta0: f64, exponent: f64 },
}

impl StepRule {
    /// The step size η at width `width`.
    pub fn step_size(self, width: usize) -> f64 {
        match self {
            StepRule::Fixed(eta) => eta,
            StepRule::PerNeuron(alpha) => alpha / width as f64,
            StepRule::Scaled { eta0, exponent } => eta0 * (width as f64).powf(exponent),
        }
    }

    /// Physical time advanced by one step at width `width`.
    pub fn time_per_step(self, width: usize) -> f64 {
        match self {
            StepRule::Fixed(eta) => eta,
            StepRule::PerNeuron(_) => 1.0 / width as f64,
            StepRule::Scaled { .. } => self.step_size(width),
        }
    }
}

/// The settings of the SGD family (DESIGN.md §1): θ ← (1 − ηλ)θ + η·(1/B) Σ_b (y_b − ŷ_b) ∇u(x_b; θ) +
/// √(2ητ) g on the trainable blocks, g standard normal. Online SGD has B = 1; noisy SGD (Langevin) has λ or
/// τ positive; plain SGD neither.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdSettings {
    pub rule: StepRule,
    /// η at the point's width.
    pub eta: f64,
    /// B, the samples per step.
    pub batch: usize,
    /// λ.
    pub weight_decay: f64,
    /// τ.
    pub temperature: f64,
}

impl SgdSettings {
    /// The settings at width `width` (which fixes η for `PerNeuron`).
    pub fn new(rule: StepRule, width: usize, batch: usize, weight_decay: f64, temperature: f64) -> SgdSettings {
        SgdSettings { rule, eta: rule.step_size(width), batch, weight_decay, temperature }
    }

    /// Neither weight decay nor noise: θ ← θ + η·direction.
    pub fn is_plain(&self) -> bool {
        self.weight_decay == 0.0 && self.temperature == 0.0
    }

    /// A short description for summaries, e.g. `online-sgd(eta=0.1,batch=1,lambda=0,tau=0)`.
    pub fn name(&self) -> String {
        let kind = if !self.is_plain() {
            "noisy-sgd"
        } else if self.batch == 1 {
            "online-sgd"
        } else {
            "minibatch-sgd"
        };
        format!("{kind}(eta={},batch={},lambda={},tau={})", self.eta, self.batch, self.weight_decay, self.temperature)
    }
}

/// What one replica's steps draw from: its data sampler and its data and noise streams.
pub struct ReplicaStreams<'a> {
    pub data: Box<dyn DataStream + 'a>,
    pub data_rng: Stream,
    pub noise_rng: Stream,
}

impl ReplicaStreams<'_> {
    /// The next `y.len()` samples of the replica's data.
    pub fn fill(&mut self, x: &mut [f64], y: &mut [f64]) {
        self.data.fill(&mut self.data_rng, x, y);
    }
}

impl Debug for ReplicaStreams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaStreams")
            .field("data_position", &self.data_rng.get_word_pos())
            .field("noise_position", &self.noise_rng.get_word_pos())
            .finish()
    }
}

/// A replica stopped inside [`Stepper::advance`]: a step's residual was not finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diverged {
    /// The steps of the call that completed before the failing one.
    pub completed: u64,
    /// The first non-finite residual of the failing step.
    pub residual: f64,
}

/// Advances replicas of one sweep point by SGD steps: one replica, or several stepped together (in vector
/// lanes). Replica `r` of a stepper is the r-th of the replicas it was built for.
pub trait Stepper: Send {
    /// The replicas it advances.
    fn replicas(&self) -> usize;

    /// Replica `r`'s model holding its current parameters: what observables read and checkpoints save.
    /// Parameters written through it are not seen by the stepper: use [`Stepper::set_params`].
    fn model(&mut self, r: usize) -> &mut dyn Model;

    /// Sets replica `r`'s parameters (its initial weights, a restored checkpoint, a cloned state).
    fn set_params(&mut self, r: usize, params: &[f64]);

    /// `steps` steps of every replica r with `diverged[r]` empty, each drawing its batches from
    /// `streams[r]`; a replica whose step has a non-finite residual stops there, with `diverged[r]` set.
    /// Replicas with `diverged[r]` set are not stepped and their streams not drawn from. Must not allocate.
    fn advance(&mut self, steps: u64, streams: &mut [ReplicaStreams<'_>], diverged: &mut [Option<Diverged>]);
}

/// The update rule of a sweep point and how its replicas are grouped into steppers.
pub trait Dynamics: Send + Sync + Debug {
    /// How many replicas one stepper advances together, when `left` replicas are still to be placed: 1, or
    /// more where the stepper runs replicas side by side. Never more than `left`.
    fn group(&self, left: usize) -> usize;

    /// A stepper for `replicas` replicas (a count [`Dynamics::group`] returned), with zero parameters.
    fn stepper(&self, replicas: usize) -> Box<dyn Stepper>;
}

/// A replica's batch buffers, and the loop that draws them step by step for a one-replica stepper.
#[derive(Debug, Clone)]
pub struct Batches {
    x: Vec<f64>,
    y: Vec<f64>,
    next_x: Vec<f64>,
    next_y: Vec<f64>,
}

impl Batches {
    /// Buffers for batches of `batch` samples of dimension `dim`.
    pub fn new(batch: usize, dim: usize) -> Batches {
        Batches {
            x: vec![0.0; batch * dim],
            y: vec![0.0; batch],
            next_x: vec![0.0; batch * dim],
            next_y: vec![0.0; batch],
        }
    }

    /// Runs `steps` steps: each takes its batch from `streams` and calls `step(x, y, next, noise)`, which
    /// returns `Err` with the first non-finite residual to stop the run there. With `ahead`, `next` is the
    /// following step's batch, already drawn, on every step but the call's last (the stream is drawn in the
    /// same order either way, and stands after the batches of the steps done when the call returns).
    pub fn run(
        &mut self,
        steps: u64,
        streams: &mut ReplicaStreams<'_>,
        ahead: bool,
        mut step: impl FnMut(&[f64], &[f64], Option<&[f64]>, &mut Stream) -> Result<(), f64>,
    ) -> Option<Diverged> {
        let mut drawn = false;
        for k in 0..steps {
            if drawn {
                std::mem::swap(&mut self.x, &mut self.next_x);
                std::mem::swap(&mut self.y, &mut self.next_y);
            } else {
                streams.fill(&mut self.x, &mut self.y);
            }
            drawn = ahead && k + 1 < steps;
            if drawn {
                streams.fill(&mut self.next_x, &mut self.next_y);
            }
            let next = if drawn { Some(&self.next_x[..]) } else { None };
            if let Err(residual) = step(&self.x, &self.y, next, &mut streams.noise_rng) {
                return Some(Diverged { completed: k, residual });
            }
        }
        None
    }
}

/// The first non-finite value of `residual`, as [`Batches::run`]'s step returns it.
pub fn check_residuals(residual: &[f64]) -> Result<(), f64> {
    match residual.iter().find(|r| !r.is_finite()) {
        Some(r) => Err(*r),
        None => Ok(()),
    }
}

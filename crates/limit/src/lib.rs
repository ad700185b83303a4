//! The mean-field limit, solved independently of the particle code (DESIGN.md §1): a finite-volume grid
//! solver for parameter spaces of dimension ≤ 2 ([`grid`]), Gaussian quadrature of the kernels U and V for
//! any activation ([`quadrature`]), and the one-hidden-layer problems built from them ([`unit`]): trained
//! (c, w) with one-dimensional Gaussian inputs, and Mei et al.'s radial reduction for isotropic data; the
//! closed-form Gaussian-input kernels of linear, quadratic, ReLU and erf units ([`population`]); distances
//! between measures ([`distance`]); and the observable that compares the particles with a solved limit
//! ([`LimitDistance`]); and, for one and two hidden layers on any data law, the neuronal-embedding ODE on
//! deterministic nodes ([`embedding`]) with its observable ([`EmbeddingDistance`]).

pub mod distance;
pub mod embedding;
pub mod grid;
mod observable;
pub mod population;
pub mod quadrature;
pub mod unit;

pub use embedding::{
    DataQuadrature, EmbeddingDistance, EmbeddingProblem, EmbeddingSolution, EntryLaw, LimitMarginalLaw, MarginalAtTime,
    Network,
};
pub use grid::{Axis, External, FiniteVolume, Grid, Potential, Snapshot, Solution};
pub use observable::{Distance, LIMIT_RISK_COLUMN, LimitDistance};
pub use population::KernelUnit;
pub use unit::{Kernels, Law, LimitData, LimitProblem, LimitSolution, Marginal, OutputWeights, Unit};

/// Why a limit could not be solved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    #[error("{0}")]
    Invalid(String),
    #[error("the limit PDE diverged near t = {time} (the velocity field blew up)")]
    Diverged { time: f64 },
    #[error(
        "the limit PDE needed more than {steps} time steps to reach t = {time}; use a coarser grid or a shorter horizon"
    )]
    TooManySteps { steps: u64, time: f64 },
}

//! The stable interfaces of meanfield.
//!
//! Everything that varies between experiments (activation, data law, initial law, model, update rule,
//! observable, output) is a trait here, so that a new one touches a single crate and a plugin can provide
//! it. The crates that implement the traits never depend on each other sideways: models do not know about
//! sinks, dynamics do not know about scenarios.
//!
//! Conventions shared by every implementation:
//! - batches of inputs are row-major `n × dim` slices, labels `n` slices;
//! - randomness always comes from a caller-provided stream (see [`rng`]), never from a global generator;
//! - the loss is ℓ = ½ (y − ŷ)², and the risk is its expectation.

pub mod activation;
pub mod checkpoint;
pub mod data;
pub mod fault;
pub mod files;
pub mod init;
pub mod model;
pub mod observable;
pub mod progress;
pub mod results;
pub mod rng;
pub mod sink;
pub mod stats;
pub mod stepper;
pub mod summary;

pub use activation::Activation;
pub use checkpoint::{Checkpoints, NoCheckpoints, ReplicaState, Saved};
pub use data::{DataDistribution, DataStream};
pub use fault::FaultLog;
pub use init::InitLaw;
pub use model::{Block, Model};
pub use observable::{
    DEPENDENCE_COLUMN_PREFIX, Holdout, Observable, ObservationContext, PREDICTION_COLUMN_PREFIX, Statistic,
    TAGGED_COLUMN_PREFIX,
};
pub use progress::Progress;
pub use results::{
    Coordinate, CoordinateValue, Divergence, Particles, PointInfo, PointResult, Record, ReplicaResult, SEED, Selection,
    file_safe, label, nearest_time,
};
pub use rng::{Purpose, Stream, StreamKey};
pub use sink::{Sink, SinkError};
pub use stepper::{Batches, Diverged, Dynamics, ReplicaStreams, SgdSettings, StepRule, Stepper, check_residuals};

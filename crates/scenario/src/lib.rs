//! Scenario files: RON text → checked scenario → runnable plans → results on disk.
//!
//! ```text
//! parse (positions kept) → check values → expand sweep → resolve points (CheckedScenario) → build plans → run → sinks
//! ```
//! Every failure on the way is a [`ScenarioError`] or [`RunError`] that names the place in the file; once a
//! scenario is checked, building its plans cannot fail.

pub mod bench;
mod build;
pub mod check;
pub mod checked;
pub mod compose;
pub mod error;
pub mod parse;
pub mod plugins;
pub mod run;
pub mod shard;
pub mod slurm;
pub mod spec;
pub mod templates;

pub use check::Point;
pub use checked::{
    CheckedModel, CheckedPoint, CheckedScenario, InitialWeights, ModelKind, PlansWithLimits, SolvedLimit, StepSchedule,
};
pub use error::{Location, ScenarioError};
pub use run::{RunError, RunOptions, RunReport, run};
pub use spec::ScenarioSpec;

// The command-line tool (and later the Python module) depends on this crate alone: what it needs of the
// crates below is re-exported here.
pub use meanfield_core::Progress;
pub use meanfield_core::progress::NoProgress;
pub use meanfield_core::summary::{self, Summary};
pub use meanfield_core::{Divergence, PointInfo};
pub use meanfield_models::BuiltinActivation;
pub use meanfield_plot as plot;
/// Reads the `summary.ron` of a finished run.
pub use meanfield_sinks::summary::read as read_summary;

//! Sinks: where results go. Sinks see results, never the model or the dynamics.

use crate::results::PointResult;
use std::fmt::Debug;
use std::path::PathBuf;

/// A failure to write results.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot serialize {what}: {message}")]
    Serialize { what: String, message: String },
    /// Two outputs of one run were given the same file: a bug (names are keyed by every coordinate).
    #[error(
        "{path} was written twice by this run, so one output replaced another; this is a bug in meanfield: \
         please report it with the scenario"
    )]
    WrittenTwice { path: PathBuf },
}

impl SinkError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SinkError::Io { path: path.into(), source }
    }
}

/// Consumes a run's results point by point, in sweep order.
///
/// Files are written atomically: nothing appears under its final name before [`Sink::finish`], so an
/// interrupted run never leaves a truncated file that looks complete.
pub trait Sink: Debug {
    /// Called once per sweep point, in point order.
    fn point(&mut self, point: &PointResult) -> Result<(), SinkError>;
    /// Called once at the end; returns the files written.
    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError>;
}

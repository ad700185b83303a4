//! Sinks write results and never see models or dynamics. Every file is written to a temporary file in the
//! output directory and renamed into place when complete, so a file under its final name is always whole.

pub mod atomic;
pub mod checkpoint;
pub mod dependence;
pub mod jsonl;
pub mod manifest;
pub mod snapshots;
pub mod study;
pub mod summary;
pub mod timeseries;

pub use atomic::AtomicFile;
pub use checkpoint::{CheckpointError, CheckpointHeader, CheckpointStore};
pub use jsonl::JsonLines;
pub use manifest::Manifest;
pub use meanfield_core::SinkError;
pub use snapshots::{file_stem, write_snapshots};
pub use study::{Study, StudySummary};
pub use summary::{PointSummary, Summary, SummarySink};
pub use timeseries::CsvTimeSeries;

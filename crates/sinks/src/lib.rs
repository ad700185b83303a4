//! Sinks write what they are given (results, summaries, tables) and never see models, dynamics or
//! analyses. Every file is written to a temporary file in the
//! output directory and renamed into place when complete, so a file under its final name is always whole.

pub mod atomic;
pub mod checkpoint;
pub mod jsonl;
pub mod manifest;
pub mod rundir;
pub mod snapshots;
pub mod summary;
pub mod tables;
pub mod timeseries;

pub use atomic::AtomicFile;
pub use checkpoint::{CheckpointError, CheckpointHeader, CheckpointStore};
pub use jsonl::JsonLines;
pub use manifest::Manifest;
pub use meanfield_core::SinkError;
pub use rundir::{RunDir, RunDirError};
pub use snapshots::{file_stem, write_snapshots};
pub use tables::{write_ldp_csv, write_ldp_direct_csv, write_study_csv};
pub use timeseries::CsvTimeSeries;

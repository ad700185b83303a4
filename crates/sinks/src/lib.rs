//! Sinks write results and never see models or dynamics. Every file is written to a temporary file in the
//! output directory and renamed into place when complete, so a file under its final name is always whole.

pub mod atomic;
pub mod dependence;
pub mod manifest;
pub mod study;
pub mod summary;
pub mod timeseries;

pub use atomic::AtomicFile;
pub use manifest::Manifest;
pub use study::{Study, StudySummary};
pub use summary::{PointSummary, Summary, SummarySink};
pub use timeseries::CsvTimeSeries;

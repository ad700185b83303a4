//! `summary.ron` and `summary.json`: the run's [`Summary`] written in RON (the snapshot-tested file) and in
//! JSON (the same content, for any language). It holds no timings, so both are byte-identical between runs
//! of the same scenario and seed, whatever the thread count.

use crate::atomic::AtomicFile;
use meanfield_core::SinkError;
use meanfield_core::summary::Summary;
use std::path::{Path, PathBuf};

/// The summary as `summary.ron` holds it.
pub fn to_ron(summary: &Summary) -> Result<String, SinkError> {
    let config = ron::ser::PrettyConfig::new().depth_limit(4).separate_tuple_members(false);
    ron::ser::to_string_pretty(summary, config)
        .map(|s| s + "\n")
        .map_err(|e| SinkError::Serialize { what: "summary".into(), message: e.to_string() })
}

/// The summary as `summary.json` holds it.
pub fn to_json(summary: &Summary) -> Result<String, SinkError> {
    serde_json::to_string_pretty(summary)
        .map(|s| s + "\n")
        .map_err(|e| SinkError::Serialize { what: "summary".into(), message: e.to_string() })
}

/// Reads a `summary.ron`.
pub fn read(path: &Path) -> Result<Summary, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    ron::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes `summary.ron` and `summary.json` into `dir`; returns both paths.
pub fn write(dir: &Path, summary: &Summary) -> Result<Vec<PathBuf>, SinkError> {
    Ok(vec![
        AtomicFile::write_all(&dir.join("summary.ron"), to_ron(summary)?.as_bytes())?,
        AtomicFile::write_all(&dir.join("summary.json"), to_json(summary)?.as_bytes())?,
    ])
}

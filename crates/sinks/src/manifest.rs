//! The run manifest: what produced a result directory, and how long it took.

use crate::atomic::AtomicFile;
use meanfield_core::SinkError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub scenario_name: String,
    /// The scenario file, or `<embedded default>`.
    pub scenario_source: String,
    /// SHA-256 of `scenario_text`.
    pub scenario_sha256: String,
    /// The scenario fully resolved (`extends` merged, overrides applied, every default written), as
    /// canonical RON: `meanfield run` on this text alone runs the same thing.
    pub scenario_text: String,
    /// The `--set` overrides the scenario file was read with (already applied in `scenario_text`).
    #[serde(default)]
    pub scenario_overrides: Vec<String>,
    /// The seed of each sweep point, in point order.
    pub seeds: Vec<u64>,
    pub meanfield_version: String,
    /// The git commit the binary was built from (`unknown` outside a checkout).
    pub git_commit: String,
    pub threads: usize,
    pub started_unix_seconds: u64,
    pub wall_seconds: f64,
    pub steps_total: u64,
    pub diverged_replicas: usize,
    /// Whether the run continued from a checkpoint (`wall_seconds` then counts this part only).
    #[serde(default)]
    pub resumed: bool,
    /// The number of shards a `meanfield merge` combined into this run (absent for a run made at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_shards: Option<usize>,
    pub files: Vec<PathBuf>,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest, SinkError> {
        let text = std::fs::read_to_string(path).map_err(|e| SinkError::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| SinkError::Serialize { what: path.display().to_string(), message: e.to_string() })
    }

    pub fn write(&self, path: &Path) -> Result<PathBuf, SinkError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| SinkError::Serialize { what: "manifest".into(), message: e.to_string() })?;
        AtomicFile::write_all(path, (text + "\n").as_bytes())
    }
}

//! Where a scenario came from: reading its file, finding where a field was written, and its canonical
//! text.

use super::budget::Holding;
use crate::compose::{Composed, Override};
use crate::error::Location;
use crate::spec::ScenarioSpec;
use crate::{CheckedScenario, ScenarioError};
use std::path::Path;

/// `spec` as canonical RON (see [`CheckedScenario::canonical`]).
pub fn canonical(spec: &ScenarioSpec) -> String {
    let config = ron::ser::PrettyConfig::new().struct_names(true).compact_arrays(true).indentor("    ".to_owned());
    // Serialising a parsed scenario cannot fail: every value came from RON.
    ron::ser::to_string_pretty(spec, config).expect("a parsed scenario serialises") + "\n"
}

/// Finds where a field of a scenario was written: in its file, or, for a composed scenario, in the file or
/// `--set` argument that wrote it.
pub(crate) struct Locator<'a> {
    pub(crate) origin: &'a str,
    pub(crate) text: &'a str,
    pub(crate) composed: Option<&'a Composed>,
}

impl Locator<'_> {
    pub(crate) fn field(&self, path: &str) -> Option<Box<Location>> {
        match self.composed {
            None => Location::of_field(self.origin, self.text, path),
            Some(c) => c.location_of(path),
        }
    }

    pub(crate) fn within(&self, path: &str, value: &str, line: usize, col: usize) -> Option<Box<Location>> {
        match self.composed {
            None => Location::within_field(self.origin, self.text, path, value, line, col),
            Some(c) => c.location_within(path, value, line, col),
        }
    }
}

/// The largest scenario file read: far above any written by hand or by a script (a sweep of a million
/// values is about 10 MiB), and a bound on what a wrong path (a disk image, a log) can make meanfield read.
const MAX_SCENARIO_BYTES: u64 = 64 << 20;

/// The text of the scenario file at `path`, refused without reading when it is not a regular file (a FIFO
/// would block, /dev/zero never end) or longer than [`MAX_SCENARIO_BYTES`].
pub(crate) fn read_scenario_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    // The length is bounded while reading: the file may grow after any look at it.
    meanfield_core::files::open_regular(path, "a scenario file")?
        .take(MAX_SCENARIO_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(std::io::Error::other(format!(
            "it is longer than {} MiB, far longer than a scenario file",
            MAX_SCENARIO_BYTES >> 20
        )));
    }
    Ok(text)
}

impl CheckedScenario {
    /// Reads, checks and resolves the scenario in `path`.
    pub fn from_file(path: &Path) -> Result<CheckedScenario, ScenarioError> {
        CheckedScenario::from_file_with(path, &[])
    }

    /// Reads the scenario in `path`, with the files it extends and `overrides` applied, and checks and
    /// resolves it.
    pub fn from_file_with(path: &Path, overrides: &[Override]) -> Result<CheckedScenario, ScenarioError> {
        let base_dir = path.parent().map(Path::to_owned).unwrap_or_default();
        CheckedScenario::from_file_in(path, &base_dir, overrides, Holding::Whole)
    }

    /// [`CheckedScenario::from_file_with`] with its relative paths starting at `base_dir` instead of the
    /// file's directory (a scenario frozen into a job directory reads the data its original read), for a
    /// process that holds `holding` of the run's results.
    pub fn from_file_in(
        path: &Path,
        base_dir: &Path,
        overrides: &[Override],
        holding: Holding,
    ) -> Result<CheckedScenario, ScenarioError> {
        let text = read_scenario_file(path)
            .map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
        CheckedScenario::from_text_as(&text, &path.display().to_string(), base_dir, overrides, holding)
    }
}

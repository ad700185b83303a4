//! Snapshot tests of scenarios inside `cargo test` (feature `testing`), on insta: the same content and
//! tolerance as `meanfield snapshot --check` (both are [`crate::snapshot`]), and insta's handling of a
//! failure (`INSTA_UPDATE`, a `.snap.new` for `cargo insta review` or `meanfield snapshot --review`).
//!
//! ```no_run
//! // tests/scenarios.rs of a crate with `meanfield = { version = "…", features = ["testing"] }`:
//! #[test]
//! fn my_experiment() {
//!     // Runs scenarios/my_experiment.ron (relative to the crate's Cargo.toml) and compares it with
//!     // scenarios/my_experiment.snap.
//!     meanfield::testing::assert_scenario_snapshot!("scenarios/my_experiment.ron");
//! }
//!
//! #[test]
//! fn my_experiment_small() {
//!     // A scenario from text (a scaled-down copy), with its snapshot file named.
//!     let text = std::fs::read_to_string("scenarios/my_experiment.ron").unwrap().replace("replicas: 64", "replicas: 4");
//!     let scenario = meanfield::Scenario::from_ron(text, "scenarios").named("my_experiment_small");
//!     meanfield::testing::assert_scenario_snapshot!(scenario, "tests/snapshots/my_experiment_small.snap");
//! }
//! ```

use crate::snapshot::{self, Headline, Taken, Verdict};
use crate::{Scenario, SnapshotSpec, Summary};
use std::path::{Path, PathBuf};

/// insta, for the macro's expansion in the caller's crate (which need not depend on insta itself).
#[doc(hidden)]
pub use insta;

/// Runs a scenario into a temporary directory and compares its headline numbers with the `.snap`
/// beside it, as `meanfield snapshot --check` does; a difference beyond the scenario's
/// `snapshot.tolerance` fails the test through insta (which writes the `.snap.new` to review).
///
/// `assert_scenario_snapshot!("scenarios/x.ron")`: the file, relative to the calling crate's
/// `CARGO_MANIFEST_DIR`; its snapshot is `scenarios/x.snap`.
/// `assert_scenario_snapshot!(scenario, "tests/snapshots/x.snap")`: a [`Scenario`] (from text, or with
/// overrides) and its snapshot file, relative to `CARGO_MANIFEST_DIR` too.
#[macro_export]
macro_rules! assert_scenario_snapshot {
    (@assert $prepared:ident) => {{
        // insta's assertion runs here, in the caller's crate, so that it finds the caller's workspace.
        if let Some(failing) = $prepared {
            failing.settings.bind(|| {
                $crate::testing::insta::assert_snapshot!(failing.name.as_str(), failing.content.as_str());
            });
        }
    }};
    ($path:expr) => {{
        let prepared = $crate::testing::prepare_file(env!("CARGO_MANIFEST_DIR"), $path);
        $crate::assert_scenario_snapshot!(@assert prepared)
    }};
    ($scenario:expr, $snap:expr) => {{
        let prepared = $crate::testing::prepare(&$scenario, env!("CARGO_MANIFEST_DIR"), $snap);
        $crate::assert_scenario_snapshot!(@assert prepared)
    }};
}
pub use crate::assert_scenario_snapshot;

/// Compares the headline numbers of a run already made with the snapshot file `snap` (relative to
/// `CARGO_MANIFEST_DIR`), as [`assert_scenario_snapshot!`] does: for a test that also checks the run's
/// other outputs, so the scenario is not run twice.
/// `assert_summary_snapshot!(results.summary, checked.spec.snapshot, "tests/snapshots/x.snap")`.
#[macro_export]
macro_rules! assert_summary_snapshot {
    ($summary:expr, $spec:expr, $snap:expr) => {{
        let prepared = $crate::testing::prepare_summary(&$summary, $spec, env!("CARGO_MANIFEST_DIR"), $snap);
        $crate::assert_scenario_snapshot!(@assert prepared)
    }};
}
pub use crate::assert_summary_snapshot;

/// A snapshot that did not match, for insta to report.
#[doc(hidden)]
pub struct Failing {
    pub name: String,
    pub content: String,
    pub settings: insta::Settings,
}

impl std::fmt::Debug for Failing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failing").field("name", &self.name).finish_non_exhaustive()
    }
}

#[doc(hidden)]
pub fn prepare_file(manifest_dir: &str, path: &str) -> Option<Failing> {
    let scenario_path = Path::new(manifest_dir).join(path);
    let snap = snapshot::snap_path(&scenario_path).unwrap_or_else(|e| panic!("{e}"));
    prepare_at(&Scenario::load(&scenario_path), snap, path)
}

#[doc(hidden)]
pub fn prepare(scenario: &Scenario, manifest_dir: &str, snap: &str) -> Option<Failing> {
    prepare_at(scenario, snap_file(manifest_dir, snap), &scenario.origin())
}

#[doc(hidden)]
pub fn prepare_summary(summary: &Summary, spec: SnapshotSpec, manifest_dir: &str, snap: &str) -> Option<Failing> {
    let taken = Taken { spec, headline: Headline::of(summary, spec.digits), warnings: Vec::new() };
    compare(taken, snap_file(manifest_dir, snap), &format!("a run of scenario {}", summary.scenario))
}

fn snap_file(manifest_dir: &str, snap: &str) -> PathBuf {
    let snap = Path::new(manifest_dir).join(snap);
    if snap.extension().is_none_or(|e| e != "snap") {
        panic!("{}: a scenario snapshot file ends in `.snap`", snap.display());
    }
    snap
}

/// Takes the snapshot and compares it; `None` when it matches (within the tolerance). `name` names the
/// scenario in the snapshot's header (a path relative to the crate, not this machine's).
fn prepare_at(scenario: &Scenario, snap: PathBuf, name: &str) -> Option<Failing> {
    let taken = snapshot::take(scenario, None).unwrap_or_else(|e| panic!("{}: {e}", scenario.origin()));
    for warning in &taken.warnings {
        eprintln!("warning: {}: {warning}", scenario.origin());
    }
    compare(taken, snap, name)
}

fn compare(taken: Taken, snap: PathBuf, origin: &str) -> Option<Failing> {
    let verdict = snapshot::verdict(&snap, &taken).unwrap_or_else(|e| panic!("{e}"));
    match verdict {
        Verdict::Same | Verdict::WithinTolerance => return None,
        Verdict::Differs(diff) => eprintln!(
            "{}: the headline numbers differ beyond the tolerance ({:?}):\n{diff}",
            snap.display(),
            taken.spec.tolerance
        ),
        Verdict::Missing => eprintln!("{}: no snapshot yet", snap.display()),
    }
    let dir = snap.parent().unwrap_or(Path::new(".")).to_owned();
    let name = snap.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!("headline numbers of {origin}"));
    Some(Failing { name, content: taken.headline.to_text(), settings })
}

#[cfg(test)]
mod tests {
    use crate::snapshot::SnapFile;

    /// What `cargo insta review` does with a pending snapshot (cargo-insta's `SnapshotContainer`): it
    /// reads the `.snap.new` and the `.snap` with insta's `Snapshot::from_file` and, on accept, saves the
    /// new one over the old with `Snapshot::save`. Both must understand the files `meanfield snapshot`
    /// writes, and the accepted file must read back with the same content.
    #[test]
    fn insta_reads_and_accepts_the_files_meanfield_writes() {
        let dir = tempfile::tempdir().unwrap();
        let content = "scenario = \"x: y\"\npoints[#0].final[risk].mean = 0.0123 ± 0.001\n".to_owned();
        let pending = dir.path().join("x.snap.new");
        SnapFile::new("x.ron", content.clone()).write(&pending).unwrap();
        let snapshot = insta::Snapshot::from_file(&pending).unwrap();
        assert_eq!(snapshot.metadata().source(), Some("x.ron"));
        assert_eq!(snapshot.metadata().expression(), Some("meanfield snapshot"));
        assert_eq!(snapshot.as_text().unwrap().to_string(), content.trim_end());
        let target = dir.path().join("x.snap");
        snapshot.save(&target).unwrap();
        let accepted = SnapFile::read(&target).unwrap().unwrap();
        assert_eq!(accepted.content, content.trim_end());
        // insta writes the header as meanfield does: the accepted file is byte for byte the pending one.
        assert_eq!(std::fs::read_to_string(&target).unwrap(), std::fs::read_to_string(&pending).unwrap());
    }
}

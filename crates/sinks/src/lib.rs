//! Sinks write what they are given (results, summaries, tables) and never see models, dynamics or
//! analyses. Every file is written to a temporary file in the
//! output directory and renamed into place when complete, so a file under its final name is always whole.

pub mod atomic;
pub mod checkpoint;
pub mod jsonl;
pub mod manifest;
pub mod particles;
pub mod rundir;
pub mod summary;
pub mod tables;
pub mod timeseries;

pub use atomic::AtomicFile;
pub use checkpoint::{CheckpointError, CheckpointHeader, CheckpointStore, read_finished};
pub use jsonl::JsonLines;
pub use manifest::Manifest;
pub use meanfield_core::SinkError;
pub use particles::{file_stem, point_stem, write_particles};
pub use rundir::{JOBS, RunDir, RunDirError, SHARDS};
pub use tables::{write_ldp_csv, write_ldp_direct_csv, write_study_csv};
pub use timeseries::CsvTimeSeries;

use std::path::{Component, Path, PathBuf};

/// The check at the end of every run: no two of the files it wrote share a path. Each output is named by
/// everything that distinguishes it, so a path written twice means one result replaced another: the run
/// fails naming the path rather than report success with a result missing.
pub fn distinct_paths(files: &[PathBuf]) -> Result<(), SinkError> {
    // `out/./a` and `out/a` are one file: compare the paths' components.
    let normal = |path: &Path| -> PathBuf { path.components().filter(|c| *c != Component::CurDir).collect() };
    let mut seen = std::collections::BTreeSet::new();
    for path in files {
        if !seen.insert(normal(path)) {
            return Err(SinkError::WrittenTwice { path: path.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_written_twice_fails_naming_it() {
        let check = |files: &[&str], twice: Option<&str>| {
            let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
            match (distinct_paths(&files), twice) {
                (Ok(()), None) => {}
                (Err(SinkError::WrittenTwice { path }), Some(expected)) => assert_eq!(path, Path::new(expected)),
                (other, _) => panic!("{files:?}: {other:?}"),
            }
        };
        check(&[], None);
        check(
            &["out/summary.ron", "out/particles/width-8_seed-1_t=0_w.npy", "out/particles/width-8_seed-2_t=0_w.npy"],
            None,
        );
        check(&["out/risk.svg", "out/a.npy", "out/risk.svg"], Some("out/risk.svg"));
        check(&["out/a.npy", "out/./a.npy"], Some("out/./a.npy"));
        let message = distinct_paths(&[PathBuf::from("out/x"), PathBuf::from("out/x")]).unwrap_err().to_string();
        assert!(message.starts_with("out/x was written twice by this run"), "{message}");
    }
}

//! Helpers shared by the end-to-end tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (scenario files are relative to it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario_path(name: &str) -> PathBuf {
    root().join("scenarios").join(name)
}

/// Output of one `meanfield` invocation.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `meanfield` binary with `args` in `cwd`.
pub fn meanfield(args: &[&str], cwd: &Path) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_meanfield")).args(args).current_dir(cwd).output().unwrap();
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A small valid scenario; `{…}` placeholders are replaced by the callers' variations.
pub const SMALL: &str = r#"Scenario(
    name: "small",
    seed: 3,
    replicas: 2,
    output: "{OUT}",
    model: OneHidden(
        width: 8,
        activation: Tanh,
        c: Trained(Gaussian(mean: 0.0, std: 1.0)),
        w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
    ),
    data: TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh)),
    dynamics: OnlineSgd(step: Fixed(0.05)),
    horizon: Steps(200),
    record: Every(2.0),
    observables: [Risk(samples: 100), Moments],
)
"#;

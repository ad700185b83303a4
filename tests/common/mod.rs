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

/// Runs every point of `scenario` in-process on `threads` threads (`None`: all cores), writing into `out`.
pub fn run_scenario(
    scenario: &meanfield_scenario::CheckedScenario,
    threads: Option<usize>,
    out: &Path,
) -> meanfield_scenario::RunReport {
    let plans = scenario.plans();
    let options = meanfield_scenario::RunOptions {
        threads,
        output: Some(out.to_owned()),
        progress: &meanfield_core::progress::NoProgress,
        version: "test".into(),
        git_commit: "test".into(),
        resume: false,
        stop: Default::default(),
    };
    meanfield_scenario::run(scenario, &plans, &options).unwrap()
}

/// A scenario of `scenarios/` with its text changed by `replacements` (to scale it down for a test); each
/// replaced text must still be in the file, so the test cannot silently drift from the scenario.
pub fn scaled_scenario(name: &str, replacements: &[(&str, &str)]) -> meanfield_scenario::CheckedScenario {
    let path = scenario_path(&format!("{name}.ron"));
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "{name}.ron no longer contains {from}");
        text = text.replace(from, to);
    }
    meanfield_scenario::CheckedScenario::from_text(&text, &path.display().to_string(), path.parent().unwrap()).unwrap()
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

/// The plugin crates: the examples in `plugins/` and the broken fixtures in `tests/plugins/`.
fn plugin_packages() -> Vec<String> {
    let mut names = Vec::new();
    for dir in ["plugins", "tests/plugins"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let manifest = entry.unwrap().path().join("Cargo.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
            let name = text.lines().find_map(|l| l.strip_prefix("name = ")).unwrap();
            names.push(name.trim_matches('"').to_owned());
        }
    }
    names.sort();
    names
}

/// Builds every plugin crate (once per test binary) the way `cargo xtask build-plugins` does, into
/// `target/plugins`, a target directory of its own: the `cargo test` running this holds the lock on
/// `target/`, so a nested build there would wait forever. Returns the directory of the libraries.
pub fn plugin_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let mut command = Command::new(env!("CARGO"));
            command.args(["build", "--release", "--quiet", "--target-dir", "target/plugins"]).current_dir(root());
            for package in plugin_packages() {
                command.args(["-p", &package]);
            }
            let status = command.status().unwrap();
            assert!(status.success(), "building the plugins failed: {command:?}");
            root().join("target/plugins/release")
        })
        .clone()
}

/// The file of the plugin library `name` built by [`plugin_dir`].
pub fn plugin_lib(name: &str) -> PathBuf {
    plugin_dir().join(format!("{}{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX))
}

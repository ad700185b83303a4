//! Project chores, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).

use anyhow::{Context, Result, bail};
use meanfield_scenario::templates::plugin::{PluginKind, new_plugin};
use std::path::{Path, PathBuf};
use std::process::Command;

mod tidy;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  ci                                  run .ci/run (fmt check, clippy, the whole test suite)
  check-scenarios                     `meanfield check` every file in scenarios/ (builds the plugins first)
  build-plugins                       build every plugin crate in plugins/ into target/plugins/release/
  tidy                                check repository rules, listing every problem:
                                      crate edges (DESIGN.md §2's table, normal dependencies only),
                                      relative links and anchors in README.md and docs/**/*.md,
                                      every scenario field and variant as inline code in
                                      docs/guide/scenarios.md, and a `//! Long file: <reason>` line in
                                      every crates/*/src/**/*.rs longer than 600 lines
  slurm-test                          start a single-node Slurm on this machine (.ci/slurm-local.sh:
                                      Debian's slurm-wlm, needs root), run the tests that submit
                                      `meanfield slurm` jobs to it (tests/cli/slurm.rs), stop it
  new-plugin NAME --kind KIND [--dir DIR]
                                      `meanfield new-plugin` with plugins/ as the default DIR: a
                                      working plugin crate from a template in plugins/NAME (or
                                      DIR/NAME); KIND is `activation` or `distribution`";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_owned()
}

fn run(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// Where `build-plugins` puts the libraries: a target directory of their own, so that building them
/// never waits on (or invalidates) the main build.
const PLUGIN_TARGET_DIR: &str = "target/plugins";

/// The package names of the crates directly under `dir` (each `dir/*/Cargo.toml`).
fn packages_in(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let manifest = entry?.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("name = "))
            .with_context(|| format!("no `name = ` line in {}", manifest.display()))?;
        names.push(name.trim().trim_matches('"').to_owned());
    }
    names.sort();
    Ok(names)
}

fn build_plugins() -> Result<()> {
    let root = root();
    let mut command = Command::new("cargo");
    command.args(["build", "--release", "--target-dir", PLUGIN_TARGET_DIR]).current_dir(&root);
    for package in packages_in(&root.join("plugins"))? {
        command.args(["-p", &package]);
    }
    run(&mut command)?;
    let dir = root.join(PLUGIN_TARGET_DIR).join("release");
    println!(
        "plugins built into {}\n(scenarios name them by path, or set MEANFIELD_PLUGIN_PATH={})",
        dir.display(),
        dir.display()
    );
    Ok(())
}

fn check_scenarios() -> Result<()> {
    let root = root();
    build_plugins()?;
    run(Command::new("cargo").args(["build", "--quiet", "--bin", "meanfield"]).current_dir(&root))?;
    let binary = root.join("target/debug/meanfield");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(root.join("scenarios"))?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "ron"));
    files.sort();
    for file in files {
        run(Command::new(&binary).arg("check").arg(&file).current_dir(&root))?;
    }
    Ok(())
}

/// `.ci/slurm-local.sh start`, the Slurm tests with its `SLURM_CONF` (and `MEANFIELD_CI`, so that a
/// cluster that did not come up fails them instead of skipping), then `stop` whatever happened.
fn slurm_test() -> Result<()> {
    let root = root();
    let script = root.join(".ci/slurm-local.sh");
    let dir = std::env::temp_dir().join(format!("meanfield-slurm-{}", std::process::id()));
    let started = Command::new("bash").arg(&script).arg("start").arg(&dir).output().context("starting bash")?;
    eprint!("{}", String::from_utf8_lossy(&started.stderr));
    let stdout = String::from_utf8_lossy(&started.stdout);
    let conf = stdout.lines().find_map(|l| l.strip_prefix("export SLURM_CONF="));
    let tested = match (started.status.success(), conf) {
        (true, Some(conf)) => run(Command::new("cargo")
            .args(["test", "--test", "cli", "slurm::"])
            .env("SLURM_CONF", conf)
            .env("MEANFIELD_CI", "1")
            .current_dir(&root)),
        _ => Err(anyhow::anyhow!("no Slurm cluster: {} start {} failed (see above)", script.display(), dir.display())),
    };
    let stopped = run(Command::new("bash").arg(&script).arg("stop").arg(&dir));
    tested.and(stopped)
}

fn new_plugin_command(args: &[String]) -> Result<()> {
    let mut name = None;
    let mut kind: Option<PluginKind> = None;
    let mut dir = root().join("plugins");
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--kind" => {
                let given = args.next().map_or("", String::as_str);
                kind = Some(given.parse().map_err(|e| anyhow::anyhow!("{e}\n{USAGE}"))?);
            }
            "--dir" => dir = PathBuf::from(args.next().context("--dir needs a directory")?),
            other if other.starts_with('-') => bail!("unknown option '{other}'\n{USAGE}"),
            other => name = Some(other.to_owned()),
        }
    }
    let (Some(name), Some(kind)) = (name, kind) else { bail!("new-plugin needs NAME and --kind\n{USAGE}") };
    // The same templates as `meanfield new-plugin`, with this repository's plugins/ as the default place.
    let crate_dir = new_plugin(&name, kind, &dir)?;
    println!("created {} (build it with `cargo xtask build-plugins`)", crate_dir.display());
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => run(Command::new("bash").arg(root().join(".ci/run"))),
        Some("check-scenarios") => check_scenarios(),
        Some("build-plugins") => build_plugins(),
        Some("tidy") => tidy::tidy(&root()),
        Some("new-plugin") => new_plugin_command(&args[1..]),
        Some("slurm-test") => slurm_test(),
        Some(other) => bail!("unknown task '{other}'\n{USAGE}"),
        None => {
            println!("{USAGE}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use meanfield_scenario::plugins;
    use std::sync::Arc;

    /// Both templates make crates that build, load, pass `meanfield plugins check`, and provide what
    /// they say: generated outside the
    /// repository (as a user would), built into the shared plugin target directory (so their
    /// dependencies compile once), with this workspace's Cargo.lock (so they resolve offline to the same
    /// versions).
    #[test]
    fn generated_plugins_build_and_load() {
        let dir = tempfile_dir();
        for (name, kind) in [("my_activation", PluginKind::Activation), ("my_distribution", PluginKind::Distribution)] {
            let crate_dir = new_plugin(name, kind, &dir).unwrap();
            std::fs::copy(root().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
            let target = root().join(PLUGIN_TARGET_DIR);
            let status = Command::new(env!("CARGO"))
                .args(["build", "--release", "--quiet", "--target-dir"])
                .arg(&target)
                .current_dir(&crate_dir)
                .status()
                .unwrap();
            assert!(status.success(), "building the generated {name}");
            let file = target.join("release").join(format!(
                "{}{name}{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            ));
            let library = plugins::open(&file).unwrap();
            // What `meanfield plugins check` runs: a fresh template passes every check.
            let params = match kind {
                PluginKind::Activation => "(scale: 2.0)",
                PluginKind::Distribution => "(dim: 4, noise: 0.1)",
            };
            let params = std::collections::HashMap::from([(name.to_owned(), params.to_owned())]);
            let lines = plugins::conformance::check_library(&library, &params, &[]);
            for check in ["create", "sizes", "determinism", "thread safety", "panics"] {
                assert!(lines.iter().any(|l| l.check == check), "{name}: {check} ran: {lines:?}");
            }
            for line in &lines {
                assert!(line.outcome.is_ok(), "{name}: {line}");
            }
            let faults = Arc::new(meanfield_core::FaultLog::default());
            match kind {
                PluginKind::Activation => {
                    let act = library.activation(name, "(scale: 2.0)", faults).unwrap();
                    let mut v = [0.0];
                    meanfield_core::Activation::eval(&act, &[0.5], &mut v, None);
                    assert_eq!(v[0], 1.0f64.tanh());
                }
                PluginKind::Distribution => {
                    let dist = library.distribution(name, "(dim: 4, noise: 0.0)", faults).unwrap();
                    assert_eq!(meanfield_core::DataDistribution::dim(&dist), 4);
                }
            }
        }
        assert!(new_plugin("Bad-Name", PluginKind::Activation, &dir).is_err());
        assert!(
            new_plugin("my_activation", PluginKind::Activation, &dir).is_err(),
            "existing crates are not overwritten"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A fresh directory outside the repository (so the generated crates are not workspace members).
    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("meanfield-xtask-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

//! Project chores, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  ci                 run .ci/run (fmt check, clippy, the whole test suite)
  check-scenarios    `meanfield check` every file in scenarios/";

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

fn check_scenarios() -> Result<()> {
    let root = root();
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

fn main() -> Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("ci") => run(Command::new("bash").arg(root().join(".ci/run"))),
        Some("check-scenarios") => check_scenarios(),
        Some(other) => bail!("unknown task '{other}'\n{USAGE}"),
        None => {
            println!("{USAGE}");
            Ok(())
        }
    }
}

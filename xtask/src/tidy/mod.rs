//! `cargo xtask tidy`: repository rules that neither the compiler nor clippy sees.
//!
//! Every check is a function over in-memory inputs (cargo's metadata as JSON, a [`Tree`] of files), so the
//! tests run them on fixtures; [`tidy`] runs them all on the real workspace, prints one line per problem and
//! fails if any check found one.

mod edges;
mod fields;
mod links;
mod sizes;

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs every check on the workspace at `root`; exits with status 1 if any of them found a problem.
pub(crate) fn tidy(root: &Path) -> Result<()> {
    let tree = Tree::Disk(root.to_owned());
    let edges = match metadata(root) {
        Ok(metadata) => edges::check(&metadata),
        Err(error) => vec![format!("cannot read the workspace's crates: {error:#}")],
    };
    let checks = [
        ("crate edges", edges),
        ("relative links", links::check(&tree)),
        ("scenario fields documented", fields::check_workspace(&tree)),
        ("file sizes", sizes::check(&tree)),
    ];
    let mut total = 0;
    for (name, problems) in &checks {
        if problems.is_empty() {
            println!("tidy: {name}: ok");
        } else {
            println!("tidy: {name}: {} problem{}", problems.len(), plural(problems.len()));
            for problem in problems {
                println!("  {problem}");
            }
        }
        total += problems.len();
    }
    if total > 0 {
        // Not an error value: the problems are printed already, and a backtrace would only add noise.
        eprintln!("tidy found {total} problem{}", plural(total));
        std::process::exit(1);
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `cargo metadata --format-version 1 --no-deps` of the workspace at `root` (no resolution, no network).
pub(crate) fn metadata(root: &Path) -> Result<serde_json::Value> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["metadata", "--format-version", "1", "--no-deps"]).current_dir(root);
    let output = command.output().with_context(|| format!("starting {command:?}"))?;
    if !output.status.success() {
        bail!("{command:?} failed with {}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    serde_json::from_slice(&output.stdout).context("parsing the output of cargo metadata")
}

/// The files the checks read, by path relative to the workspace root with `/` separators (`docs/a.md`):
/// the real workspace, or (in tests) a fixture held in memory.
#[derive(Debug)]
pub(crate) enum Tree {
    Disk(PathBuf),
    #[cfg_attr(not(test), allow(dead_code))]
    Memory(BTreeMap<String, String>),
}

impl Tree {
    /// A tree from a fixture in rust-analyzer's style: each file starts with a line `//- /path/of/file`.
    #[cfg(test)]
    pub(crate) fn fixture(text: &str) -> Tree {
        let mut files = BTreeMap::new();
        let mut current: Option<(String, String)> = None;
        for line in text.lines() {
            if let Some(path) = line.trim().strip_prefix("//- /") {
                files.extend(current.take());
                current = Some((path.trim().to_owned(), String::new()));
            } else if let Some((_, content)) = &mut current {
                content.push_str(line);
                content.push('\n');
            } else {
                assert!(line.trim().is_empty(), "fixture text before the first `//- /path` line: {line:?}");
            }
        }
        files.extend(current);
        Tree::Memory(files)
    }

    /// The text of the file at `path`; `None` if there is no such (UTF-8) file.
    pub(crate) fn read(&self, path: &str) -> Option<String> {
        match self {
            Tree::Disk(root) => std::fs::read_to_string(root.join(path)).ok(),
            Tree::Memory(files) => files.get(path).cloned(),
        }
    }

    pub(crate) fn is_file(&self, path: &str) -> bool {
        match self {
            Tree::Disk(root) => root.join(path).is_file(),
            Tree::Memory(files) => files.contains_key(path),
        }
    }

    /// Whether `path` is a file or a directory (`""` is the root).
    pub(crate) fn exists(&self, path: &str) -> bool {
        match self {
            Tree::Disk(root) => root.join(path).exists(),
            Tree::Memory(files) => {
                let dir = format!("{}/", path.trim_end_matches('/'));
                path.is_empty() || files.contains_key(path) || files.keys().any(|file| file.starts_with(&dir))
            }
        }
    }

    /// Every file under the directory `dir` (recursively) whose name ends with `suffix`, sorted.
    pub(crate) fn files_under(&self, dir: &str, suffix: &str) -> Vec<String> {
        let mut found = Vec::new();
        match self {
            Tree::Disk(root) => walk(root, dir, &mut found),
            Tree::Memory(files) => {
                let prefix = format!("{}/", dir.trim_end_matches('/'));
                found.extend(files.keys().filter(|file| file.starts_with(&prefix)).cloned());
            }
        }
        found.retain(|file| file.ends_with(suffix));
        found.sort();
        found
    }
}

/// Pushes every file under `root/dir` as a path relative to `root`; unreadable directories are skipped.
fn walk(root: &Path, dir: &str, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else { return };
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else { continue };
        let path = format!("{dir}/{name}");
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => walk(root, &path, found),
            Ok(_) => found.push(path),
            Err(_) => {}
        }
    }
}

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

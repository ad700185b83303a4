//! `meanfield snapshot`: what it prints and asks. Taking, comparing and accepting snapshots is
//! `meanfield::snapshot`, which `meanfield::testing` uses too.

use meanfield::Scenario;
use meanfield::snapshot::{self, SnapFile, Verdict};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `meanfield snapshot [--check] FILES`: takes each scenario's snapshot; without `--check` a missing one
/// is written, with it a missing one fails. A different one is never replaced: it goes to `.snap.new`.
pub(crate) fn take(
    files: &[PathBuf],
    overrides: &[meanfield::Override],
    check: bool,
    threads: Option<usize>,
) -> anyhow::Result<ExitCode> {
    if files.is_empty() {
        anyhow::bail!("meanfield snapshot: name the scenario files to snapshot (or --review)");
    }
    // Every path is checked before anything runs, so a typo does not wait for the other scenarios.
    let snaps: Vec<PathBuf> = files.iter().map(|f| snapshot::snap_path(f)).collect::<Result<_, _>>()?;
    let mut failed = 0;
    for (file, snap) in files.iter().zip(&snaps) {
        let taken = snapshot::take(&Scenario::load(file).with_overrides(overrides), threads)?;
        for warning in &taken.warnings {
            eprintln!("warning: {}: {warning}", file.display());
        }
        let source = file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into());
        let new = SnapFile::new(&source, taken.headline.to_text());
        let pending = snapshot::pending_path(snap);
        match snapshot::verdict(snap, &taken)? {
            Verdict::Same => {
                remove_stale(&pending)?;
                println!("{}: matches", snap.display());
            }
            Verdict::WithinTolerance => {
                remove_stale(&pending)?;
                println!("{}: matches within the tolerance {:?}", snap.display(), taken.spec.tolerance);
            }
            Verdict::Missing if !check => {
                new.write(snap)?;
                remove_stale(&pending)?;
                println!("{}: written", snap.display());
            }
            Verdict::Missing => {
                new.write(&pending)?;
                eprintln!(
                    "error: {}: no snapshot; the new one is in {} (review it with `meanfield snapshot --review {}`)",
                    snap.display(),
                    pending.display(),
                    file.display()
                );
                failed += 1;
            }
            Verdict::Differs(diff) => {
                new.write(&pending)?;
                eprintln!(
                    "error: {}: differs beyond the tolerance {:?} (stored → new):\n{diff}the new snapshot is in {}: \
                     review it with `meanfield snapshot --review {}` (or `cargo insta review`)",
                    snap.display(),
                    taken.spec.tolerance,
                    pending.display(),
                    file.display()
                );
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A pending snapshot left by an earlier run that the current one matches no longer stands for anything.
fn remove_stale(pending: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(pending) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            anyhow::bail!("cannot remove the stale pending snapshot {}: {e}", pending.display())
        }
        _ => Ok(()),
    }
}

/// What to do with one pending snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Accept,
    Reject,
    Skip,
}

/// `meanfield snapshot --review [FILES]`: every pending snapshot of FILES (default: under the current
/// directory), its diff, and a decision: `--accept`, `--reject`, or asked on stdin (no answer: skip).
pub(crate) fn review(files: &[PathBuf], accept: bool, reject: bool) -> anyhow::Result<ExitCode> {
    let pending: Vec<PathBuf> = if files.is_empty() {
        snapshot::find_pending(Path::new("."))
    } else {
        let snaps: Vec<PathBuf> = files.iter().map(|f| snapshot::snap_path(f)).collect::<Result<_, _>>()?;
        snaps.iter().map(|s| snapshot::pending_path(s)).filter(|p| p.is_file()).collect()
    };
    if pending.is_empty() {
        println!("no pending snapshots (.snap.new)");
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdin = std::io::stdin().lock();
    let (mut accepted, mut rejected, mut skipped) = (0, 0, 0);
    for new in &pending {
        // `x.snap.new` → `x.snap`.
        let snap = new.with_extension("");
        let diff = snapshot::pending_diff(&snap, new)?;
        let what = if snap.is_file() { "changed" } else { "new" };
        println!("{} ({what}):\n{diff}", snap.display());
        let decision = if accept {
            Decision::Accept
        } else if reject {
            Decision::Reject
        } else {
            ask(&mut stdin)?
        };
        match decision {
            Decision::Accept => {
                snapshot::accept(&snap)?;
                println!("{}: accepted", snap.display());
                accepted += 1;
            }
            Decision::Reject => {
                snapshot::reject(&snap)?;
                println!("{}: rejected", snap.display());
                rejected += 1;
            }
            Decision::Skip => {
                println!("{}: skipped (still pending)", snap.display());
                skipped += 1;
            }
        }
    }
    println!("{accepted} accepted, {rejected} rejected, {skipped} skipped");
    Ok(ExitCode::SUCCESS)
}

/// Reads `a`, `r` or `s` (an empty line: skip) from stdin; the end of the input (a script's closed
/// stdin, `< /dev/null`) skips.
fn ask(stdin: &mut impl BufRead) -> anyhow::Result<Decision> {
    loop {
        print!("accept, reject or skip? [a/r/s] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        if stdin.read_line(&mut answer)? == 0 {
            println!();
            return Ok(Decision::Skip);
        }
        match answer.trim() {
            "a" | "accept" => return Ok(Decision::Accept),
            "r" | "reject" => return Ok(Decision::Reject),
            "s" | "skip" | "" => return Ok(Decision::Skip),
            other => println!("'{other}': answer a, r or s"),
        }
    }
}

//! Shards: `meanfield run --shard I/N` and `meanfield merge` give, byte for byte, what the unsharded run
//! writes (for any count of shards, shards that cut through sweep points, a shard killed and rerun); bad
//! shard sets are refused naming the shards; results are never overwritten. `slurm.rs` runs the same on
//! a real Slurm.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common::{SMALL, assert_same_outputs, meanfield};
use crate::outputs::RESUMABLE;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `SMALL` at three widths × 24 replicas, with everything a merge must reproduce: the time series as CSV
/// and JSON lines, particle files of some replicas, the error-scaling study and the LDP estimate with its
/// bootstrap bands (both computed at merge time from the merged replicas), and the figures.
pub(crate) fn sharded() -> String {
    let with = |text: &str, from: &str, to: &str| {
        assert!(text.contains(from), "SMALL has no {from:?}");
        text.replace(from, to)
    };
    let text = with(SMALL, "{OUT}", "results/sharded");
    let text = with(&text, "replicas: 2,", "replicas: 24,");
    with(
        &text,
        "observables: [Risk(samples: 100), Moments],",
        r#"observables: [Risk(samples: 100), Moments],
    study: ErrorScaling(times: [10.0], converged_within: 1.0),
    sweep: (width: [4, 8, 16]),
    ldp: (column: "mean(c)", time: 10.0, k: (-0.5, 0.5), points: 5, resamples: 100),
    outputs: (jsonl: true, plots: [Svg], particles: Some((times: [0.0, 10.0], replicas: 2))),"#,
    )
}

fn ok(args: &[&str], dir: &Path) -> String {
    let out = meanfield(args, dir);
    assert_eq!(out.code, Some(0), "meanfield {}: {}", args.join(" "), out.stderr);
    out.stdout + &out.stderr
}

fn refused(args: &[&str], dir: &Path) -> String {
    let out = meanfield(args, dir);
    assert_eq!(out.code, Some(1), "meanfield {} should fail: {}{}", args.join(" "), out.stdout, out.stderr);
    assert_eq!(out.stderr.matches("error:").count(), 1, "one message: {}", out.stderr);
    out.stderr
}

/// Runs every shard of `count` into `out` and merges them there.
fn sharded_run(dir: &Path, count: usize, out: &str) {
    for index in 0..count {
        ok(&["run", "sharded.ron", "--shard", &format!("{index}/{count}"), "--out", out, "-q"], dir);
    }
    ok(&["merge", &format!("{out}/shards"), "-q"], dir);
}

#[test]
fn merged_shards_are_the_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sharded.ron"), sharded()).unwrap();
    ok(&["run", "sharded.ron", "--out", "whole", "-q"], dir.path());
    // 1 (a single shard), 5 (cuts through points, uneven sizes), 72 (one replica each).
    for count in [1, 5, 72] {
        let out = format!("in-{count}");
        sharded_run(dir.path(), count, &out);
        assert_same_outputs(&dir.path().join("whole"), &dir.path().join(&out));
        let manifest = std::fs::read_to_string(dir.path().join(&out).join("manifest.json")).unwrap();
        assert!(manifest.contains(&format!("\"merged_shards\": {count}")), "{manifest}");
        assert!(manifest.contains("\"resumed\": false"), "{manifest}");
    }
    let shard = std::fs::read_to_string(dir.path().join("in-5/shards/2-of-5/shard.json")).unwrap();
    // Shard 2 of 5 holds global replicas 28..43: replicas 4..19 of the second point.
    assert!(shard.contains("\"first\": 4,\n      \"count\": 15"), "{shard}");

    // A finished shard is left alone; the merged result is not merged over.
    let again = ok(&["run", "sharded.ron", "--shard", "2/5", "--out", "in-5"], dir.path());
    assert!(again.contains("already finished"), "{again}");
    let twice = refused(&["merge", "in-5"], dir.path());
    assert!(twice.contains("already holds results"), "{twice}");
    // Elsewhere, and with --force over it, the same bytes again.
    ok(&["merge", "in-5/shards", "--out", "elsewhere", "-q"], dir.path());
    assert_same_outputs(&dir.path().join("whole"), &dir.path().join("elsewhere"));
    ok(&["merge", "in-5", "--out", "elsewhere", "--force", "-q"], dir.path());
    assert_same_outputs(&dir.path().join("whole"), &dir.path().join("elsewhere"));

    // Without --out: the shards of each scenario (here: of each --set) go to a run directory of their own.
    ok(&["run", "sharded.ron", "--shard", "0/2", "-q"], dir.path());
    ok(&["run", "sharded.ron", "--shard", "0/2", "--set", "seed=5", "-q"], dir.path());
    let runs: Vec<String> = std::fs::read_dir(dir.path().join("results/sharded"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r.starts_with("sharded-")), "{runs:?}");
}

#[test]
fn bad_shard_sets_are_refused_naming_the_shards() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("sharded.ron"), sharded()).unwrap();
    for index in [0, 2] {
        ok(&["run", "sharded.ron", "--shard", &format!("{index}/4"), "--out", "run", "-q"], d);
    }
    // Missing: named, with the command that runs each, and the sbatch line when the array script is known.
    let missing = refused(&["merge", "run/shards", "--sbatch-array", "/jobs/array.sh"], d);
    assert!(missing.contains("shard(s) 1, 3 of 4 are missing"), "{missing}");
    assert!(missing.contains("meanfield run sharded.ron --shard 1/4 --out "), "{missing}");
    assert!(missing.contains("meanfield run sharded.ron --shard 3/4 --out "), "{missing}");
    assert!(missing.contains("sbatch --array=1,3 /jobs/array.sh"), "{missing}");
    assert!(!d.join("run/manifest.json").exists(), "a refused merge writes nothing");

    // Unfinished (the manifest of a shard that was started and stopped): named with its directory.
    ok(&["run", "sharded.ron", "--shard", "1/4", "--out", "run", "-q"], d);
    ok(&["run", "sharded.ron", "--shard", "3/4", "--out", "run", "-q"], d);
    let manifest = d.join("run/shards/3-of-4/shard.json");
    let finished = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, finished.replace("\"finished\": true", "\"finished\": false")).unwrap();
    let unfinished = refused(&["merge", "run"], d);
    assert!(unfinished.contains("shard(s) 3") && unfinished.contains("did not finish"), "{unfinished}");
    assert!(unfinished.contains("3-of-4"), "{unfinished}");
    std::fs::write(&manifest, &finished).unwrap();

    // Twice, of another scenario, of another count.
    std::fs::create_dir_all(d.join("copy")).unwrap();
    assert!(Command::new("cp").args(["-r", "run/shards/2-of-4", "copy/"]).current_dir(d).status().unwrap().success());
    let twice = refused(&["merge", "run/shards", "copy/2-of-4", "--out", "m"], d);
    assert!(twice.contains("shard 2/4 is given twice"), "{twice}");
    ok(&["run", "sharded.ron", "--set", "seed=9", "--shard", "2/4", "--out", "other", "-q"], d);
    let foreign = refused(&["merge", "run/shards/0-of-4", "run/shards/1-of-4", "other/shards/2-of-4", "--out", "m"], d);
    assert!(foreign.contains("other/shards/2-of-4 is not a shard of the same run"), "{foreign}");
    assert!(foreign.contains("scenario SHA-256"), "{foreign}");
    ok(&["run", "sharded.ron", "--shard", "1/3", "--out", "three", "-q"], d);
    let counts = refused(&["merge", "run/shards/0-of-4", "three/shards/1-of-3", "--out", "m"], d);
    assert!(counts.contains("of 3 shards, not of 4"), "{counts}");
    // Another scenario into a shard directory of this one.
    let occupied = refused(&["run", "sharded.ron", "--set", "seed=9", "--shard", "2/4", "--out", "run", "-q"], d);
    assert!(occupied.contains("holds shard 2/4 of another run"), "{occupied}");

    // A damaged shard: fewer finished replicas than its manifest says. Shard 1 holds 6 replicas of width 4
    // (point 0) and 12 of width 8 (point 1): one of point 1 is taken out, so the merge fails after it
    // has written point 0's particle files, and must leave nothing behind that would block a rerun.
    let log = d.join("run/shards/1-of-4/checkpoint/finished.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut kept = String::new();
    let mut dropped = false;
    for line in text.lines() {
        if !dropped && line.contains(" (point:1,") {
            dropped = true;
        } else {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    std::fs::write(&log, &kept).unwrap();
    let damaged = refused(&["merge", "run", "--out", "m"], d);
    assert!(
        damaged.contains("holds 11 finished replicas of point 'width=8'") && damaged.contains("says 12"),
        "{damaged}"
    );
    assert!(damaged.contains("--shard 1/4"), "{damaged}");
    assert!(
        !d.join("m").exists(),
        "a failed merge leaves nothing: {:?}",
        std::fs::read_dir(d.join("m")).map(|d| d.count())
    );
    std::fs::write(&log, &text).unwrap();
    ok(&["merge", "run", "-q"], d);

    // Shard arguments, and scenarios that cannot be sharded.
    let syntax = meanfield(&["run", "sharded.ron", "--shard", "4/4"], d);
    assert_eq!(syntax.code, Some(2));
    assert!(syntax.stderr.contains("the shards of 4 are numbered 0 to 3"), "{}", syntax.stderr);
    let too_many = refused(&["run", "sharded.ron", "--shard", "0/100", "--out", "x"], d);
    assert!(too_many.contains("100 shards for 72 replicas"), "{too_many}");
    let cloning = sharded().replace("resamples: 100", "method: Cloning(clones: 8, populations: 2)");
    std::fs::write(d.join("cloning.ron"), cloning).unwrap();
    let cloning = refused(&["run", "cloning.ron", "--shard", "0/2", "--out", "x"], d);
    assert!(cloning.contains("Cloning"), "{cloning}");
    let nothing = refused(&["merge", "."], d);
    assert!(nothing.contains("holds no shards"), "{nothing}");
    let typo = refused(&["merge", "run/shards/0-of-5"], d);
    assert!(typo.contains("0-of-5: no such directory"), "{typo}");
}

#[test]
fn a_killed_shard_continues_when_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Two widths × 4 replicas of 200 000 steps, checkpoints every 0.2 s: long enough to kill a shard.
    std::fs::write(d.join("slow.ron"), RESUMABLE).unwrap();
    ok(&["run", "slow.ron", "--out", "whole", "-q"], d);
    // Shard 1 of 3 holds replicas 2 and 3 of width 50 (stepped together) and replica 0 of width 100:
    // kill it once the first two have finished and the third has saved its state.
    let mut child = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["run", "slow.ron", "--shard", "1/3", "--out", "run", "-q"])
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = d.join("run/shards/1-of-3/checkpoint");
    let started = Instant::now();
    loop {
        let finished = std::fs::read_to_string(checkpoint.join("finished.log")).unwrap_or_default().lines().count();
        let running = std::fs::read_dir(checkpoint.join("running")).map_or(0, |d| d.count());
        if finished >= 1 && running >= 1 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the shard finished before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(120), "no finished replica after two minutes");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap().success());
    assert_eq!(child.wait().unwrap().code(), None, "killed by a signal");
    let early = refused(&["merge", "run", "--out", "early"], d);
    assert!(early.contains("1 (") && early.contains("did not finish") && early.contains("--shard 1/3"), "{early}");
    assert!(early.contains("shard(s) 0, 2 of 3 are missing"), "{early}");
    let resumed = ok(&["run", "slow.ron", "--shard", "1/3", "--out", "run"], d);
    assert!(resumed.contains("continued from its checkpoint"), "{resumed}");
    for shard in ["0/3", "2/3"] {
        ok(&["run", "slow.ron", "--shard", shard, "--out", "run", "-q"], d);
    }
    ok(&["merge", "run", "-q"], d);
    assert_same_outputs(&d.join("whole"), &d.join("run"));
}

/// A shard's memory is checked against what it holds, a merge's against one point at a time: with a
/// budget below what the run needs at once, the run is refused and its shards and merge are not.
#[test]
fn shards_and_merges_are_held_to_what_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 8 points × 1000 replicas × 201 records: `meanfield check` estimates 149 MiB at once, so about
    // 75 MiB for a shard of 2, 37 MiB for a shard of 4, and 56 MiB for a merge (a point three times over).
    let text = SMALL
        .replace("{OUT}", "results/budget")
        .replace("replicas: 2,", "replicas: 1000,")
        .replace("record: Every(2.0),", "record: Every(0.05),")
        .replace(
            "observables: [Risk(samples: 100), Moments],",
            "observables: [Moments],\n    sweep: (seeds: [1, 2, 3, 4, 5, 6, 7, 8]),\n    outputs: (plots: []),",
        );
    std::fs::write(d.join("budget.ron"), text).unwrap();
    let with_budget = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_meanfield"))
            .args(args)
            .env("MEANFIELD_MEMORY_BUDGET", "64MiB")
            .current_dir(d)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, whole) = with_budget(&["run", "budget.ron", "--out", "whole", "-q"]);
    assert_eq!(code, Some(1));
    assert!(whole.contains("need 149 MiB; this process may use 64 MiB"), "{whole}");
    let (code, half) = with_budget(&["run", "budget.ron", "--shard", "0/2", "--out", "run", "-q"]);
    assert_eq!(code, Some(1));
    assert!(half.contains("need 75 MiB"), "{half}");
    for index in 0..4 {
        let (code, shard) = with_budget(&["run", "budget.ron", "--shard", &format!("{index}/4"), "--out", "run", "-q"]);
        assert_eq!(code, Some(0), "{shard}");
    }
    let (code, merge) = with_budget(&["merge", "run", "-q"]);
    assert_eq!(code, Some(0), "{merge}");
    // Below even that: refused, pointing into the resolved text the shards carry.
    let refused = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["merge", "run", "--out", "small", "-q"])
        .env("MEANFIELD_MEMORY_BUDGET", "40MiB")
        .current_dir(d)
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{message}");
    assert!(message.contains("budget.ron (as resolved in ") && message.contains("need 56 MiB"), "{message}");
    ok(&["run", "budget.ron", "--out", "whole", "-q"], d);
    assert_same_outputs(&d.join("whole"), &d.join("run"));
}

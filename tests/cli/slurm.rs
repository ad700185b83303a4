//! `meanfield slurm --submit` on a real Slurm: the single-node cluster `.ci/slurm-local.sh` starts
//! (`cargo xtask slurm-test` and `.ci/run` start it and set `SLURM_CONF`). A 4-task array and its merge
//! job give the local unsharded run byte for byte; a task cancelled while it runs makes the merge job
//! refuse, naming it with the `sbatch --array=…` line that reruns it, and after that rerun a merge by
//! hand gives the same bytes again.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common::{assert_same_outputs, meanfield, prerequisite};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether a Slurm controller answers (`sinfo` with the cluster of `SLURM_CONF`).
fn slurm_is_up() -> bool {
    std::env::var_os("SLURM_CONF").is_some()
        && Command::new("sinfo").arg("-h").output().is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

fn ok(args: &[&str], dir: &Path) -> String {
    let out = meanfield(args, dir);
    assert_eq!(out.code, Some(0), "meanfield {}: {}", args.join(" "), out.stderr);
    out.stdout
}

/// The job ids `meanfield slurm --submit` printed: (array, merge).
fn job_ids(stdout: &str) -> (String, String) {
    let line = stdout.lines().find(|l| l.starts_with("submitted array job")).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    let (array, merge) = (words[3], words[words.iter().position(|w| *w == "merge").unwrap() + 2]);
    (array.to_owned(), merge.to_owned())
}

/// Waits until none of `jobs` (comma-separated ids) is queued or running.
fn wait_for(jobs: &str, timeout: Duration) {
    let started = Instant::now();
    loop {
        let queue = Command::new("squeue").args(["-h", "-j", jobs]).output().unwrap();
        if String::from_utf8_lossy(&queue.stdout).trim().is_empty() {
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "jobs {jobs} still queued after {timeout:?}:\n{}",
            String::from_utf8_lossy(&queue.stdout)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("slurm/logs").join(name)).unwrap_or_default()
}

#[test]
fn slurm_arrays_merge_into_the_local_run() {
    if !prerequisite(slurm_is_up(), "a Slurm cluster (SLURM_CONF; `cargo xtask slurm-test` starts one)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("sharded.ron"), crate::shards::sharded()).unwrap();
    ok(&["run", "sharded.ron", "--out", "whole", "-q"], d);

    // Without --submit: the scripts, and nothing submitted.
    let printed = ok(&["slurm", "sharded.ron", "--shards", "4", "--out", "printed"], d);
    assert!(printed.contains("#SBATCH --array=0-3"), "{printed}");
    assert!(printed.contains("--shard \"$SLURM_ARRAY_TASK_ID/4\""), "{printed}");
    assert!(printed.contains("sbatch --dependency=afterany:$jobid"), "{printed}");

    let submitted =
        ok(&["slurm", "sharded.ron", "--shards", "4", "--out", "cluster", "--time", "00:10:00", "--submit"], d);
    let (array, merge) = job_ids(&submitted);
    assert!(submitted.contains(&format!("squeue -j {array},{merge}")), "{submitted}");
    wait_for(&format!("{array},{merge}"), Duration::from_secs(300));
    let cluster = d.join("cluster");
    assert!(cluster.join("manifest.json").exists(), "no merged result; merge log:\n{}", log(&cluster, "merge.out"));
    assert_same_outputs(&d.join("whole"), &cluster);
    let manifest = std::fs::read_to_string(cluster.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"merged_shards\": 4"), "{manifest}");
}

#[test]
fn a_cancelled_task_is_named_and_rerun_as_printed() {
    if !prerequisite(slurm_is_up(), "a Slurm cluster (SLURM_CONF; `cargo xtask slurm-test` starts one)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("slow.ron"), crate::outputs::RESUMABLE).unwrap();
    ok(&["run", "slow.ron", "--out", "whole", "-q"], d);
    // Two widths × 4 replicas of 200 000 steps, checkpoints every 0.2 s (`outputs.rs`).
    let submitted = ok(&["slurm", "slow.ron", "--shards", "4", "--out", "cluster", "--submit"], d);
    let (array, merge) = job_ids(&submitted);
    // Task 3 holds replicas 2 and 3 of width 100: cancel it once it has saved a running state.
    let running = d.join("cluster/shards/3-of-4/checkpoint/running");
    let started = Instant::now();
    while std::fs::read_dir(&running).map_or(0, |entries| entries.count()) == 0 {
        assert!(started.elapsed() < Duration::from_secs(300), "task 3 saved no state in 5 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    let cancelled = Command::new("scancel").arg(format!("{array}_3")).status().unwrap();
    assert!(cancelled.success());
    wait_for(&format!("{array},{merge}"), Duration::from_secs(300));
    let cluster = d.join("cluster");
    assert!(!cluster.join("manifest.json").exists(), "merged without task 3");
    let merge_log = log(&cluster, "merge.out");
    assert!(merge_log.contains("3 (") && merge_log.contains("did not finish"), "{merge_log}");
    let rerun = merge_log
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("sbatch --array=3 "))
        .unwrap_or_else(|| panic!("no sbatch line in the merge log:\n{merge_log}"));
    let words: Vec<&str> = rerun.split_whitespace().collect();
    // As printed, with --parsable (before the script: what follows it are the script's arguments).
    let output = Command::new(words[0]).arg("--parsable").args(&words[1..]).output().unwrap();
    assert!(output.status.success(), "{rerun}: {}", String::from_utf8_lossy(&output.stderr));
    let id = String::from_utf8_lossy(&output.stdout).trim().split(';').next().unwrap().to_owned();
    wait_for(&id, Duration::from_secs(300));
    let shard_log = log(&cluster, "shard-3.out");
    assert!(shard_log.contains("continued from its checkpoint"), "{shard_log}");
    ok(&["merge", "cluster", "-q"], d);
    assert_same_outputs(&d.join("whole"), &cluster);
}

/// Without a cluster: the scripts carry the options given, bad options are refused naming them, and a job
/// directory holding another submission's scripts is not written over.
#[test]
fn job_scripts_carry_the_options_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("sharded.ron"), crate::shards::sharded()).unwrap();
    let args = ["slurm", "sharded.ron", "--shards", "3", "--out", "run"];
    let extra =
        ["--partition", "short", "--time", "1-02:00:00", "--cpus-per-task", "2", "--account", "lab", "--mem", "2G"];
    let printed = ok(&[&args[..], &extra[..]].concat(), d);
    for line in [
        "#SBATCH --array=0-2",
        "#SBATCH --partition=short",
        "#SBATCH --time=1-02:00:00",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --account=lab",
        "#SBATCH --mem=2G",
    ] {
        // In both scripts, but the array in the array's only.
        assert_eq!(printed.matches(line).count(), if line.contains("array") { 1 } else { 2 }, "{line}: {printed}");
    }
    // The frozen scenario is the resolved one: it has the same hash.
    let frozen = ok(&["show", "run/slurm/scenario.ron"], d);
    assert_eq!(frozen, ok(&["show", "sharded.ron"], d));
    // Writing the same job again is fine; another job into its directory is not.
    ok(&[&args[..], &extra[..]].concat(), d);
    let other = meanfield(&[&args[..], &["--set", "seed=9"][..]].concat(), d);
    assert_eq!(other.code, Some(1));
    assert!(other.stderr.contains("already holds the job scripts of another submission"), "{}", other.stderr);
    for (option, value, says) in [
        ("--time", "2 hours", "--time \"2 hours\""),
        ("--mem", "lots", "--mem \"lots\""),
        ("--partition", "a b", "--partition \"a b\""),
        ("--cpus-per-task", "0", "at least one CPU"),
    ] {
        let out = meanfield(&["slurm", "sharded.ron", "--shards", "3", "--out", "x", option, value], d);
        assert_eq!(out.code, Some(1), "{option} {value}");
        assert!(out.stderr.contains(says), "{option} {value}: {}", out.stderr);
    }
    let zero = meanfield(&["slurm", "sharded.ron", "--shards", "0", "--out", "x"], d);
    assert_eq!(zero.code, Some(1));
    assert!(zero.stderr.contains("at least one shard"), "{}", zero.stderr);
    let spaced = meanfield(&["slurm", "sharded.ron", "--shards", "3", "--out", "x", "--job-dir", "my jobs"], d);
    assert_eq!(spaced.code, Some(1));
    assert!(spaced.stderr.contains("has a space or a %"), "{}", spaced.stderr);
    let too_many = meanfield(&["slurm", "sharded.ron", "--shards", "100", "--out", "x"], d);
    assert_eq!(too_many.code, Some(1));
    assert!(too_many.stderr.contains("100 shards for 72 replicas"), "{}", too_many.stderr);
    assert!(!d.join("x").exists(), "a refused job writes nothing");
}

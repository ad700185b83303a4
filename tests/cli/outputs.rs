//! What a run leaves behind: sinks chosen in the scenario, NPY particle files (checked against the CSV here and
//! in NumPy), checkpoints that resume byte-identically after Ctrl-C or a kill (and after the scenario file
//! gained comments), plots redrawn from the tables, the HTML report (rendered in headless Chromium),
//! progress lines, and a full disk; and that results are owned: no command replaces an earlier result
//! unasked, and a running run's directory is its own.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common::{Outcome, SMALL, assert_same_bits, assert_same_outputs, files, meanfield, prerequisite, read_csv};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Two widths × 4 replicas of 200 000 online steps (a few seconds in all), every sink on, checkpoints
/// every 0.2 s so that an interruption finds running replicas with saved states. The four replicas of a
/// width step together in lanes (they save and stop as a group; on resume, replicas with a saved state run
/// alone). Four and not five, so that the narrower width's group finishes while the other's runs, whatever
/// the machine's speed (`lockstep.rs` mixes lanes and lone replicas).
pub(crate) const RESUMABLE: &str = r#"Scenario(
    name: "resumable",
    seed: 5,
    replicas: 4,
    model: OneHidden(
        width: 100,
        activation: Tanh,
        c: Trained(Gaussian(mean: 0.0, std: 1.0)),
        w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
    ),
    data: TeacherStudent(dim: 10, teacher: SingleIndex(link: Tanh)),
    dynamics: OnlineSgd(step: Fixed(0.05)),
    horizon: Steps(200000),
    record: Every(1000.0),
    observables: [Risk(samples: 200), Moments],
    sweep: (width: [50, 100]),
    outputs: (
        jsonl: true,
        plots: [Svg],
        particles: Some((times: [0.0, 5000.0, 10000.0], replicas: 2)),
        checkpoint_seconds: Some(0.2),
    ),
)
"#;

/// Starts `meanfield run` on `scenario` into `out`, waits until its checkpoint holds a finished replica
/// and a running one's state, and sends `signal`; returns the exit status.
fn interrupt(dir: &Path, out: &str, signal: &str) -> std::process::ExitStatus {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["run", "resumable.ron", "--out", out, "-q"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = dir.join(out).join("checkpoint");
    let started = Instant::now();
    loop {
        let finished = std::fs::read_to_string(checkpoint.join("finished.log")).unwrap_or_default();
        let running = std::fs::read_dir(checkpoint.join("running")).map_or(0, |d| d.count());
        if finished.lines().count() >= 1 && running >= 1 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run finished before it could be interrupted");
        assert!(started.elapsed() < Duration::from_secs(120), "no checkpoint after two minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    child.wait().unwrap()
}

#[test]
fn interrupted_runs_resume_byte_identically() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("resumable.ron"), RESUMABLE).unwrap();
    let reference = meanfield(&["run", "resumable.ron", "--out", "reference", "-q"], dir.path());
    assert_eq!(reference.code, Some(0), "{}", reference.stderr);
    assert!(!dir.path().join("reference/checkpoint").exists(), "a finished run removes its checkpoint");

    // Ctrl-C: the running replicas save their state, the run says how to continue and exits with 130.
    let status = interrupt(dir.path(), "stopped", "-INT");
    assert_eq!(status.code(), Some(130));
    // The group of the width still running saved its replicas one by one.
    let running: Vec<String> = std::fs::read_dir(dir.path().join("stopped/checkpoint/running"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let in_lanes = |name: &String| (0..4).any(|r| name.ends_with(&format!("-r{r}.ron")));
    assert!(running.iter().any(in_lanes), "no saved state of a replica in lanes: {running:?}");
    // Running it again without --resume would throw the work away: refused.
    let again = meanfield(&["run", "resumable.ron", "--out", "stopped", "-q"], dir.path());
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains("holds the checkpoint of an interrupted run"), "{}", again.stderr);
    let resumed = meanfield(&["run", "resumable.ron", "--resume", "stopped", "-q"], dir.path());
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    assert_same_outputs(&dir.path().join("reference"), &dir.path().join("stopped"));
    let manifest = std::fs::read_to_string(dir.path().join("stopped/manifest.json")).unwrap();
    assert!(manifest.contains("\"resumed\": true"), "{manifest}");

    // A kill: no chance to save, so the run continues from the last interval's states; a torn last line
    // of the finished log is dropped.
    let status = interrupt(dir.path(), "killed", "-KILL");
    assert_eq!(status.code(), None, "killed by a signal");
    let killed = dir.path().join("killed");

    // Refusals, before anything runs: another scenario, a corrupted checkpoint.
    let other = dir.path().join("other.ron");
    std::fs::write(&other, RESUMABLE.replace("seed: 5", "seed: 6")).unwrap();
    let refused = meanfield(&["run", "other.ron", "--resume", "killed", "-q"], dir.path());
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("is from another scenario (it differs in seed)"), "{}", refused.stderr);
    let copy = dir.path().join("corrupted");
    copy_dir(&killed, &copy);
    let log = copy.join("checkpoint/finished.log");
    let mut bytes = std::fs::read(&log).unwrap();
    // A digit of the first entry, past its 64-digit checksum.
    let digit = (70..bytes.len()).find(|&i| bytes[i].is_ascii_digit() && bytes[i] != b'9').unwrap();
    bytes[digit] += 1;
    std::fs::write(&log, bytes).unwrap();
    let refused = meanfield(&["run", "resumable.ron", "--resume", "corrupted", "-q"], dir.path());
    assert_eq!(refused.code, Some(1));
    assert!(
        refused.stderr.contains("finished.log is corrupted at line 1") && !refused.stderr.contains("panicked"),
        "{}",
        refused.stderr
    );
    let missing = meanfield(&["run", "resumable.ron", "--resume", "reference", "-q"], dir.path());
    assert!(missing.code == Some(1) && missing.stderr.contains("holds no checkpoint"), "{}", missing.stderr);

    // The same scenario with comments, another layout and a default written out: the same run.
    let commented = format!(
        "// the resumable scenario, annotated\n{}",
        RESUMABLE.replace("    ", "\t").replace("seed: 5,", "seed: 5, /* as before */ ensemble: Annealed,")
    );
    std::fs::write(dir.path().join("commented.ron"), commented).unwrap();
    let resumed = meanfield(&["run", "commented.ron", "--resume", "killed", "-q"], dir.path());
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    assert_same_outputs(&dir.path().join("reference"), &killed);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A smaller run with every sink: its JSON lines, particle files and CSV agree.
const SINKS: &str = r#"Scenario(
    name: "sinks",
    seed: 2,
    replicas: 3,
    model: OneHidden(
        width: 6,
        activation: Tanh,
        c: Trained(Gaussian(mean: 0.0, std: 1.0)),
        w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
    ),
    data: TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh)),
    dynamics: OnlineSgd(step: Fixed(0.1)),
    horizon: Steps(100),
    record: Every(2.0),
    observables: [Risk(samples: 50), Moments],
    outputs: (jsonl: true, plots: [], particles: Some((times: [0.0, 4.9, 10.0], replicas: 2))),
)
"#;

/// `outputs.snapshots`, the old name of `particles`, is still read, with one warning line, and writes
/// the same files into `particles/`; both names at once are refused, naming the old one.
#[test]
fn the_old_name_of_particles_is_read_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let old = SINKS.replace("particles: Some(", "snapshots: Some(");
    std::fs::write(dir.path().join("old.ron"), &old).unwrap();
    let out = meanfield(&["run", "old.ron", "--out", "out", "-q"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(
        warnings,
        [
            "warning: old.ron: `outputs.snapshots` is deprecated: call it `outputs.particles` (it writes particles/*.npy)"
        ]
    );
    assert_eq!(files(&dir.path().join("out/particles")).len(), 6, "3 times × 2 blocks");
    assert!(!dir.path().join("out/snapshots").exists());
    let both = SINKS.replace("particles: Some(", "snapshots: Some((times: [0.0])), particles: Some(");
    std::fs::write(dir.path().join("both.ron"), both).unwrap();
    let out = meanfield(&["check", "both.ron"], dir.path());
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("both.ron:16:") && out.stderr.contains("outputs.snapshots: is the old name of `particles`"),
        "{}",
        out.stderr
    );
}

#[test]
fn json_lines_and_npy_particles_match_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sinks.ron"), SINKS).unwrap();
    let out = meanfield(&["run", "sinks.ron", "--out", "out", "-q"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = dir.path().join("out");
    assert!(!out.join("risk.svg").exists(), "plots: [] draws nothing");
    let (header, rows) = read_csv(&out.join("timeseries.csv"));

    // JSON lines: one per CSV row, the same numbers (the shortest round-trip form in both).
    let jsonl = std::fs::read_to_string(out.join("timeseries.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), rows.len());
    for (line, row) in jsonl.lines().zip(&rows) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["replica"].as_u64().unwrap().to_string(), row[4]);
        assert_eq!(value["step"].as_u64().unwrap().to_string(), row[5]);
        for (column, cell) in header.iter().zip(row).skip(7) {
            let (csv, json) = (cell.parse::<f64>().unwrap(), value["values"][column].as_f64().unwrap());
            assert_same_bits(&csv, &json, format!("{column} of the JSON line against the CSV row"));
        }
    }

    // Particle files: the records nearest 0, 4.9 and 10 (steps 0, 40 and 100 at t = 0.1 per step, records
    // every 20 steps), replicas 0 and 1; mean(c) and m2(w) recomputed from them equal the CSV's exactly
    // (same summation order).
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (time, step) in [("0", "0"), ("4", "40"), ("10", "100")] {
        let c: ndarray::Array3<f64> = ndarray_npy::read_npy(out.join(format!("particles/run_t={time}_c.npy"))).unwrap();
        let w: ndarray::Array3<f64> = ndarray_npy::read_npy(out.join(format!("particles/run_t={time}_w.npy"))).unwrap();
        assert_eq!((c.shape(), w.shape()), (&[2, 6, 1][..], &[2, 6, 3][..]));
        for replica in 0..2 {
            let row = rows.iter().find(|r| r[4] == replica.to_string() && r[5] == step).unwrap();
            let c_values: Vec<f64> = c.slice(ndarray::s![replica, .., ..]).iter().copied().collect();
            let w_values: Vec<f64> = w.slice(ndarray::s![replica, .., ..]).iter().copied().collect();
            let mean_c = c_values.iter().sum::<f64>() / 6.0;
            let m2_w = w_values.iter().map(|v| v * v).sum::<f64>() / 18.0;
            let at = format!("t = {time}, replica {replica}: from the particle file against the CSV");
            assert_same_bits(&row[col("mean(c)")].parse::<f64>().unwrap(), &mean_c, format!("mean(c) at {at}"));
            assert_same_bits(&row[col("m2(w)")].parse::<f64>().unwrap(), &m2_w, format!("m2(w) at {at}"));
        }
    }
    let names: Vec<String> = files(&out.join("particles")).iter().map(|p| p.display().to_string()).collect();
    assert_eq!(names.len(), 6, "{names:?}");

    // The same check in NumPy.
    let numpy = Command::new("python3").args(["-c", "import numpy"]).output();
    if !prerequisite(numpy.is_ok_and(|o| o.status.success()), "python3 with numpy (the NumPy round trip)") {
        return;
    }
    let script = r#"
import csv, sys, numpy as np
out = sys.argv[1]
rows = list(csv.DictReader(open(out + "/timeseries.csv")))
for time, step in [("0", "0"), ("4", "40"), ("10", "100")]:
    c = np.load(f"{out}/particles/run_t={time}_c.npy")
    w = np.load(f"{out}/particles/run_t={time}_w.npy")
    assert c.dtype == np.float64 and c.shape == (2, 6, 1) and w.shape == (2, 6, 3), (c.shape, w.shape)
    for replica in range(2):
        row = next(r for r in rows if r["replica"] == str(replica) and r["step"] == step)
        assert abs(c[replica].mean() - float(row["mean(c)"])) <= 1e-12, (c[replica].mean(), row["mean(c)"])
        assert abs((w[replica] ** 2).mean() - float(row["m2(w)"])) <= 1e-12
print("numpy round trip ok")
"#;
    let run = Command::new("python3").args(["-c", script, &out.display().to_string()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.contains("round trip ok"),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn plots_are_redrawn_from_the_tables_and_the_report_renders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sinks.ron"), SINKS.replace("plots: [], ", "")).unwrap();
    let run = meanfield(&["run", "sinks.ron", "--out", "out"], dir.path());
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // Not a terminal: plain progress lines instead of bars.
    assert!(
        run.stderr.contains("progress: 100%") && run.stderr.contains("progress: point N = 6 finished"),
        "{}",
        run.stderr
    );
    let out = dir.path().join("out");
    let png = std::fs::read(out.join("risk.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));

    // `meanfield plot` redraws the same figure from the table alone.
    let redrawn = meanfield(&["plot", "out/timeseries.csv", "--out", "again", "--format", "svg"], dir.path());
    assert_eq!(redrawn.code, Some(0), "{}", redrawn.stderr);
    assert_same_bits(&out.join("risk.svg"), &dir.path().join("again/risk.svg"), "the SVG redrawn by `meanfield plot`");
    assert!(!dir.path().join("again/risk.png").exists());
    let wrong = meanfield(&["plot", "out/summary.ron"], dir.path());
    assert_eq!(wrong.code, Some(1));
    assert!(wrong.stderr.contains("not a table meanfield plots"), "{}", wrong.stderr);

    let report = meanfield(&["report", "out"], dir.path());
    assert_eq!(report.code, Some(0), "{}", report.stderr);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<figure").count(), 1, "one figure: the risk");
    for part in [
        "<h2>Manifest</h2>",
        "scenario_sha256",
        "name: &quot;sinks&quot;",
        "<h2>timeseries.csv</h2>",
        "Population risk",
    ] {
        assert!(html.contains(part), "{part}");
    }
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "self-contained");
    let not_a_run = meanfield(&["report", "."], dir.path());
    assert!(not_a_run.code == Some(1) && not_a_run.stderr.contains("manifest.json"), "{}", not_a_run.stderr);

    check_rendered_in_chromium(&out.join("report.html"), 1);
}

/// Opens the report in headless Chromium and reads back how many plots it laid out and drew (the page's
/// own script writes the counts on `<body>`). Needs Chromium (see [`prerequisite`]).
fn check_rendered_in_chromium(report: &Path, expected: usize) {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
    else {
        prerequisite(false, "chromium on PATH (the browser check of report.html)");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    // A browser that hangs must fail the test, not stall CI: coreutils' timeout bounds it.
    let dom = Command::new("timeout")
        .args([
            "120",
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            &format!("file://{}", report.display()),
        ])
        .output()
        .unwrap();
    assert!(dom.status.success(), "chromium failed or timed out: {}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout);
    let attribute = |name: &str| {
        let start = dom.find(&format!("{name}=\"")).unwrap_or_else(|| panic!("no {name} in the rendered DOM:\n{dom}"));
        let rest = &dom[start + name.len() + 2..];
        rest[..rest.find('"').unwrap()].parse::<usize>().unwrap()
    };
    assert_eq!(attribute("data-plots"), expected);
    assert_eq!(attribute("data-plots-rendered"), expected, "plots laid out with drawn shapes");
}

/// A tiny tmpfs fills up during the run: a clear error naming the file and the cause, exit 1, and what
/// finished is kept in the checkpoint, from which the run resumes elsewhere to the same results. Needs
/// root, to mount (see [`prerequisite`]).
#[test]
fn a_full_disk_keeps_what_finished() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=48k", "tmpfs"]).arg(&disk).output();
    if !prerequisite(mounted.as_ref().is_ok_and(|o| o.status.success()), "mounting a tmpfs (root)") {
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(disk.clone());
    let scenario = SINKS.replace("replicas: 3", "replicas: 40").replace("horizon: Steps(100)", "horizon: Steps(400)");
    std::fs::write(dir.path().join("big.ron"), &scenario).unwrap();
    let full = meanfield(&["run", "big.ron", "--out", "disk/out", "-q"], dir.path());
    assert_eq!(full.code, Some(1), "{}", full.stderr);
    assert!(full.stderr.contains("No space left on device"), "{}", full.stderr);
    assert!(full.stderr.contains("kept in") && full.stderr.contains("--resume"), "{}", full.stderr);
    assert!(!full.stderr.contains("panicked"), "{}", full.stderr);
    let log = std::fs::read_to_string(disk.join("out/checkpoint/finished.log")).unwrap();
    let kept = log.lines().count();
    assert!(kept >= 1, "finished replicas are kept");

    // Elsewhere, with room: the run continues from what was kept and matches a run that never failed.
    copy_dir(&disk.join("out"), &dir.path().join("moved"));
    let resumed = meanfield(&["run", "big.ron", "--resume", "moved", "-q"], dir.path());
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    let reference = meanfield(&["run", "big.ron", "--out", "reference", "-q"], dir.path());
    assert_eq!(reference.code, Some(0), "{}", reference.stderr);
    for file in ["timeseries.csv", "timeseries.jsonl", "summary.ron"] {
        let (reference, moved) = (dir.path().join("reference").join(file), dir.path().join("moved").join(file));
        assert_same_bits(&reference, &moved, format!("{file} resumed from the kept part ({kept} replicas)"));
    }
}

/// A case of owned outputs: in a fresh directory the commands of `before` succeed, `files` are written
/// (a name ending in `/` is a directory), then `command` exits with `code` and its stderr contains every
/// fragment of `stderr`. Every file that existed before `command` still has its bytes afterwards, but those
/// in `changes`; a refused command adds no file either. `after` checks what else the case is about.
struct Case {
    files: &'static [(&'static str, &'static str)],
    before: &'static [&'static [&'static str]],
    command: &'static [&'static str],
    code: i32,
    stderr: &'static [&'static str],
    changes: &'static [&'static str],
    after: fn(&Path),
}

const NOTHING: fn(&Path) = |_| {};

/// The small scenario writing under `root/`, and the same with another seed (another table).
fn small() -> String {
    SMALL.replace("{OUT}", "root")
}

/// Every file and link under `dir` with its bytes (a link: where it points).
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_owned();
            let meta = path.symlink_metadata().unwrap();
            if meta.file_type().is_symlink() {
                out.insert(relative, std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes());
            } else if meta.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn check(case: Case) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("small.ron"), small()).unwrap();
    std::fs::write(dir.path().join("other.ron"), small().replace("seed: 3", "seed: 4")).unwrap();
    for command in case.before {
        let out = meanfield(command, dir.path());
        assert_eq!(out.code, Some(0), "{command:?}: {}", out.stderr);
    }
    for (name, text) in case.files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(if name.ends_with('/') { &path } else { path.parent().unwrap() }).unwrap();
        if !name.ends_with('/') {
            std::fs::write(&path, text).unwrap();
        }
    }
    let before = contents(dir.path());
    let out: Outcome = meanfield(case.command, dir.path());
    assert_eq!(out.code, Some(case.code), "{:?}\n{}", case.command, out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    for fragment in case.stderr {
        assert!(out.stderr.contains(fragment), "{:?}: no {fragment:?} in\n{}", case.command, out.stderr);
    }
    let after = contents(dir.path());
    for (path, bytes) in &before {
        if !case.changes.iter().any(|c| Path::new(c) == path) {
            assert!(after.get(path) == Some(bytes), "{:?} touched {}", case.command, path.display());
        }
    }
    if case.code != 0 {
        let added: Vec<_> = after.keys().filter(|p| !before.contains_key(*p)).collect();
        assert!(added.is_empty(), "{:?} was refused but wrote {added:?}", case.command);
    }
    (case.after)(dir.path());
}

/// The dated run directories under `root`, oldest first.
fn run_dirs(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "latest")
        .collect();
    // 2026-12-04T18-50-12 < 2026-12-04T18-50-12-2 < …-3: by length within a second, then by name.
    names.sort_by_key(|n| (n[..19].to_owned(), n.len(), n.clone()));
    names
}

const RUN: &[&str] = &["run", "small.ron", "-q"];
const RUN_OUT: &[&str] = &["run", "small.ron", "--out", "out", "-q"];

#[test]
fn rerunning_into_the_default_root_keeps_every_result() {
    check(Case {
        files: &[],
        before: &[RUN],
        command: RUN,
        code: 0,
        stderr: &[],
        changes: &["root/latest"],
        after: |dir| {
            let runs = run_dirs(&dir.join("root"));
            assert_eq!(runs.len(), 2, "{runs:?}");
            assert!(runs.iter().all(|n| n.len() >= 19 && n.as_bytes()[10] == b'T'), "{runs:?}");
            assert_eq!(std::fs::read_link(dir.join("root/latest")).unwrap(), Path::new(&runs[1]));
            // Both runs are whole, and the same run twice gives the same bits.
            let (first, second) = (dir.join("root").join(&runs[0]), dir.join("root").join(&runs[1]));
            assert_same_outputs(&first, &second);
        },
    });
}

#[test]
fn a_named_directory_with_results_is_refused_and_force_replaces_only_them() {
    let notes = &[("out/notes.txt", "my notes")];
    check(Case {
        files: notes,
        before: &[],
        command: RUN_OUT,
        code: 1,
        stderr: &["out already holds results (notes.txt)", "--force"],
        changes: &[],
        after: NOTHING,
    });
    check(Case {
        files: notes,
        before: &[RUN_OUT],
        command: &["run", "other.ron", "--out", "out", "-q"],
        code: 1,
        stderr: &["out already holds results", "--force"],
        changes: &[],
        after: NOTHING,
    });
    check(Case {
        files: notes,
        before: &[RUN_OUT],
        command: &["run", "other.ron", "--out", "out", "--force", "-q"],
        code: 0,
        stderr: &[],
        changes: &[
            "out/timeseries.csv",
            "out/summary.ron",
            "out/summary.json",
            "out/risk.svg",
            "out/risk.png",
            "out/manifest.json",
        ],
        after: |dir| {
            let manifest = std::fs::read_to_string(dir.join("out/manifest.json")).unwrap();
            assert!(manifest.contains("other.ron"), "the new run's manifest: {manifest}");
            assert_eq!(std::fs::read_to_string(dir.join("out/notes.txt")).unwrap(), "my notes");
        },
    });
    // A checkpoint without work (a run that aborted at its start) is no result: a fresh run replaces it.
    let header = meanfield_sinks::CheckpointHeader::new("abc".into(), "0.1.0".into(), vec![("".into(), 2, 200)]);
    let header: &'static str = Box::leak(ron::to_string(&header).unwrap().into_boxed_str());
    let files =
        [("out/checkpoint/header.ron", header), ("out/checkpoint/finished.log", ""), ("out/checkpoint/running/", "")];
    check(Case {
        files: Box::leak(Box::new(files)),
        before: &[],
        command: RUN_OUT,
        code: 0,
        stderr: &[],
        changes: &["out/checkpoint/header.ron", "out/checkpoint/finished.log"],
        after: |dir| assert!(dir.join("out/summary.ron").is_file() && !dir.join("out/checkpoint").exists()),
    });
}

#[test]
fn names_and_outputs_that_leave_their_place_are_refused_at_check_time() {
    for (from, to, field, problem) in [
        ("\"small\"", "\"../../x\"", "name", "path separator"),
        ("\"small\"", "\"\"", "name", "is empty"),
        ("\"small\"", "\"..\"", "name", "names a directory"),
        ("\"small\"", "\"-rf\"", "name", "starts with '-'"),
        ("\"root\"", "\"\"", "output", "is empty"),
        ("\"root\"", "\"../elsewhere\"", "output", "climbs out"),
        ("\"root\"", "\"~/results\"", "output", "not expanded"),
    ] {
        for command in ["check", "run"] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("bad.ron"), small().replacen(from, to, 1)).unwrap();
            let out = meanfield(&[command, "bad.ron"], dir.path());
            assert_eq!(out.code, Some(1), "{command} {to}: {}", out.stderr);
            assert!(
                out.stderr.contains("bad.ron:")
                    && out.stderr.contains(&format!(" {field}: "))
                    && out.stderr.contains(problem),
                "{command} {field} = {to}: {}",
                out.stderr
            );
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "{command} {to} wrote something");
        }
    }
}

const RUN_A: &[&str] = &["run", "small.ron", "--out", "a", "-q"];
const RUN_B: &[&str] = &["run", "other.ron", "--out", "b", "-q"];
const PLOT_A: &[&str] = &["plot", "a/timeseries.csv", "--out", "x"];
const PLOT_B: &[&str] = &["plot", "b/timeseries.csv", "--out", "x"];

#[test]
fn plot_redraws_its_own_figures_and_nothing_else() {
    // Two tables whose figures would land on one path: refused before drawing either.
    check(Case {
        files: &[],
        before: &[RUN_A, RUN_B],
        command: &["plot", "a/timeseries.csv", "b/timeseries.csv", "--out", "x"],
        code: 1,
        stderr: &["a/timeseries.csv and b/timeseries.csv would both draw x/risk.svg"],
        changes: &[],
        after: |dir| assert!(!dir.join("x").exists()),
    });
    // The same table again: its own figures are redrawn in place (the same bits).
    check(Case {
        files: &[],
        before: &[RUN_A, PLOT_A],
        command: PLOT_A,
        code: 0,
        stderr: &[],
        changes: &[],
        after: NOTHING,
    });
    // Into the run directory that holds the table: the run's own figures.
    check(Case {
        files: &[],
        before: &[RUN_A],
        command: &["plot", "a/timeseries.csv"],
        code: 0,
        stderr: &[],
        changes: &[],
        after: NOTHING,
    });
    // Another table's figures, or a file meanfield did not draw: refused without --force.
    check(Case {
        files: &[],
        before: &[RUN_A, RUN_B, PLOT_A],
        command: PLOT_B,
        code: 1,
        stderr: &["x/risk.svg already exists", "b/timeseries.csv", "--force"],
        changes: &[],
        after: NOTHING,
    });
    check(Case {
        files: &[("x/risk.png", "my own picture")],
        before: &[RUN_A],
        command: PLOT_A,
        code: 1,
        stderr: &["x/risk.png already exists", "--force"],
        changes: &[],
        after: NOTHING,
    });
    check(Case {
        files: &[("x/notes.txt", "kept")],
        before: &[RUN_A, RUN_B, PLOT_A],
        command: &["plot", "b/timeseries.csv", "--out", "x", "--force"],
        code: 0,
        stderr: &[],
        changes: &["x/risk.svg", "x/risk.png", "x/.meanfield-plots.json"],
        after: |dir| assert_same_bits(&dir.join("b/risk.svg"), &dir.join("x/risk.svg"), "the figure of b, forced"),
    });
}

/// Kills the child when dropped, so that a failed assertion leaves no run behind.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_running_run_owns_its_directory_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough to outlast the checks (it is killed after them); no checkpoints, so a kill leaves only
    // the lock file.
    let slow = RESUMABLE.replace("Steps(200000)", "Steps(20000000)").replace("Some(0.2)", "None");
    std::fs::write(dir.path().join("slow.ron"), slow).unwrap();
    std::fs::write(dir.path().join("small.ron"), small()).unwrap();
    let mut first = Running(
        Command::new(env!("CARGO_BIN_EXE_meanfield"))
            .args(["run", "slow.ron", "--out", "busy", "-q"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let lock = dir.path().join("busy").join(meanfield_sinks::rundir::LOCK_FILE);
    let started = Instant::now();
    while std::fs::read_to_string(&lock).unwrap_or_default().trim().is_empty() {
        assert!(first.0.try_wait().unwrap().is_none(), "the first run ended before it could be joined");
        assert!(started.elapsed() < Duration::from_secs(60), "no lock file after a minute");
        std::thread::sleep(Duration::from_millis(10));
    }
    let holder = format!("busy is in use by another meanfield run (pid {})", first.0.id());
    for command in [&["run", "small.ron", "--out", "busy", "-q"][..], &["run", "slow.ron", "--resume", "busy", "-q"]] {
        let second = meanfield(command, dir.path());
        assert_eq!(second.code, Some(1), "{command:?}: {}", second.stderr);
        assert!(second.stderr.contains(&holder), "{command:?}: {}", second.stderr);
    }
    assert!(first.0.try_wait().unwrap().is_none(), "the refused runs did not stop the first");
    // A killed run's lock file stays, but its lock died with it.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    assert!(lock.is_file());
    let after = meanfield(&["run", "small.ron", "--out", "busy", "-q"], dir.path());
    assert_eq!(after.code, Some(0), "{}", after.stderr);
    assert!(!lock.exists(), "a finished run removes its lock file");
}

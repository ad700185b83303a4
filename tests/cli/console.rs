//! What the binary prints, pinned by insta snapshots: `meanfield check` (one line per sweep point), the
//! risk table and the last line of `meanfield run`, and the messages of user errors (file:line:column,
//! the offending line, what was expected).
//!
//! Each snapshot holds the exit code, stdout and stderr of one command. What varies from run to run is
//! replaced first: the temporary directory by `[TMP]`, the seconds and thread count of the last line of a
//! run by `[SECONDS]` and `[THREADS]`; progress lines (timed) are dropped. The numbers of the table are
//! rounded by the binary and bit-reproducible, so they stay as printed.

use crate::common::{SMALL, root};
use meanfield_scenario::plugins::PLUGIN_PATH_VAR;
use std::path::Path;
use std::process::Command;

/// Runs `meanfield args` in `cwd` without a plugin path from the environment, and describes the outcome
/// for a snapshot: exit code, stdout, stderr, with `tmp` written as `[TMP]`.
fn printed(args: &[&str], cwd: &Path, tmp: Option<&Path>) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(args)
        .current_dir(cwd)
        .env_remove(PLUGIN_PATH_VAR)
        .output()
        .unwrap();
    let text = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let text = match tmp {
            Some(tmp) => text.replace(&tmp.display().to_string(), "[TMP]"),
            None => text,
        };
        let lines: Vec<String> =
            text.lines().filter(|line| !line.starts_with("progress: ")).map(redact_timing).map(redact_memory).collect();
        lines.join("\n")
    };
    let code = out.status.code().map_or_else(|| "none (killed by a signal)".to_owned(), |c| c.to_string());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&out.stderr));
    format!("exit code: {code}\n--- stdout ---\n{}\n--- stderr ---\n{}\n", text(&out.stdout), text(&out.stderr))
}

/// `results written to DIR/ (FILES) in 1.23 s on 2 thread(s)` with the seconds and the thread count
/// replaced (each checked to be a number first); every other line as it is.
fn redact_timing(line: &str) -> String {
    let Some((head, tail)) = line.strip_prefix("results written to ").and_then(|_| line.rsplit_once(" in ")) else {
        return line.to_owned();
    };
    let (seconds, rest) = tail.split_once(" s on ").unwrap_or_else(|| panic!("no seconds in {line:?}"));
    let threads = rest.strip_suffix(" thread(s)").unwrap_or_else(|| panic!("no thread count in {line:?}"));
    assert!(seconds.parse::<f64>().is_ok() && threads.parse::<usize>().is_ok(), "{line:?}");
    format!("{head} in [SECONDS] s on [THREADS] thread(s)")
}

/// `  memory: needs about 4.5 MiB of 23 GiB (available memory)` from `check`: the need grows with the
/// thread count and the budget is the machine's, so both are replaced.
fn redact_memory(line: String) -> String {
    if line.starts_with("  memory: needs about ") && line.contains(" of ") {
        return "  memory: needs about [BYTES] of [BUDGET]".to_owned();
    }
    line
}

#[test]
fn redaction_replaces_only_the_timing() {
    let line = "results written to [TMP]/out/ (timeseries.csv, summary.ron) in 12.34 s on 2 thread(s)";
    assert_eq!(
        redact_timing(line),
        "results written to [TMP]/out/ (timeseries.csv, summary.ron) in [SECONDS] s on [THREADS] thread(s)"
    );
    assert_eq!(redact_timing("N=8 seed=3 in 2 s"), "N=8 seed=3 in 2 s");
}

/// `meanfield check scenarios/<name>.ron`, run from the repository root.
fn check_scenario(name: &str) -> String {
    let file = format!("scenarios/{name}.ron");
    let out = printed(&["check", &file], &root(), None);
    assert!(out.starts_with("exit code: 0\n"), "{out}");
    out
}

#[test]
fn check_prints_every_point_of_the_default_scenario() {
    insta::assert_snapshot!("check_default", check_scenario("default"));
}

/// A sweep of a field (the initial law's spread) rather than the width, log-spaced records, a limit.
#[test]
fn check_prints_every_point_of_a_scenario_with_a_limit() {
    insta::assert_snapshot!("check_mei_isotropic_gaussians", check_scenario("mei_isotropic_gaussians"));
}

/// Two hidden layers, and an LDP scenario sweeping widths and seeds.
#[test]
fn check_prints_every_point_of_a_three_layer_and_an_ldp_scenario() {
    insta::assert_snapshot!("check_three_layer_teacher_student", check_scenario("three_layer_teacher_student"));
    insta::assert_snapshot!("check_ldp_one_hidden_quenched", check_scenario("ldp_one_hidden_quenched"));
}

#[test]
fn run_of_the_default_scenario_prints_the_risk_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").display().to_string();
    let printed =
        printed(&["run", "scenarios/default.ron", "--out", &out, "--threads", "2"], &root(), Some(dir.path()));
    assert!(printed.starts_with("exit code: 0\n"), "{printed}");
    insta::assert_snapshot!("run_default", printed);
}

/// The small scenario of the other tests: one point without a sweep label, so the table names its width.
#[test]
fn run_of_the_small_scenario_prints_the_risk_table() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("small.ron"), SMALL.replace("{OUT}", "out")).unwrap();
    let printed = printed(&["run", "small.ron", "--out", "out", "--threads", "1"], dir.path(), Some(dir.path()));
    assert!(printed.starts_with("exit code: 0\n"), "{printed}");
    insta::assert_snapshot!("run_small", printed);
}

/// Writes SMALL, with `from` replaced by `to`, to `bad.ron` and runs `meanfield check` and `meanfield run`
/// on it: both must fail with exit code 1 and print the same message; returns what `check` printed.
fn user_error(from: &str, to: &str) -> String {
    assert!(SMALL.contains(from), "{from}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.ron"), SMALL.replacen(from, to, 1).replace("{OUT}", "out")).unwrap();
    let check = printed(&["check", "bad.ron"], dir.path(), Some(dir.path()));
    let run = printed(&["run", "bad.ron"], dir.path(), Some(dir.path()));
    assert!(check.starts_with("exit code: 1\n--- stdout ---\n\n"), "{check}");
    assert_eq!(run, check, "`run` and `check` report a bad scenario alike");
    check
}

#[test]
fn malformed_ron_shows_file_line_column_and_the_line() {
    insta::assert_snapshot!("error_malformed_ron", user_error("width: 8,\n", "width: 8\n"));
}

#[test]
fn unknown_field_shows_the_expected_ones() {
    insta::assert_snapshot!("error_unknown_field", user_error("width: 8", "widht: 8"));
}

#[test]
fn negative_width_shows_what_was_expected() {
    insta::assert_snapshot!("error_negative_width", user_error("width: 8", "width: -8"));
}

#[test]
fn negative_step_names_the_field_and_the_value() {
    insta::assert_snapshot!("error_negative_step", user_error("Fixed(0.05)", "Fixed(-0.05)"));
}

#[test]
fn missing_plugin_lists_where_it_was_looked_for() {
    let plugin = r#"activation: Plugin(lib: "nowhere/swish", name: "swish")"#;
    insta::assert_snapshot!("error_missing_plugin", user_error("activation: Tanh", plugin));
}

//! Plugins end to end, with real libraries: the examples of `plugins/` and the broken fixtures of
//! `tests/plugins/`, built by [`common::plugin_dir`] before the first test that needs them.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common::{self, SMALL, assert_same_bits, meanfield, plugin_dir, plugin_lib, root, scenario_path};
use meanfield_core::summary::Summary;
use meanfield_core::{DataDistribution, FaultLog, Purpose, StreamKey};
use meanfield_scenario::CheckedScenario;
use meanfield_scenario::plugins;
use std::path::Path;
use std::sync::Arc;

/// As in runs.rs: six significant digits are far above cross-platform libm noise.
const SNAPSHOT_DIGITS: usize = 6;

/// `lib:` for a plugin built by the tests: an absolute path without the platform's prefix and suffix.
fn lib(name: &str) -> String {
    plugin_dir().join(name).display().to_string()
}

/// SMALL with its activation replaced by `activation`.
fn with_activation(activation: &str) -> String {
    SMALL.replacen("activation: Tanh", &format!("activation: {activation}"), 1)
}

/// SMALL with its data law replaced by `data`.
fn with_data(data: &str) -> String {
    let from = "data: TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))";
    assert!(SMALL.contains(from));
    SMALL.replacen(from, &format!("data: {data}"), 1)
}

/// Writes `scenario` into a fresh directory as `bad.ron` (plus `extra` files), runs `commands` there, and
/// checks each exits with `code`, never panics the host, and prints every fragment of `expected`.
fn check_with(
    scenario: &str,
    extra: &[(&str, &[u8])],
    commands: &[&str],
    code: i32,
    expected: &[&str],
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.ron"), scenario.replace("{OUT}", "out")).unwrap();
    for (name, bytes) in extra {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    for command in commands {
        let out = meanfield(&[command, "bad.ron"], dir.path());
        assert_eq!(out.code, Some(code), "`{command}` exit code\n{}", out.stderr);
        assert!(!out.stderr.contains("thread 'main' panicked"), "the host panicked:\n{}", out.stderr);
        for fragment in expected {
            assert!(out.stderr.contains(fragment), "`{command}`: missing {fragment:?} in:\n{}", out.stderr);
        }
    }
    dir
}

/// A fault found while building (before any step): `check` and `run` both exit 1 with the message.
fn check(scenario: &str, expected: &[&str]) {
    check_with(scenario, &[], &["check", "run"], 1, expected);
}

#[test]
fn a_missing_library_lists_where_it_was_looked_for() {
    check(
        &with_activation(r#"Plugin(lib: "nowhere/swish", name: "swish")"#),
        &["bad.ron:8:", "plugin library 'nowhere/swish' not found", "nowhere/libswish.so"],
    );
}

#[test]
fn a_file_that_is_not_a_shared_library_is_refused() {
    check_with(
        &with_activation(r#"Plugin(lib: "fake", name: "swish")"#),
        &[("libfake.so", b"not a library\n")],
        &["check", "run"],
        1,
        &["cannot load", "libfake.so as a shared library"],
    );
}

#[test]
fn a_library_without_the_descriptor_symbol_is_refused() {
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "swish")"#, lib("fixture_no_descriptor"))),
        &["is not a meanfield plugin", "no symbol `mf_plugin_descriptor`"],
    );
}

#[test]
fn an_abi_version_mismatch_is_refused_before_the_descriptor_is_touched() {
    // The fixture's descriptor function aborts the process: reaching it would fail this test.
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "swish")"#, lib("fixture_abi_mismatch"))),
        &["built for plugin ABI version 999", "speaks version 1", "rebuild the plugin"],
    );
}

#[test]
fn a_descriptor_of_another_size_is_refused() {
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "swish")"#, lib("fixture_wrong_size"))),
        &["unusable plugin descriptor", "descriptor size 16 bytes"],
    );
}

#[test]
fn an_unknown_name_lists_what_the_plugin_provides() {
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "swishy")"#, lib("swish"))),
        &["bad.ron:8:", "no activation named 'swishy'", "it provides swish, softplus"],
    );
    // A distribution is not an activation, even in a library that has one by that name.
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "panics_in_sample")"#, lib("fixture_faulty"))),
        &["no activation named 'panics_in_sample'", "panics_in_eval, nan, strict"],
    );
}

#[test]
fn parameter_errors_of_the_plugin_point_into_the_scenario() {
    let scenario = with_activation(&format!(
        r#"Plugin(lib: "{}", name: "strict", params: (threshold: 1.0, extra: 2))"#,
        lib("fixture_faulty")
    ));
    let line = scenario.lines().nth(7).unwrap();
    let col = line.find("extra").unwrap() + 1;
    check(&scenario, &[&format!("bad.ron:8:{col}:"), "rejected its parameters", "Unexpected field named `extra`"]);
    // Rejected by the plugin's own check rather than by serde: points at the parameters.
    let scenario = with_activation(&format!(
        r#"Plugin(lib: "{}", name: "strict", params: (threshold: -1.0))"#,
        lib("fixture_faulty")
    ));
    check(&scenario, &["bad.ron:8:", "threshold must be >= 0, got -1"]);
    // The example plugin checks its values too.
    check(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "swish", params: (beta: 0.0))"#, lib("swish"))),
        &["beta must be positive"],
    );
}

#[test]
fn a_panic_inside_eval_is_reported_with_its_message_and_location() {
    let dir = check_with(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "panics_in_eval")"#, lib("fixture_faulty"))),
        &[],
        &["run"],
        1,
        &[
            "error: a plugin failed during the run",
            "activation 'panics_in_eval'",
            "panicked at tests/plugins/faulty/src/lib.rs",
            "deliberate panic in eval",
        ],
    );
    // What finished is kept: the records before the failure (the risk at t = 0 is NaN, as the
    // activation failed, but the files are complete).
    assert!(dir.path().join("out/summary.ron").is_file() && dir.path().join("out/timeseries.csv").is_file());
}

#[test]
fn a_panic_inside_sample_is_reported_with_its_message() {
    check_with(
        &with_data(&format!(r#"Plugin(lib: "{}", name: "panics_in_sample", params: (dim: 3))"#, lib("fixture_faulty"))),
        &[],
        &["run"],
        1,
        &[
            "error: a plugin failed during the run",
            "data distribution 'panics_in_sample'",
            "deliberate panic in sample",
        ],
    );
}

#[test]
fn a_plugin_returning_nan_is_divergence() {
    check_with(
        &with_activation(&format!(r#"Plugin(lib: "{}", name: "nan")"#, lib("fixture_faulty"))),
        &[],
        &["run"],
        3,
        &["replica 0 of the run's only point diverged at step 1", "non-finite", "replica(s) diverged"],
    );
}

fn run_in(dir: &Path, text: &str, threads: usize) -> Summary {
    let scenario = CheckedScenario::from_text(text, "test.ron", &root().join("scenarios")).unwrap();
    let report = common::run_scenario(&scenario, Some(threads), dir);
    assert!(report.divergences.is_empty() && report.faults.is_empty());
    report.summary
}

#[test]
fn the_plugin_softplus_gives_bit_identical_trajectories_to_the_built_in() {
    let plugin_softplus = format!(r#"Plugin(lib: "{}", name: "softplus")"#, lib("swish"));
    // The student's activation and the teacher's link both go through the plugin.
    let builtin = SMALL.replace("{OUT}", "unused").replace("Steps(200)", "Steps(3000)").replace("Tanh", "Softplus");
    let plugin = builtin.replace("Softplus", &plugin_softplus);
    assert_eq!(plugin.matches("name: \"softplus\"").count(), 2);
    let dir = tempfile::tempdir().unwrap();
    run_in(&dir.path().join("builtin"), &builtin, 2);
    run_in(&dir.path().join("plugin"), &plugin, 2);
    let file = |d: &str| dir.path().join(d).join("timeseries.csv");
    assert_same_bits(&file("builtin"), &file("plugin"), "timeseries.csv of the plugin softplus against the built-in");
}

/// Both example scenarios, with replicas on one and on two threads: the plugin instances are shared
/// read-only by concurrently running replicas, and the results must not depend on it.
#[test]
fn example_plugin_scenarios_are_reproducible_across_thread_counts() {
    for name in ["plugin_swish", "plugin_gaussian_mixture"] {
        let text = std::fs::read_to_string(scenario_path(&format!("{name}.ron"))).unwrap();
        let dir = tempfile::tempdir().unwrap();
        run_in(&dir.path().join("one"), &text, 1);
        let summary = run_in(&dir.path().join("two"), &text, 2);
        for file in ["timeseries.csv", "summary.ron"] {
            let path = |d: &str| dir.path().join(d).join(file);
            assert_same_bits(&path("one"), &path("two"), format!("{name}: {file} on 2 threads against 1"));
        }
        insta::assert_snapshot!(
            format!("{name}_summary"),
            meanfield_sinks::summary::to_ron(&summary.rounded(SNAPSHOT_DIGITS)).unwrap()
        );
    }
}

#[test]
fn a_bare_name_is_found_on_the_plugin_path() {
    let dir = tempfile::tempdir().unwrap();
    let text = with_activation(r#"Plugin(lib: "swish", name: "swish", params: (beta: 2.0))"#).replace("{OUT}", "out");
    std::fs::write(dir.path().join("s.ron"), text).unwrap();
    let without = meanfield(&["check", "s.ron"], dir.path());
    assert_eq!(without.code, Some(1), "no plugin path, no plugin\n{}", without.stderr);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["run", "s.ron", "--quiet"])
        .env(plugins::PLUGIN_PATH_VAR, plugin_dir())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = std::fs::read_to_string(dir.path().join("out/summary.ron")).unwrap();
    assert!(summary.contains("swish(beta: 2.0)"), "the model names the plugin and its parameters:\n{summary}");
}

#[test]
fn inspect_and_list_show_what_plugins_provide() {
    let dir = tempfile::tempdir().unwrap();
    let out = meanfield(&["plugins", "inspect", &plugin_lib("gaussian_mixture").display().to_string()], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for fragment in ["plugin gaussian_mixture 0.1.0, ABI version 1", "data distribution", "with log-density"] {
        assert!(out.stdout.contains(fragment), "{fragment:?} in\n{}", out.stdout);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["plugins", "list"])
        .env(plugins::PLUGIN_PATH_VAR, plugin_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for fragment in
        ["built-in activations: Identity, Tanh", "activation         swish", "not usable: ", "ABI version 999"]
    {
        assert!(stdout.contains(fragment), "{fragment:?} in\n{stdout}");
    }
    let out = meanfield(&["plugins", "inspect", "/nonexistent/libx.so"], dir.path());
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
}

/// The host's RNG reaches the plugin intact: a one-component mixture's sample mean is its mean within
/// 5 standard errors (σ/√n = 0.5/√20000 ≈ 0.0035 per coordinate; a generator that repeated or
/// truncated draws would be far off), and the log-density matches the closed form
/// log N(m; m, s²I) = −d·log(s√(2π)) at the mean.
#[test]
fn a_plugin_distribution_samples_from_the_host_rng_and_gives_its_log_density() {
    let library = plugins::open(&plugin_lib("gaussian_mixture")).unwrap();
    let params = "(components: [(weight: 1.0, mean: [1.0, -2.0], std: 0.5, label: 3.0)])";
    let dist = library.distribution("gaussian_mixture", params, Arc::new(FaultLog::default())).unwrap();
    assert_eq!(dist.dim(), 2);
    let n = 20_000;
    let (mut x, mut y) = (vec![0.0; 2 * n], vec![0.0; n]);
    dist.stream().fill(&mut StreamKey::shared(9, Purpose::Data).stream(), &mut x, &mut y);
    assert!(y.iter().all(|&v| v == 3.0));
    let mean = |j: usize| x.iter().skip(j).step_by(2).sum::<f64>() / n as f64;
    let tolerance = 5.0 * 0.5 / (n as f64).sqrt();
    assert!((mean(0) - 1.0).abs() < tolerance && (mean(1) + 2.0).abs() < tolerance, "{} {}", mean(0), mean(1));
    // Same stream, same samples: the plugin draws only from the host's generator.
    let mut again = vec![0.0; 2 * n];
    dist.stream().fill(&mut StreamKey::shared(9, Purpose::Data).stream(), &mut again, &mut y);
    assert_same_bits(&x, &again, "a second fill from the same stream");

    let mut out = [0.0];
    dist.log_density(&[1.0, -2.0], &[3.0], &mut out).unwrap().unwrap();
    let expected = -2.0 * (0.5 * (2.0 * std::f64::consts::PI).sqrt()).ln();
    assert!((out[0] - expected).abs() < 1e-12, "{} vs {expected}", out[0]);
    assert!(dist.has_log_density());
}

#[test]
fn plugin_parameters_cannot_be_swept_and_say_so() {
    let text = with_activation(r#"Plugin(lib: "swish", name: "swish", params: (beta: 1.0))"#).replace(
        "observables:",
        "sweep: (fields: [(\"model.activation.params.beta\", [1.0, 2.0])]),\n    observables:",
    );
    check(&text, &["sweep.fields", "plugin parameters cannot be swept"]);
}

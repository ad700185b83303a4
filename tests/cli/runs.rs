//! Whole runs: the default command, byte-identical results for any thread count, and snapshots of the
//! headline numbers of the scenarios in `scenarios/`, taken as a user takes them (`meanfield::testing`,
//! the same as `meanfield snapshot --check`): a whole scenario's beside it (`scenarios/x.snap`), a
//! scaled-down copy's in `tests/cli/snapshots/x_scaled.snap`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common::{self, assert_same_bits, meanfield, root, scaled_scenario, scaled_text, scenario_path};
use meanfield::testing::{assert_scenario_snapshot, assert_summary_snapshot};
use meanfield_scenario::CheckedScenario;
use std::path::Path;

fn run(scenario: &CheckedScenario, threads: usize, out: &Path) -> meanfield_scenario::RunReport {
    common::run_scenario(scenario, Some(threads), out)
}

/// Significant digits of the plotted numbers in figure snapshots.
const FIGURE_DIGITS: usize = 4;

/// Snapshots the data of every figure drawn from the tables in `dir` (not the pixels), and checks that
/// the run wrote each as SVG with its title and legend labels in it.
fn check_figures(name: &str, dir: &Path) {
    let mut figures = Vec::new();
    for table in ["timeseries.csv", "study.csv", "ldp.csv"] {
        if dir.join(table).exists() {
            figures.extend(meanfield_plot::figures(&dir.join(table)).unwrap());
        }
    }
    for figure in &figures {
        let svg =
            std::fs::read_to_string(dir.join(format!("{}.svg", meanfield_sinks::file_stem(&figure.name)))).unwrap();
        for layer in &figure.layers {
            // plotters writes each text element's content on a line of its own.
            if let meanfield_plot::Layer::Line { label, .. } | meanfield_plot::Layer::Steps { label, .. } = layer
                && !label.is_empty()
            {
                assert!(svg.contains(&format!("\n{label}\n")), "{}: legend {label:?}", figure.name);
            }
        }
        assert!(svg.contains(&format!("\n{}\n", figure.title)), "{}", figure.name);
        assert!(dir.join(format!("{}.png", meanfield_sinks::file_stem(&figure.name))).is_file());
    }
    let rounded: Vec<_> = figures.iter().map(|f| f.rounded(FIGURE_DIGITS)).collect();
    let text = ron::ser::to_string_pretty(&rounded, ron::ser::PrettyConfig::default().compact_arrays(true)).unwrap();
    insta::assert_snapshot!(format!("{name}_figures"), text);
}

#[test]
fn cargo_run_without_arguments_runs_the_default_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let out = meanfield(&[], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("results written to results/default/"), "{}", out.stdout);
    assert!(out.stdout.contains("width=1024 seed=1"), "the risk table:\n{}", out.stdout);
    // A new run directory, named in the last line, that `latest` points at.
    let line = out.stdout.lines().find(|l| l.starts_with("results written to ")).unwrap();
    let run_dir = line.trim_start_matches("results written to ").split("/ (").next().unwrap();
    assert_eq!(
        dir.path().join("results/default/latest").canonicalize().unwrap(),
        dir.path().join(run_dir).canonicalize().unwrap()
    );
    for file in ["timeseries.csv", "summary.ron", "manifest.json"] {
        assert!(dir.path().join("results/default/latest").join(file).is_file(), "{file}");
    }
    // The embedded scenario is the file in scenarios/.
    let shown = meanfield(&["show-default"], dir.path());
    assert_eq!(shown.stdout, std::fs::read_to_string(scenario_path("default.ron")).unwrap());
    let manifest = std::fs::read_to_string(dir.path().join("results/default/latest/manifest.json")).unwrap();
    for key in ["\"scenario_sha256\"", "\"scenario_text\"", "\"git_commit\"", "\"wall_seconds\"", "\"seeds\""] {
        assert!(manifest.contains(key), "{key} in {manifest}");
    }
}

#[test]
fn results_are_byte_identical_for_one_and_two_threads() {
    let scenario = CheckedScenario::from_file(&scenario_path("default.ron")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    run(&scenario, 1, &one);
    let report = run(&scenario, 2, &two);
    assert_eq!(report.threads, 2);
    for file in ["timeseries.csv", "summary.ron"] {
        assert_same_bits(&one.join(file), &two.join(file), format!("{file} on 2 threads against 1"));
    }
    assert_summary_snapshot!(report.summary, scenario.spec.snapshot, "scenarios/default.snap");
}

/// Runs `scenarios/<name>.ron` and compares it with `scenarios/<name>.snap`.
fn check_summary(name: &str) {
    assert_scenario_snapshot!(&format!("scenarios/{name}.ron"));
}

/// Like [`check_summary`] on a scaled-down copy: each `(from, to)` replaces text of the scenario file (the
/// full runs take minutes); its snapshot is `tests/cli/snapshots/<name>_scaled.snap`. The plotted ones
/// run here once for their figures and their numbers.
fn check_scaled_summary(name: &str, replacements: &[(&str, &str)]) {
    let snap = format!("tests/cli/snapshots/{name}_scaled.snap");
    if PLOTTED.contains(&name) {
        let scenario = scaled_scenario(name, replacements);
        let dir = tempfile::tempdir().unwrap();
        let report = run(&scenario, 2, dir.path());
        check_figures(name, dir.path());
        assert_summary_snapshot!(report.summary, scenario.spec.snapshot, &snap);
    } else {
        let scenario = meanfield::Scenario::from_ron(scaled_text(name, replacements), root().join("scenarios"))
            .named(format!("scenarios/{name}.ron (scaled)"));
        assert_scenario_snapshot!(scenario, &snap);
    }
}

/// Scenarios whose figures are snapshotted: one per plot kind (risk with the limit and marginals against
/// the limit density: Mei; scaling fits: 3-spin; rate functions: the quenched LDP).
const PLOTTED: [&str; 3] = ["mei_isotropic_gaussians", "rve_three_spin", "ldp_one_hidden_quenched"];

#[test]
fn mei_isotropic_gaussians_summary() {
    check_scaled_summary("mei_isotropic_gaussians", &[("horizon: Time(40.0)", "horizon: Time(0.2)")]);
}

#[test]
fn three_layer_teacher_student_summary() {
    check_summary("three_layer_teacher_student");
}

#[test]
fn three_layer_dependence_summary() {
    check_summary("three_layer_dependence");
}

#[test]
fn rve_three_spin_summary() {
    check_scaled_summary(
        "rve_three_spin",
        &[
            ("replicas: 6,", "replicas: 2,"),
            ("horizon: Time(6000.0)", "horizon: Time(40.0)"),
            ("times: [6000.0]", "times: [40.0]"),
            ("width: [24, 48, 96, 192, 384]", "width: [24, 96]"),
            ("PopulationRisk(Sample(size: 50000))", "PopulationRisk(Sample(size: 5000))"),
        ],
    );
}

/// Claim 3 on two widths: one error-scaling fit per batch rule, with the group in every fit and row.
#[test]
fn rve_noise_scale_summary() {
    check_scaled_summary(
        "rve_noise_scale",
        &[
            ("replicas: 16,", "replicas: 4,"),
            ("horizon: Time(1200.0)", "horizon: Time(300.0)"),
            ("times: [1200.0]", "times: [300.0]"),
            ("width: [16, 32, 64, 128, 256]", "width: [16, 32]"),
        ],
    );
}

/// Claims 1 and 2 on a few widths and replicas: the exact loss, its spread and ŷ's spread at t = 300.
#[test]
fn rve_rbf_summary() {
    check_scaled_summary(
        "rve_rbf",
        &[
            ("replicas: 32,", "replicas: 4,"),
            ("horizon: Time(1200.0)", "horizon: Time(300.0)"),
            ("times: [1200.0]", "times: [300.0]"),
            ("width: [16, 32, 64, 128, 256]", "width: [16, 32, 64]"),
        ],
    );
}

/// The closed-form three-layer limit and the LLN study against it, on two widths and 4 replicas.
#[test]
fn three_layer_limit_linear_summary() {
    check_scaled_summary(
        "three_layer_limit_linear",
        &[("replicas: 16,", "replicas: 4,"), ("width: [64, 256, 1024]", "width: [64, 256]")],
    );
}

/// The tanh three-layer limit on coarse nodes (the solve of the full one takes a minute), its LLN study
/// and the layers' dependence, on two widths and 4 replicas.
#[test]
fn three_layer_limit_summary() {
    check_scaled_summary(
        "three_layer_limit",
        &[
            ("replicas: 16,", "replicas: 4,"),
            ("nodes: 1024, c_nodes: 64, data_points: 2048", "nodes: 256, c_nodes: 8, data_points: 256"),
            ("horizon: Time(10.0)", "horizon: Time(4.0)"),
            ("width: [32, 64, 128, 256, 512]", "width: [32, 64]"),
        ],
    );
}

/// The quenched LDP summary: per configuration and their average (2 seeds × 300 replicas, 9 k).
#[test]
fn ldp_one_hidden_quenched_summary() {
    check_scaled_summary(
        "ldp_one_hidden_quenched",
        &[
            ("replicas: 2000", "replicas: 300"),
            ("k: (-40.0, 40.0), points: 41", "k: (-8.0, 8.0), points: 9"),
            ("sweep: (width: [5, 10, 20], seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),", "sweep: (seeds: [1, 2]),"),
        ],
    );
}

#[test]
fn rbf_mixture_summary() {
    check_summary("rbf_mixture");
}

#[test]
fn wine_three_layer_summary() {
    check_summary("wine_three_layer");
}

#[test]
fn every_scenario_file_checks() {
    common::plugin_dir(); // the plugin scenarios load the example plugins
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ron") {
            let scenario = CheckedScenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(scenario.plans().len(), scenario.points.len());
        }
    }
}

/// A step scaled as η = 0.4·N^(−1) and a batch as B = round(N/4): every width runs to the same physical
/// time T = 1 (steps = T/η = 2.5·N: 20 at N = 8, 160 at N = 64), with its own η and B.
#[test]
fn scaled_step_and_batch_run_every_width_to_the_same_time() {
    let text = common::SMALL
        .replace("{OUT}", "out")
        .replace(
            "OnlineSgd(step: Fixed(0.05))",
            "MinibatchSgd(step: Scaled(eta0: 0.4, exponent: -1.0), batch: Scaled(b0: 0.25, exponent: 1.0))",
        )
        .replace("horizon: Steps(200)", "horizon: Time(1.0)")
        .replace("record: Every(2.0)", "record: Every(0.25),\n    sweep: (width: [8, 64])");
    let dir = tempfile::tempdir().unwrap();
    let scenario = CheckedScenario::from_text(&text, "scaled.ron", dir.path()).unwrap();
    let report = run(&scenario, 2, dir.path());
    let infos: Vec<_> = report.summary.points.iter().map(|p| &p.info).collect();
    let got: Vec<_> = infos.iter().map(|i| (i.width, i.steps, i.step_size, i.final_time)).collect();
    assert_eq!(got, [(8, 20, 0.05, 1.0), (64, 160, 0.00625, 1.0)]);
    assert!(infos[0].dynamics.contains("batch=2,"), "{}", infos[0].dynamics);
    assert!(infos[1].dynamics.contains("batch=16,"), "{}", infos[1].dynamics);
    for point in &report.summary.points {
        let risk = point.risk.as_ref().unwrap();
        assert_eq!(risk.time, [0.0, 0.25, 0.5, 0.75, 1.0], "{}", point.info.label);
    }
}

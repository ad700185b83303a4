//! Composing scenarios as a user does: `extends`, `--set`, sweeps over values that are not numbers,
//! `meanfield show` and `meanfield new`, through the binary.

use crate::common::{SMALL, assert_same_bits, meanfield, read_csv, scenario_path};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn small(out: &str) -> String {
    SMALL.replace("{OUT}", out)
}

#[track_caller]
fn ok(outcome: &crate::common::Outcome) {
    assert_eq!(outcome.code, Some(0), "stdout:\n{}\nstderr:\n{}", outcome.stdout, outcome.stderr);
}

/// A file that extends another and a flat file with the same values run the same thing, bit for bit, and
/// so does the flat file's base with `--set`: composition never changes a result.
#[test]
fn extends_and_set_give_the_bits_of_the_same_scenario_written_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base.ron", &small("out"));
    write(
        d,
        "child.ron",
        "Scenario(\n    extends: \"base.ron\",\n    model: OneHidden(width: 16),\n    dynamics: OnlineSgd(step: PerNeuron(0.5)),\n)",
    );
    write(
        d,
        "flat.ron",
        &small("out").replace("width: 8", "width: 16").replace("step: Fixed(0.05)", "step: PerNeuron(0.5)"),
    );
    ok(&meanfield(&["run", "-q", "child.ron", "--out", "child"], d));
    ok(&meanfield(&["run", "-q", "flat.ron", "--out", "flat"], d));
    ok(&meanfield(
        &["run", "-q", "base.ron", "--set", "model.width=16", "--set", "dynamics.step=PerNeuron(0.5)", "--out", "set"],
        d,
    ));
    for run in ["child", "set"] {
        for file in ["timeseries.csv", "summary.ron", "summary.json"] {
            assert_same_bits(&d.join("flat").join(file), &d.join(run).join(file), format!("{run}/{file}"));
        }
    }
    // The manifest stores the resolved scenario, the same for all three, and the overrides.
    let manifest = |run: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join(run).join("manifest.json")).unwrap()).unwrap()
    };
    let (flat, set) = (manifest("flat"), manifest("set"));
    assert_eq!(flat["scenario_text"], set["scenario_text"]);
    assert_eq!(flat["scenario_sha256"], manifest("child")["scenario_sha256"]);
    assert_eq!(set["scenario_overrides"], serde_json::json!(["model.width=16", "dynamics.step=PerNeuron(0.5)"]));
    // `show` prints that text, and it runs alone.
    let shown = meanfield(&["show", "child.ron"], d);
    ok(&shown);
    assert_eq!(serde_json::Value::String(shown.stdout.clone()), flat["scenario_text"]);
    write(d, "shown.ron", &shown.stdout);
    ok(&meanfield(&["run", "-q", "shown.ron", "--out", "shown"], d));
    assert_same_bits(&d.join("flat/timeseries.csv"), &d.join("shown/timeseries.csv"), "the shown scenario run");
}

#[test]
fn a_sweep_over_activations_runs_with_distinct_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = small("out").replace(
        "observables: [Risk(samples: 100), Moments],",
        "observables: [Risk(samples: 100), Moments],\n    sweep: (width: [4, 8], fields: [(\"model.activation\", [Tanh, Relu, Ramp(s1: -1.0, s2: 1.0, t1: -1.0, t2: 1.0)])]),",
    );
    write(d, "s.ron", &text);
    ok(&meanfield(&["run", "-q", "s.ron", "--out", "r"], d));
    let (header, rows) = read_csv(&d.join("r/timeseries.csv"));
    let label = header.iter().position(|h| h == "label").unwrap();
    let column = header.iter().position(|h| h == "model.activation").unwrap();
    let mut labels: Vec<&str> = rows.iter().map(|r| r[label].as_str()).collect();
    labels.dedup();
    assert_eq!(
        labels,
        [
            "width=4,model.activation=Tanh",
            "width=4,model.activation=Relu",
            "width=4,model.activation=Ramp(s1:-1.0;s2:1.0;t1:-1.0;t2:1.0)",
            "width=8,model.activation=Tanh",
            "width=8,model.activation=Relu",
            "width=8,model.activation=Ramp(s1:-1.0;s2:1.0;t1:-1.0;t2:1.0)",
        ]
    );
    assert_eq!(rows[0][column], "Tanh");
    // Each point ran its own activation: the final risks differ.
    let last = |rows: &[Vec<String>], point: &str| {
        rows.iter().rev().find(|r| r[label] == point).unwrap()[header.iter().position(|h| h == "risk").unwrap()].clone()
    };
    assert_ne!(last(&rows, "width=8,model.activation=Tanh"), last(&rows, "width=8,model.activation=Relu"));
    // A repeated value would run twice under one label.
    write(d, "twice.ron", &text.replace("Tanh, Relu,", "Relu, Relu,"));
    let refused = meanfield(&["check", "twice.ron"], d);
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("'model.activation' lists Relu twice"), "{}", refused.stderr);
}

#[test]
fn overrides_are_refused_in_the_users_terms() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "s.ron", &small("out"));
    let check = |set: &str, expected: &[&str]| {
        let out = meanfield(&["check", "s.ron", "--set", set], d);
        assert_eq!(out.code, Some(1), "{set}: {}", out.stdout);
        for e in expected {
            assert!(out.stderr.contains(e), "{set}: {e} in\n{}", out.stderr);
        }
        assert_eq!(out.stderr.matches("error:").count(), 1, "one message: {}", out.stderr);
    };
    check("model.widht=3", &["--set:1:19", "`widht`", "expected one of `width`, `activation`"]);
    check("model.width=0", &["--set:1:19", "model.width: must be at least 1"]);
    check("model.activation.beta=2", &["'model.activation' is `Tanh`, which has no fields"]);
    // A malformed argument is refused by the argument parser (its exit code is 2).
    let out = meanfield(&["check", "s.ron", "--set", "model.width"], d);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("expected PATH=VALUE"), "{}", out.stderr);
}

#[test]
fn new_writes_a_short_scenario_that_extends_its_template() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let list = meanfield(&["new", "--list"], d);
    ok(&list);
    for template in ["rve_rbf", "three_layer_limit", "ldp_annealed_initial", "default"] {
        assert!(list.stdout.lines().any(|l| l.starts_with(template)), "{template} in\n{}", list.stdout);
    }
    let made = meanfield(&["new", "my_rbf", "--from", "rve_rbf"], d);
    ok(&made);
    let text = std::fs::read_to_string(d.join("my_rbf.ron")).unwrap();
    assert!(text.contains("extends: \"rve_rbf.ron\"") && text.contains("name: \"my_rbf\""), "{text}");
    assert!(text.contains("    // sweep: "), "the template's fields are listed: {text}");
    assert!(text.lines().count() < 40, "a short file: {text}");
    // It resolves to the template under its own name.
    let mine = meanfield(&["show", "my_rbf.ron"], d);
    ok(&mine);
    let template = meanfield(&["show", scenario_path("rve_rbf.ron").to_str().unwrap()], d);
    ok(&template);
    assert_eq!(mine.stdout, template.stdout.replace("name: \"rve_rbf\"", "name: \"my_rbf\""));
    // Uncommenting a line overrides the template.
    let edited = text.replace("    // replicas: 32,", "    replicas: 4,");
    assert_ne!(edited, text, "the replicas line is there to uncomment: {text}");
    std::fs::write(d.join("my_rbf.ron"), edited).unwrap();
    ok(&meanfield(&["check", "my_rbf.ron"], d));
    // Nothing is replaced: not the new file, and not a different file where a copy would go.
    let again = meanfield(&["new", "my_rbf", "--from", "rve_rbf"], d);
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains("my_rbf.ron exists"), "{}", again.stderr);
    std::fs::write(d.join("rve_rbf.ron"), "// mine").unwrap();
    let other = meanfield(&["new", "other", "--from", "rve_rbf"], d);
    assert!(other.stderr.contains("rve_rbf.ron exists and differs"), "{}", other.stderr);
    assert!(!d.join("other.ron").exists(), "nothing is written when a file is in the way");
    let unknown = meanfield(&["new", "x", "--from", "nope"], d);
    assert!(unknown.stderr.contains("no template 'nope'; the templates are: "), "{}", unknown.stderr);
    let bad = meanfield(&["new", "../x", "--from", "rve_rbf"], d);
    assert!(bad.stderr.contains("cannot name a scenario"), "{}", bad.stderr);
}

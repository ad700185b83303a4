//! Names that never collide: every output of a sweep point is keyed by all of its swept coordinates (the
//! label `width=8,seed=2`, its file-safe form `width-8_seed-2` in file names, one timeseries column per
//! coordinate, one legend entry per point), sweeps that would run something other than what they say are
//! refused, and messages name the point by its label.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common::{self, meanfield, read_csv};
use std::collections::BTreeSet;

/// Four replicas of a small online run with a histogram (so marginal plots), NPY particle files of two
/// replicas at two times, JSON lines and SVG plots; `SWEEP` is each case's sweep.
const SWEPT: &str = r#"Scenario(
    name: "labels",
    seed: 3,
    replicas: 2,
    model: OneHidden(
        width: 6,
        activation: Tanh,
        c: Trained(Gaussian(mean: 0.0, std: 1.0)),
        w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
    ),
    data: TeacherStudent(dim: 2, teacher: SingleIndex(link: Tanh), noise: 0.1),
    dynamics: OnlineSgd(step: Fixed(0.05)),
    horizon: Steps(40),
    record: Every(0.5),
    observables: [Risk(samples: 50), Histogram(of: Norm("w"), bins: 8, range: (0.0, 4.0))],
    sweep: SWEEP,
    outputs: (jsonl: true, plots: [Svg], particles: Some((times: [0.0, 2.0], replicas: 2))),
)
"#;

/// Runs `SWEPT` with `sweep` and checks every output keyed by a point: the labels are `labels` (in point
/// order), timeseries.csv has a column per coordinate of `columns` (besides `width` and `seed`) whose
/// value each row's label names, the JSON lines carry the same fields, every point has its own NPY
/// particle files and marginal plot, and the risk figure has one distinct legend entry per point.
fn check(sweep: &str, labels: &[&str], files: &[&str], columns: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.ron"), SWEPT.replace("SWEEP", sweep)).unwrap();
    let run = meanfield(&["run", "s.ron", "--out", "out", "-q"], dir.path());
    assert_eq!(run.code, Some(0), "{sweep}: {}", run.stderr);
    let out = dir.path().join("out");

    let (header, rows) = read_csv(&out.join("timeseries.csv"));
    let expected_header: Vec<&str> = ["point", "label", "width", "seed"]
        .into_iter()
        .chain(columns.iter().copied())
        .chain(["replica", "step", "time"])
        .collect();
    assert_eq!(header[..expected_header.len()], expected_header, "{sweep}: the point's columns");
    let mut seen: Vec<String> = Vec::new();
    for row in &rows {
        if !seen.contains(&row[1]) {
            seen.push(row[1].clone());
        }
        // Every coordinate the label names is in its column (width and seed included).
        for coordinate in row[1].split(',').filter(|c| !c.is_empty()) {
            let (path, value) = coordinate.split_once('=').unwrap();
            let column = header.iter().position(|h| h == path).unwrap_or_else(|| panic!("{sweep}: no column {path}"));
            assert_eq!(row[column], value, "{sweep}: column {path} of a row of point '{}'", row[1]);
        }
    }
    assert_eq!(seen, labels, "{sweep}: one distinct label per point, in sweep order");

    let jsonl = std::fs::read_to_string(out.join("timeseries.jsonl")).unwrap();
    for (line, row) in jsonl.lines().zip(&rows) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["label"], row[1].as_str());
        for path in columns {
            let column = header.iter().position(|h| h == path).unwrap();
            assert_eq!(value[path].to_string().parse::<f64>().unwrap(), row[column].parse::<f64>().unwrap(), "{path}");
        }
    }

    // NPY particle files: two times × two blocks for every point, each point under its own file-safe name.
    let particles: BTreeSet<String> = std::fs::read_dir(out.join("particles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let expected: BTreeSet<String> = files
        .iter()
        .flat_map(|stem| ["0", "2"].into_iter().flat_map(move |t| ["c", "w"].map(|b| format!("{stem}_t={t}_{b}.npy"))))
        .collect();
    assert_eq!(particles, expected, "{sweep}: the NPY particle files");
    for stem in files {
        assert!(out.join(format!("marginal_w_{stem}.svg")).is_file(), "{sweep}: the marginal plot of {stem}");
    }

    // The risk figure: one legend entry per point, each its label.
    let figures = meanfield_plot::figures(&out.join("timeseries.csv")).unwrap();
    let risk = figures.iter().find(|f| f.name == "risk").unwrap();
    let legend: Vec<&str> = risk
        .layers
        .iter()
        .filter_map(|l| match l {
            meanfield_plot::Layer::Line { label, .. } if !label.is_empty() => Some(label.as_str()),
            _ => None,
        })
        .collect();
    // A run without sweep names its one point by its width.
    let names: Vec<&str> = labels.iter().map(|l| if l.is_empty() { "N = 6" } else { l }).collect();
    assert_eq!(legend, names, "{sweep}: the legend of the risk figure");
}

#[test]
fn every_output_of_a_point_is_keyed_by_all_its_coordinates() {
    check("(seeds: [1, 2])", &["seed=1", "seed=2"], &["seed-1", "seed-2"], &[]);
    check(
        "(width: [4, 8], seeds: [1, 2])",
        &["width=4,seed=1", "width=4,seed=2", "width=8,seed=1", "width=8,seed=2"],
        &["width-4_seed-1", "width-4_seed-2", "width-8_seed-1", "width-8_seed-2"],
        &[],
    );
    check(
        r#"(fields: [("data.noise", [0.0, 0.5])], seeds: [7, 9])"#,
        &["data.noise=0,seed=7", "data.noise=0,seed=9", "data.noise=0.5,seed=7", "data.noise=0.5,seed=9"],
        &["data.noise-0_seed-7", "data.noise-0_seed-9", "data.noise-0.5_seed-7", "data.noise-0.5_seed-9"],
        &["data.noise"],
    );
    check(
        r#"(width: [4], fields: [("dynamics.step", [0.05, 0.1])])"#,
        &["width=4,dynamics.step=0.05", "width=4,dynamics.step=0.1"],
        &["width-4_dynamics.step-0.05", "width-4_dynamics.step-0.1"],
        &["dynamics.step"],
    );
    // Without a sweep the one point is `run` and has no label.
    check("()", &[""], &["run"], &[]);
}

/// The points of a seed sweep draw the streams they drew before their labels named the seed: the seed is
/// its own part of a stream's key. Two runs of one seed each give the bits of the two-seed sweep.
#[test]
fn naming_the_seed_leaves_the_streams_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, sweep: &str| {
        std::fs::write(dir.path().join(format!("{name}.ron")), SWEPT.replace("SWEEP", sweep)).unwrap();
        let out = meanfield(&["run", &format!("{name}.ron"), "--out", name, "-q"], dir.path());
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let (header, rows) = read_csv(&dir.path().join(name).join("timeseries.csv"));
        let risk = header.iter().position(|h| h == "risk").unwrap();
        rows.into_iter().map(|r| (r[3].clone(), r[4].clone(), r[5].clone(), r[risk].clone())).collect::<Vec<_>>()
    };
    let swept = run("swept", "(width: [6], seeds: [1, 2])");
    let mut alone = run("one", r#"(width: [6], fields: [("seed", [1])])"#);
    alone.extend(run("two", r#"(width: [6], fields: [("seed", [2])])"#));
    assert_eq!(swept, alone, "(seed, replica, step, risk) of every row");
}

/// `SWEPT` with `sweep` is refused by `meanfield check` and `meanfield run` alike: exit 1, one error naming
/// the sweep field, then `message`, and nothing run.
fn check_refused(sweep: &str, field: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.ron"), SWEPT.replace("SWEEP", sweep)).unwrap();
    for command in [&["check", "s.ron"][..], &["run", "s.ron", "--out", "out"]] {
        let out = meanfield(command, dir.path());
        let command = command[0];
        assert_eq!(out.code, Some(1), "{command} {sweep}: {}", out.stderr);
        // One message (its line, then the scenario's line under it with a caret).
        let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error: ")).collect();
        assert_eq!(errors.len(), 1, "{command} {sweep}: one message: {}", out.stderr);
        assert!(errors[0].contains(&format!(": {field}: ")), "{command} {sweep}: {}", out.stderr);
        assert!(errors[0].contains(message), "{command} {sweep}: {}", out.stderr);
        assert!(!dir.path().join("out").join("summary.ron").exists(), "{command} {sweep}: nothing ran");
    }
}

#[test]
fn sweeps_that_would_be_silently_wrong_are_refused() {
    check_refused("(width: [4, 8, 4])", "sweep.width", "lists 4 twice");
    check_refused("(seeds: [1, 1])", "sweep.seeds", "lists 1 twice");
    check_refused(r#"(fields: [("data.noise", [0.1, 0.1])])"#, "sweep.fields", "'data.noise' lists 0.1 twice");
    check_refused(r#"(fields: [("replicas", [2, 4])])"#, "sweep.fields", "'replicas' cannot be swept");
    check_refused(r#"(fields: [("ldp.time", [1.0])])"#, "sweep.fields", "'ldp' is estimated once over the whole run");
    check_refused(r#"(fields: [("limit.cells", [64])])"#, "sweep.fields", "the scenario has no 'limit' section");
    check_refused(r#"(seeds: [1, 2], fields: [("seed", [3])])"#, "sweep.fields", "'seed' is swept by sweep.seeds too");
    let whole = "'model.width' takes whole numbers from 0 to 18446744073709551615 (or, written as floats, to 2^53 \
                 = 9007199254740992) in a sweep";
    check_refused(r#"(fields: [("model.width", [1e300])])"#, "sweep.fields", &format!("{whole}, got 1e300"));
    check_refused(r#"(fields: [("model.width", [9.3e18])])"#, "sweep.fields", &format!("{whole}, got 9.3e18"));
    check_refused(r#"(fields: [("model.width", [2.5])])"#, "sweep.fields", &format!("{whole}, got 2.5"));
    check_refused(r#"(fields: [("dynamics.step", [inf])])"#, "sweep.fields", "has the value inf");
}

/// Every divergence names its point by its label; without a sweep, the message says it is the run's only
/// point instead of showing an empty label or an index.
#[test]
fn divergences_name_the_point_by_its_label() {
    let check = |sweep: &str, points: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let text =
            SWEPT.replace("SWEEP", sweep).replace("Fixed(0.05)", "Fixed(400.0)").replace("Steps(40)", "Steps(400)");
        std::fs::write(dir.path().join("s.ron"), text).unwrap();
        let out = meanfield(&["run", "s.ron", "--out", "out"], dir.path());
        assert_eq!(out.code, Some(3), "{sweep}: {}", out.stderr);
        for point in points {
            for replica in 0..2 {
                let expected = format!("replica {replica} of {point} diverged at step");
                assert!(out.stderr.contains(&expected), "{sweep}: no '{expected}' in {}", out.stderr);
            }
        }
        assert!(!out.stderr.contains("point 0") && !out.stderr.contains("point ''"), "{}", out.stderr);
    };
    check("(seeds: [1, 2])", &["point 'seed=1'", "point 'seed=2'"]);
    check("(width: [4], seeds: [5])", &["point 'width=4,seed=5'"]);
    check("()", &["the run's only point"]);
}

/// Two histograms of one statistic, apart in the list, make one marginal figure per point, not two
/// figures under one name (which the end-of-run check of distinct paths refuses).
#[test]
fn one_marginal_figure_per_statistic_and_point() {
    let dir = tempfile::tempdir().unwrap();
    let histograms = r#"Histogram(of: Norm("w"), bins: 8, range: (0.0, 4.0)),
        Histogram(of: Coordinate("w", 0), bins: 4, range: (-2.0, 2.0)),
        Histogram(of: Norm("w"), bins: 4, range: (4.0, 8.0))"#;
    let text = SWEPT
        .replace("SWEEP", "(seeds: [1, 2])")
        .replace(r#"Histogram(of: Norm("w"), bins: 8, range: (0.0, 4.0))"#, histograms);
    std::fs::write(dir.path().join("s.ron"), text).unwrap();
    let out = meanfield(&["run", "s.ron", "--out", "out", "-q"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let figures: BTreeSet<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("marginal_"))
        .collect();
    let expected =
        ["marginal_w_0_seed-1.svg", "marginal_w_0_seed-2.svg", "marginal_w_seed-1.svg", "marginal_w_seed-2.svg"];
    assert_eq!(figures, expected.map(str::to_owned).into(), "one figure per statistic and point");
}

/// A plugin fault names the point by its label too (or the run's only point without a sweep).
#[test]
fn plugin_faults_name_the_point_by_its_label() {
    let check = |sweep: &str, points: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let activation =
            format!(r#"Plugin(lib: "{}", name: "panics_in_eval")"#, common::plugin_lib("fixture_faulty").display());
        let text = SWEPT.replace("SWEEP", sweep).replacen("activation: Tanh", &format!("activation: {activation}"), 1);
        std::fs::write(dir.path().join("s.ron"), text).unwrap();
        let out = meanfield(&["run", "s.ron", "--out", "out"], dir.path());
        assert_eq!(out.code, Some(1), "{sweep}: {}", out.stderr);
        let faults: Vec<&str> =
            out.stderr.lines().filter(|l| l.starts_with("error: a plugin failed during the run: ")).collect();
        assert_eq!(faults.len(), points.len(), "{sweep}: one fault per point: {}", out.stderr);
        for (fault, point) in faults.iter().zip(points) {
            assert!(fault.contains(&format!("run: {point}: activation 'panics_in_eval'")), "{sweep}: {fault}");
        }
    };
    check("(seeds: [1, 2])", &["point 'seed=1'", "point 'seed=2'"]);
    check("()", &["the run's only point"]);
}

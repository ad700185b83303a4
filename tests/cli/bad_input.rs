//! Every user-facing failure is one clear message and a non-zero exit, never a panic.
//!
//! Data-driven: each case is a scenario text (a variation of a small valid one) and the fragments its
//! error message must contain.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common::{SMALL, meanfield};

/// Writes `scenario` to `bad.ron` in a fresh directory that already holds an earlier run's results, runs
/// `meanfield check bad.ron` and `meanfield run bad.ron` there and checks the exit code, that stderr
/// contains every fragment of `expected`, that nothing panicked, and that no file of the earlier results
/// was touched.
fn check(scenario: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let text = scenario.replace("{OUT}", &dir.path().join("out").display().to_string());
    std::fs::write(dir.path().join("bad.ron"), &text).unwrap();
    let earlier = [("out/summary.ron", "earlier summary"), ("results/small/summary.ron", "earlier default")];
    for (path, content) in earlier {
        std::fs::create_dir_all(dir.path().join(path).parent().unwrap()).unwrap();
        std::fs::write(dir.path().join(path), content).unwrap();
    }
    let before = tree(dir.path());
    for command in ["check", "run"] {
        let out = meanfield(&[command, "bad.ron"], dir.path());
        assert_eq!(out.code, Some(1), "`{command}` should fail with exit 1\n{}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "panic:\n{}", out.stderr);
        assert_eq!(out.stderr.matches("error:").count(), 1, "one message:\n{}", out.stderr);
        for fragment in expected {
            assert!(out.stderr.contains(fragment), "`{command}`: missing {fragment:?} in:\n{}", out.stderr);
        }
        assert_eq!(tree(dir.path()), before, "`{command}` changed the directory");
    }
}

/// Every file below `dir` with its bytes.
fn tree(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push((path.strip_prefix(dir).unwrap().to_owned(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn vary(from: &str, to: &str) -> String {
    assert!(SMALL.contains(from), "{from}");
    SMALL.replacen(from, to, 1)
}

#[test]
fn the_small_scenario_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.ron"), SMALL.replace("{OUT}", "out")).unwrap();
    let out = meanfield(&["check", "ok.ron"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn malformed_ron_names_file_line_column_and_shows_the_line() {
    check(&vary("width: 8,\n", "width: 8\n"), &["bad.ron:8:9: ", "8 |         activation: Tanh,", "  |         ^"]);
}

#[test]
fn unknown_field_lists_the_known_ones() {
    check(
        &vary("width: 8", "widht: 8"),
        &["bad.ron:7:9: ", "Unexpected field named `widht`", "`width`", "`activation`", "7 |         widht: 8,"],
    );
}

#[test]
fn unknown_activation_lists_the_known_ones() {
    check(
        &vary("activation: Tanh", "activation: Tahn"),
        &["bad.ron:8:21: ", "`Tahn`", "`Identity`", "`Tanh`", "`Relu`", "`Sigmoid`", "`Erf`", "`Softplus`", "`Ramp`"],
    );
}

/// SMALL with its model replaced by a two-hidden-layer network of widths `n1`, `n2`.
fn two_hidden(n1: usize, n2: usize) -> String {
    let start = SMALL.find("model: OneHidden(").unwrap();
    let end = start + SMALL[start..].find("    ),\n").unwrap() + "    ),\n".len();
    let model = format!(
        "model: TwoHidden(
        width1: {n1},
        width2: {n2},
        activation1: Tanh,
        activation2: Tanh,
        w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
        u: Trained(Gaussian(mean: 0.0, std: 1.0)),
        c: Trained(Gaussian(mean: 0.0, std: 1.0)),
    ),\n"
    );
    format!("{}{model}{}", &SMALL[..start], &SMALL[end..])
}

#[test]
fn zero_widths_of_the_two_hidden_layer_network_are_refused_with_their_place() {
    check(&two_hidden(0, 4), &["bad.ron:7:9: model.width1: must be at least 1, got 0", "7 |         width1: 0,"]);
    check(&two_hidden(4, 0), &["bad.ron:8:9: model.width2: must be at least 1, got 0", "8 |         width2: 0,"]);
    // The u block has N1 columns: a coordinate beyond them is refused.
    let text =
        two_hidden(3, 2).replace("Moments]", "Moments, Histogram(of: Coordinate(\"u\", 3), bins: 4, range: (-1, 1))]");
    check(&text, &["coordinate 3 of block \"u\" does not exist (it has 3)"]);
}

#[test]
fn a_valid_two_hidden_layer_scenario_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.ron"), two_hidden(3, 2).replace("{OUT}", "out")).unwrap();
    let out = meanfield(&["run", "ok.ron", "--quiet"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn kernel_particles_need_a_positive_bandwidth() {
    let start = SMALL.find("model: OneHidden(").unwrap();
    let end = start + SMALL[start..].find("    ),\n").unwrap() + "    ),\n".len();
    let model = "model: KernelParticles(
        width: 4,
        kernel: Gaussian(bandwidth: 0.0),
        c: Trained(Constant(0.0)),
        z: Trained(Gaussian(mean: 0.0, std: 1.0)),
    ),\n";
    let text = format!("{}{model}{}", &SMALL[..start], &SMALL[end..]);
    check(&text, &["bad.ron:8:26: model.kernel.bandwidth: must be positive, got 0"]);
    let ok = text.replace("bandwidth: 0.0", "bandwidth: 0.5");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.ron"), ok.replace("{OUT}", "out")).unwrap();
    assert_eq!(meanfield(&["run", "ok.ron", "--quiet"], dir.path()).code, Some(0));
}

#[test]
fn tagged_particles_must_exist_and_differ() {
    let tagged = |pair: &str| {
        vary(
            "observables: [Risk(samples: 100), Moments]",
            &format!("observables: [Tagged(of: Norm(\"w\"), particles: {pair})]"),
        )
    };
    check(&tagged("(0, 8)"), &["observables.particles: needs two different particles below 8", "got (0, 8)"]);
    check(&tagged("(3, 3)"), &["needs two different particles"]);
}

#[test]
fn layer_dependence_needs_two_hidden_layers_and_valid_kernels() {
    let dependence = |args: &str| {
        vary("observables: [Risk(samples: 100), Moments]", &format!("observables: [LayerDependence({args})]"))
    };
    check(&dependence(""), &["bad.ron:16:5: observables: LayerDependence compares", "needs model TwoHidden"]);
    let two_hidden = |args: &str| {
        dependence(args).replace(
            "model: OneHidden(\n        width: 8,",
            "model: TwoHidden(\n        width1: 8,\n        width2: 8,\n        activation1: Tanh,\n        activation2: Tanh,\n        u: Trained(Gaussian(mean: 0.0, std: 1.0)),",
        ).replace("        activation: Tanh,\n", "")
    };
    check(&two_hidden("features: 0"), &["observables.features: must be at least 1, got 0"]);
    check(&two_hidden("bandwidths: (1.0, -2.0)"), &["observables.bandwidths: must be positive and finite"]);
}

#[test]
fn full_batch_gd_needs_finite_data_visited_in_epochs() {
    let gd = vary("OnlineSgd(step: Fixed(0.05))", "FullBatchGd(step: Fixed(0.05))");
    check(&gd, &["dynamics: FullBatchGd needs finite data: a Dataset or a Sample(size:, from:)"]);
    let sample = gd.replace(
        "data: TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))",
        "data: Sample(size: 0, from: TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh)))",
    );
    check(&sample, &["data.size: must be at least 1, got 0"]);
    let nested = sample.replace("size: 0, from: TeacherStudent(dim: 3,", "size: 10, from: TeacherStudent(dim: 0,");
    check(&nested, &["data.from.dim: must be at least 1, got 0"]);
    let replacement = sample.replace("size: 0,", "size: 10, sampling: WithReplacement,");
    check(&replacement, &["use sampling: Epochs"]);
}

#[test]
fn teacher_data_options_are_checked() {
    let mixture = vary("teacher: SingleIndex(link: Tanh)", "teacher: Mixture()");
    check(&mixture, &["data.dim: the Mixture teacher needs dim: 1, got 3"]);
    let uneven = vary("dim: 3, teacher: SingleIndex(link: Tanh)", "dim: 1, teacher: Mixture(weights: [1.0])");
    check(&uneven, &["Mixture needs as many centres, variances and weights", "got 3, 3, 1"]);
    let inputs = vary("teacher: SingleIndex(link: Tanh)", "teacher: ThreeSpin, inputs: Uniform(low: 1.0, high: 0.0)");
    check(&inputs, &["data.inputs: Uniform needs finite low < high"]);
}

#[test]
fn zero_width_is_refused_with_its_place() {
    check(
        &vary("width: 8", "width: 0"),
        &["bad.ron:7:9: model.width: must be at least 1, got 0", "7 |         width: 0,"],
    );
}

#[test]
fn zero_width_in_a_sweep_names_the_sweep_point() {
    let text = vary("observables:", "sweep: (width: [4, 0]),\n    observables:");
    check(
        &text,
        &[
            "bad.ron:16:13: model.width: must be at least 1, got 0 (in sweep point 'width=0')",
            "16 |     sweep: (width: [4, 0]),",
        ],
    );
}

#[test]
fn negative_step_is_refused() {
    check(
        &vary("Fixed(0.05)", "Fixed(-0.05)"),
        &[
            "bad.ron:13:25: dynamics.step: must be positive, got -0.05",
            "13 |     dynamics: OnlineSgd(step: Fixed(-0.05)),",
        ],
    );
}

#[test]
fn empty_sweeps_are_refused() {
    check(&vary("observables:", "sweep: (width: []),\n    observables:"), &["sweep.width: is empty"]);
    check(&vary("observables:", "sweep: (seeds: []),\n    observables:"), &["sweep.seeds: is empty"]);
    check(
        &vary("observables:", "sweep: (fields: [(\"data.noise\", [])]),\n    observables:"),
        &["'data.noise' has no values"],
    );
}

#[test]
fn unknown_sweep_field_lists_the_known_fields() {
    check(
        &vary("observables:", "sweep: (fields: [(\"dynamics.stp\", [0.1])]),\n    observables:"),
        &["no field 'stp' in 'dynamics'; known: step"],
    );
}

#[test]
fn unreadable_data_file_is_named() {
    let text = vary(
        "TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))",
        "Dataset(path: \"missing.csv\", target: Name(\"y\"))",
    );
    check(&text, &["cannot read data file", "missing.csv"]);
}

#[test]
fn data_file_with_a_bad_cell_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("table.csv"), "a,b,y\n1,2,3\n4,,6\n").unwrap();
    let text = vary(
        "TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))",
        &format!("Dataset(path: \"{}\", target: Name(\"y\"))", dir.path().join("table.csv").display()),
    );
    check(&text, &["table.csv:3: column 'b': missing value"]);
    std::fs::write(dir.path().join("table.csv"), "a,b,y\n1,2,3\n4,5,6\n7,8,seven\n").unwrap();
    check(&text, &["table.csv:4: column 'y'", "seven"]);
}

#[test]
fn held_out_fraction_must_leave_rows_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("table.csv"), "a,b,y\n1,2,3\n4,5,6\n7,8,9\n").unwrap();
    let dataset = |fraction: &str| {
        let path = dir.path().join("table.csv");
        vary(
            "TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))",
            &format!("Dataset(path: \"{}\", target: Name(\"y\"), test_fraction: {fraction})", path.display()),
        )
    };
    check(&dataset("1.0"), &["data.test_fraction: must lie in [0, 1), got 1"]);
    check(&dataset("0.1"), &["table.csv: holding out 0.1 of 3 rows leaves 0 test rows; need 1 to 2"]);
    // A population loss on a data set needs held-out rows: without them it would be the training error.
    let on_the_table = dataset("0.0")
        .replace("observables: [Risk(samples: 100), Moments]", "observables: [PopulationRisk(Sample(size: 10))]");
    check(&on_the_table, &["observables: PopulationRisk(Sample(…)) on a Dataset needs held-out rows", "test_fraction"]);
}

#[test]
fn unwritable_output_directory_is_refused_before_running() {
    // A path below a regular file cannot be created, even by root (permission bits would not stop root).
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let text = SMALL.replace("{OUT}", &blocker.join("out").display().to_string());
    std::fs::write(dir.path().join("s.ron"), text).unwrap();
    let out = meanfield(&["run", "s.ron"], dir.path());
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("output directory") && out.stderr.contains("is not usable"), "{}", out.stderr);
}

/// A FIFO as the scenario file is refused as what it is; reading it would wait for a writer forever
/// (coreutils' timeout turns a hang into a failure here).
#[test]
fn a_fifo_as_the_scenario_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    assert!(std::process::Command::new("mkfifo").arg(dir.path().join("s.ron")).status().unwrap().success());
    let out = std::process::Command::new("timeout")
        .args(["20", env!("CARGO_BIN_EXE_meanfield"), "check", "s.ron"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot read scenario s.ron: it is a FIFO (named pipe), not a scenario file"), "{stderr}");
}

#[test]
fn missing_scenario_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = meanfield(&["run", "nope.ron"], dir.path());
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("cannot read scenario nope.ron"), "{}", out.stderr);
}

/// A step far too large makes some replicas blow up: each is reported with its replica and step, the run
/// still writes everything (the finished replicas and what the diverged ones recorded before), and the exit
/// code says so.
#[test]
fn divergence_stops_only_that_replica_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    // Width 4 at η = 40 on relu units: the weights grow geometrically within a few dozen steps. The second
    // sweep point uses a tiny step and must finish.
    let text = SMALL
        .replace("{OUT}", "out")
        .replace("activation: Tanh", "activation: Relu")
        .replace("Fixed(0.05)", "Fixed(40.0)")
        .replace("record: Every(2.0)", "record: Every(40.0)")
        .replace("observables:", "sweep: (fields: [(\"dynamics.step\", [40.0, 0.0001])]),\n    observables:");
    std::fs::write(dir.path().join("s.ron"), text).unwrap();
    let out = meanfield(&["run", "s.ron"], dir.path());
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"));
    assert!(out.stderr.contains("replica 0 of point 'dynamics.step=40' diverged at step"), "{}", out.stderr);
    assert!(out.stderr.contains("replica 1 of point 'dynamics.step=40' diverged at step"), "{}", out.stderr);
    let csv = std::fs::read_to_string(dir.path().join("out/latest/timeseries.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let finished = rows.iter().filter(|r| r.contains(",dynamics.step=0.0001,")).count();
    let before = rows.iter().filter(|r| r.contains(",dynamics.step=40,")).count();
    // The small step's physical time ends at 200 × 0.0001 = 0.02 < 40: records at t = 0 and at the end.
    assert_eq!(finished, 2 * 2, "every record of the finished point");
    assert!(before >= 2, "the diverged replicas keep their records before the divergence (t = 0 at least)");
    let summary = std::fs::read_to_string(dir.path().join("out/latest/summary.ron")).unwrap();
    assert!(summary.contains("diverged at step"), "{summary}");
}

#[test]
fn limits_that_do_not_fit_the_scenario() {
    let with_limit = |limit: &str| {
        vary(
            "observables: [Risk(samples: 100), Moments],",
            &format!("observables: [Risk(samples: 100), Moments],\n    {limit}"),
        )
    };
    // dim 3: the grid solver needs scalar inputs.
    check(
        &with_limit("limit: Grid(cells: 40, w: (-3.0, 3.0), c: (-3.0, 3.0)),"),
        &["bad.ron:17:5: limit: ", "needs dim 1 and Gaussian inputs", "the limit solvers cover OneHidden"],
    );
    check(&with_limit("limit: Radial(cells: 40, max: 4.0),"), &["limit: ", "needs IsotropicGaussians data"]);
    check(&with_limit("limit: Grid(cells: 2, w: (-3.0, 3.0)),"), &["limit.cells: must be between 8 and 4096, got 2"]);
    check(&with_limit("limit: Grid(cells: 40, w: (3.0, -3.0)),"), &["limit.w: needs low < high, got (3, -3)"]);
    // c is trained but has no range.
    let scalar = |limit: &str| {
        with_limit(limit).replace(
            "TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))",
            "TeacherStudent(dim: 1, teacher: SingleIndex(link: Tanh))",
        )
    };
    check(&scalar("limit: Grid(cells: 40, w: (-3.0, 3.0)),"), &["c is trained: give its grid range, `c: (low, high)`"]);
    // A grid that cuts off the initial law.
    check(
        &scalar("limit: Grid(cells: 40, w: (-0.5, 0.5), c: (-3.0, 3.0)),"),
        &["holds only", "of its initial law; widen it"],
    );
}

#[test]
fn studies_that_lack_what_they_measure() {
    let with = |text: &str| {
        vary(
            "observables: [Risk(samples: 100), Moments],",
            &format!("observables: [Risk(samples: 100), Moments],\n    {text}\n    sweep: (width: [4, 8]),"),
        )
    };
    check(
        &with("study: Lln(times: [1.0]),"),
        &["study: Lln measures the distance to the limit: give the scenario a `limit`"],
    );
    check(&with("study: Chaos(times: [1.0]),"), &["study: Chaos needs a Tagged observable"]);
    check(&with("study: ErrorScaling(times: []),"), &["study.times: is empty"]);
    check(
        &with("study: ErrorScaling(times: [1.0], converged_within: 0.0),"),
        &["study.converged_within: must be positive, got 0"],
    );
    check(
        &with("study: FluctuationScaling(times: [1.0], converged_within: NaN),"),
        &["study.converged_within: must be positive, got NaN"],
    );
    let one_width = with("study: ErrorScaling(times: [4.0]),").replace("sweep: (width: [4, 8]),", "");
    check(&one_width, &["sweep.width: a study compares widths: give at least two"]);
    check(
        &vary(
            "observables: [Risk(samples: 100), Moments],",
            "observables: [Tagged(of: Norm(\"w\"))],\n    study: Chaos(times: [1.0]),",
        ),
        &["sweep.width: a study compares widths"],
    );
}

#[test]
fn tilted_initial_laws_only_where_the_weights_are_used() {
    let tilted = |extra: &str| {
        vary("c: Trained(Gaussian(mean: 0.0, std: 1.0)),", "c: Trained(Gaussian(mean: 0.0, std: 1.0, tilt: 0.5)),")
            .replace(
                "observables: [Risk(samples: 100), Moments],",
                &format!("observables: [Risk(samples: 100), Moments],\n    {extra}"),
            )
    };
    check(&tilted(""), &["model.c.tilt: tilting is importance sampling for the ldp estimates: add an ldp section"]);
    let ldp = r#"ldp: (column: "mean(c)", time: 0.0),"#;
    check(&tilted(&format!("{ldp} ensemble: Quenched,")), &["model.c.tilt: tilting needs the Annealed ensemble"]);
    check(
        &tilted(&format!("{ldp} study: ErrorScaling(times: [1.0]), sweep: (width: [4, 8]),")),
        &["model.c.tilt: a study or limit would measure the tilted law"],
    );
    check(
        &vary("c: Trained(Gaussian(mean: 0.0, std: 1.0)),", "c: Trained(Gaussian(mean: 0.0, std: 0.0, tilt: 0.5)),")
            .replace("observables: [Risk(samples: 100), Moments],", &format!("observables: [Moments],\n    {ldp}")),
        &["model.c.std: must be positive"],
    );
}

#[test]
fn ldp_sections_that_do_not_fit() {
    let with = |ldp: &str| {
        vary("observables: [Risk(samples: 100), Moments],", &format!("observables: [Moments],\n    ldp: {ldp},"))
    };
    check(
        &with(r#"(column: "mean(c)", time: 1.0, average_from: Some(2.0))"#),
        &["ldp.average_from: needs 0 ≤ average_from < time"],
    );
    check(
        &with(r#"(column: "mean(c)", time: 1.0, method: Cloning(clones: 1, populations: 2))"#),
        &["ldp.method.clones: must be at least 2"],
    );
    check(
        &with(r#"(column: "mean(c)", time: 1.0, direct_bins: Some(20), method: Cloning(clones: 10, populations: 2))"#),
        &["ldp.direct_bins: the direct estimator needs the replicas"],
    );
    check(&with(r#"(column: "nope", time: 1.0)"#), &["ldp.column: 'nope' is not recorded", "mean(c), m2(c)"]);
}

#[test]
fn outputs_that_do_not_fit() {
    let with = |outputs: &str| {
        vary(
            "observables: [Risk(samples: 100), Moments],",
            &format!("observables: [Moments],\n    outputs: {outputs},"),
        )
    };
    check(&with("(csv: false)"), &["outputs.plots: plots are drawn from timeseries.csv"]);
    check(&with("(particles: Some((times: [])))"), &["outputs.particles.times: needs at least one time"]);
    check(&with("(particles: Some((times: [1.0], replicas: 0)))"), &["outputs.particles.replicas: must be at least 1"]);
    check(&with("(checkpoint_seconds: Some(0.0))"), &["outputs.checkpoint_seconds: must be positive"]);
    check(&with("(plots: [Pdf])"), &["Pdf", "Svg", "Png"]);
}

/// One case per class of value that would otherwise be accepted and silently wrong: each is refused with
/// one message naming the field.
#[test]
fn values_that_would_be_silently_wrong_are_refused() {
    let observable = |extra: &str| vary("Moments]", &format!("Moments, {extra}]"));
    let after_observables = |extra: &str| {
        vary(
            "observables: [Risk(samples: 100), Moments],",
            &format!("observables: [Risk(samples: 100), Moments],\n    {extra}"),
        )
    };
    let epochs = vary(
        "data: TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh))",
        "data: Sample(size: 10, from: TeacherStudent(dim: 3, teacher: SingleIndex(link: Tanh)), sampling: Epochs)",
    );
    let cases: Vec<(String, &[&str])> = vec![
        (
            observable(r#"Averages([(of: Norm("w"), apply: Power(NaN))])"#),
            &["observables.apply: Power needs a finite parameter, got NaN"],
        ),
        (
            observable(r#"Averages([(of: Norm("w"), apply: Indicator(1.0, 0.0))])"#),
            &["observables.apply: Indicator(low, high) needs low < high, got Indicator(1, 0)"],
        ),
        (
            observable(r#"Histogram(of: Norm("w"), bins: 10, range: (-1.7e308, 1.7e308))"#),
            &["observables.range: needs finite low < high with a finite difference"],
        ),
        // The horizon is 200 steps of 0.05: T = 10.
        (
            after_observables(r#"ldp: (column: "risk", time: 20.0),"#),
            &["ldp.time: 20 lies outside the run's times [0, 10]"],
        ),
        (
            after_observables("outputs: (particles: (times: [11.0], replicas: 1)),"),
            &["outputs.particles.times: 11 lies outside the run's times [0, 10]"],
        ),
        (
            after_observables("study: ErrorScaling(times: [12.0]),\n    sweep: (width: [4, 8]),"),
            &["study.times: 12 lies outside the run's times [0, 10] at sweep point 'width=4'"],
        ),
        (
            after_observables("outputs: (particles: (times: [1.0], replicas: 5)),"),
            &["outputs.particles.replicas: 5 is more than the run's 2 replicas"],
        ),
        (
            epochs.replace("OnlineSgd(step: Fixed(0.05))", "MinibatchSgd(step: Fixed(0.05), batch: 11)"),
            &["dynamics.batch: 11 is larger than the data set's 10 rows"],
        ),
        // Step and batch rules scaled with the width: their values, and what they give at the point's width
        // (8 here; the sweep point is named where a sweep sets it).
        (
            vary("Fixed(0.05)", "Scaled(eta0: -0.5, exponent: -1.0)"),
            &["dynamics.step.eta0: must be positive, got -0.5", "13 |     dynamics: OnlineSgd(step: Scaled(eta0: -0.5"],
        ),
        (vary("Fixed(0.05)", "Scaled(eta0: 0.5, exponent: NaN)"), &["dynamics.step.exponent: must be finite, got NaN"]),
        (
            vary("Fixed(0.05)", "Scaled(eta0: 0.5, exponent: -400.0)"),
            &["dynamics.step: Scaled(eta0: 0.5, exponent: -400) gives a step of 0 at width 8"],
        ),
        (
            vary(
                "OnlineSgd(step: Fixed(0.05))",
                "MinibatchSgd(step: Fixed(0.05), batch: Scaled(b0: 0, exponent: 1.0))",
            ),
            &["dynamics.batch.b0: must be positive, got 0"],
        ),
        (
            vary(
                "OnlineSgd(step: Fixed(0.05))",
                "MinibatchSgd(step: Fixed(0.05), batch: Scaled(b0: NaN, exponent: 1.0))",
            ),
            &["dynamics.batch.b0: must be positive, got NaN"],
        ),
        (
            vary("OnlineSgd(step: Fixed(0.05))", "NoisySgd(step: Fixed(0.05), batch: Scaled(b0: 8, exponent: inf))"),
            &["dynamics.batch.exponent: must be finite, got inf"],
        ),
        (
            vary(
                "OnlineSgd(step: Fixed(0.05))",
                "MinibatchSgd(step: Fixed(0.05), batch: Scaled(b0: 8, exponent: 30.0))",
            ),
            &[
                "dynamics.batch: Scaled(b0: 8, exponent: 30) gives a batch of 9.903520314283042e27 at width 8, more than 2^53",
            ],
        ),
        (
            after_observables("sweep: (width: [2, 8], fields: [(\"dynamics.batch.exponent\", [1.0, 60.0])]),").replace(
                "OnlineSgd(step: Fixed(0.05))",
                "MinibatchSgd(step: Fixed(0.05), batch: Scaled(b0: 8, exponent: 1.0))",
            ),
            &[
                "dynamics.batch: Scaled(b0: 8, exponent: 60) gives a batch of 9.223372036854776e18 at width 2",
                "(in sweep point 'width=2,dynamics.batch.exponent=60')",
            ],
        ),
        (
            epochs.replace(
                "OnlineSgd(step: Fixed(0.05))",
                "MinibatchSgd(step: Fixed(0.05), batch: Scaled(b0: 1.5, exponent: 1.0))",
            ),
            &["dynamics.batch: 12 is larger than the data set's 10 rows"],
        ),
        (
            vary("OnlineSgd(step: Fixed(0.05))", "MinibatchSgd(step: Fixed(0.05), batch: Scaled(b0: 8))"),
            &["`exponent`"],
        ),
        (
            vary("OnlineSgd(step: Fixed(0.05))", "MinibatchSgd(step: Fixed(0.05), batch: -3)"),
            &["a whole number of samples (`batch: 32`) or `Scaled(b0: 8, exponent: 1.0)`"],
        ),
        // Sizes far past any use, which the analyses after the run would allocate.
        (
            after_observables(r#"ldp: (column: "risk", time: 1.0, resamples: 1000000000000),"#),
            &["ldp.resamples: must be at most 1000000, got 1000000000000"],
        ),
        (
            after_observables(r#"ldp: (column: "risk", time: 1.0, direct_bins: Some(1000000000000)),"#),
            &["ldp.direct_bins: must be at most 1000000"],
        ),
        (
            after_observables(
                r#"ldp: (column: "risk", time: 1.0, method: Cloning(clones: 2, populations: 1000000000000000)),"#,
            ),
            &["ldp.method.populations: must be at most 1000000"],
        ),
        // Values in messages are written as the scenario writes them.
        (
            after_observables("limit: Radial(cells: 40, max: 4.0, distances: [W1, SlicedW2(directions: 8)]),"),
            &["limit.distances: SlicedW2(directions: 8) compares the joint law"],
        ),
        // The schema's Rust type names never reach the user.
        (vary("activation: Tanh", "activation: Foo(1)"), &["Unexpected enum variant named `Foo`, expected one of"]),
    ];
    for (scenario, expected) in &cases {
        check(scenario, expected);
    }
    // The edges are accepted: a time at the horizon, as many particle replicas as replicas, a batch of
    // every row.
    let dir = tempfile::tempdir().unwrap();
    for (name, ok) in [
        ("horizon", after_observables("outputs: (particles: (times: [10.0], replicas: 2)),")),
        ("rows", epochs.replace("OnlineSgd(step: Fixed(0.05))", "MinibatchSgd(step: Fixed(0.05), batch: 10)")),
        (
            "scaled rows",
            epochs.replace(
                "OnlineSgd(step: Fixed(0.05))",
                "MinibatchSgd(step: Fixed(0.05), batch: Scaled(b0: 1.25, exponent: 1.0))",
            ),
        ),
    ] {
        std::fs::write(dir.path().join(format!("{name}.ron")), ok.replace("{OUT}", "out")).unwrap();
        let out = meanfield(&["check", &format!("{name}.ron")], dir.path());
        assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
    }
}

/// The small scenario with RBF particles learning the Gaussian mixture on [−4, 4], the setting that has
/// a closed-form population loss.
fn rbf(dynamics: &str, observables: &str) -> String {
    let start = SMALL.find("model: OneHidden(").unwrap();
    let end = SMALL.find("record:").unwrap();
    let middle = format!(
        "model: KernelParticles(
        width: 4,
        kernel: Gaussian(bandwidth: 0.5),
        c: Trained(Gaussian(mean: 0.0, std: 1.0)),
        z: Trained(Uniform(low: -4.0, high: 4.0)),
    ),
    data: TeacherStudent(dim: 1, inputs: Uniform(low: -4.0, high: 4.0), teacher: Mixture()),
    dynamics: {dynamics},
    horizon: Time(2.0),
    "
    );
    let text = format!("{}{middle}{}", &SMALL[..start], &SMALL[end..]);
    text.replace("observables: [Risk(samples: 100), Moments],", &format!("observables: [{observables}],"))
}

#[test]
fn population_losses_and_gradient_flow_are_checked() {
    let flow = "GradientFlow(training: ClosedForm)";
    let cases: Vec<(String, &[&str])> = vec![
        (
            vary("observables: [Risk(samples: 100), Moments]", "observables: [PopulationRisk(ClosedForm)]"),
            &["observables: ClosedForm needs Gaussian KernelParticles", "the model is not KernelParticles"],
        ),
        (
            vary("dynamics: OnlineSgd(step: Fixed(0.05))", "dynamics: GradientFlow(training: ClosedForm)"),
            &["dynamics.training: ClosedForm needs", "use Sample(size: …)"],
        ),
        (rbf(flow, "PopulationRisk(Sample(size: 0))"), &["observables.size: must be between 1 and 100000000, got 0"]),
        (
            rbf("GradientFlow(training: Sample(size: 1000000000))", "Moments"),
            &["dynamics.training.size: must be between 1 and 100000000"],
        ),
        (
            rbf("GradientFlow(training: ClosedForm, interval: -1.0)", "Moments"),
            &["dynamics.interval: must be positive"],
        ),
        (
            rbf("GradientFlow(training: ClosedForm, tolerance: 0.0)", "Moments"),
            &["dynamics.tolerance: must be between 1e-14 and 0.1, got 0"],
        ),
        (
            rbf(flow, "PopulationRisk(ClosedForm), PopulationRisk(Sample(size: 10))"),
            &["observables: PopulationRisk is given twice"],
        ),
        (rbf(flow, "Predictions(at: [[0.0, 1.0]])"), &["observables.at: point 0 has 2 coordinates; the inputs have 1"]),
        (rbf(flow, "Predictions(at: [])"), &["observables.at: needs between 1 and 10000 points, got 0"]),
        (
            rbf(flow, "Predictions(at: [[NaN]])"),
            &["observables.at: point 0 must be a non-empty list of finite numbers"],
        ),
        (
            rbf(flow, "Moments").replace("Uniform(low: -4.0, high: 4.0), teacher", "Gaussian, teacher"),
            &["dynamics.training: ClosedForm needs", "the inputs are not Uniform"],
        ),
    ];
    for (text, expected) in &cases {
        check(text, expected);
    }
    // The valid forms run.
    let dir = tempfile::tempdir().unwrap();
    let ok = rbf(flow, "PopulationRisk(ClosedForm), Predictions(at: [[0.0], [1.5]])");
    std::fs::write(dir.path().join("ok.ron"), ok.replace("{OUT}", "out")).unwrap();
    let out = meanfield(&["run", "ok.ron", "--quiet"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

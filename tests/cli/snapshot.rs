//! `meanfield snapshot`: writing, checking (exactly and within `StdErr(k)`), reviewing; and the library
//! API it is built on.

use crate::common::meanfield;
use std::path::Path;

/// A scenario whose target does not depend on the seed (a linear teacher): another seed is another
/// sample of the same numbers. 200 replicas make the standard errors small.
const SCENARIO: &str = r#"Scenario(
    name: "snap",
    seed: 3,
    replicas: 200,
    model: OneHidden(
        width: 8,
        activation: Tanh,
        c: Trained(Gaussian(mean: 0.0, std: 1.0)),
        w: Trained(Gaussian(mean: 0.0, std: 1.0, per_sqrt_dim: true)),
    ),
    data: TeacherStudent(dim: 3, teacher: Linear(coefficients: [1.0, -0.5, 0.25])),
    dynamics: OnlineSgd(step: Fixed(0.05)),
    horizon: Steps(200),
    record: Every(2.0),
    observables: [Risk(samples: 100), Moments],
    snapshot: (tolerance: {TOLERANCE}),
)
"#;

fn write(dir: &Path, tolerance: &str, replacements: &[(&str, &str)]) {
    let mut text = SCENARIO.replace("{TOLERANCE}", tolerance);
    for (from, to) in replacements {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    std::fs::write(dir.join("snap.ron"), text).unwrap();
}

#[test]
fn snapshot_writes_then_check_passes_and_a_change_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Exact", &[]);
    let out = meanfield(&["snapshot", "snap.ron"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("snap.snap: written"), "{}", out.stdout);
    let snap = std::fs::read_to_string(dir.path().join("snap.snap")).unwrap();
    assert!(
        snap.starts_with("---\nsource: snap.ron\nexpression: meanfield snapshot\n---\nscenario = \"snap\"\n"),
        "{snap}"
    );
    assert!(snap.contains("\npoints[#0].final[risk].mean = "), "{snap}");
    // No run directory is left behind.
    assert!(!dir.path().join("results").exists());

    let out = meanfield(&["snapshot", "--check", "snap.ron"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("snap.snap: matches"), "{}", out.stdout);

    // Another step size: the diff names the numbers, old → new, and the new snapshot waits for review.
    write(dir.path(), "Exact", &[("Fixed(0.05)", "Fixed(0.04)")]);
    let out = meanfield(&["snapshot", "--check", "snap.ron"], dir.path());
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("error: snap.snap: differs beyond the tolerance Exact"), "{}", out.stderr);
    assert!(out.stderr.contains("~ points[#0].final_time: 10.0 → 8.0"), "{}", out.stderr);
    assert!(out.stderr.contains("~ points[#0].final[risk].mean: "), "{}", out.stderr);
    let pending = dir.path().join("snap.snap.new");
    assert!(pending.is_file());
    assert_eq!(std::fs::read_to_string(dir.path().join("snap.snap")).unwrap(), snap, "never overwritten");

    // Without --check, a different snapshot is not replaced either.
    let out = meanfield(&["snapshot", "snap.ron"], dir.path());
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("meanfield snapshot --review snap.ron"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("snap.snap")).unwrap(), snap);

    // A closed stdin skips; --accept moves the pending snapshot into place.
    let out = meanfield(&["snapshot", "--review"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("skipped (still pending)"), "{}", out.stdout);
    assert!(pending.is_file());
    let new = std::fs::read_to_string(&pending).unwrap();
    let out = meanfield(&["snapshot", "--review", "--accept", "snap.ron"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("snap.snap: accepted"), "{}", out.stdout);
    assert!(!pending.exists());
    assert_eq!(std::fs::read_to_string(dir.path().join("snap.snap")).unwrap(), new);
    let out = meanfield(&["snapshot", "--check", "snap.ron"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn a_missing_snapshot_fails_the_check_and_review_can_reject_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Exact", &[]);
    let out = meanfield(&["snapshot", "--check", "snap.ron"], dir.path());
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("error: snap.snap: no snapshot"), "{}", out.stderr);
    assert!(!dir.path().join("snap.snap").exists());
    let out = meanfield(&["snapshot", "--review", "--reject", "snap.ron"], dir.path());
    assert!(out.stdout.contains("snap.snap: rejected"), "{}", out.stdout);
    assert!(!dir.path().join("snap.snap.new").exists());
    // Refusals name the file.
    let out = meanfield(&["snapshot", "nothing.txt"], dir.path());
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stderr, "error: nothing.txt: a snapshot is taken of a scenario file (`x.ron`, snapshot `x.snap`)\n");
}

#[test]
fn std_err_tolerance_accepts_another_seed_and_rejects_a_real_change() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "StdErr(4.0)", &[]);
    assert_eq!(meanfield(&["snapshot", "snap.ron"], dir.path()).code, Some(0));
    // Another seed: every number moves, each by less than 4 standard errors of the difference.
    write(dir.path(), "StdErr(4.0)", &[("seed: 3", "seed: 4")]);
    let out = meanfield(&["snapshot", "--check", "snap.ron"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("matches within the tolerance StdErr(4.0)"), "{}", out.stdout);
    // The same seed change is a difference when the tolerance is exact.
    write(dir.path(), "Exact", &[("seed: 3", "seed: 4")]);
    assert_eq!(meanfield(&["snapshot", "--check", "snap.ron"], dir.path()).code, Some(1));
    // Another teacher changes only numbers that carry a standard error, by far more than 4 of them: an
    // implementation that accepted every number with an error would pass this.
    write(dir.path(), "StdErr(4.0)", &[("coefficients: [1.0, -0.5, 0.25]", "coefficients: [1.5, -0.5, 0.25]")]);
    let out = meanfield(&["snapshot", "--check", "snap.ron"], dir.path());
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stderr.contains("~ points[#0].final[risk].mean: "), "{}", out.stderr);
    assert!(out.stderr.contains("> 4·√(se_old² + se_new²) = "), "{}", out.stderr);
    assert!(!out.stderr.contains("final_time"), "only numbers with errors moved:\n{}", out.stderr);
}

#[test]
fn snapshot_fields_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "StdErr(-1.0)", &[]);
    let out = meanfield(&["check", "snap.ron"], dir.path());
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("snapshot.tolerance: StdErr(k) needs a positive finite k"), "{}", out.stderr);
    write(dir.path(), "Exact", &[("snapshot: (", "snapshot: (digits: 0, ")]);
    let out = meanfield(&["check", "snap.ron"], dir.path());
    assert!(out.stderr.contains("snapshot.digits: must be 1 ..= 17"), "{}", out.stderr);
}

/// The library's run of a scenario from text returns the summary the command writes to summary.ron.
#[test]
fn the_library_runs_a_scenario_from_text_as_the_command_does() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Exact", &[]);
    let text = std::fs::read_to_string(dir.path().join("snap.ron")).unwrap();
    let out = meanfield(&["run", "--quiet", "snap.ron", "--out", "cli"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let cli = meanfield::load(dir.path().join("cli")).unwrap();
    let scenario = meanfield::Scenario::from_ron(text, dir.path());
    let config = meanfield::RunConfig { out: Some(dir.path().join("lib")), threads: Some(2), ..Default::default() };
    let results = meanfield::run(&scenario, &config).unwrap();
    assert_eq!(results.summary, cli.summary);
    assert_eq!(results.dir, dir.path().join("lib"));
    assert!(results.files.contains(&dir.path().join("lib/summary.ron")));
    // The same no-overwrite rule as the command.
    let again = meanfield::run(&scenario, &config).unwrap_err();
    assert!(again.to_string().contains("lib"), "{again}");
    // Overrides are `--set`'s: the same scenario, and a wrong one named in the user's terms.
    let set = meanfield::Scenario::load(dir.path().join("snap.ron")).set("model.width", "16").resolve().unwrap();
    assert_eq!(set.spec.model.step_width(), 16);
    assert_eq!(set.overrides.len(), 1);
    let e = meanfield::Scenario::load(dir.path().join("snap.ron")).set("model.width", "0").resolve().unwrap_err();
    assert!(e.to_string().contains("--set:1:19: model.width: must be at least 1"), "{e}");
}

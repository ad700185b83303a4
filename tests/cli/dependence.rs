//! The inter-layer dependence of a three-layer network shrinks with width and sits at its null level
//! when the layers are independent (issue 4's acceptance; the estimator itself is unit-tested against
//! closed forms in `meanfield-sinks`).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::common;
use meanfield_core::progress::NoProgress;
use meanfield_core::summary::DependenceCurve;
use meanfield_ldp::dependence::{DependenceColumns, Sample, estimate};
use meanfield_scenario::CheckedScenario;

/// t = 3 of `scenarios/three_layer_dependence.ron` (record every 1.0): mid-learning, where the
/// dependence of every width is largest.
const MID: usize = 3;

fn scenario() -> CheckedScenario {
    CheckedScenario::from_file(&common::scenario_path("three_layer_dependence.ron")).unwrap()
}

#[test]
fn dependence_shrinks_with_width_by_more_than_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let report = common::run_scenario(&scenario(), None, dir.path());
    let curves: Vec<(usize, &DependenceCurve)> =
        report.summary.points.iter().map(|p| (p.info.width, p.layer_dependence.as_ref().unwrap())).collect();
    assert!(curves.len() >= 3);
    for (n, c) in &curves {
        // At t = 0 the layers are independent by construction: the estimate is unbiased, so it must be
        // within 4 null standard deviations of 0.
        assert!(c.dependence[0].abs() < 4.0 * c.null_level[0], "N = {n}: {} at t = 0", c.dependence[0]);
        // Mid-learning every width is clearly dependent (a width at which it were not would make the
        // decrease below vacuous).
        assert!(c.dependence[MID] > 4.0 * c.null_level[MID], "N = {n}: {} not above null", c.dependence[MID]);
    }
    for pair in curves.windows(2) {
        let ((n1, a), (n2, b)) = (pair[0], pair[1]);
        let decrease = a.dependence[MID] - b.dependence[MID];
        let spread = a.standard_error[MID] + b.standard_error[MID];
        assert!(decrease > spread, "N = {n1} → {n2}: decrease {decrease} not above the spread {spread}");
    }
}

#[test]
fn dependence_is_at_its_null_level_for_independent_layers() {
    // The first layer of replica r paired with the second layer of replica r + 1: independent by
    // construction, at the time where the true pairing is most dependent.
    let scenario = scenario();
    let plans = scenario.plans();
    let point = &meanfield_dynamics::run_points(&plans[..1], &NoProgress)[0];
    let columns = DependenceColumns::find(&point.columns, meanfield_core::DEPENDENCE_COLUMN_PREFIX).unwrap();
    let (first, self_w) = columns.first;
    let (second, self_c) = columns.second;
    let replicas = &point.replicas;
    let values = |r: usize, ks: &[usize]| ks.iter().map(|&k| replicas[r].records[MID].values[k]).collect::<Vec<_>>();
    let n = replicas.len();
    let a: Vec<f64> = (0..n).flat_map(|r| values(r, &first)).collect();
    let b_paired: Vec<f64> = (0..n).flat_map(|r| values(r, &second)).collect();
    let b_shuffled: Vec<f64> = (0..n).flat_map(|r| values((r + 1) % n, &second)).collect();
    let self_a: Vec<f64> = (0..n).map(|r| values(r, &[self_w])[0]).collect();
    let self_b: Vec<f64> = (0..n).map(|r| values(r, &[self_c])[0]).collect();
    let check =
        |b: &[f64]| estimate(&Sample { a: &a, da: first.len(), b, db: second.len(), self_a: &self_a, self_b: &self_b });
    let (paired, _, null) = check(&b_paired);
    let (shuffled, _, _) = check(&b_shuffled);
    assert!(paired > 4.0 * null, "the true pairing is dependent: {paired} (null {null})");
    assert!(shuffled.abs() < 4.0 * null, "independent layers: {shuffled} (null {null})");
}
